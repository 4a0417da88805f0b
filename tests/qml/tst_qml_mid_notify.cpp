// SPDX-License-Identifier: MIT
// Adversarial checks of the QML layer's promises, written from docs/QML.md and the public headers:
// JavaScript handlers of every form interleaved with C++ handlers on registry() by priority,
// whichever side notifies and whether diagnostics are on; handlers that destroy their registry,
// remove or add handlers, re-notify or change their own priority mid-notify; deliveries pending
// when their handler or registry goes; registry() taken from another thread during a JavaScript
// notify; QObject events at a reused address; thread churn through senders.

#include "qml_test_support.h"

#include <registryio/qml/qml_registry.h>
#include <registryio/qml/qml_registry_sender.h>
#include <registryio/qml/qml_typed_registry.h>
#include <registryio/qml/registry_handler.h>
#include <registryio/qt/diagnostics.h>

#include <QCoreApplication>
#include <QMutex>
#include <QMutexLocker>
#include <QPointer>
#include <QQmlComponent>
#include <QQmlContext>
#include <QStringList>
#include <QTest>
#include <QThread>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

RIO_QML_TYPED_REGISTRY(AttackRegistry, int)

namespace {

/// Where every handler, JavaScript or C++, records what it saw, in call order.
class Sink : public QObject
{
    Q_OBJECT
public:
    Q_INVOKABLE void rec(const QString &entry)
    {
        QMutexLocker lock(&m_mutex);
        m_log << entry;
    }
    QStringList take()
    {
        QMutexLocker lock(&m_mutex);
        return std::exchange(m_log, {});
    }
    qsizetype size()
    {
        QMutexLocker lock(&m_mutex);
        return m_log.size();
    }

private:
    QMutex m_mutex;
    QStringList m_log;
};

/// A member-function handler's receiver, which a test deletes mid-notify.
class Receiver : public QObject
{
    Q_OBJECT
public:
    Sink *sink = nullptr;
    void on(const QVariant &) { sink->rec(QStringLiteral("member")); }
};

const char *const kQml = R"(
import QtQml
import RegistryIO
import RioAttackTest
QtObject {
    id: root
    property var sink: null
    property var sent: null
    property QmlRegistry reg: QmlRegistry {}
    property AttackRegistry typed: AttackRegistry {}
    property var handles: []
    property Component regComponent: Component { QmlRegistry {} }
    property Component handlerComponent: Component { RegistryHandler {} }
    function forms() {
        handlerComponent.createObject(root, { registry: reg, priority: 30,
            handler: (e) => root.sink.rec("h30:" + e.v) })
        const n = handlerComponent.createObject(root, { registry: reg, priority: 10 })
        n.notified.connect((e) => root.sink.rec("n10:" + e.v))
        handles.push(reg.add((e) => root.sink.rec("a20:" + e.v), 20))
        handles.push(reg.add((e) => root.sink.rec("a0:" + e.v), 0))
        handles.push(reg.add((e) => root.sink.rec("a-10:" + e.v), -10))
    }
    function fire(v) { reg.notify({ v: v }) }
}
)";

} // namespace

class tst_QmlMidNotify : public QObject
{
    Q_OBJECT

    std::unique_ptr<QQmlEngine> m_engine;
    std::unique_ptr<QObject> m_root;
    Sink m_sink;

    QObject *m_victim = nullptr;
    rio::QmlRegistry *m_reg = nullptr;
    rio::HandlerId m_cppId;

    rio::QmlRegistry *reg() const { return m_root->property("reg").value<rio::QmlRegistry *>(); }
    QVariant eval(const QString &expression) { return rio::test::eval(m_root.get(), expression); }

    void addCppHandlers(rio::QmlRegistry *r)
    {
        for (int p : {25, 5, -5}) {
            r->registry().add(
                r,
                [this, p](const QVariant &e) {
                    m_sink.rec(QStringLiteral("c%1:%2").arg(p).arg(e.toMap().value("v").toInt()));
                },
                rio::HandlerOptions{.priority = p});
        }
    }

    /// Everything posted to this thread before the call has run once it returns.
    void drainPosted()
    {
        bool marked = false;
        QMetaObject::invokeMethod(this, [&] { marked = true; }, Qt::QueuedConnection);
        QTRY_VERIFY(marked);
        QCoreApplication::processEvents();
    }

private Q_SLOTS:
    void initTestCase()
    {
        qmlRegisterType<AttackRegistry>("RioAttackTest", 1, 0, "AttackRegistry");
        qmlRegisterType<AttackRegistryHandler>("RioAttackTest", 1, 0, "AttackRegistryHandler");
    }

