// SPDX-License-Identifier: MIT
// The promises of the C++ facade underneath a QmlRegistry (registry()) hold for JavaScript
// functions on every path, the fast ones included: a suspended function is skipped, removeAndWait
// from a C++ thread waits for a function that is running, and drops of queued deliveries are
// counted where C++ reads them (droppedCount, deliveriesDropped).

#include "qml_test_support.h"

#include <registryio/qml/qml_registry.h>
#include <registryio/qt/diagnostics.h>

#include <QQmlComponent>
#include <QSignalSpy>
#include <QTest>
#include <QThread>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

using rio::QmlRegistry;

namespace {

// Two functions with the default delivery: `first` (a RegistryHandler with handler:) and
// `second` (add(fn)); with `lone` only `first` is registered.
const char *const kQml = R"(
import QtQml
import RegistryIO
QtObject {
    id: root
    required property var probe
    required property bool lone
    property QmlRegistry registry: QmlRegistry {}
    property RegistryHandler first: RegistryHandler {
        registry: root.registry
        priority: 10
        handler: event => root.probe.record("first", event)
    }
    property HandlerSubscription second: null
    Component.onCompleted: {
        if (!lone)
            second = registry.add(event => root.probe.record("second", event), 5);
    }
    function notifyFromJavaScript(value: int) { registry.notify(value) }
}
)";

// How long a function that is being removed keeps running, waiting to see whether removeAndWait
// returns meanwhile (it must not): a window for the failure to show, never a synchronisation.
constexpr auto kRunningWindow = std::chrono::milliseconds(500);

} // namespace

/// Records what the functions receive; the function tagged `blockTag` announces that it runs and
/// stays in until removeAndWait returned (a broken promise) or kRunningWindow passed.
class Probe : public QObject
{
    Q_OBJECT

public:
    Q_INVOKABLE void record(const QString &tag, const QVariant &event)
    {
        if (tag == QLatin1String("first") && suspendFromInside != nullptr)
            suspendFromInside->registry().setSuspended(suspendId, true); // on the engine thread
        std::unique_lock lock(mutex);
        seen.emplace_back(tag, event.toInt());
        if (tag != blockTag)
            return;
        entered = true;
        changed.notify_all();
        if (changed.wait_for(lock, kRunningWindow, [&] { return removeReturned; }))
            returnedWhileRunning = true;
        leftAt = seen.size();
    }

    std::vector<int> values(const QString &tag)
    {
        std::lock_guard lock(mutex);
        std::vector<int> out;
        for (const auto &[t, v] : seen)
            if (t == tag)
                out.push_back(v);
        return out;
    }

    // Remover side: waits (bounded) until the blocking function runs.
    bool waitUntilEntered()
    {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, std::chrono::seconds(10), [&] { return entered; });
    }

    void markRemoveReturned()
    {
        {
            std::lock_guard lock(mutex);
            removeReturned = true;
        }
        changed.notify_all();
    }

    QmlRegistry *suspendFromInside = nullptr; // `first` suspends suspendId through it
    rio::HandlerId suspendId;
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<std::pair<QString, int>> seen;
    QString blockTag;
    bool entered = false;
    bool removeReturned = false;
    bool returnedWhileRunning = false;
    std::size_t leftAt = 0;
};

