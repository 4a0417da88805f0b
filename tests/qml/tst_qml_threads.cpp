// SPDX-License-Identifier: MIT
// C++ worker threads notify a QmlRegistry that a C++ object exposes as a property: QML handlers
// run on the engine's thread, in priority order, coalesced on request; senders outlive registries.

#include "qml_test_support.h"

#include <registryio/qml/handler_subscription.h>
#include <registryio/qml/qml_registry.h>
#include <registryio/qml/registry_handler.h>

#include <QDeadlineTimer>
#include <QPointer>
#include <QSignalSpy>
#include <QTest>
#include <QThread>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using rio::QmlRegistry;
using rio::test::eval;

namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kEvents = 200;
constexpr int kRounds = 40;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
constexpr int kEvents = 200;
constexpr int kRounds = 40;
#else
constexpr int kEvents = 1000;
constexpr int kRounds = 200;
#endif
#else
constexpr int kEvents = 1000;
constexpr int kRounds = 200;
#endif

// A worker that notifies while the engine thread works stays at most this many events ahead of
// the first handler (its queue stays small), and stops after kMaxEvents whatever happens.
constexpr int kWindow = 32;
constexpr int kMaxEvents = 1000000;

} // namespace

/// A C++ object that exposes a QmlRegistry to QML and records what QML handlers receive.
class Source : public QObject
{
    Q_OBJECT
    Q_PROPERTY(rio::QmlRegistry *registry READ registry CONSTANT)

public:
    struct Entry
    {
        QString tag;
        int value;
    };

    rio::QmlRegistry *registry() { return &m_registry; }

    Q_INVOKABLE void record(const QString &tag, const QVariant &event)
    {
        if (QThread::currentThread() != thread())
            wrongThread.fetch_add(1);
        {
            std::lock_guard lock(mutex);
            entries.push_back({tag, event.toInt()});
            if (tag == QLatin1String("high"))
                ++highSeen;
        }
        progress.notify_all();
    }

    /// Notes a step of the test in the record (main thread), e.g. that a handler was destroyed.
    void mark(const QString &tag)
    {
        std::lock_guard lock(mutex);
        entries.push_back({tag, -1});
    }

    /// Worker side: waits until the "high" handler has seen all but `window` of `sent` events,
    /// or `stop` is set. False when stopped.
    bool waitForConsumer(int sent, int window, const std::atomic<bool> &stop)
    {
        std::unique_lock lock(mutex);
        progress.wait(lock, [&] { return stop.load() || sent - highSeen <= window; });
        return !stop.load();
    }

    /// Wakes a worker blocked in waitForConsumer() (after setting its stop flag).
    void wake()
    {
        {
            std::lock_guard lock(mutex);
        }
        progress.notify_all();
    }

    std::vector<Entry> take(const QString &tag)
    {
        std::lock_guard lock(mutex);
        std::vector<Entry> out;
        for (const Entry &e : entries)
            if (e.tag == tag)
                out.push_back(e);
        return out;
    }

    std::size_t size()
    {
        std::lock_guard lock(mutex);
        return entries.size();
    }

    std::mutex mutex;
    std::condition_variable progress;
    std::vector<Entry> entries;
    int highSeen = 0; // events the "high" handler recorded (under mutex)
    std::atomic<int> wrongThread{0};

private:
    rio::QmlRegistry m_registry;
};

