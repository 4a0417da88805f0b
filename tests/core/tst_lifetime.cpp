// SPDX-License-Identifier: MIT
// Closure lifetime: each handler's closure is destroyed exactly once, never while it runs, and
// only by a call on its own registry that reclaims (a pass when enough is pending, removeAndWait,
// synchronize, ~Registry), on the thread making that call: never on a notify. Retired work stays
// bounded while writers churn.
#include "rio_check.h"
#include "rio_test_support.h"

#include <registryio/registry.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace {

// Set on threads that only notify: a closure destroyed there breaks "never on a notify".
thread_local bool notifyingThread = false;

struct Counters
{
    std::atomic<long> destroyedOnNotifyingThread{0};
    std::atomic<long> constructed{0};
    std::atomic<long> destroyed{0};
    std::atomic<long> doubleDestroyed{0};
    std::atomic<long> destroyedWhileRunning{0};
    long live() const { return constructed.load() - destroyed.load(); }
};

// A capture that counts its constructions and destructions, notices a second destruction of
// the same object, and notices being destroyed while a call through it is still running.
class Tracked
{
public:
    explicit Tracked(Counters *c) : m_counters(c) { m_counters->constructed.fetch_add(1); }
    Tracked(const Tracked &other) : m_counters(other.m_counters) { m_counters->constructed.fetch_add(1); }
    Tracked(Tracked &&other) noexcept : m_counters(other.m_counters) { m_counters->constructed.fetch_add(1); }
    Tracked &operator=(const Tracked &) = delete;
    Tracked &operator=(Tracked &&) = delete;
    ~Tracked()
    {
        if (m_magic != aliveMagic)
            m_counters->doubleDestroyed.fetch_add(1);
        if (m_running.load() != 0)
            m_counters->destroyedWhileRunning.fetch_add(1);
        if (notifyingThread)
            m_counters->destroyedOnNotifyingThread.fetch_add(1);
        m_magic = deadMagic;
        m_counters->destroyed.fetch_add(1);
    }

    // Marks a call through this closure as running for the lifetime of the returned object.
    auto enter() const
    {
        m_running.fetch_add(1);
        return std::unique_ptr<const Tracked, void (*)(const Tracked *)>(
            this, [](const Tracked *t) { t->m_running.fetch_sub(1); });
    }

private:
    static constexpr unsigned aliveMagic = 0xA11CE;
    static constexpr unsigned deadMagic = 0xDEAD;
    Counters *m_counters;
    unsigned m_magic = aliveMagic;
    mutable std::atomic<int> m_running{0};
};

// A handler owning a Tracked capture that marks itself running during each call.
auto trackedHandler(Counters *c, std::function<void()> body = {})
{
    return [t = Tracked(c), body = std::move(body)] {
        auto running = t.enter();
        if (body)
            body();
    };
}

// Runs an action when destroyed (moved-from copies do nothing): a closure capture whose
// destructor calls back into a registry.
class OnDestroy
{
public:
    explicit OnDestroy(std::function<void()> action) : m_action(std::move(action)) { }
    OnDestroy(OnDestroy &&other) noexcept : m_action(std::exchange(other.m_action, nullptr)) { }
    OnDestroy &operator=(OnDestroy &&) = delete;
    ~OnDestroy()
    {
        if (m_action)
            m_action();
    }

private:
    std::function<void()> m_action;
};

} // namespace

RIO_BEFORE_EACH()
{
    // Every test starts with nothing left for reclamation by earlier ones.
    // (registries of earlier tests are gone, and took their retired objects with them)
    CHECK_EQ(rio::detail::pendingCountAll(), std::size_t{0});
}

