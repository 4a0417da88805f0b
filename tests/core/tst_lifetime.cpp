// Closure lifetime: each handler's closure is destroyed exactly once, never while it runs, as
// soon as no notify can reach it, at the latest with its registry; retired work stays bounded.
#include "rio_test_support.h"

#include <registryio/registry.h>

#include <QTest>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <latch>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace {

struct Counters
{
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

class tst_Lifetime : public QObject
{
    Q_OBJECT
private slots:
    void init()
    {
        // Every test starts with nothing left for reclamation by earlier ones.
        // (registries of earlier tests are gone, and took their retired objects with them)
        QCOMPARE(rio::detail::pendingCountAll(), std::size_t{0});
    }

    void destroyedOnceOnRemove()
    {
        Counters c;
        {
            rio::Registry<int> registry;
            const rio::HandlerId id = registry.add(trackedHandler(&c));
            QCOMPARE(c.live(), 1L); // the temporaries are gone, the stored closure remains
            registry.notify(0);
            QCOMPARE(c.live(), 1L);
            QVERIFY(registry.remove(id));
            // No notify can reach it any more: destroyed right away, not at some later point.
            QCOMPARE(c.live(), 0L);
            registry.synchronize();
            QCOMPARE(c.live(), 0L);
        }
        QCOMPARE(c.doubleDestroyed.load(), 0L);
        QCOMPARE(c.destroyedWhileRunning.load(), 0L);
        QCOMPARE(c.constructed.load(), c.destroyed.load());
    }

    void destroyedOnClearOnceAndGuard()
    {
        Counters c;
        rio::Registry<int> registry;
        for (int i = 0; i < 5; ++i)
            registry.add(trackedHandler(&c), i);
        QCOMPARE(c.live(), 5L);
        registry.clear();
        QCOMPARE(c.live(), 0L);

        registry.addOnce(trackedHandler(&c));
        QCOMPARE(c.live(), 1L);
        registry.notify(0); // fires and removes itself; freed when the notify's section ends
        registry.synchronize();
        QCOMPARE(c.live(), 0L);

        {
            rio::HandlerGuard guard = registry.addScoped(trackedHandler(&c));
            QCOMPARE(c.live(), 1L);
        }
        QCOMPARE(c.live(), 0L);
        QCOMPARE(c.doubleDestroyed.load(), 0L);
        QCOMPARE(c.destroyedWhileRunning.load(), 0L);
    }

    void handlerRemovingItselfIsNotDestroyedWhileRunning()
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
        QCOMPARE(liveInside, 1L);
        registry.synchronize();
        QCOMPARE(c.live(), 0L);
        QCOMPARE(c.destroyedWhileRunning.load(), 0L);
        QCOMPARE(c.doubleDestroyed.load(), 0L);
    }

    // A handler blocks inside a notify on another thread while it is removed; reclamation is
    // attempted meanwhile. The closure survives until the call returns, then goes exactly once.
    void notDestroyedWhileRunningOnAnotherThread()
    {
        Counters c;
        rio::Registry<int> registry;
        std::latch entered(1);
        std::latch release(1);
        const rio::HandlerId id = registry.add(trackedHandler(&c, [&] {
            entered.count_down();
            release.wait();
        }));
        std::thread notifier([&registry] { registry.notify(0); });
        entered.wait();
        QVERIFY(registry.remove(id));
        // More retire/reclaim traffic while the call is still running.
        for (int i = 0; i < 100; ++i)
            registry.remove(registry.add([] {}));
        registry.remove(registry.add([] {}));
        const long liveWhileRunning = c.live();
        const long destroyedWhileRunning = c.destroyedWhileRunning.load();
        release.count_down();
        notifier.join();
        QCOMPARE(liveWhileRunning, 1L);
        QCOMPARE(destroyedWhileRunning, 0L);
        registry.synchronize();
        QCOMPARE(c.live(), 0L);
        QCOMPARE(c.doubleDestroyed.load(), 0L);
        QCOMPARE(c.destroyedWhileRunning.load(), 0L);
    }

