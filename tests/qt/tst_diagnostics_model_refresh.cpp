// SPDX-License-Identifier: MIT
// Adversarial tests of rio::DiagnosticsModel's worker refreshes and of the process-wide switch
// (rio::Diagnostics::enabled, enabledChanged), from the documented promises only: a snapshot
// overtaken by refresh() or a change of filter is never applied, persistent indexes follow their
// handler through a large reordering, enabledChanged runs on the changing thread outside any lock
// (a slot may toggle the switch again or destroy a registry), and an application exits cleanly
// with a refresh in flight.
#include "qt_test_support.h"

#include <registryio/qt/diagnostics.h>
#include <registryio/qt/diagnostics_model.h>
#include <registryio/qt/qt_registry.h>

#include <QAbstractItemModelTester>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QObject>
#include <QProcess>
#include <QSignalSpy>
#include <QTest>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace {

bool hasRow(const rio::DiagnosticsModel &model, quint64 registryId, rio::HandlerId id)
{
    for (int r = 0; r < model.rowCount(); ++r) {
        const QModelIndex i = model.index(r, 0);
        if (i.data(rio::DiagnosticsModel::RegistryIdRole).toULongLong() == registryId &&
            i.data(rio::DiagnosticsModel::HandlerIdRole).toULongLong() == id.value())
            return true;
    }
    return false;
}

// The child process of applicationExitsWithARefreshInFlight: a model parented to the application,
// refreshing every millisecond over a thousand handlers, and the application quitting as soon as
// the worker delivered one refresh (the next is then usually in flight).
int exitChild(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    auto *registry = new rio::QtRegistry<int>(&app);
    registry->setObjectName(QStringLiteral("exit-child"));
    for (int i = 0; i < 1000; ++i)
        registry->add([](int) { });
    auto *model = new rio::DiagnosticsModel(&app);
    QObject::connect(model, &rio::DiagnosticsModel::refreshed, &app, &QCoreApplication::quit,
                     Qt::QueuedConnection);
    model->setRefreshInterval(1);
    return app.exec();
}

} // namespace