RIO_TEST(destroyedOnceOnRemove)
{
    Counters c;
    {
        rio::Registry<int> registry;
        const rio::HandlerId id = registry.add(trackedHandler(&c));
        CHECK_EQ(c.live(), 1L); // the temporaries are gone, the stored closure remains
        registry.notify(0);
        CHECK_EQ(c.live(), 1L);
        CHECK(registry.remove(id));
        // remove() never destroys at once: the closure waits for a reclaim pass.
        CHECK_EQ(c.live(), 1L);
        CHECK_EQ(registry.pendingCount(), std::size_t{1});
        CHECK_EQ(rio::detail::pendingCountAll(), std::size_t{1});
        registry.synchronize();
        CHECK_EQ(c.live(), 0L);
        CHECK_EQ(registry.pendingCount(), std::size_t{0});

        // removeAndWait() destroys it before it returns.
        const rio::HandlerId second = registry.add(trackedHandler(&c));
        registry.notify(0);
        CHECK(registry.removeAndWait(second));
        CHECK_EQ(c.live(), 0L);
        CHECK_EQ(registry.pendingCount(), std::size_t{0});
    }
    CHECK_EQ(c.doubleDestroyed.load(), 0L);
    CHECK_EQ(c.destroyedWhileRunning.load(), 0L);
    CHECK_EQ(c.constructed.load(), c.destroyed.load());
}

RIO_TEST(destroyedOnClearOnceAndGuard)
{
    Counters c;
    rio::Registry<int> registry;
    for (int i = 0; i < 5; ++i)
        registry.add(trackedHandler(&c), i);
    CHECK_EQ(c.live(), 5L);
    registry.clear();
    CHECK_EQ(c.live(), 5L); // pending, not destroyed by clear() itself
    CHECK(registry.pendingCount() >= 5);
    registry.synchronize();
    CHECK_EQ(c.live(), 0L);

    registry.addOnce(trackedHandler(&c));
    CHECK_EQ(c.live(), 1L);
    registry.notify(0); // fires and removes itself; a notify never destroys a closure
    CHECK_EQ(c.live(), 1L);
    CHECK_EQ(registry.pendingCount(), std::size_t{1});
    registry.synchronize();
    CHECK_EQ(c.live(), 0L);

    {
        rio::HandlerGuard guard = registry.addScoped(trackedHandler(&c));
        CHECK_EQ(c.live(), 1L);
    }
    CHECK_EQ(c.live(), 1L); // the guard removed it; a later pass destroys it
    registry.synchronize();
    CHECK_EQ(c.live(), 0L);
    CHECK_EQ(registry.pendingCount(), std::size_t{0});
    CHECK_EQ(c.doubleDestroyed.load(), 0L);
    CHECK_EQ(c.destroyedWhileRunning.load(), 0L);
}

RIO_TEST(handlerRemovingItselfIsNotDestroyedWhileRunning)
{
    Counters c;
    rio::Registry<int> registry;
    rio::HandlerId self;
    long liveInside = -1;
    self = registry.add(trackedHandler(&c, [&] {
        registry.remove(self);
        registry.clear();
        liveInside = c.live(); // still alive: this call is running through it
    }));
    registry.notify(0);
    CHECK_EQ(liveInside, 1L);
    registry.synchronize();
    CHECK_EQ(c.live(), 0L);
    CHECK_EQ(c.destroyedWhileRunning.load(), 0L);
    CHECK_EQ(c.doubleDestroyed.load(), 0L);
}

