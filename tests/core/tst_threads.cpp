// SPDX-License-Identifier: MIT
// Multi-threaded guarantees of rio::Registry, with std:: only (std::thread, and the harness's
// Latch on std::mutex/condition_variable: see rio_check.h), so that they also run on libc++ and
// on MinGW-w64 under wine. No sleeps: threads meet at latches; every producer is bounded in count.
#include "rio_check.h"

#include <registryio/registry.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

namespace {

// Gives another thread a chance to run (bounded): widens the window a broken wait would lose.
void yieldSome()
{
    for (int i = 0; i < 200; ++i)
        std::this_thread::yield();
}

// Counts live closures: constructed copies minus destroyed ones.
struct Tracked
{
    explicit Tracked(std::atomic<int> &live) : live(&live) { live.fetch_add(1); }
    Tracked(const Tracked &other) : live(other.live) { live->fetch_add(1); }
    Tracked &operator=(const Tracked &) = delete;
    ~Tracked() { live->fetch_sub(1); }
    std::atomic<int> *live;
};

} // namespace

RIO_TEST(removeAndWaitFromAnotherThreadWaitsForTheRunningHandler)
{
    rio::Registry<int> registry;
    rio::check::Latch entered(1);
    rio::check::Latch removing(1);
    std::atomic<bool> exited{false};
    const rio::HandlerId id = registry.add([&] {
        entered.count_down();
        removing.wait(); // the remover is about to call removeAndWait
        yieldSome();
        exited.store(true);
    });
    std::thread notifier([&] { registry.notify(0); });
    bool exitedWhenReturned = false;
    bool removed = false;
    std::thread remover([&] {
        entered.wait();
        removing.count_down();
        removed = registry.removeAndWait(id);
        exitedWhenReturned = exited.load();
    });
    notifier.join();
    remover.join();
    CHECK(removed);
    CHECK(exitedWhenReturned);
    CHECK(!registry.contains(id));
}

RIO_TEST(removeFromAnotherThreadStopsLaterNotifies)
{
    rio::Registry<int> registry;
    std::atomic<int> calls{0};
    const rio::HandlerId id = registry.add([&calls] { calls.fetch_add(1); });
    bool removed = false;
    std::thread([&] { removed = registry.remove(id); }).join();
    CHECK(removed);
    registry.notify(0);
    CHECK_EQ(calls.load(), 0);
    CHECK(registry.isEmpty());
}

RIO_TEST(onceHandlerRunsOnceUnderConcurrentNotifies)
{
    constexpr int threadCount = 8;
    constexpr int notifiesPerThread = 200;
    for (int round = 0; round < 20; ++round) {
        rio::Registry<int> registry;
        std::atomic<int> once{0};
        std::atomic<int> always{0};
        registry.addOnce([&once] { once.fetch_add(1); });
        registry.add([&always] { always.fetch_add(1); });
        rio::check::Latch start(threadCount);
        std::vector<std::thread> threads;
        threads.reserve(threadCount);
        for (int t = 0; t < threadCount; ++t)
            threads.emplace_back([&] {
                start.arrive_and_wait();
                for (int i = 0; i < notifiesPerThread; ++i)
                    registry.notify(i);
            });
        for (std::thread &t : threads)
            t.join();
        CHECK_EQ(once.load(), 1);
        CHECK_EQ(always.load(), threadCount * notifiesPerThread);
        CHECK_EQ(registry.size(), std::size_t{1});
    }
}

RIO_TEST(exceptionsAreIsolatedOnEveryThread)
{
    rio::Registry<int> registry;
    std::atomic<int> reported{0};
    std::atomic<int> after{0};
    registry.setExceptionHandler([&reported](const rio::ExceptionInfo &) { reported.fetch_add(1); });
    registry.add([](const int &e) { throw e; }, 1);
    registry.add([&after] { after.fetch_add(1); }, 0);
    std::vector<std::thread> threads;
    threads.reserve(4);
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 100; ++i)
                registry.notify(i);
        });
    for (std::thread &t : threads)
        t.join();
    CHECK_EQ(reported.load(), 400);
    CHECK_EQ(after.load(), 400);
}

