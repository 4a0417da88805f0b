// SPDX-License-Identifier: MIT
// RIO_QML_TYPED_REGISTRY: a typed registry and handler in QML, delivery in priority order from
// QML, the engine thread and a worker, refused input, coalescing, and a registry that dies first;
// every property of the typed handler and registry: its default, a change at run time and its
// effect, and a bad value that warns and changes nothing.

#include "qml_test_support.h"

#include <registryio/qml/qml_typed_registry.h>
#include <registryio/qml/registry_handler.h>

#include <QElapsedTimer>
#include <QPointer>
#include <QProperty>
#include <QQmlComponent>
#include <QSignalSpy>
#include <QTest>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

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
RIO_QML_TYPED_REGISTRY(CountRegistry, int)

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
    property var seen: []
    property CountRegistry counts: CountRegistry {}
    property CountRegistryHandler countHandler: CountRegistryHandler {
        registry: root.counts
        onNotified: (event) => root.trace += "count:" + event + ";"
    }
    function notifyBadly() {
        return readings.notify(42) // BAD NOTIFY
    }
    property ReadingRegistryHandler thrower: ReadingRegistryHandler {
        registry: root.readings
        enabled: false
        priority: 5
        onNotified: (event) => { throw new Error("signal refused " + event.sensor) } // SIGNAL THROWS
    }
    property var subscription: null
    function addBadly() {
        return readings.add(5) // BAD ADD
    }
    function addWithBadOptions() {
        return readings.add((e) => trace += "never;", 0, { capacity: -1 }) // BAD OPTIONS
    }
    function throwingHandler(event) {
        throw new Error("refused " + event.sensor) // THROWS
    }
}
)";

int lineOf(const char *marker)
{
    const QString text = QString::fromUtf8(kQml);
    return int(text.left(text.indexOf(QLatin1String(marker))).count(QLatin1Char('\n'))) + 1;
}

// A handler body that announces it runs for event 1 and stays in until removeAndWait returned (a
// broken promise) or a window passed: a window for the failure to show, never a synchronisation.
class Blocker : public QObject
{
    Q_OBJECT

public:
    Q_INVOKABLE void run(int event)
    {
        std::unique_lock lock(mutex);
        if (event != 1)
            return;
        entered = true;
        changed.notify_all();
        if (changed.wait_for(lock, std::chrono::milliseconds(500), [&] { return removeReturned; }))
            returnedWhileRunning = true;
    }

    // Takes the facade of `registry` (a CountRegistry) on the calling thread.
    Q_INVOKABLE void takeFacade(QObject *registry)
    {
        static_cast<void>(qobject_cast<CountRegistry *>(registry)->registry());
    }

    std::mutex mutex;
    std::condition_variable changed;
    bool entered = false;
    bool removeReturned = false;
    bool returnedWhileRunning = false;
};

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
    QObject *handler(const char *name) const { return m_root->property(name).value<QObject *>(); }
    QVariant eval(const QString &expression) const { return rio::test::eval(m_root.get(), expression); }
    void notifyHere(double value) { readings()->notify(Reading{QStringLiteral("s"), value}); }

