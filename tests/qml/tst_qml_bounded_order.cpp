// SPDX-License-Identifier: MIT
// Priority order holds for every event when one typed handler has a bounded queue that drops:
// the higher-priority handler always runs first for the same event, whatever the lower one drops.

#include "qml_test_support.h"

#include <registryio/qml/qml_typed_registry.h>

#include <QQmlComponent>
#include <QTest>

#include <map>
#include <thread>
#include <vector>

RIO_QML_TYPED_REGISTRY(TickRegistry, int)

namespace {

const char *const kQml = R"(
import QtQml
import RioBoundedOrder
QtObject {
    id: root
    required property var probe
    property TickRegistry ticks: TickRegistry {}
    property TickRegistryHandler high: TickRegistryHandler {
        registry: root.ticks
        priority: 100
        onNotified: (event) => root.probe.record(1, event)
    }
    property TickRegistryHandler low: TickRegistryHandler {
        registry: root.ticks
        priority: 10
        capacity: 200
        overflow: TickRegistryHandler.DropOldest
        onNotified: (event) => root.probe.record(0, event)
    }
}
)";

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kEvents = 3000;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
constexpr int kEvents = 3000;
#else
constexpr int kEvents = 20000;
#endif
#else
constexpr int kEvents = 20000;
#endif

} // namespace

/// Records (handler, event) in the order the handlers ran (engine thread only).
class OrderProbe : public QObject
{
    Q_OBJECT

public:
    Q_INVOKABLE void record(int high, int event)
    {
        runs.emplace_back(high != 0, event);
        (high != 0 ? lastHigh : lastLow) = event;
    }
    std::vector<std::pair<bool, int>> runs;
    int lastHigh = 0;
    int lastLow = 0;
};

class tst_QmlBoundedOrder : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        qmlRegisterType<TickRegistry>("RioBoundedOrder", 1, 0, "TickRegistry");
        qmlRegisterType<TickRegistryHandler>("RioBoundedOrder", 1, 0, "TickRegistryHandler");
    }

    void theHigherPriorityRunsFirstForEveryEventWhileTheLowerDrops_data()
    {
        QTest::addColumn<bool>("deliverMeanwhile");
        QTest::newRow("engine thread delivers while the worker notifies") << true;
        QTest::newRow("every event queued before the engine thread delivers") << false;
    }

    void theHigherPriorityRunsFirstForEveryEventWhileTheLowerDrops()
    {
        QFETCH(bool, deliverMeanwhile);
        auto engine = rio::test::makeEngine();
        OrderProbe probe;
        QQmlComponent component(engine.get());
        component.setData(kQml, QUrl(QStringLiteral("qrc:/bounded_order.qml")));
        std::unique_ptr<QObject> root(component.createWithInitialProperties(
            {{QStringLiteral("probe"), QVariant::fromValue<QObject *>(&probe)}}));
        QVERIFY2(root, qPrintable(component.errorString()));
        auto *ticks = root->property("ticks").value<TickRegistry *>();
        QVERIFY(ticks);
        // The lower handler's queue overflows while the engine thread delivers: its drops are
        // logged.
        QTest::ignoreMessage(
            QtWarningMsg, QRegularExpression(QStringLiteral(
                              "^handler \\d+ of registry \\d+ .*: \\d+ queued deliveries dropped so far")));
        std::jthread worker([ticks] {
            for (int i = 1; i <= kEvents; ++i)
                ticks->notify(i);
        });
        if (!deliverMeanwhile)
            worker.join();
        // Delivers while the worker notifies, until both handlers have the last event (the
        // lower one drops its oldest, never the newest).
        QTRY_VERIFY_WITH_TIMEOUT(probe.lastHigh == kEvents && probe.lastLow == kEvents, 60000);
        if (worker.joinable())
            worker.join();
        QCoreApplication::processEvents();

        std::map<int, std::size_t> highAt; // event -> position of the higher handler's run
        int highRuns = 0;
        int lowRuns = 0;
        int lowFirst = 0;
        for (std::size_t i = 0; i < probe.runs.size(); ++i) {
            const auto [high, event] = probe.runs[i];
            if (high) {
                highAt.emplace(event, i);
                ++highRuns;
                continue;
            }
            ++lowRuns;
            const auto it = highAt.find(event);
            if (it == highAt.end() || it->second > i)
                ++lowFirst;
        }
        QCOMPARE(highRuns, kEvents); // unbounded: every event
        QVERIFY(lowRuns > 0);
        QCOMPARE(lowFirst, 0);
        // Every event the lower one did not receive was dropped, and counted.
        auto *low = root->property("low").value<QObject *>();
        QCOMPARE(low->property("dropped").toDouble(), double(kEvents - lowRuns));
        QCOMPARE(root->property("high").value<QObject *>()->property("dropped").toDouble(), 0.0);
        if (deliverMeanwhile)
            return;
        // Everything was queued before any delivery: the lower one kept only its last 200.
        QCOMPARE(lowRuns, 200);
    }
};

QTEST_MAIN(tst_QmlBoundedOrder)
#include "tst_qml_bounded_order.moc"
