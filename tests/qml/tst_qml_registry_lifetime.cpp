// SPDX-License-Identifier: MIT
// A registry's end and a removal behind QML's back, for a QmlRegistry and a typed registry alike:
// destroying a registry wakes a worker blocked on a full Block queue of one of its handles (the
// event is dropped and counted; neither the worker nor the registry's thread waits out
// blockTimeout), and a handle or a declarative handler
// removed from C++ through registry().remove(id) or a Connection turns inactive, its handle
// collectable while the registry lives.

#include "qml_test_support.h"

#include <registryio/qml/qml_registry.h>
#include <registryio/qml/qml_typed_registry.h>
#include <registryio/qml/registry_handler.h>

#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QFile>
#include <QPointer>
#include <QQmlComponent>
#include <QQmlContext>
#include <QSignalSpy>
#include <QTest>
#include <QThread>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <future>
#include <initializer_list>
#include <thread>
#include <utility>
#include <vector>

#include <sys/syscall.h>
#include <unistd.h>

RIO_QML_TYPED_REGISTRY(TickRegistry, int)

namespace {

const char *const kQml = R"(
import QtQml
import RegistryIO
import RioLifetimeTest
QtObject {
    id: root
    property int seen: 0
    property var last: null
    property QmlRegistry plain: QmlRegistry {}
    property TickRegistry typed: TickRegistry {}
    property QmlRegistry otherPlain: QmlRegistry {}
    property TickRegistry otherTyped: TickRegistry {}
    property RegistryHandler plainHandler: RegistryHandler {
        registry: root.plain
        onNotified: (event) => { root.seen += 1; root.last = event }
    }
    property TickRegistryHandler typedHandler: TickRegistryHandler {
        registry: root.typed
        onNotified: (event) => { root.seen += 1; root.last = event }
    }
    property var handle: null
}
)";

// The blockTimeout above, and the bound the woken worker must return within: far below it.
constexpr qint64 kBlockTimeoutMs = 60000;
constexpr qint64 kWokenWithinMs = 20000;

} // namespace

class tst_QmlRegistryLifetime : public QObject
{
    Q_OBJECT

public:
    // What a handler calls to be counted.
    Q_INVOKABLE void count() { ++m_calls; }

private:
    std::unique_ptr<QQmlEngine> m_engine;
    std::unique_ptr<QObject> m_root;
    int m_calls = 0;

    QObject *registry(bool typed) const
    {
        return m_root->property(typed ? "typed" : "plain").value<QObject *>();
    }
    QObject *declarative(bool typed) const
    {
        return m_root->property(typed ? "typedHandler" : "plainHandler").value<QObject *>();
    }
    QObject *other(bool typed) const
    {
        return m_root->property(typed ? "otherTyped" : "otherPlain").value<QObject *>();
    }
    // Sends `event` from a worker thread through the sender of `target` (a registry of kind
    // `typed`), which the worker outlives.
    static bool sendFromWorker(QObject *target, bool typed, int event)
    {
        std::function<bool()> send;
        if (typed)
            send = [sender = qobject_cast<TickRegistry *>(target)->sender(), event] {
                return sender.notify(event);
            };
        else
            send = [sender = qobject_cast<rio::QmlRegistry *>(target)->sender(), event] {
                return sender.notify(QVariant(event));
            };
        bool sent = false;
        std::thread([&] { sent = send(); }).join();
        return sent;
    }
    // Runs this thread's event loop until every delivery that `target`'s notifies queued before
    // the call ran: a queued C++ handler's own delivery of a marker event comes after them.
    void drain(QObject *target, bool typed)
    {
        QObject context;
        int reached = 0;
        if (typed) {
            auto &facade = qobject_cast<TickRegistry *>(target)->registry();
            facade.add(&context, [&](int event) { reached += event == -1 ? 1 : 0; }, {.priority = -1000});
            QVERIFY(sendFromWorker(target, true, -1));
        } else {
            auto &facade = qobject_cast<rio::QmlRegistry *>(target)->registry();
            facade.add(&context, [&](const QVariant &event) { reached += event.toInt() == -1 ? 1 : 0; },
                       {.priority = -1000});
            QVERIFY(sendFromWorker(target, false, -1));
        }
        QTRY_COMPARE(reached, 1);
    }

