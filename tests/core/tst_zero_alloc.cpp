// SPDX-License-Identifier: MIT
// The notify hot path allocates nothing: a counting global operator new/delete (replaced in
// this translation unit, so for the whole program) sees no call across 100,000 notifies.
// Not a sanitizer test: the sanitizers replace operator new themselves.
#include "rio_check.h"
#include <registryio/registry.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <memory>
#include <new>
#include <thread>

#ifdef _WIN32
#include <malloc.h>
#endif

namespace {

// Per thread, so helper threads (the harness's watchdog) cannot disturb a measurement.
constinit thread_local long allocations = 0;
constinit thread_local long deallocations = 0;

void *allocate(std::size_t size)
{
    ++allocations;
    if (void *p = std::malloc(size ? size : 1))
        return p;
    throw std::bad_alloc();
}

void *allocateAligned(std::size_t size, std::align_val_t alignment)
{
    ++allocations;
    const auto align = static_cast<std::size_t>(alignment);
    const std::size_t rounded = (std::max<std::size_t>(size, 1) + align - 1) / align * align;
#ifdef _WIN32
    // Windows has no aligned_alloc: its aligned blocks come from _aligned_malloc, and go back
    // to _aligned_free (the aligned forms of operator delete below).
    if (void *p = _aligned_malloc(rounded, align))
        return p;
#else
    if (void *p = std::aligned_alloc(align, rounded))
        return p;
#endif
    throw std::bad_alloc();
}

void release(void *p) noexcept
{
    if (p != nullptr)
        ++deallocations;
    std::free(p);
}

void releaseAligned(void *p) noexcept
{
    if (p != nullptr)
        ++deallocations;
#ifdef _WIN32
    _aligned_free(p);
#else
    std::free(p);
#endif
}

// Counts on the calling thread between construction and read().
struct AllocationCount
{
    long allocationsAtStart = allocations;
    long deallocationsAtStart = deallocations;
    long newCalls() const { return allocations - allocationsAtStart; }
    long deleteCalls() const { return deallocations - deallocationsAtStart; }
};

std::atomic<long> hits{0};
void countHit(const int &)
{
    hits.fetch_add(1, std::memory_order_relaxed);
}
void countHitNoArgs()
{
    hits.fetch_add(1, std::memory_order_relaxed);
}

constexpr int notifies = 100000;

} // namespace

void *operator new(std::size_t size)
{
    return allocate(size);
}
void *operator new[](std::size_t size)
{
    return allocate(size);
}
void *operator new(std::size_t size, const std::nothrow_t &) noexcept
{
    try {
        return allocate(size);
    } catch (...) {
        return nullptr;
    }
}
void *operator new[](std::size_t size, const std::nothrow_t &) noexcept
{
    return operator new(size, std::nothrow);
}
void *operator new(std::size_t size, std::align_val_t alignment)
{
    return allocateAligned(size, alignment);
}
void *operator new[](std::size_t size, std::align_val_t alignment)
{
    return allocateAligned(size, alignment);
}
void *operator new(std::size_t size, std::align_val_t alignment, const std::nothrow_t &) noexcept
{
    try {
        return allocateAligned(size, alignment);
    } catch (...) {
        return nullptr;
    }
}
void *operator new[](std::size_t size, std::align_val_t alignment, const std::nothrow_t &) noexcept
{
    return operator new(size, alignment, std::nothrow);
}
void operator delete(void *p) noexcept
{
    release(p);
}
void operator delete[](void *p) noexcept
{
    release(p);
}
void operator delete(void *p, std::size_t) noexcept
{
    release(p);
}
void operator delete[](void *p, std::size_t) noexcept
{
    release(p);
}
void operator delete(void *p, const std::nothrow_t &) noexcept
{
    release(p);
}
void operator delete[](void *p, const std::nothrow_t &) noexcept
{
    release(p);
}
void operator delete(void *p, std::align_val_t) noexcept
{
    releaseAligned(p);
}
void operator delete[](void *p, std::align_val_t) noexcept
{
    releaseAligned(p);
}
void operator delete(void *p, std::size_t, std::align_val_t) noexcept
{
    releaseAligned(p);
}
void operator delete[](void *p, std::size_t, std::align_val_t) noexcept
{
    releaseAligned(p);
}
void operator delete(void *p, std::align_val_t, const std::nothrow_t &) noexcept
{
    releaseAligned(p);
}
void operator delete[](void *p, std::align_val_t, const std::nothrow_t &) noexcept
{
    releaseAligned(p);
}