    void init()
    {
        m_sink.take();
        m_engine = rio::test::makeEngine();
        m_engine->rootContext()->setContextProperty(QStringLiteral("attack"), this);
        QQmlComponent component(m_engine.get());
        component.setData(kQml, QUrl(QStringLiteral("attack.qml")));
        QVERIFY2(component.isReady(), qPrintable(component.errorString()));
        m_root.reset(component.create());
        QVERIFY(m_root);
        m_root->setProperty("sink", QVariant::fromValue<QObject *>(&m_sink));
    }

    void cleanup()
    {
        m_root.reset();
        m_engine.reset();
        rio::Diagnostics::setEnabled(false);
    }

    // Every form of JavaScript handler and C++ handlers on registry() run in one priority order
    // with the same values, whichever thread notifies, whenever C++ took registry(), with
    // diagnostics on or off.
    void mixedFormsRunInOnePriorityOrder_data()
    {
        QTest::addColumn<bool>("cppFirst");
        QTest::addColumn<bool>("diagnostics");
        QTest::addColumn<QString>("source");
        for (bool cppFirst : {false, true})
            for (bool diag : {false, true})
                for (const char *source : {"js", "gui", "worker"})
                    QTest::addRow("%s-%s-%s", cppFirst ? "cppFirst" : "cppAfter", diag ? "diag" : "nodiag",
                                  source)
                        << cppFirst << diag << QString::fromLatin1(source);
    }

    void mixedFormsRunInOnePriorityOrder()
    {
        QFETCH(bool, cppFirst);
        QFETCH(bool, diagnostics);
        QFETCH(QString, source);
        rio::Diagnostics::setEnabled(diagnostics);
        rio::QmlRegistry *r = reg();
        if (cppFirst)
            addCppHandlers(r);
        eval(QStringLiteral("forms()"));
        if (!cppFirst)
            addCppHandlers(r);
        QCOMPARE(r->count(), 8);
        constexpr int kEvents = 3;
        if (source == QLatin1String("js")) {
            for (int v = 1; v <= kEvents; ++v)
                eval(QStringLiteral("fire(%1)").arg(v));
        } else if (source == QLatin1String("gui")) {
            for (int v = 1; v <= kEvents; ++v)
                r->notify(QVariantMap{{QStringLiteral("v"), v}});
        } else {
            std::thread worker([sender = r->sender()] {
                for (int v = 1; v <= kEvents; ++v)
                    sender.notify(QVariantMap{{QStringLiteral("v"), v}});
            });
            worker.join();
            QTRY_COMPARE_WITH_TIMEOUT(m_sink.size(), 8 * kEvents, 30000);
        }
        QStringList expected;
        for (int v = 1; v <= kEvents; ++v)
            for (const char *tag : {"h30", "c25", "a20", "n10", "c5", "a0", "c-5", "a-10"})
                expected << QStringLiteral("%1:%2").arg(QLatin1String(tag)).arg(v);
        drainPosted();
        QCOMPARE(m_sink.take(), expected);
    }

    // "A JavaScript handler may destroy the registry: no later handler of that notify runs."
    void destroyFromAHandlerTakesEffectAfterTheNotify_data()
    {
        QTest::addColumn<bool>("taken");
        QTest::addColumn<bool>("diagnostics");
        QTest::addRow("plain") << false << false;
        QTest::addRow("registryTaken") << true << false;
        QTest::addRow("diagnostics") << false << true;
    }

    // The same with the registry deleted at once (C++ code reached from the handler).
    void handlerDeletingItsRegistryStopsTheNotify_data()
    {
        destroyFromAHandlerTakesEffectAfterTheNotify_data();
    }

    void handlerDeletingItsRegistryStopsTheNotify()
    {
        QFETCH(bool, taken);
        QFETCH(bool, diagnostics);
        rio::Diagnostics::setEnabled(diagnostics);
        eval(QStringLiteral("root.reg = regComponent.createObject(root)"));
        QPointer<rio::QmlRegistry> r = reg();
        if (taken)
            r->registry().add(
                r, [this](const QVariant &) { m_sink.rec(QStringLiteral("cpp")); },
                rio::HandlerOptions{.priority = 5});
        QObject helper;
        connect(this, &tst_QmlMidNotify::takeNow, &helper, [&r] { delete r.data(); });
        eval(QStringLiteral("reg.add((e) => { root.sink.rec('first'); attack.takeNow() }, 10);"
                            "reg.add((e) => root.sink.rec('second'), 0);"
                            "handlerComponent.createObject(root, { registry: reg, priority: -1,"
                            "  handler: (e) => root.sink.rec('third') })"));
        eval(QStringLiteral("fire(1)"));
        QVERIFY(!r);
        drainPosted();
        QCOMPARE(m_sink.take(), QStringList{QStringLiteral("first")});
    }

