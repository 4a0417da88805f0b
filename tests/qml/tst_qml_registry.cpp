// SPDX-License-Identifier: MIT
// QmlRegistry from QML: priority order, handles and their owners, count, once, event values,
// JavaScript exceptions and bad input.

#include "qml_test_support.h"

#include <registryio/qml/handler_subscription.h>
#include <registryio/qml/qml_registry.h>

#include <QLoggingCategory>
#include <QProperty>
#include <QQmlComponent>
#include <QScopeGuard>
#include <QSignalSpy>
#include <QTest>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <future>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RIO_TEST_CLANG_SANITIZER 1
#endif
#endif
#ifndef RIO_TEST_CLANG_SANITIZER
#define RIO_TEST_CLANG_SANITIZER 0
#endif

using rio::HandlerSubscription;
using rio::QmlRegistry;
using rio::test::eval;
using rio::test::exactly;

// Deletes a registry when JavaScript asks (destroy() would wait for the event loop).
class Killer : public QObject
{
    Q_OBJECT
public:
    explicit Killer(QObject *victim) : m_victim(victim) { }
    Q_INVOKABLE void kill() { delete m_victim.data(); }

private:
    QPointer<QObject> m_victim;
};

// Runs a nested event loop for a few turns, as a modal dialog's exec() would, for JavaScript.
class NestedLoop : public QObject
{
    Q_OBJECT
public:
    Q_INVOKABLE static void run() { rio::test::runNestedEventLoop(); }
};

class tst_QmlRegistry : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QQmlEngine> m_engine;
    std::unique_ptr<QObject> m_root;

    QmlRegistry *registry() const { return m_root->property("registry").value<QmlRegistry *>(); }
    QString trace() const { return m_root->property("trace").toString(); }
    QJSValue call(QObject *object, const QString &method)
    {
        return rio::test::call(*m_engine, object, method);
    }
    // JavaScript handlers alone, or with a C++ handler of the facade beside them (see
    // withDispatchMode), as test rows: one dispatch either way.
    static void dispatchModes()
    {
        QTest::addColumn<bool>("withCppHandler");
        QTest::newRow("JavaScript handlers only") << false;
        QTest::newRow("with a C++ handler") << true;
    }

    // Adds a do-nothing C++ handler (lowest priority) when the row asks for one.
    void withDispatchMode()
    {
        QFETCH(bool, withCppHandler);
        if (withCppHandler)
            registry()->registry().add([](const QVariant &) { }, -100);
    }

    HandlerSubscription *handle(const QString &expression)
    {
        return qobject_cast<HandlerSubscription *>(eval(m_root.get(), expression).value<QObject *>());
    }

    // The handlers of the failure-order tests: p10 throws (from JavaScript or C++), `between`
    // adds the handlers under it (given `append`, which records in the trace), p1 records;
    // handlerFailed records. Returns p10's id.
    using Append = std::function<void(const char *)>;
    double addFailureOrderHandlers(bool cppThrower, const std::function<void(const Append &)> &between = {})
    {
        QmlRegistry *const r = registry();
        QObject *const root = m_root.get();
        const Append append = [root](const char *what) {
            root->setProperty("trace", root->property("trace").toString() + QLatin1String(what));
        };
        connect(r, &QmlRegistry::handlerFailed, root, [append] { append("failed;"); });
        double id = 0;
        if (cppThrower) {
            id = static_cast<double>(r->registry()
                                         .add(r,
                                              [append](const QVariant &) {
                                                  append("p10;");
                                                  throw std::runtime_error("p10 failed");
                                              },
                                              {.priority = 10})
                                         .value());
            QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("failed: p10 failed$")));
        } else {
            id = eval(root, QStringLiteral(
                                "registry.add(e => { root.trace += 'p10;'; throw new Error('p10') }, 10).id"))
                     .toDouble();
            QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("threw: Error: p10$")));
        }
        if (between)
            between(append);
        eval(root, QStringLiteral("registry.add(e => { root.trace += 'p1;' }, 1)"));
        return id;
    }

    // Notifies 1 from `from`: JavaScript ("qml"), QmlRegistry::notify ("cpp"), the facade's
    // notify ("registry()") or a worker's sender ("worker").
    void notifyFrom(const QString &from)
    {
        QmlRegistry *const r = registry();
        if (from == QLatin1String("qml")) {
            eval(m_root.get(), QStringLiteral("registry.notify(1)"));
        } else if (from == QLatin1String("cpp")) {
            r->notify(1);
        } else if (from == QLatin1String("registry()")) {
            r->registry().notify(1);
        } else {
            std::thread worker([sender = r->sender()] { sender.notify(1); });
            worker.join();
        }
    }