// The counter itself works, including in the library: otherwise zeros below prove nothing.
RIO_TEST(counterSeesAllocations)
{
    AllocationCount count;
    {
        auto p = std::make_unique<int>(1);
        struct alignas(64) Wide
        {
            char bytes[64];
        };
        auto q = std::make_unique<Wide>();
        CHECK(p && q);
    }
    CHECK_EQ(count.newCalls(), 2L);
    CHECK_EQ(count.deleteCalls(), 2L);

    AllocationCount library;
    rio::Registry<int> registry;
    registry.add([] { });
    CHECK(library.newCalls() > 0); // the registry allocates its handler box and array
}

RIO_TEST(noAllocationWithoutHandlers)
{
    rio::Registry<int> registry;
    for (int i = 0; i < 100; ++i) // warm-up: the thread's first notify registers it
        registry.notify(i);
    registry.synchronize();
    AllocationCount count;
    for (int i = 0; i < notifies; ++i)
        registry.notify(i);
    CHECK_EQ(count.newCalls(), 0L);
    CHECK_EQ(count.deleteCalls(), 0L);
}

// A registry that never had a writer allocates nothing, to construct, to use every call that
// only reads or removes, and to destroy (its writer state comes with the first add).
RIO_TEST(noAllocationForAnUnwrittenRegistry)
{
    AllocationCount count;
    {
        rio::Registry<int> registry(16);
        registry.notify(1);
        CHECK(!registry.contains(rio::HandlerId{1}));
        CHECK(!registry.remove(rio::HandlerId{1}));
        CHECK(!registry.removeAndWait(rio::HandlerId{1}));
        CHECK(!registry.setSuspended(rio::HandlerId{1}, true));
        CHECK(!registry.isSuspended(rio::HandlerId{1}));
        registry.clear();
        registry.synchronize();
        registry.clearExceptionHandler();
        CHECK_EQ(registry.size(), std::size_t{0});
        CHECK_EQ(registry.pendingCount(), std::size_t{0});
    }
    CHECK_EQ(count.newCalls(), 0L);
    CHECK_EQ(count.deleteCalls(), 0L);
}

RIO_TEST(noAllocationWithEightHandlers)
{
    rio::Registry<int> registry;
    std::array<char, 200> big{};
    big[7] = 1;
    registry.add([](const int &) { hits.fetch_add(1, std::memory_order_relaxed); });
    registry.add([big] { hits.fetch_add(big[7], std::memory_order_relaxed); }, 3); // a large capture
    registry.add(&countHit, -1);
    registry.add(&countHitNoArgs, 2);
    registry.add(std::function<void(const int &)>(&countHit));
    registry.add([n = 0]() mutable {
        ++n;
        hits.fetch_add(1, std::memory_order_relaxed);
    });
    rio::HandlerGuard guard = registry.addScoped([] { hits.fetch_add(1, std::memory_order_relaxed); }, 1);
    auto shared = std::make_shared<int>(1);
    registry.add([shared] { hits.fetch_add(*shared, std::memory_order_relaxed); }, -2);
    CHECK_EQ(registry.size(), std::size_t{8});

    for (int i = 0; i < 100; ++i)
        registry.notify(i);
    registry.synchronize();
    hits.store(0);
    AllocationCount count;
    for (int i = 0; i < notifies; ++i)
        registry.notify(i);
    const long newCalls = count.newCalls();
    const long deleteCalls = count.deleteCalls();
    CHECK_EQ(newCalls, 0L);
    CHECK_EQ(deleteCalls, 0L);
    CHECK_EQ(hits.load(), 8L * notifies); // the handlers really ran
}

// A thread other than the one that built the registry, after its own warm-up.
RIO_TEST(noAllocationOnAnotherThread)
{
    rio::Registry<int> registry;
    for (int i = 0; i < 8; ++i)
        registry.add([] { hits.fetch_add(1, std::memory_order_relaxed); }, i % 3);
    long newCalls = -1;
    long deleteCalls = -1;
    std::thread worker([&] {
        for (int i = 0; i < 100; ++i)
            registry.notify(i);
        AllocationCount count;
        for (int i = 0; i < notifies; ++i)
            registry.notify(i);
        newCalls = count.newCalls();
        deleteCalls = count.deleteCalls();
    });
    worker.join();
    CHECK_EQ(newCalls, 0L);
    CHECK_EQ(deleteCalls, 0L);
}

