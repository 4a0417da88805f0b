// SPDX-License-Identifier: MIT
#pragma once

// The global operator new and delete of a test that counts or refuses allocations. Include it
// in exactly one file of the test (replacement functions cannot be inline), and define there
//
//     void rioBeforeAllocation();
//
// which every form of operator new calls first (riotest::replaced::requested holds the size asked
// for): it may count the allocation, or throw std::bad_alloc to refuse it. The memory itself comes
// from malloc / aligned_alloc, and every operator delete frees it. The sanitizers replace these operators
// too: such a test carries no `sanitize` label.

#include <cstdlib>
#include <new>

#ifdef _WIN32
#include <malloc.h>
#endif

void rioBeforeAllocation();

namespace riotest::replaced {

// The size of the allocation that rioBeforeAllocation() is called for.
inline thread_local std::size_t requested = 0;

inline void *allocate(std::size_t n)
{
    requested = n;
    rioBeforeAllocation();
    if (void *p = std::malloc(n == 0 ? 1 : n))
        return p;
    throw std::bad_alloc();
}

inline void *allocateAligned(std::size_t n, std::align_val_t a)
{
    requested = n;
    rioBeforeAllocation();
    const auto align = static_cast<std::size_t>(a);
#ifdef _WIN32
    // Windows has no aligned_alloc: _aligned_malloc, freed by _aligned_free (freeAligned).
    if (void *p = _aligned_malloc((n + align - 1) / align * align, align))
        return p;
#else
    if (void *p = std::aligned_alloc(align, (n + align - 1) / align * align))
        return p;
#endif
    throw std::bad_alloc();
}

inline void freeAligned(void *p) noexcept
{
#ifdef _WIN32
    _aligned_free(p);
#else
    std::free(p);
#endif
}

} // namespace riotest::replaced

void *operator new(std::size_t n)
{
    return riotest::replaced::allocate(n);
}
void *operator new[](std::size_t n)
{
    return riotest::replaced::allocate(n);
}
void *operator new(std::size_t n, std::align_val_t a)
{
    return riotest::replaced::allocateAligned(n, a);
}
void *operator new[](std::size_t n, std::align_val_t a)
{
    return riotest::replaced::allocateAligned(n, a);
}
void *operator new(std::size_t n, const std::nothrow_t &) noexcept
{
    try {
        return riotest::replaced::allocate(n);
    } catch (...) {
        return nullptr;
    }
}
void operator delete(void *p) noexcept
{
    std::free(p);
}
void operator delete[](void *p) noexcept
{
    std::free(p);
}
void operator delete(void *p, std::size_t) noexcept
{
    std::free(p);
}
void operator delete[](void *p, std::size_t) noexcept
{
    std::free(p);
}
void operator delete(void *p, std::align_val_t) noexcept
{
    riotest::replaced::freeAligned(p);
}
void operator delete[](void *p, std::align_val_t) noexcept
{
    riotest::replaced::freeAligned(p);
}
void operator delete(void *p, std::size_t, std::align_val_t) noexcept
{
    riotest::replaced::freeAligned(p);
}
void operator delete[](void *p, std::size_t, std::align_val_t) noexcept
{
    riotest::replaced::freeAligned(p);
}