    // The registry's facade, untyped (its signals and count).
    const rio::QtRegistryBase *facade(bool typed) const
    {
        if (typed)
            return &std::as_const(*qobject_cast<TickRegistry *>(registry(true))).registry();
        return &std::as_const(*qobject_cast<rio::QmlRegistry *>(registry(false))).registry();
    }
    // Removes `id` through the registry's C++ facade.
    bool removeFromCpp(bool typed, double id) const
    {
        const rio::HandlerId handlerId{quint64(id)};
        if (typed)
            return qobject_cast<TickRegistry *>(registry(true))->registry().remove(handlerId);
        return qobject_cast<rio::QmlRegistry *>(registry(false))->registry().remove(handlerId);
    }
    rio::Connection connectionOf(bool typed, double id) const
    {
        const rio::HandlerId handlerId{quint64(id)};
        if (typed)
            return qobject_cast<TickRegistry *>(registry(true))->registry().connection(handlerId);
        return qobject_cast<rio::QmlRegistry *>(registry(false))->registry().connection(handlerId);
    }
    // A worker's way to notify the registry: through its sender, which may outlive it.
    std::function<bool(int)> senderOf(bool typed) const
    {
        if (typed)
            return [sender = qobject_cast<TickRegistry *>(registry(true))->sender()](int event) {
                return sender.notify(event);
            };
        return [sender = qobject_cast<rio::QmlRegistry *>(registry(false))->sender()](int event) {
            return sender.notify(QVariant(event));
        };
    }
    // The state letter of thread `tid` of this process ('S': asleep), '?' if unknown.
    static char threadState(long tid)
    {
        QFile stat(QStringLiteral("/proc/self/task/%1/stat").arg(tid));
        if (!stat.open(QIODevice::ReadOnly))
            return '?';
        const QByteArray text = stat.readAll();
        const qsizetype end = text.lastIndexOf(')'); // after the name, which may hold anything
        return end >= 0 && end + 2 < text.size() ? text.at(end + 2) : '?';
    }
    QVariant eval(const QString &expression) const { return rio::test::eval(m_root.get(), expression); }
    // `handle = <the registry of kind typed>.add(<arguments>)`: the handle.
    QObject *addToRegistry(bool typed, const QString &arguments) const
    {
        eval(QStringLiteral("handle = %1.add(%2)").arg(QLatin1String(typed ? "typed" : "plain"), arguments));
        return m_root->property("handle").value<QObject *>();
    }
    static void addKinds()
    {
        QTest::addColumn<bool>("typed");
        QTest::newRow("QmlRegistry") << false;
        QTest::newRow("typed registry") << true;
    }
    // Both kinds, each with every value of a string column.
    static void addKindsBy(const char *column, std::initializer_list<const char *> values)
    {
        QTest::addColumn<bool>("typed");
        QTest::addColumn<QString>(column);
        for (const bool typed : {false, true})
            for (const char *value : values)
                QTest::addRow("%s, %s", typed ? "typed registry" : "QmlRegistry", value)
                    << typed << QString::fromLatin1(value);
    }

    // After its registry's end: `handle` lives on, inactive, told once (and no more once the event
    // loop ran), its function never called.
    void endedOnceByItsRegistrysEnd(const QPointer<QObject> &handle, const QSignalSpy &activeChanged) const
    {
        QVERIFY(handle);
        QVERIFY(!handle->property("active").toBool());
        QCOMPARE(activeChanged.count(), 1);
        QCoreApplication::sendPostedEvents();
        QCoreApplication::processEvents();
        QCOMPARE(activeChanged.count(), 1);
        QCOMPARE(m_root->property("seen").toInt(), 0);
    }

    // A `once` handler of `form` fired by a worker's sender; its registry is deleted before
    // this thread's event loop runs the delivery. Nothing of the registry is read afterwards (no
    // crash, clean under AddressSanitizer) and the delivery, cancelled with its registry, never
    // runs.
    void onceDeliveryOutlivingItsRegistry(bool typed, const QString &form)
    {
        QPointer<QObject> doomed = registry(typed);
        declarative(typed)->setProperty("enabled", false); // only the form under test
        int cppRuns = 0;
        if (form == QLatin1String("declarative once")) {
            declarative(typed)->setProperty("once", true);
            declarative(typed)->setProperty("enabled", true);
        } else if (form.startsWith(QLatin1String("C++ once"))) {
            rio::HandlerOptions options{.once = true};
            if (typed)
                qobject_cast<TickRegistry *>(doomed)->registry().add(
                    doomed, [&](int) { ++cppRuns; }, options);
            else
                qobject_cast<rio::QmlRegistry *>(doomed)->registry().add(
                    doomed, [&](const QVariant &) { ++cppRuns; }, options);
        } else {
            eval(QStringLiteral("handle = %1.add((e) => seen += 1, 0, { once: true })")
                     .arg(QLatin1String(typed ? "typed" : "plain")));
            QVERIFY(m_root->property("handle").value<QObject *>());
        }
        QCOMPARE(facade(typed)->count(), 1);
        QVERIFY(sendFromWorker(doomed, typed, 1)); // fired: its delivery waits in the event loop
        delete doomed.data();
        // Everything posted before this marker has been handled once it arrives.
        bool marked = false;
        QMetaObject::invokeMethod(this, [&] { marked = true; }, Qt::QueuedConnection);
        QTRY_VERIFY(marked);
        QCoreApplication::processEvents();
        QCOMPARE(m_root->property("seen").toInt(), 0);
        QCOMPARE(cppRuns, 0);
    }

private Q_SLOTS:
    void initTestCase()
    {
        qmlRegisterType<TickRegistry>("RioLifetimeTest", 1, 0, "TickRegistry");
        qmlRegisterType<TickRegistryHandler>("RioLifetimeTest", 1, 0, "TickRegistryHandler");
    }