// Nested notifies from inside a handler allocate nothing either.
RIO_TEST(noAllocationInNestedNotify)
{
    rio::Registry<int> registry;
    registry.add([&registry](const int &depth) {
        if (depth > 0)
            registry.notify(depth - 1);
    });
    registry.notify(3);
    registry.synchronize();
    AllocationCount count;
    for (int i = 0; i < notifies / 4; ++i)
        registry.notify(3);
    CHECK_EQ(count.newCalls(), 0L);
}

// A notify that fires once-handlers allocates and frees nothing either: the firing
// unpublishes the handler without memory, and its closure is destroyed later by a writer
// (a notify never reclaims).
RIO_TEST(noAllocationWhenOnceHandlersFire)
{
    constexpr int onceHandlers = 200;
    rio::Registry<int> registry;
    registry.add(&countHit);
    registry.notify(0); // warm-up
    for (int i = 0; i < onceHandlers; ++i)
        registry.addOnce(
            [big = std::array<char, 64>{}] { hits.fetch_add(1 + big[0], std::memory_order_relaxed); },
            i % 5 - 2);
    registry.addOnce(
        [&registry](const int &depth) {
            if (depth == 0)
                registry.notify(1); // the nested notify fires the rest
        },
        10);
    CHECK_EQ(registry.size(), std::size_t(onceHandlers + 2));
    hits.store(0);
    long newCalls = 0;
    long deleteCalls = 0;
    {
        AllocationCount count;
        registry.notify(0);
        registry.notify(0);
        newCalls = count.newCalls();
        deleteCalls = count.deleteCalls();
    }
    CHECK_EQ(hits.load(), long(onceHandlers + 3)); // every once-handler ran (once), countHit 3 times
    CHECK_EQ(registry.size(), std::size_t{1});
    CHECK_EQ(newCalls, 0L);
    CHECK_EQ(deleteCalls, 0L);
    CHECK(registry.pendingCount() >= std::size_t(onceHandlers + 1)); // destroyed later, elsewhere
    registry.synchronize();
    CHECK_EQ(registry.pendingCount(), std::size_t{0});
}

// Notifies on the counted thread allocate and free nothing while another thread adds,
// removes, drops guards and adds once-handlers (which the notifies fire) on the same
// registry: copies, retirement and reclamation all happen on the writer's thread.
RIO_TEST(noAllocationBesideAConcurrentWriter)
{
    rio::Registry<int> registry;
    for (int i = 0; i < 8; ++i)
        registry.add([] { hits.fetch_add(1, std::memory_order_relaxed); }, i % 3);
    for (int i = 0; i < 100; ++i)
        registry.notify(i);
    std::atomic<bool> stop{false};
    std::atomic<long> writerOps{0};
    std::thread writer([&] {
        // Bounded in count as well as by `stop`.
        for (long op = 0; op < 50'000'000 && !stop.load(std::memory_order_relaxed); ++op) {
            switch (op % 4) {
            case 0:
                registry.remove(registry.add([] { }, int(op % 7) - 3));
                break;
            case 1: {
                rio::HandlerGuard guard = registry.addScoped([] { }, 5);
                break;
            }
            case 2:
                if (registry.size() < 64)
                    registry.addOnce([] { hits.fetch_add(1, std::memory_order_relaxed); }, int(op % 5) - 2);
                break;
            case 3:
                if (op % 4096 == 3)
                    registry.synchronize();
                break;
            }
            writerOps.fetch_add(1, std::memory_order_relaxed);
        }
    });
    while (writerOps.load() == 0)
        std::this_thread::yield();
    long newCalls = -1;
    long deleteCalls = -1;
    long opsDuring = 0;
    {
        const long opsBefore = writerOps.load();
        AllocationCount count;
        for (int i = 0; i < notifies; ++i)
            registry.notify(i);
        newCalls = count.newCalls();
        deleteCalls = count.deleteCalls();
        opsDuring = writerOps.load() - opsBefore;
    }
    stop.store(true);
    writer.join();
    rio::check::note(opsDuring, " writer operations during ", notifies, " notifies");
    CHECK(opsDuring > 0); // the writer really ran beside the counted notifies
    CHECK_EQ(newCalls, 0L);
    CHECK_EQ(deleteCalls, 0L);
}