// A handler blocks inside a notify on another thread while remove() takes it out; reclaim
// passes run meanwhile (they free the other removed handlers). The closure survives until
// the call returns, and is destroyed afterwards by a pass on the writer's thread: not by
// the notify that was running it.
RIO_TEST(notDestroyedWhileRunningOnAnotherThread)
{
    Counters c;
    Counters others;
    rio::Registry<int> registry;
    rio::check::Latch entered(1);
    rio::check::Latch release(1);
    const rio::HandlerId id = registry.add(trackedHandler(&c, [&] {
        entered.count_down();
        release.wait();
    }));
    std::thread notifier([&registry] {
        notifyingThread = true;
        registry.notify(0);
    });
    entered.wait();
    CHECK(registry.remove(id));
    // More retire/reclaim traffic while the call is still running: 200 removals are more
    // than two passes' worth.
    for (int i = 0; i < 200; ++i)
        registry.remove(registry.add(trackedHandler(&others)));
    const std::size_t pendingWhileRunning = registry.pendingCount();
    const long othersLiveWhileRunning = others.live();
    const long liveWhileRunning = c.live();
    const long destroyedWhileRunning = c.destroyedWhileRunning.load();
    release.count_down();
    notifier.join();
    CHECK_EQ(liveWhileRunning, 1L);
    CHECK_EQ(destroyedWhileRunning, 0L);
    // The passes did run and free what nobody was running.
    CHECK_MSG(othersLiveWhileRunning < 200, "no reclaim pass freed anything during the call");
    CHECK(pendingWhileRunning < 201);
    CHECK_EQ(c.live(), 1L); // the notify that returned did not destroy it
    registry.synchronize();
    CHECK_EQ(c.live(), 0L);
    CHECK_EQ(others.live(), 0L);
    CHECK_EQ(c.doubleDestroyed.load(), 0L);
    CHECK_EQ(c.destroyedWhileRunning.load(), 0L);
    CHECK_EQ(c.destroyedOnNotifyingThread.load(), 0L);
    CHECK_EQ(others.destroyedOnNotifyingThread.load(), 0L);
}

// A plain closure (trivially copyable, no destructor) whose block a reclaim pass may hand to the
// next add: one running on another thread keeps its block, whatever the churn of closures of the
// same type meanwhile, so its captures still read as they were when it was added.
RIO_TEST(plainClosureBlockNotReusedWhileRunning)
{
    struct Captures
    {
        rio::check::Latch *entered;
        rio::check::Latch *release;
        std::atomic<long> *mismatches;
        long tag;
    };
    // One closure type for every handler below, so that their blocks are interchangeable.
    const auto make = [](Captures c) {
        return [c] {
            const long before = c.tag;
            if (c.entered != nullptr) {
                c.entered->count_down();
                c.release->wait();
            }
            if (c.tag != before || c.tag < 0)
                c.mismatches->fetch_add(1, std::memory_order_relaxed);
        };
    };
    std::atomic<long> mismatches{0};
    rio::Registry<int> registry;
    rio::check::Latch entered(1);
    rio::check::Latch release(1);
    const rio::HandlerId parked = registry.add(make({&entered, &release, &mismatches, 7}));
    std::thread notifier([&registry] { registry.notify(0); });
    entered.wait();
    CHECK(registry.remove(parked));
    // 300 adds and removals of the same closure type: several passes, each recycling what
    // nobody runs. A reused block would overwrite the parked closure's captures (tag -1).
    for (long i = 0; i < 300; ++i)
        CHECK(registry.remove(registry.add(make({nullptr, nullptr, &mismatches, -1}))));
    const std::size_t pendingWhileRunning = registry.pendingCount();
    release.count_down();
    notifier.join();
    CHECK_EQ(mismatches.load(), 0L);
    CHECK(pendingWhileRunning < rio::detail::passBatch); // the passes did run and recycle the others
    CHECK(!registry.removeAndWait(parked));
    CHECK_EQ(registry.pendingCount(), std::size_t{0});
}

// Notifies, once-handlers firing and throwing handlers on one thread while another churns
// (with passes) on the same registry and on a second one: no closure is ever destroyed on
// the notifying thread, whichever registry it belongs to.
RIO_TEST(closuresAreNeverDestroyedOnANotifyingThread)
{
    const int rounds = rio::test::scaled(3000, 5);
    Counters c;
    rio::Registry<int> registry;
    rio::Registry<int> unrelated;
    std::atomic<bool> stop{false};
    std::thread notifier([&] {
        notifyingThread = true;
        while (!stop.load(std::memory_order_relaxed)) {
            registry.notify(0);
            unrelated.notify(0);
        }
    });
    for (int r = 0; r < rounds; ++r) {
        registry.addOnce(trackedHandler(&c));
        registry.remove(registry.add(trackedHandler(&c)));
        unrelated.remove(unrelated.add(trackedHandler(&c)));
        if (r % 500 == 499)
            registry.synchronize();
    }
    stop.store(true);
    notifier.join();
    registry.clear();
    registry.synchronize();
    unrelated.synchronize();
    CHECK_EQ(c.live(), 0L);
    CHECK_EQ(c.destroyedOnNotifyingThread.load(), 0L);
    CHECK_EQ(c.destroyedWhileRunning.load(), 0L);
    CHECK_EQ(c.doubleDestroyed.load(), 0L);
}