// Hundreds of short-lived threads notify and exit while a writer adds and removes handlers: every
// notify sees a consistent snapshot, every removed closure is destroyed, and no thread's exit
// leaves the domain unable to reclaim (a leaked or stuck reader record would keep closures alive).
RIO_TEST(shortLivedNotifyingThreadsWhileAWriterChurns)
{
    constexpr int batches = 40;
    constexpr int threadsPerBatch = 8; // 320 threads in all
    constexpr int notifiesPerThread = 50;
    std::atomic<int> live{0};
    std::atomic<long> calls{0};
    {
        rio::Registry<int> registry;
        const Tracked stable(live);
        registry.add([stable, &calls] { calls.fetch_add(1); }, 1);
        std::atomic<bool> stop{false};
        std::atomic<long> churned{0};
        std::atomic<long> lostRemoves{0};
        std::thread writer([&] {
            const Tracked tracked(live);
            while (!stop.load() && churned.load() < 1'000'000) {
                const rio::HandlerId id = registry.add([tracked] { });
                if (!registry.remove(id))
                    lostRemoves.fetch_add(1);
                churned.fetch_add(1);
            }
        });
        for (int b = 0; b < batches; ++b) {
            std::vector<std::thread> threads;
            threads.reserve(threadsPerBatch);
            for (int t = 0; t < threadsPerBatch; ++t)
                threads.emplace_back([&] {
                    for (int i = 0; i < notifiesPerThread; ++i)
                        registry.notify(i);
                });
            for (std::thread &t : threads)
                t.join();
        }
        stop.store(true);
        writer.join();
        CHECK(churned.load() > 0);
        CHECK_EQ(lostRemoves.load(), 0L);
        CHECK_EQ(calls.load(), long{batches} * threadsPerBatch * notifiesPerThread);
        CHECK_EQ(registry.size(), std::size_t{1});
        // Every churned closure is reclaimable now that all readers are gone.
        registry.synchronize();
        CHECK_EQ(live.load(), 2); // `stable` and the registered copy of it
    }
    CHECK_EQ(live.load(), 0);
}

RIO_TEST(synchronizeWaitsForNotifiesThatBeganBeforeIt)
{
    rio::Registry<int> registry;
    rio::check::Latch entered(1);
    rio::check::Latch synchronizing(1);
    std::atomic<bool> exited{false};
    const rio::HandlerId id = registry.add([&] {
        entered.count_down();
        synchronizing.wait();
        yieldSome();
        exited.store(true);
    });
    std::thread notifier([&] { registry.notify(0); });
    entered.wait();
    const bool removed = registry.remove(id); // the running call may go on...
    synchronizing.count_down();
    registry.synchronize(); // ...but not past this
    const bool exitedWhenReturned = exited.load();
    notifier.join();
    CHECK(removed);
    CHECK(exitedWhenReturned);
}

// A registry's first writes create its writer state: threads racing to make the first add (or
// link, or exception handler) of a fresh registry all land in one state; nothing is lost.
RIO_TEST(firstWritesRacingOnAFreshRegistry)
{
    constexpr int threads = 4;
    constexpr int rounds = 200;
    for (int round = 0; round < rounds; ++round) {
        rio::Registry<int> registry;
        std::atomic<int> calls{0};
        rio::check::Latch start(threads);
        std::vector<rio::HandlerId> ids(threads);
        std::vector<rio::HandlerGuard> guards(threads);
        std::vector<std::thread> group;
        for (int t = 0; t < threads; ++t) {
            group.emplace_back([&, t] {
                start.arrive_and_wait();
                if (t % 2 == 0)
                    ids[static_cast<std::size_t>(t)] = registry.add([&calls] { calls.fetch_add(1); });
                else
                    guards[static_cast<std::size_t>(t)] =
                        registry.addScoped([&calls] { calls.fetch_add(1); });
                if (t == 1)
                    registry.setExceptionHandler([](const rio::ExceptionInfo &) { });
            });
        }
        for (auto &th : group)
            th.join();
        CHECK_EQ(registry.size(), std::size_t{threads});
        registry.notify(1);
        CHECK_EQ(calls.load(), threads);
        for (int t = 0; t < threads; t += 2)
            CHECK(registry.removeAndWait(ids[static_cast<std::size_t>(t)]));
        guards.clear();
        CHECK_EQ(registry.size(), std::size_t{0});
    }
}

RIO_TEST(synchronizeWithoutReadersReturns)
{
    rio::Registry<int> registry;
    registry.synchronize();
    std::thread([&] { registry.synchronize(); }).join();
    CHECK(registry.isEmpty());
}