    void init()
    {
        m_engine = rio::test::makeEngine();
        QQmlComponent component(m_engine.get());
        component.setData(kQml, QUrl(QStringLiteral("lifetime.qml")));
        QVERIFY2(component.isReady(), qPrintable(component.errorString()));
        m_root.reset(component.create());
        QVERIFY(m_root);
    }

    void cleanup()
    {
        m_root.reset();
        m_engine.reset();
    }

    void destroyingTheRegistryWakesAWorkerBlockedOnIt_data() { addKinds(); }

    void destroyingTheRegistryWakesAWorkerBlockedOnIt()
    {
        QFETCH(bool, typed);
        QPointer<QObject> doomed = registry(typed);
        // A function whose queue holds one event, for which a notifier waits up to a minute.
        eval(QStringLiteral("handle = %1.add((e) => seen += 1, 0, "
                            "{ capacity: 1, overflow: 'block', blockTimeout: %2 })")
                 .arg(QLatin1String(typed ? "typed" : "plain"))
                 .arg(kBlockTimeoutMs));
        QPointer<QObject> handle = m_root->property("handle").value<QObject *>();
        QVERIFY(handle);
        const quint64 id = quint64(handle->property("id").toDouble());
        // The dropped events (the one queued, the one waiting for room) are reported where a user
        // sees them: the facade's signal and the log.
        std::atomic<quint64> droppedTotal{0};
        connect(
            facade(typed), &rio::QtRegistryBase::deliveriesDropped, facade(typed),
            [&](rio::HandlerId dropped, quint64 total) {
                if (dropped.value() == id && total > droppedTotal.load())
                    droppedTotal.store(total);
            },
            Qt::DirectConnection);
        QTest::ignoreMessage(
            QtWarningMsg,
            QRegularExpression(
                QStringLiteral("^handler %1 of registry \\d+ .*: [12] queued deliveries dropped").arg(id)));
        // A C++ handler before it, on the worker's thread: tells when the second event is about
        // to wait for room.
        std::promise<long> secondEventWaits;
        auto onWorker = [&](int event) {
            if (event == 2)
                secondEventWaits.set_value(long(::syscall(SYS_gettid)));
        };
        if (typed)
            qobject_cast<TickRegistry *>(registry(true))->registry().add(onWorker, 10);
        else
            qobject_cast<rio::QmlRegistry *>(registry(false))
                ->registry()
                .add([&](const QVariant &event) { onWorker(event.toInt()); }, 10);
        const std::function<bool(int)> send = senderOf(typed);
        std::future<std::pair<bool, qint64>> secondEvent = std::async(std::launch::async, [&] {
            // The first event fills the function's queue (this test's thread runs no event loop
            // until the registry is gone); the second waits for room, up to blockTimeout.
            send(1);
            QElapsedTimer timer;
            timer.start();
            const bool sent = send(2);
            return std::pair(sent, timer.elapsed());
        });
        const long worker = secondEventWaits.get_future().get();
        // Asleep: in the wait for room (nothing else on its way there sleeps). Polled without
        // running this thread's event loop, which would make room.
        const QDeadlineTimer deadline(10000);
        while (threadState(worker) != 'S' && !deadline.hasExpired())
            std::this_thread::yield();
        QCOMPARE(threadState(worker), 'S');
        delete doomed.data(); // on its own thread, while the worker waits
        const auto [sent, took] = secondEvent.get();
        QVERIFY(sent); // it reached the registry
        QVERIFY2(took < kWokenWithinMs,
                 qPrintable(QStringLiteral("the blocked worker returned after %1 ms of a %2 ms blockTimeout: "
                                           "the registry's destruction did not wake it")
                                .arg(took)
                                .arg(kBlockTimeoutMs)));
        QCOMPARE(droppedTotal.load(), quint64(2));
        QVERIFY(!send(3)); // the registry is gone: refused
        QVERIFY(handle.isNull() || !handle->property("active").toBool());
        QCoreApplication::processEvents();
        QCOMPARE(m_root->property("seen").toInt(), 0); // nothing ran after the registry went
    }

    void aRegistryFollowingLatestDiesUnderAFlood()
    {
        // Two workers flood a registry whose `latest` is followed; the registry is destroyed while
        // its coalesced delivery waits and the workers still send: nothing runs after it, the
        // senders learn it.
        auto *prices = new rio::QmlRegistry;
        QVERIFY(!prices->latest().isValid()); // follows from here on
        const rio::QmlRegistrySender sender = prices->sender();
        std::atomic<bool> gone{false};
        std::atomic<int> refused{0};
        std::vector<std::thread> writers;
        for (int w = 0; w < 2; ++w)
            writers.emplace_back([&] {
                for (int i = 0; i < 20000 && refused.load() == 0; ++i)
                    if (!sender.notify(QVariant(i)) && gone.load())
                        refused.fetch_add(1);
            });
        QTRY_VERIFY(prices->latest().isValid()); // a delivery ran: the flood is under way
        delete prices;
        gone.store(true);
        for (std::thread &t : writers)
            t.join();
        QCoreApplication::processEvents(); // what was queued for it never runs
        QVERIFY(!sender.isAlive());
    }

