// SPDX-License-Identifier: MIT
// removeAndWait(id): returns only once the handler is not running on any other thread, proven
// with latches rather than timing; from inside the handler it does not wait for itself.
#include "rio_check.h"
#include "rio_test_support.h"

#include <registryio/registry.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

// Spins until `condition` holds. Only used for conditions another thread is about to make true.
template <typename Condition>
void spinUntil(Condition condition)
{
    while (!condition())
        std::this_thread::yield();
}

} // namespace

RIO_TEST(withoutRunningNotifyReturnsTrueOnce)
{
    rio::Registry<int> registry;
    int calls = 0;
    const rio::HandlerId id = registry.add([&calls] { ++calls; });
    registry.notify(0);
    CHECK(registry.removeAndWait(id));
    CHECK(!registry.removeAndWait(id));
    CHECK(!registry.remove(id));
    registry.notify(0);
    CHECK_EQ(calls, 1);
}

// The handler blocks on a latch on a notifier thread. A waiter thread calls removeAndWait
// and raises `returned` when it comes back. The main thread sees the handler unpublished
// (so the waiter is inside removeAndWait), checks `returned` is still false, and only then
// releases the handler. The waiter must find `finished` (set by the handler right before
// it returns) already true. Repeated over many rounds.
RIO_TEST(waitsForTheRunningHandler)
{
    const int rounds = rio::test::scaled(200, 4);
    rio::Registry<int> registry;
    int earlyReturns = 0;
    int unfinishedOnReturn = 0;
    for (int round = 0; round < rounds; ++round) {
        rio::check::Latch entered(1);
        rio::check::Latch release(1);
        std::atomic<bool> finished{false};
        std::atomic<bool> returned{false};
        const rio::HandlerId id = registry.add([&] {
            entered.count_down();
            release.wait();
            finished.store(true);
        });
        std::thread notifier([&registry] { registry.notify(0); });
        entered.wait();

        bool removed = false;
        bool finishedSeenByWaiter = false;
        std::thread waiter([&] {
            removed = registry.removeAndWait(id);
            finishedSeenByWaiter = finished.load();
            returned.store(true);
        });
        spinUntil([&] { return !registry.contains(id); });
        if (returned.load())
            ++earlyReturns;
        release.count_down();
        waiter.join();
        notifier.join();
        CHECK(removed);
        if (!finishedSeenByWaiter)
            ++unfinishedOnReturn;
    }
    CHECK_EQ(earlyReturns, 0);
    CHECK_EQ(unfinishedOnReturn, 0);
    CHECK(registry.isEmpty());
}

// After removeAndWait returns, no notify on any thread calls the handler again, even with
// notifiers running flat out: the handler raises a violation if it runs after the return.
RIO_TEST(noCallAfterReturn)
{
    const int rounds = rio::test::scaled(100, 4);
    rio::Registry<int> registry;
    std::atomic<bool> stop{false};
    std::atomic<int> violations{0};
    std::atomic<int> inFlightAtReturn{0};
    std::thread notifiers[2];
    for (std::thread &t : notifiers) {
        t = std::thread([&] {
            while (!stop.load(std::memory_order_relaxed))
                registry.notify(0);
        });
    }
    for (int round = 0; round < rounds; ++round) {
        auto gone = std::make_shared<std::atomic<bool>>(false);
        auto running = std::make_shared<std::atomic<int>>(0);
        auto calls = std::make_shared<std::atomic<int>>(0);
        const rio::HandlerId id = registry.add([gone, running, calls, &violations] {
            running->fetch_add(1);
            calls->fetch_add(1);
            if (gone->load())
                violations.fetch_add(1);
            std::this_thread::yield(); // widens the window a wrong removeAndWait would leave
            if (gone->load())
                violations.fetch_add(1);
            running->fetch_sub(1);
        });
        // Remove it while the notifiers are busy calling it.
        spinUntil([&calls] { return calls->load() > 0; });
        CHECK(registry.removeAndWait(id));
        gone->store(true);
        inFlightAtReturn.fetch_add(running->load());
    }
    stop.store(true);
    for (std::thread &t : notifiers)
        t.join();
    CHECK_EQ(violations.load(), 0);
    CHECK_EQ(inFlightAtReturn.load(), 0);
}