class tst_QmlFacadePromises : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QQmlEngine> m_engine;
    std::unique_ptr<Probe> m_probe;
    std::unique_ptr<QObject> m_root;

    QmlRegistry *registry() const { return m_root->property("registry").value<QmlRegistry *>(); }
    rio::HandlerId firstId() const
    {
        return rio::HandlerId{
            quint64(rio::test::eval(m_root.get(), QStringLiteral("first.handlerId")).toDouble())};
    }

    bool load(bool lone)
    {
        m_engine = rio::test::makeEngine();
        m_probe = std::make_unique<Probe>();
        QQmlComponent component(m_engine.get());
        component.setData(kQml, QUrl(QStringLiteral("qrc:/promises.qml")));
        m_root.reset(component.createWithInitialProperties(
            {{QStringLiteral("probe"), QVariant::fromValue<QObject *>(m_probe.get())},
             {QStringLiteral("lone"), lone}}));
        if (!m_root)
            qWarning().noquote() << component.errorString();
        return m_root != nullptr;
    }

    // Notifies `value` as the row says: from JavaScript, from C++ on the engine thread, or from a
    // worker thread (then waits until the functions that take it have run).
    void notify(const QString &from, int value)
    {
        if (from == QLatin1String("javascript")) {
            QMetaObject::invokeMethod(m_root.get(), "notifyFromJavaScript", Q_ARG(int, value));
        } else if (from == QLatin1String("engine thread")) {
            registry()->notify(value);
        } else {
            std::thread worker([sender = registry()->sender(), value] { sender.notify(value); });
            worker.join();
        }
    }

    static void addRows()
    {
        QTest::addColumn<QString>("from");
        QTest::addColumn<bool>("lone");
        for (const char *from : {"javascript", "engine thread", "worker thread"})
            for (bool lone : {false, true})
                QTest::addRow("%s, %s", from, lone ? "one function" : "two functions")
                    << QString::fromLatin1(from) << lone;
    }