class tst_QmlThreads : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QQmlEngine> m_engine;
    std::unique_ptr<Source> m_source;
    std::unique_ptr<QObject> m_root;

    // Sends kEvents events 0, 1, ... from a worker thread and returns when it is done: the engine
    // thread runs no event loop meanwhile, so every queued delivery waits at once.
    void flood()
    {
        std::thread worker([registry = m_source->registry()] {
            for (int i = 0; i < kEvents; ++i)
                registry->notify(i);
        });
        worker.join();
    }

    // What `tag` recorded once its deliveries arrived: waits for `expected` of them, then runs
    // the event loop once more so that any extra delivery shows up too (a timeout shows as a
    // shorter list).
    std::vector<int> recordedValues(const QString &tag, std::size_t expected)
    {
        [[maybe_unused]] const bool arrived =
            QTest::qWaitFor([&] { return m_source->take(tag).size() >= expected; }, 5000);
        QCoreApplication::processEvents();
        QCoreApplication::processEvents();
        std::vector<int> values;
        for (const Source::Entry &e : m_source->take(tag))
            values.push_back(e.value);
        return values;
    }

    // The `registryio` category logs drops (at most once a second per registry): expect it.
    static void expectDropLog()
    {
        QTest::ignoreMessage(
            QtWarningMsg, QRegularExpression(QStringLiteral(
                              "^handler \\d+ of registry \\d+ .*: \\d+ queued deliveries dropped so far")));
    }

    static std::vector<int> range(int first, int last)
    {
        std::vector<int> values;
        for (int i = first; i < last; ++i)
            values.push_back(i);
        return values;
    }

    void loadGroup()
    {
        m_engine = rio::test::makeEngine();
        m_source = std::make_unique<Source>();
        m_root =
            rio::test::load(*m_engine, QStringLiteral("group.qml"),
                            {{QStringLiteral("source"), QVariant::fromValue<QObject *>(m_source.get())}});
    }

    // Notifies `first`..`last` from a worker thread and waits for it (the engine thread runs no
    // event loop meanwhile: every delivery is still queued afterwards).
    void notifyFromWorker(int first, int last)
    {
        std::thread worker([registry = m_source->registry(), first, last] {
            for (int i = first; i <= last; ++i)
                registry->notify(i);
        });
        worker.join();
    }

    // The values `tag` recorded.
    std::vector<int> values(const QString &tag)
    {
        std::vector<int> out;
        for (const Source::Entry &e : m_source->take(tag))
            out.push_back(e.value);
        return out;
    }

    void load(bool withCoalesced)
    {
        m_engine = rio::test::makeEngine();
        m_source = std::make_unique<Source>();
        m_root = rio::test::load(*m_engine, QStringLiteral("threads.qml"),
                                 {{QStringLiteral("source"), QVariant::fromValue<QObject *>(m_source.get())},
                                  {QStringLiteral("withCoalesced"), withCoalesced}});
    }

