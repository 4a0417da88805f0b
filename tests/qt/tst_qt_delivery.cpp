// SPDX-License-Identifier: MIT
// Delivery on a context object's thread: every connection type from the same and from other
// threads, context death and removal with deliveries pending, priority order, the shared copy.
#include "qt_test_support.h"

#include <registryio/qt/qt_registry.h>

#include <QRegularExpression>
#include <QSignalSpy>
#include <QTest>

#include <atomic>
#include <functional>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace {

// An event that counts its copies.
struct Counted
{
    static inline std::atomic<int> copies{0};
    int value = 0;
    explicit Counted(int v) : value(v) { }
    Counted(const Counted &other) : value(other.value) { copies.fetch_add(1); }
    Counted &operator=(const Counted &) = delete;
};

// A registry that tells how many threads have a mailbox.
template <typename E>
struct ProbedRegistry : rio::QtRegistry<E>
{
    std::size_t mailboxCount() { return this->mailboxCountForTesting(); }
};

// A QThread with a receiver deleted by a deleteLater on its finished() (connected before any
// delivery, so before the registry's own watch of the thread); after its event loop returns,
// the thread goes on until `gate` opens.
class EndingThread : public QThread
{
public:
    void run() override
    {
        receiver = new QObject;
        connect(this, &QThread::finished, receiver, &QObject::deleteLater);
        ready.count_down();
        exec();
        loopDone.count_down();
        gate.wait();
    }
    QObject *receiver = nullptr;
    std::latch ready{1};
    std::latch loopDone{1};
    std::latch gate{1};
};

// What one delivery saw.
struct Seen
{
    std::atomic<int> calls{0};
    std::atomic<QThread *> thread{nullptr};
    std::atomic<int> value{0};

    auto recorder()
    {
        return [this](const int &v) {
            thread.store(QThread::currentThread());
            value.store(v);
            calls.fetch_add(1);
        };
    }
};

} // namespace

