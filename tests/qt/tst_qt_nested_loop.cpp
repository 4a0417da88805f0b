// SPDX-License-Identifier: MIT
// Nested event loops inside deliveries (a modal dialog, QEventLoop::exec) while another thread
// notifies and a third adds and removes handlers: deliveries stay complete and in order,
// nothing deadlocks, and the registry's pending garbage stays bounded.
#include "qt_test_support.h"

#include <registryio/detail/registry_core.h>
#include <registryio/qt/qt_registry.h>

#include <QCoreApplication>
#include <QEventLoop>
#include <QRegularExpression>
#include <QTest>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <future>
#include <latch>
#include <thread>
#include <utility>
#include <vector>

namespace {

constexpr int events = RIO_TEST_SANITIZED ? 2000 : 20000;
constexpr int churn = RIO_TEST_SANITIZED ? 2000 : 20000;

std::vector<int> iota(int n)
{
    std::vector<int> v(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
        v[static_cast<std::size_t>(i)] = i;
    return v;
}

} // namespace

class tst_QtNestedLoop : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // Every 1000th event, handler A runs a nested loop that returns only once handler B (same
    // thread, later in the same mailbox) has received a later event: the nested loop must go
    // on delivering. A and B each see every event once, in order; the garbage stays bounded.
    void nestedLoopsWhileNotifyingAndChurning()
    {
        rio::QtRegistry<int> registry;
        QObject contextA;
        QObject contextB;
        std::vector<int> seenA;
        std::vector<int> seenB;
        int nested = 0;
        int nestedTimeouts = 0;
        registry.add(&contextA,
                     [&](const int &v) {
                         seenA.push_back(v);
                         if (v % 1000 != 999 || v + 1 >= events)
                             return;
                         ++nested;
                         // The modal loop waits for B to see an event after v (sent by the notifier,
                         // which does not wait for us), and gives up after 20 s (then the test fails).
                         QEventLoop loop;
                         QTimer poll;
                         QObject::connect(&poll, &QTimer::timeout, &loop, [&] {
                             if (!seenB.empty() && seenB.back() > v)
                                 loop.quit();
                         });
                         poll.start(1);
                         QTimer::singleShot(20000, &loop, [&] {
                             ++nestedTimeouts;
                             loop.quit();
                         });
                         loop.exec();
                     },
                     {.connection = Qt::QueuedConnection});
        registry.add(&contextB, [&](const int &v) { seenB.push_back(v); },
                     {.connection = Qt::QueuedConnection});

        std::size_t peakPending = 0;
        std::atomic<bool> churnDone{false};
        std::latch start(2);
        auto notifier = std::async(std::launch::async, [&] {
            start.arrive_and_wait();
            for (int i = 0; i < events; ++i)
                registry.notify(i);
        });
        auto churner = std::async(std::launch::async, [&] {
            start.arrive_and_wait();
            std::size_t peak = 0;
            for (int i = 0; i < churn; ++i) {
                const rio::HandlerId id =
                    registry.add(&contextB, [](const int &) { }, {.connection = Qt::QueuedConnection});
                registry.remove(id);
                peak = std::max(peak, rio::detail::pendingCountAll());
            }
            churnDone.store(true);
            return peak;
        });
        QTRY_VERIFY_WITH_TIMEOUT(seenA.size() == std::size_t(events) && seenB.size() == std::size_t(events),
                                 60000);
        QCOMPARE(notifier.wait_for(std::chrono::seconds(60)), std::future_status::ready);
        QCOMPARE(churner.wait_for(std::chrono::seconds(60)), std::future_status::ready);
        peakPending = churner.get();
        QVERIFY(churnDone.load());
        QCOMPARE(nestedTimeouts, 0);
        QCOMPARE(nested, events / 1000 - 1);
        QCOMPARE(seenA, iota(events));
        QCOMPARE(seenB, iota(events));
        // Churned handlers are retired and reclaimed as the writer goes: what waits at any
        // time is a small constant, not a share of the run (a nested loop holds no read section).
        QVERIFY2(peakPending <= 4 * rio::detail::passBatch, qPrintable(QString::number(peakPending)));
    }