// A guard reset on another thread runs a reclaim pass (the batch is full) that destroys a
// closure of the registry there; when the registry is destroyed meanwhile, ~Registry must
// wait until that closure's destructor has finished ("at the latest when the registry
// dies"). The closure's destructor here blocks until the main thread releases it.
RIO_TEST(registryDeathWaitsForItsClosuresBeingDestroyedElsewhere)
{
    struct SlowToDie
    {
        rio::check::Latch *inDestructor;
        rio::check::Latch *finish;
        bool active = true;
        SlowToDie(rio::check::Latch *in, rio::check::Latch *f) : inDestructor(in), finish(f) { }
        SlowToDie(SlowToDie &&o) noexcept
            : inDestructor(o.inDestructor), finish(o.finish), active(std::exchange(o.active, false))
        { }
        ~SlowToDie()
        {
            if (active) {
                inDestructor->count_down();
                finish->wait();
            }
        }
    };
    rio::check::Latch inDestructor(1);
    rio::check::Latch finish(1);
    // Room for every handler below: appends, no copy-on-write, nothing else retired; enough
    // live handlers that the tombstones never trigger a compaction.
    auto registry = std::make_unique<rio::Registry<int>>(1024);
    for (int i = 0; i < 200; ++i)
        registry->add([] { });
    std::vector<rio::HandlerId> fillers;
    for (std::size_t i = 0; i + 2 < rio::detail::passBatch; ++i)
        fillers.push_back(registry->add([] { }));
    const rio::HandlerId slow = registry->add([s = SlowToDie(&inDestructor, &finish)] { });
    rio::HandlerGuard guard = registry->addScoped([] { });
    for (rio::HandlerId id : fillers)
        CHECK(registry->remove(id));
    CHECK(registry->remove(slow));
    CHECK_EQ(registry->pendingCount(), rio::detail::passBatch - 1); // one short of a pass
    std::thread resetter([&guard] { guard.reset(); });              // the batch's last: a pass on that thread
    inDestructor.wait();
    auto death = std::async(std::launch::async, [&registry] { registry.reset(); });
    // Correct code keeps ~Registry waiting for the destructor; a generous bound for the
    // wrong code to show itself by returning.
    const bool returnedEarly = death.wait_for(std::chrono::seconds(2)) == std::future_status::ready;
    finish.count_down();
    death.wait();
    resetter.join();
    CHECK_MSG(!returnedEarly, "~Registry returned while one of its closures was still being destroyed");
}

// Closures still waiting for reclamation and closures still registered all go when the
// registry is destroyed, without waiting for a reader parked in another registry.
RIO_TEST(allDestroyedAtRegistryDestruction)
{
    Counters c;
    Counters callbacks;
    rio::Registry<int> other;
    rio::check::Latch entered(1);
    rio::check::Latch release(1);
    other.add([&] {
        entered.count_down();
        release.wait();
    });
    std::thread blocker([&other] { other.notify(0); }); // an old read section
    entered.wait();
    {
        rio::Registry<int> registry;
        std::vector<rio::HandlerId> ids;
        for (int i = 0; i < 10; ++i)
            ids.push_back(registry.add(trackedHandler(&c)));
        for (int i = 0; i < 5; ++i)
            CHECK(registry.remove(ids[std::size_t(i)]));
        registry.setExceptionHandler([t = Tracked(&callbacks)](const rio::ExceptionInfo &) { });
        registry.setExceptionHandler([t = Tracked(&callbacks)](const rio::ExceptionInfo &) { });
        // 5 registered, 5 pending (remove() does not destroy; the reader parked in another
        // registry's handler holds nothing of this one).
        CHECK_EQ(c.live(), 10L);
        CHECK_EQ(callbacks.live(), 2L);
        CHECK(rio::detail::pendingCountAll() > 0);
    }
    CHECK_EQ(c.live(), 0L);
    CHECK_EQ(callbacks.live(), 0L);
    release.count_down();
    blocker.join();
    CHECK_EQ(c.doubleDestroyed.load(), 0L);
    CHECK_EQ(callbacks.doubleDestroyed.load(), 0L);
}