private Q_SLOTS:
    void initTestCase()
    {
        qmlRegisterType<ReadingRegistry>("RioTypedTest", 1, 0, "ReadingRegistry");
        qmlRegisterType<ReadingRegistryHandler>("RioTypedTest", 1, 0, "ReadingRegistryHandler");
        qmlRegisterType<Reading>("RioTypedTest", 1, 0, "reading");
        qmlRegisterType<CountRegistry>("RioTypedTest", 1, 0, "CountRegistry");
        qmlRegisterType<CountRegistryHandler>("RioTypedTest", 1, 0, "CountRegistryHandler");
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
        // An empty object, one key of several unknown, an array, a function, a wrapped C++ value
        // (a QPointF, a date): refused too.
        for (const char *bad : {"{}", "{ sensor: 'x', colour: 'red' }", "[1, 2]", "(e) => e",
                                "Qt.point(1, 2)", "new Date(0)"}) {
            QTest::ignoreMessage(QtWarningMsg,
                                 QRegularExpression(QStringLiteral("the event is not a Reading")));
            QVERIFY2(!eval(QStringLiteral("readings.notify(%1)").arg(QLatin1String(bad))).toBool(), bad);
        }
        // A value that does not convert to its property's type is refused.
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("the event is not a Reading")));
        QVERIFY(!eval(QStringLiteral("readings.notify({ sensor: 's', value: {} })")).toBool());
        QCOMPARE(trace(), QString());
        // Keys in any order.
        QVERIFY(eval(QStringLiteral("readings.notify({ value: 2, sensor: 'k' })")).toBool());
        QCOMPARE(trace(), QStringLiteral("high:k=2;low:k=2;"));
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

    void everyPropertyHasItsDefault()
    {
        QObject *low = handler("low");
        QCOMPARE(low->property("registry").value<QObject *>(), readings());
        QCOMPARE(low->property("priority").toInt(), 0);
        QCOMPARE(low->property("enabled").toBool(), true);
        QCOMPARE(low->property("once").toBool(), false);
        QCOMPARE(low->property("coalesce").toBool(), false);
        QCOMPARE(low->property("capacity").toInt(), 1000000);
        QCOMPARE(low->property("overflow").toInt(), int(ReadingRegistryHandler::DropOldest));
        QCOMPARE(low->property("blockTimeout").toInt(), 1000);
        QCOMPARE(low->property("minInterval").toInt(), 0);
        QCOMPARE(low->property("dropped").toDouble(), 0.0);
        QCOMPARE(low->property("active").toBool(), true);
        QVERIFY(low->property("handlerId").toDouble() >= 1.0);
        QVERIFY(eval(QStringLiteral("low.handler === undefined")).toBool());
        QCOMPARE(handler("latest")->property("handlerId").toDouble(), 0.0); // not registered
        QCOMPARE(readings()->property("count").toInt(), 2);
        QVERIFY(
            readings()->registry().contains(rio::HandlerId{quint64(low->property("handlerId").toDouble())}));
    }

    void typedAndQVariantHandlersHaveTheSameProperties()
    {
        // Both handler classes take every property but `registry` from one base: the typed one
        // has each of RegistryHandler's properties, of the same type, and the same `registry`.
        const QMetaObject &typed = ReadingRegistryHandler::staticMetaObject;
        const QMetaObject &plain = rio::RegistryHandler::staticMetaObject;
        QCOMPARE(typed.propertyCount(), plain.propertyCount());
        for (int i = QObject::staticMetaObject.propertyCount(); i < plain.propertyCount(); ++i) {
            const QMetaProperty property = plain.property(i);
            const int index = typed.indexOfProperty(property.name());
            QVERIFY2(index >= 0, property.name());
            if (QByteArray(property.name()) != "registry") {
                QCOMPARE(typed.property(index).metaType(), property.metaType());
                QCOMPARE(typed.property(index).isWritable(), property.isWritable());
                QCOMPARE(typed.property(index).hasNotifySignal(), property.hasNotifySignal());
            }
        }
    }

    void priorityChangedAtRunTimeReorders()
    {
        QObject *low = handler("low");
        QSignalSpy changed(low, SIGNAL(priorityChanged()));
        const double before = low->property("handlerId").toDouble();
        eval(QStringLiteral("low.priority = 20"));
        QCOMPARE(changed.count(), 1);
        QCOMPARE(low->property("priority").toInt(), 20);
        QVERIFY(low->property("handlerId").toDouble() != before); // registered again
        QCOMPARE(readings()->count(), 2);
        notifyHere(1);
        QCOMPARE(trace(), QStringLiteral("low:s=1;high:s=1;"));
    }

    void enabledUnregistersAndRegistersAgain()
    {
        QObject *low = handler("low");
        QSignalSpy active(low, SIGNAL(activeChanged()));
        eval(QStringLiteral("low.enabled = false"));
        QCOMPARE(active.count(), 1);
        QCOMPARE(low->property("active").toBool(), false);
        QCOMPARE(low->property("handlerId").toDouble(), 0.0);
        QCOMPARE(readings()->count(), 1);
        notifyHere(1);
        QCOMPARE(trace(), QStringLiteral("high:s=1;"));
        eval(QStringLiteral("low.enabled = true"));
        QCOMPARE(low->property("active").toBool(), true);
        QCOMPARE(readings()->count(), 2);
        notifyHere(2);
        QCOMPARE(trace(), QStringLiteral("high:s=1;high:s=2;low:s=2;"));
    }

    void onceRunsForOneEventAndEnabledReArmsIt()
    {
        QObject *low = handler("low");
        QSignalSpy onceChanged(low, SIGNAL(onceChanged()));
        eval(QStringLiteral("low.once = true"));
        QCOMPARE(onceChanged.count(), 1);
        QVERIFY(low->property("active").toBool());
        notifyHere(1);
        QVERIFY(!low->property("active").toBool());
        QCOMPARE(low->property("handlerId").toDouble(), 0.0);
        QCOMPARE(readings()->count(), 1);
        notifyHere(2);
        QCOMPARE(trace(), QStringLiteral("high:s=1;low:s=1;high:s=2;"));
        eval(QStringLiteral("low.enabled = false; low.enabled = true")); // re-armed
        notifyHere(3);
        notifyHere(4);
        QCOMPARE(trace(), QStringLiteral("high:s=1;low:s=1;high:s=2;high:s=3;low:s=3;high:s=4;"));
        // From a worker: one queued delivery, then none.
        eval(QStringLiteral("low.enabled = false; low.enabled = true"));
        std::thread worker([registry = readings()] {
            for (int i = 5; i <= 7; ++i)
                registry->notify(Reading{QStringLiteral("w"), double(i)});
        });
        worker.join();
        QTRY_COMPARE(trace().count(QStringLiteral("high:w")), 3);
        QCoreApplication::processEvents();
        QCOMPARE(trace().count(QStringLiteral("low:w")), 1);
        QVERIFY(trace().contains(QStringLiteral("low:w=5;")));
    }

    void handlerFunctionReplacesTheSignalAndSharesOneValuePerNotify()
    {
        QSignalSpy changed(handler("high"), SIGNAL(handlerChanged()));
        eval(QStringLiteral("high.handler = (e) => { seen.push(e); trace += 'fh:' + e.value + ';' };"
                            "low.handler = (e) => { seen.push(e); trace += 'fl:' + e.value + ';' }"));
        QCOMPARE(changed.count(), 1);
        QVERIFY(eval(QStringLiteral("typeof high.handler === 'function'")).toBool());
        notifyHere(1);
        QCOMPARE(trace(), QStringLiteral("fh:1;fl:1;")); // in priority order, no notified signal
        QVERIFY(eval(QStringLiteral("readings.notify({ sensor: 'j', value: 2 })")).toBool());
        QCOMPARE(trace(), QStringLiteral("fh:1;fl:1;fh:2;fl:2;"));
        // One JavaScript value per notify, shared by its handlers; a new one for the next notify.
        QCOMPARE(eval(QStringLiteral("seen.length")).toInt(), 4);
        QVERIFY(eval(QStringLiteral("seen[0] === seen[1] && seen[2] === seen[3] && seen[0] !== seen[2]"))
                    .toBool());
        QCOMPARE(eval(QStringLiteral("seen[3].sensor")).toString(), QStringLiteral("j"));
        // A value that is not a function warns and changes nothing.
        QTest::ignoreMessage(
            QtWarningMsg, QRegularExpression(QStringLiteral("QML ReadingRegistryHandler: handler must be a "
                                                            "function \\(or null for the notified signal\\), "
                                                            "got a number; the handler is unchanged$")));
        eval(QStringLiteral("high.handler = 5"));
        QCOMPARE(changed.count(), 1);
        QVERIFY(eval(QStringLiteral("typeof high.handler === 'function'")).toBool());
        // null gives the signal back.
        eval(QStringLiteral("high.handler = null"));
        QCOMPARE(changed.count(), 2);
        notifyHere(3);
        QCOMPARE(trace(), QStringLiteral("fh:1;fl:1;fh:2;fl:2;high:s=3;fl:3;"));
        // From a worker too (each queued delivery runs the function).
        std::thread worker([registry = readings()] { registry->notify(Reading{QStringLiteral("w"), 4}); });
        worker.join();
        QTRY_VERIFY(trace().endsWith(QStringLiteral("high:w=4;fl:4;")));
    }

    void handlerFunctionThatThrowsIsReportedAtItsLineAndTheOthersRun()
    {
        QSignalSpy failed(readings(), &ReadingRegistry::handlerFailed);
        eval(QStringLiteral("high.handler = throwingHandler"));
        const double id = handler("high")->property("handlerId").toDouble();
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("typed.qml:%1: "
                                                                             "RegistryIO: handler %2 threw: "
                                                                             "Error: refused s$")
                                                                  .arg(lineOf("// THROWS"))
                                                                  .arg(id)));
        notifyHere(1);
        QCOMPARE(trace(), QStringLiteral("low:s=1;"));
        QCOMPARE(failed.count(), 0); // emitted after the notify, from the event loop
        QTRY_COMPARE(failed.count(), 1);
        QCOMPARE(failed.at(0).at(0).toDouble(), id);
        QCOMPARE(failed.at(0).at(1).toString(), QStringLiteral("Error: refused s"));
    }

    void handlerFailedIsAQueuedSignal_data()
    {
        QTest::addColumn<bool>("fromWorker");
        QTest::newRow("notified here") << false;
        QTest::newRow("notified from a worker") << true;
    }

    void handlerFailedIsAQueuedSignal()
    {
        // Emitted once, after the other handlers, by the event loop's first pass after a notify
        // made here (waited for as any signal after a worker's).
        QFETCH(bool, fromWorker);
        QObject *const root = m_root.get();
        QSignalSpy failed(readings(), &ReadingRegistry::handlerFailed);
        connect(readings(), &ReadingRegistry::handlerFailed, root, [root] {
            root->setProperty("trace", root->property("trace").toString() + QLatin1String("failed;"));
        });
        eval(QStringLiteral("high.handler = throwingHandler"));
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("threw: Error: refused [sw]$")));
        if (fromWorker) {
            std::thread worker(
                [registry = readings()] { registry->notify(Reading{QStringLiteral("w"), 1}); });
            worker.join();
            QVERIFY(failed.wait(20000));
        } else {
            notifyHere(1);
            QCOMPARE(trace(), QStringLiteral("low:s=1;"));
            QCoreApplication::processEvents();
        }
        const QString expected =
            fromWorker ? QStringLiteral("low:w=1;failed;") : QStringLiteral("low:s=1;failed;");
        QCOMPARE(trace(), expected);
        QCoreApplication::processEvents();
        QCOMPARE(trace(), expected);
        QCOMPARE(failed.size(), 1);
    }

    void handlerFailedMayComeInsideANestedEventLoopOfAHandler()
    {
        // The C++ handler at 5 runs a nested event loop (a modal dialog's exec()): the loop emits
        // the failure of the handler at 10, as it runs any queued signal, before the later ones.
        QObject *const root = m_root.get();
        const auto append = [root](const char *what) {
            root->setProperty("trace", root->property("trace").toString() + QLatin1String(what));
        };
        connect(readings(), &ReadingRegistry::handlerFailed, root, [append] { append("failed;"); });
        readings()->registry().add(readings(),
                                   [append](const Reading &) {
                                       append("mid;");
                                       rio::test::runNestedEventLoop();
                                   },
                                   {.priority = 5});
        readings()->registry().add(readings(), [append](const Reading &) { append("mid3;"); },
                                   {.priority = 3});
        eval(QStringLiteral("high.handler = throwingHandler"));
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("threw: Error: refused s$")));
        notifyHere(1);
        QCOMPARE(trace(), QStringLiteral("mid;failed;mid3;low:s=1;"));
        QCoreApplication::processEvents();
        QCOMPARE(trace(), QStringLiteral("mid;failed;mid3;low:s=1;"));
    }

    void latestIsTheNewestTypedEventAtMostOncePerEventLoopTurn()
    {
        // `text: readings.latest.value` on a typed registry: the gadget's properties, bound;
        // one change for what several threads notified between two turns, the last one shown.
        QQmlComponent component(m_engine.get());
        component.setData(
            "import QtQml\nimport RioTypedTest\nQtObject {\n"
            "    property ReadingRegistry feed: ReadingRegistry { onLatestChanged: changes += 1 }\n"
            "    property int changes: 0\n"
            "    property string text: feed.latest ? feed.latest.sensor + '=' + feed.latest.value : ''\n"
            "}\n",
            QUrl(QStringLiteral("latest.qml")));
        std::unique_ptr<QObject> root(component.create());
        QVERIFY2(root, qPrintable(component.errorString()));
        auto *feed = root->property("feed").value<ReadingRegistry *>();
        QVERIFY(feed);
        QCOMPARE(root->property("text").toString(), QString());
        QCOMPARE(feed->count(), 0);
        const auto sender = feed->sender();
        {
            std::vector<std::thread> writers;
            for (int w = 0; w < 3; ++w)
                writers.emplace_back([&, w] {
                    for (int i = 0; i < 1000; ++i)
                        sender.notify(Reading{QStringLiteral("w%1").arg(w), double(i)});
                });
            for (std::thread &t : writers)
                t.join();
        }
        std::thread([&] { sender.notify(Reading{QStringLiteral("last"), 2.5}); }).join();
        QTRY_COMPARE(root->property("text").toString(), QStringLiteral("last=2.5"));
        QCoreApplication::processEvents();
        QCOMPARE(root->property("changes").toInt(), 1);
        feed->notify(Reading{QStringLiteral("here"), 1});
        feed->notify(Reading{QStringLiteral("here"), 2});
        QTRY_COMPARE(root->property("text").toString(), QStringLiteral("here=2"));
        QCOMPARE(root->property("changes").toInt(), 2);
        QCOMPARE(feed->count(), 0);
    }

    void badNotifyWarnsAtTheCallersLine()
    {
        QTest::ignoreMessage(
            QtWarningMsg,
            QRegularExpression(QStringLiteral("typed.qml:%1: ReadingRegistry.notify: "
                                              "the event is not a Reading; nothing was delivered$")
                                   .arg(lineOf("// BAD NOTIFY"))));
        QVERIFY(!eval(QStringLiteral("notifyBadly()")).toBool());
        QCOMPARE(trace(), QString());
    }

    void latestKeepsFollowingWhenCxxClearsTheRegistry()
    {
        // As on a QmlRegistry: a C++ clear() does not end `latest`'s following, and its
        // handler's id (never given out) removes nothing from QML.
        CountRegistry counts;
        QVERIFY(!counts.latest().isValid());
        const rio::HandlerId user = counts.registry().add([](const int &) { });
        QVERIFY(!counts.remove(static_cast<double>(user.value() - 1)));
        counts.notify(1);
        QTRY_COMPARE(counts.latest(), QVariant(1));
        counts.registry().clear();
        QCOMPARE(counts.count(), 0);
        std::thread([sender = counts.sender()] { sender.notify(2); }).join();
        QTRY_COMPARE(counts.latest(), QVariant(2));
        QCOMPARE(counts.count(), 0);
    }

    void registryChangesAndAnotherEventTypeIsRefused()
    {
        QObject *low = handler("low");
        QSignalSpy changed(low, SIGNAL(registryChanged()));
        auto *other = new ReadingRegistry(m_root.get());
        low->setProperty("registry", QVariant::fromValue(other));
        QCOMPARE(changed.count(), 1);
        QCOMPARE(readings()->count(), 1);
        QCOMPARE(other->count(), 1);
        other->notify(Reading{QStringLiteral("o"), 1});
        notifyHere(2);
        QCOMPARE(trace(), QStringLiteral("low:o=1;high:s=2;"));
        // A registry of another event type warns at the handler and changes nothing.
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral(
                                               "QML ReadingRegistryHandler: the registry carries "
                                               "int events, this handler takes Reading; the "
                                               "registry is unchanged$")));
        eval(QStringLiteral("low.registry = counts"));
        QCOMPARE(changed.count(), 1);
        QCOMPARE(low->property("registry").value<QObject *>(), other);
        QCOMPARE(m_root->property("counts").value<CountRegistry *>()->count(), 1);
        QVERIFY(low->property("active").toBool());
        // null: inactive, silently.
        eval(QStringLiteral("low.registry = null"));
        QCOMPARE(changed.count(), 2);
        QVERIFY(!low->property("active").toBool());
        QCOMPARE(other->count(), 0);
        // Its registry destroyed while it listens: inactive, registry null.
        eval(QStringLiteral("countHandler.registry = null; countHandler.registry = counts"));
        QVERIFY(handler("countHandler")->property("active").toBool());
        delete m_root->property("counts").value<CountRegistry *>();
        QVERIFY(!handler("countHandler")->property("active").toBool());
    }

    void overflowAndCapacityRefuseBadValues()
    {
        QObject *high = handler("high");
        QSignalSpy overflowChanged(high, SIGNAL(overflowChanged()));
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral(
                                               "QML ReadingRegistryHandler: overflow must be DropOldest, "
                                               "DropNewest or Block, got 7; it stays DropOldest$")));
        eval(QStringLiteral("high.overflow = 7"));
        QCOMPARE(high->property("overflow").toInt(), int(ReadingRegistryHandler::DropOldest));
        QCOMPARE(overflowChanged.count(), 0);
        eval(QStringLiteral("high.overflow = ReadingRegistryHandler.Block"));
        QCOMPARE(overflowChanged.count(), 1);
        QCOMPARE(high->property("overflow").toInt(), int(ReadingRegistryHandler::Block));
    }

    void droppedCountsTheDropsAndRemoveByHandlerIdEndsIt()
    {
        QObject *high = handler("high");
        eval(QStringLiteral("high.capacity = 2; high.overflow = ReadingRegistryHandler.DropNewest"));
        QSignalSpy droppedChanged(high, SIGNAL(droppedChanged()));
        QTest::ignoreMessage(QtWarningMsg,
                             QRegularExpression(QStringLiteral("queued deliveries dropped so far")));
        std::thread worker([registry = readings()] {
            for (int i = 1; i <= 5; ++i)
                registry->notify(Reading{QStringLiteral("w"), double(i)});
        });
        worker.join();
        QTRY_COMPARE(high->property("dropped").toDouble(), 3.0);
        QVERIFY(droppedChanged.count() >= 1);
        QTRY_COMPARE(trace().count(QStringLiteral("low:")), 5);
        // The facade agrees on the id and the count.
        const double id = high->property("handlerId").toDouble();
        QCOMPARE(readings()->registry().droppedCount(rio::HandlerId{quint64(id)}), quint64(3));
        // remove(handlerId) from QML: inactive, its drops stay counted; unknown or bad ids: false.
        QSignalSpy active(high, SIGNAL(activeChanged()));
        QVERIFY(eval(QStringLiteral("readings.remove(high.handlerId)")).toBool());
        QCOMPARE(active.count(), 1);
        QVERIFY(!high->property("active").toBool());
        QCOMPARE(high->property("handlerId").toDouble(), 0.0);
        QCOMPARE(high->property("dropped").toDouble(), 3.0);
        QCOMPARE(readings()->count(), 1);
        QVERIFY(!eval(QStringLiteral("readings.remove(%1)").arg(id)).toBool());
        QVERIFY(!eval(QStringLiteral("readings.remove(-1)")).toBool());
        QVERIFY(!eval(QStringLiteral("readings.remove(1.5)")).toBool());
        // Registered again (a property change): the drop count goes on from 3.
        eval(QStringLiteral("high.priority = 11"));
        QVERIFY(high->property("active").toBool());
        QCOMPARE(high->property("dropped").toDouble(), 3.0);
    }

    void blockTimeoutBoundsTheNotifiersWait()
    {
        QObject *high = handler("high");
        QSignalSpy changed(high, SIGNAL(blockTimeoutChanged()));
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral(
                                               "QML ReadingRegistryHandler: blockTimeout must not be "
                                               "negative, got -1; it stays 1000 ms$")));
        eval(QStringLiteral("high.blockTimeout = -1"));
        QCOMPARE(high->property("blockTimeout").toInt(), 1000);
        QCOMPARE(changed.count(), 0);
        eval(QStringLiteral(
            "high.capacity = 1; high.overflow = ReadingRegistryHandler.Block; high.blockTimeout = 20"));
        QCOMPARE(changed.count(), 1);
        QCOMPARE(high->property("blockTimeout").toInt(), 20);
        QTest::ignoreMessage(QtWarningMsg,
                             QRegularExpression(QStringLiteral("queued deliveries dropped so far")));
        // The engine thread is in join(): the second and third events wait 20 ms each for room,
        // then are dropped.
        QElapsedTimer timer;
        timer.start();
        std::thread worker([registry = readings()] {
            for (int i = 1; i <= 3; ++i)
                registry->notify(Reading{QStringLiteral("w"), double(i)});
        });
        worker.join();
        QVERIFY(timer.elapsed() >= 38);
        QTRY_COMPARE(high->property("dropped").toDouble(), 2.0);
        QTRY_COMPARE(trace().count(QStringLiteral("low:")), 3);
        QCOMPARE(trace().count(QStringLiteral("high:")), 1);
    }

    void minIntervalSpacesCoalescedDeliveries()
    {
        QObject *latest = handler("latest");
        QSignalSpy changed(latest, SIGNAL(minIntervalChanged()));
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral(
                                               "QML ReadingRegistryHandler: minInterval must not be "
                                               "negative, got -5; it stays 0 ms$")));
        eval(QStringLiteral("latest.minInterval = -5"));
        QCOMPARE(changed.count(), 0);
        // Without coalescing it is ignored, and said so.
        QTest::ignoreMessage(QtWarningMsg,
                             QRegularExpression(QStringLiteral(
                                 "minInterval applies with delivery: Latest \\(coalesce: true\\) only; "
                                 "150 ms is ignored$")));
        eval(QStringLiteral("low.minInterval = 150"));
        QCOMPARE(handler("low")->property("minInterval").toInt(), 150);
        eval(QStringLiteral("latest.minInterval = 150; latest.enabled = true"));
        QCOMPARE(changed.count(), 1);
        const auto fromWorker = [this](double value) {
            std::thread worker(
                [registry = readings(), value] { registry->notify(Reading{QStringLiteral("w"), value}); });
            worker.join();
        };
        fromWorker(1);
        QTRY_VERIFY(trace().contains(QStringLiteral("latest:w=1;")));
        QElapsedTimer timer;
        timer.start();
        fromWorker(2);
        QTRY_VERIFY(trace().contains(QStringLiteral("latest:w=2;")));
        QVERIFY2(timer.elapsed() >= 100, qPrintable(QString::number(timer.elapsed())));
    }

    void addFunctionGetsTypedEventsInPriorityOrderUntilRemoved()
    {
        eval(QStringLiteral("subscription = readings.add((e) => { seen.push(e);"
                            " trace += 'fn:' + e.sensor + '=' + (e.value + 1) + ';' }, 5)"));
        QObject *subscription = m_root->property("subscription").value<QObject *>();
        QVERIFY(subscription != nullptr);
        QVERIFY(subscription->property("active").toBool());
        QCOMPARE(subscription->property("priority").toInt(), 5);
        const double id = subscription->property("id").toDouble();
        QVERIFY(id >= 1);
        QCOMPARE(readings()->count(), 3);
        // Between high (10) and low (0); the typed value's properties are numbers and strings.
        notifyHere(1);
        QCOMPARE(trace(), QStringLiteral("high:s=1;fn:s=2;low:s=1;"));
        QVERIFY(eval(QStringLiteral("readings.notify({ sensor: 'q', value: 4 })")).toBool());
        QCOMPARE(trace(), QStringLiteral("high:s=1;fn:s=2;low:s=1;high:q=4;fn:q=5;low:q=4;"));
        // From a worker: queued to the engine thread.
        std::thread worker([registry = readings()] { registry->notify(Reading{QStringLiteral("w"), 6}); });
        worker.join();
        QTRY_VERIFY(trace().endsWith(QStringLiteral("high:w=6;fn:w=7;low:w=6;")));
        // remove(): true once, inactive, no more calls.
        QSignalSpy activeChanged(subscription, SIGNAL(activeChanged()));
        QVERIFY(eval(QStringLiteral("subscription.remove()")).toBool());
        QVERIFY(!eval(QStringLiteral("subscription.remove()")).toBool());
        QVERIFY(!subscription->property("active").toBool());
        QCOMPARE(activeChanged.count(), 1);
        QCOMPARE(readings()->count(), 2);
        const QString before = trace();
        notifyHere(8);
        QCOMPARE(trace(), before + QStringLiteral("high:s=8;low:s=8;"));
        QVERIFY(!readings()->remove(id));
    }

    // add(fn, priority, options) takes QmlRegistry.add()'s options: once, coalesce, capacity,
    // overflow and owner, and refuses a bad one at the caller's line, registering nothing.
    void addFunctionTakesTheOptionsOfQmlRegistryAdd()
    {
        // once: one call, then inactive and gone.
        eval(QStringLiteral(
            "subscription = readings.add((e) => trace += 'once:' + e.value + ';', 0, { once: true })"));
        QObject *once = m_root->property("subscription").value<QObject *>();
        QVERIFY(once != nullptr && once->property("active").toBool());
        QCOMPARE(readings()->count(), 3);
        notifyHere(1);
        notifyHere(2);
        QCOMPARE(trace().count(QStringLiteral("once:")), 1);
        QVERIFY(trace().contains(QStringLiteral("once:1;")));
        QVERIFY(!once->property("active").toBool());
        QCOMPARE(readings()->count(), 2);

        // capacity 1 + dropNewest: of three events queued from a worker, the first is delivered
        // and two are dropped and counted on the subscription.
        eval(QStringLiteral("subscription = readings.add((e) => trace += 'bounded:' + e.value + ';', 0,"
                            " { capacity: 1, overflow: 'dropNewest' })"));
        QObject *bounded = m_root->property("subscription").value<QObject *>();
        std::thread worker([registry = readings()] {
            for (int i = 1; i <= 3; ++i)
                registry->notify(Reading{QStringLiteral("w"), double(10 + i)});
        });
        worker.join();
        QTRY_VERIFY(trace().contains(QStringLiteral("bounded:11;")));
        QTRY_COMPARE(bounded->property("dropped").toDouble(), 2.0);
        QCOMPARE(trace().count(QStringLiteral("bounded:")), 1);
        QVERIFY(eval(QStringLiteral("subscription.remove()")).toBool());

        // coalesce: of three events queued from a worker, only the newest is delivered.
        eval(QStringLiteral("subscription = readings.add((e) => trace += 'newest:' + e.value + ';', 0,"
                            " { coalesce: true })"));
        std::thread coalescing([registry = readings()] {
            for (int i = 1; i <= 3; ++i)
                registry->notify(Reading{QStringLiteral("c"), double(20 + i)});
        });
        coalescing.join();
        QTRY_VERIFY(trace().contains(QStringLiteral("newest:23;")));
        QCOMPARE(trace().count(QStringLiteral("newest:")), 1);
        QVERIFY(eval(QStringLiteral("subscription.remove()")).toBool());

        // owner: the handler goes with its owner.
        eval(QStringLiteral("subscription = readings.add((e) => trace += 'owned;', 0,"
                            " { owner: Qt.createQmlObject('import QtQml; QtObject {}', root) })"));
        QObject *owned = m_root->property("subscription").value<QObject *>();
        QVERIFY(owned != nullptr && owned->parent() != nullptr);
        QCOMPARE(readings()->count(), 3);
        delete owned->parent();
        QCOMPARE(readings()->count(), 2);

        // A bad option: a warning at the caller's line, nothing registered.
        QTest::ignoreMessage(
            QtWarningMsg,
            QRegularExpression(QStringLiteral("typed.qml:%1: ReadingRegistry.add: options.capacity "
                                              "must be a whole number .*; nothing was registered$")
                                   .arg(lineOf("// BAD OPTIONS"))));
        QVERIFY(eval(QStringLiteral("addWithBadOptions() === null")).toBool());
        QCOMPARE(readings()->count(), 2);
    }

    void addFunctionEndsByRegistryRemoveAndRegistryDeath()
    {
        eval(QStringLiteral("subscription = readings.add((e) => trace += 'fn;')"));
        QObject *first = m_root->property("subscription").value<QObject *>();
        QVERIFY(readings()->remove(first->property("id").toDouble()));
        QVERIFY(!first->property("active").toBool());
        QVERIFY(!eval(QStringLiteral("subscription.remove()")).toBool());
        eval(QStringLiteral("subscription = readings.add((e) => trace += 'fn;')"));
        QObject *second = m_root->property("subscription").value<QObject *>();
        QVERIFY(second->property("active").toBool());
        QCOMPARE(readings()->count(), 3);
        QPointer<ReadingRegistry> registry = readings();
        delete registry.data();
        QVERIFY(!second->property("active").toBool());
        QVERIFY(!eval(QStringLiteral("subscription.remove()")).toBool());
        QCOMPARE(trace(), QString());
    }

    void addFunctionThatThrowsIsReportedAndTheOthersRun()
    {
        QSignalSpy failed(readings(), &ReadingRegistry::handlerFailed);
        eval(QStringLiteral("subscription = readings.add(throwingHandler, 20)"));
        const double id = eval(QStringLiteral("subscription.id")).toDouble();
        QTest::ignoreMessage(QtWarningMsg,
                             QRegularExpression(QStringLiteral("typed.qml:%1: RegistryIO: handler %2 threw: "
                                                               "Error: refused s$")
                                                    .arg(lineOf("// THROWS"))
                                                    .arg(id)));
        notifyHere(1);
        QCOMPARE(trace(), QStringLiteral("high:s=1;low:s=1;"));
        QTRY_COMPARE(failed.count(), 1);
        QCOMPARE(failed.at(0).at(0).toDouble(), id);
    }

    void addOfANonFunctionWarnsAtTheCallersLineAndChangesNothing()
    {
        QTest::ignoreMessage(
            QtWarningMsg, QRegularExpression(QStringLiteral("typed.qml:%1: ReadingRegistry.add: the handler "
                                                            "must be a function, got a number; nothing was "
                                                            "registered$")
                                                 .arg(lineOf("// BAD ADD"))));
        QVERIFY(eval(QStringLiteral("addBadly() === null")).toBool());
        QCOMPARE(readings()->count(), 2);
        notifyHere(1);
        QCOMPARE(trace(), QStringLiteral("high:s=1;low:s=1;"));
    }

    // A typed sender's notify on the registry's own thread runs a handler that destroys the
    // registry: the destruction waits for senders on other threads only.
    void registryMayBeDestroyedByAHandlerItsSenderRan()
    {
        auto *registry = new CountRegistry;
        rio::QmlTypedSender<int> sender = registry->sender();
        int calls = 0;
        registry->registry().add([&](const int &) {
            ++calls;
            delete registry;
        });
        QVERIFY(sender.notify(1));
        QCOMPARE(calls, 1);
        QVERIFY(!sender.isAlive());
    }

    void senderNotifiesFromAWorkerAndOutlivesTheRegistry()
    {
        rio::QmlTypedSender<Reading> sender = readings()->sender();
        QVERIFY(sender.isAlive());
        QVERIFY(!rio::QmlTypedSender<Reading>().isAlive());
        QVERIFY(!rio::QmlTypedSender<Reading>().notify(Reading{}));
        // The worker's notifies are queued to the engine thread, in order.
        std::promise<void> sent;
        std::thread worker([sender, &sent] {
            for (int i = 1; i <= 3; ++i)
                sender.notify(Reading{QStringLiteral("w"), double(i)});
            sent.set_value();
        });
        sent.get_future().wait();
        worker.join();
        QTRY_COMPARE(trace(), QStringLiteral("high:w=1;low:w=1;high:w=2;low:w=2;high:w=3;low:w=3;"));
        // A worker racing the registry's destruction: every notify is delivered or refused.
        std::atomic<bool> stop{false};
        std::atomic<int> refused{0};
        QTest::ignoreMessage(QtWarningMsg,
                             QRegularExpression(QStringLiteral("the typed registry was destroyed")));
        std::thread racer([sender, &stop, &refused] {
            for (int i = 0; i < 100000 && !stop.load(); ++i) {
                if (!sender.notify(Reading{QStringLiteral("r"), double(i)})) {
                    refused.fetch_add(1);
                    break;
                }
            }
        });
        QPointer<ReadingRegistry> registry = readings();
        delete registry.data();
        QVERIFY(!sender.isAlive());
        QVERIFY(!sender.notify(Reading{QStringLiteral("late"), 0})); // warns once per process
        stop.store(true);
        racer.join();
        QVERIFY(!sender.notify(Reading{QStringLiteral("later"), 0}));
        QCoreApplication::processEvents();
        QVERIFY(!trace().contains(QStringLiteral("late")));
    }

    void onNotifiedThatThrowsEmitsHandlerFailed()
    {
        QSignalSpy failed(readings(), &ReadingRegistry::handlerFailed);
        handler("thrower")->setProperty("enabled", true);
        const double id = handler("thrower")->property("handlerId").toDouble();
        QTest::ignoreMessage(
            QtWarningMsg,
            QRegularExpression(
                QStringLiteral("typed.qml:%1: Error: signal refused s$").arg(lineOf("// SIGNAL THROWS"))));
        notifyHere(1);
        QCOMPARE(trace(), QStringLiteral("high:s=1;low:s=1;")); // the others still run
        QTRY_COMPARE(failed.count(), 1);
        QCOMPARE(failed.at(0).at(0).toDouble(), id);
        QVERIFY(failed.at(0).at(1).toString().contains(QStringLiteral("signal refused s")));
    }

    void activeIsBindable()
    {
        auto *low = qobject_cast<rio::QmlTypedHandler *>(handler("low"));
        QVERIFY(low != nullptr);
        QProperty<bool> mirror;
        mirror.setBinding(low->bindableActive().makeBinding());
        QVERIFY(mirror.value());
        low->setEnabled(false);
        QVERIFY(!mirror.value());
        low->setEnabled(true);
        QVERIFY(mirror.value());
        QVERIFY(readings()->remove(low->handlerId()));
        QVERIFY(!mirror.value());
    }

    void handlerChangesTakeEffectWithinTheNotify_data() { rio::test::addChangesWithinTheNotifyRows(); }

    void handlerChangesTakeEffectWithinTheNotify()
    {
        rio::test::checkChangesWithinTheNotify(
            *m_engine, QStringLiteral("RioTypedTest"), QStringLiteral("CountRegistry"),
            QStringLiteral("CountRegistryHandler"),
            [](QObject *registry, int value) { static_cast<CountRegistry *>(registry)->notify(value); });
    }

    void aSuspendedHandlerIsSkipped_data()
    {
        QTest::addColumn<QString>("setup");
        QTest::addColumn<QString>("suspended"); // the expression of its handler id
        QTest::addColumn<QString>("all");       // what a notify of N records, N for the value
        QTest::addColumn<QString>("rest");      // with the suspended handler skipped
        QTest::newRow("onNotified") << "" << "low.handlerId" << "high:s=N;low:s=N;" << "high:s=N;";
        QTest::newRow("handler:") << "low.handler = event => root.record('fn', event)" << "low.handlerId"
                                  << "high:s=N;fn:s=N;" << "high:s=N;";
        QTest::newRow("add(fn)") << "subscription = readings.add(event => root.record('add', event), 1)"
                                 << "subscription.id" << "high:s=N;add:s=N;low:s=N;" << "high:s=N;low:s=N;";
    }

    void aSuspendedHandlerIsSkipped()
    {
        // A handler suspended in the facade is skipped, from JavaScript and from C++ alike, and
        // runs again when resumed.
        QFETCH(QString, setup);
        QFETCH(QString, suspended);
        QFETCH(QString, all);
        QFETCH(QString, rest);
        const auto expected = [](QString text, int value) {
            return text.replace(QLatin1Char('N'), QString::number(value));
        };
        if (!setup.isEmpty())
            eval(setup);
        notifyHere(0);
        QCOMPARE(trace(), expected(all, 0));
        const rio::HandlerId id{quint64(eval(suspended).toDouble())};
        QVERIFY(readings()->registry().setSuspended(id, true));
        eval(QStringLiteral("root.trace = ''"));
        notifyHere(1);
        QCOMPARE(trace(), expected(rest, 1));
        eval(QStringLiteral("root.trace = '', readings.notify({ sensor: 's', value: 2 })"));
        QCOMPARE(trace(), expected(rest, 2));
        QVERIFY(readings()->registry().setSuspended(id, false));
        eval(QStringLiteral("root.trace = ''"));
        notifyHere(3);
        QCOMPARE(trace(), expected(all, 3));
    }

    void removeAndWaitFromACppThreadWaitsForARunningHandler_data()
    {
        QTest::addColumn<QString>("how");
        QTest::addColumn<bool>("takenHereFirst");
        QTest::newRow("onNotified") << "onNotified: event => root.blocker.run(event)" << false;
        QTest::newRow("handler:") << "handler: event => root.blocker.run(event)" << false;
        // A handler before it in the same notify takes registry() on the registry's thread: the
        // dispatch goes on, and the C++ thread's registry() still waits for it.
        QTest::newRow("handler:, registry() taken here first")
            << "handler: event => root.blocker.run(event)" << true;
    }

    void removeAndWaitFromACppThreadWaitsForARunningHandler()
    {
        // The registry runs its handler itself; a C++ thread takes registry() while it runs and
        // removes it with removeAndWait, which returns only once the handler has returned.
        QFETCH(QString, how);
        QFETCH(bool, takenHereFirst);
        Blocker blocker;
        QQmlComponent component(m_engine.get());
        const QString qml = QStringLiteral(R"(
import QtQml
import RioTypedTest
QtObject {
    id: root
    required property var blocker
    property CountRegistry counts: CountRegistry {}
    property CountRegistryHandler waiter: CountRegistryHandler { registry: root.counts; %1 }
    property CountRegistryHandler taker: CountRegistryHandler {
        registry: root.counts; priority: 10; enabled: %2
        handler: event => root.blocker.takeFacade(root.counts)
    }
}
)");
        component.setData(
            qml.arg(how, takenHereFirst ? QStringLiteral("true") : QStringLiteral("false")).toUtf8(),
            QUrl(QStringLiteral("blocking.qml")));
        const std::unique_ptr<QObject> root(component.createWithInitialProperties(
            {{QStringLiteral("blocker"), QVariant::fromValue<QObject *>(&blocker)}}));
        QVERIFY2(root, qPrintable(component.errorString()));
        auto *counts = root->property("counts").value<CountRegistry *>();
        const rio::HandlerId id{
            quint64(root->property("waiter").value<QObject *>()->property("handlerId").toDouble())};
        bool removed = false;
        std::jthread remover([&] {
            {
                std::unique_lock lock(blocker.mutex);
                blocker.changed.wait(lock, [&] { return blocker.entered; });
            }
            removed = counts->registry().removeAndWait(id);
            const std::lock_guard lock(blocker.mutex);
            blocker.removeReturned = true;
            blocker.changed.notify_all();
        });
        counts->notify(1);
        remover.join();
        QVERIFY(removed);
        QVERIFY(!blocker.returnedWhileRunning);
        QCOMPARE(counts->registry().size(), std::size_t(takenHereFirst ? 1 : 0));
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