    // QML's destroy() schedules the deletion, as for any QML object: until the event loop deletes
    // the registry it stays whole (the notify under way runs its other handlers, and so does a
    // notify made before the deletion), and from the deletion on nothing reaches its handlers.
    void destroyFromAHandlerTakesEffectAfterTheNotify()
    {
        QFETCH(bool, taken);
        QFETCH(bool, diagnostics);
        rio::Diagnostics::setEnabled(diagnostics);
        eval(QStringLiteral("root.reg = regComponent.createObject(root)"));
        QPointer<rio::QmlRegistry> r = reg();
        QVERIFY(r);
        if (taken)
            (void)r->registry();
        eval(QStringLiteral("reg.add((e) => { root.sink.rec('first'); root.reg.destroy() }, 10);"
                            "reg.add((e) => root.sink.rec('second'), 0);"
                            "handlerComponent.createObject(root, { registry: reg, priority: -1,"
                            "  handler: (e) => root.sink.rec('third') })"));
        const QStringList all{QStringLiteral("first"), QStringLiteral("second"), QStringLiteral("third")};
        eval(QStringLiteral("fire(1)"));
        QCOMPARE(m_sink.take(), all);
        eval(QStringLiteral("fire(2)")); // the same turn of the event loop: not deleted yet
        QCOMPARE(m_sink.take(), all);
        drainPosted();
        QTRY_VERIFY(!r);
        QVERIFY(m_sink.take().isEmpty());
    }

    // Removal during a notify skips handlers not reached yet; additions are not called by it; a
    // nested notify runs every handler; a priority change re-registers without a second call.
    void handlersChangingTheTableMidNotify()
    {
        rio::QmlRegistry *r = reg();
        addCppHandlers(r);
        eval(QStringLiteral(
            "root.handles = [];"
            "const later = reg.add((e) => root.sink.rec('later:' + e.v), -20);"
            "const self = handlerComponent.createObject(root, { registry: reg, priority: 40 });"
            "self.handler = (e) => { root.sink.rec('self:' + e.v); if (e.v === 1) { self.priority = -30;"
            "  later.remove(); reg.add((x) => root.sink.rec('added:' + x.v), 50);"
            "  reg.notify({ v: 2 }) } }"));
        eval(QStringLiteral("fire(1)"));
        drainPosted();
        const QStringList log = m_sink.take();
        // The nested notify (v 2) sees self at -30, the added handler and the C++ ones, not later.
        const QStringList expected{
            QStringLiteral("self:1"), QStringLiteral("added:2"), QStringLiteral("c25:2"),
            QStringLiteral("c5:2"),   QStringLiteral("c-5:2"),   QStringLiteral("self:2"),
            QStringLiteral("c25:1"),  QStringLiteral("c5:1"),    QStringLiteral("c-5:1")};
        QCOMPARE(log, expected);
    }

    // Once handlers of every form fired from a worker, then the registry deleted before the
    // engine's thread runs their deliveries: none runs, nothing reads the registry (ASan).
    void onceDeliveriesPendingWhenTheRegistryDies_data()
    {
        QTest::addColumn<bool>("typed");
        QTest::addRow("plain") << false;
        QTest::addRow("typed") << true;
    }