    // A `once` RegistryHandler (or typed handler) fired by a worker: while its delivery waits in
    // the event loop, a property change would re-register it. The fired registration keeps its
    // delivery: the handler runs once, for that event, then stays spent (inactive, registered
    // nowhere, reached by no later event, the marker events of drain() included) until it is
    // armed again. Disabling it removes it instead, which cancels the delivery, counted by the
    // facade (deliveriesDropped; QML's `dropped` counts overflow drops only). Another handler of
    // the registry removed first, while the delivery waits, changes none of this.
    void aFiredOnceHandlerStaysSpentWhateverReRegistersIt_data()
    {
        QTest::addColumn<bool>("typed");
        QTest::addColumn<QString>("change");
        QTest::addColumn<bool>("otherRemovedFirst");
        for (const bool typed : {false, true})
            for (const char *change : {"priority", "registry", "capacity", "handler", "enabled"})
                for (const bool otherRemovedFirst : {false, true})
                    if (!typed ||
                        std::strcmp(change, "handler") != 0) // a typed handler's is read per delivery
                        QTest::addRow("%s, %s%s", typed ? "typed registry" : "QmlRegistry", change,
                                      otherRemovedFirst ? ", another removed first" : "")
                            << typed << QString::fromLatin1(change) << otherRemovedFirst;
    }

    void aFiredOnceHandlerStaysSpentWhateverReRegistersIt()
    {
        QFETCH(bool, typed);
        QFETCH(QString, change);
        QFETCH(bool, otherRemovedFirst);
        QObject *handler = declarative(typed);
        handler->setProperty("once", true);
        QVERIFY(handler->property("active").toBool());
        const rio::HandlerId fired{quint64(handler->property("handlerId").toDouble())};
        QSignalSpy drops(facade(typed), &rio::QtRegistryBase::deliveriesDropped);
        QVERIFY(sendFromWorker(registry(typed), typed, 1)); // fires it; its delivery is queued
        if (otherRemovedFirst) // the registry's count changes while the fired delivery waits
            QVERIFY(eval(QStringLiteral("%1.add((e) => {}).remove()")
                             .arg(QLatin1String(typed ? "typed" : "plain")))
                        .toBool());
        if (change == QLatin1String("enabled"))
            handler->setProperty("enabled", false);
        else if (change == QLatin1String("priority"))
            handler->setProperty("priority", 7);
        else if (change == QLatin1String("capacity"))
            handler->setProperty("capacity", 5);
        else if (change == QLatin1String("handler"))
            eval(QStringLiteral("%1Handler.handler = (e) => { seen += 1; last = e }")
                     .arg(QLatin1String(typed ? "typed" : "plain")));
        else
            handler->setProperty("registry", QVariant::fromValue(other(typed)));
        const bool cancels = change == QLatin1String("enabled");
        if (cancels) {
            QVERIFY(!handler->property("active").toBool());
            QCOMPARE(handler->property("handlerId").toDouble(), 0.0);
        }
        drain(registry(typed), typed);
        drain(other(typed), typed);
        QCOMPARE(m_root->property("seen").toInt(), cancels ? 0 : 1);
        if (cancels) {
            QCOMPARE(drops.count(), 1);
            QCOMPARE(drops.first().at(0).value<rio::HandlerId>(), fired);
            QCOMPARE(drops.first().at(1).toULongLong(), 1ULL);
        } else {
            QCOMPARE(m_root->property("last").toInt(), 1);
            QCOMPARE(drops.count(), 0);
        }
        QCOMPARE(handler->property("dropped").toDouble(), 0.0);
        QVERIFY(!handler->property("active").toBool());
        QCOMPARE(handler->property("handlerId").toDouble(), 0.0);
        // Later events, from a worker or this thread, on either registry: it stays spent.
        for (QObject *target : {registry(typed), other(typed)}) {
            QVERIFY(sendFromWorker(target, typed, 2));
            QMetaObject::invokeMethod(target, "notify", Q_ARG(QVariant, QVariant(3)));
            drain(target, typed);
        }
        QCOMPARE(m_root->property("seen").toInt(), cancels ? 0 : 1);
        QVERIFY(!handler->property("active").toBool());
        // Armed again: it fires once more, for the next event.
        m_root->setProperty("seen", 0);
        handler->setProperty("enabled", false);
        handler->setProperty("enabled", true);
        QVERIFY(handler->property("active").toBool());
        QObject *current = handler->property("registry").value<QObject *>();
        QVERIFY(sendFromWorker(current, typed, 4));
        QVERIFY(sendFromWorker(current, typed, 5));
        drain(current, typed);
        QCOMPARE(m_root->property("seen").toInt(), 1);
        QCOMPARE(m_root->property("last").toInt(), 4);
        QVERIFY(!handler->property("active").toBool());
    }

