// SPDX-License-Identifier: MIT
// RegistryHandler: registration on completion, re-registration on property changes, enabled,
// once, destruction, exception isolation and a missing registry.

#include "qml_test_support.h"

#include <registryio/qml/qml_registry.h>
#include <registryio/qml/registry_handler.h>

#include <QRegularExpression>
#include <QSignalSpy>
#include <QTest>

#include <memory>
#include <thread>
#include <vector>

using rio::QmlRegistry;
using rio::RegistryHandler;
using rio::test::eval;
using rio::test::exactly;

using rio::test::Killer;

class tst_QmlHandler : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QQmlEngine> m_engine;
    std::unique_ptr<QObject> m_root;

    QmlRegistry *registry(const char *name = "registry") const
    {
        return m_root->property(name).value<QmlRegistry *>();
    }
    RegistryHandler *handler(const char *name) const
    {
        return m_root->property(name).value<RegistryHandler *>();
    }
    QString trace() const { return m_root->property("trace").toString(); }
    QString notify(const QString &value)
    {
        m_root->setProperty("trace", QString());
        registry()->notify(value);
        return trace();
    }
    // Test rows: a `handler:` function beside the signal handlers `low` and `high`, or functions
    // only; withFunctionMode sets it up.
    static void functionModes()
    {
        QTest::addColumn<bool>("functionsOnly");
        QTest::newRow("beside signal handlers") << false;
        QTest::newRow("functions only") << true;
    }

    void withFunctionMode(bool functionsOnly)
    {
        if (functionsOnly)
            eval(m_root.get(), QStringLiteral("low.enabled = false, high.enabled = false"));
    }

    // The registry reported exactly one failure, `message`, of `thrower`, which stays registered.
    void verifyOneFailure(RegistryHandler *thrower, const QString &message)
    {
        QTRY_COMPARE(m_root->property("failures").toInt(), 1); // from the event loop
        QCOMPARE(m_root->property("lastFailedId").toDouble(), thrower->handlerId());
        QCOMPARE(m_root->property("lastFailure").toString(), message);
        QVERIFY(thrower->isActive());
    }

    RegistryHandler *create(const QString &component)
    {
        return qobject_cast<RegistryHandler *>(
            eval(m_root.get(), component + QStringLiteral(".createObject(root, { registry: registry })"))
                .value<QObject *>());
    }