class tst_DiagnosticsModelRefresh : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { rio::Diagnostics::setEnabled(false); }

    // "A snapshot overtaken by ... refresh(), is discarded": once refresh() has shown a handler
    // gone, no snapshot the worker took before that brings its row back.
    void refreshOvertakesTheWorker()
    {
        rio::QtRegistry<int> registry;
        registry.setObjectName(QStringLiteral("atk2-overtaken"));
        for (int i = 0; i < 1500; ++i) // a snapshot that takes a while
            registry.add([](int) { });
        rio::DiagnosticsModel model;
        model.setRegistryFilter(QStringLiteral("atk2-overtaken"));
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        int refreshes = 0;
        connect(&model, &rio::DiagnosticsModel::refreshed, this, [&] { ++refreshes; });
        rio::HandlerId gone;
        int resurrected = 0;
        connect(&model, &QAbstractItemModel::rowsInserted, this,
                [&](const QModelIndex &, int first, int last) {
                    for (int r = first; r <= last; ++r)
                        if (gone.value() != 0 &&
                            model.index(r, 0).data(rio::DiagnosticsModel::HandlerIdRole).toULongLong() ==
                                gone.value())
                            ++resurrected;
                });
        model.setRefreshInterval(1);
        constexpr int rounds = 30;
        for (int round = 0; round < rounds; ++round) {
            const int before = refreshes;
            QTRY_VERIFY_WITH_TIMEOUT(refreshes > before, 60'000); // the worker runs again
            const rio::HandlerId id = registry.add([](int) { });
            model.refresh();
            QVERIFY(hasRow(model, registry.registryId(), id));
            gone = id;
            registry.remove(id);
            model.refresh(); // the worker's snapshot in flight, if any, still has `id`
            QVERIFY(!hasRow(model, registry.registryId(), id));
            const int after = refreshes;
            QTRY_VERIFY_WITH_TIMEOUT(refreshes > after + 1, 60'000);
            QVERIFY2(!hasRow(model, registry.registryId(), id), "a removed handler came back");
        }
        QCOMPARE(resurrected, 0);
    }

    // "A snapshot overtaken by a change of ... filter ... is discarded": after the filter changed,
    // no row of a registry it excludes is inserted.
    void filterChangeDiscardsTheSnapshotInFlight()
    {
        rio::QtRegistry<int> a, b;
        a.setObjectName(QStringLiteral("atk2-filter-alpha"));
        b.setObjectName(QStringLiteral("atk2-filter-beta"));
        for (int i = 0; i < 800; ++i) {
            a.add([](int) { });
            b.add([](int) { });
        }
        rio::DiagnosticsModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QString expected = QStringLiteral("atk2-filter-alpha");
        int foreign = 0;
        const auto check = [&] {
            for (int r = 0; r < model.rowCount(); ++r)
                if (!model.index(r, 0)
                         .data(rio::DiagnosticsModel::RegistryNameRole)
                         .toString()
                         .contains(expected))
                    ++foreign;
        };
        int refreshes = 0;
        connect(&model, &rio::DiagnosticsModel::refreshed, this, [&] {
            ++refreshes;
            check();
        });
        model.setRegistryFilter(expected);
        model.refresh();
        model.setRefreshInterval(1);
        for (int round = 0; round < 40; ++round) {
            const int before = refreshes;
            QTRY_VERIFY_WITH_TIMEOUT(refreshes > before, 60'000);
            // Most rounds change the filter while the worker's next snapshot is in flight.
            expected =
                round % 2 == 0 ? QStringLiteral("atk2-filter-beta") : QStringLiteral("atk2-filter-alpha");
            model.setRegistryFilter(expected);
        }
        const int before = refreshes;
        QTRY_VERIFY_WITH_TIMEOUT(refreshes > before + 1, 60'000);
        check();
        QCOMPARE(foreign, 0);
    }

    // "persistent indexes follow their handler either way": a reversal of 300 rows (the layout
    // change path, more than 32 out of place) and of 30 (row moves), each by refresh() and by the
    // worker, under QAbstractItemModelTester.
    void persistentIndexesFollowAReversal_data()
    {
        QTest::addColumn<int>("handlers");
        QTest::addColumn<bool>("byWorker");
        QTest::newRow("300, refresh()") << 300 << false;
        QTest::newRow("300, worker") << 300 << true;
        QTest::newRow("30, refresh()") << 30 << false;
        QTest::newRow("30, worker") << 30 << true;
    }
    void persistentIndexesFollowAReversal()
    {
        QFETCH(int, handlers);
        QFETCH(bool, byWorker);
        // One registry per handler, handler i notified i times (counted: their switch is on),
        // sorted by calls ascending; then handler i gets 2 * (handlers - i) more runs.
        std::vector<std::unique_ptr<rio::QtRegistry<int>>> singles;
        std::vector<rio::HandlerId> sids;
        for (int i = 0; i < handlers; ++i) {
            auto r = std::make_unique<rio::QtRegistry<int>>();
            r->setObjectName(QStringLiteral("atk2-rev-%1").arg(i, 4, 10, QLatin1Char('0')));
            r->setDiagnosticsEnabled(true);
            sids.push_back(r->add([](int) { }));
            for (int k = 0; k < i; ++k)
                r->notify(k);
            singles.push_back(std::move(r));
        }
        rio::DiagnosticsModel model;
        model.setRefreshInterval(0);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy resets(&model, &QAbstractItemModel::modelReset);
        model.sort(rio::DiagnosticsModel::CallsColumn, Qt::AscendingOrder);
        model.setRegistryFilter(QStringLiteral("atk2-rev-"));
        model.refresh();
        QCOMPARE(model.rowCount(), handlers);
        // Ascending by calls: row r is single r. Keep a persistent index on every row.
        std::vector<QPersistentModelIndex> followers;
        std::vector<quint64> registryOf;
        for (int r = 0; r < handlers; ++r) {
            followers.emplace_back(model.index(r, 2));
            registryOf.push_back(model.index(r, 0).data(rio::DiagnosticsModel::RegistryIdRole).toULongLong());
            QCOMPARE(registryOf.back(), singles[std::size_t(r)]->registryId());
        }
        // Reverse the counts: single i now has 2*handlers - i calls in all.
        for (int i = 0; i < handlers; ++i)
            for (int k = 0; k < 2 * handlers - 2 * i; ++k)
                singles[std::size_t(i)]->notify(k);
        if (byWorker) {
            int refreshes = 0;
            connect(&model, &rio::DiagnosticsModel::refreshed, this, [&] { ++refreshes; });
            model.setRefreshInterval(1);
            QTRY_VERIFY_WITH_TIMEOUT(refreshes >= 2, 60'000);
            model.setRefreshInterval(0);
        } else {
            model.refresh();
        }
        QCOMPARE(model.rowCount(), handlers);
        QCOMPARE(model.index(0, 0).data(rio::DiagnosticsModel::RegistryIdRole).toULongLong(),
                 singles.back()->registryId()); // reversed
        for (int r = 0; r < handlers; ++r) {
            QVERIFY(followers[std::size_t(r)].isValid());
            QCOMPARE(followers[std::size_t(r)].column(), 2);
            QCOMPARE(followers[std::size_t(r)].data(rio::DiagnosticsModel::RegistryIdRole).toULongLong(),
                     registryOf[std::size_t(r)]);
            QCOMPARE(followers[std::size_t(r)].row(), handlers - 1 - r);
        }
        QCOMPARE(resets.size(), 0);
        qInfo("%d rows reversed (%s): apply %.0f ns on the model's thread, snapshot %.0f ns", handlers,
              byWorker ? "worker" : "refresh()", model.applyNs(), model.snapshotNs());
    }

    // "enabledChanged ... emitted on the thread that changed it; isEnabled() is the state now", with
    // a directly connected slot that toggles the switch again: no deadlock (no lock of ours held
    // around the emission), and the last emission reports the final state.
    void enabledChangedOnTheChangingThreadAndReentrant()
    {
        rio::Diagnostics *diagnostics = rio::Diagnostics::instance();
        std::atomic<int> onOtherThread{0};
        std::atomic<int> emissions{0};
        std::atomic<bool> lastSeen{false};
        std::thread::id changer;
        std::atomic<bool> toggledBack{false};
        const QMetaObject::Connection c = connect(
            diagnostics, &rio::Diagnostics::enabledChanged, diagnostics,
            [&] {
                ++emissions;
                if (std::this_thread::get_id() != changer)
                    ++onOtherThread;
                lastSeen = rio::Diagnostics::isEnabled();
                if (rio::Diagnostics::isEnabled() && !toggledBack.exchange(true))
                    rio::Diagnostics::setEnabled(false); // from inside the emission
            },
            Qt::DirectConnection);
        std::promise<void> done;
        std::future<void> finished = done.get_future();
        std::thread t([&] {
            changer = std::this_thread::get_id();
            rio::Diagnostics::setEnabled(true);
            done.set_value();
        });
        const bool inTime = finished.wait_for(std::chrono::seconds(60)) == std::future_status::ready;
        if (!inTime) {
            t.detach();
            QFAIL("setEnabled from a slot of enabledChanged deadlocked");
        }
        t.join();
        disconnect(c);
        QCOMPARE(onOtherThread.load(), 0);
        QVERIFY(emissions.load() >= 2);
        QCOMPARE(rio::Diagnostics::isEnabled(), false);
        QCOMPARE(lastSeen.load(), false);
    }

    // A slot of enabledChanged destroys a registry whose own switch is on (its watchdog share
    // goes with it) while two threads toggle the process-wide switch; the model's
    // diagnosticsEnabledChanged arrives on the model's thread and its property ends as the switch.
    void enabledChangedSlotDestroysRegistriesWhileThreadsToggle()
    {
        rio::DiagnosticsModel model;
        model.setRefreshInterval(0);
        QThread *const modelThread = QThread::currentThread();
        int modelNotices = 0;
        int modelNoticesElsewhere = 0;
        connect(
            &model, &rio::DiagnosticsModel::diagnosticsEnabledChanged, &model,
            [&] {
                ++modelNotices;
                if (QThread::currentThread() != modelThread)
                    ++modelNoticesElsewhere;
            },
            Qt::DirectConnection);
        std::mutex poolLock;
        std::vector<std::unique_ptr<rio::QtRegistry<int>>> pool;
        for (int i = 0; i < 200; ++i) {
            auto r = std::make_unique<rio::QtRegistry<int>>();
            r->moveToThread(nullptr); // destroyed from whichever thread toggles
            r->setDiagnosticsEnabled(true);
            r->add([](int) { });
            pool.push_back(std::move(r));
        }
        std::atomic<int> destroyed{0};
        const QMetaObject::Connection c = connect(
            rio::Diagnostics::instance(), &rio::Diagnostics::enabledChanged, rio::Diagnostics::instance(),
            [&] {
                std::unique_ptr<rio::QtRegistry<int>> victim;
                {
                    const std::lock_guard lock(poolLock);
                    if (!pool.empty()) {
                        victim = std::move(pool.back());
                        pool.pop_back();
                    }
                }
                if (victim) {
                    victim->notify(1);
                    victim.reset();
                    ++destroyed;
                }
            },
            Qt::DirectConnection);
        std::atomic<bool> finishedAll{false};
        std::vector<std::thread> togglers;
        for (int t = 0; t < 2; ++t)
            togglers.emplace_back([t] {
                for (int k = 0; k < 300; ++k)
                    rio::Diagnostics::setEnabled((k + t) % 2 == 0);
            });
        std::thread watcher([&] {
            for (std::thread &t : togglers)
                t.join();
            finishedAll = true;
        });
        QTRY_VERIFY_WITH_TIMEOUT(finishedAll.load(), 120'000);
        watcher.join();
        disconnect(c);
        rio::Diagnostics::setEnabled(true); // a last change from this thread
        QTRY_COMPARE_WITH_TIMEOUT(model.isDiagnosticsEnabled(), true, 10'000);
        QCoreApplication::processEvents();
        QVERIFY(modelNotices > 0);
        QCOMPARE(modelNoticesElsewhere, 0);
        QVERIFY(destroyed.load() > 0);
        rio::Diagnostics::setEnabled(false);
        QCoreApplication::processEvents();
        const std::lock_guard lock(poolLock);
        pool.clear();
    }

    // "a run still going past the stall threshold ..., reported while it runs": a report's
    // elapsedNs is how long that run has been going, so it never exceeds the time since the test
    // began. Short runs on the main thread of registries switched on one by one (each registry's
    // own switch), the watchdog looking every quarter of a 1 ms threshold.
    void stallReportsNeverExceedTheRunsLength()
    {
        const auto stall = rio::Diagnostics::stallThreshold();
        rio::Diagnostics::setStallThreshold(std::chrono::milliseconds(1));
        QElapsedTimer wall;
        wall.start();
        std::atomic<quint64> longest{0};
        std::atomic<int> reports{0};
        QString worst;
        std::mutex worstLock;
        const QMetaObject::Connection c = connect(
            rio::Diagnostics::instance(), &rio::Diagnostics::handlerStalled, rio::Diagnostics::instance(),
            [&](const rio::SlowHandlerReport &report) {
                ++reports;
                if (report.elapsedNs > longest.load()) {
                    longest = report.elapsedNs;
                    const std::lock_guard lock(worstLock);
                    worst = QStringLiteral("%1 ms, handler %2 of %3")
                                .arg(report.elapsedNs / 1e6)
                                .arg(report.handler.id.value())
                                .arg(report.handler.registryName);
                }
            },
            Qt::DirectConnection);
        std::vector<std::unique_ptr<rio::QtRegistry<int>>> registries;
        for (int round = 0; round < 3; ++round) {
            for (int i = 0; i < 300; ++i) {
                auto r = std::make_unique<rio::QtRegistry<int>>();
                r->setObjectName(QStringLiteral("atk2-stall-%1").arg(i));
                r->setDiagnosticsEnabled(true);
                r->add([](int) { });
                for (int k = 0; k < i; ++k)
                    r->notify(k);
                registries.push_back(std::move(r));
            }
            registries.clear(); // the last one switched off stops the watchdog
        }
        disconnect(c);
        rio::Diagnostics::setStallThreshold(stall);
        const quint64 bound = quint64(wall.nsecsElapsed());
        qInfo("%d stall reports, the longest %s; the test ran %.1f ms", reports.load(), qPrintable(worst),
              bound / 1e6);
        QVERIFY2(longest.load() <= bound, qPrintable(worst));
    }

    // The documented cost on the GUI thread: printed, never asserted.
    void costOnTheModelsThread()
    {
        std::vector<std::unique_ptr<rio::QtRegistry<int>>> registries;
        for (int i = 0; i < 10; ++i) {
            auto r = std::make_unique<rio::QtRegistry<int>>();
            r->setObjectName(QStringLiteral("atk2-cost"));
            for (int k = 0; k < 100; ++k)
                r->add([](int) { });
            registries.push_back(std::move(r));
        }
        rio::DiagnosticsModel model;
        model.setRegistryFilter(QStringLiteral("atk2-cost"));
        std::vector<double> apply;
        std::vector<double> snapshot;
        connect(&model, &rio::DiagnosticsModel::refreshed, this, [&] {
            apply.push_back(model.applyNs());
            snapshot.push_back(model.snapshotNs());
        });
        model.setRefreshInterval(5);
        QTRY_VERIFY_WITH_TIMEOUT(apply.size() >= 15, 60'000);
        model.setRefreshInterval(0);
        std::sort(apply.begin(), apply.end());
        std::sort(snapshot.begin(), snapshot.end());
        qInfo("1000 handlers, %d worker refreshes: apply median %.3f ms, snapshot median %.3f ms",
              int(apply.size()), apply[apply.size() / 2] / 1e6, snapshot[snapshot.size() / 2] / 1e6);
        QCOMPARE(model.rowCount(), 1000);
    }

    // An application whose model refreshes every millisecond exits as soon as one refresh arrived:
    // the next snapshot is usually in flight when the application (the model's parent) goes.
    void applicationExitsWithARefreshInFlight()
    {
#if RIO_TEST_SANITIZED_THREAD
        QSKIP("ThreadSanitizer's runtime (clang 14) fails its own check in a fork of this threaded process");
#endif
        for (int run = 0; run < 10; ++run) {
            QProcess child;
            QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
            env.insert(QStringLiteral("RIO_ATTACK2_EXIT_CHILD"), QStringLiteral("1"));
            child.setProcessEnvironment(env);
            child.setProcessChannelMode(QProcess::ForwardedChannels);
            child.start(QCoreApplication::applicationFilePath(), {});
            QVERIFY(child.waitForStarted(60'000));
            QVERIFY(child.waitForFinished(120'000));
            QCOMPARE(child.exitStatus(), QProcess::NormalExit);
            QCOMPARE(child.exitCode(), 0);
        }
    }
};

int main(int argc, char **argv)
{
    if (qEnvironmentVariableIsSet("RIO_ATTACK2_EXIT_CHILD"))
        return exitChild(argc, argv);
    QCoreApplication app(argc, argv);
    tst_DiagnosticsModelRefresh test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}

#include "tst_diagnostics_model_refresh.moc"
