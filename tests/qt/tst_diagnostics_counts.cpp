// SPDX-License-Identifier: MIT
// Adversarial tests of the diagnostics' promises (docs/DIAGNOSTICS.md), from the public API only:
// counts that must add up (calls, runs, drops, coalesced, queueing delays) under deep backlogs,
// Latest coalescing and Block; a handler with a context timed once per run whatever its
// connection, failures counted once; a handler removed while it runs; slow reports naming the
// thread that ran; JSON without missing fields or non-finite numbers; writeJson to places it
// cannot write; RIO_DIAGNOSTICS_JSON while registries are destroyed during exit and at a link;
// diagnostics switched on and off while a worker floods; threads that come and go.
#include "qt_test_support.h"

#include <registryio/qt/diagnostics.h>
#include <registryio/qt/qt_registry.h>

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFuture>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <fcntl.h>
#include <latch>
#include <memory>
#include <mutex>
#include <spawn.h>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char **environ;

namespace {

using namespace std::chrono_literals;

rio::HandlerInfo handlerOf(const rio::QtRegistryBase &registry, rio::HandlerId id)
{
    for (const rio::HandlerInfo &h : rio::Diagnostics::snapshot(registry.registryId()).handlers)
        if (h.id == id)
            return h;
    return {};
}

QString describe(const rio::HandlerInfo &h)
{
    return QStringLiteral("calls %1 failures %2 runs %3 delays %4 drops %5 (overflow %6 removed %7) "
                          "coalesced %8 waiting %9 maxWaiting %10")
        .arg(h.calls)
        .arg(h.failures)
        .arg(h.runTime.count)
        .arg(h.queueDelay.count)
        .arg(h.totalDrops())
        .arg(h.drops[std::size_t(rio::DropReason::Overflow)])
        .arg(h.drops[std::size_t(rio::DropReason::Removed)])
        .arg(h.coalesced)
        .arg(h.waiting)
        .arg(h.maxWaiting);
}

// Every number anywhere in `value` is finite, and no value is null (a NaN or infinity that
// QJsonValue turned into null).
void collectBadNumbers(const QJsonValue &value, const QString &path, QStringList &bad)
{
    if (value.isDouble()) {
        if (!std::isfinite(value.toDouble()))
            bad << path;
    } else if (value.isNull() || value.isUndefined()) {
        bad << path + QStringLiteral(" (null)");
    } else if (value.isArray()) {
        const QJsonArray a = value.toArray();
        for (qsizetype i = 0; i < a.size(); ++i)
            collectBadNumbers(a[i], path + QStringLiteral("[%1]").arg(i), bad);
    } else if (value.isObject()) {
        const QJsonObject o = value.toObject();
        for (auto it = o.begin(); it != o.end(); ++it)
            collectBadNumbers(it.value(), path + u'.' + it.key(), bad);
    }
}

// Runs this test binary again for `function` with `extraEnv`, waits (bounded) and returns its
// exit status (-1 when it did not exit normally). posix_spawn: ThreadSanitizer handles it.
int runChild(const char *function, const std::vector<std::string> &extraEnv)
{
    std::vector<std::string> environment;
    for (char **e = environ; *e != nullptr; ++e)
        environment.emplace_back(*e);
    for (const std::string &e : extraEnv)
        environment.push_back(e);
    environment.emplace_back("RIO_TEST_ATTACK_CHILD=1");
    std::vector<char *> envp;
    for (std::string &e : environment)
        envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string program = QCoreApplication::applicationFilePath().toStdString();
    std::string fn = function;
    char *argv[] = {program.data(), fn.data(), nullptr};
    posix_spawn_file_actions_t quiet;
    posix_spawn_file_actions_init(&quiet);
    posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    const int spawned = ::posix_spawn(&pid, program.c_str(), &quiet, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&quiet);
    if (spawned != 0)
        return -2;
    int status = 0;
    QElapsedTimer deadline;
    deadline.start();
    while (::waitpid(pid, &status, WNOHANG) != pid) {
        if (deadline.elapsed() > 120'000) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            return -3;
        }
        QTest::qWait(20); // polls the child under a deadline (not a synchronisation sleep)
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Stops a thread that destroys registries during the application's destruction (the child of
// jsonAtExitWhileRegistriesAreDestroyed), after main returned.
struct Churn
{
    std::atomic<bool> stop{false};
    std::thread thread;
    ~Churn()
    {
        stop.store(true);
        if (thread.joinable())
            thread.join();
    }
};
Churn churnAtExit;

} // namespace

class tst_DiagnosticsCounts : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        if (!qEnvironmentVariableIsEmpty("RIO_TEST_ATTACK_CHILD"))
            return;
        QVERIFY(!rio::Diagnostics::isEnabled());
    }