private Q_SLOTS:
    void init()
    {
        m_engine = rio::test::makeEngine();
        m_root = rio::test::load(*m_engine, QStringLiteral("registry.qml"));
        QVERIFY(m_root);
        QVERIFY(registry());
    }

    void cleanup()
    {
        m_root.reset();
        m_engine.reset();
    }

    void handlersRunInPriorityOrderWithStableTies()
    {
        QVERIFY(handle(QStringLiteral("addTagged('a', 0)")));
        QVERIFY(handle(QStringLiteral("addTagged('b', 10)")));
        QVERIFY(handle(QStringLiteral("addTagged('c', 5)")));
        QVERIFY(handle(QStringLiteral("addTagged('d', 10)")));
        QCOMPARE(registry()->count(), 4);
        eval(m_root.get(), QStringLiteral("registry.notify(7)"));
        QCOMPARE(trace(), QStringLiteral("b=7;d=7;c=7;a=7;"));
    }

    void handleCarriesIdPriorityAndRemoves()
    {
        HandlerSubscription *first = handle(QStringLiteral("addTagged('a', 3)"));
        HandlerSubscription *second = handle(QStringLiteral("addTagged('b', -2)"));
        QVERIFY(first && second);
        QVERIFY(first->id() > 0);
        QVERIFY(second->id() > first->id());
        QCOMPARE(first->priority(), 3);
        QCOMPARE(second->priority(), -2);
        QVERIFY(first->isActive());
        QSignalSpy inactive(first, &HandlerSubscription::activeChanged);

        QCOMPARE(call(first, QStringLiteral("remove")).toBool(), true);
        QCOMPARE(call(first, QStringLiteral("remove")).toBool(), false);
        QVERIFY(!first->isActive());
        QCOMPARE(inactive.count(), 1);
        QCOMPARE(registry()->count(), 1);

        // remove(id) on the registry: true once, false for unknown and invalid ids.
        QCOMPARE(registry()->remove(second->id()), true);
        QCOMPARE(registry()->remove(second->id()), false);
        QCOMPARE(registry()->remove(0), false);
        QCOMPARE(registry()->remove(-5), false);
        QCOMPARE(registry()->remove(1.5), false);
        eval(m_root.get(), QStringLiteral("registry.notify(1)"));
        QCOMPARE(trace(), QString());
    }

    void destroyingTheHandleRemovesTheHandler()
    {
        QVERIFY(handle(QStringLiteral("addTagged('a', 0)")));
        HandlerSubscription *doomed = handle(QStringLiteral("addTagged('b', 0)"));
        QVERIFY(doomed);
        QSignalSpy count(registry(), &QmlRegistry::countChanged);
        call(doomed, QStringLiteral("destroy"));
        QTRY_COMPARE(registry()->count(), 1);
        QCOMPARE(count.count(), 1);
        eval(m_root.get(), QStringLiteral("registry.notify(2)"));
        QCOMPARE(trace(), QStringLiteral("a=2;"));
    }

    void destroyingTheOwnerRemovesTheHandler()
    {
        QObject *owner =
            eval(m_root.get(), QStringLiteral("ownerComponent.createObject(root)")).value<QObject *>();
        QVERIFY(owner);
        QPointer<HandlerSubscription> owned = handle(QStringLiteral("addOwned('owned', null)"));
        QVERIFY(owned); // owner null: owned by the registry
        QMetaObject::invokeMethod(m_root.get(), "addOwned", Q_ARG(QVariant, QStringLiteral("x")),
                                  Q_ARG(QVariant, QVariant::fromValue(owner)));
        QCOMPARE(registry()->count(), 2);
        call(owner, QStringLiteral("destroy"));
        QTRY_COMPARE(registry()->count(), 1);
        eval(m_root.get(), QStringLiteral("registry.notify(3)"));
        QCOMPARE(trace(), QStringLiteral("owned=3;"));
        QVERIFY(owned);
    }

    void handlersSurviveGarbageCollection()
    {
        eval(m_root.get(), QStringLiteral("addTagged('kept', 0), undefined"));
        m_engine->collectGarbage();
        QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
        QCoreApplication::processEvents();
        QCOMPARE(registry()->count(), 1);
        eval(m_root.get(), QStringLiteral("registry.notify(4)"));
        QCOMPARE(trace(), QStringLiteral("kept=4;"));
    }

    void inactiveUnreferencedHandlesAreCollected()
    {
        // Handles have no parent (a registry's children list would make each destruction
        // O(handles)): an active one keeps itself alive (above), an inactive one that nothing
        // references is collected, so a registry with handlers coming and going does not pile
        // up dead handles until it dies.
        QPointer<HandlerSubscription> removed = handle(QStringLiteral("addTagged('removed', 0)"));
        QPointer<HandlerSubscription> fired = handle(QStringLiteral("addOnce('fired')"));
        QPointer<HandlerSubscription> kept = handle(QStringLiteral("root.keptHandle = addTagged('kept', 0)"));
        QVERIFY(removed && fired && kept);
        QVERIFY(!removed->parent() && !fired->parent());
        QVERIFY(removed->remove());
        eval(m_root.get(), QStringLiteral("registry.notify(1)"));
        QVERIFY(!fired->isActive());
        QTRY_VERIFY_WITH_TIMEOUT((m_engine->collectGarbage(),
                                  QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete),
                                  !removed && !fired),
                                 5000);
        QVERIFY(kept && kept->isActive()); // referenced (and registered)
        QCOMPARE(registry()->count(), 1);
    }

    void countPropertyNotifies()
    {
        QSignalSpy changed(registry(), &QmlRegistry::countChanged);
        HandlerSubscription *h = handle(QStringLiteral("addTagged('a', 0)"));
        QCOMPARE(eval(m_root.get(), QStringLiteral("registry.count")).toInt(), 1);
        QCOMPARE(changed.count(), 1);
        h->remove();
        QCOMPARE(eval(m_root.get(), QStringLiteral("registry.count")).toInt(), 0);
        QCOMPARE(changed.count(), 2);
    }

    void countAndActiveAreBindable()
    {
        HandlerSubscription *h = handle(QStringLiteral("addTagged('a', 0)"));
        QVERIFY(h);
        QProperty<int> count;
        count.setBinding(registry()->bindableCount().makeBinding());
        QProperty<bool> active;
        active.setBinding(h->bindableActive().makeBinding());
        QCOMPARE(count.value(), 1);
        QVERIFY(active.value());
        QCOMPARE(call(h, QStringLiteral("remove")).toBool(), true);
        QCOMPARE(count.value(), 0);
        QVERIFY(!active.value());
    }

    void onceHandlerRunsOnce()
    {
        HandlerSubscription *h = handle(QStringLiteral("addOnce('o')"));
        QVERIFY(h && h->isActive());
        eval(m_root.get(), QStringLiteral("registry.notify(1), registry.notify(2)"));
        QCOMPARE(trace(), QStringLiteral("o=1;"));
        QVERIFY(!h->isActive());
        QCOMPARE(registry()->count(), 0);
    }

    void javaScriptAndCppValuesArriveAsJavaScriptValues()
    {
        QVERIFY(handle(QStringLiteral("addDescriber()")));
        eval(m_root.get(), QStringLiteral("registry.notify({ a: 1, b: ['x', 'y'], c: { d: true } })"));
        QCOMPARE(trace(), QStringLiteral("a=1,b1=y,c=true;"));
        registry()->notify(QVariantMap{{QStringLiteral("a"), 2},
                                       {QStringLiteral("b"), QVariantList{3, 4}},
                                       {QStringLiteral("c"), QVariantMap{{QStringLiteral("d"), false}}}});
        QCOMPARE(trace(), QStringLiteral("a=1,b1=y,c=true;a=2,b1=4,c=false;"));
    }

    void scalarEventsFromCppArriveWithTheirJavaScriptTypes_data() { dispatchModes(); }

    void scalarEventsFromCppArriveWithTheirJavaScriptTypes()
    {
        // Numbers, booleans and strings take a short cut to their JavaScript values.
        withDispatchMode();
        eval(m_root.get(),
             QStringLiteral("registry.add(e => root.trace += typeof e + ':' + e + ';'), "
                            "registry.add(e => root.trace += (e === 1 / 0 ? 'inf' : '') + '|')"));
        registry()->notify(3);
        registry()->notify(2.5);
        registry()->notify(true);
        registry()->notify(QStringLiteral("s\u00e9"));
        registry()->notify(std::numeric_limits<double>::infinity());
        registry()->notify(QVariant::fromValue(qint64(1) << 40)); // through the engine's conversion
        QCOMPARE(trace(),
                 QStringLiteral("number:3;|number:2.5;|boolean:true;|string:s\u00e9;|number:Infinity;inf|"
                                "number:1099511627776;|"));
    }

    void aSingleHandlerIsCalledDirectlyAndMayNotifyAgain()
    {
        // One JavaScript handler. It notifies its own registry
        // from inside (the argument list is reused), throws on the inner event, and is removed
        // and replaced while registered alone.
        QSignalSpy failed(registry(), &QmlRegistry::handlerFailed);
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("threw: Error: inner 2$")));
        const double id =
            eval(m_root.get(),
                 QStringLiteral("registry.add(e => { root.trace += 'a' + e + ';';"
                                " if (e === 1) registry.notify(2); else throw new Error('inner ' + e);"
                                " root.trace += 'b' + e + ';' }).id"))
                .toDouble();
        eval(m_root.get(), QStringLiteral("registry.notify(1)"));
        QCOMPARE(trace(), QStringLiteral("a1;a2;b1;"));
        QTRY_COMPARE(failed.count(), 1);
        QCOMPARE(failed.at(0).at(0).toDouble(), id);
        QVERIFY(registry()->remove(id));
        eval(m_root.get(),
             QStringLiteral("registry.add(e => root.trace += 'c' + e + ';'), registry.notify(3)"));
        registry()->notify(4); // from C++
        QCOMPARE(trace(), QStringLiteral("a1;a2;b1;c3;c4;"));
    }

    void nestedNotifiesKeepEachEventAndBlameTheRightHandler_data() { dispatchModes(); }

    void nestedNotifiesKeepEachEventAndBlameTheRightHandler()
    {
        // `a` notifies 2 from inside event 1; `t` throws on event 2 (inner) and `u` on event 1
        // (outer, after the inner notify returned): each event reaches the rest of its handlers,
        // and each failure names its own handler.
        withDispatchMode();
        QSignalSpy failed(registry(), &QmlRegistry::handlerFailed);
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("threw: Error: t2$")));
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("threw: Error: u1$")));
        const QVariant result =
            eval(m_root.get(), QStringLiteral("[registry.add(e => { root.trace += 'a=' + e + ';'; if (e === "
                                              "1) registry.notify(2) }, 10).id,"
                                              " registry.add(e => { root.trace += 't=' + e + ';'; if (e === "
                                              "2) throw new Error('t' + e) }, 5).id,"
                                              " registry.add(e => { root.trace += 'u=' + e + ';'; if (e === "
                                              "1) throw new Error('u' + e) }, 4).id,"
                                              " registry.add(e => { root.trace += 'b=' + e + ';' }, 0).id]"));
        const QVariantList ids = result.metaType() == QMetaType::fromType<QJSValue>()
                                     ? result.value<QJSValue>().toVariant().toList()
                                     : result.toList();
        QCOMPARE(ids.size(), 4);
        eval(m_root.get(), QStringLiteral("registry.notify(1)"));
        QCOMPARE(trace(), QStringLiteral("a=1;a=2;t=2;u=2;b=2;t=1;u=1;b=1;"));
        QTRY_COMPARE(failed.count(), 2);
        QCOMPARE(failed.at(0).at(0).toDouble(), ids.at(1).toDouble());
        QCOMPARE(failed.at(0).at(1).toString(), QStringLiteral("Error: t2"));
        QCOMPARE(failed.at(1).at(0).toDouble(), ids.at(2).toDouble());
        QCOMPARE(failed.at(1).at(1).toString(), QStringLiteral("Error: u1"));
    }

    void handlerMayRemoveItselfWhileRunning()
    {
        QVERIFY(handle(QStringLiteral("addSelfRemoving('s')")));
        QVERIFY(handle(QStringLiteral("addTagged('t', -1)")));
        eval(m_root.get(), QStringLiteral("registry.notify(1), registry.notify(2)"));
        QCOMPARE(trace(), QStringLiteral("s=1;t=1;t=2;"));
        QCOMPARE(registry()->count(), 1);
    }

    void handlersRemovedOrAddedWhileNotifyingFollowTheSnapshot_data() { dispatchModes(); }

    void handlersRemovedOrAddedWhileNotifyingFollowTheSnapshot()
    {
        QFETCH(bool, withCppHandler);
        int cppCalls = 0;
        if (withCppHandler)
            registry()->registry().add([&cppCalls](const QVariant &) { ++cppCalls; }, -100);
        // r (priority 10) removes v (0) before v's turn and adds `late`, which this notify
        // must not reach; the next one does.
        eval(m_root.get(),
             QStringLiteral("(function () { const v = addTagged('v', 0); registry.add(e => { "
                            "root.trace += 'r=' + e + ';'; v.remove(); addTagged('late', -5); }, "
                            "10); })()"));
        eval(m_root.get(), QStringLiteral("registry.notify(1)"));
        QCOMPARE(trace(), QStringLiteral("r=1;"));
        eval(m_root.get(), QStringLiteral("registry.notify(2)"));
        QCOMPARE(trace(), QStringLiteral("r=1;r=2;late=2;"));
        QCOMPARE(cppCalls, withCppHandler ? 2 : 0);
    }

    void throwingHandlerIsReportedAndIsolated()
    {
        QVERIFY(handle(QStringLiteral("addTagged('high', 10)")));
        HandlerSubscription *thrower = handle(QStringLiteral("addThrowing(5)"));
        QVERIFY(handle(QStringLiteral("addTagged('low', 0)")));
        QVERIFY(thrower);
        QSignalSpy failed(registry(), &QmlRegistry::handlerFailed);
        const int line = rio::test::lineOf(QStringLiteral("registry.qml"), QStringLiteral("THROW_ERROR"));
        QVERIFY(line > 0);
        QTest::ignoreMessage(QtWarningMsg,
                             exactly(QStringLiteral("%1:%2: RegistryIO: handler %3 threw: Error: boom 9")
                                         .arg(rio::test::dataUrl(QStringLiteral("registry.qml")).toString())
                                         .arg(line)
                                         .arg(thrower->handlerId().value())));
        eval(m_root.get(), QStringLiteral("registry.notify(9)"));
        QCOMPARE(trace(), QStringLiteral("high=9;low=9;"));
        QTRY_COMPARE(failed.count(), 1);
        QCOMPARE(failed.at(0).at(0).toDouble(), thrower->id());
        QCOMPARE(failed.at(0).at(1).toString(), QStringLiteral("Error: boom 9"));
        QCOMPARE(m_root->property("failures").toInt(), 1);
        QCOMPARE(m_root->property("lastFailedId").toDouble(), thrower->id());
        QVERIFY(thrower->isActive()); // a failure does not remove the handler
    }

    void handlerFailedIsAQueuedSignal_data()
    {
        QTest::addColumn<bool>("cppThrower");
        QTest::addColumn<QString>("from");
        for (const bool cpp : {false, true})
            for (const char *from : {"qml", "cpp", "registry()", "worker"})
                QTest::addRow("%s thrower, notified from %s", cpp ? "C++" : "JavaScript", from)
                    << cpp << QString::fromLatin1(from);
    }

    void handlerFailedIsAQueuedSignal()
    {
        // A handler at priority 10 throws, one at 1 records, handlerFailed records: emitted once,
        // on the registry's thread, by the event loop's first pass after a notify made there (a
        // worker's notify queues the handlers, whose run posts it: waited for as any signal).
        QFETCH(bool, cppThrower);
        QFETCH(QString, from);
        const double id = addFailureOrderHandlers(cppThrower);
        QmlRegistry *const r = registry();
        QSignalSpy failed(r, &QmlRegistry::handlerFailed);
        QThread *emittedOn = nullptr;
        connect(
            r, &QmlRegistry::handlerFailed, this, [&emittedOn] { emittedOn = QThread::currentThread(); },
            Qt::DirectConnection);
        notifyFrom(from);
        if (from == QLatin1String("worker")) {
            QVERIFY(failed.wait(20000));
        } else {
            QCOMPARE(trace(), QStringLiteral("p10;p1;")); // never inside the notify
            QCoreApplication::processEvents();
        }
        QCOMPARE(trace(), QStringLiteral("p10;p1;failed;"));
        QCOMPARE(failed.size(), 1);
        QCOMPARE(failed.at(0).at(0).toDouble(), id);
        QCOMPARE(failed.at(0).at(1).toString(),
                 cppThrower ? QStringLiteral("p10 failed") : QStringLiteral("Error: p10"));
        QCOMPARE(emittedOn, r->thread());
        QCoreApplication::processEvents();
        QCOMPARE(failed.size(), 1);
    }

    void handlerFailedMayComeInsideANestedEventLoopOfAHandler_data()
    {
        QTest::addColumn<bool>("cppThrower");
        QTest::addColumn<bool>("cppLoop");
        QTest::addColumn<QString>("from");
        for (const bool cppLoop : {false, true})
            for (const bool cpp : {false, true})
                for (const char *from : {"qml", "cpp", "registry()"})
                    QTest::addRow("%s thrower, loop in %s, notified from %s", cpp ? "C++" : "JavaScript",
                                  cppLoop ? "C++" : "JavaScript", from)
                        << cpp << cppLoop << QString::fromLatin1(from);
    }

    void handlerFailedMayComeInsideANestedEventLoopOfAHandler()
    {
        // The handler at 5 runs a nested event loop (a modal dialog's exec()): the loop emits the
        // failure of the handler at 10, as it runs any queued signal, before the handler at 1.
        QFETCH(bool, cppThrower);
        QFETCH(bool, cppLoop);
        QFETCH(QString, from);
        NestedLoop loop;
        addFailureOrderHandlers(cppThrower, [&](const Append &append) {
            QmlRegistry *const r = registry();
            if (cppLoop) {
                r->registry().add(r,
                                  [append](const QVariant &) {
                                      append("p5;");
                                      rio::test::runNestedEventLoop();
                                  },
                                  {.priority = 5});
            } else {
                m_root->setProperty("keptHandle", QVariant::fromValue<QObject *>(&loop));
                eval(m_root.get(),
                     QStringLiteral("registry.add(e => { root.trace += 'p5;'; root.keptHandle.run() }, 5)"));
            }
        });
        notifyFrom(from);
        QCOMPARE(trace(), QStringLiteral("p10;p5;failed;p1;"));
        QCoreApplication::processEvents();
        QCOMPARE(trace(), QStringLiteral("p10;p5;failed;p1;"));
    }

    void failuresComeOnceEachInTheirOrder_data()
    {
        QTest::addColumn<int>("loopEvery");
        QTest::newRow("no nested loop") << 0;
        QTest::newRow("a nested loop in every notify") << 1;
        QTest::newRow("a nested loop in every other notify") << 2;
    }

    void failuresComeOnceEachInTheirOrder()
    {
        // A zero timer notifies the registry on its thread 200 times. A C++ handler and a
        // JavaScript one throw, naming the event; a third notifies again from inside (the same
        // two fail there too) and runs a nested event loop; a slot of handlerFailed runs nested
        // loops too, where the next notifies come. Each failure is emitted once, in their order.
        QFETCH(int, loopEvery);
        QLoggingCategory::setFilterRules(QStringLiteral("registryio.warning=false\nqml.warning=false\n"
                                                        "js.warning=false\ndefault.warning=false"));
        const auto restore = qScopeGuard([] { QLoggingCategory::setFilterRules(QString()); });
        QmlRegistry *const r = registry();
        constexpr int total = 200;
        constexpr int inner = 1000; // an inner notify's event: the outer one's plus this
        int ended = 0;
        QStringList expected;
        for (int tick = 0; tick < total; ++tick)
            for (const int e : {tick, tick + inner})
                expected << QStringLiteral("c%1").arg(e) << QStringLiteral("Error: j%1").arg(e);
        QStringList got;
        connect(r, &QmlRegistry::handlerFailed, this, [&](double, const QString &message) {
            got.append(message);
            if (got.size() % 7 == 0)
                rio::test::runNestedEventLoop();
        });
        r->registry().add(
            r, [](const QVariant &v) { throw std::runtime_error("c" + std::to_string(v.toInt())); },
            {.priority = 10});
        eval(m_root.get(), QStringLiteral("registry.add(e => { throw new Error('j' + e) }, 7)"));
        r->registry().add(r,
                          [r, loopEvery](const QVariant &v) {
                              const int e = v.toInt();
                              if (e < inner)
                                  r->notify(e + inner);
                              if (loopEvery != 0 && e % loopEvery == 0)
                                  rio::test::runNestedEventLoop();
                          },
                          {.priority = 5});
        QTimer timer;
        timer.setInterval(0);
        connect(&timer, &QTimer::timeout, this, [&] {
            if (ended == total)
                return;
            r->notify(ended);
            if (++ended == total)
                timer.stop();
        });
        timer.start();
        QTRY_COMPARE_WITH_TIMEOUT(got.size(), expected.size(), 60000);
        QCoreApplication::processEvents();
        QCOMPARE(got, expected);
    }

    void failuresOfAWorkersHandlerComeInOrderOnTheRegistrysThread()
    {
        // A C++ handler without a context runs on a worker's thread and throws for each of its
        // 500 events: the event loop's first pass after the worker ended emits each failure once,
        // on the registry's thread, with the handler's id and message, in order.
        QLoggingCategory::setFilterRules(QStringLiteral("registryio.warning=false")); // each failure's line
        const auto restore = qScopeGuard([] { QLoggingCategory::setFilterRules(QString()); });
        QmlRegistry *const r = registry();
        constexpr int total = 500;
        const rio::HandlerId id =
            r->registry().add([](const QVariant &v) { throw std::runtime_error(std::to_string(v.toInt())); });
        QStringList expected;
        for (int i = 0; i < total; ++i)
            expected << QString::number(i);
        QStringList got;
        bool elsewhere = false;
        bool otherId = false;
        connect(
            r, &QmlRegistry::handlerFailed, this,
            [&](double failedId, const QString &message) {
                got.append(message);
                elsewhere = elsewhere || QThread::currentThread() != thread();
                otherId = otherId || failedId != static_cast<double>(id.value());
            },
            Qt::DirectConnection);
        std::thread worker([sender = r->sender()] {
            for (int i = 0; i < total; ++i)
                sender.notify(i);
        });
        worker.join();
        QCOMPARE(got.size(), 0);
        QCoreApplication::processEvents();
        QVERIFY(!elsewhere);
        QVERIFY(!otherId);
        QCOMPARE(got, expected);
    }

    void aRegistryDestroyedWithFailuresPendingEmitsNothingMore_data()
    {
        QTest::addColumn<QString>("by");
        for (const char *by : {"a later handler of the notify", "a handler that throws after it",
                               "its owner before the event loop", "its handlerFailed slot",
                               "its owner while a worker's handler fails"})
            QTest::newRow(by) << QString::fromLatin1(by);
    }

    void aRegistryDestroyedWithFailuresPendingEmitsNothingMore()
    {
        // Three handlers fail in each notify (JavaScript, C++ on the registry's thread, C++ on the
        // notifying thread); the registry goes with failures pending. Its signal is emitted only
        // while it lives (once, to the slot that destroys it); nothing crashes (ASan checks the rest).
        QFETCH(QString, by);
        QLoggingCategory::setFilterRules(QStringLiteral("registryio.warning=false\nqml.warning=false\n"
                                                        "js.warning=false\ndefault.warning=false"));
        const auto restore = qScopeGuard([] { QLoggingCategory::setFilterRules(QString()); });
        QPointer<QmlRegistry> doomed = new QmlRegistry;
        m_engine->setObjectOwnership(doomed, QQmlEngine::CppOwnership);
        QJSValue registryValue = m_engine->newQObject(doomed);
        const QJSValue thrower = m_engine->evaluate(QStringLiteral("(function (e) { throw 'js ' + e })"));
        auto *const handle =
            qobject_cast<HandlerSubscription *>(registryValue.property(QStringLiteral("add"))
                                                    .callWithInstance(registryValue, {thrower, 20})
                                                    .toQObject());
        QVERIFY(handle != nullptr);
        // The registry's end tells its active handles first: from then on, the worker's handler
        // (held at its 20th event until then, bounded) throws and its notify ends, the last one.
        constexpr int workerEvents = 20;
        std::atomic<bool> going{false};
        connect(
            handle, &HandlerSubscription::activeChanged, this, [&going] { going.store(true); },
            Qt::DirectConnection);
        std::atomic<int> failedOnWorker{0};
        doomed->registry().add(doomed, [](const QVariant &) { throw std::runtime_error("context"); },
                               {.priority = 15});
        doomed->registry().add(
            [&failedOnWorker, &going](const QVariant &) {
                if (++failedOnWorker == workerEvents) {
                    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
                    while (!going.load() && std::chrono::steady_clock::now() < until)
                        std::this_thread::yield();
                }
                throw std::runtime_error("any thread");
            },
            10);
        if (by == QLatin1String("a later handler of the notify"))
            doomed->registry().add(doomed, [doomed](const QVariant &) { delete doomed.data(); },
                                   {.priority = 5});
        if (by == QLatin1String("a handler that throws after it"))
            doomed->registry().add(doomed,
                                   [doomed](const QVariant &) {
                                       delete doomed.data();
                                       throw std::runtime_error("after the registry");
                                   },
                                   {.priority = 5});
        int emitted = 0;
        connect(doomed, &QmlRegistry::handlerFailed, this, [&emitted, &by, doomed] {
            ++emitted;
            if (by == QLatin1String("its handlerFailed slot"))
                delete doomed.data();
        });
        if (by == QLatin1String("its owner while a worker's handler fails")) {
            std::thread worker([sender = doomed->sender()] {
                for (int i = 1; i <= workerEvents; ++i)
                    static_cast<void>(sender.notify(i));
            });
            auto joined = qScopeGuard([&] {
                going.store(true);
                worker.join();
            });
            QTRY_COMPARE(failedOnWorker.load(), workerEvents); // its last notify is under way
            delete doomed.data();
        } else {
            doomed->notify(1);
            if (by == QLatin1String("its owner before the event loop"))
                delete doomed.data();
        }
        QTRY_VERIFY(!doomed);
        const int before = emitted;
        QCoreApplication::processEvents();
        QCoreApplication::processEvents();
        QCOMPARE(emitted, before);
        if (by == QLatin1String("its handlerFailed slot"))
            QCOMPARE(emitted, 1);
        else if (by != QLatin1String("its owner while a worker's handler fails"))
            QCOMPARE(emitted, 0);
    }

    void handlerFailedIsNotHeldByAWorkersNotifyUnderWay()
    {
        // A worker's notify sits in a direct C++ handler until handlerFailed came: the failure of
        // a notify made here, all of whose handlers ran, is not held by it.
        QmlRegistry *const r = registry();
        QObject *const root = m_root.get();
        QSignalSpy failed(r, &QmlRegistry::handlerFailed);
        eval(root, QStringLiteral("registry.add(e => { if (e === 'ui') throw new Error('ui') }, 10)"));
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("threw: Error: ui$")));
        std::atomic<bool> entered{false};
        std::promise<void> release;
        std::shared_future<void> released = release.get_future().share();
        r->registry().add(
            [released, &entered](const QVariant &e) {
                if (e != QVariant(QStringLiteral("worker")))
                    return;
                entered = true;
                released.wait_for(std::chrono::seconds(20)); // bounded
            },
            5);
        std::thread worker([sender = r->sender()] { sender.notify(QStringLiteral("worker")); });
        auto joined = qScopeGuard([&] { // also when a check below fails
            release.set_value();
            worker.join();
        });
        QTRY_VERIFY(entered);
        r->notify(QStringLiteral("ui"));
        QTRY_COMPARE(failed.size(), 1);
    }

    void handlerFailedIsPostedWhenTheHandlerFails()
    {
        // As any queued signal, the failure is posted when the handler at 10 fails: it comes
        // before a delivery the same notify queues on the registry's thread after it (the
        // Qt::QueuedConnection handler at 1), in the event loop's same pass.
        QmlRegistry *const r = registry();
        QObject *const root = m_root.get();
        const auto append = [root](const QString &what) {
            root->setProperty("trace", root->property("trace").toString() + what);
        };
        r->registry().add(r,
                          [append](const QVariant &) {
                              append(QStringLiteral("p10;"));
                              throw std::runtime_error("p10 failed");
                          },
                          {.priority = 10});
        r->registry().add(r, [append](const QVariant &) { append(QStringLiteral("p1;")); },
                          {.priority = 1, .connection = Qt::QueuedConnection});
        connect(r, &QmlRegistry::handlerFailed, root, [append] { append(QStringLiteral("failed;")); });
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("failed: p10 failed$")));
        r->notify(1);
        QCOMPARE(trace(), QStringLiteral("p10;"));
        QCoreApplication::processEvents();
        QCOMPARE(trace(), QStringLiteral("p10;failed;p1;"));
    }

    void aWaitingDeliveryHoldsAtMost48BytesBeyondTheEvent_data()
    {
        QTest::addColumn<QVariant>("event");
        QTest::newRow("int") << QVariant(7);
        QTest::newRow("object") << QVariant(
            QVariantMap{{QStringLiteral("symbol"), QStringLiteral("ACME")}, {QStringLiteral("price"), 12.5}});
    }

    void aWaitingDeliveryHoldsAtMost48BytesBeyondTheEvent()
    {
        // A worker notifies while the engine's thread is busy: each delivery waiting for a
        // JavaScript handler holds its queue entry, the event's data shared with the notifier's
        // (no shared copy per notify). Measured with the allocator's own count of bytes in use.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || RIO_TEST_CLANG_SANITIZER
        QSKIP("the sanitizers' allocators keep their own books");
#elif defined(__GLIBC__)
        QFETCH(QVariant, event);
        constexpr int events = 20000;
        eval(m_root.get(), QStringLiteral("registry.add(e => { root.received += 1 })"));
        const rio::QmlRegistrySender sender = registry()->sender();
        sender.notify(event); // the queue and the mailbox exist
        QTRY_COMPARE(m_root->property("received").toInt(), 1);
        const std::size_t before = mallinfo2().uordblks;
        std::thread([&] {
            for (int i = 0; i < events; ++i)
                sender.notify(event);
        }).join();
        const std::size_t after = mallinfo2().uordblks;
        const double perEvent = double(after - before) / events;
        qInfo("%.1f bytes per waiting delivery", perEvent);
        QVERIFY2(perEvent <= 50, qPrintable(QStringLiteral("%1 bytes per waiting delivery").arg(perEvent)));
        QTRY_COMPARE_WITH_TIMEOUT(m_root->property("received").toInt(), events + 1, 60000);
#else
        QSKIP("measured with glibc's mallinfo2");
#endif
    }

    void latestIsTheNewestEventAtMostOncePerEventLoopTurn()
    {
        // A binding on `latest` (text: prices.latest.price) follows four workers' notifies: it
        // changes once for everything notified between two turns of the event loop, shows the
        // last event notified, never changes for an equal event, and counts as no handler.
        QQmlComponent component(m_engine.get());
        component.setData("import QtQml\nimport RegistryIO\nQtObject {\n"
                          "    property QmlRegistry prices: QmlRegistry { onLatestChanged: changes += 1 }\n"
                          "    property int changes: 0\n"
                          "    property real price: prices.latest ? prices.latest.price : -1\n"
                          "}\n",
                          QUrl(QStringLiteral("latest.qml")));
        std::unique_ptr<QObject> root(component.create());
        QVERIFY2(root, qPrintable(component.errorString()));
        auto *prices = root->property("prices").value<QmlRegistry *>();
        QVERIFY(prices);
        QCOMPARE(root->property("price").toDouble(), -1.0);
        QCOMPARE(prices->count(), 0);
        const rio::QmlRegistrySender sender = prices->sender();
        const auto event = [](int price) { return QVariant(QVariantMap{{QStringLiteral("price"), price}}); };
        {
            std::vector<std::thread> writers;
            for (int w = 0; w < 4; ++w)
                writers.emplace_back([&, w] {
                    for (int i = 0; i < 2000; ++i)
                        sender.notify(event(w * 10000 + i));
                });
            for (std::thread &t : writers)
                t.join();
        }
        std::thread([&] { sender.notify(event(7)); }).join(); // the last one written
        QTRY_COMPARE(root->property("price").toDouble(), 7.0);
        QCoreApplication::processEvents();
        QCOMPARE(root->property("changes").toInt(), 1);       // this thread took no turn meanwhile
        std::thread([&] { sender.notify(event(7)); }).join(); // equal: no change
        QCoreApplication::processEvents();
        QCoreApplication::processEvents();
        QCOMPARE(root->property("changes").toInt(), 1);
        // Notifies on this thread are coalesced too: one change for the burst.
        prices->notify(event(8));
        prices->notify(event(9));
        QCOMPARE(root->property("price").toDouble(), 7.0);
        QTRY_COMPARE(root->property("price").toDouble(), 9.0);
        QCOMPARE(root->property("changes").toInt(), 2);
        // From C++: a QProperty bound to it.
        QProperty<double> bound;
        bound.setBinding([prices] {
            return prices->bindableLatest().value().toMap().value(QStringLiteral("price")).toDouble();
        });
        QCOMPARE(bound.value(), 9.0);
        std::thread([&] { sender.notify(event(10)); }).join();
        QTRY_COMPARE(bound.value(), 10.0);
        QCOMPARE(prices->count(), 0);
        eval(root.get(), QStringLiteral("prices.add(e => {})"));
        QCOMPARE(prices->count(), 1);
    }

    void latestKeepsFollowingWhenCxxClearsTheRegistry()
    {
        // `latest` follows every notify from its first read on: a C++ clear() (or removal of
        // every handler) does not end that, and its handler's id removes nothing from QML.
        QmlRegistry *const r = registry();
        QVERIFY(!r->latest().isValid());
        const rio::HandlerId user = r->registry().add([](const QVariant &) { });
        QVERIFY(!r->remove(static_cast<double>(user.value() - 1))); // `latest`'s, never given out
        r->notify(1);
        QTRY_COMPARE(r->latest(), QVariant(1));
        r->registry().clear();
        QCOMPARE(r->count(), 0);
        r->notify(2);
        QTRY_COMPARE(r->latest(), QVariant(2));
        std::thread([sender = r->sender()] { sender.notify(3); }).join();
        QTRY_COMPARE(r->latest(), QVariant(3));
        QCOMPARE(r->count(), 0);
    }

    void latestForgetsADestroyedObject()
    {
        // A QObject event shown as `latest`: once that object is destroyed, a binding reading
        // `latest` gets undefined, never the deleted object (nor a new one at its address).
        QQmlComponent component(m_engine.get());
        component.setData(
            "import QtQml\nimport RegistryIO\nQtObject {\n"
            "    property QmlRegistry reg: QmlRegistry { }\n"
            "    property int tick: 0\n"
            "    property string shown: tick >= 0 && reg.latest ? reg.latest.objectName : 'none'\n"
            "}\n",
            QUrl(QStringLiteral("latestObject.qml")));
        std::unique_ptr<QObject> root(component.create());
        QVERIFY2(root, qPrintable(component.errorString()));
        auto *const r = root->property("reg").value<QmlRegistry *>();
        auto object = std::make_unique<QObject>();
        object->setObjectName(QStringLiteral("first"));
        r->notify(QVariant::fromValue(object.get()));
        QTRY_COMPARE(root->property("shown").toString(), QStringLiteral("first"));
        object.reset();
        QVERIFY(!r->latest().isValid());
        root->setProperty("tick", 1); // the binding reads `latest` again
        QCOMPARE(root->property("shown").toString(), QStringLiteral("none"));
    }

    void failuresWaitingForTheEventLoopAreBounded()
    {
        // A failing C++ handler notified in a loop that never returns to the event loop: the
        // first 10,000 failures are signalled when it does, the rest are logged only, said once.
        QLoggingCategory::setFilterRules(QStringLiteral("registryio.warning=false")); // each failure's line
        const auto restore = qScopeGuard([] { QLoggingCategory::setFilterRules(QString()); });
        registry()->registry().add([](const QVariant &) { throw std::runtime_error("refused"); });
        QSignalSpy failed(registry(), &QmlRegistry::handlerFailed);
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral(
                                               "^handlerFailed: 10000 failures wait for the event loop")));
        for (int i = 0; i < 10005; ++i)
            registry()->notify(i);
        QCOMPARE(failed.count(), 0);
        QTRY_COMPARE(failed.count(), 10000);
        QCoreApplication::processEvents();
        QCOMPARE(failed.count(), 10000);
        registry()->notify(1); // signalled again once the event loop took the others
        QTRY_COMPARE(failed.count(), 10001);
    }

    void throwingAnyValueIsReportedWithItsText_data()
    {
        QTest::addColumn<QString>("thrown");
        QTest::addColumn<QString>("message");
        QTest::newRow("string") << QStringLiteral("'plain value'") << QStringLiteral("plain value");
        QTest::newRow("number") << QStringLiteral("42") << QStringLiteral("42");
        QTest::newRow("undefined") << QStringLiteral("undefined") << QStringLiteral("undefined");
        QTest::newRow("null") << QStringLiteral("null") << QStringLiteral("null");
        QTest::newRow("object") << QStringLiteral("({ a: 1 })") << QStringLiteral("[object Object]");
        QTest::newRow("TypeError") << QStringLiteral("new TypeError('t')") << QStringLiteral("TypeError: t");
        QTest::newRow("symbol") << QStringLiteral("Symbol('s')") << QStringLiteral("Symbol(s)");
        QTest::newRow("object whose toString throws")
            << QStringLiteral("({ toString() { throw new Error('inner') } })")
            << QStringLiteral("Error: inner");
    }

    void throwingAnyValueIsReportedWithItsText()
    {
        // A JavaScript handler throws a value that is no Error: one handlerFailed with the
        // handler's id and the value's text, the QML warning too; the engine is left with no
        // error (the next script runs), the handler stays registered.
        QFETCH(QString, thrown);
        QFETCH(QString, message);
        QSignalSpy failed(registry(), &QmlRegistry::handlerFailed);
        const double id =
            eval(m_root.get(),
                 QStringLiteral("registry.add(e => { root.trace += e + ';'; if (e === 1) throw %1 }).id")
                     .arg(thrown))
                .toDouble();
        QTest::ignoreMessage(QtWarningMsg,
                             QRegularExpression(QStringLiteral("RegistryIO: handler %1 threw: %2$")
                                                    .arg(id)
                                                    .arg(QRegularExpression::escape(message))));
        eval(m_root.get(), QStringLiteral("registry.notify(1)"));
        QCoreApplication::processEvents();
        QCOMPARE(failed.size(), 1);
        QCOMPARE(failed.at(0).at(0).toDouble(), id);
        QCOMPARE(failed.at(0).at(1).toString(), message);
        QCOMPARE(eval(m_root.get(), QStringLiteral("registry.notify(2), root.trace")).toString(),
                 QStringLiteral("1;2;"));
        QCoreApplication::processEvents();
        QCOMPARE(failed.size(), 1);
    }

    void cppHandlerFailuresReachQml()
    {
        const rio::HandlerId id =
            registry()->registry().add([](const QVariant &) { throw std::runtime_error("cpp failure"); });
        QTest::ignoreMessage(QtWarningMsg,
                             exactly(QStringLiteral("handler %1 failed: cpp failure").arg(id.value())));
        registry()->notify(1);
        QTRY_COMPARE(m_root->property("failures").toInt(), 1);
        QCOMPARE(m_root->property("lastFailure").toString(), QStringLiteral("cpp failure"));
        QCOMPARE(m_root->property("lastFailedId").toULongLong(), id.value());
    }

    void addRefusesNonFunctions_data()
    {
        QTest::addColumn<QString>("argument");
        QTest::addColumn<QString>("described");
        QTest::newRow("number") << QStringLiteral("42") << QStringLiteral("a number");
        QTest::newRow("string") << QStringLiteral("'f'") << QStringLiteral("a string");
        QTest::newRow("undefined") << QStringLiteral("undefined") << QStringLiteral("undefined");
        QTest::newRow("null") << QStringLiteral("null") << QStringLiteral("null");
        QTest::newRow("object") << QStringLiteral("({ call: 1 })") << QStringLiteral("an object");
        QTest::newRow("array") << QStringLiteral("[1]") << QStringLiteral("an array");
    }

    void addRefusesNonFunctions()
    {
        QFETCH(QString, argument);
        QFETCH(QString, described);
        QTest::ignoreMessage(
            QtWarningMsg,
            QRegularExpression(QStringLiteral("QmlRegistry.add: the handler must be a function, got %1; "
                                              "nothing was registered$")
                                   .arg(QRegularExpression::escape(described))));
        const QVariant result = eval(m_root.get(), QStringLiteral("registry.add(%1, 3)").arg(argument));
        QCOMPARE(result.value<QObject *>(), nullptr);
        QCOMPARE(registry()->count(), 0);
    }

    void badInputIsReportedAtTheCallingLine()
    {
        const int line = rio::test::lineOf(QStringLiteral("registry.qml"), QStringLiteral("BAD_ADD"));
        QVERIFY(line > 0);
        QTest::ignoreMessage(
            QtWarningMsg,
            exactly(QStringLiteral(
                        "%1:%2: QmlRegistry.add: the handler must be a function, got a number; nothing "
                        "was registered")
                        .arg(rio::test::dataUrl(QStringLiteral("registry.qml")).toString())
                        .arg(line)));
        QCOMPARE(eval(m_root.get(), QStringLiteral("addNotAFunction()")).value<QObject *>(), nullptr);
        QCOMPARE(registry()->count(), 0);
    }

    void addRefusesBadOptions()
    {
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral(
                                               "QmlRegistry.add: options must be an object.*got a number; "
                                               "nothing was registered$")));
        QCOMPARE(eval(m_root.get(), QStringLiteral("registry.add(() => {}, 0, 5)")).value<QObject *>(),
                 nullptr);
        QTest::ignoreMessage(QtWarningMsg,
                             QRegularExpression(QStringLiteral("QmlRegistry.add: options.owner must be a QML "
                                                               "object.*nothing was registered$")));
        QCOMPARE(eval(m_root.get(), QStringLiteral("registry.add(() => {}, 0, { owner: 'me' })"))
                     .value<QObject *>(),
                 nullptr);
        QCOMPARE(registry()->count(), 0);
    }

    void addRefusesBadDeliveryOptions_data()
    {
        QTest::addColumn<QString>("options");
        QTest::addColumn<QString>("complaint");
        QTest::newRow("negative capacity")
            << "{ capacity: -1 }"
            << "options.capacity must be a whole number from 0 to 9007199254740992, got -1";
        QTest::newRow("fractional capacity")
            << "{ capacity: 1.5 }"
            << "options.capacity must be a whole number from 0 to 9007199254740992, got 1.5";
        QTest::newRow("string capacity") << "{ capacity: '10' }"
                                         << "options.capacity must be a whole number from 0 to "
                                            "9007199254740992, got a string";
        QTest::newRow("unknown overflow name")
            << "{ overflow: 'sideways' }"
            << "options.overflow must be RegistryHandler.DropOldest, RegistryHandler.DropNewest or "
               "RegistryHandler.Block (or \"dropOldest\", \"dropNewest\", \"block\"), got \"sideways\"";
        QTest::newRow("unknown overflow number")
            << "{ overflow: 7 }"
            << "options.overflow must be RegistryHandler.DropOldest, RegistryHandler.DropNewest or "
               "RegistryHandler.Block (or \"dropOldest\", \"dropNewest\", \"block\"), got 7";
        QTest::newRow("negative blockTimeout")
            << "{ overflow: 'block', blockTimeout: -5 }"
            << "options.blockTimeout must be a whole number from 0 to 2147483647, got -5";
        QTest::newRow("minInterval without coalesce")
            << "{ minInterval: 10 }"
            << "options.minInterval needs delivery: RegistryHandler.Latest (or coalesce: true)";
        QTest::newRow("unknown delivery")
            << "{ delivery: 'newest' }"
            << "options.delivery must be RegistryHandler.Every or RegistryHandler.Latest (or \"every\", "
               "\"latest\"), got \"newest\"";
        QTest::newRow("delivery against coalesce")
            << "{ delivery: RegistryHandler.Every, coalesce: true }"
            << "options.delivery is Every but options.coalesce is true";
        QTest::newRow("latest delivery against coalesce")
            << "{ delivery: 'latest', coalesce: false }"
            << "options.delivery is Latest but options.coalesce is false";
        QTest::newRow("coalesce as a string") << "{ coalesce: 'false', minInterval: 5 }"
                                              << "options.coalesce must be true or false, got \"false\"";
        QTest::newRow("once as a number")
            << "{ once: 0 }" << "options.once must be true or false, got a number";
        QTest::newRow("null minInterval") << "{ coalesce: true, minInterval: null }"
                                          << "options.minInterval must be a whole number from 0 to "
                                             "2147483647, got null";
    }

    void addRefusesBadDeliveryOptions()
    {
        QFETCH(QString, options);
        QFETCH(QString, complaint);
        const int line = rio::test::lineOf(QStringLiteral("registry.qml"), QStringLiteral("ADD_OPTIONS"));
        QVERIFY(line > 0);
        QTest::ignoreMessage(QtWarningMsg,
                             exactly(QStringLiteral("%1:%2: QmlRegistry.add: %3; nothing was registered")
                                         .arg(rio::test::dataUrl(QStringLiteral("registry.qml")).toString())
                                         .arg(line)
                                         .arg(complaint)));
        QCOMPARE(eval(m_root.get(), QStringLiteral("addWithOptions(%1)").arg(options)).value<QObject *>(),
                 nullptr);
        QCOMPARE(registry()->count(), 0);
    }

    void addAcceptsDeliveryOptions_data()
    {
        QTest::addColumn<QString>("options");
        QTest::newRow("unbounded") << "{ capacity: 0 }";
        QTest::newRow("enum") << "{ capacity: 3, overflow: RegistryHandler.Block, blockTimeout: 0 }";
        QTest::newRow("capitalised name") << "{ overflow: 'DropNewest' }";
        QTest::newRow("small name") << "{ overflow: 'dropOldest' }";
        QTest::newRow("coalesced with an interval") << "{ coalesce: true, minInterval: 5 }";
        QTest::newRow("once ignores them") << "{ once: true, capacity: 1 }";
        QTest::newRow("delivery agreeing with coalesce") << "{ delivery: 'latest', coalesce: true }";
    }

    void addAcceptsDeliveryOptions()
    {
        QFETCH(QString, options);
        QTest::failOnWarning(QRegularExpression(QStringLiteral(".*")));
        HandlerSubscription *h = handle(QStringLiteral("addWithOptions(%1)").arg(options));
        QVERIFY(h && h->isActive());
        QCOMPARE(h->dropped(), 0.0);
        eval(m_root.get(), QStringLiteral("registry.notify(4)"));
        // Run inside the notify, or, with a minimum interval, posted to the next turn of the loop.
        if (options.contains(QLatin1String("minInterval")))
            QCOMPARE(trace(), QString());
        QTRY_COMPARE(trace(), QStringLiteral("opt=4;"));
    }

    void senderOfADestroyedRegistryWarnsAndDrops()
    {
        auto *registry = new QmlRegistry;
        rio::QmlRegistrySender sender = registry->sender();
        QVERIFY(sender.isAlive());
        int calls = 0;
        registry->registry().add([&calls](const QVariant &) { ++calls; });
        QVERIFY(sender.notify(1));
        QCOMPARE(calls, 1);
        delete registry;
        QVERIFY(!sender.isAlive());
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral(
                                               "QmlRegistrySender::notify: the QmlRegistry was destroyed")));
        QVERIFY(!sender.notify(2)); // warns once...
        QVERIFY(!sender.notify(3)); // ...and stays quiet
        QCOMPARE(calls, 1);
        // Another destroyed registry: still quiet (once per process, not per registry).
        auto *second = new QmlRegistry;
        rio::QmlRegistrySender secondSender = second->sender();
        delete second;
        QTest::failOnWarning(QRegularExpression(QStringLiteral("QmlRegistry was destroyed")));
        QVERIFY(!secondSender.notify(4));
        QVERIFY(!rio::QmlRegistrySender().notify(1));
    }

    // A sender's notify on the registry's own thread runs a handler that destroys the registry:
    // the destruction waits for senders on other threads only, so it neither waits for its own
    // caller nor takes a lock that caller holds, and the sender sees the registry gone after.
    void registryMayBeDestroyedByAHandlerItsSenderRan()
    {
        auto *registry = new QmlRegistry;
        rio::QmlRegistrySender sender = registry->sender();
        int calls = 0;
        registry->registry().add([&](const QVariant &) {
            ++calls;
            delete registry;
        });
        QVERIFY(sender.notify(1));
        QCOMPARE(calls, 1);
        QVERIFY(!sender.isAlive());
    }

    // A JavaScript handler destroys the registry: no function of that notify runs after it,
    // notified from JavaScript, C++ or a sender (the facade removed every handler, and their
    // deliveries find the registry gone).
    void aHandlerThatDestroysTheRegistryEndsItsNotify_data()
    {
        QTest::addColumn<QString>("from");
        for (const char *from : {"JavaScript", "C++", "sender"})
            QTest::addRow("notify from %s", from) << QString::fromLatin1(from);
    }

    void aHandlerThatDestroysTheRegistryEndsItsNotify()
    {
        QFETCH(QString, from);
        QPointer<QmlRegistry> doomed = new QmlRegistry;
        m_engine->setObjectOwnership(doomed, QQmlEngine::CppOwnership);
        QJSValue registryValue = m_engine->newQObject(doomed);
        Killer killer(doomed);
        QJSValue make = m_engine->evaluate(QStringLiteral(
            "(function (killer, root) { return [function (e) { root.trace += 'a;'; killer.kill(); },"
            " function (e) { root.trace += 'b;'; }]; })"));
        const QJSValue fns = make.call({m_engine->newQObject(&killer), m_engine->newQObject(m_root.get())});
        QJSValue add = registryValue.property(QStringLiteral("add"));
        const QJSValue a = add.callWithInstance(registryValue, {fns.property(0), 10});
        const QJSValue b = add.callWithInstance(registryValue, {fns.property(1), 5});
        QPointer<HandlerSubscription> later = qobject_cast<HandlerSubscription *>(b.toQObject());
        QVERIFY(a.toQObject() != nullptr && later);
        m_root->setProperty("trace", QString());
        if (from == QLatin1String("JavaScript"))
            registryValue.property(QStringLiteral("notify")).callWithInstance(registryValue, {1});
        else if (from == QLatin1String("C++"))
            doomed->notify(1);
        else
            QVERIFY(doomed->sender().notify(1));
        QVERIFY(!doomed);
        QCOMPARE(trace(), QStringLiteral("a;"));
        QVERIFY(later && !later->isActive());
    }

    // A controller notifies the selected item and deletes the previous one, whose address the
    // next item takes (forced here: each item is made in the same storage). JavaScript gets each
    // item itself, never the wrapper of the dead one before it, whichever way the handlers run
    // and whether the notify comes from this thread or a worker's.
    void aQObjectEventAtAReusedAddressReachesJavaScriptAsItself_data()
    {
        QTest::addColumn<QString>("path");
        QTest::addColumn<bool>("fromWorker");
        for (const char *path : {"functions", "with a C++ handler", "diagnostics on"})
            for (const bool fromWorker : {false, true})
                QTest::addRow("%s, notify from %s", path, fromWorker ? "a worker" : "this thread")
                    << QString::fromLatin1(path) << fromWorker;
    }

    void aQObjectEventAtAReusedAddressReachesJavaScriptAsItself()
    {
        QFETCH(QString, path);
        QFETCH(bool, fromWorker);
        QmlRegistry *r = registry();
        const QJSValue make =
            m_engine->evaluate(QStringLiteral("(function (root) { return function (e) { root.trace += "
                                              "String(e ? e.objectName : e) + ';'; }; })"));
        const QJSValue fn = make.call({m_engine->newQObject(m_root.get())});
        QJSValue registryValue = m_engine->newQObject(r);
        QVERIFY(
            registryValue.property(QStringLiteral("add")).callWithInstance(registryValue, {fn}).isQObject());
        if (path == QLatin1String("with a C++ handler"))
            r->registry().add([](const QVariant &) { }, -100);
        if (path == QLatin1String("diagnostics on")) // through the const facade: not taken by C++
            const_cast<rio::QtRegistry<QVariant> &>(std::as_const(*r).registry()).setDiagnosticsEnabled(true);
        const rio::QmlRegistrySender sender = r->sender();
        alignas(QObject) std::byte storage[sizeof(QObject)];
        QString expected;
        for (int i = 0; i < 20; ++i) {
            auto *item = new (storage) QObject; // the previous item's address
            item->setObjectName(QStringLiteral("item%1").arg(i));
            QJSEngine::setObjectOwnership(item, QJSEngine::CppOwnership); // ours to destroy
            expected += item->objectName() + QLatin1Char(';');
            const QVariant event = QVariant::fromValue(item);
            if (fromWorker) {
                bool sent = false;
                std::thread([&] { sent = sender.notify(event); }).join();
                QVERIFY(sent);
                QTRY_COMPARE(trace(), expected);
            } else {
                r->notify(event);
                QCOMPARE(trace(), expected);
            }
            item->~QObject();
        }
    }

    void handleOutlivingItsRegistryIsInert()
    {
        QObject *owner =
            eval(m_root.get(), QStringLiteral("ownerComponent.createObject(null)")).value<QObject *>();
        QVERIFY(owner);
        std::unique_ptr<QObject> ownerGuard(owner);
        QQmlEngine::setObjectOwnership(owner, QQmlEngine::CppOwnership);
        auto *doomed = new QmlRegistry;
        m_engine->setObjectOwnership(doomed, QQmlEngine::CppOwnership);
        m_root->setProperty("trace", QString());
        QJSValue registryValue = m_engine->newQObject(doomed);
        QJSValue fn = m_engine->evaluate(QStringLiteral("(function (e) {})"));
        QJSValue options = m_engine->newObject();
        options.setProperty(QStringLiteral("owner"), m_engine->newQObject(owner));
        QJSValue result =
            registryValue.property(QStringLiteral("add")).callWithInstance(registryValue, {fn, 0, options});
        QPointer<HandlerSubscription> h = qobject_cast<HandlerSubscription *>(result.toQObject());
        QVERIFY(h);
        QVERIFY(h->isActive());
        delete doomed;
        QVERIFY(h);
        QVERIFY(!h->isActive());
        QVERIFY(!h->remove());
        ownerGuard.reset();
        QVERIFY(!h);
    }

    void notifyOnADestroyedQmlRegistryIsAScriptErrorNotACrash()
    {
        QPointer<QObject> dynamic =
            eval(m_root.get(), QStringLiteral("keptRegistry = registryComponent.createObject(root)"))
                .value<QObject *>();
        QVERIFY(dynamic);
        eval(m_root.get(), QStringLiteral("keptRegistry.destroy()"));
        QTRY_VERIFY(!dynamic);
        // The engine refuses the call with a TypeError naming `notify`; nothing crashes.
        QTest::ignoreMessage(QtWarningMsg,
                             QRegularExpression(QStringLiteral(
                                 "eval failed:.*TypeError: Cannot call method 'notify' of null$")));
        eval(m_root.get(), QStringLiteral("keptRegistry.notify(1)"));
        QCOMPARE(registry()->count(), 0);
    }
};

QTEST_MAIN(tst_QmlRegistry)
#include "tst_qml_registry.moc"