    void onceDeliveriesPendingWhenTheRegistryDies()
    {
        QFETCH(bool, typed);
        if (typed) {
            eval(QStringLiteral("typed.add((e) => root.sink.rec('fn'), 0, { once: true });"
                                "const h = Qt.createQmlObject('import RioAttackTest; AttackRegistryHandler { "
                                "once: true }', root);"
                                "h.registry = typed; h.handler = (e) => root.sink.rec('handler');"
                                "const n = Qt.createQmlObject('import RioAttackTest; AttackRegistryHandler { "
                                "once: true }', root);"
                                "n.registry = typed; n.notified.connect((e) => root.sink.rec('signal'))"));
            QPointer<QObject> t = m_root->property("typed").value<QObject *>();
            QVERIFY(t);
            bool sent = false;
            std::thread worker([&] {
                sent = QMetaObject::invokeMethod(t.data(), "notify", Qt::DirectConnection,
                                                 Q_ARG(QVariant, QVariant(7)));
            });
            worker.join();
            QVERIFY(sent);
            delete t.data();
        } else {
            eval(
                QStringLiteral("reg.add((e) => root.sink.rec('fn'), 0, { once: true });"
                               "handlerComponent.createObject(root, { registry: reg, once: true, handler: "
                               "(e) => root.sink.rec('handler') });"
                               "const n = handlerComponent.createObject(root, { registry: reg, once: true });"
                               "n.notified.connect((e) => root.sink.rec('signal'))"));
            rio::QmlRegistry *r = reg();
            r->registry().add(
                r, [this](const QVariant &) { m_sink.rec(QStringLiteral("cpp")); },
                rio::HandlerOptions{.once = true});
            std::thread worker(
                [sender = r->sender()] { sender.notify(QVariantMap{{QStringLiteral("v"), 7}}); });
            worker.join();
            delete r;
        }
        drainPosted();
        QCOMPARE(m_sink.take(), QStringList{});
    }

    // A once handler of every form runs for one event of a burst from a worker.
    void onceHandlersRunOnceForABurstFromAWorker()
    {
        eval(QStringLiteral("reg.add((e) => root.sink.rec('fn:' + e.v), 0, { once: true });"
                            "handlerComponent.createObject(root, { registry: reg, once: true, handler: (e) "
                            "=> root.sink.rec('handler:' + e.v) });"
                            "const n = handlerComponent.createObject(root, { registry: reg, once: true });"
                            "n.notified.connect((e) => root.sink.rec('signal:' + e.v))"));
        rio::QmlRegistry *r = reg();
        std::thread worker([sender = r->sender()] {
            for (int v = 1; v <= 5; ++v)
                sender.notify(QVariantMap{{QStringLiteral("v"), v}});
        });
        worker.join();
        drainPosted();
        QStringList log = m_sink.take();
        log.sort();
        QCOMPARE(log, (QStringList{QStringLiteral("fn:1"), QStringLiteral("handler:1"),
                                   QStringLiteral("signal:1")}));
        QCOMPARE(r->count(), 0);
    }

    // On the engine's thread one JavaScript value is shared by the handlers of a notify (a change
    // is seen by the later ones); a delivery queued from a worker converts the event per handler.
    void eventValueSharedOnTheEngineThreadOnly()
    {
        eval(QStringLiteral("reg.add((e) => { root.sink.rec('a:' + e.v); e.v = 99 }, 10);"
                            "reg.add((e) => root.sink.rec('b:' + e.v), 0)"));
        rio::QmlRegistry *r = reg();
        r->notify(QVariantMap{{QStringLiteral("v"), 1}});
        QCOMPARE(m_sink.take(), (QStringList{QStringLiteral("a:1"), QStringLiteral("b:99")}));
        eval(QStringLiteral("fire(2)"));
        QCOMPARE(m_sink.take(), (QStringList{QStringLiteral("a:2"), QStringLiteral("b:99")}));
        std::thread worker([sender = r->sender()] { sender.notify(QVariantMap{{QStringLiteral("v"), 3}}); });
        worker.join();
        drainPosted();
        QCOMPARE(m_sink.take(), (QStringList{QStringLiteral("a:3"), QStringLiteral("b:3")}));
    }

    // A typed registry deleted at once by the handler running: no later handler of that notify.
    void typedHandlerDeletingItsRegistryStopsTheNotify()
    {
        QPointer<QObject> t = m_root->property("typed").value<QObject *>();
        QObject helper;
        connect(this, &tst_QmlMidNotify::takeNow, &helper, [&t] { delete t.data(); });
        eval(QStringLiteral("typed.add((e) => { root.sink.rec('first'); attack.takeNow() }, 10);"
                            "typed.add((e) => root.sink.rec('second'), 0);"
                            "const h = Qt.createQmlObject('import RioAttackTest; AttackRegistryHandler { "
                            "priority: -1 }', root);"
                            "h.registry = typed; h.handler = (e) => root.sink.rec('third')"));
        eval(QStringLiteral("typed.notify(5)"));
        QVERIFY(!t);
        drainPosted();
        QCOMPARE(m_sink.take(), QStringList{QStringLiteral("first")});
    }

