// SPDX-License-Identifier: MIT
// rio::DiagnosticsModel: a well-formed model (QAbstractItemModelTester) whose rows are the live
// registries' handlers with where they were added, their counters and run times; it refreshes on
// its own at refreshInterval, sorts and keeps sorting across refreshes, and filters by registry;
// or whose rows are registries given to it (another process's snapshots).
#include <registryio/qt/diagnostics.h>
#include <registryio/qt/diagnostics_model.h>
#include <registryio/qt/qt_registry.h>

#include <QAbstractItemModelTester>
#include <QCoreApplication>
#include <QObject>
#include <QSignalSpy>
#include <QTest>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

// The row of handler `id` of the registry `registryId`, or -1.
int rowOf(const rio::DiagnosticsModel &model, quint64 registryId, rio::HandlerId id)
{
    for (int r = 0; r < model.rowCount(); ++r) {
        const QModelIndex i = model.index(r, 0);
        if (i.data(rio::DiagnosticsModel::RegistryIdRole).toULongLong() == registryId &&
            i.data(rio::DiagnosticsModel::HandlerIdRole).toULongLong() == id.value())
            return r;
    }
    return -1;
}

} // namespace

class TestDiagnosticsModel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void rowsShowWhereAndCounters()
    {
        rio::QtRegistry<int> registry;
        registry.setObjectName(QStringLiteral("model-rows"));
        QObject receiver;
        const int directLine = __LINE__ + 1;
        const rio::HandlerId direct = registry.add([](int) { });
        const rio::HandlerId bounded = registry.add(
            &receiver, [](int) { },
            {.connection = Qt::QueuedConnection, .capacity = 1, .overflow = rio::Overflow::DropNewest});
        const rio::HandlerId thrower =
            registry.add(&receiver, [](int) { throw std::runtime_error("model test"); },
                         {.connection = Qt::QueuedConnection});
        registry.notify(1);
        registry.notify(2); // `bounded` drops this one
        QCoreApplication::sendPostedEvents();

        rio::DiagnosticsModel model;
        model.setRefreshInterval(0);
        model.setRegistryFilter(QStringLiteral("model-rows"));
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QCOMPARE(model.rowCount(), 3);
        QCOMPARE(model.columnCount(), int(rio::DiagnosticsModel::ColumnCount));
        const quint64 id = registry.registryId();

        const int d = rowOf(model, id, direct);
        QVERIFY(d >= 0);
        const QModelIndex where = model.index(d, rio::DiagnosticsModel::WhereColumn);
        QCOMPARE(where.data().toString(), QStringLiteral("tst_diagnostics_model.cpp:%1").arg(directLine));
        QCOMPARE(where.data(rio::DiagnosticsModel::RegistryNameRole).toString(),
                 QStringLiteral("model-rows"));
        QCOMPARE(where.data(rio::DiagnosticsModel::ThreadRole).toString(), QStringLiteral("notifier"));

        const int b = rowOf(model, id, bounded);
        QVERIFY(b >= 0);
        QCOMPARE(model.index(b, rio::DiagnosticsModel::CallsColumn).data().toULongLong(), 1u);
        QCOMPARE(model.index(b, rio::DiagnosticsModel::DropsColumn).data().toULongLong(), 1u);
        QCOMPARE(model.index(b, 0).data(rio::DiagnosticsModel::DropReasonsRole).toString(),
                 QStringLiteral("overflow 1"));
        QCOMPARE(model.index(b, 0).data(rio::DiagnosticsModel::ConnectionRole).toString(),
                 QStringLiteral("queued"));

        const int t = rowOf(model, id, thrower);
        QVERIFY(t >= 0);
        QCOMPARE(model.index(t, rio::DiagnosticsModel::FailuresColumn).data().toULongLong(), 2u);
        QCOMPARE(model.index(t, rio::DiagnosticsModel::CallsColumn).data().toULongLong(), 2u);
        // Not timed (diagnostics off): no run time shown.
        QCOMPARE(model.index(t, rio::DiagnosticsModel::P99Column).data().toString(), QStringLiteral("–"));
    }

    void sortsAndKeepsSortingAcrossRefreshes()
    {
        rio::QtRegistry<int> registry;
        registry.setObjectName(QStringLiteral("model-sort"));
        QObject receiver;
        const rio::HandlerId quiet =
            registry.add(&receiver, [](int) { }, {.connection = Qt::QueuedConnection});
        const rio::HandlerId dropping = registry.add(
            &receiver, [](int) { },
            {.connection = Qt::QueuedConnection, .capacity = 1, .overflow = rio::Overflow::DropNewest});
        rio::DiagnosticsModel model;
        model.setRefreshInterval(0);
        model.setRegistryFilter(QStringLiteral("model-sort"));
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        const auto firstId = [&] {
            return rio::HandlerId{model.index(0, 0).data(rio::DiagnosticsModel::HandlerIdRole).toULongLong()};
        };
        model.sort(rio::DiagnosticsModel::HandlerColumn, Qt::AscendingOrder);
        QCOMPARE(firstId(), quiet);
        model.sort(rio::DiagnosticsModel::DropsColumn, Qt::DescendingOrder);
        registry.notify(1);
        registry.notify(2);
        registry.notify(3); // `dropping` drops two
        QCoreApplication::sendPostedEvents();
        model.refresh();
        QCOMPARE(firstId(), dropping);
        QCOMPARE(model.index(0, rio::DiagnosticsModel::DropsColumn).data().toULongLong(), 2u);
        model.setSortOrder(Qt::AscendingOrder);
        QCOMPARE(firstId(), quiet);
        QCOMPARE(model.sortColumn(), int(rio::DiagnosticsModel::DropsColumn));
    }

    // A refresh tells views only what changed: one dataChanged, from the first to the last row
    // that changed, naming only the roles that show the change (a QML delegate re-reads those
    // alone); a refresh where nothing changed says nothing.
    void refreshNamesOnlyWhatChanged()
    {
        QObject receiver;
        rio::QtRegistry<int> quiet;
        quiet.setObjectName(QStringLiteral("model-changes-quiet"));
        rio::QtRegistry<int> busy;
        busy.setObjectName(QStringLiteral("model-changes-busy"));
        for (int i = 0; i < 3; ++i)
            quiet.add(&receiver, [](int) { }, {.connection = Qt::QueuedConnection});
        busy.add(&receiver, [](int) { }, {.connection = Qt::QueuedConnection});
        rio::DiagnosticsModel model;
        model.setRefreshInterval(0);
        model.setRegistryFilter(QStringLiteral("model-changes"));
        // By handler id, then registry: quiet's 1, busy's 1, quiet's 2 and 3.
        model.sort(rio::DiagnosticsModel::HandlerColumn, Qt::AscendingOrder);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QCOMPARE(model.rowCount(), 4);
        const int row = rowOf(model, busy.registryId(), rio::HandlerId{1});
        QCOMPARE(row, 1);
        QSignalSpy changes(&model, &QAbstractItemModel::dataChanged);
        QSignalSpy layouts(&model, &QAbstractItemModel::layoutChanged);
        QSignalSpy moves(&model, &QAbstractItemModel::rowsMoved);
        model.refresh();
        QCOMPARE(changes.size(), 0);

        busy.notify(1);
        QCoreApplication::sendPostedEvents();
        model.refresh();
        QCOMPARE(changes.size(), 1);
        QCOMPARE(changes[0][0].value<QModelIndex>(), model.index(row, 0));
        QCOMPARE(changes[0][1].value<QModelIndex>(),
                 model.index(row, rio::DiagnosticsModel::ColumnCount - 1));
        const auto roles = changes[0][2].value<QList<int>>();
        QVERIFY(roles.contains(rio::DiagnosticsModel::CallsRole));
        QVERIFY(roles.contains(Qt::DisplayRole));
        for (const int unchanged :
             {int(rio::DiagnosticsModel::FailuresRole), int(rio::DiagnosticsModel::DropsRole),
              int(rio::DiagnosticsModel::WaitingRole), int(rio::DiagnosticsModel::MaxTextRole),
              int(rio::DiagnosticsModel::SlowRunsRole)})
            QVERIFY2(!roles.contains(unchanged), qPrintable(QString::number(unchanged)));
        QCOMPARE(model.index(row, rio::DiagnosticsModel::CallsColumn).data().toULongLong(), 1u);
        QCOMPARE(layouts.size(), 0);
        QCOMPARE(moves.size(), 0);

        // The QML place a handler gets after its add (as every QML handler does) is a change.
        rio::detail::setHandlerOrigin(busy, rio::HandlerId{1}, QStringLiteral("file:///app/Main.qml"), 42);
        model.refresh();
        QCOMPARE(changes.size(), 2);
        QCOMPARE(changes[1][0].value<QModelIndex>(), model.index(row, 0));
        QCOMPARE(model.index(row, rio::DiagnosticsModel::WhereColumn).data().toString(),
                 QStringLiteral("Main.qml:42"));
    }

    void refreshesOnItsOwnAndFollowsHandlers()
    {
        rio::QtRegistry<int> registry;
        registry.setObjectName(QStringLiteral("model-live"));
        rio::DiagnosticsModel model;
        model.setRegistryFilter(QStringLiteral("model-live"));
        model.setRefreshInterval(20);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QCOMPARE(model.rowCount(), 0);
        QObject receiver;
        const rio::HandlerId h = registry.add(&receiver, [](int) { }, {.connection = Qt::QueuedConnection});
        QTRY_COMPARE(model.rowCount(), 1); // no refresh() called: the timer took the snapshot
        registry.notify(7);
        QCoreApplication::sendPostedEvents();
        QTRY_COMPARE(model.index(0, rio::DiagnosticsModel::CallsColumn).data().toULongLong(), 1u);
        registry.remove(h);
        QTRY_COMPARE(model.rowCount(), 0);
    }

    // The timer's snapshots are taken on the model's worker while other threads add and remove
    // handlers and create and destroy registries: every refresh the worker hands back leaves a
    // well-formed model (QAbstractItemModelTester), never a reset, and a change of order while a
    // snapshot is in flight is kept (the stale rows are dropped, not applied).
    void workerRefreshesStayWellFormedUnderChurn()
    {
        rio::Diagnostics::setEnabled(true); // timed: the longest runs, the default order, keep changing
        const auto spin = [](int round) {
            volatile int sink = 0;
            for (int k = 0; k < (round % 7) * 100; ++k)
                sink = sink + k;
        };
        rio::QtRegistry<int> registry;
        registry.setObjectName(QStringLiteral("model-churn"));
        rio::HandlerId followed;
        for (int i = 0; i < 200; ++i)
            followed = registry.add(spin);
        std::atomic<bool> stop{false};
        std::vector<std::thread> churn;
        for (int t = 0; t < 2; ++t)
            churn.emplace_back([&, t] {
                for (int round = 0; round < 20'000 && !stop.load(); ++round) {
                    const rio::HandlerId id = registry.add(spin);
                    registry.notify(round);
                    if (round % 100 != t) // a few hundred handlers stay
                        registry.remove(id);
                    rio::QtRegistry<int> passing; // registries that come and go
                    passing.setObjectName(QStringLiteral("model-churn-passing"));
                    passing.add([](int) { });
                }
            });
        rio::DiagnosticsModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy resets(&model, &QAbstractItemModel::modelReset);
        QSignalSpy moves(&model, &QAbstractItemModel::rowsMoved);
        int refreshes = 0;
        int unsorted = 0; // refreshes that left two neighbours in the wrong order
        QPersistentModelIndex follower;
        connect(&model, &rio::DiagnosticsModel::refreshed, this, [&] {
            ++refreshes;
            const int column = model.sortColumn();
            for (int r = 1; r < model.rowCount(); ++r) {
                const QVariant a = model.index(r - 1, column).data(Qt::UserRole);
                const QVariant b = model.index(r, column).data(Qt::UserRole);
                if (QVariant::compare(a, b) == QPartialOrdering::Less) { // descending
                    ++unsorted;
                    break;
                }
            }
            if (!follower.isValid()) // a persistent index follows its handler wherever it moves
                follower = model.index(rowOf(model, registry.registryId(), followed), 0);
            if (refreshes % 10 == 0) // the order changes while a snapshot may be in flight
                model.setSortColumn(refreshes % 20 == 0 ? rio::DiagnosticsModel::MaxColumn
                                                        : rio::DiagnosticsModel::CallsColumn);
        });
        model.setRegistryFilter(QStringLiteral("model-churn"));
        model.setRefreshInterval(1);
        QTRY_VERIFY_WITH_TIMEOUT(refreshes >= 80, 120'000);
        stop = true;
        for (std::thread &t : churn)
            t.join();
        QCOMPARE(resets.size(), 0);
        QCOMPARE(unsorted, 0);
        // Rows are moved, not only laid out again. Whether the churn's refreshes moved rows or laid
        // them out again depends on how many fell out of place in each (over 32: laid out again),
        // which the machine's load decides; two handlers that overtake every row by calls move.
        disconnect(&model, &rio::DiagnosticsModel::refreshed, this, nullptr);
        model.setRefreshInterval(0);
        model.sort(rio::DiagnosticsModel::CallsColumn, Qt::DescendingOrder);
        rio::QtRegistry<int> overtaking;
        overtaking.setObjectName(QStringLiteral("model-churn-overtaking"));
        overtaking.add([](int) { });
        overtaking.add([](int) { });
        model.refresh(); // listed last: never called
        const quint64 most =
            model.index(0, rio::DiagnosticsModel::CallsColumn).data(Qt::UserRole).toULongLong();
        for (quint64 i = 0; i <= most; ++i)
            overtaking.notify(0);
        const qsizetype movedBefore = moves.size();
        model.refresh();
        QVERIFY(moves.size() > movedBefore);
        QCOMPARE(resets.size(), 0);
        rio::Diagnostics::setEnabled(false);
        QVERIFY(follower.isValid());
        QCOMPARE(follower.data(rio::DiagnosticsModel::HandlerIdRole).toULongLong(), followed.value());
        qInfo("%d refreshes, %d row moves", refreshes, int(moves.size()));
        // Rows arrive sorted as the model is sorted now.
        model.setRefreshInterval(0);
        model.sort(rio::DiagnosticsModel::HandlerColumn, Qt::AscendingOrder);
        model.refresh();
        for (int r = 1; r < model.rowCount(); ++r) {
            const QModelIndex a = model.index(r - 1, 0), b = model.index(r, 0);
            const auto key = [](const QModelIndex &i) {
                return i.data(rio::DiagnosticsModel::HandlerIdRole).toULongLong();
            };
            QVERIFY(key(a) <= key(b) || a.data(rio::DiagnosticsModel::RegistryIdRole) !=
                                            b.data(rio::DiagnosticsModel::RegistryIdRole));
        }
        QVERIFY(model.applyNs() > 0);
        QVERIFY(model.snapshotNs() > 0);
    }

    // A model destroyed while its worker takes a snapshot (of a thousand handlers, while
    // registries come and go): the destructor waits for the worker, whose rows die with the model
    // and are never applied (ASan runs this test).
    void destroyedWithASnapshotInFlight()
    {
        rio::QtRegistry<int> registry;
        registry.setObjectName(QStringLiteral("model-dying"));
        for (int i = 0; i < 1000; ++i)
            registry.add([](int) { });
        std::atomic<bool> stop{false};
        std::thread churn([&] {
            for (int round = 0; round < 100'000 && !stop.load(); ++round) {
                rio::QtRegistry<int> passing;
                passing.setObjectName(QStringLiteral("model-dying-passing"));
                passing.add([](int) { });
            }
        });
        for (int round = 0; round < 20; ++round) {
            auto model = std::make_unique<rio::DiagnosticsModel>();
            int refreshes = 0;
            connect(model.get(), &rio::DiagnosticsModel::refreshed, this, [&] { ++refreshes; });
            model->setRefreshInterval(1);
            // One to three of the worker's refreshes, then a tick more: most rounds end while
            // the next snapshot is being taken.
            QTRY_VERIFY_WITH_TIMEOUT(refreshes >= 1 + round % 3, 60'000);
            QCoreApplication::processEvents();
            QCOMPARE(model->rowCount() >= 1000, true);
            model.reset();
            QCoreApplication::processEvents(); // what the worker posted died with the model
        }
        stop = true;
        churn.join();
    }

    // Registries given (another process's snapshots, as an attached inspector receives them)
    // replace this process's: given faster than the worker applies them (each while one is in
    // flight), the newest wins, the model stays well formed (never a reset), this process's
    // handlers never show meanwhile, the filter applies, and setLocal(true) brings them back.
    void givenSnapshotsReplaceThisProcessAndTheNewestWins()
    {
        rio::QtRegistry<int> local;
        local.setObjectName(QStringLiteral("model-local"));
        const rio::HandlerId mine = local.add([](int) { });
        rio::DiagnosticsModel model;
        model.setRefreshInterval(1);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        connect(&model, &QAbstractItemModel::modelAboutToBeReset, this, [] { QFAIL("a reset"); });
        QTRY_VERIFY_WITH_TIMEOUT(rowOf(model, local.registryId(), mine) >= 0, 30'000);
        QSignalSpy localChanged(&model, &rio::DiagnosticsModel::localChanged);

        const auto given = [](int round) {
            QList<rio::RegistryInfo> registries;
            for (int r = 0; r < 2; ++r) {
                rio::RegistryInfo registry;
                registry.id = 1'000'000 + r;
                registry.name = r == 0 ? QStringLiteral("given-a") : QStringLiteral("given-b");
                for (int h = 1; h <= 1 + (round * 7 + r) % 40; ++h) {
                    rio::HandlerInfo handler;
                    handler.registryId = registry.id;
                    handler.registryName = registry.name;
                    handler.id = rio::HandlerId(quint64(h));
                    handler.file = QStringLiteral("/elsewhere/app.cpp");
                    handler.line = h;
                    handler.calls = quint64(round);
                    registry.handlers.append(handler);
                }
                registries.append(registry);
            }
            return registries;
        };
        constexpr int rounds = 300;
        qsizetype expected = 0;
        for (int round = 1; round <= rounds; ++round) {
            const QList<rio::RegistryInfo> registries = given(round);
            expected = registries[0].handlers.size() + registries[1].handlers.size();
            model.setSnapshot(registries);
            if (round % 3 == 0)
                QCoreApplication::processEvents(); // some applied, most given while one is in flight
            QCOMPARE(rowOf(model, local.registryId(), mine), -1);
        }
        QVERIFY(!model.isLocal());
        QCOMPARE(localChanged.size(), 1);
        const auto newest = [&] {
            if (model.rowCount() != expected)
                return false;
            for (int r = 0; r < model.rowCount(); ++r)
                if (model.index(r, 0).data(rio::DiagnosticsModel::CallsRole).toULongLong() != quint64(rounds))
                    return false;
            return true;
        };
        QTRY_VERIFY_WITH_TIMEOUT(newest(), 30'000);
        QCOMPARE(model.index(0, 0).data(rio::DiagnosticsModel::WhereRole).toString().section(u':', 0, 0),
                 QStringLiteral("app.cpp"));

        model.setRegistryFilter(QStringLiteral("given-b"));
        QCOMPARE(model.rowCount(), given(rounds)[1].handlers.size());
        model.setRegistryFilter({});

        model.setLocal(true);
        QCOMPARE(localChanged.size(), 2);
        QVERIFY(rowOf(model, local.registryId(), mine) >= 0);
        QCOMPARE(rowOf(model, 1'000'000, rio::HandlerId(1)), -1);
        model.setLocal(false); // the registries last given
        QCOMPARE(rowOf(model, local.registryId(), mine), -1);
        QVERIFY(rowOf(model, 1'000'000, rio::HandlerId(1)) >= 0);
        model.setSnapshot({});
        QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 0, 30'000);
    }

    // Registries given with a handler twice (a broken or hostile peer's snapshot: the same
    // registry and handler id, or a handler with id 0 beside the "removed handlers" row) show it
    // once, the first given, and the model stays consistent with its views across refreshes that
    // reorder every row (more moves than one layout change replaces) and keep a row persistent.
    void aHandlerGivenTwiceIsShownOnce()
    {
        rio::DiagnosticsModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        constexpr int handlers = 60;
        const auto given = [](int round) {
            rio::RegistryInfo registry;
            registry.id = 2'000'000;
            registry.name = QStringLiteral("twice");
            registry.removedHandlerDrops[0] = 1; // the row with handler id 0
            for (int h = 0; h < handlers; ++h) {
                rio::HandlerInfo handler;
                handler.registryId = registry.id;
                handler.registryName = registry.name;
                handler.id = rio::HandlerId(quint64(h < 3 ? 1 : h == 3 ? 0 : h)); // 1 three times, one 0
                handler.file = QStringLiteral("peer.cpp");
                handler.line = h + 1;
                handler.timed = true;
                handler.runTime.count = 1;
                handler.runTime.maxNs = quint64(round % 2 == 0 ? h + 1 : handlers - h) * 1000;
                registry.handlers.append(handler);
            }
            return QList<rio::RegistryInfo>{registry};
        };
        constexpr int shown = handlers - 2 - 1 + 1; // id 1 once, no id 0 handler, the removed row
        QPersistentModelIndex last;
        for (int round = 0; round < 6; ++round) {
            QSignalSpy refreshed(&model, &rio::DiagnosticsModel::refreshed);
            model.setSnapshot(given(round));
            if (round > 0)
                QVERIFY(refreshed.wait(30'000));
            QCOMPARE(model.rowCount(), shown);
            last = model.index(model.rowCount() - 1, 0);
            const int row = rowOf(model, 2'000'000, rio::HandlerId(1));
            QVERIFY(row >= 0);
            QCOMPARE(model.index(row, 0).data(rio::DiagnosticsModel::WhereRole).toString(),
                     QStringLiteral("peer.cpp:1"));
        }
    }

    void formatsDurations()
    {
        QCOMPARE(rio::DiagnosticsModel::formatDuration(850), QStringLiteral("850 ns"));
        QCOMPARE(rio::DiagnosticsModel::formatDuration(12'300), QStringLiteral("12.3 µs"));
        QCOMPARE(rio::DiagnosticsModel::formatDuration(4'100'000), QStringLiteral("4.10 ms"));
        QCOMPARE(rio::DiagnosticsModel::formatDuration(2e9), QStringLiteral("2.0 s"));
    }
};

QTEST_GUILESS_MAIN(TestDiagnosticsModel)
#include "tst_diagnostics_model.moc"