    void aFiredOnceHandlersDeliveryDiesWithItsRegistry_data()
    {
        addKindsBy("form", {"add(fn, 0, {once: true})", "declarative once"});
    }

    void aFiredOnceHandlersDeliveryDiesWithItsRegistry()
    {
        QFETCH(bool, typed);
        QFETCH(QString, form);
        onceDeliveryOutlivingItsRegistry(typed, form);
    }

    // A `once` function fired by a worker, removed while the delivery waits (by its handle or its
    // registry's remove(id)), after another handler of the registry was removed: the removal
    // cancels the delivery, ends the handle, and is the first (true, then false).
    void aFiredOnceFunctionRemovedAfterAnotherRemovalNeverRuns_data()
    {
        addKindsBy("removal", {"handle.remove()", "%1.remove(handle.id)"});
    }

    void aFiredOnceFunctionRemovedAfterAnotherRemovalNeverRuns()
    {
        QFETCH(bool, typed);
        QFETCH(QString, removal);
        const QString name = QLatin1String(typed ? "typed" : "plain");
        removal.replace(QLatin1String("%1"), name);
        declarative(typed)->setProperty("enabled", false); // only the function under test
        eval(QStringLiteral("handle = %1.add((e) => seen += 1, 0, { once: true })").arg(name));
        QSignalSpy drops(facade(typed), &rio::QtRegistryBase::deliveriesDropped);
        QVERIFY(sendFromWorker(registry(typed), typed, 1)); // fired: its delivery waits
        QVERIFY(eval(QStringLiteral("%1.add((e) => {}).remove()").arg(name)).toBool());
        QVERIFY(eval(removal).toBool()); // the handle's first removal
        QVERIFY(!eval(removal).toBool());
        QVERIFY(!m_root->property("handle").value<QObject *>()->property("active").toBool());
        drain(registry(typed), typed);
        QCOMPARE(m_root->property("seen").toInt(), 0);
        QCOMPARE(drops.count(), 1);
    }

    // A declarative handler that QQmlComponent::create made belongs to its caller and may outlive
    // its engine; its C++-owned registry's next notify calls nothing of the dead engine.
    void aDeclarativeHandlerOutlivingItsEngineRunsNothing_data()
    {
        QTest::addColumn<QString>("form");
        QTest::newRow("handler") << "handler: (e) => counter.count()";
        QTest::newRow("onNotified") << "onNotified: (e) => counter.count()";
    }

    void aDeclarativeHandlerOutlivingItsEngineRunsNothing()
    {
        QFETCH(QString, form);
        rio::QmlRegistry registry;
        std::unique_ptr<QObject> root;
        {
            const auto engine = rio::test::makeEngine();
            engine->rootContext()->setContextProperty(QStringLiteral("cppOwned"), &registry);
            engine->rootContext()->setContextProperty(QStringLiteral("counter"), this);
            QQmlComponent component(engine.get());
            component.setData(
                QStringLiteral("import QtQml\nimport RegistryIO\nQtObject {\n property RegistryHandler h: "
                               "RegistryHandler { registry: cppOwned; %1 }\n}\n")
                    .arg(form)
                    .toUtf8(),
                QUrl(QStringLiteral("file:///outliving.qml")));
            root.reset(component.create());
            QVERIFY2(root, qPrintable(component.errorString()));
            m_calls = 0;
            registry.notify(QVariant(1));
            QCOMPARE(m_calls, 1);
        }
        registry.notify(QVariant(2)); // the engine is gone
        QCOMPARE(m_calls, 1);
    }

    // A `once` handle made by QQmlComponent::create, kept by an owner of its caller's, fired by a
    // worker: its delivery runs after the engine died, calls nothing of it, and ends the handle.
    void aFiredOnceHandleWhoseEngineDiedEnds()
    {
        std::unique_ptr<QObject> root;
        QPointer<QObject> handle;
        {
            const auto engine = rio::test::makeEngine();
            QQmlComponent component(engine.get());
            component.setData(
                "import QtQml\nimport RegistryIO\nQtObject {\n property var h\n"
                " property QtObject owner: QtObject {}\n property QmlRegistry reg: QmlRegistry {}\n"
                " Component.onCompleted: h = reg.add((e) => {}, 0, { once: true, owner: owner })\n}\n",
                QUrl(QStringLiteral("file:///once-outliving.qml")));
            root.reset(component.create());
            QVERIFY2(root, qPrintable(component.errorString()));
            handle = root->property("h").value<QObject *>();
            auto *const registry = root->property("reg").value<rio::QmlRegistry *>();
            std::thread([sender = registry->sender()] { sender.notify(QVariant(1)); }).join(); // fired
        }
        QVERIFY(handle);
        QVERIFY(handle->property("active").toBool()); // until its delivery runs
        QSignalSpy activeChanged(handle.data(), SIGNAL(activeChanged()));
        QTRY_COMPARE(activeChanged.count(), 1); // its delivery ran
        QVERIFY(!handle->property("active").toBool());
    }

    void aHandleRemovedFromCppTurnsInactiveAndIsCollected_data() { addKinds(); }

