// SPDX-License-Identifier: MIT
// What a removal costs in allocations, as docs/API.md states it: remove() allocates only when it
// compacts the array, which happens at most once per 17 removals (more than 16 and more than half
// of the listed entries removed), in both layouts (one array; one run per priority). Counts
// allocations with a replaced global operator new, so it is not built for the sanitizer stages
// (they replace operator new themselves). Where the core is a DLL whose allocations this
// executable's operator new does not see (MinGW), the counts are lower bounds.
#include "rio_check.h"

#include <registryio/registry.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

#if defined(__GNUC__) || defined(__clang__)
#define RIO_CHECK_NOINLINE [[gnu::noinline]]
#else
#define RIO_CHECK_NOINLINE __declspec(noinline)
#endif

namespace {

std::atomic<std::size_t> allocations{0};
thread_local bool counting = false;

// Counts the allocations the calling thread makes while alive.
class AllocationCount
{
public:
    AllocationCount() : m_start(allocations.load()) { counting = true; }
    ~AllocationCount() { counting = false; }
    AllocationCount(const AllocationCount &) = delete;
    AllocationCount &operator=(const AllocationCount &) = delete;
    [[nodiscard]] std::size_t value() const { return allocations.load() - m_start; }

private:
    std::size_t m_start;
};

// Removes every handler of `ids` (in the order given) and returns the allocations made.
std::size_t allocationsToRemove(rio::Registry<int> &registry, const std::vector<rio::HandlerId> &ids)
{
    AllocationCount count;
    for (const rio::HandlerId id : ids)
        CHECK(registry.remove(id));
    return count.value();
}

// The documented bound: one compaction per 17 removals at most, each allocating one array plus
// one per run it copies.
std::size_t bound(std::size_t removals, std::size_t runs)
{
    return (removals / 17 + 1) * (1 + runs);
}

} // namespace

// Out of line, so that the compiler pairs no inlined malloc with a free it cannot see.
RIO_CHECK_NOINLINE void *countedAllocate(std::size_t size)
{
    if (counting)
        allocations.fetch_add(1, std::memory_order_relaxed);
    if (void *p = std::malloc(size == 0 ? 1 : size))
        return p;
    throw std::bad_alloc();
}

RIO_CHECK_NOINLINE void countedFree(void *p) noexcept
{
    std::free(p);
}

void *operator new(std::size_t size)
{
    return countedAllocate(size);
}

void *operator new[](std::size_t size)
{
    return countedAllocate(size);
}

void operator delete(void *p) noexcept
{
    countedFree(p);
}

void operator delete[](void *p) noexcept
{
    countedFree(p);
}

void operator delete(void *p, std::size_t) noexcept
{
    countedFree(p);
}

void operator delete[](void *p, std::size_t) noexcept
{
    countedFree(p);
}

RIO_TEST(removalsFromOneArrayAllocateOnlyToCompact)
{
    rio::Registry<int> registry;
    std::vector<rio::HandlerId> ids;
    for (int i = 0; i < 1000; ++i)
        ids.push_back(registry.add([] { }));
    const std::size_t made = allocationsToRemove(registry, ids);
    CHECK(made <= bound(ids.size(), 0));
    CHECK(registry.isEmpty());
}

// Runs mode, one handler per priority: every removal empties a run.
RIO_TEST(removalsThatEmptyRunsAllocateOnlyToCompact)
{
    rio::Registry<int> registry;
    std::vector<rio::HandlerId> ids;
    for (int i = 0; i < 200; ++i)
        ids.push_back(registry.add([] { }, i)); // each goes first: runs mode from 64 handlers
    const std::size_t made = allocationsToRemove(registry, ids);
    CHECK(made <= bound(ids.size(), 0));
    CHECK(registry.isEmpty());
}

// Runs mode, four priorities of 100 handlers, removed round robin.
RIO_TEST(removalsAcrossSharedRunsAllocateOnlyToCompact)
{
    rio::Registry<int> registry;
    std::vector<rio::HandlerId> byPriority[4];
    for (int i = 0; i < 100; ++i)
        for (int p = 0; p < 4; ++p)
            byPriority[p].push_back(registry.add([] { }, p));
    std::vector<rio::HandlerId> ids;
    for (int i = 0; i < 100; ++i)
        for (auto &column : byPriority)
            ids.push_back(column[static_cast<std::size_t>(i)]);
    const std::size_t made = allocationsToRemove(registry, ids);
    CHECK(made <= bound(ids.size(), 4));
    CHECK(registry.isEmpty());
}

// A registry emptied by removals and filled again allocates one array, of the room it had, rather
// than one per doubling from a small array.
RIO_TEST(refillingAnEmptiedArrayCopiesItOnce)
{
    rio::Registry<int> registry;
    std::vector<rio::HandlerId> ids;
    for (int i = 0; i < 16; ++i)
        ids.push_back(registry.add([] { }));
    // The last removal publishes the empty array: no copy, no allocation.
    CHECK_EQ(allocationsToRemove(registry, ids), std::size_t{0});
    std::size_t made = 0;
    {
        AllocationCount count;
        for (int i = 0; i < 16; ++i)
            registry.add([] { });
        made = count.value();
    }
    // A box each (none destroyed yet to reuse), the id map's growth (the removed handlers keep
    // their entries until a pass destroys them) and one array.
    CHECK(made <= std::size_t{16} + 1 + 1);
    CHECK_EQ(registry.size(), std::size_t{16});
}

// Adds of plain closures (trivially copyable) after as many were destroyed allocate nothing: each
// box is built in a block a destroyed one left (the array has room, as after a capacity hint).
RIO_TEST(plainAddsAfterDropsAllocateNothing)
{
    rio::Registry<int> registry(64);
    int calls = 0;
    std::vector<rio::HandlerId> ids;
    for (int i = 0; i < 8; ++i)
        ids.push_back(registry.add([&calls] { ++calls; }));
    for (const rio::HandlerId id : ids)
        CHECK(registry.remove(id));
    registry.synchronize(); // destroys the 8 handlers
    std::size_t made = 0;
    {
        AllocationCount count;
        for (int i = 0; i < 8; ++i)
            registry.add([&calls] { ++calls; });
        made = count.value();
    }
    CHECK_EQ(made, std::size_t{0});
    registry.notify(0);
    CHECK_EQ(calls, 8);
}

// The counter sees this executable's allocations (else every bound above holds trivially).
RIO_TEST(theCounterSeesAllocations)
{
    AllocationCount count;
    rio::Registry<int> registry;
    registry.add([] { });
    CHECK(count.value() > 0);
}
