// SPDX-License-Identifier: MIT
// Removal never needs memory, and a notify from a signal handler on a prepared thread never
// allocates nor deadlocks (POSIX signals; Windows has none to deliver to a thread). Replaces the global
// operator new (so not run under the sanitizers, which replace it too): a thread-local switch makes every
// allocation of this thread throw std::bad_alloc, and a thread-local window counts them.
#include "../replaced_operator_new.h"
#include "rio_check.h"
#include "rio_test_support.h"

#include <registryio/registry.h>

#include <atomic>
#include <cstdlib>
#include <future>
#include <new>
#include <string>
#include <thread>
#include <vector>

#ifndef _WIN32
#include <pthread.h>
#include <signal.h>
#endif

namespace {

thread_local bool failAllocations = false;  // every allocation of this thread throws
thread_local bool countAllocations = false; // allocations of this thread are counted
std::atomic<long> counted{0};
std::atomic<long> refused{0};

// While alive, every allocation on this thread fails.
struct NoMemory
{
    NoMemory() { failAllocations = true; }
    ~NoMemory() { failAllocations = false; }
    NoMemory(const NoMemory &) = delete;
    NoMemory &operator=(const NoMemory &) = delete;
};

// A closure with a destructor and heap data.
struct Heavy
{
    std::string text = std::string(64, 'h');
    void operator()(int) const { }
};

} // namespace

// Counts, then refuses: see replaced_operator_new.h.
void rioBeforeAllocation()
{
    if (countAllocations)
        counted.fetch_add(1, std::memory_order_relaxed);
    if (failAllocations) {
        refused.fetch_add(1, std::memory_order_relaxed);
        throw std::bad_alloc();
    }
}

#ifndef _WIN32
namespace {

rio::Registry<int> *signalRegistry = nullptr;
std::atomic<long> signalNotifies{0};

void onSignal(int)
{
    const bool was = countAllocations;
    countAllocations = true;
    signalRegistry->notify(5);
    countAllocations = was;
    signalNotifies.fetch_add(1, std::memory_order_relaxed);
}

} // namespace
#endif

// The switch works: otherwise every check below could pass without testing anything.
RIO_TEST(switchRefusesAllocations)
{
    bool threw = false;
    try {
        NoMemory none;
        ::operator delete(::operator new(16)); // an explicit call: never elided
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw);
}

// remove() (with tombstones piling up to the compaction threshold), a guard's destruction,
// clear() and removeAndWait() all succeed while every allocation fails: none throws, and a
// guard's destructor does not terminate the process.
RIO_TEST(removalNeedsNoMemory)
{
    rio::Registry<int> r;
    rio::prepareThread();
    std::vector<rio::HandlerId> ids;
    for (int i = 0; i < 40; ++i)
        ids.push_back(r.add(Heavy{}, i % 3));
    auto guard = std::make_unique<rio::HandlerGuard>(r.addScoped(Heavy{}));
    const rio::HandlerId guarded = guard->id();
    const rio::HandlerId waited = r.add(Heavy{});
    r.notify(0);
    const long refusedBefore = refused.load();
    {
        NoMemory none;
        for (int i = 0; i < 30; ++i)
            CHECK(r.remove(ids[static_cast<std::size_t>(i)]));
        guard.reset();
        CHECK(r.removeAndWait(waited));
        r.notify(1);
        r.clear();
        r.synchronize();
    }
    // Compaction was attempted and refused at least once (40 handlers, 30 tombstones).
    CHECK(refused.load() > refusedBefore);
    CHECK(!r.contains(guarded));
    CHECK_EQ(r.size(), std::size_t{0});
    CHECK_EQ(r.pendingCount(), std::size_t{0});
    int calls = 0;
    const rio::HandlerId again = r.add([&calls] { ++calls; });
    r.notify(2);
    CHECK_EQ(calls, 1);
    CHECK(r.remove(again));
}

// A once-handler fires while every allocation fails: it runs exactly once and is no longer
// registered (its self-removal needs no memory).
RIO_TEST(onceHandlerFiresWithoutMemory)
{
    rio::Registry<int> r;
    rio::prepareThread();
    int calls = 0;
    const rio::HandlerId id = r.addOnce([&calls] { ++calls; });
    r.add(Heavy{});
    {
        NoMemory none;
        r.notify(0);
        r.notify(1);
        CHECK(!r.contains(id));
        CHECK(!r.removeAndWait(id));
    }
    CHECK_EQ(calls, 1);
    CHECK_EQ(r.size(), std::size_t{1});
}