    // A reader leaving its section reclaims a registry's closures on its own thread; when the
    // registry is destroyed meanwhile, ~Registry must wait until that closure's destructor has
    // finished there ("at the latest when the registry dies"). The closure's destructor here
    // blocks until the main thread releases it.
    void registryDeathWaitsForItsClosuresBeingDestroyedElsewhere()
    {
        struct SlowToDie
        {
            std::latch *inDestructor;
            std::latch *finish;
            bool active = true;
            SlowToDie(std::latch *in, std::latch *f) : inDestructor(in), finish(f) { }
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
        rio::Registry<int> other;
        std::latch entered(1);
        std::latch release(1);
        std::latch inDestructor(1);
        std::latch finish(1);
        other.add([&] {
            entered.count_down();
            release.wait();
        });
        std::thread reader([&other] { other.notify(0); }); // an old read section
        entered.wait();
        auto registry = std::make_unique<rio::Registry<int>>();
        const rio::HandlerId id = registry->add([s = SlowToDie(&inDestructor, &finish)] {});
        QVERIFY(registry->remove(id)); // held back by the reader's section
        release.count_down();          // the reader's exit reclaims it: its destructor blocks
        inDestructor.wait();
        auto death = std::async(std::launch::async, [&registry] { registry.reset(); });
        // Correct code keeps ~Registry waiting for the destructor; a generous bound for the
        // wrong code to show itself by returning.
        const bool returnedEarly = death.wait_for(std::chrono::seconds(2)) == std::future_status::ready;
        finish.count_down();
        death.wait();
        reader.join();
        QVERIFY2(!returnedEarly, "~Registry returned while one of its closures was still being destroyed");
    }

    // Closures still waiting for reclamation (an old read section elsewhere holds them back)
    // and closures still registered all go when the registry is destroyed.
    void allDestroyedAtRegistryDestruction()
    {
        Counters c;
        Counters callbacks;
        rio::Registry<int> other;
        std::latch entered(1);
        std::latch release(1);
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
                QVERIFY(registry.remove(ids[std::size_t(i)]));
            registry.setExceptionHandler([t = Tracked(&callbacks)](const rio::ExceptionInfo &) {});
            registry.setExceptionHandler([t = Tracked(&callbacks)](const rio::ExceptionInfo &) {});
            QCOMPARE(c.live(), 10L); // 5 registered, 5 held back by the blocked reader
            QCOMPARE(callbacks.live(), 2L);
            QVERIFY(rio::detail::pendingCountAll() > 0);
        }
        QCOMPARE(c.live(), 0L);
        QCOMPARE(callbacks.live(), 0L);
        release.count_down();
        blocker.join();
        QCOMPARE(c.doubleDestroyed.load(), 0L);
        QCOMPARE(callbacks.doubleDestroyed.load(), 0L);
    }

    void exceptionCallbackClosureLifetime()
    {
        Counters c;
        rio::Registry<int> registry;
        registry.setExceptionHandler([t = Tracked(&c)](const rio::ExceptionInfo &) {});
        QCOMPARE(c.live(), 1L);
        registry.setExceptionHandler([t = Tracked(&c)](const rio::ExceptionInfo &) {});
        registry.synchronize();
        QCOMPARE(c.live(), 1L); // the replaced one went
        registry.clearExceptionHandler();
        registry.synchronize();
        QCOMPARE(c.live(), 0L);
        QCOMPARE(c.doubleDestroyed.load(), 0L);
    }

    // A closure whose destructor removes another handler of the same registry: reclamation runs
    // destructors outside every lock, so this neither deadlocks nor loses the second removal.
    void closureDestructorUsesTheRegistry()
    {
        rio::Registry<int> registry;
        Counters c;
        const rio::HandlerId second = registry.add(trackedHandler(&c));
        bool removed = false;
        const rio::HandlerId first =
            registry.add([d = OnDestroy([&] { removed = registry.remove(second); })] {});
        QVERIFY(registry.remove(first));
        registry.synchronize();
        QVERIFY(removed);
        QVERIFY(!registry.contains(second));
        QCOMPARE(c.live(), 0L);
    }