RIO_TEST(exceptionCallbackClosureLifetime)
{
    Counters c;
    rio::Registry<int> registry;
    registry.setExceptionHandler([t = Tracked(&c)](const rio::ExceptionInfo &) { });
    CHECK_EQ(c.live(), 1L);
    registry.setExceptionHandler([t = Tracked(&c)](const rio::ExceptionInfo &) { });
    registry.synchronize();
    CHECK_EQ(c.live(), 1L); // the replaced one went
    registry.clearExceptionHandler();
    registry.synchronize();
    CHECK_EQ(c.live(), 0L);
    CHECK_EQ(c.doubleDestroyed.load(), 0L);
}

// A closure whose destructor removes another handler of the same registry: reclamation runs
// destructors outside every lock, so this neither deadlocks nor loses the second removal.
RIO_TEST(closureDestructorUsesTheRegistry)
{
    rio::Registry<int> registry;
    Counters c;
    const rio::HandlerId second = registry.add(trackedHandler(&c));
    bool removed = false;
    const rio::HandlerId first = registry.add([d = OnDestroy([&] { removed = registry.remove(second); })] {});
    CHECK(registry.remove(first));
    CHECK_EQ(c.live(), 1L);
    registry.synchronize(); // destroys `first`, whose destructor removes `second`
    CHECK(removed);
    CHECK(!registry.contains(second));
    // `second` was removed during that synchronize: the next one destroys it.
    CHECK(c.live() <= 1);
    registry.synchronize();
    CHECK_EQ(c.live(), 0L);
    CHECK_EQ(registry.pendingCount(), std::size_t{0});
}

// Closures whose destructors call back into their registry while it is being destroyed: it
// has emptied itself first, so remove() is false, clear() is harmless, and no closure is
// destroyed twice or read after being freed (ASan). Regression: ~Registry used to free the
// snapshot it was iterating when such a destructor removed a handler.
RIO_TEST(closureDestructorCallsItsDyingRegistry)
{
    Counters c;
    bool removed = true;
    {
        rio::Registry<int> registry;
        const rio::HandlerId victim = registry.add(trackedHandler(&c));
        registry.add([t = Tracked(&c),
                      d = OnDestroy([&registry, &removed, victim] { removed = registry.remove(victim); })] {},
                     2);
        registry.add([t = Tracked(&c), d = OnDestroy([&registry] { registry.clear(); })] {}, 1);
        registry.add(trackedHandler(&c), -1);
        CHECK_EQ(c.live(), 4L);
    }
    CHECK(!removed);
    CHECK_EQ(c.live(), 0L);
    CHECK_EQ(c.doubleDestroyed.load(), 0L);
}