    // Deliveries of every form queued from a worker, a handler removing a later one's pending
    // delivery, diagnostics switched on and off by a handler: each event runs each live handler once.
    void queuedDeliveriesRemovedAndDiagnosticsToggledMidRun()
    {
        rio::QmlRegistry *r = reg();
        QObject context;
        r->registry().add(
            &context,
            [this](const QVariant &e) {
                m_sink.rec(QStringLiteral("c:%1").arg(e.toMap().value("v").toInt()));
            },
            rio::HandlerOptions{.priority = 5});
        eval(QStringLiteral("const victim = reg.add((e) => root.sink.rec('victim:' + e.v), 0);"
                            "reg.add((e) => { root.sink.rec('killer:' + e.v); if (e.v === 2) victim.remove();"
                            "  attack.toggleDiagnostics() }, 10)"));
        std::thread worker([sender = r->sender()] {
            for (int v = 1; v <= 3; ++v)
                sender.notify(QVariantMap{{QStringLiteral("v"), v}});
        });
        worker.join();
        drainPosted();
        QCOMPARE(m_sink.take(),
                 (QStringList{QStringLiteral("killer:1"), QStringLiteral("c:1"), QStringLiteral("victim:1"),
                              QStringLiteral("killer:2"), QStringLiteral("c:2"), QStringLiteral("killer:3"),
                              QStringLiteral("c:3")}));
    }

    // Non-once deliveries of every form pending from a worker when the registry is deleted, a C++
    // handler's context outliving it: none runs.
    void deliveriesPendingWhenTheRegistryDies()
    {
        rio::QmlRegistry *r = reg();
        QObject context;
        r->registry().add(&context, [this](const QVariant &) { m_sink.rec(QStringLiteral("cpp")); });
        eval(QStringLiteral("forms()"));
        std::thread worker([sender = r->sender()] {
            for (int v = 1; v <= 20; ++v)
                sender.notify(QVariantMap{{QStringLiteral("v"), v}});
        });
        worker.join();
        delete r;
        drainPosted();
        QCOMPARE(m_sink.take(), QStringList{});
    }

    // An `owner` deleted by an earlier handler of the same notify: its handler is not reached.
    void ownerDeletedMidNotifySkipsItsHandler()
    {
        auto *owner = new QObject;
        QQmlEngine::setObjectOwnership(owner, QQmlEngine::CppOwnership);
        m_root->setProperty("handles", QVariant::fromValue(QVariantList{QVariant::fromValue(owner)}));
        QObject helper;
        connect(this, &tst_QmlMidNotify::takeNow, &helper, [owner] { delete owner; });
        eval(QStringLiteral("const o = handles[0];"
                            "reg.add((e) => { root.sink.rec('first'); attack.takeNow() }, 10);"
                            "reg.add((e) => root.sink.rec('owned'), 0, { owner: o });"
                            "reg.add((e) => root.sink.rec('last'), -10)"));
        QCOMPARE(reg()->count(), 3);
        eval(QStringLiteral("fire(1)"));
        QCOMPARE(m_sink.take(), (QStringList{QStringLiteral("first"), QStringLiteral("last")}));
        QCOMPARE(reg()->count(), 2);
    }

    // remove() and registry().clear() with deliveries pending: none of them runs.
    void removeAndClearCancelPendingDeliveries()
    {
        rio::QmlRegistry *r = reg();
        eval(QStringLiteral("forms()"));
        addCppHandlers(r);
        std::thread worker([sender = r->sender()] {
            for (int v = 1; v <= 50; ++v)
                sender.notify(QVariantMap{{QStringLiteral("v"), v}});
        });
        worker.join();
        // Remove one JavaScript handler, then clear the rest, before the loop runs anything.
        QVERIFY(eval(QStringLiteral("reg.remove(handles[0].id)")).toBool());
        QVERIFY(!eval(QStringLiteral("handles[0].active")).toBool());
        r->registry().clear();
        QCOMPARE(r->count(), 0);
        drainPosted();
        QCOMPARE(m_sink.take(), QStringList{});
        QVERIFY(!eval(QStringLiteral("handles[1].active")).toBool());
        // The registry still works.
        eval(QStringLiteral("reg.add((e) => root.sink.rec('new:' + e.v))"));
        eval(QStringLiteral("fire(3)"));
        QCOMPARE(m_sink.take(), QStringList{QStringLiteral("new:3")});
    }