    // Docs: "queueing delay, queued to run, of every queued delivery ... every delivery's delay,
    // however long the backlog". 5,000 deliveries wait behind a held run: every run is counted
    // once, timed once, and has exactly one queueing delay.
    void deepBacklogEveryRunCountedTimedAndDelayedOnce()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        registry.setDiagnosticsEnabled(true);
        std::latch gate(1);
        std::atomic<bool> started{false};
        std::atomic<int> got{0};
        const rio::HandlerId id = registry.add(worker.context, [&](int v) {
            if (v == 0) {
                started.store(true);
                gate.wait();
            }
            got.fetch_add(1);
        });
        registry.notify(0);
        QTRY_VERIFY(started.load());
        constexpr int backlog = 5000;
        for (int i = 1; i <= backlog; ++i)
            registry.notify(i);
        QCOMPARE(handlerOf(registry, id).waiting, quint64{backlog});
        gate.count_down();
        QTRY_COMPARE(got.load(), backlog + 1);
        QTRY_COMPARE(handlerOf(registry, id).calls, quint64{backlog + 1});
        const rio::HandlerInfo h = handlerOf(registry, id);
        QVERIFY2(h.runTime.count == h.calls, qPrintable(describe(h)));
        QVERIFY2(h.queueDelay.count == h.calls, qPrintable(describe(h)));
        QCOMPARE(h.totalDrops(), quint64{0});
        QCOMPARE(h.waiting, quint64{0});
        quint64 inBuckets = 0;
        for (quint64 b : h.queueDelay.buckets)
            inBuckets += b;
        QCOMPARE(inBuckets, h.queueDelay.count);
        registry.setDiagnosticsEnabled(false);
    }

    // Docs: drops by reason are counted, calls count runs: with DropOldest at capacity 100 and a
    // 5,000-deep flood, every notify is either run or dropped for overflow, exactly once.
    void dropOldestFloodRunsPlusDropsEqualNotifies()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        registry.setDiagnosticsEnabled(true);
        std::latch gate(1);
        std::atomic<bool> started{false};
        std::atomic<int> got{0};
        std::atomic<int> last{-1};
        const rio::HandlerId id = registry.add(worker.context,
                                               [&](int v) {
                                                   if (v == 0) {
                                                       started.store(true);
                                                       gate.wait();
                                                   }
                                                   last.store(v);
                                                   got.fetch_add(1);
                                               },
                                               {.capacity = 100, .overflow = rio::Overflow::DropOldest});
        registry.notify(0);
        QTRY_VERIFY(started.load());
        constexpr int flood = 5000;
        for (int i = 1; i <= flood; ++i)
            registry.notify(i);
        gate.count_down();
        QTRY_COMPARE(last.load(), flood);
        QTRY_COMPARE(handlerOf(registry, id).calls, quint64(got.load()));
        const rio::HandlerInfo h = handlerOf(registry, id);
        QVERIFY2(h.calls + h.drops[std::size_t(rio::DropReason::Overflow)] == quint64{flood + 1},
                 qPrintable(describe(h)));
        QCOMPARE(h.totalDrops(), registry.droppedCount(id));
        QCOMPARE(h.calls, quint64{101});
        QVERIFY2(h.runTime.count == h.calls, qPrintable(describe(h)));
        QVERIFY2(h.queueDelay.count == h.calls, qPrintable(describe(h)));
        QCOMPARE(h.maxWaiting, quint64{100});
        registry.setDiagnosticsEnabled(false);
    }

    // Overflow::Block: the notifier waits for room, nothing is dropped; 5,000 deliveries through a
    // queue of 4, each run, timed and delayed once, and the queue never held more than 4.
    void blockOverflowNothingDroppedEveryDeliveryDelayedOnce()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        registry.setDiagnosticsEnabled(true);
        std::atomic<int> got{0};
        const rio::HandlerId id =
            registry.add(worker.context, [&](int) { got.fetch_add(1); },
                         {.capacity = 4, .overflow = rio::Overflow::Block, .blockTimeout = 60'000ms});
        constexpr int n = 5000;
        for (int i = 0; i < n; ++i)
            registry.notify(i);
        QTRY_COMPARE(got.load(), n);
        QTRY_COMPARE(handlerOf(registry, id).calls, quint64{n});
        const rio::HandlerInfo h = handlerOf(registry, id);
        QVERIFY2(h.totalDrops() == 0, qPrintable(describe(h)));
        QVERIFY2(h.maxWaiting <= 4, qPrintable(describe(h)));
        QVERIFY2(h.runTime.count == quint64{n}, qPrintable(describe(h)));
        QVERIFY2(h.queueDelay.count == quint64{n}, qPrintable(describe(h)));
        registry.setDiagnosticsEnabled(false);
    }

    // Block with a held receiver and a short timeout: the notifier gives up, the delivery is
    // dropped for overflow; runs + drops still equal notifies.
    void blockTimeoutDropsAddUp()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        registry.setDiagnosticsEnabled(true);
        std::latch gate(1);
        std::atomic<bool> started{false};
        std::atomic<int> got{0};
        const rio::HandlerId id =
            registry.add(worker.context,
                         [&](int v) {
                             if (v == 0) {
                                 started.store(true);
                                 gate.wait();
                             }
                             got.fetch_add(1);
                         },
                         {.capacity = 2, .overflow = rio::Overflow::Block, .blockTimeout = 20ms});
        registry.notify(0);
        QTRY_VERIFY(started.load());
        for (int i = 1; i <= 5; ++i)
            registry.notify(i); // 2 fit, 3 time out
        gate.count_down();
        QTRY_COMPARE(got.load(), 3);
        QTRY_COMPARE(handlerOf(registry, id).calls, quint64{3});
        const rio::HandlerInfo h = handlerOf(registry, id);
        QVERIFY2(h.calls + h.totalDrops() == 6, qPrintable(describe(h)));
        QCOMPARE(h.totalDrops(), registry.droppedCount(id));
        QVERIFY2(h.queueDelay.count == h.calls, qPrintable(describe(h)));
        registry.setDiagnosticsEnabled(false);
    }

    // Latest: each notify either starts a delivery or replaces the pending payload (coalesced):
    // runs + coalesced == notifies, every run delayed once, never more than one waiting.
    void latestCoalescingRunsPlusCoalescedEqualNotifies()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        registry.setDiagnosticsEnabled(true);
        std::latch gate(1);
        std::atomic<bool> started{false};
        std::atomic<int> last{-1};
        const rio::HandlerId id = registry.add(worker.context,
                                               [&](int v) {
                                                   if (v == 0) {
                                                       started.store(true);
                                                       gate.wait();
                                                   }
                                                   last.store(v);
                                               },
                                               {.delivery = rio::Delivery::Latest});
        registry.notify(0);
        QTRY_VERIFY(started.load());
        constexpr int n = 5000;
        for (int i = 1; i <= n; ++i)
            registry.notify(i);
        QElapsedTimer held; // the pending payload waits at least this long
        held.start();
        QTRY_VERIFY(held.elapsed() >= 20);
        gate.count_down();
        QTRY_COMPARE(last.load(), n);
        QTRY_COMPARE(handlerOf(registry, id).calls, quint64{2});
        const rio::HandlerInfo h = handlerOf(registry, id);
        QVERIFY2(h.calls + h.coalesced == quint64{n + 1}, qPrintable(describe(h)));
        QCOMPARE(h.totalDrops(), quint64{0});
        QVERIFY2(h.runTime.count == h.calls, qPrintable(describe(h)));
        QVERIFY2(h.queueDelay.count == h.calls, qPrintable(describe(h)));
        // The delivered payload (the newest) was queued before `held` started.
        QVERIFY2(h.queueDelay.maxNs >= 20'000'000, qPrintable(QString::number(h.queueDelay.maxNs)));
        registry.setDiagnosticsEnabled(false);
    }

    // Docs: `waiting`, `maxWaiting`: "the queue now, its most" ("The most queued deliveries that
    // ever waited at once"). With one run held and 3 queued behind it, 3 wait: the most that ever
    // waited is 3, never more than `waiting` ever was.
    void maxWaitingIsTheMostThatEverWaited()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        std::latch gate(1);
        std::atomic<bool> started{false};
        std::atomic<int> got{0};
        const rio::HandlerId id = registry.add(worker.context, [&](int v) {
            if (v == 0) {
                started.store(true);
                gate.wait();
            }
            got.fetch_add(1);
        });
        registry.notify(0);
        QTRY_VERIFY(started.load());
        const rio::HandlerInfo running = handlerOf(registry, id);
        for (int i = 1; i <= 3; ++i)
            registry.notify(i);
        const rio::HandlerInfo held = handlerOf(registry, id);
        gate.count_down();
        QTRY_COMPARE(got.load(), 4);
        QVERIFY2(running.waiting == 0 && running.maxWaiting == 1, qPrintable(describe(running)));
        QVERIFY2(held.waiting == 3, qPrintable(describe(held)));
        QVERIFY2(held.maxWaiting == 3, qPrintable(describe(held)));
    }

    // Docs (worked example): "coalesce it ({.delivery = rio::Delivery::Latest}: coalesced climbs,
    // maxWaiting stays 1 ...)"; `waiting` is "the queue now". While a Latest handler's run is held
    // and a newer payload is pending, one delivery waits and the most that waited is 1.
    void latestMaxWaitingStaysOne()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        std::latch gate(1);
        std::atomic<bool> started{false};
        std::atomic<int> last{-1};
        const rio::HandlerId id = registry.add(worker.context,
                                               [&](int v) {
                                                   if (v == 0) {
                                                       started.store(true);
                                                       gate.wait();
                                                   }
                                                   last.store(v);
                                               },
                                               {.delivery = rio::Delivery::Latest});
        registry.notify(0);
        QTRY_VERIFY(started.load());
        for (int i = 1; i <= 100; ++i)
            registry.notify(i);
        const rio::HandlerInfo pending = handlerOf(registry, id);
        gate.count_down();
        QTRY_COMPARE(last.load(), 100);
        const rio::HandlerInfo after = handlerOf(registry, id);
        QVERIFY2(pending.waiting == 1, qPrintable(describe(pending)));
        QVERIFY2(after.maxWaiting == 1, qPrintable(describe(after)));
    }

    // An Auto handler whose context lives on a named worker, notified on that worker: it runs on
    // the notifying thread, is timed once there, and its slow report names the worker.
    void autoOnANamedWorkerIsNamedInItsSlowRun()
    {
        const auto workerSlow = rio::Diagnostics::workerSlowThreshold();
        rio::Diagnostics::setWorkerSlowThreshold(1ms);
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        registry.setDiagnosticsEnabled(true);
        const rio::HandlerId id = registry.add(worker.context, [](int) {
            QElapsedTimer t; // longer than the threshold (the workload)
            t.start();
            while (t.nsecsElapsed() < 2'000'000) {
            }
        });
        quint64 n = 0;
        worker.run([&] {
            n = rio::Diagnostics::currentThread();
            registry.notify(1);
        });
        rio::Diagnostics::setWorkerSlowThreshold(workerSlow);
        const rio::HandlerInfo h = handlerOf(registry, id);
        QVERIFY2(h.calls == 1 && h.runTime.count == 1 && h.slowRuns == 1, qPrintable(describe(h)));
        int kept = 0;
        for (const rio::SlowHandlerReport &r : rio::Diagnostics::recentSlowRuns()) {
            if (r.handler.registryId != registry.registryId())
                continue;
            ++kept;
            QCOMPARE(r.thread, n);
            QCOMPARE(r.threadName, QStringLiteral("rio-test-worker"));
        }
        QCOMPARE(kept, 1);
        registry.setDiagnosticsEnabled(false);
    }

    // Docs: queueing delay is measured "while on ... Off, nothing is read and the field stays 0".
    // Deliveries queued while off and run after the switch went on (Every and Latest) carry no
    // time: none may be recorded with a delay longer than the test itself has run.
    void deliveriesQueuedWhileOffGetNoBogusDelay()
    {
        QElapsedTimer since;
        since.start();
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        std::latch gate(1);
        std::atomic<bool> started{false};
        std::atomic<int> got{0};
        const auto body = [&](int v) {
            if (v == 0) {
                started.store(true);
                gate.wait();
            }
            got.fetch_add(1);
        };
        const rio::HandlerId every = registry.add(worker.context, body);
        const rio::HandlerId latest =
            registry.add(worker.context, [](int) { }, {.delivery = rio::Delivery::Latest});
        registry.notify(0);
        QTRY_VERIFY(started.load());
        for (int i = 1; i <= 50; ++i)
            registry.notify(i); // queued while off
        registry.setDiagnosticsEnabled(true);
        gate.count_down();
        QTRY_COMPARE(got.load(), 51);
        worker.flush();
        const quint64 bound = quint64(since.nsecsElapsed());
        for (const rio::HandlerId id : {every, latest}) {
            const rio::HandlerInfo h = handlerOf(registry, id);
            QVERIFY2(h.queueDelay.maxNs <= bound, qPrintable(QStringLiteral("max %1 ns > %2 ns; %3")
                                                                 .arg(h.queueDelay.maxNs)
                                                                 .arg(bound)
                                                                 .arg(describe(h))));
            QVERIFY2(h.runTime.count <= h.calls, qPrintable(describe(h)));
        }
        registry.setDiagnosticsEnabled(false);
    }

    // Docs (watchdog): a report carries "the thread that ran it: its number and name
    // (`QThread::objectName`, `main`, or `#N`), whether or not that thread added anything (a
    // thread is named when it first adds a handler or runs a timed one)". A QThread named
    // "named-runner" runs a timed direct handler slowly: the slow report (signal and
    // recentSlowRuns) must say "named-runner", not "#N".
    void recentSlowRunsKeepTheThreadNameAfterItExits()
    {
        rio::Diagnostics *diagnostics = rio::Diagnostics::instance();
        const auto workerSlow = rio::Diagnostics::workerSlowThreshold();
        rio::Diagnostics::setWorkerSlowThreshold(1ms);
        rio::QtRegistry<int> registry;
        registry.setDiagnosticsEnabled(true);
        std::mutex mutex;
        std::vector<rio::SlowHandlerReport> slow;
        const auto c = connect(
            diagnostics, &rio::Diagnostics::slowHandler, diagnostics,
            [&](const rio::SlowHandlerReport &r) {
                std::lock_guard lock(mutex);
                slow.push_back(r);
            },
            Qt::DirectConnection);
        registry.add([](int) {
            QElapsedTimer t; // longer than the threshold (the workload)
            t.start();
            while (t.nsecsElapsed() < 2'000'000) {
            }
        });
        quint64 n = 0;
        QString nameWhileRunning;
        QString recentWhileRunning;
        // A std::thread (joined: visible to ThreadSanitizer) named through its adopted QThread.
        std::thread t([&] {
            QThread::currentThread()->setObjectName(QStringLiteral("named-runner"));
            n = rio::Diagnostics::currentThread();
            registry.notify(1);
            nameWhileRunning = rio::Diagnostics::threadName(n);
            for (const rio::SlowHandlerReport &r : rio::Diagnostics::recentSlowRuns())
                if (r.handler.registryId == registry.registryId())
                    recentWhileRunning = r.threadName;
        });
        t.join();
        disconnect(c);
        rio::Diagnostics::setWorkerSlowThreshold(workerSlow);
        registry.setDiagnosticsEnabled(false);
        QCOMPARE(nameWhileRunning, QStringLiteral("named-runner"));
        {
            std::lock_guard lock(mutex);
            QCOMPARE(slow.size(), std::size_t{1});
            QCOMPARE(slow[0].thread, n);
            QCOMPARE(slow[0].threadName, QStringLiteral("named-runner"));
        }
        QCOMPARE(recentWhileRunning, QStringLiteral("named-runner"));
        // Docs: recentSlowRuns() keeps "the last 64 slow runs of the process, every one with its
        // handler, time, thread and endedAtNs, so that stutters can be matched to times": the
        // run's thread name is the one it ran under, also once that thread has exited.
        int kept = 0;
        for (const rio::SlowHandlerReport &r : rio::Diagnostics::recentSlowRuns()) {
            if (r.handler.registryId != registry.registryId())
                continue;
            ++kept;
            QCOMPARE(r.thread, n);
            QCOMPARE(r.threadName, QStringLiteral("named-runner"));
        }
        QCOMPARE(kept, 1);
    }

    // Docs: drops by reason; "A handler's own drops and its registry's removedHandlerDrops never
    // count the same drop; their sum is every drop the registry's handlers ever had". Deliveries
    // coming up while the handler is suspended, waiting when its context is destroyed and when the
    // registry is cleared: each dropped once, under its reason, and runs + drops add up.
    void dropsByReasonAddUpForSuspendContextDestroyedAndClear()
    {
        rio::QtRegistry<int> registry;
        registry.setDiagnosticsEnabled(true);
        int runsA = 0;
        auto contextA = std::make_unique<QObject>();
        auto contextB = std::make_unique<QObject>();
        const rio::HandlerId a =
            registry.add(contextA.get(), [&](int) { ++runsA; }, {.connection = Qt::QueuedConnection});
        const rio::HandlerId b =
            registry.add(contextB.get(), [](int) { }, {.connection = Qt::QueuedConnection});
        for (int i = 0; i < 10; ++i)
            registry.notify(i); // 10 wait for each (this thread's loop has not run)
        QVERIFY(registry.setSuspended(a, true));
        contextB.reset(); // b's 10 dropped: context destroyed
        // a's 10 are dropped as they come up while it is suspended (API.md: "its queued
        // deliveries that have not started when they come up are dropped, not held").
        QTRY_COMPARE(handlerOf(registry, a).drops[std::size_t(rio::DropReason::Suspended)], quint64{10});
        QVERIFY(registry.setSuspended(a, false));
        for (int i = 0; i < 3; ++i)
            registry.notify(i);
        QTRY_COMPARE(runsA, 3);
        QTRY_COMPARE(handlerOf(registry, a).calls, quint64{3});
        rio::RegistryInfo info = rio::Diagnostics::snapshot(registry.registryId());
        QCOMPARE(info.handlers.size(), 1);
        const rio::HandlerInfo h = info.handlers[0];
        QVERIFY2(h.drops[std::size_t(rio::DropReason::Suspended)] == 10 && h.totalDrops() == 10,
                 qPrintable(describe(h)));
        QVERIFY2(h.calls + h.totalDrops() == 13, qPrintable(describe(h)));
        QVERIFY2(h.runTime.count == h.calls && h.queueDelay.count == h.calls, qPrintable(describe(h)));
        QCOMPARE(info.removedHandlerDrops[std::size_t(rio::DropReason::ContextDestroyed)], quint64{10});
        for (int i = 0; i < 4; ++i)
            registry.notify(i);
        registry.clear(); // a's 4 waiting dropped: removed; its 10 earlier drops move with it
        info = rio::Diagnostics::snapshot(registry.registryId());
        QCOMPARE(info.handlers.size(), 0);
        QCOMPARE(info.removedHandlerDrops[std::size_t(rio::DropReason::Removed)], quint64{4});
        QCOMPARE(info.removedHandlerDrops[std::size_t(rio::DropReason::Suspended)], quint64{10});
        QCOMPARE(info.removedHandlerDrops[std::size_t(rio::DropReason::ContextDestroyed)], quint64{10});
        QCoreApplication::processEvents(); // the dropped deliveries' posted events run nothing
        QCOMPARE(runsA, 3);
        info = rio::Diagnostics::snapshot(registry.registryId());
        quint64 total = 0;
        for (quint64 d : info.removedHandlerDrops)
            total += d;
        QCOMPARE(total, quint64{24});
        Q_UNUSED(b);
        registry.setDiagnosticsEnabled(false);
    }

    // A notifier waiting for room (Overflow::Block) when the context is destroyed: its delivery
    // is dropped for that reason, as the one waiting in the queue is, never as "removed". The
    // pause only gives the notifier time to start waiting; every count holds either way.
    void blockedNotifiersWokenByTheContextsDeathCountItsReason()
    {
        using namespace std::chrono_literals;
        rio::QtRegistry<int> registry;
        registry.setDiagnosticsEnabled(true);
        quint64 notified = 0;
        for (int round = 0; round < 5; ++round) {
            auto *context = new QObject;
            registry.add(context, [](int) { },
                         {.connection = Qt::QueuedConnection,
                          .capacity = 1,
                          .overflow = rio::Overflow::Block,
                          .blockTimeout = 60'000ms});
            registry.notify(0); // waits in the queue: this thread's loop does not run
            std::atomic<bool> started{false};
            std::thread notifier([&] {
                started.store(true);
                registry.notify(1); // waits for room, until the context dies
            });
            while (!started.load())
                std::this_thread::yield();
            std::this_thread::sleep_for(20ms);
            delete context;
            notifier.join();
            notified += 2;
        }
        const rio::RegistryInfo info = rio::Diagnostics::snapshot(registry.registryId());
        const auto &drops = info.removedHandlerDrops;
        QCOMPARE(drops[std::size_t(rio::DropReason::Removed)], quint64{0});
        QVERIFY(drops[std::size_t(rio::DropReason::ContextDestroyed)] >= 5); // the queued ones at least
        QVERIFY(drops[std::size_t(rio::DropReason::ContextDestroyed)] <= notified);
        registry.setDiagnosticsEnabled(false);
    }

    // A blocking delivery whose event Qt discards unrun (here an event filter eats it) while the
    // handler stays listed and its context alive: dropped as "discarded", and the notifier returns.
    void aBlockingDeliveryQtDiscardsIsCountedAsDiscarded()
    {
        struct EatCalls : QObject
        {
            bool eventFilter(QObject *, QEvent *event) override { return event->type() == QEvent::MetaCall; }
        } eat;
        rio::QtRegistry<int> registry;
        registry.setDiagnosticsEnabled(true);
        QObject context;
        context.installEventFilter(&eat);
        int runs = 0;
        const rio::HandlerId id =
            registry.add(&context, [&](int) { ++runs; }, {.connection = Qt::BlockingQueuedConnection});
        std::atomic<bool> returned{false};
        std::thread notifier([&] {
            registry.notify(1);
            returned.store(true);
        });
        QTRY_VERIFY_WITH_TIMEOUT(returned.load(), 60'000); // this loop's filter eats the delivery
        notifier.join();
        const rio::HandlerInfo h = handlerOf(registry, id);
        QCOMPARE(runs, 0);
        QVERIFY2(h.drops[std::size_t(rio::DropReason::Discarded)] == 1 && h.totalDrops() == 1,
                 qPrintable(describe(h)));
        registry.setDiagnosticsEnabled(false);
    }

    // A Latest delivery whose event Qt discards (an event filter on the context eats it) is
    // scheduled again by the next notify, with the newest event; the replaced one is coalesced.
    void aDiscardedLatestDeliveryIsScheduledAgainByTheNextNotify()
    {
        struct EatOneCall : QObject
        {
            bool armed = true;
            bool eventFilter(QObject *, QEvent *event) override
            {
                return event->type() == QEvent::MetaCall && std::exchange(armed, false);
            }
        } eat;
        rio::QtRegistry<int> registry;
        registry.setDiagnosticsEnabled(true);
        QObject context;
        context.installEventFilter(&eat);
        std::vector<int> got;
        const rio::HandlerId id =
            registry.add(&context, [&](int v) { got.push_back(v); },
                         {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
        registry.notify(1);
        QCoreApplication::sendPostedEvents(&context); // eaten: discarded unrun
        QVERIFY(!eat.armed);
        QVERIFY(got.empty());
        registry.notify(2);
        QTRY_COMPARE(got, std::vector<int>{2});
        const rio::HandlerInfo h = handlerOf(registry, id);
        QVERIFY2(h.calls == 1 && h.coalesced == 1 && h.totalDrops() == 0 && h.waiting == 0,
                 qPrintable(describe(h)));
        registry.setDiagnosticsEnabled(false);
    }

private:
    // Runs `n` notifies of the given kind with diagnostics on: a direct handler and handlers
    // with a context (queued to a worker, Auto to this thread) must each be counted and timed once
    // per run. Returns the handlers that were not.
    QStringList countsAfter(bool sequential)
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        registry.setDiagnosticsEnabled(true);
        QObject here;
        std::atomic<int> d{0};
        std::atomic<int> w{0};
        int h = 0;
        const rio::HandlerId direct = registry.add([&](int) { d.fetch_add(1); });
        const rio::HandlerId onWorker = registry.add(worker.context, [&](int) { w.fetch_add(1); });
        const rio::HandlerId onHere = registry.add(&here, [&](int) { ++h; });
        constexpr int n = 20;
        QList<QFuture<void>> futures;
        for (int i = 0; i < n; ++i)
            futures.append(sequential ? registry.notifySequential(i) : registry.notifyAsync(i));
        const auto finished = [&] {
            return std::all_of(futures.cbegin(), futures.cend(),
                               [](const QFuture<void> &f) { return f.isFinished(); });
        };
        QStringList wrong;
        QElapsedTimer deadline;
        deadline.start();
        while ((!finished() || h < n || w.load() < n) && deadline.elapsed() < 60'000)
            QTest::qWait(5); // spins this thread's loop (the Auto handler runs here) under a deadline
        worker.flush();
        if (d.load() != n || w.load() != n || h != n)
            wrong << QStringLiteral("ran %1 %2 %3").arg(d.load()).arg(w.load()).arg(h);
        for (const auto &[name, id] :
             {std::pair{"direct", direct}, std::pair{"queued", onWorker}, std::pair{"auto", onHere}}) {
            const rio::HandlerInfo info = handlerOf(registry, id);
            if (!(info.calls == n && info.runTime.count == n && info.failures == 0))
                wrong << QStringLiteral("%1: %2").arg(QLatin1String(name), describe(info));
        }
        registry.setDiagnosticsEnabled(false);
        return wrong;
    }

private Q_SLOTS:
    // notifyAsync with diagnostics on: every handler's runs counted and timed once each.
    void asyncNotifiesCountEachRunOnce()
    {
        const QStringList wrong = countsAfter(false);
        QVERIFY2(wrong.isEmpty(), qPrintable(wrong.join(QStringLiteral("; "))));
    }

    // Docs: direct handlers' runs are counted and timed "while on" ("A direct handler's count is
    // every call the registry made"). notifySequential runs each handler in turn: its direct
    // handler's runs must be counted and timed like any other notify's.
    void sequentialNotifiesCountEachRunOnce()
    {
        const QStringList wrong = countsAfter(true);
        QVERIFY2(wrong.isEmpty(), qPrintable(wrong.join(QStringLiteral("; "))));
    }

    // Docs: recentSlowRuns() keeps "the last 64 slow runs of the process, oldest first"; slowRuns
    // "counts every one". 100 slow runs on a worker thread: 64 kept, in order of their end, the
    // handler's slowRuns 100, its slowHandler signal once.
    void recentSlowRunsKeepTheLast64InOrder()
    {
        rio::Diagnostics *diagnostics = rio::Diagnostics::instance();
        const auto workerSlow = rio::Diagnostics::workerSlowThreshold();
        rio::Diagnostics::setWorkerSlowThreshold(20us);
        rio::QtRegistry<int> registry;
        registry.setDiagnosticsEnabled(true);
        std::atomic<int> signalled{0};
        const auto c = connect(
            diagnostics, &rio::Diagnostics::slowHandler, diagnostics,
            [&](const rio::SlowHandlerReport &r) {
                if (r.handler.registryId != 0)
                    signalled.fetch_add(1);
            },
            Qt::DirectConnection);
        const rio::HandlerId id = registry.add([](int) {
            QElapsedTimer t; // longer than the threshold (the workload)
            t.start();
            while (t.nsecsElapsed() < 200'000) {
            }
        });
        std::thread t([&] {
            for (int i = 0; i < 100; ++i)
                registry.notify(i);
        });
        t.join();
        disconnect(c);
        rio::Diagnostics::setWorkerSlowThreshold(workerSlow);
        const QList<rio::SlowHandlerReport> recent = rio::Diagnostics::recentSlowRuns();
        QCOMPARE(recent.size(), 64);
        for (qsizetype i = 0; i < recent.size(); ++i) {
            QCOMPARE(recent[i].handler.registryId, registry.registryId());
            QCOMPARE(recent[i].handler.id, id);
            QVERIFY(recent[i].elapsedNs >= 200'000 / 2);
            QVERIFY(!recent[i].stillRunning);
            if (i > 0)
                QVERIFY2(recent[i].endedAtNs >= recent[i - 1].endedAtNs, "oldest first");
        }
        const rio::HandlerInfo h = handlerOf(registry, id);
        QCOMPARE(h.slowRuns, quint64{100});
        QCOMPARE(h.calls, quint64{100});
        QCOMPARE(signalled.load(), 1);
        registry.setDiagnosticsEnabled(false);
    }

    // writeJson from two threads to one path while registries come and go: both succeed, and the
    // file is one whole, valid document.
    void concurrentWriteJsonGivesAWholeDocument()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString path = dir.filePath(QStringLiteral("c.json"));
        std::atomic<bool> stop{false};
        std::thread churn([&] {
            while (!stop.load()) {
                rio::QtRegistry<int> r;
                r.setObjectName(QStringLiteral("churn"));
                r.setDiagnosticsEnabled(true);
                r.add([](int) { });
                r.notify(1);
            }
        });
        std::atomic<int> failures{0};
        std::vector<std::thread> writers;
        for (int w = 0; w < 2; ++w)
            writers.emplace_back([&] {
                for (int i = 0; i < 30; ++i)
                    if (!rio::Diagnostics::writeJson(path))
                        failures.fetch_add(1);
            });
        for (std::thread &w : writers)
            w.join();
        stop.store(true);
        churn.join();
        QCOMPARE(failures.load(), 0);
        QFile f(path);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QJsonParseError error{};
        const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &error);
        QCOMPARE(error.error, QJsonParseError::NoError);
        QVERIFY(doc.object().contains(QStringLiteral("registries")));
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden).size(), 1); // no temporaries left
    }

    // Docs: "A run is failed when an exception leaves it"; calls and failures count the
    // handler's own runs, once each, for every connection: direct, Auto on the notifying thread,
    // Queued, and BlockingQueued (run on the worker while the notifier waits).
    void throwingHandlersAreCountedOncePerRunForEveryConnection()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        registry.setDiagnosticsEnabled(true);
        QObject here;
        const auto thrower = [](int v) {
            if (v % 2 == 1)
                throw std::runtime_error("odd");
        };
        const rio::HandlerId direct = registry.add(thrower);
        const rio::HandlerId autoHere = registry.add(&here, thrower);
        const rio::HandlerId queued =
            registry.add(worker.context, thrower, {.connection = Qt::QueuedConnection});
        const rio::HandlerId blocking =
            registry.add(worker.context, thrower, {.connection = Qt::BlockingQueuedConnection});
        QSignalSpy failed(&registry, &rio::QtRegistryBase::handlerFailed);
        constexpr int n = 10;
        for (int i = 0; i < n; ++i)
            registry.notify(i);
        worker.flush();
        QTRY_COMPARE(handlerOf(registry, queued).calls, quint64{n});
        for (const auto &[name, id] : {std::pair{"direct", direct}, std::pair{"auto", autoHere},
                                       std::pair{"queued", queued}, std::pair{"blocking", blocking}}) {
            const rio::HandlerInfo h = handlerOf(registry, id);
            QVERIFY2(h.calls == quint64{n} && h.failures == quint64{n / 2} && h.runTime.count == quint64{n},
                     qPrintable(QStringLiteral("%1: %2").arg(QLatin1String(name), describe(h))));
        }
        QTRY_COMPARE(failed.size(), 4 * n / 2);
        registry.setDiagnosticsEnabled(false);
    }

    // A BlockingQueuedConnection handler whose context lives on the main thread, notified from
    // 3 other threads at once: every run counted and timed once, on the main thread.
    void blockingFromManyThreadsCountedOnceEach()
    {
        rio::QtRegistry<int> registry;
        registry.setDiagnosticsEnabled(true);
        QObject here;
        std::atomic<int> got{0};
        const rio::HandlerId id =
            registry.add(&here, [&](int) { got.fetch_add(1); }, {.connection = Qt::BlockingQueuedConnection});
        constexpr int perThread = 200;
        std::atomic<int> done{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 3; ++t)
            threads.emplace_back([&] {
                for (int i = 0; i < perThread; ++i)
                    registry.notify(i);
                done.fetch_add(1);
            });
        QTRY_COMPARE_WITH_TIMEOUT(done.load(), 3, 60'000);
        for (std::thread &t : threads)
            t.join();
        QCOMPARE(got.load(), 3 * perThread);
        const rio::HandlerInfo h = handlerOf(registry, id);
        QVERIFY2(h.calls == quint64{3 * perThread} && h.runTime.count == quint64{3 * perThread},
                 qPrintable(describe(h)));
        QCOMPARE(h.failures, quint64{0});
        registry.setDiagnosticsEnabled(false);
    }

    // An Auto handler that notifies its own registry from inside its run (nested notifies on its
    // thread): each of its runs counted and timed once.
    void nestedAutoRunsCountedOnceEach()
    {
        rio::QtRegistry<int> registry;
        registry.setDiagnosticsEnabled(true);
        QObject here;
        int runs = 0;
        const rio::HandlerId id = registry.add(&here, [&](int v) {
            ++runs;
            if (v > 0)
                registry.notify(v - 1);
        });
        registry.notify(9);
        QCOMPARE(runs, 10);
        const rio::HandlerInfo h = handlerOf(registry, id);
        QVERIFY2(h.calls == 10 && h.runTime.count == 10, qPrintable(describe(h)));
        registry.setDiagnosticsEnabled(false);
    }

    // A queued handler removed (from another thread) while its run is under way: the run ends
    // without harm, its slow report still carries where it was added and the worker's name, and
    // the registry's drops plus the run add up to the notifies.
    void handlerRemovedWhileRunningKeepsItsReportAndDrops()
    {
        rio::Diagnostics *diagnostics = rio::Diagnostics::instance();
        const auto workerSlow = rio::Diagnostics::workerSlowThreshold();
        rio::Diagnostics::setWorkerSlowThreshold(1ms);
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        registry.setDiagnosticsEnabled(true);
        std::mutex mutex;
        std::vector<rio::SlowHandlerReport> slow;
        const auto c = connect(
            diagnostics, &rio::Diagnostics::slowHandler, diagnostics,
            [&](const rio::SlowHandlerReport &r) {
                std::lock_guard lock(mutex);
                slow.push_back(r);
            },
            Qt::DirectConnection);
        std::latch gate(1);
        std::atomic<bool> started{false};
        std::atomic<bool> ended{false};
        const int line = __LINE__ + 1;
        const rio::HandlerId id = registry.add(worker.context, [&](int v) {
            if (v == 0) {
                started.store(true);
                gate.wait();
                QElapsedTimer t; // longer than the worker's threshold (the workload, not a wait)
                t.start();
                while (t.nsecsElapsed() < 3'000'000) {
                }
                ended.store(true);
            }
        });
        registry.notify(0);
        QTRY_VERIFY(started.load());
        for (int i = 1; i <= 10; ++i)
            registry.notify(i);
        QVERIFY(registry.remove(id));
        gate.count_down();
        QTRY_VERIFY(ended.load());
        worker.flush();
        disconnect(c);
        rio::Diagnostics::setWorkerSlowThreshold(workerSlow);
        const rio::RegistryInfo info = rio::Diagnostics::snapshot(registry.registryId());
        QCOMPARE(info.handlers.size(), 0);
        QCOMPARE(info.removedHandlerDrops[std::size_t(rio::DropReason::Removed)], quint64{10});
        std::lock_guard lock(mutex);
        std::vector<rio::SlowHandlerReport> ours;
        for (const rio::SlowHandlerReport &r : slow)
            if (r.handler.registryId == registry.registryId())
                ours.push_back(r);
        QCOMPARE(ours.size(), std::size_t{1});
        QCOMPARE(ours[0].handler.id, id);
        QCOMPARE(ours[0].handler.line, line);
        QVERIFY(ours[0].handler.file.endsWith(QStringLiteral("tst_diagnostics_counts.cpp")));
        QCOMPARE(ours[0].threadName, QStringLiteral("rio-test-worker"));
        registry.setDiagnosticsEnabled(false);
    }

    // A direct handler that removes itself while it runs, diagnostics on: its run is counted once
    // and the registry lists nothing afterwards (ASan/TSan: no use of freed statistics).
    void directHandlerRemovingItselfWhileTimed()
    {
        rio::QtRegistry<int> registry;
        registry.setDiagnosticsEnabled(true);
        rio::HandlerId self;
        int runs = 0;
        self = registry.add([&](int) {
            ++runs;
            registry.remove(self);
        });
        const rio::HandlerId other = registry.add([](int) { }, -1);
        registry.notify(1);
        registry.notify(2);
        QCOMPARE(runs, 1);
        const rio::RegistryInfo info = rio::Diagnostics::snapshot(registry.registryId());
        QCOMPARE(info.handlers.size(), 1);
        QCOMPARE(info.handlers[0].id, other);
        QCOMPARE(info.handlers[0].calls, quint64{2});
        registry.setDiagnosticsEnabled(false);
    }

    // Diagnostics switched on and off (per registry and process-wide) while a worker floods,
    // snapshots and JSON taken meanwhile; then, switched on and quiet, exactly N more notifies
    // add exactly N calls, N runs and (queued) N delays.
    void togglingWhileAWorkerFloodsKeepsCountsConsistent()
    {
        rio::QtRegistry<int> registry;
        QObject here;
        std::atomic<quint64> directRuns{0};
        quint64 queuedRuns = 0;
        const rio::HandlerId direct = registry.add([&](int) { directRuns.fetch_add(1); });
        const rio::HandlerId queued =
            registry.add(&here, [&](int) { ++queuedRuns; }, {.connection = Qt::QueuedConnection});
        std::atomic<bool> stop{false};
        std::atomic<quint64> sent{0};
        std::thread flood([&] { // bounded: a queue of the default capacity drops the oldest
            while (!stop.load() && sent.load() < 300'000) {
                registry.notify(1);
                sent.fetch_add(1);
            }
        });
        for (int round = 0; round < 200; ++round) {
            registry.setDiagnosticsEnabled(round % 2 == 0);
            if (round % 7 == 0)
                rio::Diagnostics::setEnabled(round % 14 == 0);
            const rio::HandlerInfo q = handlerOf(registry, queued);
            QVERIFY2(q.runTime.count <= q.calls + 1 && q.failures == 0, qPrintable(describe(q)));
            if (round % 20 == 0)
                QVERIFY(!rio::Diagnostics::toJson().isNull());
            QCoreApplication::processEvents();
        }
        stop.store(true);
        flood.join();
        rio::Diagnostics::setEnabled(false);
        registry.setDiagnosticsEnabled(true);
        QTRY_COMPARE(handlerOf(registry, queued).waiting, quint64{0});
        QTRY_COMPARE(handlerOf(registry, queued).calls, queuedRuns);
        {
            const rio::HandlerInfo q = handlerOf(registry, queued);
            QVERIFY2(q.calls + q.totalDrops() == sent.load(), qPrintable(describe(q)));
        }
        const rio::HandlerInfo d0 = handlerOf(registry, direct);
        const rio::HandlerInfo q0 = handlerOf(registry, queued);
        QVERIFY2(d0.calls <= directRuns.load(), qPrintable(describe(d0)));
        constexpr int n = 100;
        for (int i = 0; i < n; ++i)
            registry.notify(i);
        QTRY_COMPARE(handlerOf(registry, queued).calls, q0.calls + n);
        const rio::HandlerInfo d1 = handlerOf(registry, direct);
        const rio::HandlerInfo q1 = handlerOf(registry, queued);
        QCOMPARE(d1.calls - d0.calls, quint64{n});
        QCOMPARE(d1.runTime.count - d0.runTime.count, quint64{n});
        QCOMPARE(q1.runTime.count - q0.runTime.count, quint64{n});
        QCOMPARE(q1.queueDelay.count - q0.queueDelay.count, quint64{n});
        registry.setDiagnosticsEnabled(false);
    }

    // Threads that come and go, each running a timed handler slow for its thread: every recent
    // slow run names the thread that ran it (its number, never another's name), and the names of
    // threads that exited are forgotten.
    void churningThreadsAreNumberedRightAndForgotten()
    {
        const auto workerSlow = rio::Diagnostics::workerSlowThreshold();
        rio::Diagnostics::setWorkerSlowThreshold(1ms);
        rio::QtRegistry<int> registry;
        registry.setDiagnosticsEnabled(true);
        registry.add([](int) {
            QElapsedTimer t; // longer than the threshold (the workload)
            t.start();
            while (t.nsecsElapsed() < 2'000'000) {
            }
        });
        constexpr int threads = 12;
        std::vector<quint64> numbers(threads);
        for (int i = 0; i < threads; ++i) {
            // A std::thread (joined: visible to ThreadSanitizer) named through its adopted QThread.
            std::thread t([&, i] {
                QThread::currentThread()->setObjectName(QStringLiteral("churn-%1").arg(i));
                numbers[std::size_t(i)] = rio::Diagnostics::currentThread();
                registry.notify(i);
            });
            t.join();
        }
        rio::Diagnostics::setWorkerSlowThreshold(workerSlow);
        int matched = 0;
        for (const rio::SlowHandlerReport &r : rio::Diagnostics::recentSlowRuns()) {
            if (r.handler.registryId != registry.registryId())
                continue;
            const auto it = std::find(numbers.cbegin(), numbers.cend(), r.thread);
            QVERIFY2(it != numbers.cend(), qPrintable(QString::number(r.thread)));
            const int i = int(it - numbers.cbegin());
            // The name is checked by recentSlowRunsKeepTheThreadNameAfterItExits: here only that
            // it is this thread's (its QThread name or its own number), not another's.
            QVERIFY2(r.threadName == QStringLiteral("churn-%1").arg(i) ||
                         r.threadName == QStringLiteral("#%1").arg(r.thread),
                     qPrintable(r.threadName));
            ++matched;
        }
        QCOMPARE(matched, threads);
        for (quint64 n : numbers)
            QTRY_VERIFY2(rio::Diagnostics::threadName(n).isEmpty(),
                         qPrintable(rio::Diagnostics::threadName(n)));
        registry.setDiagnosticsEnabled(false);
    }

    // Docs: toJson(HandlerInfo) gives "every field of HandlerInfo under its own name, totalDrops,
    // drops by reason ..."; counts are "JSON integers (exact)". Every key is present, no number is
    // NaN/inf/null, and the enums use the documented names, OR'd connection flags included.
    void jsonHasEveryFieldAndOnlyFiniteNumbers()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        registry.setObjectName(QStringLiteral("attack-json"));
        registry.setDiagnosticsEnabled(true);
        QObject here;
        registry.add([](int) { });
        registry.add(worker.context, [](int) { }, {.connection = Qt::BlockingQueuedConnection});
        registry.add(&here, [](int) { }, {.delivery = rio::Delivery::Latest});
        registry.add(&here, [](int) { },
                     {.connection = Qt::QueuedConnection, .overflow = rio::Overflow::Block});
        const rio::HandlerId once =
            registry.add(&here, [](int) { },
                         {.connection = Qt::ConnectionType(Qt::QueuedConnection | Qt::SingleShotConnection)});
        registry.setSuspended(once, true);                             // stays listed
        const rio::HandlerId never = registry.add(&here, [](int) { }); // never runs: empty histograms
        registry.setSuspended(never, true);
        registry.notify(1);
        QTRY_VERIFY(handlerOf(registry, never).id == never);
        QCoreApplication::processEvents();

        const QJsonDocument doc = rio::Diagnostics::toJson();
        QStringList bad;
        collectBadNumbers(doc.object(), QStringLiteral("$"), bad);
        QVERIFY2(bad.isEmpty(), qPrintable(bad.join(u' ')));
        for (const char *key : {"enabled", "slowThresholdNs", "workerSlowThresholdNs", "stallThresholdNs",
                                "registries", "recentSlowRuns"})
            QVERIFY2(doc.object().contains(QLatin1String(key)), key);
        const QStringList handlerKeys = {QStringLiteral("registryId"),
                                         QStringLiteral("registryName"),
                                         QStringLiteral("eventType"),
                                         QStringLiteral("id"),
                                         QStringLiteral("file"),
                                         QStringLiteral("line"),
                                         QStringLiteral("function"),
                                         QStringLiteral("originFile"),
                                         QStringLiteral("originLine"),
                                         QStringLiteral("addedThread"),
                                         QStringLiteral("addedThreadName"),
                                         QStringLiteral("hasContext"),
                                         QStringLiteral("contextClass"),
                                         QStringLiteral("contextName"),
                                         QStringLiteral("contextThreadName"),
                                         QStringLiteral("priority"),
                                         QStringLiteral("connection"),
                                         QStringLiteral("delivery"),
                                         QStringLiteral("capacity"),
                                         QStringLiteral("overflow"),
                                         QStringLiteral("once"),
                                         QStringLiteral("suspended"),
                                         QStringLiteral("calls"),
                                         QStringLiteral("failures"),
                                         QStringLiteral("drops"),
                                         QStringLiteral("totalDrops"),
                                         QStringLiteral("waiting"),
                                         QStringLiteral("maxWaiting"),
                                         QStringLiteral("coalesced"),
                                         QStringLiteral("slowRuns"),
                                         QStringLiteral("timed"),
                                         QStringLiteral("runTime"),
                                         QStringLiteral("queueDelay")};
        const QStringList histKeys = {QStringLiteral("count"),  QStringLiteral("totalNs"),
                                      QStringLiteral("maxNs"),  QStringLiteral("p50Ns"),
                                      QStringLiteral("p99Ns"),  QStringLiteral("nsPerTick"),
                                      QStringLiteral("buckets")};
        const QStringList connections = {QStringLiteral("direct"), QStringLiteral("auto"),
                                         QStringLiteral("queued"), QStringLiteral("blocking")};
        bool found = false;
        for (const QJsonValue &r : doc.object()[u"registries"].toArray()) {
            if (r[u"name"].toString() != QStringLiteral("attack-json"))
                continue;
            found = true;
            QCOMPARE(r[u"handlers"].toArray().size(), 6);
            for (const QJsonValue &hv : r[u"handlers"].toArray()) {
                const QJsonObject h = hv.toObject();
                for (const QString &k : handlerKeys)
                    QVERIFY2(h.contains(k), qPrintable(k));
                for (const QString &k : histKeys) {
                    QVERIFY2(h[u"runTime"].toObject().contains(k), qPrintable(k));
                    QVERIFY2(h[u"queueDelay"].toObject().contains(k), qPrintable(k));
                }
                QVERIFY2(connections.contains(h[u"connection"].toString()),
                         qPrintable(h[u"connection"].toString()));
                for (const char *reason : {"overflow", "removed", "contextDestroyed", "suspended", "noMemory",
                                           "discarded", "budget"})
                    QVERIFY2(h[u"drops"].toObject().contains(QLatin1String(reason)), reason);
            }
        }
        QVERIFY(found);
        registry.setDiagnosticsEnabled(false);
    }

    // Docs: "Counts are JSON integers (exact)". A hand-made HandlerInfo with counts past 2^53
    // (not representable as a double) and one past 2^63 comes out exact, never negative.
    void jsonCountsAreExactIntegers()
    {
        rio::HandlerInfo h;
        h.calls = (quint64{1} << 53) + 1;
        h.failures = (quint64{1} << 63) + 5;
        h.runTime.count = 3;
        h.runTime.totalNs = (quint64{1} << 53) + 3;
        const QJsonObject o = rio::toJson(h);
        const QByteArray text = QJsonDocument(o).toJson(QJsonDocument::Compact);
        QVERIFY2(text.contains("\"calls\":9007199254740993"), text.constData());
        QVERIFY2(text.contains("\"totalNs\":9007199254740995"), text.constData());
        QVERIFY2(!text.contains("\"failures\":-"), text.constData());
    }

    // Empty and hand-made histograms: percentiles of nothing are 0, out-of-range fractions are
    // clamped, and their JSON holds no NaN or infinity.
    void emptyAndEdgeHistogramsGiveFiniteNumbers()
    {
        rio::TimeHistogram empty;
        QCOMPARE(empty.p50Ns(), quint64{0});
        QCOMPARE(empty.p99Ns(), quint64{0});
        QCOMPARE(empty.percentileNs(std::nan("")), quint64{0});
        rio::TimeHistogram one;
        one.count = 1;
        one.maxNs = 1000;
        one.totalNs = 1000;
        one.buckets[9] = 1;
        QVERIFY(one.percentileNs(2.0) <= 1000);
        QVERIFY(one.percentileNs(-1.0) <= 1000);
        QVERIFY(one.percentileNs(std::nan("")) <= 1000);
        QStringList bad;
        collectBadNumbers(rio::toJson(empty), QStringLiteral("empty"), bad);
        collectBadNumbers(rio::toJson(one), QStringLiteral("one"), bad);
        collectBadNumbers(rio::toJson(rio::HandlerInfo{}), QStringLiteral("handler"), bad);
        collectBadNumbers(rio::toJson(rio::SlowHandlerReport{}), QStringLiteral("report"), bad);
        QVERIFY2(bad.isEmpty(), qPrintable(bad.join(u' ')));
    }

    // Docs: `qDebug() << info` (HandlerInfo, RegistryInfo, SlowHandlerReport) gives "one line per
    // handler: where it was added, its thread, counts, p50, p99 and max", and RegistryInfo is
    // "The registry on one line, then each handler on a line of its own". A registry or context
    // name holding a newline (objectName is the application's) must not split a handler's line.
    void qdebugIsOneLinePerHandlerWhateverTheNames()
    {
        rio::QtRegistry<int> registry;
        registry.setObjectName(QStringLiteral("evil\nname\r\n"));
        QObject here;
        here.setObjectName(QStringLiteral("ctx\nname"));
        registry.add([](int) { });
        registry.add(&here, [](int) { });
        const rio::RegistryInfo info = rio::Diagnostics::snapshot(registry.registryId());
        QCOMPARE(info.handlers.size(), 2);
        for (const rio::HandlerInfo &h : info.handlers) {
            QString line;
            QDebug(&line) << h;
            QVERIFY2(!line.trimmed().contains(u'\n') && !line.trimmed().contains(u'\r'), qPrintable(line));
        }
        QString all;
        QDebug(&all) << info;
        QCOMPARE(all.trimmed().count(u'\n'), info.handlers.size());
    }

    // writeJson to a place it cannot write: false, and nothing changed there.
    void writeJsonToUnwritablePathsFailsAndChangesNothing()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        QVERIFY(!rio::Diagnostics::writeJson(QString()));
        QVERIFY(!rio::Diagnostics::writeJson(dir.path())); // a directory
        QVERIFY(!rio::Diagnostics::writeJson(dir.filePath(QStringLiteral("missing/sub/d.json"))));
        QVERIFY(!rio::Diagnostics::writeJson(QStringLiteral("/proc/self/rio-diagnostics.json")));
        QVERIFY(!QFile::exists(dir.filePath(QStringLiteral("missing"))));
        if (::geteuid() != 0) { // root writes anywhere
            const QString ro = dir.filePath(QStringLiteral("ro"));
            QVERIFY(QDir(dir.path()).mkdir(QStringLiteral("ro")));
            const QString target = ro + QStringLiteral("/d.json");
            {
                QFile f(target);
                QVERIFY(f.open(QIODevice::WriteOnly));
                f.write("previous");
            }
            QVERIFY(::chmod(QFile::encodeName(ro).constData(), 0555) == 0);
            QVERIFY(!rio::Diagnostics::writeJson(target));
            QFile f(target);
            QVERIFY(f.open(QIODevice::ReadOnly));
            QCOMPARE(f.readAll(), QByteArray("previous"));
            QCOMPARE(QDir(ro).entryList(QDir::Files | QDir::Hidden).size(), 1);
            ::chmod(QFile::encodeName(ro).constData(), 0755);
        }
        // And a good path works, replacing the file as a whole.
        const QString good = dir.filePath(QStringLiteral("ok.json"));
        QVERIFY(rio::Diagnostics::writeJson(good));
        QFile f(good);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QJsonParseError error{};
        QJsonDocument::fromJson(f.readAll(), &error);
        QCOMPARE(error.error, QJsonParseError::NoError);
    }

    // RIO_DIAGNOSTICS_JSON while registries are destroyed during the application's destruction
    // (children of the application, one destroyed by another thread as it exits): the child
    // exits normally and writes valid JSON that lists the registry alive at exit.
    void jsonAtExitWhileRegistriesAreDestroyed()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString path = dir.filePath(QStringLiteral("exit.json"));
        const int status = runChild("exitChild", {"RIO_DIAGNOSTICS_JSON=" + path.toStdString()});
        QCOMPARE(status, 0);
        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadOnly));
        QJsonParseError error{};
        const QJsonDocument doc = QJsonDocument::fromJson(file.readAll(), &error);
        QCOMPARE(error.error, QJsonParseError::NoError);
        QStringList bad;
        collectBadNumbers(doc.object(), QStringLiteral("$"), bad);
        QVERIFY2(bad.isEmpty(), qPrintable(bad.join(u' ')));
        bool found = false;
        for (const QJsonValue &r : doc.object()[u"registries"].toArray())
            if (r[u"name"].toString() == QStringLiteral("app-child"))
                found = r[u"handlers"].toArray().size() == 1 &&
                        r[u"handlers"].toArray()[0][u"calls"].toInteger() == 3;
        QVERIFY2(found, doc.toJson().constData());
    }

    void exitChild()
    {
        if (qEnvironmentVariableIsEmpty("RIO_TEST_ATTACK_CHILD"))
            QSKIP("run by jsonAtExitWhileRegistriesAreDestroyed in a child process");
        auto *registry = new rio::QtRegistry<int>(QCoreApplication::instance()); // dies with the app
        registry->setObjectName(QStringLiteral("app-child"));
        registry->setDiagnosticsEnabled(true);
        auto *context = new QObject(QCoreApplication::instance());
        registry->add(context, [](int) { });
        for (int i = 0; i < 3; ++i)
            registry->notify(i);
        // Registries created and destroyed by another thread until after main returned.
        churnAtExit.thread = std::thread([] {
            while (!churnAtExit.stop.load()) {
                rio::QtRegistry<int> r;
                r.setObjectName(QStringLiteral("churn"));
                r.setDiagnosticsEnabled(true);
                r.add([](int) { });
                r.notify(1);
            }
        });
    }

    // RIO_DIAGNOSTICS_JSON naming a link (as one another user puts in /tmp): the file it points
    // to is left as it was; the link is replaced by a file of the user's alone (mode 0600).
    void jsonAtExitReplacesALinkNotItsTarget()
    {
        QTemporaryDir dir;
        const QByteArray path = QFile::encodeName(dir.filePath(QStringLiteral("d.json")));
        const QByteArray victim = QFile::encodeName(dir.filePath(QStringLiteral("victim.txt")));
        QFile kept(QFile::decodeName(victim));
        QVERIFY(kept.open(QIODevice::WriteOnly) && kept.write("kept") == 4);
        kept.close();
        QCOMPARE(::symlink(victim.constData(), path.constData()), 0);
        QCOMPARE(runChild("plainChild", {"RIO_DIAGNOSTICS_JSON=" + path.toStdString()}), 0);
        QVERIFY(kept.open(QIODevice::ReadOnly));
        QCOMPARE(kept.readAll(), QByteArray("kept"));
        struct stat st{};
        QCOMPARE(::lstat(path.constData(), &st), 0);
        QVERIFY(S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600);
    }

    // RIO_DIAGNOSTICS_JSON naming a place it cannot write: the application still exits normally.
    void jsonAtExitToAnUnwritablePathExitsNormally()
    {
        const int status = runChild("plainChild", {"RIO_DIAGNOSTICS_JSON=/proc/self/nope/d.json"});
        QCOMPARE(status, 0);
    }

    void plainChild()
    {
        if (qEnvironmentVariableIsEmpty("RIO_TEST_ATTACK_CHILD"))
            QSKIP("run by jsonAtExitToAnUnwritablePathExitsNormally in a child process");
        static auto *const registry = new rio::QtRegistry<int>;
        registry->setDiagnosticsEnabled(true);
        registry->add([](int) { });
        registry->notify(1);
    }
};

QTEST_GUILESS_MAIN(tst_DiagnosticsCounts)
#include "tst_diagnostics_counts.moc"
