// SPDX-License-Identifier: MIT
// RIO_QML_TYPED_REGISTRY: a typed registry and handler in QML, delivery in priority order from
// QML, the engine thread and a worker, refused input, coalescing, and a registry that dies first.

#include "qml_test_support.h"

#include <registryio/qml/qml_typed_registry.h>

#include <QPointer>
#include <QQmlComponent>
#include <QTest>

#include <thread>

/// The event: a gadget QML knows the properties of.
struct Reading
{
    Q_GADGET
    QML_VALUE_TYPE(reading)
    Q_PROPERTY(QString sensor MEMBER sensor FINAL)
    Q_PROPERTY(double value MEMBER value FINAL)

public:
    QString sensor;
    double value = 0;
};

RIO_QML_TYPED_REGISTRY(ReadingRegistry, Reading)

namespace {

const char *const kQml = R"(
import QtQml
import RioTypedTest
QtObject {
    id: root
    property string trace: ""
    property ReadingRegistry readings: ReadingRegistry {}
    property ReadingRegistryHandler low: ReadingRegistryHandler {
        registry: root.readings
        onNotified: (event) => root.record("low", event)
    }
    property ReadingRegistryHandler high: ReadingRegistryHandler {
        registry: root.readings
        priority: 10
        onNotified: (event) => root.record("high", event)
    }
    property ReadingRegistryHandler latest: ReadingRegistryHandler {
        registry: root.readings
        coalesce: true
        enabled: false
        onNotified: (event) => root.record("latest", event)
    }
    function record(tag: string, event: reading) { trace += tag + ":" + event.sensor + "=" + event.value + ";" }
}
)";

} // namespace

class tst_QmlTyped : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QQmlEngine> m_engine;
    std::unique_ptr<QObject> m_root;

    ReadingRegistry *readings() const { return m_root->property("readings").value<ReadingRegistry *>(); }
    // A const registry gives a const facade: its counts and drop counts are readable.
    static_assert(std::is_same_v<decltype(std::declval<const ReadingRegistry &>().registry()),
                                 const rio::QtRegistry<Reading> &>);
    QString trace() const { return m_root->property("trace").toString(); }

private Q_SLOTS:
    void initTestCase()
    {
        qmlRegisterType<ReadingRegistry>("RioTypedTest", 1, 0, "ReadingRegistry");
        qmlRegisterType<ReadingRegistryHandler>("RioTypedTest", 1, 0, "ReadingRegistryHandler");
        qmlRegisterType<Reading>("RioTypedTest", 1, 0, "reading");
    }

    void init()
    {
        m_engine = rio::test::makeEngine();
        QQmlComponent component(m_engine.get());
        component.setData(kQml, QUrl(QStringLiteral("typed.qml")));
        QVERIFY2(component.isReady(), qPrintable(component.errorString()));
        m_root.reset(component.create());
        QVERIFY(m_root);
    }

    void cleanup()
    {
        m_root.reset();
        m_engine.reset();
    }

    void typedEventsArriveInPriorityOrder()
    {
        QCOMPARE(readings()->count(), 2);
        readings()->notify(Reading{QStringLiteral("t1"), 21.5});
        QCOMPARE(trace(), QStringLiteral("high:t1=21.5;low:t1=21.5;"));
        // From QML, an object naming the gadget's properties.
        QVERIFY(rio::test::eval(m_root.get(), QStringLiteral("readings.notify({ sensor: 't2', value: 3 })"))
                    .toBool());
        QCOMPARE(trace(), QStringLiteral("high:t1=21.5;low:t1=21.5;high:t2=3;low:t2=3;"));
    }

    void badInputIsRefusedAndChangesNothing()
    {
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("the event is not a Reading")));
        QVERIFY(
            !rio::test::eval(m_root.get(), QStringLiteral("readings.notify({ colour: 'red' })")).toBool());
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("the event is not a Reading")));
        QVERIFY(!rio::test::eval(m_root.get(), QStringLiteral("readings.notify(42)")).toBool());
        QCOMPARE(trace(), QString());
    }

    void workerEventsAreQueuedAndCoalescedOnRequest()
    {
        m_root->property("latest").value<QObject *>()->setProperty("enabled", true);
        QCOMPARE(readings()->count(), 3);
        // The engine thread is in join() while the worker notifies: every delivery is pending.
        std::thread worker([registry = readings()] {
            for (int i = 1; i <= 3; ++i)
                registry->notify(Reading{QStringLiteral("w"), double(i)});
        });
        worker.join();
        QCOMPARE(trace(), QString());
        QTRY_COMPARE(trace().count(QStringLiteral("low:")), 3);
        QCOMPARE(trace().count(QStringLiteral("high:")), 3);
        QCOMPARE(trace().count(QStringLiteral("latest:")), 1);
        QVERIFY(trace().contains(QStringLiteral("latest:w=3;")));
    }

    void boundedTypedHandlerDropsPastItsCapacity()
    {
        QObject *high = m_root->property("high").value<QObject *>();
        QCOMPARE(high->property("capacity").toInt(), 1000000);
        rio::test::eval(
            m_root.get(),
            QStringLiteral("high.capacity = 2; high.overflow = ReadingRegistryHandler.DropNewest"));
        QCOMPARE(high->property("capacity").toInt(), 2);
        QCOMPARE(high->property("overflow").toInt(), int(ReadingRegistryHandler::DropNewest));
        QCOMPARE(readings()->count(), 2);
        // A bad value warns at the handler's declaration and changes nothing.
        QTest::ignoreMessage(QtWarningMsg,
                             QRegularExpression(QStringLiteral(
                                 "typed.qml:\\d+:\\d+: QML ReadingRegistryHandler: capacity must "
                                 "not be negative, got -4; it stays 2 \\(0: unbounded\\)$")));
        rio::test::eval(m_root.get(), QStringLiteral("high.capacity = -4"));
        QCOMPARE(high->property("capacity").toInt(), 2);
        QTest::ignoreMessage(QtWarningMsg,
                             QRegularExpression(QStringLiteral("queued deliveries dropped so far")));
        std::thread worker([registry = readings()] {
            for (int i = 1; i <= 5; ++i)
                registry->notify(Reading{QStringLiteral("w"), double(i)});
        });
        worker.join();
        QTRY_COMPARE(trace().count(QStringLiteral("low:")), 5);
        QCoreApplication::processEvents();
        QCOMPARE(trace().count(QStringLiteral("high:")), 2);
        QVERIFY(trace().contains(QStringLiteral("high:w=1;")));
        QVERIFY(trace().contains(QStringLiteral("high:w=2;")));
    }

    void handlersOutliveTheirRegistryInertly()
    {
        auto *low = m_root->property("low").value<QObject *>();
        QVERIFY(low->property("active").toBool());
        QPointer<ReadingRegistry> registry = readings();
        delete registry.data();
        QVERIFY(!low->property("active").toBool());
        QCOMPARE(low->property("registry").value<QObject *>(), nullptr);
        QCOMPARE(trace(), QString());
    }
};

QTEST_MAIN(tst_QmlTyped)
#include "tst_qml_typed.moc"