RIO_TEST(fromInsideTheHandlerDoesNotWaitForItself)
{
    rio::Registry<int> registry;
    rio::HandlerId self;
    int calls = 0;
    bool removed = false;
    self = registry.add([&] {
        ++calls;
        removed = registry.removeAndWait(self);
    });
    // On a separate thread, so a deadlock would show as a timeout rather than a hung run.
    auto done = std::async(std::launch::async, [&registry] {
        registry.notify(0);
        registry.notify(0);
    });
    CHECK_MSG(done.wait_for(std::chrono::seconds(30)) == std::future_status::ready,
              "removeAndWait(self) from inside the handler deadlocked");
    CHECK(removed);
    CHECK_EQ(calls, 1);
    CHECK(registry.isEmpty());
}

// Inside the handler on thread A, removeAndWait(self) still waits for the same handler
// running on thread B (it only skips its own call).
RIO_TEST(fromInsideTheHandlerWaitsForOtherThreads)
{
    const int rounds = rio::test::scaled(100, 4);
    rio::Registry<int> registry;
    int earlyReturns = 0;
    int unfinishedOnReturn = 0;
    for (int round = 0; round < rounds; ++round) {
        rio::check::Latch blockedEntered(1);
        rio::check::Latch release(1);
        std::atomic<bool> blockedFinished{false};
        std::atomic<bool> returned{false};
        std::atomic<int> entries{0};
        std::atomic<bool> finishedSeen{false};
        rio::HandlerId id;
        id = registry.add([&] {
            if (entries.fetch_add(1) == 0) { // first caller: blocks
                blockedEntered.count_down();
                release.wait();
                blockedFinished.store(true);
                return;
            }
            registry.removeAndWait(id); // second caller: waits for the first
            finishedSeen.store(blockedFinished.load());
            returned.store(true);
        });
        std::thread blocked([&registry] { registry.notify(0); });
        blockedEntered.wait();
        std::thread remover([&registry] { registry.notify(0); });
        spinUntil([&] { return !registry.contains(id); });
        if (returned.load())
            ++earlyReturns;
        release.count_down();
        remover.join();
        blocked.join();
        CHECK(returned.load());
        if (!finishedSeen.load())
            ++unfinishedOnReturn;
    }
    CHECK_EQ(earlyReturns, 0);
    CHECK_EQ(unfinishedOnReturn, 0);
}