private Q_SLOTS:
    void cleanup()
    {
        m_root.reset();
        m_engine.reset();
        m_source.reset();
    }

    void workerNotifiesRunOnTheEngineThreadInPriorityOrder()
    {
        load(false);
        QVERIFY(m_root);
        QCOMPARE(m_source->registry()->count(), 2);
        std::thread worker([registry = m_source->registry()] {
            for (int i = 0; i < kEvents; ++i)
                registry->notify(i);
        });
        worker.join();
        QTRY_COMPARE(m_source->size(), std::size_t(2 * kEvents));
        QCOMPARE(m_source->wrongThread.load(), 0);
        std::lock_guard lock(m_source->mutex);
        for (int i = 0; i < kEvents; ++i) {
            QCOMPARE(m_source->entries[2 * i].tag, QStringLiteral("high"));
            QCOMPARE(m_source->entries[2 * i].value, i);
            QCOMPARE(m_source->entries[2 * i + 1].tag, QStringLiteral("low"));
            QCOMPARE(m_source->entries[2 * i + 1].value, i);
        }
    }

    void workerNotifiesReachFunctionsInPriorityOrder()
    {
        // Functions only (add(fn) and handler:): each gets its queued delivery, in priority order.
        loadGroup();
        QVERIFY(m_root);
        QCOMPARE(m_source->registry()->count(), 3);
        QTest::ignoreMessage(QtWarningMsg,
                             QRegularExpression(QStringLiteral("threw: Error: low refuses 13$")));
        notifyFromWorker(0, kEvents - 1);
        QTRY_COMPARE(m_source->size(), std::size_t(3 * kEvents));
        QCOMPARE(m_source->wrongThread.load(), 0);
        std::lock_guard lock(m_source->mutex);
        for (int i = 0; i < kEvents; ++i) {
            for (int k = 0; k < 3; ++k) {
                const Source::Entry &e = m_source->entries[3 * i + k];
                QCOMPARE(e.tag, QStringLiteral("high,mid,low").split(QLatin1Char(',')).at(k));
                QCOMPARE(e.value, i);
            }
        }
    }

    void aFunctionAddedAfterAWorkerNotifyDoesNotGetIt()
    {
        loadGroup();
        QVERIFY(m_root);
        notifyFromWorker(1, 3); // queued, not delivered yet
        QVERIFY(eval(m_root.get(), QStringLiteral("addLate()")).value<QObject *>());
        QTRY_COMPARE(values(QStringLiteral("low")), (std::vector<int>{1, 2, 3}));
        notifyFromWorker(4, 4);
        QTRY_COMPARE(values(QStringLiteral("low")), (std::vector<int>{1, 2, 3, 4}));
        QCoreApplication::processEvents();
        QCOMPARE(values(QStringLiteral("late")), (std::vector<int>{4}));
        QCOMPARE(values(QStringLiteral("high")), (std::vector<int>{1, 2, 3, 4}));
    }

    void aFunctionRemovedFromAnotherThreadAfterAWorkerNotifyDoesNotRun()
    {
        loadGroup();
        QVERIFY(m_root);
        const auto mid =
            rio::HandlerId{quint64(eval(m_root.get(), QStringLiteral("handles.mid.id")).toDouble())};
        notifyFromWorker(1, 2); // queued
        bool removed = false;
        std::thread remover(
            [&removed, registry = m_source->registry(), mid] { removed = registry->registry().remove(mid); });
        remover.join();
        QVERIFY(removed);
        QTRY_COMPARE(values(QStringLiteral("low")), (std::vector<int>{1, 2}));
        QCoreApplication::processEvents();
        QCOMPARE(values(QStringLiteral("mid")), std::vector<int>{}); // removed before it ran
        QCOMPARE(values(QStringLiteral("high")), (std::vector<int>{1, 2}));
        notifyFromWorker(3, 3);
        QTRY_COMPARE(values(QStringLiteral("low")), (std::vector<int>{1, 2, 3}));
        QCOMPARE(values(QStringLiteral("mid")), std::vector<int>{});
        QCOMPARE(m_source->registry()->count(), 2);
    }

    void aCppHandlerAddedFromAnotherThreadGetsLaterEventsInOrder()
    {
        // Event 1 reaches the functions only; the C++ handler added on another thread
        // ends that, so event 2 goes to each handler: every function still sees 1 before 2.
        loadGroup();
        QVERIFY(m_root);
        notifyFromWorker(1, 1);
        std::vector<int> cpp;
        std::thread adder([&, registry = m_source->registry()] {
            registry->registry().add(m_source.get(), [&cpp](const QVariant &e) { cpp.push_back(e.toInt()); },
                                     {.priority = 3});
        });
        adder.join();
        notifyFromWorker(2, 2);
        QTRY_COMPARE(values(QStringLiteral("low")), (std::vector<int>{1, 2}));
        QCOMPARE(values(QStringLiteral("high")), (std::vector<int>{1, 2}));
        QCOMPARE(values(QStringLiteral("mid")), (std::vector<int>{1, 2}));
        QCOMPARE(cpp, std::vector<int>{2});
        QCOMPARE(m_source->wrongThread.load(), 0);
    }

    // A C++ handler whose context is the registry itself follows it, as API.md's add(context)
    // says, when an earlier handler of the same notify moves the registry to a worker.
    void aCppHandlerWithTheRegistryAsContextFollowsAMoveInTheSameNotify()
    {
        QThread worker;
        worker.start();
        auto *registry = new rio::QmlRegistry; // no parent: it can move
        std::atomic<QThread *> ranOn{nullptr};
        registry->registry().add(registry, [&] { registry->moveToThread(&worker); }, {.priority = 10});
        registry->registry().add(registry, [&] { ranOn.store(QThread::currentThread()); }, {.priority = 0});
        registry->notify(1);
        QTRY_VERIFY_WITH_TIMEOUT(ranOn.load() != nullptr, 60'000);
        QCOMPARE(ranOn.load(), &worker);
        // Told on the worker through an atomic (a QSignalSpy's list would be shared unordered).
        std::atomic<bool> gone{false};
        QObject::connect(registry, &QObject::destroyed, [&gone] { gone.store(true); });
        registry->deleteLater(); // on the worker, where it lives now
        QTRY_VERIFY_WITH_TIMEOUT(gone.load(), 60'000);
        worker.quit();
        worker.wait();
    }

    void aThrowingFunctionFromAWorkerIsReportedAndIsolated()
    {
        loadGroup();
        QVERIFY(m_root);
        const double low = eval(m_root.get(), QStringLiteral("handles.low.id")).toDouble();
        QSignalSpy failed(m_source->registry(), &QmlRegistry::handlerFailed);
        QTest::ignoreMessage(QtWarningMsg,
                             QRegularExpression(QStringLiteral("threw: Error: low refuses 13$")));
        notifyFromWorker(12, 14);
        QTRY_COMPARE(values(QStringLiteral("low")), (std::vector<int>{12, 13, 14}));
        QCOMPARE(values(QStringLiteral("high")), (std::vector<int>{12, 13, 14}));
        QTRY_COMPARE(failed.count(), 1);
        QCOMPARE(failed.at(0).at(0).toDouble(), low);
    }

    void eachFunctionsQueueDropsOldestAndCountsItsLoss()
    {
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
        QSKIP("a million queued events: the main (unsanitized) stage runs this");
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
        QSKIP("a million queued events: the main (unsanitized) stage runs this");
#endif
#endif
        // Each function's queue has the default capacity: a worker
        // that gets that far ahead loses its oldest events, and both functions count the loss.
        m_engine = rio::test::makeEngine();
        m_root = rio::test::load(*m_engine, QStringLiteral("groupcount.qml"));
        QVERIFY(m_root);
        auto *registry = m_root->property("registry").value<QmlRegistry *>();
        QVERIFY(registry);
        constexpr int capacity = int(rio::HandlerOptions::DefaultCapacity);
        constexpr int extra = 100;
        expectDropLog();
        std::thread worker([sender = registry->sender()] {
            for (int i = 1; i <= capacity + extra; ++i)
                sender.notify(i);
        });
        worker.join();
        QTRY_COMPARE_WITH_TIMEOUT(m_root->property("seen").toInt(), capacity, 60000);
        QCOMPARE(m_root->property("last").toInt(), capacity + extra);
        QTRY_COMPARE(eval(m_root.get(), QStringLiteral("counting.dropped")).toInt(), extra);
        QCOMPARE(eval(m_root.get(), QStringLiteral("quiet.dropped")).toInt(), extra);
    }

    void coalescedHandlersGetTheNewestEventOnly()
    {
        load(true);
        QVERIFY(m_root);
        QCOMPARE(m_source->registry()->count(), 4);
        // The engine thread is blocked in join() while the worker notifies, so every event is
        // pending at once: coalesced handlers must run once, with the last one.
        std::thread worker([registry = m_source->registry()] {
            for (int i = 1; i <= kEvents; ++i)
                registry->notify(i);
        });
        worker.join();
        QTRY_COMPARE(m_source->take(QStringLiteral("low")).size(), std::size_t(kEvents));
        QCOMPARE(m_source->take(QStringLiteral("high")).size(), std::size_t(kEvents));
        for (const char *tag : {"latest", "js"}) {
            const auto got = m_source->take(QString::fromLatin1(tag));
            QCOMPARE(got.size(), std::size_t(1));
            QCOMPARE(got.front().value, kEvents);
        }
        QCOMPARE(m_source->wrongThread.load(), 0);
    }

    void boundedHandlerAppliesItsOverflowPolicy_data()
    {
        QTest::addColumn<QString>("overflow");
        QTest::addColumn<int>("capacity");
        QTest::addColumn<int>("first"); // the first event delivered
        QTest::addColumn<int>("delivered");
        QTest::newRow("DropOldest keeps the newest")
            << "RegistryHandler.DropOldest" << 10 << kEvents - 10 << 10;
        QTest::newRow("DropNewest keeps the first") << "RegistryHandler.DropNewest" << 10 << 0 << 10;
        QTest::newRow("capacity 0 keeps all") << "RegistryHandler.DropOldest" << 0 << 0 << kEvents;
        QTest::newRow("default capacity keeps all") << "RegistryHandler.DropOldest" << -1 << 0 << kEvents;
    }

    void boundedHandlerAppliesItsOverflowPolicy()
    {
        QFETCH(QString, overflow);
        QFETCH(int, capacity);
        QFETCH(int, first);
        QFETCH(int, delivered);
        load(false);
        QVERIFY(m_root);
        const QString capacityProperty =
            capacity < 0 ? QString() : QStringLiteral(", capacity: %1").arg(capacity);
        auto *bounded = qobject_cast<rio::RegistryHandler *>(
            eval(m_root.get(),
                 QStringLiteral("boundedHandler.createObject(root, { registry: source.registry, "
                                "overflow: %1%2 })")
                     .arg(overflow, capacityProperty))
                .value<QObject *>());
        QVERIFY(bounded && bounded->isActive());
        QCOMPARE(bounded->capacity(), capacity < 0 ? 1000000 : capacity);
        QSignalSpy droppedChanged(bounded, &rio::RegistryHandler::droppedChanged);
        if (delivered < kEvents)
            expectDropLog();
        else
            QTest::failOnWarning(QRegularExpression(QStringLiteral("dropped")));
        flood();
        QCOMPARE(bounded->dropped(), 0.0); // reported on the engine thread, which was busy
        QCOMPARE(recordedValues(QStringLiteral("bounded"), std::size_t(delivered)),
                 range(first, first + delivered));
        QTRY_COMPARE(bounded->dropped(), double(kEvents - delivered));
        if (delivered < kEvents)
            QVERIFY(droppedChanged.count() >= 1);
        else
            QCOMPARE(droppedChanged.count(), 0);
        // The unbounded handlers of the same registry lost nothing.
        QCOMPARE(recordedValues(QStringLiteral("high"), std::size_t(kEvents)), range(0, kEvents));
        QCOMPARE(m_source->wrongThread.load(), 0);
    }

    void droppedSurvivesReRegistration()
    {
        load(false);
        QVERIFY(m_root);
        auto *bounded = qobject_cast<rio::RegistryHandler *>(
            eval(m_root.get(),
                 QStringLiteral("boundedHandler.createObject(root, { registry: source.registry, "
                                "capacity: 10 })"))
                .value<QObject *>());
        QVERIFY(bounded);
        const double firstId = bounded->handlerId();
        QSignalSpy droppedChanged(bounded, &rio::RegistryHandler::droppedChanged);
        expectDropLog();
        flood();
        // Re-registered before the engine thread saw any report: the drops still count, and the
        // queued deliveries of the old registration never run.
        bounded->setCapacity(20);
        QVERIFY(bounded->handlerId() > firstId);
        QCOMPARE(bounded->dropped(), double(kEvents - 10));
        QCOMPARE(droppedChanged.count(), 1);
        flood();
        QCOMPARE(recordedValues(QStringLiteral("bounded"), 20), range(kEvents - 20, kEvents));
        QTRY_COMPARE(bounded->dropped(), double(kEvents - 10 + kEvents - 20));
    }

    void boundedHandleThroughAddOptions()
    {
        load(false);
        QVERIFY(m_root);
        auto *handle = qobject_cast<rio::HandlerSubscription *>(
            eval(m_root.get(), QStringLiteral("addBounded({ capacity: 5, overflow: 'dropNewest' })"))
                .value<QObject *>());
        QVERIFY(handle && handle->isActive());
        QSignalSpy droppedChanged(handle, &rio::HandlerSubscription::droppedChanged);
        expectDropLog();
        flood();
        QCOMPARE(recordedValues(QStringLiteral("handle"), 5), range(0, 5));
        QTRY_COMPARE(handle->dropped(), double(kEvents - 5));
        QVERIFY(droppedChanged.count() >= 1);
        QCOMPARE(eval(m_root.get(), QStringLiteral("root.source.registry.count")).toInt(), 3);
    }

    void boundedHandleDropOldestByEnum()
    {
        load(false);
        QVERIFY(m_root);
        auto *handle = qobject_cast<rio::HandlerSubscription *>(
            eval(m_root.get(),
                 QStringLiteral("addBounded({ capacity: 5, overflow: RegistryHandler.DropOldest })"))
                .value<QObject *>());
        QVERIFY(handle);
        expectDropLog();
        flood();
        QCOMPARE(recordedValues(QStringLiteral("handle"), 5), range(kEvents - 5, kEvents));
        QTRY_COMPARE(handle->dropped(), double(kEvents - 5));
    }

    void senderFromAWorkerOutlivesAQmlOwnedRegistry()
    {
        load(false);
        QVERIFY(m_root);
        QPointer<QmlRegistry> dynamic =
            eval(m_root.get(),
                 QStringLiteral("Qt.createQmlObject('import RegistryIO; QmlRegistry {}', root)"))
                .value<QmlRegistry *>();
        QVERIFY(dynamic);
        // The worker keeps at most kWindow events in flight, so nothing piles up before the
        // registry dies; `gone` releases it once the registry is destroyed.
        std::mutex mutex;
        std::condition_variable progress;
        int delivered = 0;
        bool gone = false;
        dynamic->registry().add(dynamic, [&](const QVariant &) {
            {
                std::lock_guard lock(mutex);
                ++delivered;
            }
            progress.notify_all();
        });
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral(
                                               "QmlRegistrySender::notify: the QmlRegistry was destroyed")));
        int accepted = 0;
        std::thread worker([&, sender = dynamic->sender()] {
            for (int i = 0; i < kMaxEvents; ++i) {
                {
                    std::unique_lock lock(mutex);
                    progress.wait(lock, [&] { return gone || accepted - delivered <= kWindow; });
                }
                if (!sender.notify(1))
                    break;
                std::lock_guard lock(mutex);
                ++accepted;
            }
            sender.notify(2); // quiet: warned once already
        });
        QTRY_VERIFY([&] {
            std::lock_guard lock(mutex);
            return delivered >= 10;
        }());
        delete dynamic.data();
        {
            std::lock_guard lock(mutex);
            gone = true;
        }
        progress.notify_all();
        worker.join();
        QVERIFY(accepted >= delivered);
        QVERIFY(accepted < kMaxEvents); // it stopped because the registry died
    }

    void handlersDestroyedWithDeliveriesQueuedNeverRun()
    {
        load(false);
        QVERIFY(m_root);
        auto *dynamic = qobject_cast<rio::RegistryHandler *>(
            eval(m_root.get(),
                 QStringLiteral("dynamicHandler.createObject(root, { registry: source.registry })"))
                .value<QObject *>());
        QObject *handle = eval(m_root.get(), QStringLiteral("addTransient('transient')")).value<QObject *>();
        QVERIFY(dynamic && handle);
        // Deliveries for every handler wait in the engine thread's queue...
        std::thread worker([registry = m_source->registry()] {
            for (int i = 0; i < 10; ++i)
                registry->notify(i);
        });
        worker.join();
        // ...when the handle is removed and then destroyed, and the item re-registers and dies.
        QVERIFY(rio::test::call(*m_engine, handle, QStringLiteral("remove")).toBool());
        delete handle;
        dynamic->setPriority(3);
        delete dynamic;
        QTRY_COMPARE(m_source->take(QStringLiteral("low")).size(), std::size_t(10));
        QCOMPARE(m_source->take(QStringLiteral("high")).size(), std::size_t(10));
        QVERIFY(m_source->take(QStringLiteral("transient")).empty());
        QVERIFY(m_source->take(QStringLiteral("dynamic")).empty());
        QCOMPARE(m_source->registry()->count(), 2);
    }

    void handlersComeAndGoWhileAWorkerNotifies_data()
    {
        QTest::addColumn<bool>("functionsOnly");
        QTest::newRow("onNotified handlers: a queue each") << false;
        // Every add and removal changes the registry's revision while the worker notifies, so
        // notifies race with handlers being added and removed.
        QTest::newRow("functions only") << true;
    }

    void handlersComeAndGoWhileAWorkerNotifies()
    {
        QFETCH(bool, functionsOnly);
        if (functionsOnly) {
            loadGroup();
            // group.qml's "low" throws on event 13 (one warning; the others still run).
            QTest::ignoreMessage(QtWarningMsg,
                                 QRegularExpression(QStringLiteral("threw: Error: low refuses 13$")));
        } else {
            load(false);
        }
        QVERIFY(m_root);
        const int fixed = m_source->registry()->count();
        // The worker notifies without pause but stays at most kWindow events ahead of the engine
        // thread's "high" handler, and sends at most kMaxEvents: the queue stays small however
        // slow the JavaScript handlers are.
        std::atomic<bool> stop{false};
        std::atomic<int> sent{0};
        std::thread worker([source = m_source.get(), sender = m_source->registry()->sender(), &stop, &sent] {
            for (int i = 0; i < kMaxEvents && source->waitForConsumer(i, kWindow, stop); ++i) {
                sender.notify(i);
                sent.store(i + 1);
            }
        });
        auto recorded = [this](const QString &tag) { return m_source->take(tag).size(); };
        for (int round = 0; round < kRounds; ++round) {
            const QString dynamicTag = QStringLiteral("dynamic-%1").arg(round);
            const QString transientTag = QStringLiteral("transient-%1").arg(round);
            QObject *dynamic =
                eval(m_root.get(), QStringLiteral("dynamicHandler.createObject(root, { registry: "
                                                  "source.registry, tag: '%1' })")
                                       .arg(dynamicTag))
                    .value<QObject *>();
            QVERIFY(dynamic);
            QObject *handle =
                eval(m_root.get(), QStringLiteral("addTransient('%1')").arg(transientTag)).value<QObject *>();
            QVERIFY(handle);
            // Each handler's destruction is a mark in the record: nothing of it may follow.
            connect(dynamic, &QObject::destroyed, m_source.get(),
                    [this, dynamicTag] { m_source->mark(QStringLiteral("gone ") + dynamicTag); });
            connect(handle, &QObject::destroyed, m_source.get(),
                    [this, transientTag] { m_source->mark(QStringLiteral("gone ") + transientTag); });
            // Both come to see events the worker sent while they were registered.
            QDeadlineTimer deadline(5000);
            while ((recorded(dynamicTag) == 0 || recorded(transientTag) == 0) && !deadline.hasExpired())
                QTest::qWait(1);
            QVERIFY2(recorded(dynamicTag) > 0 && recorded(transientTag) > 0, qPrintable(dynamicTag));
            delete dynamic;
            rio::test::call(*m_engine, handle, QStringLiteral("destroy")); // deferred
            QCoreApplication::processEvents();
        }
        stop.store(true);
        m_source->wake();
        worker.join();
        const int total = sent.load();
        QVERIFY2(total > 0 && total < kMaxEvents, qPrintable(QStringLiteral("%1 events sent").arg(total)));
        // The last transient handle goes with the deferred deletes; then every event sent reached
        // the two fixed handlers.
        QTRY_COMPARE(m_source->registry()->count(), fixed);
        QTRY_COMPARE(recorded(QStringLiteral("low")), std::size_t(total));
        QCOMPARE(recorded(QStringLiteral("high")), std::size_t(total));
        QCOMPARE(m_source->wrongThread.load(), 0);
        std::lock_guard lock(m_source->mutex);
        // Each handler saw the worker's events in the order they were sent, none after it died.
        std::map<QString, int> last;
        std::set<QString> dead;
        int gone = 0;
        for (const Source::Entry &e : m_source->entries) {
            if (e.tag.startsWith(QStringLiteral("gone "))) {
                dead.insert(e.tag.mid(5));
                ++gone;
                continue;
            }
            QVERIFY2(!dead.contains(e.tag),
                     qPrintable(e.tag + QStringLiteral(" ran after it was destroyed")));
            auto [it, first] = last.try_emplace(e.tag, e.value);
            if (!first) {
                QVERIFY2(it->second < e.value, qPrintable(e.tag));
                it->second = e.value;
            }
        }
        QCOMPARE(gone, 2 * kRounds);
        QCOMPARE(last.at(QStringLiteral("high")), total - 1);
    }
};

QTEST_MAIN(tst_QmlThreads)
#include "tst_qml_threads.moc"