private Q_SLOTS:
    void init()
    {
        m_engine = rio::test::makeEngine();
        m_root = rio::test::load(*m_engine, QStringLiteral("handler.qml"));
        QVERIFY(m_root);
    }

    void cleanup()
    {
        m_root.reset();
        m_engine.reset();
    }

    void registersWhenCompleteInPriorityOrder()
    {
        QCOMPARE(registry()->count(), 2);
        QVERIFY(handler("low")->isActive());
        QVERIFY(handler("high")->handlerId() > 0);
        QCOMPARE(notify(QStringLiteral("1")), QStringLiteral("high=1;low=1;"));
    }

    void priorityChangeReRegisters()
    {
        QSignalSpy active(handler("low"), &RegistryHandler::activeChanged);
        const double before = handler("low")->handlerId();
        handler("low")->setPriority(20);
        QCOMPARE(registry()->count(), 2);
        QVERIFY(handler("low")->handlerId() > before);
        QVERIFY(active.count() >= 1);
        QCOMPARE(notify(QStringLiteral("2")), QStringLiteral("low=2;high=2;"));
        eval(m_root.get(), QStringLiteral("low.priority = 0"));
        QCOMPARE(notify(QStringLiteral("3")), QStringLiteral("high=3;low=3;"));
    }

    void registryChangeMovesTheHandler()
    {
        QSignalSpy changed(handler("low"), &RegistryHandler::registryChanged);
        eval(m_root.get(), QStringLiteral("low.registry = other"));
        QCOMPARE(changed.count(), 1);
        QCOMPARE(registry()->count(), 1);
        QCOMPARE(registry("other")->count(), 1);
        QCOMPARE(notify(QStringLiteral("4")), QStringLiteral("high=4;"));
        registry("other")->notify(QStringLiteral("5"));
        QCOMPARE(trace(), QStringLiteral("high=4;low=5;"));
    }

    void disablingUnregistersAndEnablingRegistersAgain()
    {
        eval(m_root.get(), QStringLiteral("high.enabled = false"));
        QVERIFY(!handler("high")->isActive());
        QCOMPARE(handler("high")->handlerId(), 0);
        QCOMPARE(registry()->count(), 1);
        QCOMPARE(notify(QStringLiteral("6")), QStringLiteral("low=6;"));
        eval(m_root.get(), QStringLiteral("high.enabled = true"));
        QCOMPARE(registry()->count(), 2);
        QCOMPARE(notify(QStringLiteral("7")), QStringLiteral("high=7;low=7;"));
    }

    void destroyedHandlerUnregisters()
    {
        RegistryHandler *dynamic = create(QStringLiteral("plainComponent"));
        QVERIFY(dynamic);
        QCOMPARE(registry()->count(), 3);
        QCOMPARE(notify(QStringLiteral("8")), QStringLiteral("high=8;dyn=8;low=8;"));
        QPointer<RegistryHandler> guard(dynamic);
        rio::test::call(*m_engine, dynamic, QStringLiteral("destroy"));
        QTRY_VERIFY(!guard);
        QCOMPARE(registry()->count(), 2);
        QCOMPARE(notify(QStringLiteral("9")), QStringLiteral("high=9;low=9;"));
    }

    void onceRunsOnceUntilReEnabled()
    {
        RegistryHandler *once = create(QStringLiteral("onceComponent"));
        QVERIFY(once && once->isActive());
        QSignalSpy active(once, &RegistryHandler::activeChanged);
        QCOMPARE(notify(QStringLiteral("a")), QStringLiteral("high=a;low=a;once=a;"));
        QVERIFY(!once->isActive());
        QVERIFY(active.count() >= 1);
        QCOMPARE(notify(QStringLiteral("b")), QStringLiteral("high=b;low=b;"));
        once->setPriority(50); // a fired once-handler stays fired...
        QCOMPARE(notify(QStringLiteral("c")), QStringLiteral("high=c;low=c;"));
        once->setEnabled(false); // ...until it is enabled again
        once->setEnabled(true);
        QCOMPARE(notify(QStringLiteral("d")), QStringLiteral("once=d;high=d;low=d;"));
    }

    void aOnceHandlerFiredFromAWorkerRunsDespiteAReRegistration_data()
    {
        QTest::addColumn<QString>("change");
        QTest::newRow("nothing") << QString();
        QTest::newRow("priority") << QStringLiteral("priority");
        QTest::newRow("coalesce") << QStringLiteral("coalesce");
        QTest::newRow("registry") << QStringLiteral("registry");
    }

    void aOnceHandlerFiredFromAWorkerRunsDespiteAReRegistration()
    {
        // Event 1 from a worker fires the `once` handler (its delivery queued); a property change
        // re-registers it before that delivery runs: it still runs once, for event 1, and the
        // handler stays spent (inactive, reached by no later event).
        QFETCH(QString, change);
        RegistryHandler *once = create(QStringLiteral("onceComponent"));
        QVERIFY(once && once->isActive());
        std::thread([sender = registry()->sender()] { sender.notify(QStringLiteral("1")); }).join();
        if (change == QLatin1String("priority"))
            once->setPriority(50);
        else if (change == QLatin1String("coalesce"))
            once->setCoalesce(true);
        else if (change == QLatin1String("registry"))
            once->setRegistry(registry("other"));
        QTRY_VERIFY(trace().contains(QStringLiteral("once=1;")));
        QCoreApplication::processEvents();
        QCOMPARE(trace().count(QStringLiteral("once=")), 1);
        QVERIFY(!once->isActive());
        std::thread([sender = registry()->sender()] { sender.notify(QStringLiteral("2")); }).join();
        registry("other")->notify(QStringLiteral("3"));
        QTRY_VERIFY(trace().contains(QStringLiteral("low=2;")));
        QCoreApplication::processEvents();
        QCOMPARE(trace().count(QStringLiteral("once=")), 1);
        QVERIFY(!once->isActive());
    }

    void throwingOnNotifiedIsReportedAndIsolated()
    {
        RegistryHandler *thrower = create(QStringLiteral("throwingComponent"));
        QVERIFY(thrower);
        const int line = rio::test::lineOf(QStringLiteral("handler.qml"), QStringLiteral("THROW_HANDLER"));
        QVERIFY(line > 0);
        QTest::ignoreMessage(QtWarningMsg,
                             exactly(QStringLiteral("%1:%2: Error: handler boom x")
                                         .arg(rio::test::dataUrl(QStringLiteral("handler.qml")).toString())
                                         .arg(line)));
        QCOMPARE(notify(QStringLiteral("x")), QStringLiteral("high=x;low=x;"));
        verifyOneFailure(thrower, QStringLiteral("Error: handler boom x"));
    }

    void functionHandlerIsCalledInsteadOfTheSignal_data() { functionModes(); }

    void functionHandlerIsCalledInsteadOfTheSignal()
    {
        QFETCH(bool, functionsOnly);
        withFunctionMode(functionsOnly);
        eval(m_root.get(), QStringLiteral("registry.add(e => root.trace += 'add=' + e + ';', 7)"));
        RegistryHandler *fn = create(QStringLiteral("functionComponent"));
        QVERIFY(fn && fn->isActive());
        QVERIFY(fn->handler().isCallable());
        QSignalSpy notified(fn, &RegistryHandler::notified);
        QCOMPARE(notify(QStringLiteral("1")),
                 functionsOnly ? QStringLiteral("add=1;fn=1;") : QStringLiteral("high=1;add=1;fn=1;low=1;"));
        QCOMPARE(notified.count(), 0);
        fn->setPriority(8); // re-registers, still a function handler
        QCOMPARE(notify(QStringLiteral("2")),
                 functionsOnly ? QStringLiteral("fn=2;add=2;") : QStringLiteral("high=2;fn=2;add=2;low=2;"));
        eval(m_root.get(),
             QStringLiteral("root.trace = '', registry.notify({ k: 3 })")); // a JavaScript value
        QCOMPARE(trace(), functionsOnly ? QStringLiteral("fn=[object Object];add=[object Object];")
                                        : QStringLiteral("high=[object Object];fn=[object Object];"
                                                         "add=[object Object];low=[object Object];"));
        // null hands the events back to the signal.
        QSignalSpy changed(fn, &RegistryHandler::handlerChanged);
        fn->setHandler(QJSValue(QJSValue::NullValue));
        QCOMPARE(changed.count(), 1);
        QVERIFY(fn->handler().isUndefined());
        QCOMPARE(notify(QStringLiteral("4")), functionsOnly ? QStringLiteral("signal=4;add=4;")
                                                            : QStringLiteral("high=4;signal=4;add=4;low=4;"));
        QCOMPARE(notified.count(), 1);
    }

    void functionHandlerRefusesWhatIsNotAFunction()
    {
        RegistryHandler *fn = create(QStringLiteral("functionComponent"));
        QVERIFY(fn);
        const double id = fn->handlerId();
        QSignalSpy changed(fn, &RegistryHandler::handlerChanged);
        for (const QString &bad :
             {QStringLiteral("5"), QStringLiteral("'f'"), QStringLiteral("({})"), QStringLiteral("true")}) {
            QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral(
                                                   "handler must be a function \\(or null for the "
                                                   "notified signal\\), got .*; the handler is "
                                                   "unchanged$")));
            m_root->setProperty("probe", QVariant::fromValue<QObject *>(fn));
            eval(m_root.get(), QStringLiteral("root.probe.handler = ") + bad);
        }
        QCOMPARE(changed.count(), 0);
        QCOMPARE(fn->handlerId(), id); // not even re-registered
        QCOMPARE(notify(QStringLiteral("1")), QStringLiteral("high=1;fn=1;low=1;"));
    }

    void throwingFunctionHandlerIsReportedAndIsolated_data() { functionModes(); }

    void throwingFunctionHandlerIsReportedAndIsolated()
    {
        QFETCH(bool, functionsOnly);
        withFunctionMode(functionsOnly);
        eval(m_root.get(), QStringLiteral("registry.add(e => root.trace += 'after=' + e + ';', 0)"));
        RegistryHandler *thrower = create(QStringLiteral("throwingFunctionComponent"));
        QVERIFY(thrower);
        const int line = rio::test::lineOf(QStringLiteral("handler.qml"), QStringLiteral("THROW_FUNCTION"));
        QVERIFY(line > 0);
        QTest::ignoreMessage(
            QtWarningMsg,
            exactly(QStringLiteral("%1:%2: RegistryIO: handler %3 threw: Error: function boom x")
                        .arg(rio::test::dataUrl(QStringLiteral("handler.qml")).toString())
                        .arg(line)
                        .arg(thrower->handlerId())));
        QCOMPARE(notify(QStringLiteral("x")),
                 functionsOnly ? QStringLiteral("after=x;") : QStringLiteral("high=x;low=x;after=x;"));
        verifyOneFailure(thrower, QStringLiteral("Error: function boom x"));
    }

    void functionHandlerMayDeleteItsHandler_data()
    {
        QTest::addColumn<bool>("nested");
        QTest::newRow("deleted in its own delivery") << false;
        QTest::newRow("deleted in a delivery nested in one to it") << true;
    }

    void functionHandlerMayDeleteItsHandler()
    {
        // The handler deletes its RegistryHandler at once (not destroy(), which waits): the
        // delivery, and an outer one to the same handler, never touch it again (ASan watches).
        QFETCH(bool, nested);
        Killer killer;
        m_root->setProperty("killer", QVariant::fromValue<QObject *>(&killer));
        RegistryHandler *self = create(QStringLiteral("selfDestroyingComponent"));
        QVERIFY(self);
        self->setProperty("nest", nested);
        QPointer<RegistryHandler> guard(self);
        QCOMPARE(notify(QStringLiteral("1")), nested
                                                  ? QStringLiteral("self=1;self=2;high=2;low=2;high=1;low=1;")
                                                  : QStringLiteral("self=1;high=1;low=1;"));
        QVERIFY(!guard);
        QCOMPARE(registry()->count(), 2);
        QCOMPARE(notify(QStringLiteral("3")), QStringLiteral("high=3;low=3;"));
    }

    void withoutRegistryIsSilentAndRegistersNothing()
    {
        // Like Connections with a null target: a binding may set the registry later. Not a
        // message of any level, debug included (Qt shows debug messages by default).
        QTest::failOnWarning(QRegularExpression(QStringLiteral(".*")));
        static int messages = 0;
        messages = 0;
        const QtMessageHandler previous = qInstallMessageHandler(
            [](QtMsgType, const QMessageLogContext &, const QString &) { ++messages; });
        auto *orphan = qobject_cast<RegistryHandler *>(
            eval(m_root.get(), QStringLiteral("orphanComponent.createObject(root)")).value<QObject *>());
        qInstallMessageHandler(previous);
        QCOMPARE(messages, 0);
        QVERIFY(orphan);
        QVERIFY(!orphan->isActive());
        QCOMPARE(registry()->count(), 2);
        orphan->setRegistry(registry()); // a registry set later registers it
        QVERIFY(orphan->isActive());
        QCOMPARE(notify(QStringLiteral("y")), QStringLiteral("high=y;low=y;orphan=y;"));
    }

    void deliveryPropertiesReRegister()
    {
        RegistryHandler *h = handler("low");
        QCOMPARE(h->capacity(), 1000000);
        QCOMPARE(h->overflow(), RegistryHandler::DropOldest);
        QCOMPARE(h->blockTimeout(), 1000);
        QCOMPARE(h->minInterval(), 0);
        QCOMPARE(h->dropped(), 0.0);
        QSignalSpy capacity(h, &RegistryHandler::capacityChanged);
        QSignalSpy overflow(h, &RegistryHandler::overflowChanged);
        double id = h->handlerId();
        eval(m_root.get(), QStringLiteral("low.capacity = 0"));
        QCOMPARE(h->capacity(), 0);
        QCOMPARE(capacity.count(), 1);
        QVERIFY(h->handlerId() > id);
        id = h->handlerId();
        eval(m_root.get(), QStringLiteral("low.overflow = RegistryHandler.DropNewest"));
        QCOMPARE(h->overflow(), RegistryHandler::DropNewest);
        QCOMPARE(overflow.count(), 1);
        QVERIFY(h->handlerId() > id);
        id = h->handlerId();
        eval(m_root.get(), QStringLiteral("low.overflow = RegistryHandler.DropNewest")); // unchanged
        QCOMPARE(h->handlerId(), id);
        eval(m_root.get(),
             QStringLiteral("low.blockTimeout = 50; low.coalesce = true; low.minInterval = 20"));
        QCOMPARE(h->blockTimeout(), 50);
        QCOMPARE(h->minInterval(), 20);
        QCOMPARE(registry()->count(), 2);
        // With a minimum interval, a notify on the engine's thread is posted to it, not run
        // inside the notify: it arrives on the next turn of the event loop.
        QCOMPARE(notify(QStringLiteral("p")), QStringLiteral("high=p;"));
        QTRY_COMPARE(trace(), QStringLiteral("high=p;low=p;"));
    }

    // `delivery` names the mode; `coalesce` is the same property as a bool: each change of one
    // is a change of the other, re-registers once, and an unknown mode warns and changes nothing.
    void deliveryModeAndCoalesceAreOneProperty()
    {
        RegistryHandler *low = handler("low");
        QSignalSpy delivery(low, &RegistryHandler::deliveryChanged);
        QSignalSpy coalesce(low, &RegistryHandler::coalesceChanged);
        const double before = low->handlerId();
        eval(m_root.get(), QStringLiteral("low.delivery = RegistryHandler.Latest"));
        QVERIFY(low->coalesce());
        QCOMPARE(low->delivery(), RegistryHandler::Latest);
        QCOMPARE(delivery.count(), 1);
        QCOMPARE(coalesce.count(), 1);
        QVERIFY(low->handlerId() > before);
        eval(m_root.get(), QStringLiteral("low.coalesce = false"));
        QCOMPARE(low->delivery(), RegistryHandler::Every);
        QCOMPARE(delivery.count(), 2);
        const double id = low->handlerId();
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral(
                                               "delivery must be Every or Latest, got 5; it stays Every$")));
        eval(m_root.get(), QStringLiteral("low.delivery = 5"));
        QCOMPARE(low->delivery(), RegistryHandler::Every);
        QCOMPARE(low->handlerId(), id);
        QCOMPARE(delivery.count(), 2);
    }

    // A declaration that sets `delivery` and `coalesce` apart: a warning at it, and `delivery`
    // wins whichever order QML sets them in; agreeing ones say nothing.
    void declaredDeliveryAndCoalesceContradicting_data()
    {
        QTest::addColumn<QString>("properties");
        QTest::addColumn<bool>("latest");
        QTest::newRow("Latest, then coalesce false")
            << "delivery: RegistryHandler.Latest; coalesce: false" << true;
        QTest::newRow("coalesce false, then Latest")
            << "coalesce: false; delivery: RegistryHandler.Latest" << true;
        QTest::newRow("Every, then coalesce true")
            << "delivery: RegistryHandler.Every; coalesce: true" << false;
        QTest::newRow("coalesce true, then Every")
            << "coalesce: true; delivery: RegistryHandler.Every" << false;
    }

    void declaredDeliveryAndCoalesceContradicting()
    {
        QFETCH(QString, properties);
        QFETCH(bool, latest);
        QTest::ignoreMessage(
            QtWarningMsg,
            QRegularExpression(QStringLiteral("decl.qml:4:.*delivery: %1 and coalesce: %2 "
                                              "contradict; delivery wins$")
                                   .arg(latest ? "Latest" : "Every", latest ? "false" : "true")));
        QQmlComponent c(m_engine.get());
        c.setData(QStringLiteral("import QtQml\nimport RegistryIO\nQtObject {\n property RegistryHandler h: "
                                 "RegistryHandler { %1 }\n}\n")
                      .arg(properties)
                      .toUtf8(),
                  QUrl(QStringLiteral("file:///decl.qml")));
        std::unique_ptr<QObject> o(c.create());
        QVERIFY2(o, qPrintable(c.errorString()));
        auto *h = o->property("h").value<RegistryHandler *>();
        QCOMPARE(h->coalesce(), latest);
        QTest::failOnWarning(QRegularExpression(QStringLiteral(".*")));
        QQmlComponent agreeing(m_engine.get());
        agreeing.setData(
            "import QtQml\nimport RegistryIO\nRegistryHandler { delivery: RegistryHandler.Latest; "
            "coalesce: true }\n",
            QUrl(QStringLiteral("file:///agree.qml")));
        std::unique_ptr<QObject> a(agreeing.create());
        QVERIFY(a && a->property("coalesce").toBool());
    }

    void badDeliveryPropertiesWarnAndKeepTheirValue()
    {
        RegistryHandler *h = handler("low");
        const int line =
            rio::test::lineOf(QStringLiteral("handler.qml"), QStringLiteral("property RegistryHandler low"));
        QVERIFY(line > 0);
        const QString at =
            QStringLiteral("^%1:%2:\\d+: QML RegistryHandler: ")
                .arg(QRegularExpression::escape(rio::test::dataUrl(QStringLiteral("handler.qml")).toString()))
                .arg(line);
        const double id = h->handlerId();
        QSignalSpy capacity(h, &RegistryHandler::capacityChanged);
        QTest::ignoreMessage(
            QtWarningMsg, QRegularExpression(at + QStringLiteral("capacity must not be negative, got -1; it "
                                                                 "stays 1000000 \\(0: unbounded\\)$")));
        eval(m_root.get(), QStringLiteral("low.capacity = -1"));
        QCOMPARE(h->capacity(), 1000000);
        QCOMPARE(eval(m_root.get(), QStringLiteral("low.capacity")).toInt(), 1000000);
        QCOMPARE(capacity.count(), 0);
        QTest::ignoreMessage(
            QtWarningMsg, QRegularExpression(at + QStringLiteral("overflow must be DropOldest, DropNewest or "
                                                                 "Block, got 7; it stays DropOldest$")));
        eval(m_root.get(), QStringLiteral("low.overflow = 7"));
        QCOMPARE(h->overflow(), RegistryHandler::DropOldest);
        QTest::ignoreMessage(
            QtWarningMsg, QRegularExpression(at + QStringLiteral("blockTimeout must not be negative, got -2; "
                                                                 "it stays 1000 ms$")));
        eval(m_root.get(), QStringLiteral("low.blockTimeout = -2"));
        QCOMPARE(h->blockTimeout(), 1000);
        QTest::ignoreMessage(
            QtWarningMsg, QRegularExpression(at + QStringLiteral("minInterval must not be negative, got -3; "
                                                                 "it stays 0 ms$")));
        eval(m_root.get(), QStringLiteral("low.minInterval = -3"));
        QCOMPARE(h->minInterval(), 0);
        QCOMPARE(h->handlerId(), id); // nothing re-registered
        // minInterval without coalesce: kept, but the registration says it is ignored.
        QTest::ignoreMessage(
            QtWarningMsg,
            QRegularExpression(at + QStringLiteral("minInterval applies with delivery: Latest \\(coalesce: "
                                                   "true\\) only; 40 ms is ignored$")));
        eval(m_root.get(), QStringLiteral("low.minInterval = 40"));
        QCOMPARE(h->minInterval(), 40);
        QVERIFY(h->isActive());
        QCOMPARE(notify(QStringLiteral("q")), QStringLiteral("high=q;low=q;"));
    }

    void onNotifiedHandlersShareOneValuePerNotify()
    {
        // The event is converted once per notify and every onNotified gets that one value: from
        // JavaScript the caller's own object, from C++ one conversion of the QVariantMap. A C++
        // handler beside them still gets a plain QVariantMap.
        QQmlComponent component(m_engine.get());
        component.setData(R"(
import QtQml
import RegistryIO
QtObject {
    id: root
    property var seen: []
    property var sent
    property QmlRegistry registry: QmlRegistry {}
    property RegistryHandler a: RegistryHandler { registry: root.registry; priority: 1; onNotified: (event) => root.seen.push(event) }
    property RegistryHandler b: RegistryHandler { registry: root.registry; onNotified: function(event) { root.seen.push(event) } }
    function send() { sent = { id: 7 }; registry.notify(sent) }
}
)",
                          QUrl(QStringLiteral("qrc:/shared.qml")));
        std::unique_ptr<QObject> root(component.create());
        QVERIFY2(root, qPrintable(component.errorString()));
        auto *registry = root->property("registry").value<QmlRegistry *>();
        const auto eval = [&](const char *expression) {
            return rio::test::eval(root.get(), QString::fromLatin1(expression));
        };
        eval("send()");
        QVERIFY(eval("seen.length === 2 && seen[0] === sent && seen[1] === sent").toBool());
        registry->notify(QVariantMap{{QStringLiteral("id"), 8}});
        QVERIFY(eval("seen.length === 4 && seen[2] === seen[3] && seen[2] !== sent && seen[3].id === 8")
                    .toBool());
        QVariantList cpp;
        registry->registry().add(registry, [&cpp](const QVariant &event) { cpp.append(event); });
        eval("send()");
        QVERIFY(eval("seen.length === 6 && seen[4] === sent && seen[5] === sent").toBool());
        QCOMPARE(cpp.size(), 1);
        QCOMPARE(cpp.front().metaType(), QMetaType::fromType<QVariantMap>());
        QCOMPARE(cpp.front().toMap().value(QStringLiteral("id")).toInt(), 7);
    }

    void onNotifiedHandlerChangesTakeEffectWithinTheNotify_data()
    {
        rio::test::addChangesWithinTheNotifyRows();
    }

    void onNotifiedHandlerChangesTakeEffectWithinTheNotify()
    {
        rio::test::checkChangesWithinTheNotify(
            *m_engine, QStringLiteral("RegistryIO"), QStringLiteral("QmlRegistry"),
            QStringLiteral("RegistryHandler"),
            [](QObject *registry, int value) { static_cast<QmlRegistry *>(registry)->notify(value); });
    }

    void aSuspendedOnNotifiedHandlerIsSkipped()
    {
        // A handler suspended in the facade is skipped, from JavaScript and from C++ alike, and
        // runs again when resumed.
        QCOMPARE(notify(QStringLiteral("0")), QStringLiteral("high=0;low=0;"));
        const rio::HandlerId low{quint64(handler("low")->handlerId())};
        QVERIFY(registry()->registry().setSuspended(low, true));
        QCOMPARE(notify(QStringLiteral("1")), QStringLiteral("high=1;"));
        eval(m_root.get(), QStringLiteral("root.trace = '', registry.notify('2')"));
        QCOMPARE(trace(), QStringLiteral("high=2;"));
        QVERIFY(registry()->registry().setSuspended(low, false));
        QCOMPARE(notify(QStringLiteral("3")), QStringLiteral("high=3;low=3;"));
    }

    void aBindingOnTheCountLeavesOneRegistrationAndNoneBehind()
    {
        // The handler's priority follows its registry's count: unregistering while the registry
        // is destroyed changes the count, the binding re-registers... but not on that registry.
        QQmlComponent component(m_engine.get());
        component.setData(R"(
import QtQml
import RegistryIO
QtObject {
    id: root
    property QmlRegistry registry: QmlRegistry {}
    property RegistryHandler watcher: RegistryHandler {
        registry: root.registry
        priority: root.registry ? root.registry.count + 1 : 0
        capacity: root.registry ? root.registry.count + 10 : 10
        handler: event => {}
    }
}
)",
                          QUrl(QStringLiteral("qrc:/counting.qml")));
        for (bool handlerFirst : {true, false}) {
            std::unique_ptr<QObject> root(component.create());
            QVERIFY2(root, qPrintable(component.errorString()));
            QPointer<QmlRegistry> registry = root->property("registry").value<QmlRegistry *>();
            QPointer<RegistryHandler> watcher = root->property("watcher").value<RegistryHandler *>();
            QVERIFY(registry && watcher);
            QVERIFY(watcher->isActive());
            QCOMPARE(registry->count(), 1); // one registration, however often the binding ran
            if (handlerFirst) {
                delete watcher.data(); // its removal changes the count its priority follows
                QCOMPARE(registry->count(), 0);
                registry->notify(1); // nothing registered (a dangling registration would crash)
            } else {
                delete registry.data();
                QVERIFY(!watcher->isActive());
                QCOMPARE(watcher->registry(), nullptr);
            }
            root.reset();
        }
    }

    void destroyedRegistryLeavesHandlersInert()
    {
        QPointer<QmlRegistry> doomed =
            eval(m_root.get(), QStringLiteral("registryComponent.createObject(root)")).value<QmlRegistry *>();
        QVERIFY(doomed);
        RegistryHandler *h = handler("low");
        h->setRegistry(doomed);
        QVERIFY(h->isActive());
        QSignalSpy changed(h, &RegistryHandler::registryChanged);
        delete doomed.data();
        QCOMPARE(h->registry(), nullptr);
        QVERIFY(!h->isActive());
        QCOMPARE(changed.count(), 1);
        h->setPriority(3); // no registry: nothing to do, no crash
        QCOMPARE(notify(QStringLiteral("z")), QStringLiteral("high=z;"));
    }

    // The registry tells every handler set to it when it goes (a list, not a connection each):
    // handlers destroyed or moved to another registry first leave the list, the rest become
    // inert at once, and one that sets the dying registry again in its registryChanged gets
    // none.
    void registryDestructionReachesEveryHandlerSetToIt()
    {
        auto doomed = std::make_unique<QmlRegistry>();
        QmlRegistry other;
        std::vector<std::unique_ptr<RegistryHandler>> handlers;
        for (int i = 0; i < 6; ++i) {
            auto h = std::make_unique<RegistryHandler>();
            h->setRegistry(doomed.get());
            h->componentComplete();
            QVERIFY(h->isActive());
            handlers.push_back(std::move(h));
        }
        handlers[0]->setEnabled(false);   // set, not registered: told too
        handlers[2].reset();              // gone first: out of the list
        handlers[4]->setRegistry(&other); // moved: out of the list, active on the other
        QCOMPARE(doomed->count(), 3);
        // Sets the dying registry back when told: refused, it stays without a registry.
        RegistryHandler *stubborn = handlers[5].get();
        QmlRegistry *dying = doomed.get();
        connect(stubborn, &RegistryHandler::registryChanged, stubborn, [stubborn, dying] {
            if (stubborn->registry() == nullptr)
                stubborn->setRegistry(dying);
        });
        std::vector<std::unique_ptr<QSignalSpy>> changed;
        for (const auto &h : handlers)
            changed.push_back(h ? std::make_unique<QSignalSpy>(h.get(), &RegistryHandler::registryChanged)
                                : nullptr);
        QTest::ignoreMessage(
            QtWarningMsg,
            QRegularExpression(QStringLiteral(
                "RegistryHandler: the registry is being destroyed; the registry is unchanged$")));
        doomed.reset();
        for (int i : {0, 1, 3, 5}) {
            QCOMPARE(handlers[i]->registry(), nullptr);
            QVERIFY(!handlers[i]->isActive());
            QVERIFY(changed[i]->count() >= 1);
        }
        QCOMPARE(handlers[4]->registry(), &other);
        QVERIFY(handlers[4]->isActive());
        QCOMPARE(changed[4]->count(), 0);
        QCOMPARE(other.count(), 1);
        handlers[1]->setPriority(2); // no registry: nothing to do, no crash
        handlers[1]->setRegistry(&other);
        QVERIFY(handlers[1]->isActive());
        QCOMPARE(other.count(), 2);
    }
};

QTEST_MAIN(tst_QmlHandler)
#include "tst_qml_handler.moc"
