// SPDX-License-Identifier: MIT
// What removeAndWait() and synchronize() wait for, and what they must not wait for: a notify
// parked in another handler, and closure destructors of the same registry running on other
// threads. Also built as tst_waits_fallback (RIO_FENCE=fallback), the fence mode of
// platforms without an asymmetric fence. A broken wait would block: every wait here is bounded,
// and a wait that runs out records a failure and lets the blocked thread go, so the case fails
// instead of hanging.
#include "rio_check.h"

#include <registryio/registry.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <utility>

namespace {

// A one-shot event with a bounded wait (the harness's Latch waits without bound).
class Event
{
public:
    void set()
    {
        std::lock_guard lock(m_mutex);
        m_set = true;
        m_changed.notify_all();
    }
    // True once set; false if `seconds` passed first.
    bool waitFor(int seconds)
    {
        std::unique_lock lock(m_mutex);
        return m_changed.wait_for(lock, std::chrono::seconds(seconds), [this] { return m_set; });
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_changed;
    bool m_set = false;
};

// Long enough for a loaded machine, short against CTest's timeout.
constexpr int boundSeconds = 20;

// A closure member whose destructor runs `f` (the RAII pattern: a handler's state that
// unregisters something when it goes).
template <typename F>
struct OnDestroy
{
    explicit OnDestroy(F f) : f(std::move(f)) { }
    OnDestroy(const OnDestroy &) = delete;
    OnDestroy(OnDestroy &&other) noexcept
        : f(std::move(other.f)), armed(std::exchange(other.armed, false)) { }
    ~OnDestroy()
    {
        if (armed)
            f();
    }
    F f;
    bool armed = true;
};

} // namespace

// A notify that already ran X and is parked in handler P does not hold up removeAndWait(X).
RIO_TEST(removeAndWaitDoesNotWaitForANotifyParkedInAnotherHandler)
{
    rio::Registry<int> registry;
    std::atomic<int> xCalls{0};
    const rio::HandlerId x = registry.add([&xCalls] { xCalls.fetch_add(1); }, 1); // runs first
    Event parked;
    Event removed;
    bool removedInTime = false;
    registry.add([&] {
        parked.set();
        removedInTime = removed.waitFor(boundSeconds); // the park ends when the remover returns
    });
    std::thread notifier([&] { registry.notify(0); });
    CHECK(parked.waitFor(boundSeconds));
    const bool result = registry.removeAndWait(x);
    removed.set();
    notifier.join();
    CHECK(result);
    CHECK(removedInTime);
    CHECK_EQ(xCalls.load(), 1);
}

// The deadlock form: the parked handler waits for a thread whose shutdown calls removeAndWait
// on its own handler (a worker joined from a handler).
RIO_TEST(parkedHandlerJoiningAWorkerThatRemovesAndWaitsItsHandler)
{
    rio::Registry<int> registry;
    const rio::HandlerId workerHandler = registry.add([] { }, 1);
    Event parked;
    Event workerDone;
    bool joinedInTime = false;
    std::thread worker([&] {
        parked.waitFor(boundSeconds);
        registry.removeAndWait(workerHandler); // the worker's shutdown
        workerDone.set();
    });
    registry.add([&] {
        parked.set();
        joinedInTime = workerDone.waitFor(boundSeconds); // "join" the worker, bounded
    });
    registry.notify(0);
    worker.join();
    CHECK(joinedInTime);
    CHECK(!registry.contains(workerHandler));
}

// synchronize() waits for notifies that can still reach a removed handler, not for one parked
// in a handler after it has passed the removed one.
RIO_TEST(synchronizeDoesNotWaitForANotifyParkedPastTheRemovedHandler)
{
    rio::Registry<int> registry;
    const rio::HandlerId x = registry.add([] { }, 1);
    Event parked;
    Event synchronized;
    bool synchronizedInTime = false;
    registry.add([&] {
        parked.set();
        synchronizedInTime = synchronized.waitFor(boundSeconds);
    });
    std::thread notifier([&] { registry.notify(0); });
    CHECK(parked.waitFor(boundSeconds));
    CHECK(registry.remove(x));
    registry.synchronize();
    synchronized.set();
    notifier.join();
    CHECK(synchronizedInTime);
    CHECK_EQ(registry.pendingCount(), std::size_t{0});
}

// The parked notify still holds up a wait for the handler it is running.
RIO_TEST(removeAndWaitStillWaitsForTheParkedHandlerItself)
{
    rio::Registry<int> registry;
    Event parked;
    Event release;
    std::atomic<bool> exited{false};
    const rio::HandlerId p = registry.add([&] {
        parked.set();
        release.waitFor(boundSeconds);
        exited.store(true);
    });
    std::thread notifier([&] { registry.notify(0); });
    CHECK(parked.waitFor(boundSeconds));
    std::atomic<bool> returned{false};
    bool exitedWhenReturned = false;
    std::thread remover([&] {
        registry.removeAndWait(p);
        exitedWhenReturned = exited.load();
        returned.store(true);
    });
    for (int i = 0; i < 1000; ++i)
        std::this_thread::yield(); // a broken wait returns meanwhile
    const bool returnedEarly = returned.load();
    release.set();
    notifier.join();
    remover.join();
    CHECK(!returnedEarly);
    CHECK(exitedWhenReturned);
}

// Two closures whose destructors call removeAndWait for their own handler (an object that
// unregisters in its destructor), destroyed by passes on two threads at the same time: neither
// waits for the other's destruction, which holds neither handler.
RIO_TEST(closureDestructorsOnTwoThreadsRemovingTheirOwnHandlers)
{
    rio::Registry<int> registry;
    const rio::HandlerId c = registry.add([] { });
    const rio::HandlerId d = registry.add([] { });
    rio::HandlerId a;
    rio::HandlerId b;
    rio::check::Latch bothDestroying(2);
    Event aDestroying;
    bool aDone = false;
    bool bDone = false;
    a = registry.add([guard = OnDestroy([&] {
                          aDestroying.set();
                          bothDestroying.arrive_and_wait();
                          registry.removeAndWait(a);
                          aDone = true;
                      })] {});
    b = registry.add([guard = OnDestroy([&] {
                          bothDestroying.arrive_and_wait();
                          registry.removeAndWait(b);
                          bDone = true;
                      })] {});
    Event t1Done;
    Event t2Done;
    std::thread t1([&] {
        registry.removeAndWait(a); // its pass destroys A's closure on this thread
        t1Done.set();
    });
    std::thread t2([&] {
        aDestroying.waitFor(boundSeconds); // A is taken: the pass below takes B alone
        registry.removeAndWait(b);
        t2Done.set();
    });
    const bool t1InTime = t1Done.waitFor(boundSeconds);
    const bool t2InTime = t2Done.waitFor(boundSeconds);
    if (!t1InTime || !t2InTime) {
        // Both threads are blocked for good: report and end the process (they hold stack state).
        std::printf("FAIL closureDestructorsOnTwoThreadsRemovingTheirOwnHandlers: the two destructors "
                    "wait for each other\n");
        std::fflush(stdout);
        std::_Exit(1);
    }
    t1.join();
    t2.join();
    CHECK(aDone);
    CHECK(bDone);
    CHECK(!registry.contains(a));
    CHECK(!registry.contains(b));
    CHECK(registry.contains(c));
    CHECK(registry.contains(d));
}

// Two closures whose destructors call synchronize() of their registry, destroyed by passes on
// two threads at the same time: each chain holds a handler retired before the other's call, so
// each could wait for the other's destruction; neither waits for good, and both return.
RIO_TEST(closureDestructorsOnTwoThreadsSynchronizing)
{
    rio::Registry<int> registry;
    rio::HandlerId a;
    rio::HandlerId b;
    rio::check::Latch bothDestroying(2);
    Event aDestroying;
    bool aDone = false;
    bool bDone = false;
    a = registry.add([guard = OnDestroy([&] {
                          aDestroying.set();
                          bothDestroying.arrive_and_wait();
                          registry.synchronize();
                          aDone = true;
                      })] {});
    b = registry.add([guard = OnDestroy([&] {
                          bothDestroying.arrive_and_wait();
                          registry.synchronize();
                          bDone = true;
                      })] {});
    Event t1Done;
    Event t2Done;
    std::thread t1([&] {
        registry.removeAndWait(a); // its pass destroys A's closure on this thread
        t1Done.set();
    });
    std::thread t2([&] {
        aDestroying.waitFor(boundSeconds); // A is taken: the pass below takes B alone
        registry.removeAndWait(b);
        t2Done.set();
    });
    const bool t1InTime = t1Done.waitFor(boundSeconds);
    const bool t2InTime = t2Done.waitFor(boundSeconds);
    if (!t1InTime || !t2InTime) {
        std::printf("FAIL closureDestructorsOnTwoThreadsSynchronizing: the two destructors wait for "
                    "each other\n");
        std::fflush(stdout);
        std::_Exit(1);
    }
    t1.join();
    t2.join();
    CHECK(aDone);
    CHECK(bDone);
    CHECK(registry.isEmpty());
    registry.synchronize();
    CHECK_EQ(registry.pendingCount(), std::size_t{0});
}

// Two closures whose destructors call removeAndWait on other handlers of the same registry,
// destroyed by passes on two threads at the same time: neither waits for the other's
// destruction, since the handler each waits for is not in the other's.
RIO_TEST(closureDestructorsOnTwoThreadsRemovingOtherHandlers)
{
    rio::Registry<int> registry;
    const rio::HandlerId c = registry.add([] { });
    const rio::HandlerId d = registry.add([] { });
    rio::check::Latch bothDestroying(2);
    Event aDestroying;
    bool aDone = false;
    bool bDone = false;
    const rio::HandlerId a = registry.add([guard = OnDestroy([&] {
                                               aDestroying.set();
                                               bothDestroying.arrive_and_wait();
                                               registry.removeAndWait(c);
                                               aDone = true;
                                           })] {});
    const rio::HandlerId b = registry.add([guard = OnDestroy([&] {
                                               bothDestroying.arrive_and_wait();
                                               registry.removeAndWait(d);
                                               bDone = true;
                                           })] {});
    Event t1Done;
    Event t2Done;
    std::thread t1([&] {
        registry.removeAndWait(a); // its pass destroys A's closure on this thread
        t1Done.set();
    });
    std::thread t2([&] {
        aDestroying.waitFor(boundSeconds); // A is taken: the pass below takes B alone
        registry.removeAndWait(b);
        t2Done.set();
    });
    const bool t1InTime = t1Done.waitFor(boundSeconds);
    const bool t2InTime = t2Done.waitFor(boundSeconds);
    if (!t1InTime || !t2InTime) {
        // Both threads are blocked for good: report and end the process (they hold stack state).
        std::printf("FAIL closureDestructorsOnTwoThreadsRemovingOtherHandlers: the two destructors "
                    "wait for each other\n");
        std::fflush(stdout);
        std::_Exit(1);
    }
    t1.join();
    t2.join();
    CHECK(aDone);
    CHECK(bDone);
    CHECK(!registry.contains(c));
    CHECK(!registry.contains(d));
    CHECK(registry.isEmpty());
}

// removeAndWait from inside the closure destructor of the very handler it names returns (the
// destruction is this thread's own frame).
RIO_TEST(removeAndWaitOfItsOwnHandlerFromItsClosureDestructor)
{
    rio::Registry<int> registry;
    rio::HandlerId self;
    bool returned = false;
    self = registry.add([guard = OnDestroy([&] {
                             registry.removeAndWait(self);
                             returned = true;
                         })] {});
    CHECK(registry.removeAndWait(self));
    CHECK(returned);
}