    // Closures whose destructors call back into their registry while it is being destroyed: it
    // has emptied itself first, so remove() is false, clear() is harmless, and no closure is
    // destroyed twice or read after being freed (ASan). Regression: ~Registry used to free the
    // snapshot it was iterating when such a destructor removed a handler.
    void closureDestructorCallsItsDyingRegistry()
    {
        Counters c;
        bool removed = true;
        {
            rio::Registry<int> registry;
            const rio::HandlerId victim = registry.add(trackedHandler(&c));
            registry.add([t = Tracked(&c), d = OnDestroy([&registry, &removed, victim] {
                                               removed = registry.remove(victim);
                                           })] {},
                         2);
            registry.add([t = Tracked(&c), d = OnDestroy([&registry] { registry.clear(); })] {}, 1);
            registry.add(trackedHandler(&c), -1);
            QCOMPARE(c.live(), 4L);
        }
        QVERIFY(!removed);
        QCOMPARE(c.live(), 0L);
        QCOMPARE(c.doubleDestroyed.load(), 0L);
    }

    // Churn with a notifier running: after every batch, synchronize() (the notifier still
    // running) leaves nothing pending, so retired work cannot pile up; once the notifier stops,
    // exactly the registered closures are alive.
    void noGrowthUnderChurn()
    {
        constexpr int batch = 500;
        const int batches = rio::test::scaled(40, 4);
        Counters c;
        rio::Registry<int> registry;
        std::atomic<bool> stop{false};
        std::thread notifier([&] {
            while (!stop.load(std::memory_order_relaxed))
                registry.notify(0);
        });
        std::size_t maxPending = 0;
        std::size_t maxPendingAfterSynchronize = 0;
        std::vector<rio::HandlerId> ids;
        for (int b = 0; b < batches; ++b) {
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
                        if (i % 8 == 5)
                            registry.removeAndWait(ids.back());
                        else
                            registry.remove(ids.back());
                        ids.pop_back();
                    }
                    break;
                case 6: {
                    rio::HandlerGuard guard = registry.addScoped(trackedHandler(&c));
                    break;
                }
                case 7:
                    if (i % 64 == 7) {
                        registry.clear();
                        ids.clear();
                    }
                    break;
                }
                maxPending = std::max(maxPending, rio::detail::pendingCountAll());
            }
            registry.synchronize();
            maxPendingAfterSynchronize =
                std::max(maxPendingAfterSynchronize, rio::detail::pendingCountAll());
        }
        stop.store(true);
        notifier.join();
        registry.synchronize();
        qDebug("%d operations with a notifier running: at most %zu retired objects pending", batch * batches,
               maxPending);
        QCOMPARE(maxPendingAfterSynchronize, std::size_t{0});
        QCOMPARE(rio::detail::pendingCountAll(), std::size_t{0});
        QCOMPARE(c.live(), long(registry.size())); // only the registered closures remain
        registry.clear();
        QCOMPARE(c.live(), 0L);
        QCOMPARE(c.constructed.load(), c.destroyed.load());
        QCOMPARE(c.doubleDestroyed.load(), 0L);
        QCOMPARE(c.destroyedWhileRunning.load(), 0L);
    }

    void onceChurnReclaims()
    {
        const int rounds = rio::test::scaled(5000, 5);
        Counters c;
        rio::Registry<int> registry;
        int calls = 0;
        for (int r = 0; r < rounds; ++r) {
            registry.addOnce(trackedHandler(&c, [&calls] { ++calls; }));
            registry.notify(r);
            QVERIFY(rio::detail::pendingCountAll() <= 64); // plain memory is batched
        }
        registry.synchronize();
        QCOMPARE(calls, rounds);
        QCOMPARE(rio::detail::pendingCountAll(), std::size_t{0});
        QCOMPARE(c.live(), 0L);
    }

    // Notifiers run the handlers on two threads while a writer removes them: no closure is
    // destroyed while a call through it is running.
    void concurrentRemovalNeverDestroysARunningClosure()
    {
        const int rounds = rio::test::scaled(3000, 5);
        Counters c;
        rio::Registry<int> registry;
        std::atomic<bool> stop{false};
        std::vector<std::thread> notifiers;
        for (int n = 0; n < 2; ++n) {
            notifiers.emplace_back([&] {
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
        QCOMPARE(c.live(), 0L);
        QCOMPARE(c.destroyedWhileRunning.load(), 0L);
        QCOMPARE(c.doubleDestroyed.load(), 0L);
    }
};

QTEST_APPLESS_MAIN(tst_Lifetime)
#include "tst_lifetime.moc"