class tst_QtDelivery : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // Context on a worker thread, notify from the main thread.
    void registriesSharingDeliveryOrderDeliverInNotifyOrder()
    {
        // A worker notifies a, b, a while this thread runs no event loop: with one mailbox the
        // three arrive 1, 2, 3; each registry with its own would drain a's 1 and 3 before b's 2.
        QObject receiver;
        rio::QtRegistry<int> a;
        rio::QtRegistry<int> b;
        b.shareDeliveryOrderWith(a);
        std::vector<int> seen;
        a.add(&receiver, [&seen](int v) { seen.push_back(v); });
        b.add(&receiver, [&seen](int v) { seen.push_back(v); });
        std::thread worker([&] {
            a.notify(1);
            b.notify(2);
            a.notify(3);
        });
        worker.join();
        QTRY_COMPARE(seen.size(), std::size_t(3));
        QCOMPARE(seen, (std::vector<int>{1, 2, 3}));
    }

    void connectionTypesToOtherThread()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        Seen direct, autoSeen, queued, blocking;
        registry.add(worker.context, direct.recorder(), {.connection = Qt::DirectConnection});
        registry.add(worker.context, autoSeen.recorder(), {.connection = Qt::AutoConnection});
        registry.add(worker.context, queued.recorder(), {.connection = Qt::QueuedConnection});
        registry.add(worker.context, blocking.recorder(), {.connection = Qt::BlockingQueuedConnection});

        registry.notify(7);
        // Direct and blocking have run when notify returns.
        QCOMPARE(direct.calls.load(), 1);
        QCOMPARE(direct.thread.load(), QThread::currentThread());
        QCOMPARE(blocking.calls.load(), 1);
        QCOMPARE(blocking.thread.load(), worker.thread());
        QCOMPARE(blocking.value.load(), 7);
        worker.flush();
        QCOMPARE(autoSeen.calls.load(), 1);
        QCOMPARE(autoSeen.thread.load(), worker.thread());
        QCOMPARE(queued.calls.load(), 1);
        QCOMPARE(queued.thread.load(), worker.thread());
        QCOMPARE(queued.value.load(), 7);
    }

    // Context on the main thread, notify from the main thread.
    void connectionTypesOnSameThread()
    {
        rio::QtRegistry<int> registry;
        QObject context;
        riotest::LogCapture log;
        QSignalSpy failed(&registry, &rio::QtRegistryBase::handlerFailed);
        Seen direct, autoSeen, queued, blocking;
        registry.add(&context, direct.recorder(), {.connection = Qt::DirectConnection});
        registry.add(&context, autoSeen.recorder(), {.connection = Qt::AutoConnection});
        registry.add(&context, queued.recorder(), {.connection = Qt::QueuedConnection});
        const rio::HandlerId blockingId =
            registry.add(&context, blocking.recorder(), {.connection = Qt::BlockingQueuedConnection});

        registry.notify(3);
        QCOMPARE(direct.calls.load(), 1);
        QCOMPARE(autoSeen.calls.load(), 1); // auto on the same thread is direct
        QCOMPARE(autoSeen.thread.load(), QThread::currentThread());
        QCOMPARE(queued.calls.load(), 0); // queued waits for the event loop
        QTRY_COMPARE(queued.calls.load(), 1);
        QCOMPARE(queued.thread.load(), QThread::currentThread());

        // BlockingQueued on the context's own thread would deadlock: refused and reported.
        QCOMPARE(blocking.calls.load(), 0);
        QCOMPARE(failed.count(), 1);
        QCOMPARE(failed.at(0).at(0).value<rio::HandlerId>(), blockingId);
        QVERIFY(failed.at(0).at(1).toString().contains(QStringLiteral("BlockingQueuedConnection")));
        QCOMPARE(log.count(), 1);
        QCoreApplication::processEvents();
        QCOMPARE(blocking.calls.load(), 0);
    }

    // Context on the main thread, notify from a worker thread.
    void connectionTypesFromOtherThread()
    {
        rio::QtRegistry<int> registry;
        QObject context;
        Seen direct, autoSeen, queued, blocking;
        registry.add(&context, direct.recorder(), {.connection = Qt::DirectConnection});
        registry.add(&context, autoSeen.recorder(), {.connection = Qt::AutoConnection});
        registry.add(&context, queued.recorder(), {.connection = Qt::QueuedConnection});
        registry.add(&context, blocking.recorder(), {.connection = Qt::BlockingQueuedConnection});

        std::atomic<bool> returned{false};
        std::atomic<int> blockingCallsWhenReturned{-1};
        std::atomic<QThread *> notifier{nullptr};
        std::thread thread([&] {
            notifier.store(QThread::currentThread());
            registry.notify(11);
            blockingCallsWhenReturned.store(blocking.calls.load());
            returned.store(true);
        });
        QTRY_VERIFY(returned.load()); // the main loop serves the blocking delivery meanwhile
        thread.join();
        QCOMPARE(blockingCallsWhenReturned.load(), 1);
        QCOMPARE(blocking.thread.load(), QThread::currentThread());
        QCOMPARE(direct.thread.load(), notifier.load());
        QTRY_COMPARE(autoSeen.calls.load(), 1);
        QCOMPARE(autoSeen.thread.load(), QThread::currentThread());
        QTRY_COMPARE(queued.calls.load(), 1);
        QCOMPARE(queued.thread.load(), QThread::currentThread());
        QCOMPARE(queued.value.load(), 11);
    }

    // A BlockingQueued delivery that does not run, because its handler was removed or suspended
    // just before it came up or because Qt discarded its event, is counted and signalled once, by its
    // notifier, on the notifier's thread.
    void blockingDeliveryThatDoesNotRunIsReportedByItsNotifier_data()
    {
        QTest::addColumn<int>("how");
        QTest::newRow("handler removed") << 0;
        QTest::newRow("handler suspended") << 1;
        QTest::newRow("event discarded") << 2;
    }
    void blockingDeliveryThatDoesNotRunIsReportedByItsNotifier()
    {
        QFETCH(int, how);
        rio::QtRegistry<int> registry;
        QObject context; // on this thread
        std::atomic<int> calls{0};
        const rio::HandlerId id = registry.add(&context, [&calls](int) { calls.fetch_add(1); },
                                               {.connection = Qt::BlockingQueuedConnection});
        std::vector<std::pair<QThread *, quint64>> signalled; // where, and the total; under `mutex`
        std::mutex mutex;
        connect(
            &registry, &rio::QtRegistryBase::deliveriesDropped, &registry,
            [&](rio::HandlerId dropped, quint64 total) {
                const std::lock_guard lock(mutex);
                signalled.emplace_back(dropped == id ? QThread::currentThread() : nullptr, total);
            },
            Qt::DirectConnection);
        // Sees the delivery's event come up: removes the handler first, or swallows the event.
        struct Filter : QObject
        {
            std::function<bool()> onCall;
            bool eventFilter(QObject *, QEvent *event) override
            {
                return event->type() == QEvent::MetaCall && onCall && std::exchange(onCall, {})();
            }
        } filter;
        filter.onCall = [&] {
            if (how == 0)
                registry.remove(id);
            else if (how == 1)
                registry.setSuspended(id, true);
            return how == 2;
        };
        context.installEventFilter(&filter);
        std::atomic<QThread *> notifierThread{nullptr};
        std::atomic<bool> returned{false};
        riotest::LogCapture log;
        std::thread notifier([&] {
            notifierThread.store(QThread::currentThread());
            registry.notify(1);
            returned.store(true);
        });
        QTRY_VERIFY_WITH_TIMEOUT(returned.load(), 30000); // this loop brings the event up
        notifier.join();
        QCOMPARE(calls.load(), 0);
        const std::lock_guard lock(mutex);
        QCOMPARE(signalled.size(), std::size_t{1});
        QCOMPARE(signalled[0].first, notifierThread.load());
        QCOMPARE(signalled[0].second, quint64{1});
        QCOMPARE(log.count(), 1);
    }

    void blockingOnOwnWorkerThreadIsRefused()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        std::atomic<int> calls{0};
        std::atomic<int> failures{0};
        registry.setExceptionHandler([&failures](const rio::ExceptionInfo &) { failures.fetch_add(1); });
        registry.add(worker.context, [&calls] { calls.fetch_add(1); },
                     {.connection = Qt::BlockingQueuedConnection});
        riotest::LogCapture log;
        worker.run([&registry] { registry.notify(1); }); // notify on the context's own thread
        QCOMPARE(calls.load(), 0);
        QCOMPARE(failures.load(), 1);
        QCOMPARE(log.count(), 1);
        worker.flush();
        QCOMPARE(calls.load(), 0);
    }

    void contextDestroyedWithDeliveriesPending()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        std::atomic<int> calls{0};
        registry.add(worker.context, [&calls] { calls.fetch_add(1); }, {.connection = Qt::QueuedConnection});
        registry.add(worker.context, [&calls] { calls.fetch_add(1); },
                     {.connection = Qt::AutoConnection, .delivery = rio::Delivery::Latest});
        QObject *context = worker.takeContext();

        // The worker deletes the context as soon as it is released, ahead of the deliveries
        // queued behind the blocker.
        auto gate = std::make_shared<std::latch>(1);
        {
            [[maybe_unused]] const rio::detail::TsanPostScope posting;
            QMetaObject::invokeMethod(worker.runner, rio::detail::Handover([gate, context] {
                                          gate->wait();
                                          delete context;
                                      }));
        }
        for (int i = 0; i < 100; ++i)
            registry.notify(i);
        QCOMPARE(registry.count(), 2);
        gate->count_down();
        worker.flush();
        QCOMPARE(calls.load(), 0);
        QCOMPARE(registry.count(), 0);
        registry.notify(1);
        worker.flush();
        QCOMPARE(calls.load(), 0);
    }

    // Receiver threads that come and go, ten thousand of them (mailboxes are kept per thread, and
    // a new thread may reuse a dead one's address): each live thread gets its delivery, one
    // removed before its drain gets nothing, one that ends with its drain still queued gets it
    // at most once, no handler outlives its thread's context, and a queued handler on this
    // thread gets every event meanwhile.
    void receiverThreadsComeAndGo()
    {
        constexpr int rounds = RIO_TEST_SANITIZED ? 1000 : 10000;
        ProbedRegistry<int> registry;
        Seen steady;
        registry.add(this, steady.recorder(), {.connection = Qt::QueuedConnection});
        for (int round = 0; round < rounds; ++round) {
            Seen seen; // outlives the worker, which may still deliver while it stops
            {
                riotest::Worker worker;
                const rio::HandlerId id = registry.add(worker.context, seen.recorder());
                switch (round % 3) {
                case 0: // delivered on its thread
                    registry.notify(round);
                    worker.flush(); // runs after the drain posted by the notify
                    QCOMPARE(seen.calls.load(), 1);
                    QCOMPARE(seen.value.load(), round);
                    QCOMPARE(seen.thread.load(), worker.thread());
                    break;
                case 1: { // removed while its delivery waits behind a blocked thread
                    const auto gate = worker.block();
                    registry.notify(round);
                    QVERIFY(registry.remove(id));
                    gate->count_down();
                    worker.flush();
                    QCOMPARE(seen.calls.load(), 0);
                    break;
                }
                default: // the thread stops with the drain possibly still queued
                    registry.notify(round);
                    break;
                }
            }
            QVERIFY(seen.calls.load() <= 1);
            QCOMPARE(registry.count(), 1); // the worker's handler left with its context
            // At most this thread's mailbox (the steady handler's deliveries wait in it).
            QVERIFY2(registry.mailboxCount() <= 1, qPrintable(QString::number(registry.mailboxCount())));
        }
        QTRY_COMPARE(steady.calls.load(), rounds);
        QCOMPARE(steady.value.load(), rounds - 1);
        // A mailbox goes with its last delivery: none is left for the threads that ended.
        QTRY_COMPARE(registry.mailboxCount(), std::size_t{0});
    }

    // Threads that end with a delivery still queued, their receiver deleted by a deleteLater on
    // their finished(), while their QThread objects live on: no mailbox is left for them.
    void receiverThreadsEndWithDeliveriesQueued()
    {
        constexpr int threads = 200;
        ProbedRegistry<int> registry;
        std::vector<std::unique_ptr<EndingThread>> ended;
        std::atomic<int> calls{0};
        for (int round = 0; round < threads; ++round) {
            auto thread = std::make_unique<EndingThread>();
            thread->start();
            thread->ready.wait();
            registry.add(thread->receiver, [&calls] { calls.fetch_add(1); });
            registry.notify(round);
            QTRY_COMPARE(calls.load(), round + 1); // it got a queued delivery
            thread->quit();
            thread->loopDone.wait();
            registry.notify(round); // waits when the thread ends
            thread->gate.count_down();
            QVERIFY(thread->wait(30000));
            ended.push_back(std::move(thread));
        }
        QTRY_COMPARE(registry.count(), 0); // every receiver was deleted with its thread
        QVERIFY2(registry.mailboxCount() == 0, qPrintable(QString::number(registry.mailboxCount())));
        QCOMPARE(calls.load(), threads);
    }

    // Queued deliveries to one thread wait behind one Qt event of that thread; when the first
    // handler's context dies first, the others' deliveries still arrive.
    void otherContextsSurviveTheDeathOfTheFirst()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        QObject *second = nullptr;
        worker.run([&] { second = new QObject; });
        std::atomic<int> firstCalls{0};
        std::atomic<int> secondCalls{0};
        std::atomic<int> secondLast{0};
        registry.add(worker.context, [&firstCalls] { firstCalls.fetch_add(1); },
                     {.priority = 5, .connection = Qt::QueuedConnection});
        registry.add(second,
                     [&](const int &v) {
                         secondCalls.fetch_add(1);
                         secondLast.store(v);
                     },
                     {.priority = 1, .connection = Qt::QueuedConnection});
        QObject *first = worker.takeContext();
        auto gate = std::make_shared<std::latch>(1);
        {
            [[maybe_unused]] const rio::detail::TsanPostScope posting;
            QMetaObject::invokeMethod(worker.runner, rio::detail::Handover([gate, first] {
                                          gate->wait();
                                          delete first;
                                      }));
        }
        for (int i = 1; i <= 3; ++i)
            registry.notify(i);
        gate->count_down();
        worker.flush();
        QTRY_COMPARE(secondCalls.load(), 3);
        QCOMPARE(secondLast.load(), 3);
        QCOMPARE(firstCalls.load(), 0);
        worker.run([second] { delete second; });
    }

    // Notifies race with the context's destruction on its thread: no crash, no late call.
    void contextDestroyedWhileNotifying()
    {
        const int rounds = RIO_TEST_SANITIZED ? 20 : 100;
        for (int round = 0; round < rounds; ++round) {
            riotest::Worker worker;
            rio::QtRegistry<int> registry;
            std::atomic<bool> dead{false};
            std::atomic<int> lateCalls{0};
            registry.add(worker.context, [&] { lateCalls.fetch_add(dead.load() ? 1 : 0); });
            registry.add(worker.context, [&] { lateCalls.fetch_add(dead.load() ? 1 : 0); },
                         {.delivery = rio::Delivery::Latest});
            std::atomic<bool> stop{false};
            std::thread notifier([&] {
                for (int i = 0; !stop.load(); ++i)
                    registry.notify(i);
            });
            QObject *context = worker.takeContext();
            worker.run([&] {
                delete context;
                dead.store(true);
            });
            stop.store(true);
            notifier.join();
            worker.flush();
            QCOMPARE(lateCalls.load(), 0);
            QCOMPARE(registry.count(), 0);
        }
    }

    void removalWithDeliveriesPending()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        std::atomic<int> calls{0};
        const rio::HandlerId every = registry.add(worker.context, [&calls] { calls.fetch_add(1); });
        const rio::HandlerId latest = registry.add(worker.context, [&calls] { calls.fetch_add(1); },
                                                   {.delivery = rio::Delivery::Latest});
        rio::HandlerGuard guard = registry.addScoped(worker.context, [&calls] { calls.fetch_add(1); });
        auto gate = worker.block();
        for (int i = 0; i < 50; ++i)
            registry.notify(i);
        QVERIFY(registry.remove(every));
        QVERIFY(registry.remove(latest));
        QVERIFY(guard.reset());
        gate->count_down();
        worker.flush();
        QCOMPARE(calls.load(), 0);
    }

    // A removed handler's context may die before its queued delivery is drained: the delivery
    // is dropped without touching the dead context.
    void removedHandlersContextDiesBeforeTheDrain()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        QObject *doomed = nullptr;
        worker.run([&] { doomed = new QObject; });
        std::atomic<int> kept{0};
        std::atomic<int> removed{0};
        registry.add(worker.context, [&kept] { kept.fetch_add(1); }, {.priority = 5});
        const rio::HandlerId id = registry.add(doomed, [&removed] { removed.fetch_add(1); }, {.priority = 1});
        auto gate = std::make_shared<std::latch>(1);
        {
            [[maybe_unused]] const rio::detail::TsanPostScope posting;
            QMetaObject::invokeMethod(worker.runner, rio::detail::Handover([gate, doomed] {
                                          gate->wait();
                                          delete doomed; // after remove(): the registry no longer watches it
                                      }));
        }
        registry.notify(1);
        QVERIFY(registry.remove(id));
        gate->count_down();
        worker.flush();
        QTRY_COMPARE(kept.load(), 1);
        QCOMPARE(removed.load(), 0);
    }

    // removeAndWait returns only once a delivery running on the context's thread finished.
    void removeAndWaitWaitsForRunningDelivery()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        std::latch entered(1);
        std::latch release(1);
        std::atomic<bool> finished{false};
        const rio::HandlerId id = registry.add(worker.context, [&] {
            entered.count_down();
            release.wait();
            for (int i = 0; i < 1000; ++i) // widen the window in which a broken wait returns early
                std::this_thread::yield();
            finished.store(true);
        });
        registry.notify(1);
        entered.wait();
        std::latch removing(1);
        std::atomic<bool> finishedWhenRemoved{false};
        std::atomic<bool> removedOk{false};
        std::thread remover([&] {
            removing.count_down();
            removedOk.store(registry.removeAndWait(id));
            finishedWhenRemoved.store(finished.load());
        });
        removing.wait();
        release.count_down();
        remover.join();
        QVERIFY(removedOk.load());
        QVERIFY(finishedWhenRemoved.load());
    }

    void removeAndWaitOfARemovedIdDoesNotWaitForItsRunningDelivery_data()
    {
        QTest::addColumn<bool>("clearing");
        QTest::newRow("removed") << false;
        QTest::newRow("cleared") << true;
    }

    // A limit: once remove() or clear() took the handler, removeAndWait of its id finds nothing
    // to wait for, and returns false while a queued delivery of it still runs.
    void removeAndWaitOfARemovedIdDoesNotWaitForItsRunningDelivery()
    {
        QFETCH(bool, clearing);
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        std::latch entered(1);
        std::latch release(1);
        std::atomic<bool> finished{false};
        const rio::HandlerId id = registry.add(worker.context, [&] {
            entered.count_down();
            release.wait();
            finished.store(true);
        });
        registry.notify(1);
        entered.wait();
        bool removed = true;
        if (clearing)
            registry.clear();
        else
            removed = registry.remove(id);
        const bool removedAgain = registry.removeAndWait(id); // the delivery waits for `release`
        const bool finishedWhenReturned = finished.load();
        release.count_down();
        worker.flush();
        QVERIFY(removed);
        QVERIFY(!removedAgain);
        QVERIFY(!finishedWhenReturned);
        QVERIFY(finished.load());
    }

    void priorityOrderAmongQueuedHandlers()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        QObject *second = nullptr;
        worker.run([&] { second = new QObject; });
        std::mutex mutex;
        std::vector<int> order;
        auto record = [&](int tag) {
            return [&, tag](const int &event) {
                std::lock_guard lock(mutex);
                order.push_back(event * 100 + tag);
            };
        };
        registry.add(worker.context, record(1), {.priority = 1, .connection = Qt::QueuedConnection});
        registry.add(second, record(5), {.priority = 5, .connection = Qt::QueuedConnection});
        registry.add(worker.context, record(3), {.priority = 3, .connection = Qt::QueuedConnection});
        registry.add(
            second, record(4),
            {.priority = 3, .connection = Qt::QueuedConnection}); // equal priority: registration order
        registry.add(worker.context, record(9), {.priority = 9, .connection = Qt::AutoConnection});
        auto gate = worker.block();
        registry.notify(1);
        registry.notify(2);
        gate->count_down();
        worker.flush();
        std::lock_guard lock(mutex);
        QCOMPARE(order, (std::vector<int>{109, 105, 103, 104, 101, 209, 205, 203, 204, 201}));
        worker.run([second] { delete second; });
    }

    // Two notifiers race, each held by a direct handler between queuing into two queued handlers:
    // notifier 1 takes its place in the delivery order (at the first queued handler, q300) and
    // is held; notifier 2 queues its event into q300 and q100 and is held before q0; notifier 1
    // then queues into q100, behind 2's delivery, and into q0. Drained now, every event still
    // reaches its handlers in priority order, and each handler gets the events in the order
    // their notifies took their places (1 before 2).
    void priorityOrderHoldsWhenNotifiersRace()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        std::mutex mutex;
        std::vector<std::pair<int, int>> order; // (event, priority) as delivered
        auto record = [&](int priority) {
            return [&, priority](const int &event) {
                std::lock_guard lock(mutex);
                order.emplace_back(event, priority);
            };
        };
        // Holds the notifier of `event` until `release` counts down (`held`: it is there).
        auto holdFor = [](int event, std::latch &held, std::latch &release) {
            return [event, &held, &release](const int &v) {
                if (v != event)
                    return;
                held.count_down();
                release.wait();
            };
        };
        std::latch firstHeld(1);
        std::latch releaseFirst(1);
        std::latch secondHeld(1);
        std::latch releaseSecond(1);
        registry.add(worker.context, record(300), {.priority = 300, .connection = Qt::QueuedConnection});
        registry.add(worker.context, holdFor(1, firstHeld, releaseFirst),
                     {.priority = 200, .connection = Qt::DirectConnection});
        registry.add(worker.context, record(100), {.priority = 100, .connection = Qt::QueuedConnection});
        registry.add(worker.context, holdFor(2, secondHeld, releaseSecond),
                     {.priority = 50, .connection = Qt::DirectConnection});
        registry.add(worker.context, record(0), {.priority = 0, .connection = Qt::QueuedConnection});

        auto gate = worker.block(); // nothing is drained until both have queued what they will
        std::thread first([&] { registry.notify(1); });
        firstHeld.wait(); // 1 is queued into q300 only
        std::thread second([&] { registry.notify(2); });
        secondHeld.wait(); // 2 is queued into q300 and q100
        releaseFirst.count_down();
        first.join(); // 1 is queued into q100 and q0
        gate->count_down();
        worker.flush(); // drains what waits: 1 everywhere, 2 in q300 and q100
        releaseSecond.count_down();
        second.join();
        worker.flush();

        std::lock_guard lock(mutex);
        QCOMPARE(order.size(), std::size_t{6});
        std::map<int, std::vector<int>> priorities; // event -> its handlers' priorities, as run
        std::map<int, std::vector<int>> events;     // priority -> the events it got, as run
        for (const auto &[event, priority] : order) {
            priorities[event].push_back(priority);
            events[priority].push_back(event);
        }
        for (const int event : {1, 2})
            QCOMPARE(priorities[event], (std::vector<int>{300, 100, 0}));
        for (const int priority : {300, 100, 0})
            QCOMPARE(events[priority], (std::vector<int>{1, 2}));
    }

    // A late notifier takes its place in the order (at a queued handler on another thread), then
    // is held by a direct handler before it queues to the receiver; notify 2 queues there and a
    // Qt event is posted after it returns. The receiver's drain takes 0 and 2; its delivery of 0
    // lets the late notifier queue 1, ahead of 2. The drain still delivers 2 before the event:
    // it delivers up to the newest notify waiting when it began, the late 1 included.
    void aDeliveryRunsBeforeAnEventPostedAfterItsNotifyDespiteALateNotifier()
    {
        riotest::Worker receiver;
        riotest::Worker other;
        rio::QtRegistry<int> registry;
        std::vector<int> seen; // on the receiver's thread; -1 is the event
        std::latch lateHeld(1);
        std::latch releaseLate(1);
        std::latch lateQueued(1);
        registry.add(other.context, [](const int &) { },
                     {.priority = 10, .connection = Qt::QueuedConnection});
        registry.add(
            [&](const int &v) {
                if (v != 1)
                    return;
                lateHeld.count_down();
                releaseLate.wait();
            },
            5);
        registry.add(receiver.context,
                     [&](const int &v) {
                         seen.push_back(v);
                         if (v != 0)
                             return;
                         releaseLate.count_down(); // the drain has taken 0 and 2
                         lateQueued.wait();
                     },
                     {.priority = 0, .connection = Qt::QueuedConnection});

        auto gate = receiver.block();
        registry.notify(0);
        std::thread late([&] {
            registry.notify(1);
            lateQueued.count_down();
        });
        lateHeld.wait(); // 1 has its place in the order, and nothing queued to the receiver
        registry.notify(2);
        {
            [[maybe_unused]] const rio::detail::TsanPostScope posting; // see detail/qt_tsan.h
            QMetaObject::invokeMethod(receiver.runner,
                                      rio::detail::Handover([&seen] { seen.push_back(-1); }));
        }
        gate->count_down();
        late.join();
        receiver.flush();
        QCOMPARE(seen, (std::vector<int>{0, 1, 2, -1}));
    }

    void oneSharedCopyPerNotify()
    {
        riotest::Worker worker;
        rio::QtRegistry<Counted> registry;
        std::mutex mutex;
        std::vector<const Counted *> addresses;
        for (int i = 0; i < 5; ++i) {
            registry.add(worker.context, [&](const Counted &event) {
                std::lock_guard lock(mutex);
                addresses.push_back(&event);
            });
        }
        Counted::copies.store(0);
        registry.notify(Counted(1));
        worker.flush();
        QCOMPARE(Counted::copies.load(), 1);
        std::lock_guard lock(mutex);
        QCOMPARE(addresses.size(), std::size_t{5});
        for (const Counted *address : addresses)
            QCOMPARE(address, addresses.front());
    }

    void queuedOnceRunsOnceOnContextThread()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        Seen seen;
        registry.add(worker.context, seen.recorder(), {.once = true});
        registry.notify(1);
        registry.notify(2);
        QCOMPARE(registry.count(), 0);
        worker.flush();
        QCOMPARE(seen.calls.load(), 1);
        QCOMPARE(seen.value.load(), 1);
        QCOMPARE(seen.thread.load(), worker.thread());
    }

    // A context moved to another thread takes its handler's deliveries with it.
    void contextMovedToAnotherThread()
    {
#if defined(RIO_TSAN)
        // moveToThread hands Qt-internal allocations between threads through Qt's own
        // (uninstrumented) locking; TSan would report those, not our code.
        QSKIP("Qt-internal handover in moveToThread is invisible to ThreadSanitizer");
#endif
        riotest::Worker first;
        riotest::Worker second;
        rio::QtRegistry<int> registry;
        Seen seen;
        registry.add(first.context, seen.recorder());
        QObject *context = first.takeContext();
        first.run([&] { context->moveToThread(second.thread()); });
        registry.notify(5);
        second.flush();
        QTRY_COMPARE(seen.calls.load(), 1);
        QCOMPARE(seen.thread.load(), second.thread());
        second.run([context] { delete context; });
        QCOMPARE(registry.count(), 0);
    }

    // A drain request belongs to no receiver: a long-lived handler gets its delivery when nine
    // other receivers on its thread (list delegates, say) die before the loop drains, each
    // with a delivery of its own waiting, and each of those is counted as dropped.
    void liveHandlerKeepsItsDeliveryWhenOtherReceiversDie()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        std::mutex dropMutex;
        std::map<quint64, quint64> drops; // handler id -> last total reported
        QObject::connect(
            &registry, &rio::QtRegistryBase::deliveriesDropped, &registry,
            [&](rio::HandlerId id, quint64 total) {
                std::lock_guard lock(dropMutex);
                drops[id.value()] = total;
            },
            Qt::DirectConnection);
        Seen kept;
        const rio::HandlerId keptId =
            registry.add(worker.context, kept.recorder(), {.connection = Qt::QueuedConnection});
        std::vector<QObject *> delegates(9);
        std::vector<rio::HandlerId> delegateIds;
        worker.run([&] {
            for (QObject *&d : delegates)
                d = new QObject;
        });
        std::atomic<int> delegateCalls{0};
        for (QObject *d : delegates) // higher priority: listed first, so a drain would go through them
            delegateIds.push_back(registry.add(d, [&delegateCalls] { delegateCalls.fetch_add(1); },
                                               {.priority = 10, .connection = Qt::QueuedConnection}));
        auto gate = std::make_shared<std::latch>(1);
        {
            [[maybe_unused]] const rio::detail::TsanPostScope posting;
            QMetaObject::invokeMethod(worker.runner, rio::detail::Handover([gate, delegates] {
                                          gate->wait();
                                          for (QObject *d : delegates)
                                              delete d;
                                      }));
        }
        registry.notify(7);
        gate->count_down();
        worker.flush();
        QTRY_COMPARE(kept.calls.load(), 1);
        QCOMPARE(kept.value.load(), 7);
        QCOMPARE(kept.thread.load(), worker.thread());
        QCOMPARE(delegateCalls.load(), 0);
        QCOMPARE(registry.count(), 1);
        QCOMPARE(registry.droppedCount(keptId), quint64{0});
        std::lock_guard lock(dropMutex);
        for (const rio::HandlerId id : delegateIds)
            QCOMPARE(drops[id.value()], quint64{1});
        QVERIFY(!drops.contains(keptId.value()));
    }

    // Deliveries waiting when their handler is removed are counted as dropped and reported.
    void removalCountsTheDeliveriesItDrops()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        QSignalSpy spy(&registry, &rio::QtRegistryBase::deliveriesDropped);
        riotest::LogCapture log;
        const rio::HandlerId every = registry.add(worker.context, [] { });
        const rio::HandlerId latest =
            registry.add(worker.context, [] { }, {.delivery = rio::Delivery::Latest});
        auto gate = worker.block();
        for (int i = 0; i < 5; ++i)
            registry.notify(i);
        QCOMPARE(registry.droppedCount(every), quint64{0});
        QVERIFY(registry.remove(every));
        QVERIFY(registry.remove(latest));
        gate->count_down();
        worker.flush();
        QCOMPARE(spy.count(), 2); // emitted by remove(), on this thread
        QCOMPARE(spy.at(0).at(0).value<rio::HandlerId>(), every);
        QCOMPARE(spy.at(0).at(1).value<quint64>(), quint64{5});
        QCOMPARE(spy.at(1).at(0).value<rio::HandlerId>(), latest);
        QCOMPARE(spy.at(1).at(1).value<quint64>(), quint64{1});
        QVERIFY2(
            log.messages().join(QLatin1Char('\n')).contains(QLatin1String("removed with deliveries waiting")),
            qPrintable(log.messages().join(QLatin1Char('\n'))));
    }

    // A Latest delivery waiting for its interval runs where its context lives when the wait
    // ends: after a moveToThread, on the new thread, not on the thread that armed the wait. The
    // interval (3 s) outlasts the steps before the move on a loaded machine.
    void intervalWaitFollowsItsContextToAnotherThread()
    {
#if defined(RIO_TSAN)
        QSKIP("Qt-internal handover in moveToThread is invisible to ThreadSanitizer");
#endif
        riotest::Worker first;
        riotest::Worker second;
        rio::QtRegistry<int> registry;
        QObject *context = nullptr;
        first.run([&] { context = new QObject; });
        Seen seen;
        registry.add(context, seen.recorder(),
                     {.delivery = rio::Delivery::Latest, .minInterval = std::chrono::seconds(3)});
        registry.notify(1);
        QTRY_COMPARE(seen.calls.load(), 1); // the first delivery starts the interval
        registry.notify(2);
        first.flush(); // the delivery ran on `first` and armed the wait there
        QCOMPARE(seen.calls.load(), 1);
        first.run([&] { context->moveToThread(second.thread()); });
        QTRY_COMPARE_WITH_TIMEOUT(seen.calls.load(), 2, 10000);
        QCOMPARE(seen.thread.load(), second.thread());
        QCOMPARE(seen.value.load(), 2);
        second.run([context] { delete context; });
    }

    // The same wait when the thread that armed it ends first: the delivery is not lost, it runs
    // on the context's new thread, and later notifies are delivered too.
    void intervalWaitSurvivesTheEndOfItsThread()
    {
#if defined(RIO_TSAN)
        QSKIP("Qt-internal handover in moveToThread is invisible to ThreadSanitizer");
#endif
        riotest::Worker second;
        auto first = std::make_unique<riotest::Worker>();
        rio::QtRegistry<int> registry;
        QObject *context = nullptr;
        first->run([&] { context = new QObject; });
        Seen seen;
        registry.add(context, seen.recorder(),
                     {.delivery = rio::Delivery::Latest, .minInterval = std::chrono::seconds(3)});
        registry.notify(1);
        QTRY_COMPARE(seen.calls.load(), 1);
        registry.notify(2);
        first->flush();
        first->run([&] { context->moveToThread(second.thread()); });
        first.reset(); // the thread that armed the wait ends before it is over
        QTRY_COMPARE_WITH_TIMEOUT(seen.calls.load(), 2, 10000);
        QCOMPARE(seen.thread.load(), second.thread());
        QCOMPARE(seen.value.load(), 2);
        registry.notify(3);
        QTRY_COMPARE_WITH_TIMEOUT(seen.calls.load(), 3, 10000);
        QCOMPARE(seen.value.load(), 3);
        QCOMPARE(seen.thread.load(), second.thread());
        second.run([context] { delete context; });
    }

    // The deliveries waiting when their registry is destroyed never run, and each is counted:
    // the registry emits nothing any more, so the `registryio` log gives every handler's total.
    void registryDestroyedWithDeliveriesPending()
    {
        riotest::Worker worker;
        riotest::LogCapture log;
        std::atomic<int> calls{0};
        auto gate = worker.block();
        rio::HandlerId every;
        rio::HandlerId latest;
        {
            rio::QtRegistry<int> registry;
            every = registry.add(worker.context, [&calls] { calls.fetch_add(1); });
            latest = registry.add(worker.context, [&calls] { calls.fetch_add(1); },
                                  {.delivery = rio::Delivery::Latest});
            registry.notify(1);
            registry.notify(2);
        }
        gate->count_down();
        worker.flush();
        QCOMPARE(calls.load(), 0);
        const QStringList messages = log.messages();
        const QString all = messages.join(QLatin1Char('\n'));
        const auto logged = [&messages](rio::HandlerId id, int total) {
            return messages.indexOf(QRegularExpression(
                       QStringLiteral(
                           "^handler %1 of a destroyed registry, added at .*tst_qt_delivery\\.cpp:\\d+: "
                           "%2 queued deliveries dropped so far "
                           "\\(it was removed with deliveries waiting\\)$")
                           .arg(id.value())
                           .arg(total))) >= 0;
        };
        QVERIFY2(logged(every, 2), qPrintable(all));
        QVERIFY2(logged(latest, 1), qPrintable(all));
    }
};

QTEST_GUILESS_MAIN(tst_QtDelivery)
#include "tst_qt_delivery.moc"
