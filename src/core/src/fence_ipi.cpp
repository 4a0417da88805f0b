// SPDX-License-Identifier: MIT
// The IPI heavy fence: taking write access away from a dirty page makes the kernel shoot down
// its TLB entry on every CPU that runs one of our threads, with an interrupt that serialises
// that CPU. The technique behind folly's asymmetricHeavyBarrier and .NET's
// FlushProcessWriteBuffers without membarrier. Only x86 interrupts every CPU for this; ARM
// broadcasts TLB invalidation without interrupting, so there it is unavailable.

#include "domain.h"

#include <atomic>
#include <mutex>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__linux__) || defined(__APPLE__))
#define RIO_HAVE_IPI_FENCE 1
#include <sys/mman.h>
#include <unistd.h>
#else
#define RIO_HAVE_IPI_FENCE 0
#endif

namespace rio::detail::hazard {

#if RIO_HAVE_IPI_FENCE
namespace {

struct Page
{
    std::mutex mutex;
    void *page = nullptr;
    long size = 0;
};

Page *page() noexcept
{
    static Page *p = [] {
        auto *q = new (std::nothrow) Page;
        if (q == nullptr)
            return q;
        q->size = sysconf(_SC_PAGESIZE);
        void *m = mmap(nullptr, static_cast<size_t>(q->size), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            delete q;
            return static_cast<Page *>(nullptr);
        }
        mlock(m, static_cast<size_t>(q->size)); // best effort: a page never swapped out
        q->page = m;
        return q;
    }();
    return p;
}

} // namespace

bool ipiAvailable() noexcept
{
    return page() != nullptr;
}

bool ipiFence() noexcept
{
    Page *p = page();
    if (p == nullptr)
        return false;
    std::lock_guard lock(p->mutex);
    const auto size = static_cast<size_t>(p->size);
    if (mprotect(p->page, size, PROT_READ | PROT_WRITE) != 0)
        return false;
    // Dirty the page so the kernel cannot skip the shootdown.
    static_cast<std::atomic<int> *>(p->page)->fetch_add(1, std::memory_order_relaxed);
    return mprotect(p->page, size, PROT_READ) == 0;
}

void ipiLockForFork() noexcept
{
    if (Page *p = page())
        p->mutex.lock();
}

void ipiUnlockAfterFork() noexcept
{
    if (Page *p = page())
        p->mutex.unlock();
}

#else
bool ipiAvailable() noexcept
{
    return false;
}
bool ipiFence() noexcept
{
    return false;
}
void ipiLockForFork() noexcept { }
void ipiUnlockAfterFork() noexcept { }
#endif

} // namespace rio::detail::hazard