    // A JavaScript notify hands its JavaScript handlers the caller's own value, and makes the
    // plain copy only for a C++ handler that takes it (directly or queued), once per notify and
    // before the dispatch; taking registry() or reading diagnostics makes none.
    void aJavaScriptNotifyCopiesItsEventOnlyForACppHandler()
    {
        rio::QmlRegistry *r = reg();
        const QString notify = QStringLiteral("reg.notify({ get v() { root.sink.rec('read'); return 1 } })");
        eval(QStringLiteral("reg.add((e) => root.sink.rec('js'))"));
        static_cast<void>(rio::Diagnostics::snapshot(r->registry().registryId()));
        eval(notify);
        QCOMPARE(m_sink.take(), QStringList{QStringLiteral("js")});
        std::vector<QVariant> seen;
        const auto record = [&seen](const QVariant &e) { seen.push_back(e); };
        r->registry().add(record, -1);
        r->registry().add(record, -2);
        r->registry().add(this, record, {.priority = -3, .connection = Qt::QueuedConnection});
        eval(notify);
        QCOMPARE(m_sink.take(), (QStringList{QStringLiteral("read"), QStringLiteral("js")}));
        QTRY_COMPARE(seen.size(), std::size_t(3));
        for (const QVariant &e : seen)
            QCOMPARE(e.toMap().value(QStringLiteral("v")), QVariant(1));
    }

    // The plain copy of a JavaScript event runs its getters before the dispatch, never between a
    // C++ handler's checks and its call: a getter that removes that handler, deletes its
    // receiver or deletes the registry leaves nothing to run.
    void aGetterOfTheEventRemovingTheCppHandlerItFeeds()
    {
        rio::QmlRegistry *r = reg();
        m_cppId = r->registry().add([this](const QVariant &) { m_sink.rec(QStringLiteral("cpp")); }, 5);
        m_reg = r;
        eval(QStringLiteral(
            "reg.notify({ get v() { root.sink.rec('removed:' + attack.removeCpp()); return 1 } })"));
        QCOMPARE(m_sink.take(), QStringList{QStringLiteral("removed:true")});
    }

    void aGetterOfTheEventDeletingTheRegistry()
    {
        reg()->registry().add([this](const QVariant &) { m_sink.rec(QStringLiteral("cpp")); }, 5);
        eval(QStringLiteral("reg.add((e) => root.sink.rec('js'), 0)"));
        const QPointer<rio::QmlRegistry> alive(reg());
        eval(QStringLiteral(
            "reg.notify({ get v() { root.sink.rec('getter'); attack.kill(reg); return 1 } })"));
        QVERIFY(alive.isNull());
        QCOMPARE(m_sink.take(), QStringList{QStringLiteral("getter")});
    }

    void aGetterOfTheEventDeletingAMemberHandlersReceiver()
    {
        auto *receiver = new Receiver;
        receiver->sink = &m_sink;
        m_victim = receiver;
        reg()->registry().add(receiver, &Receiver::on, rio::HandlerOptions{.priority = 5});
        eval(QStringLiteral(
            "reg.notify({ get v() { root.sink.rec('getter'); attack.killVictim(); return 1 } })"));
        QCOMPARE(m_sink.take(), QStringList{QStringLiteral("getter")});
    }

    // What a getter throws while the plain copy is made is the notify's caller's error (thrown at
    // its line, nothing delivered), not a failure of a JavaScript handler that never threw.
    void aThrowingGetterIsTheNotifyingCallersError()
    {
        rio::QmlRegistry *r = reg();
        eval(QStringLiteral("reg.add((e) => root.sink.rec('js10'), 10)"));
        r->registry().add([this](const QVariant &) { m_sink.rec(QStringLiteral("cpp5")); }, 5);
        eval(QStringLiteral("reg.add((e) => root.sink.rec('js0'), 0)"));
        int failures = 0;
        connect(r, &rio::QmlRegistry::handlerFailed, this, [&failures] { ++failures; });
        const QVariant result =
            eval(QStringLiteral("(function() { try { reg.notify({ get v() { throw new Error('getter') } }); "
                                "return 'returned' } catch (x) { return 'caught ' + x } })()"));
        drainPosted();
        QCOMPARE(result.toString(), QStringLiteral("caught Error: getter"));
        QCOMPARE(failures, 0);
        QCOMPARE(m_sink.take(), QStringList{});
        eval(QStringLiteral("reg.notify({ v: 1 })"));
        QCOMPARE(m_sink.take(), (QStringList{"js10", "cpp5", "js0"}));
    }

