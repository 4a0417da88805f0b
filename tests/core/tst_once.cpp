// SPDX-License-Identifier: MIT
// Once-handlers: at most one call, even when several threads notify at the same instant.
#include "rio_check.h"
#include "rio_test_support.h"

#include <registryio/registry.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <utility>
#include <vector>

RIO_TEST(runsOnceThenIsGone)
{
    rio::Registry<int> registry;
    int calls = 0;
    int value = 0;
    const rio::HandlerId id = registry.addOnce([&](const int &v) {
        ++calls;
        value = v;
    });
    CHECK(registry.contains(id));
    registry.notify(5);
    registry.notify(6);
    CHECK_EQ(calls, 1);
    CHECK_EQ(value, 5);
    CHECK(!registry.contains(id));
    CHECK(registry.isEmpty());
    CHECK(!registry.remove(id)); // already gone
}

RIO_TEST(removedBeforeItFiresNeverRuns)
{
    rio::Registry<int> registry;
    int calls = 0;
    const rio::HandlerId id = registry.addOnce([&calls] { ++calls; });
    CHECK(registry.remove(id));
    registry.notify(0);
    CHECK_EQ(calls, 0);
}

RIO_TEST(onceAmongPlainHandlers)
{
    rio::Registry<int> registry;
    std::vector<int> calls;
    registry.add([&calls] { calls.push_back(1); });
    registry.addOnce([&calls] { calls.push_back(2); });
    registry.add([&calls] { calls.push_back(3); });
    registry.notify(0);
    registry.notify(0);
    CHECK_EQ(calls, (std::vector<int>{1, 2, 3, 1, 3}));
}

// Each round adds once-handlers, then 2+ threads released together by a barrier notify at
// the same instant. Exactly one call per once-handler per round, and none left afterwards.
RIO_TEST_DATA(racingNotifiesCallOnce, int, threads, {"2 threads", 2}, {"4 threads", 4})
{
    constexpr int handlersPerRound = 3;
    const int rounds = rio::test::scaled(2000, 5);
    rio::Registry<int> registry;
    std::atomic<int> plainCalls{0};
    registry.add([&plainCalls] { plainCalls.fetch_add(1, std::memory_order_relaxed); });
    std::vector<std::atomic<int>> onceCalls(handlersPerRound);
    std::vector<rio::HandlerId> ids(handlersPerRound);

    // The main thread takes part in the barrier: phase 1 starts the notifies, phase 2 ends them.
    rio::check::Barrier sync(threads + 1);
    std::vector<std::thread> notifiers;
    for (int t = 0; t < threads; ++t) {
        notifiers.emplace_back([&] {
            for (int r = 0; r < rounds; ++r) {
                sync.arrive_and_wait();
                registry.notify(r);
                sync.arrive_and_wait();
            }
        });
    }
    int failures = 0;
    for (int r = 0; r < rounds; ++r) {
        for (int h = 0; h < handlersPerRound; ++h) {
            onceCalls[h].store(0, std::memory_order_relaxed);
            std::atomic<int> *counter = &onceCalls[h];
            ids[h] = registry.addOnce([counter] { counter->fetch_add(1, std::memory_order_relaxed); }, h - 1);
        }
        sync.arrive_and_wait();
        sync.arrive_and_wait();
        for (int h = 0; h < handlersPerRound; ++h) {
            if (onceCalls[h].load() != 1 || registry.contains(ids[h]))
                ++failures;
        }
        if (registry.size() != 1)
            ++failures;
    }
    for (std::thread &t : notifiers)
        t.join();
    CHECK_EQ(failures, 0);
    CHECK_EQ(plainCalls.load(), rounds * threads);
    CHECK_EQ(registry.size(), std::size_t{1});
}