    // A nested loop inside a delivery of the *same* handler: the nested loop delivers the
    // handler's later events (as Qt's queued connections do), each once and in order.
    void nestedLoopReentersTheSameHandlerInOrder()
    {
        rio::QtRegistry<int> registry;
        QObject context;
        std::vector<int> seen;
        bool inLoop = false;
        int enteredInLoop = 0;
        registry.add(&context,
                     [&](const int &v) {
                         seen.push_back(v);
                         if (inLoop)
                             ++enteredInLoop;
                         if (v == 10) {
                             inLoop = true;
                             QEventLoop loop;
                             QTimer poll;
                             QObject::connect(&poll, &QTimer::timeout, &loop, [&] {
                                 if (seen.back() >= 99)
                                     loop.quit();
                             });
                             poll.start(1);
                             QTimer::singleShot(20000, &loop, &QEventLoop::quit);
                             loop.exec();
                             inLoop = false;
                         }
                     },
                     {.connection = Qt::QueuedConnection});
        for (int i = 0; i < 100; ++i)
            registry.notify(i);
        QTRY_COMPARE(seen.size(), std::size_t{100});
        QCOMPARE(seen, iota(100));
        QCOMPARE(enteredInLoop, 89);
    }

    // A worker queues three notifies to three handlers here, the middle one bounded to one
    // waiting delivery: the drain reports its drops before it delivers, and a slot of
    // deliveriesDropped (user code, on this thread) runs a nested event loop (an "events
    // dropped" dialog) that drains the same mailbox. The outer drain then goes on with what that
    // loop left (nothing): every delivery kept runs once, in notify order, then priority order.
    void nestedLoopInADropReport()
    {
        rio::QtRegistry<int> registry;
        QObject context;
        std::vector<int> seen; // notify * 10 + priority
        const auto record = [&seen](int priority) {
            return [&seen, priority](int v) { seen.push_back(v * 10 + priority); };
        };
        registry.add(&context, record(3), {.priority = 3});
        registry.add(&context, record(2), {.priority = 2, .capacity = 1});
        registry.add(&context, record(1), {.priority = 1});
        int reports = 0;
        std::size_t seenInLoop = 0;
        QObject::connect(
            &registry, &rio::QtRegistryBase::deliveriesDropped, &context,
            [&](rio::HandlerId, quint64) {
                // The worker's notify signals the first drop on its own thread.
                if (QThread::currentThread() != qApp->thread() || ++reports != 1)
                    return;
                QEventLoop loop; // one turn: the follow-up drain event is ahead of this one
                QTimer::singleShot(0, &loop, &QEventLoop::quit);
                loop.exec();
                seenInLoop = seen.size();
            },
            Qt::DirectConnection);
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression("queued deliveries dropped so far"));
        std::thread([&registry] {
            for (int i = 1; i <= 3; ++i)
                registry.notify(i);
        }).join();
        QTRY_COMPARE(seen.size(), std::size_t{7});
        QCOMPARE(seen, (std::vector<int>{13, 11, 23, 21, 33, 32, 31}));
        QCOMPARE(reports, 1);
        QCOMPARE(seenInLoop, std::size_t{7}); // the nested loop drained the box
    }

    // A drop reported just before a handler's waiting delivery: the report's slot runs a nested
    // loop that delivers it and the next one; the outer drain never runs it again nor after them.
    void aDropReportedBeforeADeliveryKeepsTheHandlersOrder()
    {
        rio::QtRegistry<int> registry;
        QObject context;
        std::vector<int> seen;
        bool burst = false;
        // Its first delivery has a worker notify three more: the handler below, two waiting
        // already, drops them while the drain holds its first two.
        registry.add(&context,
                     [&](int) {
                         if (std::exchange(burst, true))
                             return;
                         std::thread([&registry] {
                             for (int i = 3; i <= 5; ++i)
                                 registry.notify(i);
                         }).join();
                     },
                     {.priority = 2});
        const rio::HandlerId bounded =
            registry.add(&context, [&](int v) { seen.push_back(v); },
                         {.priority = 1, .capacity = 2, .overflow = rio::Overflow::DropNewest});
        int loops = 0;
        QObject::connect(
            &registry, &rio::QtRegistryBase::deliveriesDropped, &context,
            [&](rio::HandlerId, quint64) {
                if (QThread::currentThread() != qApp->thread() || loops++ != 0)
                    return;
                QEventLoop loop; // one turn of a nested loop, as an "events dropped" dialog
                QTimer::singleShot(0, &loop, &QEventLoop::quit);
                loop.exec();
            },
            Qt::DirectConnection);
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression("queued deliveries dropped so far"));
        std::thread([&registry] {
            registry.notify(1);
            registry.notify(2);
        }).join();
        QTRY_COMPARE(registry.droppedCount(bounded), quint64{3});
        QTRY_COMPARE(seen.size(), std::size_t{2});
        QCOMPARE(seen, (std::vector<int>{1, 2}));
        QCOMPARE(loops, 1);
    }
};

QTEST_GUILESS_MAIN(tst_QtNestedLoop)
#include "tst_qt_nested_loop.moc"