// removeAndWait(id) for a handler that is still running on another thread but no longer
// registered: a once-handler that fired (it unpublishes itself before it runs), one taken
// out by clear(), one removed by remove() on a third thread. The call returns false (it did
// not remove it) but only once the handler has returned and its closure is destroyed.
RIO_TEST_DATA(waitsForAnUnpublishedHandler, int, how, {"once-handler fired", 0}, {"clear()", 1},
              {"remove() on another thread", 2})
{
    const int rounds = rio::test::scaled(100, 4);
    rio::Registry<int> registry;
    int earlyReturns = 0;
    int unfinishedOnReturn = 0;
    int aliveOnReturn = 0;
    int trueResults = 0;
    for (int round = 0; round < rounds; ++round) {
        rio::check::Latch entered(1);
        rio::check::Latch release(1);
        rio::check::Latch waiterStarted(1);
        std::atomic<bool> finished{false};
        std::atomic<bool> returned{false};
        std::atomic<bool> destroyed{false};
        struct OnDestroy
        {
            std::atomic<bool> *flag;
            bool active = true;
            explicit OnDestroy(std::atomic<bool> *f) : flag(f) { }
            OnDestroy(OnDestroy &&o) noexcept : flag(o.flag), active(std::exchange(o.active, false)) { }
            ~OnDestroy()
            {
                if (active)
                    flag->store(true);
            }
        };
        auto body = [&, d = OnDestroy(&destroyed)] {
            entered.count_down();
            release.wait();
            finished.store(true);
        };
        const rio::HandlerId id =
            how == 0 ? registry.addOnce(std::move(body)) : registry.add(std::move(body));
        std::thread notifier([&registry] { registry.notify(0); });
        entered.wait();
        if (how == 1)
            registry.clear();
        else if (how == 2)
            std::thread([&registry, id] { CHECK(registry.remove(id)); }).join();
        CHECK(!registry.contains(id)); // unpublished, still running

        bool removed = true;
        bool finishedSeenByWaiter = false;
        bool destroyedSeenByWaiter = false;
        std::thread waiter([&] {
            waiterStarted.count_down();
            removed = registry.removeAndWait(id);
            finishedSeenByWaiter = finished.load();
            destroyedSeenByWaiter = destroyed.load();
            returned.store(true);
        });
        waiterStarted.wait();
        // Give a wrong removeAndWait (one that returns at once) every chance to show it
        // before the release; correctness does not depend on how long this takes. Bounded in
        // time as well: on a loaded machine each yield can cost a whole time slice.
        const auto giveUpAt = std::chrono::steady_clock::now() + std::chrono::milliseconds(2);
        for (int i = 0; i < 2000 && !returned.load() && std::chrono::steady_clock::now() < giveUpAt; ++i)
            std::this_thread::yield();
        if (returned.load())
            ++earlyReturns;
        release.count_down();
        waiter.join();
        notifier.join();
        trueResults += removed ? 1 : 0;
        unfinishedOnReturn += finishedSeenByWaiter ? 0 : 1;
        aliveOnReturn += destroyedSeenByWaiter ? 0 : 1;
    }
    CHECK_EQ(earlyReturns, 0);
    CHECK_EQ(unfinishedOnReturn, 0);
    CHECK_EQ(aliveOnReturn, 0);
    CHECK_EQ(trueResults, 0);
    CHECK_EQ(registry.pendingCount(), std::size_t{0});
}

// The waited-for handler runs at the bottom of a recursion of nested notifies on the
// notifier thread, so its section's slot and running cell are in a deeper record than the
// thread's first (a record holds 8 sections, 7 in the fallback mode): a reclaim pass must
// see them there, and the thread's slot must walk back up through the records afterwards.
static std::vector<rio::check::Row<int>> depths()
{
    std::vector<rio::check::Row<int>> rows;
    for (int depth : {0, 6, 7, 8, 9, 15, 16, 17, 40})
        rows.push_back({"depth " + std::to_string(depth), depth});
    return rows;
}

RIO_TEST_DATA(waitsForAHandlerNestedInADeeperRecord, int, depth, depths())
{
    const int rounds = rio::test::scaled(50, 4);
    rio::Registry<int> registry;
    // Higher priority: recurse first, so the target runs only at the bottom.
    registry.add(
        [&registry](const int &d) {
            if (d > 0)
                registry.notify(d - 1);
        },
        1);
    int earlyReturns = 0;
    int unfinishedOnReturn = 0;
    std::size_t recordsAfterFirstRound = 0;
    for (int round = 0; round < rounds; ++round) {
        rio::test::Parked parked;
        std::atomic<int> calls{0};
        const rio::HandlerId id = registry.add([&](const int &d) {
            calls.fetch_add(1);
            if (d == 0)
                parked.park();
        });
        std::thread notifier([&registry, depth] { registry.notify(depth); });
        parked.entered.wait();
        // A pass that missed the deep record would return at once.
        const rio::test::WaitOutcome wait = rio::test::removeAndWaitWhileParked(registry, id, parked);
        notifier.join();
        CHECK(wait.removed);
        CHECK_EQ(calls.load(), 1); // removed before the outer levels reached it
        earlyReturns += wait.returnedEarly ? 1 : 0;
        unfinishedOnReturn += wait.finishedOnReturn ? 0 : 1;
        if (round == 0)
            recordsAfterFirstRound = rio::detail::hazard::recordCount();
    }
    CHECK_EQ(earlyReturns, 0);
    CHECK_EQ(unfinishedOnReturn, 0);
    // Each round's notifier thread ends and gives its records back for the next one.
    CHECK_EQ(rio::detail::hazard::recordCount(), recordsAfterFirstRound);
    // The main thread's slot walks the same records and comes back to the first.
    std::vector<int> seen;
    registry.add([&seen](const int &d) { seen.push_back(d); });
    registry.notify(depth);
    CHECK_EQ(seen.size(), std::size_t(depth) + 1);
    // No section is left open anywhere: everything retired can go (the last add may have
    // retired an array just now, so ask for it).
    registry.synchronize();
    CHECK_EQ(registry.pendingCount(), std::size_t{0});
}