// One thread notifies while another removes the once-handler, released together: the
// handler runs at most once, and it either ran or was removed (or both, when the notify
// had already read the handler's entry before the removal), never neither; it is gone
// afterwards.
RIO_TEST(racingNotifyAndRemoveCallAtMostOnce)
{
    const int rounds = rio::test::scaled(2000, 5);
    rio::Registry<int> registry;
    rio::check::Barrier sync(3); // notifier, remover and the main thread
    std::atomic<int> calls{0};
    std::atomic<std::uint64_t> currentId{0};
    std::atomic<bool> removed{false};
    std::thread notifier([&] {
        for (int r = 0; r < rounds; ++r) {
            sync.arrive_and_wait();
            registry.notify(r);
            sync.arrive_and_wait();
        }
    });
    std::thread remover([&] {
        for (int r = 0; r < rounds; ++r) {
            sync.arrive_and_wait();
            removed.store(registry.remove(rio::HandlerId{currentId.load()}));
            sync.arrive_and_wait();
        }
    });
    int failures = 0;
    int ranAndRemoved = 0;
    for (int r = 0; r < rounds; ++r) {
        calls.store(0);
        removed.store(false);
        currentId.store(registry.addOnce([&calls] { calls.fetch_add(1); }).value());
        sync.arrive_and_wait();
        sync.arrive_and_wait();
        const int c = calls.load();
        if (c > 1 || (c == 0 && !removed.load()) || registry.contains(rio::HandlerId{currentId.load()}))
            ++failures;
        ranAndRemoved += c == 1 && removed.load();
    }
    notifier.join();
    remover.join();
    CHECK_EQ(failures, 0);
    CHECK(registry.isEmpty());
    rio::check::note("rounds where the handler ran and remove() was also true: ", ranAndRemoved, " of ",
                     rounds);
}

// As above with removeAndWait: whichever bool it returns, the once-handler is not running
// when it returns. false means the handler fired first, so by then its one call has
// completed; true means this call removed it (it may still have started just before, and
// then it has finished too). Its closure is destroyed either way.
RIO_TEST(racingNotifyAndRemoveAndWait)
{
    const int rounds = rio::test::scaled(2000, 5);
    rio::Registry<int> registry;
    rio::check::Barrier sync(3);
    std::atomic<int> calls{0};
    std::atomic<int> running{0};
    std::atomic<int> closures{0};
    std::atomic<std::uint64_t> currentId{0};
    std::atomic<int> runningAtReturn{0};
    std::atomic<int> falseButNotCalled{0};
    std::atomic<int> aliveAtReturn{0};
    std::atomic<int> falseResults{0};
    struct Closure
    {
        std::atomic<int> *calls;
        std::atomic<int> *running;
        std::atomic<int> *closures;
        bool owner = true;
        Closure(std::atomic<int> *c, std::atomic<int> *r, std::atomic<int> *n)
            : calls(c), running(r), closures(n)
        {
            closures->fetch_add(1);
        }
        Closure(Closure &&o) noexcept
            : calls(o.calls), running(o.running), closures(o.closures), owner(std::exchange(o.owner, false))
        { }
        ~Closure()
        {
            if (owner)
                closures->fetch_sub(1);
        }
        void operator()() const
        {
            running->fetch_add(1);
            calls->fetch_add(1);
            std::this_thread::yield(); // widens the window a wrong removeAndWait would leave
            running->fetch_sub(1);
        }
    };
    std::thread notifier([&] {
        for (int r = 0; r < rounds; ++r) {
            sync.arrive_and_wait();
            for (int i = 0; i < r % 8; ++i) // staggered, so that both sides win some rounds
                std::this_thread::yield();
            registry.notify(r);
            sync.arrive_and_wait();
        }
    });
    std::thread remover([&] {
        for (int r = 0; r < rounds; ++r) {
            sync.arrive_and_wait();
            const bool removed = registry.removeAndWait(rio::HandlerId{currentId.load()});
            runningAtReturn.fetch_add(running.load());
            aliveAtReturn.fetch_add(closures.load());
            if (!removed) {
                falseResults.fetch_add(1);
                if (calls.load() != 1)
                    falseButNotCalled.fetch_add(1);
            }
            sync.arrive_and_wait();
        }
    });
    int failures = 0;
    for (int r = 0; r < rounds; ++r) {
        calls.store(0);
        currentId.store(registry.addOnce(Closure(&calls, &running, &closures)).value());
        sync.arrive_and_wait();
        sync.arrive_and_wait();
        if (calls.load() > 1 || registry.contains(rio::HandlerId{currentId.load()}))
            ++failures;
    }
    notifier.join();
    remover.join();
    CHECK_EQ(failures, 0);
    CHECK_EQ(runningAtReturn.load(), 0);
    CHECK_EQ(aliveAtReturn.load(), 0);
    CHECK_EQ(falseButNotCalled.load(), 0);
    CHECK(registry.isEmpty());
    rio::check::note("removeAndWait returned false (the handler fired first) in ", falseResults.load(),
                     " of ", rounds, " rounds");
}
