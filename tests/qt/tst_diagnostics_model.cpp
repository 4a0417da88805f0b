// SPDX-License-Identifier: MIT
// rio::DiagnosticsModel: a well-formed model (QAbstractItemModelTester) whose rows are the live
// registries' handlers with where they were added, their counters and run times; it refreshes on
// its own at refreshInterval, sorts and keeps sorting across refreshes, and filters by registry.
#include <registryio/qt/diagnostics_model.h>
#include <registryio/qt/qt_registry.h>

#include <QAbstractItemModelTester>
#include <QCoreApplication>
#include <QObject>
#include <QTest>

#include <stdexcept>

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