    // A JavaScript handler whose delivery is queued on the engine's thread (Latest with a minimum
    // interval) takes the caller's own value: a JavaScript-only registry makes no plain copy, so
    // a throwing getter nobody reads is no error, and each handler runs once in priority order.
    void aQueuedJavaScriptHandlerTakesTheCallersValue()
    {
        rio::QmlRegistry *r = reg();
        eval(QStringLiteral("reg.add((e) => root.sink.rec('js10'), 10)"));
        eval(QStringLiteral("reg.add((e) => root.sink.rec('late:' + e.a + e.z + ':' + (e === root.sent)), "
                            "0, { coalesce: true, minInterval: 5 })"));
        int failures = 0;
        connect(r, &rio::QmlRegistry::handlerFailed, this, [&failures] { ++failures; });
        const QVariant result = eval(QStringLiteral(
            "(function() { root.sent = { a: 1, get v() { throw new Error('getter') }, z: 2 }; "
            "try { reg.notify(root.sent); return 'returned' } catch (x) { return 'caught ' + x } })()"));
        QCOMPARE(result.toString(), QStringLiteral("returned"));
        QTRY_COMPARE(m_sink.size(), 2);
        QCOMPARE(m_sink.take(), (QStringList{"js10", "late:12:true"}));
        drainPosted();
        QCOMPARE(failures, 0);
    }

    // A QObject notified from JavaScript and destroyed before a JavaScript handler's queued
    // delivery (Latest with a minimum interval) runs: that delivery sees null; a C++ handler
    // takes the object as notified.
    void aQObjectEventDestroyedBeforeItsQueuedDeliveryIsNull()
    {
        QObject *seen = nullptr;
        reg()->registry().add([&seen](const QVariant &e) { seen = e.value<QObject *>(); });
        eval(
            QStringLiteral("reg.add((e) => root.sink.rec('late:' + (e === null ? 'null' : e.objectName)), 0, "
                           "{ coalesce: true, minInterval: 5 })"));
        eval(QStringLiteral(
            "(function() { const o = regComponent.createObject(null); reg.notify(o); attack.kill(o) })()"));
        QVERIFY(seen != nullptr);
        QTRY_COMPARE(m_sink.size(), 1);
        QCOMPARE(m_sink.take(), QStringList{QStringLiteral("late:null")});
    }

    // A C++ handler takes the event as notified, whatever a JavaScript handler before it did to
    // the caller's value and whichever C++ handlers run before it.
    void aCppHandlerSeesTheEventAsNotified()
    {
        rio::QmlRegistry *r = reg();
        eval(QStringLiteral("reg.add((e) => { e.v = 99 }, 5)"));
        QVariant seen;
        r->registry().add([&seen](const QVariant &e) { seen = e.toMap().value(QStringLiteral("v")); }, 0);
        eval(QStringLiteral("reg.notify({ v: 1 })"));
        QCOMPARE(seen, QVariant(1));
        r->registry().add([](const QVariant &) { }, 10);
        eval(QStringLiteral("reg.notify({ v: 1 })"));
        QCOMPARE(seen, QVariant(1));
    }

    // C++ handlers added from another thread while JavaScript notifies in a loop: each takes the
    // plain copy, never the caller's JavaScript value, whichever notify it joins.
    void cppHandlersAddedDuringJavaScriptNotifiesTakeThePlainCopy()
    {
        constexpr int kHandlers = 20;
        rio::QmlRegistry *r = reg();
        eval(QStringLiteral("reg.add((e) => {})"));
        std::atomic<int> plain{0};
        std::atomic<int> script{0};
        std::jthread adder([&] {
            for (int i = 0; i < kHandlers; ++i) {
                r->registry().add([&](const QVariant &e) {
                    (e.metaType() == QMetaType::fromType<QJSValue>() ? script : plain).fetch_add(1);
                });
                std::this_thread::yield();
            }
        });
        for (int round = 0; round < 100; ++round)
            eval(QStringLiteral("for (let i = 0; i < 10; ++i) reg.notify({ v: i })"));
        adder.join();
        eval(QStringLiteral("reg.notify({ v: 0 })"));
        QCOMPARE(script.load(), 0);
        QVERIFY(plain.load() >= kHandlers);
    }