// A plain closure (trivially copyable) added where a destroyed plain handler left its block needs
// no memory: its box is built in that block.
RIO_TEST(plainAddReusesADestroyedHandlersBlock)
{
    rio::Registry<int> r;
    int first = 0;
    int second = 0;
    r.add([&first] { ++first; });
    CHECK(r.removeAndWait(r.add([&first] { ++first; })));
    {
        NoMemory none;
        r.add([&second] { ++second; }); // the same closure type as the removed one
    }
    r.notify(0);
    CHECK_EQ(first, 1);
    CHECK_EQ(second, 1);
    CHECK_EQ(r.size(), std::size_t{2});
}

// An add of a plain closure that fails for want of memory changes nothing and uses no id: with no
// block to reuse (the block's allocation fails), and with a reused block when the new array's
// allocation fails (the block is kept for the next add, which then allocates only the array).
RIO_TEST(plainAddWithoutMemoryChangesNothing)
{
    rio::Registry<int> r(8);
    int calls = 0;
    const auto handler = [&calls] { ++calls; };
    rio::HandlerId last = r.add(handler);
    {
        NoMemory none;
        CHECK_THROWS(std::bad_alloc, r.add(handler)); // no spare block
    }
    CHECK_EQ(r.size(), std::size_t{1});
    // Three spare blocks, and an array of 8 entries filled with handlers that use none.
    for (int i = 0; i < 3; ++i)
        CHECK(r.remove(r.add(handler)));
    r.synchronize();
    while (r.size() < 5)
        last = r.add(Heavy{});
    {
        NoMemory none;
        CHECK_THROWS(std::bad_alloc, r.add(handler)); // a spare block, but no new array
    }
    CHECK_EQ(r.size(), std::size_t{5});
    counted.store(0);
    countAllocations = true;
    const rio::HandlerId next = r.add(handler);
    countAllocations = false;
    CHECK_EQ(counted.load(), 1L); // the array only: the block was kept
    CHECK_EQ(next.value(), last.value() + 1);
    calls = 0;
    r.notify(0);
    CHECK_EQ(calls, 2);
    CHECK_EQ(r.size(), std::size_t{6});
    r.clear();
    r.synchronize();
    CHECK_EQ(r.pendingCount(), std::size_t{0});
}

// After prepareThread(), notifies from a signal handler (raised in a loop on one
// thread and sent from another while that thread notifies) never allocate and never
// deadlock, while a third thread churns add/remove on the same registry.
RIO_TEST(notifyFromSignalHandler)
{
#ifdef _WIN32
    SKIP("POSIX signals: Windows has no signal to deliver to a thread inside a notify");
#else
    const int rounds = rio::test::scaled(20000, 10); // signals raised, and sent
    rio::Registry<int> r;
    std::atomic<long> calls{0};
    r.add([&calls] { calls.fetch_add(1, std::memory_order_relaxed); });
    signalRegistry = &r;
    struct sigaction sa{};
    sa.sa_handler = &onSignal;
    sigemptyset(&sa.sa_mask);
    struct sigaction old{};
    CHECK_EQ(sigaction(SIGUSR1, &sa, &old), 0);
    counted.store(0);
    signalNotifies.store(0);

    std::atomic<bool> stop{false};
    std::promise<pthread_t> self;
    auto target = self.get_future();
    auto raiser = std::async(std::launch::async, [&] {
        rio::prepareThread();
        self.set_value(pthread_self());
        for (int i = 0; i < rounds; ++i) {
            r.notify(i);
            raise(SIGUSR1);
        }
        while (!stop.load())
            r.notify(-1); // the sender's signals land inside notifies
        return 0;
    });
    const pthread_t t = target.get();
    auto sender = std::async(std::launch::async, [&] {
        for (int i = 0; i < rounds; ++i)
            pthread_kill(t, SIGUSR1);
        return 0;
    });
    auto writer = std::async(std::launch::async, [&] {
        for (int i = 0; i < rounds; ++i)
            r.remove(r.add(Heavy{}));
        return 0;
    });
    rio::check::getOrDie(sender, 60, "sending rounds");
    rio::check::getOrDie(writer, 60, "writer churn");
    stop.store(true);
    rio::check::getOrDie(raiser, 60, "notifying with signal handlers");
    CHECK_EQ(sigaction(SIGUSR1, &old, nullptr), 0);
    signalRegistry = nullptr;
    CHECK(signalNotifies.load() >= rounds);
    CHECK(calls.load() > signalNotifies.load());
    CHECK_EQ(counted.load(), 0L);
#endif
}