private Q_SLOTS:
    void cleanup()
    {
        m_root.reset();
        m_engine.reset();
        m_probe.reset();
    }

    void aSuspendedFunctionIsSkipped_data() { addRows(); }
    void aSuspendedFunctionIsSkipped()
    {
        QFETCH(QString, from);
        QFETCH(bool, lone);
        QVERIFY(load(lone));
        const rio::HandlerId first = firstId();
        QVERIFY(first.isValid());
        QVERIFY(registry()->registry().setSuspended(first, true));

        notify(from, 1);
        if (!lone)
            QTRY_COMPARE(m_probe->values(QStringLiteral("second")), std::vector<int>{1});
        QCoreApplication::processEvents(); // a delivery to `first` would have run by now
        QCOMPARE(m_probe->values(QStringLiteral("first")), std::vector<int>{});

        QVERIFY(registry()->registry().setSuspended(first, false));
        notify(from, 2);
        QTRY_COMPARE(m_probe->values(QStringLiteral("first")), std::vector<int>{2});
        if (!lone)
            QCOMPARE(m_probe->values(QStringLiteral("second")), (std::vector<int>{1, 2}));
    }

    void removeAndWaitFromACppThreadWaitsForARunningFunction_data() { addRows(); }
    void removeAndWaitFromACppThreadWaitsForARunningFunction()
    {
        QFETCH(QString, from);
        QFETCH(bool, lone);
        QVERIFY(load(lone));
        const rio::HandlerId first = firstId();
        m_probe->blockTag = QStringLiteral("first");
        std::atomic<bool> removed{false};
        std::atomic<bool> sawRunning{false};
        std::jthread remover([&, registry = registry()] {
            if (!m_probe->waitUntilEntered())
                return;
            sawRunning = true;
            removed = registry->registry().removeAndWait(first);
            m_probe->markRemoveReturned();
        });
        notify(from, 1);
        // A queued delivery runs from the event loop; a direct one has run inside notify().
        QTRY_VERIFY_WITH_TIMEOUT(m_probe->values(QStringLiteral("first")).size() == 1, 30000);
        remover.join();
        QVERIFY(sawRunning.load());
        QVERIFY(removed.load());
        QVERIFY2(!m_probe->returnedWhileRunning, "removeAndWait returned while the function ran");
        QCOMPARE(registry()->count(), lone ? 0 : 1);
    }

    void theFacadeTakenFromInsideARunningFunctionAppliesFromTheNextNotify()
    {
        // registry() called by a function the facade is running (on the engine thread) waits for
        // nothing, and its suspension holds from the next notify on (the notify under way may
        // still call the suspended function, as the facade says of any notify under way).
        QVERIFY(load(false));
        m_probe->suspendFromInside = registry();
        m_probe->suspendId =
            rio::HandlerId{quint64(rio::test::eval(m_root.get(), QStringLiteral("second.id")).toDouble())};
        QMetaObject::invokeMethod(m_root.get(), "notifyFromJavaScript", Q_ARG(int, 1));
        m_probe->suspendFromInside = nullptr;
        QVERIFY(registry()->registry().isSuspended(m_probe->suspendId));
        QMetaObject::invokeMethod(m_root.get(), "notifyFromJavaScript", Q_ARG(int, 2));
        QCOMPARE(m_probe->values(QStringLiteral("first")), (std::vector<int>{1, 2}));
        const std::vector<int> second = m_probe->values(QStringLiteral("second"));
        QVERIFY(second.empty() || second == std::vector<int>{1});
    }

    void aNotifyRunsTheSameWhateverTheRegistryHolds()
    {
        // One dispatch: `first` suspends `second` during a notify from JavaScript, and what that
        // notify does with `second` is the same with JavaScript handlers alone (C++ code takes
        // registry() from inside `first`), with a C++ handler beside them, and with diagnostics on.
        std::vector<std::vector<int>> seen;
        for (const char *mode : {"alone", "with a C++ handler", "diagnostics on"}) {
            cleanup();
            QVERIFY(load(false));
            if (mode == std::string_view("with a C++ handler"))
                registry()->registry().add([](const QVariant &) { }, -100);
            rio::Diagnostics::setEnabled(mode == std::string_view("diagnostics on"));
            m_probe->suspendFromInside = registry();
            m_probe->suspendId = rio::HandlerId{
                quint64(rio::test::eval(m_root.get(), QStringLiteral("second.id")).toDouble())};
            QMetaObject::invokeMethod(m_root.get(), "notifyFromJavaScript", Q_ARG(int, 1));
            rio::Diagnostics::setEnabled(false);
            QCOMPARE(m_probe->values(QStringLiteral("first")), std::vector<int>{1});
            seen.push_back(m_probe->values(QStringLiteral("second")));
        }
        QCOMPARE(seen.at(1), seen.at(0));
        QCOMPARE(seen.at(2), seen.at(0));
    }

    void dropsOfQueuedFunctionsReachTheFacade()
    {
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
        QSKIP("a million queued events: the main (unsanitized) stage runs this");
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
        QSKIP("a million queued events: the main (unsanitized) stage runs this");
#endif
#endif
        QVERIFY(load(true));
        const rio::HandlerId first = firstId();
        QSignalSpy dropped(&registry()->registry(), &rio::QtRegistryBase::deliveriesDropped);
        QTest::ignoreMessage(
            QtWarningMsg, QRegularExpression(QStringLiteral(
                              "^handler \\d+ of registry \\d+ .*: \\d+ queued deliveries dropped so far")));
        constexpr int capacity = int(rio::HandlerOptions::DefaultCapacity);
        constexpr int extra = 100;
        // The engine thread runs no event loop meanwhile: every event waits in the queue.
        std::thread worker([sender = registry()->sender()] {
            for (int i = 1; i <= capacity + extra; ++i)
                sender.notify(i);
        });
        worker.join();
        QCOMPARE(registry()->registry().droppedCount(first), quint64(extra));
        QVERIFY(!dropped.isEmpty());
        QCOMPARE(dropped.constFirst().at(0).value<rio::HandlerId>(), first);
        QTRY_COMPARE_WITH_TIMEOUT(m_probe->values(QStringLiteral("first")).size(), std::size_t(capacity),
                                  60000);
        QCOMPARE(rio::test::eval(m_root.get(), QStringLiteral("first.dropped")).toInt(), extra);
        QCOMPARE(m_probe->values(QStringLiteral("first")).front(), extra + 1); // the oldest went
    }
};

QTEST_MAIN(tst_QmlFacadePromises)
#include "tst_qml_facade_promises.moc"