    void aHandleRemovedFromCppTurnsInactiveAndIsCollected()
    {
        QFETCH(bool, typed);
        QPointer<QObject> handle = addToRegistry(typed, QStringLiteral("(e) => seen += 1"));
        QVERIFY(handle);
        QVERIFY(handle->property("active").toBool());
        QSignalSpy activeChanged(handle.data(), SIGNAL(activeChanged()));
        const double id = handle->property("id").toDouble();
        eval(QStringLiteral("handle = null")); // only the registration keeps it now
        QVERIFY(removeFromCpp(typed, id));
        QVERIFY(!handle->property("active").toBool());
        QCOMPARE(activeChanged.count(), 1);
        QVERIFY(!removeFromCpp(typed, id));
        QCOMPARE(facade(typed)->count(), 1); // the declarative handler
        // No longer registered, unreferenced: collected while the registry lives.
        QTRY_VERIFY_WITH_TIMEOUT((m_engine->collectGarbage(),
                                  QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete),
                                  handle.isNull()),
                                 5000);
        QVERIFY(registry(typed) != nullptr);
    }

    // The registry's end tells each handle (activeChanged) while it lets go of its handlers: a
    // function added to it then, from that slot, is refused (null), never left registered on a
    // registry that is gone.
    void aFunctionAddedDuringItsRegistrysEndIsRefused_data() { addKinds(); }

    void aFunctionAddedDuringItsRegistrysEndIsRefused()
    {
        QFETCH(bool, typed);
        // C++'s (a QML-created one is gone for JavaScript before its destructor runs).
        QObject *const r = typed ? static_cast<QObject *>(new TickRegistry) : new rio::QmlRegistry;
        QQmlEngine::setObjectOwnership(r, QQmlEngine::CppOwnership);
        m_root->setProperty("handle", QVariant::fromValue(r));
        eval(QStringLiteral(
            "(function() { const r = handle; const h = r.add((e) => seen++, 0, { owner: root });"
            " h.activeChanged.connect(() => { if (!h.active) root.last = r.add((e) => seen++, 0,"
            " { owner: root }) }) })()"));
        eval(QStringLiteral("last = undefined"));
        delete r;
        QCOMPARE(eval(QStringLiteral("String(last)")).toString(), QStringLiteral("null"));
    }

    void aDeclarativeHandlerRemovedFromCppTurnsInactive_data() { addKinds(); }

    void aDeclarativeHandlerRemovedFromCppTurnsInactive()
    {
        QFETCH(bool, typed);
        QObject *handler = declarative(typed);
        QSignalSpy activeChanged(handler, SIGNAL(activeChanged()));
        const double id = handler->property("handlerId").toDouble();
        QVERIFY(removeFromCpp(typed, id));
        QVERIFY(!handler->property("active").toBool());
        QCOMPARE(handler->property("handlerId").toDouble(), 0.0);
        QCOMPARE(activeChanged.count(), 1);
        QCOMPARE(facade(typed)->count(), 0);
        // Enabled again: registered anew, under a new id.
        handler->setProperty("enabled", false);
        handler->setProperty("enabled", true);
        QVERIFY(handler->property("active").toBool());
        QVERIFY(handler->property("handlerId").toDouble() > id);
        QCOMPARE(facade(typed)->count(), 1);
    }

    void aHandlerDisconnectedFromAnotherThreadTurnsInactive_data() { addKinds(); }

    void aHandlerDisconnectedFromAnotherThreadTurnsInactive()
    {
        QFETCH(bool, typed);
        const QString name = QLatin1String(typed ? "typed" : "plain");
        // A C++ handler too, so that the counts alone cannot tell which handler left.
        if (typed)
            qobject_cast<TickRegistry *>(registry(true))->registry().add([](int) { });
        else
            qobject_cast<rio::QmlRegistry *>(registry(false))->registry().add([](const QVariant &) { });
        eval(QStringLiteral("handle = %1.add((e) => seen += 1)").arg(name));
        QPointer<QObject> handle = m_root->property("handle").value<QObject *>();
        QObject *handler = declarative(typed);
        const rio::Connection ofHandle = connectionOf(typed, handle->property("id").toDouble());
        const rio::Connection ofHandler = connectionOf(typed, handler->property("handlerId").toDouble());
        bool disconnected = false;
        std::thread([&] { disconnected = ofHandle.disconnect() && ofHandler.disconnect(); }).join();
        QVERIFY(disconnected);
        QTRY_VERIFY(!handle->property("active").toBool());
        QTRY_VERIFY(!handler->property("active").toBool());
        QCOMPARE(facade(typed)->count(), 1); // the C++ handler
    }

    // Handles removed by a worker while the engine thread runs its event loop (not joined first):
    // the word of each removal reaches its handle through the queued flush, a post ordered for
    // ThreadSanitizer as every post of ours.
    void handlesRemovedByARunningWorkerTurnInactive_data() { addKinds(); }

    void handlesRemovedByARunningWorkerTurnInactive()
    {
        QFETCH(bool, typed);
        constexpr int kHandles = 20;
        QList<QPointer<QObject>> handles;
        std::vector<rio::Connection> connections;
        for (int i = 0; i < kHandles; ++i) {
            eval(QStringLiteral("handle = %1.add((e) => seen += 1)")
                     .arg(QLatin1String(typed ? "typed" : "plain")));
            handles << m_root->property("handle").value<QObject *>();
            connections.push_back(connectionOf(typed, handles.last()->property("id").toDouble()));
        }
        std::atomic<int> removed{0};
        std::jthread worker([&] {
            for (const rio::Connection &connection : connections)
                removed += connection.disconnect() ? 1 : 0;
        });
        // The engine thread runs its events while the worker removes (as an application does).
        const auto anyActive = [&handles] {
            return std::any_of(handles.cbegin(), handles.cend(),
                               [](const QPointer<QObject> &h) { return h->property("active").toBool(); });
        };
        const QDeadlineTimer deadline(std::chrono::seconds(60));
        while (anyActive() && !deadline.hasExpired())
            QCoreApplication::processEvents();
        QVERIFY(!anyActive());
        worker.join();
        QCOMPARE(removed.load(), kHandles);
    }

    // A handle's function that removes itself by id from inside its call: the removal reaches
    // the registration through the delivery running it, which turns inactive at once, once.
    void aFunctionRemovingItselfByIdEndsItsRegistrationAtOnce_data() { addKinds(); }

    void aFunctionRemovingItselfByIdEndsItsRegistrationAtOnce()
    {
        QFETCH(bool, typed);
        const QString name = QLatin1String(typed ? "typed" : "plain");
        declarative(typed)->setProperty("enabled", false); // only the function under test
        QObject *handle = addToRegistry(
            typed,
            QStringLiteral("(e) => { seen += 1; last = %1.remove(handle.id) && !handle.active }").arg(name));
        QVERIFY(handle);
        QSignalSpy activeChanged(handle, SIGNAL(activeChanged()));
        eval(QStringLiteral("%1.notify(1), %1.notify(2)").arg(name));
        QCOMPARE(m_root->property("seen").toInt(), 1);
        QCOMPARE(m_root->property("last").toBool(), true); // inactive when remove() returned
        QCOMPARE(activeChanged.count(), 1);
        QCOMPARE(facade(typed)->count(), 0);
    }

    // A worker floods a function while another thread removes it: the removal cancels what
    // waits, and its word reaches the registration through the event loop. It turns inactive
    // once, and the function is never called after that.
    void aRemovalRacingAWorkerFloodEndsTheRegistrationOnce_data() { addKinds(); }

    void aRemovalRacingAWorkerFloodEndsTheRegistrationOnce()
    {
        QFETCH(bool, typed);
        constexpr int kEvents = 2000;
        declarative(typed)->setProperty("enabled", false);
        QObject *handle = addToRegistry(typed, QStringLiteral("(e) => seen += 1"));
        QVERIFY(handle);
        int seenWhenEnded = -1;
        QSignalSpy activeChanged(handle, SIGNAL(activeChanged()));
        connect(qobject_cast<rio::HandlerSubscription *>(handle), &rio::HandlerSubscription::activeChanged,
                this, [&] { seenWhenEnded = m_root->property("seen").toInt(); });
        const rio::Connection connection = connectionOf(typed, handle->property("id").toDouble());
        const std::function<bool(int)> send = senderOf(typed);
        std::atomic<int> sent{0};
        std::atomic<bool> removed{false};
        std::jthread worker([&] {
            for (int i = 0; i < kEvents; ++i) {
                send(i);
                sent.fetch_add(1, std::memory_order_release);
            }
        });
        std::jthread remover([&] {
            while (sent.load(std::memory_order_acquire) < kEvents / 2)
                std::this_thread::yield();
            removed.store(connection.disconnect(), std::memory_order_release);
        });
        QTRY_VERIFY_WITH_TIMEOUT(activeChanged.count() == 1 && sent.load() == kEvents, 60000);
        worker.join();
        remover.join();
        QVERIFY(removed.load());
        drain(registry(typed), typed);
        QVERIFY(!handle->property("active").toBool());
        QCOMPARE(activeChanged.count(), 1);
        QCOMPARE(m_root->property("seen").toInt(), seenWhenEnded); // none after its word came
    }

    // Removed on another thread, its registry deleted before the word of it came: the
    // registry's end ends the registration, once, and nothing reaches it afterwards.
    void aRemovalOnAnotherThreadEndsWithARegistryDeletedFirst_data() { addKinds(); }

    void aRemovalOnAnotherThreadEndsWithARegistryDeletedFirst()
    {
        QFETCH(bool, typed);
        QPointer<QObject> handle = addToRegistry(typed, QStringLiteral("(e) => seen += 1"));
        QVERIFY(handle);
        QSignalSpy activeChanged(handle.data(), SIGNAL(activeChanged()));
        const rio::Connection connection = connectionOf(typed, handle->property("id").toDouble());
        QVERIFY(sendFromWorker(registry(typed), typed, 1)); // a delivery waits as well
        bool disconnected = false;
        std::thread([&] { disconnected = connection.disconnect(); }).join();
        QVERIFY(disconnected);
        QVERIFY(handle->property("active").toBool()); // its word waits for the event loop
        delete registry(typed);
        endedOnceByItsRegistrysEnd(handle, activeChanged);
    }

    // Removed on another thread, which took the handler from the facade but had not yet told
    // its registration when the registry's end began: the end ends the registration itself,
    // once. The remover is held in that gap (a countChanged slot on its thread) until the end
    // removed the rest (a C++ handler: the count changes on this thread).
    void aRemovalOnAnotherThreadRacingItsRegistrysEndEndsTheRegistration_data() { addKinds(); }

    void aRemovalOnAnotherThreadRacingItsRegistrysEndEndsTheRegistration()
    {
        QFETCH(bool, typed);
        declarative(typed)->setProperty("enabled", false); // only the handle under test
        QPointer<QObject> handle =
            addToRegistry(typed, QStringLiteral("(e) => seen += 1, 0, { owner: root }"));
        QVERIFY(handle);
        QSignalSpy activeChanged(handle.data(), SIGNAL(activeChanged()));
        if (typed)
            qobject_cast<TickRegistry *>(registry(true))->registry().add([](int) { });
        else
            qobject_cast<rio::QmlRegistry *>(registry(false))->registry().add([](const QVariant &) { });
        std::promise<void> taken;
        std::promise<void> restRemoved;
        std::future<void> rest = restRemoved.get_future();
        bool heldUntilTheEnd = false;
        QThread *const here = QThread::currentThread();
        connect(
            facade(typed), &rio::QtRegistryBase::countChanged, this,
            [&] {
                if (QThread::currentThread() == here) {
                    restRemoved.set_value(); // the end removed the C++ handler
                    return;
                }
                taken.set_value();
                heldUntilTheEnd = rest.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
            },
            Qt::DirectConnection);
        const rio::Connection connection = connectionOf(typed, handle->property("id").toDouble());
        std::future<void> removing = taken.get_future();
        std::thread remover([&] { connection.disconnect(); });
        removing.wait();
        delete registry(typed); // waits for the remover's call before the facade goes
        remover.join();
        QVERIFY(heldUntilTheEnd);
        endedOnceByItsRegistrysEnd(handle, activeChanged);
    }

    // The same with a C++ once-handler whose context is the registry itself: the facade cancels
    // its fired delivery when the registry goes (last here: without that, the process dies).
    void aFiredCppOnceHandlersDeliveryDiesWithItsRegistry_data() { addKinds(); }

    void aFiredCppOnceHandlersDeliveryDiesWithItsRegistry()
    {
        QFETCH(bool, typed);
        onceDeliveryOutlivingItsRegistry(typed, QStringLiteral("C++ once"));
    }

    void aFiredOnceDeliveryDiesWithItsRegistry_data()
    {
        QTest::addColumn<bool>("typed");
        QTest::addColumn<int>("form"); // 0: add(fn, 0, {once: true}), 1: a declarative once, 2: C++
        for (const bool typed : {false, true}) {
            for (int form = 0; form < 3; ++form)
                QTest::addRow("%s, %s", typed ? "typed registry" : "QmlRegistry",
                              form == 0   ? "add once"
                              : form == 1 ? "declarative once"
                                          : "C++ once")
                    << typed << form;
        }
    }

    // A once-handler fired by a worker's sender, its registry deleted before this thread's loop
    // runs the delivery: the delivery never runs (nor reads the deleted registry).
    void aFiredOnceDeliveryDiesWithItsRegistry()
    {
        QFETCH(bool, typed);
        QFETCH(int, form);
        const QString name = QLatin1String(typed ? "typed" : "plain");
        QPointer<QObject> doomed = registry(typed);
        std::atomic<int> cppCalls{0};
        if (form == 0) {
            eval(QStringLiteral("handle = %1.add((e) => seen += 1, 0, { once: true })").arg(name));
        } else if (form == 1) {
            declarative(typed)->setProperty("once", true);
        } else if (typed) {
            auto *r = qobject_cast<TickRegistry *>(registry(true));
            r->registry().add(r, [&cppCalls] { cppCalls.fetch_add(1); }, {.once = true});
        } else {
            auto *r = qobject_cast<rio::QmlRegistry *>(registry(false));
            r->registry().add(r, [&cppCalls] { cppCalls.fetch_add(1); }, {.once = true});
        }
        const std::function<bool(int)> send = senderOf(typed);
        bool sent = false;
        std::thread([&] { sent = send(1); }).join();
        QVERIFY(sent);
        delete doomed.data(); // before this thread's loop ran the delivery
        QCoreApplication::sendPostedEvents();
        QCoreApplication::processEvents();
        QCOMPARE(m_root->property("seen").toInt(), 0);
        QCOMPARE(cppCalls.load(), 0);
    }
};

QTEST_MAIN(tst_QmlRegistryLifetime)
#include "tst_qml_registry_lifetime.moc"