    // registry() taken from another thread while a JavaScript notify runs: the handlers after it
    // in that notify and every later notify still run, and a C++ handler added then sees the
    // plain copy.
    void registryTakenFromAnotherThreadDuringAJavaScriptNotify()
    {
        constexpr int kRounds = 20;
        for (int round = 0; round < kRounds; ++round) {
            m_sink.take();
            eval(QStringLiteral("root.reg = regComponent.createObject(root)"));
            rio::QmlRegistry *r = reg();
            std::thread other;
            QObject helper;
            connect(this, &tst_QmlMidNotify::takeNow, &helper, [this, r, &other] {
                other = std::thread([this, r] {
                    r->registry().add([this](const QVariant &e) {
                        m_sink.rec(QStringLiteral("cpp:%1").arg(e.toMap().value("v").toInt()));
                    });
                });
            });
            eval(QStringLiteral(
                "reg.add((e) => { root.sink.rec('a:' + e.v); if (e.v === 1) attack.takeNow() }, 10);"
                "reg.add((e) => root.sink.rec('b:' + e.v), -10)"));
            eval(QStringLiteral("reg.notify({ v: 1 })"));
            other.join();
            eval(QStringLiteral("reg.notify({ v: 2 })"));
            QCOMPARE(m_sink.take(),
                     (QStringList{QStringLiteral("a:1"), QStringLiteral("b:1"), QStringLiteral("a:2"),
                                  QStringLiteral("cpp:2"), QStringLiteral("b:2")}));
            delete r;
        }
    }

    // "A QObject * event reaches JavaScript as that object, even at the address of one deleted
    // before."
    void qobjectEventAtAReusedAddress()
    {
        rio::QmlRegistry *r = reg();
        eval(QStringLiteral("reg.add((e) => root.sink.rec(e.objectName))"));
        int reused = 0;
        for (int i = 0; i < 50; ++i) {
            auto *first = new QObject;
            first->setObjectName(QStringLiteral("first%1").arg(i));
            r->notify(QVariant::fromValue(first));
            eval(QStringLiteral("reg.notify(reg)")); // a JavaScript notify in between
            const void *address = first;
            delete first;
            auto *second = new QObject;
            second->setObjectName(QStringLiteral("second%1").arg(i));
            reused += (static_cast<const void *>(second) == address);
            r->notify(QVariant::fromValue(second));
            delete second;
        }
        const QStringList log = m_sink.take();
        QCOMPARE(log.size(), 150);
        for (int i = 0; i < 50; ++i) {
            QCOMPARE(log[3 * i], QStringLiteral("first%1").arg(i));
            QCOMPARE(log[3 * i + 2], QStringLiteral("second%1").arg(i));
        }
        qInfo() << "address reused" << reused << "of 50 times";
    }

    // Many short QThreads, each notifying through its own copy of a sender: every event arrives.
    void threadChurnThroughSenders()
    {
        rio::QmlRegistry *r = reg();
        eval(QStringLiteral("forms()"));
        constexpr int kThreads = 40;
        constexpr int kEach = 10;
        for (int t = 0; t < kThreads; ++t) {
            QThread *thread = QThread::create([sender = r->sender(), t] {
                for (int i = 0; i < kEach; ++i)
                    sender.notify(QVariantMap{{QStringLiteral("v"), t * kEach + i}});
            });
            thread->start();
            QVERIFY(thread->wait(QDeadlineTimer(60000)));
            delete thread;
        }
        QTRY_COMPARE_WITH_TIMEOUT(m_sink.size(), 5 * kThreads * kEach, 60000);
        drainPosted();
        QCOMPARE(m_sink.size(), 5 * kThreads * kEach);
    }

    // fork() inside a handler: the child exits at once, the parent's notify goes on.
    void forkInsideAHandler()
    {
        rio::QmlRegistry *r = reg();
        int status = -1;
        r->registry().add(
            [&status](const QVariant &) {
                const pid_t pid = fork();
                if (pid == 0)
                    _exit(7);
                waitpid(pid, &status, 0);
            },
            5);
        eval(QStringLiteral("reg.add((e) => root.sink.rec('after:' + e.v), 0)"));
        eval(QStringLiteral("fire(1)"));
        QVERIFY(WIFEXITED(status));
        QCOMPARE(WEXITSTATUS(status), 7);
        QCOMPARE(m_sink.take(), QStringList{QStringLiteral("after:1")});
    }

public:
    Q_INVOKABLE void kill(QObject *object) { delete object; }
    Q_INVOKABLE void killVictim() { delete std::exchange(m_victim, nullptr); }
    Q_INVOKABLE bool removeCpp() { return m_reg->registry().remove(m_cppId); }
    Q_INVOKABLE void toggleDiagnostics() { rio::Diagnostics::setEnabled(!rio::Diagnostics::isEnabled()); }

Q_SIGNALS:
    void takeNow();
};

QTEST_MAIN(tst_QmlMidNotify)
#include "tst_qml_mid_notify.moc"
