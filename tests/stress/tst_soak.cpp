// SPDX-License-Identifier: MIT
// Multi-threaded soak: notifier threads fire while writer threads add, remove, removeAndWait,
// clear, use guards and once-handlers; handlers throw at random and sometimes remove themselves;
// short-lived threads notify a few times and exit all along (thread churn). At the end: no call
// after removeAndWait returned (whether it returned true or false: a once-handler that fired,
// one cleared, one that removed itself on a notifier), no closure destroyed while running,
// every closure destroyed exactly once, every throw reported, pending objects bounded during
// the run, counts consistent, retired work drained.
//
// Size: RIO_SOAK_OPS (operations per writer thread) overrides the default, which is smaller
// under ThreadSanitizer.

#include <registryio/registry.h>

#include <QTest>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#if defined(__SANITIZE_THREAD__)
#define RIO_SOAK_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RIO_SOAK_TSAN 1
#endif
#endif

namespace {

constexpr int notifierThreads = 2;
constexpr int writerThreads = 2;
#ifdef RIO_SOAK_TSAN
constexpr long defaultOpsPerWriter = 25000;
#else
constexpr long defaultOpsPerWriter = 20000;
#endif

long opsPerWriter()
{
    const QByteArray env = qgetenv("RIO_SOAK_OPS");
    bool ok = false;
    const long n = env.toLong(&ok);
    return ok && n > 0 ? n : defaultOpsPerWriter;
}

struct Counters
{
    std::atomic<std::uint64_t> constructed{0};
    std::atomic<std::uint64_t> destroyed{0};
    std::atomic<std::uint64_t> destroyedWhileRunning{0};
    std::atomic<std::uint64_t> doubleDestroyed{0};
    std::atomic<std::uint64_t> lateCalls{0}; // calls seen after removeAndWait returned
    std::atomic<std::uint64_t> onceOverruns{0};
    std::atomic<std::uint64_t> calls{0};
    std::atomic<std::uint64_t> throws{0};
    std::atomic<std::uint64_t> reported{0};
    std::atomic<std::uint64_t> notifies{0};
    std::atomic<std::uint64_t> writerOps{0};
    std::atomic<std::uint64_t> waitedTrue{0};  // removeAndWait returned true
    std::atomic<std::uint64_t> waitedFalse{0}; // ... false: removed by something else first
    std::atomic<std::uint64_t> runningAtWaitReturn{0};
    std::atomic<std::uint64_t> maxPending{0};
    std::atomic<std::uint64_t> churnThreads{0};
    std::atomic<std::uint64_t> churnThreadsBesideWriters{0};
};

// Pending objects allowed at any moment during the run: a pass runs at 64, and the notifiers
// (each one read section at a time, plus the churn threads) keep back only what they hold. A
// reclamation that stopped freeing would pass it early (the run retires tens of thousands).
constexpr std::uint64_t pendingBound = 1024;

// One registered handler as the test tracks it (owned by the writer that added it).
struct HandlerState
{
    std::atomic<std::uint64_t> id{0}; // written after add() returns: its handler may run before
    std::uint64_t seed = 0;           // fixed before add()
    bool once = false;
    std::atomic<bool> waitedOut{false}; // set right after removeAndWait(id) returned, true or false
    std::atomic<int> running{0};
    std::atomic<int> calls{0};
    std::atomic<int> destroyed{0};
};

struct Soak
{
    Counters counters;
    std::unique_ptr<rio::Registry<std::uint64_t>> registry = std::make_unique<rio::Registry<std::uint64_t>>();
};

std::uint64_t mix(std::uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

// The registered callable. Only the owning copy counts: moved-from temporaries do not.
class Closure
{
public:
    Closure(Soak *soak, HandlerState *state) : m_soak(soak), m_state(state)
    {
        m_soak->counters.constructed.fetch_add(1);
    }
    Closure(Closure &&other) noexcept
        : m_soak(other.m_soak), m_state(other.m_state), m_owner(std::exchange(other.m_owner, false))
    { }
    Closure(const Closure &) = delete;
    Closure &operator=(const Closure &) = delete;
    Closure &operator=(Closure &&) = delete;
    ~Closure()
    {
        if (!m_owner)
            return;
        if (m_state->running.load() != 0)
            m_soak->counters.destroyedWhileRunning.fetch_add(1);
        if (m_state->destroyed.fetch_add(1) != 0)
            m_soak->counters.doubleDestroyed.fetch_add(1);
        m_soak->counters.destroyed.fetch_add(1);
    }

    void operator()(const std::uint64_t &event) const
    {
        HandlerState &s = *m_state;
        Counters &c = m_soak->counters;
        if (s.waitedOut.load())
            c.lateCalls.fetch_add(1);
        s.running.fetch_add(1);
        c.calls.fetch_add(1);
        if (s.calls.fetch_add(1) != 0 && s.once)
            c.onceOverruns.fetch_add(1);
        const std::uint64_t dice = mix(event * 31 + s.seed);
        if (dice % 8191 == 0)
            m_soak->registry->remove(rio::HandlerId{s.id.load()}); // from inside the notify
        const bool doThrow = dice % 13 == 0;
        // Still running after removeAndWait returned counts as a late call too.
        if (s.waitedOut.load())
            c.lateCalls.fetch_add(1);
        s.running.fetch_sub(1);
        if (doThrow) {
            c.throws.fetch_add(1);
            throw std::runtime_error("soak handler failure");
        }
    }

private:
    Soak *m_soak;
    HandlerState *m_state;
    bool m_owner = true;
};

// One writer's view: its handlers (stable addresses), the ones it believes registered, its guards.
struct Writer
{
    std::deque<HandlerState> states;
    std::vector<HandlerState *> live;
    std::vector<std::pair<rio::HandlerGuard, HandlerState *>> guards;
};

void runWriter(Soak &soak, Writer &w, unsigned seed, long ops)
{
    std::minstd_rand rng(seed);
    rio::Registry<std::uint64_t> &registry = *soak.registry;
    auto pick = [&rng](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
    auto takeLive = [&]() {
        const std::size_t i = pick(w.live.size());
        HandlerState *s = w.live[i];
        w.live[i] = w.live.back();
        w.live.pop_back();
        return s;
    };
    for (long op = 0; op < ops; ++op) {
        const unsigned r = static_cast<unsigned>(rng() % 1000);
        const int priority = static_cast<int>(rng() % 5) - 2;
        if (r < 350 && w.live.size() < 48) {
            HandlerState &s = w.states.emplace_back();
            s.once = r < 80;
            s.seed = rng();
            const rio::HandlerId id = s.once ? registry.addOnce(Closure(&soak, &s), priority)
                                             : registry.add(Closure(&soak, &s), priority);
            s.id.store(id.value());
            w.live.push_back(&s);
        } else if (r < 450 && !w.live.empty()) {
            registry.remove(rio::HandlerId{takeLive()->id.load()});
        } else if (r < 550 && !w.live.empty()) {
            // Whatever it returns (false: a once-handler that fired, a clear(), the handler's
            // own remove() on a notifier), the handler is not running when it returns and no
            // notify calls it afterwards.
            HandlerState *s = takeLive();
            const bool removed = registry.removeAndWait(rio::HandlerId{s->id.load()});
            soak.counters.runningAtWaitReturn.fetch_add(static_cast<std::uint64_t>(s->running.load()));
            s->waitedOut.store(true);
            (removed ? soak.counters.waitedTrue : soak.counters.waitedFalse).fetch_add(1);
        } else if (r < 650 && w.guards.size() < 16) {
            HandlerState &s = w.states.emplace_back();
            s.seed = rng();
            rio::HandlerGuard guard = registry.addScoped(Closure(&soak, &s), priority);
            s.id.store(guard.id().value());
            w.guards.emplace_back(std::move(guard), &s);
        } else if (r < 720 && !w.guards.empty()) {
            const std::size_t i = pick(w.guards.size());
            std::swap(w.guards[i], w.guards.back());
            w.guards.pop_back(); // the guard's destruction removes the handler
        } else if (r < 750 && !w.guards.empty()) {
            const std::size_t i = pick(w.guards.size());
            w.guards[i].first.release();
            w.live.push_back(w.guards[i].second);
            std::swap(w.guards[i], w.guards.back());
            w.guards.pop_back();
        } else if (r < 752) {
            registry.clear();
        } else if (r < 800) {
            registry.synchronize();
        } else if (r < 850 && !w.live.empty()) {
            (void)registry.contains(rio::HandlerId{w.live[pick(w.live.size())]->id.load()});
        } else {
            registry.notify(rng());
            soak.counters.notifies.fetch_add(1);
        }
        soak.counters.writerOps.fetch_add(1, std::memory_order_relaxed);
        const std::uint64_t pending = registry.pendingCount();
        std::uint64_t seen = soak.counters.maxPending.load(std::memory_order_relaxed);
        while (pending > seen && !soak.counters.maxPending.compare_exchange_weak(seen, pending)) {
        }
    }
}

} // namespace

class tst_Soak : public QObject
{
    Q_OBJECT
private slots:
    void notifiersAndWritersKeepEveryInvariant()
    {
        Soak soak;
        Counters &c = soak.counters;
        soak.registry->setExceptionHandler([&c](const rio::ExceptionInfo &info) {
            if (info.handlerId.isValid() && info.message == "soak handler failure")
                c.reported.fetch_add(1);
        });
        const long ops = opsPerWriter();
        const std::uint64_t churnLimit = static_cast<std::uint64_t>(ops / 20); // threads, in all
        std::vector<Writer> writers(writerThreads);
        std::atomic<bool> stop{false};
        std::atomic<int> writersLeft{writerThreads};
        {
            // std::thread, not std::jthread: libc++ before 18 (Apple's) has no jthread.
            std::vector<std::thread> threads;
            for (int i = 0; i < notifierThreads; ++i) {
                threads.emplace_back([&soak, &stop, i] {
                    for (std::uint64_t n = static_cast<std::uint64_t>(i) << 40; !stop.load(); ++n) {
                        soak.registry->notify(n);
                        soak.counters.notifies.fetch_add(1, std::memory_order_relaxed);
                    }
                });
            }
            // Thread churn: short-lived threads that notify a few times and exit, one after
            // another, while the writers run (bounded in number).
            threads.emplace_back([&soak, &stop, &writersLeft, churnLimit] {
                for (std::uint64_t t = 0; t < churnLimit && !stop.load(); ++t) {
                    std::thread([&soak, t] {
                        for (std::uint64_t n = 0; n <= t % 8; ++n) {
                            soak.registry->notify((t << 44) | n);
                            soak.counters.notifies.fetch_add(1, std::memory_order_relaxed);
                        }
                    }).join();
                    soak.counters.churnThreads.fetch_add(1);
                    if (writersLeft.load() > 0)
                        soak.counters.churnThreadsBesideWriters.fetch_add(1);
                }
            });
            for (int i = 0; i < writerThreads; ++i) {
                threads.emplace_back([&, i] {
                    runWriter(soak, writers[static_cast<std::size_t>(i)], 1234u + static_cast<unsigned>(i),
                              ops);
                    if (writersLeft.fetch_sub(1) == 1)
                        stop.store(true);
                });
            }
            for (std::thread &t : threads)
                t.join();
        }
        qInfo("soak: %llu writer operations, %llu notifies, %llu handler calls, %llu throws, "
              "removeAndWait %llu true / %llu false, %llu short-lived threads (%llu beside writers), "
              "at most %llu objects pending",
              static_cast<unsigned long long>(c.writerOps.load()),
              static_cast<unsigned long long>(c.notifies.load()),
              static_cast<unsigned long long>(c.calls.load()),
              static_cast<unsigned long long>(c.throws.load()),
              static_cast<unsigned long long>(c.waitedTrue.load()),
              static_cast<unsigned long long>(c.waitedFalse.load()),
              static_cast<unsigned long long>(c.churnThreads.load()),
              static_cast<unsigned long long>(c.churnThreadsBesideWriters.load()),
              static_cast<unsigned long long>(c.maxPending.load()));

        QCOMPARE(c.writerOps.load(), static_cast<std::uint64_t>(ops) * writerThreads);
        QCOMPARE(c.lateCalls.load(), std::uint64_t{0});
        QCOMPARE(c.runningAtWaitReturn.load(), std::uint64_t{0});
        QVERIFY(c.waitedTrue.load() > 0); // both results of removeAndWait were exercised
        QVERIFY(c.waitedFalse.load() > 0);
        QVERIFY(c.churnThreadsBesideWriters.load() > 0);
        QVERIFY2(c.maxPending.load() <= pendingBound, "pending objects grew during the run");
        QCOMPARE(c.destroyedWhileRunning.load(), std::uint64_t{0});
        QCOMPARE(c.doubleDestroyed.load(), std::uint64_t{0});
        QCOMPARE(c.onceOverruns.load(), std::uint64_t{0});
        QCOMPARE(c.reported.load(), c.throws.load());
        QVERIFY(c.notifies.load() > 0);
        QVERIFY(c.calls.load() > 0);

        // Quiescent: once nothing runs, a removed handler's closure is gone and nothing is queued.
        soak.registry->synchronize();
        QCOMPARE(rio::detail::pendingCountAll(), std::size_t{0});
        std::size_t registered = 0;
        std::size_t states = 0;
        for (Writer &w : writers) {
            for (HandlerState &s : w.states) {
                ++states;
                const bool contained = soak.registry->contains(rio::HandlerId{s.id.load()});
                registered += contained ? 1 : 0;
                QCOMPARE(s.destroyed.load(), contained ? 0 : 1);
                QCOMPARE(s.running.load(), 0);
                if (s.once)
                    QVERIFY(s.calls.load() <= 1);
            }
        }
        QCOMPARE(soak.registry->size(), registered);
        QCOMPARE(c.constructed.load(), static_cast<std::uint64_t>(states));
        QCOMPARE(c.destroyed.load(), static_cast<std::uint64_t>(states - registered));

        // The registry dies before some guards: they become inert, and every closure is gone.
        soak.registry.reset();
        QCOMPARE(rio::detail::pendingCountAll(), std::size_t{0});
        for (Writer &w : writers) {
            for (auto &[guard, state] : w.guards)
                QVERIFY(!guard.reset());
            for (HandlerState &s : w.states)
                QCOMPARE(s.destroyed.load(), 1);
        }
        QCOMPARE(c.destroyed.load(), c.constructed.load());
    }
};

QTEST_APPLESS_MAIN(tst_Soak)
#include "tst_soak.moc"