// A closure that owns the last reference to its registry (here: its destructor destroys it) is
// destroyed by a call of that registry: the call returns without touching the registry again
// (ASan). Each row makes one kind of call until the reclaim pass it runs takes that closure.
RIO_TEST_DATA(closureDestructorDestroysItsRegistry, int, how, {"remove", 0}, {"guard drop", 1},
              {"synchronize", 2}, {"removeAndWait", 3}, {"clear", 4}, {"setExceptionHandler", 5})
{
    auto registry = std::make_unique<rio::Registry<int>>();
    Counters c;
    const rio::HandlerId owner =
        registry->add([t = Tracked(&c), d = OnDestroy([&registry] { registry.reset(); })] {});
    registry->add(trackedHandler(&c));
    if (how != 3)
        CHECK(registry->remove(owner));
    std::vector<rio::HandlerGuard> guards; // may outlive the registry
    int calls = 0;
    for (; registry != nullptr && calls < 10000; ++calls) {
        switch (how) {
        case 0:
            if (const rio::HandlerId id = registry->add(trackedHandler(&c)); registry != nullptr)
                registry->remove(id); // (an add's pass may take the closure too)
            break;
        case 1:
            guards.push_back(registry->addScoped(trackedHandler(&c)));
            if (registry != nullptr)
                guards.back().reset();
            break;
        case 2:
            registry->synchronize();
            break;
        case 3:
            CHECK(registry->removeAndWait(owner));
            break;
        case 4:
            if (registry->add(trackedHandler(&c)); registry != nullptr)
                registry->clear();
            break;
        default:
            registry->setExceptionHandler([t = Tracked(&c)](const rio::ExceptionInfo &) { });
            break;
        }
    }
    CHECK(registry == nullptr); // the calls' reclaim passes destroyed the owning closure
    if (how == 2 || how == 3)
        CHECK_EQ(calls, 1); // these destroy what was removed before they return
    CHECK_EQ(c.live(), 0L);
    CHECK_EQ(c.doubleDestroyed.load(), 0L);
}

// Churn with a notifier running on the same registry. DURING the churn, after every single
// operation, the pending count stays under a constant: a pass runs once passBatch objects wait, and
// the notifier (one read section at a time, not parked) can keep back only the array it
// holds and the one box it runs (in the fallback fence mode: the boxes of that array, a
// handful here), so a pass leaves little and the next comes after at most twice that. A
// reclamation that stopped freeing would pass the bound within a few hundred operations
// (the run retires about 20,000 objects). After each synchronize() (the notifier still
// running) exactly the registered closures are alive and at most the array the notifier
// holds is pending.
RIO_TEST(noGrowthUnderChurn)
{
    constexpr int batch = 500;
    constexpr std::size_t pendingBound = rio::detail::passBatch * 5 / 2;
    const int batches = rio::test::scaled(40, 2); // retires well over 10x pendingBound everywhere
    Counters c;
    rio::Registry<int> registry;
    std::atomic<bool> stop{false};
    std::atomic<long> notifies{0};
    std::thread notifier([&] {
        notifyingThread = true;
        while (!stop.load(std::memory_order_relaxed)) {
            registry.notify(0);
            notifies.fetch_add(1, std::memory_order_relaxed);
        }
    });
    std::size_t maxPending = 0;
    std::size_t maxPendingAfterSynchronize = 0;
    long aliveBeyondRegistered = 0;
    std::size_t retired = 0;
    std::vector<rio::HandlerId> ids;
    for (int b = 0; b < batches; ++b) {
        // The notifier really runs beside each batch (on a loaded machine it may not have
        // been scheduled yet).
        const long notifiesBefore = notifies.load();
        while (notifies.load() == notifiesBefore)
            std::this_thread::yield();
        // Odd batches also use removeAndWait (which runs passes itself); even batches rely
        // on the automatic passes alone.
        const bool waits = b % 2 == 1;
        for (int i = 0; i < batch; ++i) {
            switch (i % 8) {
            case 0:
            case 1:
            case 2:
                ids.push_back(registry.add(trackedHandler(&c), i % 3));
                break;
            case 3:
            case 4:
            case 5:
                if (!ids.empty()) {
                    if (waits && i % 8 == 5)
                        registry.removeAndWait(ids.back());
                    else
                        registry.remove(ids.back());
                    ids.pop_back();
                    ++retired;
                }
                break;
            case 6: {
                rio::HandlerGuard guard = registry.addScoped(trackedHandler(&c));
                ++retired;
                break;
            }
            case 7:
                if (i % 64 == 7) {
                    retired += ids.size();
                    registry.clear();
                    ids.clear();
                }
                break;
            }
            maxPending = std::max(maxPending, registry.pendingCount());
        }
        registry.synchronize();
        maxPendingAfterSynchronize = std::max(maxPendingAfterSynchronize, registry.pendingCount());
        aliveBeyondRegistered = std::max(aliveBeyondRegistered, c.live() - long(registry.size()));
    }
    stop.store(true);
    notifier.join();
    rio::check::note(batch * batches, " operations (", retired, " handlers retired) beside ", notifies.load(),
                     " notifies: at most ", maxPending, " objects pending, ", maxPendingAfterSynchronize,
                     " after a synchronize");
    CHECK(retired > 10 * pendingBound); // the bound is far below what the run retires
    CHECK_MSG(maxPending <= pendingBound, "pending objects grew during the churn");
    CHECK(maxPendingAfterSynchronize <= 1); // at most the array the notifier holds
    CHECK_EQ(aliveBeyondRegistered, 0L);    // every removed closure destroyed by synchronize
    CHECK_EQ(rio::detail::pendingCountAll(), registry.pendingCount());
    registry.synchronize();
    CHECK_EQ(rio::detail::pendingCountAll(), std::size_t{0});
    CHECK_EQ(c.live(), long(registry.size())); // only the registered closures remain
    registry.clear();
    registry.synchronize();
    CHECK_EQ(c.live(), 0L);
    CHECK_EQ(c.constructed.load(), c.destroyed.load());
    CHECK_EQ(c.doubleDestroyed.load(), 0L);
    CHECK_EQ(c.destroyedWhileRunning.load(), 0L);
    CHECK_EQ(c.destroyedOnNotifyingThread.load(), 0L);
}