// removeAndWait waits only for notifies of its own registry: a handler of another registry
// parked on another thread (even one that calls into this registry's notify) does not hold
// it up.
RIO_TEST(doesNotWaitForAnotherRegistrysReader)
{
    rio::Registry<int> parkedIn;
    rio::Registry<int> registry;
    rio::check::Latch entered(1);
    rio::check::Latch release(1);
    parkedIn.add([&] {
        registry.notify(0); // a finished notify of `registry` inside the parked one
        entered.count_down();
        release.wait();
    });
    const rio::HandlerId id = registry.add([] { });
    std::thread parked([&parkedIn] { parkedIn.notify(0); });
    entered.wait();
    auto attempt = std::async(std::launch::async, [&] { return registry.removeAndWait(id); });
    // A generous bound that only matters when the code is wrong: then it would hang.
    const bool returned = attempt.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
    release.count_down();
    parked.join();
    CHECK_MSG(returned, "removeAndWait waited for a reader of another registry");
    CHECK(attempt.get());
}

// Two threads, each inside a handler, call removeAndWait at the same time. The registry tracks which
// handler each reader runs, so these must not deadlock:
//  - handlers of two different registries, each removing itself;
//  - handlers of the same registry, each removing itself and a third handler that nobody
//    runs (neither removes the handler the other is running).
// The genuine cycle, where each removes the handler the OTHER thread is running at that
// moment, is a deadlock by contract (each waits for the other's call to return, which
// waits for it): documented here and in the API docs, not tested. Hangs are reported
// through futures with a generous bound; a deadlocked thread can never finish, so the
// process ends there.
RIO_TEST_DATA(twoHandlersRemovingConcurrently, bool, sameRegistry, {"two registries", false},
              {"one registry, disjoint handlers", true})
{
    const int rounds = rio::test::scaled(50, 5);
    for (int round = 0; round < rounds; ++round) {
        rio::Registry<int> first;
        rio::Registry<int> secondOwn;
        rio::Registry<int> &second = sameRegistry ? first : secondOwn;
        rio::check::Latch bothInside(2);
        bool removedFirst = false;
        bool removedSecond = false;
        bool removedThirdByFirst = false;
        bool removedFourthBySecond = false;
        rio::HandlerId a;
        rio::HandlerId b;
        // The event says which thread is notifying: handler `a` acts on 1, `b` on 2.
        const rio::HandlerId third = first.add([] { }, -10);
        const rio::HandlerId fourth = second.add([] { }, -20);
        a = first.add(
            [&](const int &who) {
                if (who != 1)
                    return;
                bothInside.arrive_and_wait();
                removedFirst = first.removeAndWait(a);
                removedThirdByFirst = first.removeAndWait(third);
            },
            2);
        b = second.add(
            [&](const int &who) {
                if (who != 2)
                    return;
                bothInside.arrive_and_wait();
                removedSecond = second.removeAndWait(b);
                removedFourthBySecond = second.removeAndWait(fourth);
            },
            1);
        auto one = std::async(std::launch::async, [&first] { first.notify(1); });
        auto two = std::async(std::launch::async, [&second] { second.notify(2); });
        const bool oneDone = one.wait_for(std::chrono::seconds(60)) == std::future_status::ready;
        const bool twoDone = two.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
        if (!oneDone || !twoDone) {
            // The deadlocked threads can never finish: end the process here.
            rio::check::printLine("FAIL", "removeAndWait from handlers on two threads deadlocked (round " +
                                              std::to_string(round) + ")");
            std::_Exit(3);
        }
        CHECK(removedFirst);
        CHECK(removedSecond);
        CHECK(removedThirdByFirst);
        CHECK(removedFourthBySecond);
        CHECK(first.isEmpty());
        CHECK(second.isEmpty());
    }
}