RIO_TEST(onceChurnReclaims)
{
    const int rounds = rio::test::scaled(5000, 5);
    Counters c;
    rio::Registry<int> registry;
    int calls = 0;
    for (int r = 0; r < rounds; ++r) {
        registry.addOnce(trackedHandler(&c, [&calls] { ++calls; }));
        registry.notify(r);
        // A notify never reclaims; the next addOnce runs the pass once passBatch wait.
        CHECK(registry.pendingCount() <= rio::detail::passBatch);
    }
    registry.synchronize();
    CHECK_EQ(calls, rounds);
    CHECK_EQ(rio::detail::pendingCountAll(), std::size_t{0});
    CHECK_EQ(c.live(), 0L);
}

// Notifiers run the handlers on two threads while a writer removes them: no closure is
// destroyed while a call through it is running.
RIO_TEST(concurrentRemovalNeverDestroysARunningClosure)
{
    const int rounds = rio::test::scaled(3000, 5);
    Counters c;
    rio::Registry<int> registry;
    std::atomic<bool> stop{false};
    std::vector<std::thread> notifiers;
    for (int n = 0; n < 2; ++n) {
        notifiers.emplace_back([&] {
            notifyingThread = true;
            while (!stop.load(std::memory_order_relaxed))
                registry.notify(0);
        });
    }
    for (int r = 0; r < rounds; ++r) {
        const rio::HandlerId a = registry.add(trackedHandler(&c));
        const rio::HandlerId b = registry.add(trackedHandler(&c, [] { std::this_thread::yield(); }));
        registry.remove(b);
        if (r % 2)
            registry.removeAndWait(a);
        else
            registry.remove(a);
    }
    stop.store(true);
    for (std::thread &t : notifiers)
        t.join();
    registry.synchronize();
    CHECK_EQ(c.live(), 0L);
    CHECK_EQ(c.destroyedWhileRunning.load(), 0L);
    CHECK_EQ(c.doubleDestroyed.load(), 0L);
    CHECK_EQ(c.destroyedOnNotifyingThread.load(), 0L);
}
