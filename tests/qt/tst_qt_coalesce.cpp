// SPDX-License-Identifier: MIT
// Coalesced delivery: a worker floods a blocked receiving thread; at most one delivery per
// coalesced handler is pending, the last value arrives, and memory stays flat.
#include "qt_test_support.h"

#include <registryio/qt/qt_registry.h>

#include <QCoreApplication>
#include <QTest>
#include <QTimer>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace {

// One million events, a flood no receiver keeps up with; scaled down under the sanitizers,
// which are 10x slower and (ASan's quarantine) keep freed memory resident.
constexpr int floodSize = RIO_TEST_SANITIZED ? 100000 : 1000000;

struct Progress
{
    int done = 0;
    int total = 0;
    QString label;
};

} // namespace

class tst_QtCoalesce : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void floodLeavesOnePendingDeliveryAndDeliversTheLast()
    {
        riotest::Worker receiver;
        rio::QtRegistry<Progress> registry;
        std::atomic<int> calls[2] = {0, 0};
        std::atomic<int> last[2] = {-1, -1};
        std::atomic<int> total{0};
        for (int h = 0; h < 2; ++h) {
            registry.add(receiver.context,
                         [&, h](const Progress &p) {
                             calls[h].fetch_add(1);
                             last[h].store(p.done);
                             total.store(p.total);
                         },
                         {.priority = h, .delivery = rio::Delivery::Latest});
        }

        auto gate = receiver.block(); // the receiving thread is busy for the whole flood
        const long rssBefore = riotest::residentKiB();
        std::thread worker([&registry] {
            const QString label = QStringLiteral("copying files, a label long enough to be heap-allocated");
            for (int i = 1; i <= floodSize; ++i)
                registry.notify(Progress{i, floodSize, label});
        });
        worker.join();
        const long rssAfter = riotest::residentKiB();
        QCOMPARE(calls[0].load(), 0);
        gate->count_down();
        receiver.flush();

        // Exactly one delivery was pending per coalesced handler, and it carried the last event.
        for (int h = 0; h < 2; ++h) {
            QCOMPARE(calls[h].load(), 1);
            QCOMPARE(last[h].load(), floodSize);
        }
        QCOMPARE(total.load(), floodSize);

        // A queued signal per event would hold ~100 MB here; coalescing holds one payload.
        const long growthKiB = rssAfter - rssBefore;
        qInfo("RSS before %ld KiB, after %d notifies %ld KiB (growth %ld KiB)", rssBefore, floodSize,
              rssAfter, growthKiB);
        QVERIFY(rssBefore > 0 && rssAfter > 0);
#if !RIO_TEST_SANITIZED
        QVERIFY2(growthKiB < 8 * 1024, qPrintable(QStringLiteral("RSS grew by %1 KiB").arg(growthKiB)));
#endif
    }

    // Deliveries resume after each drain: every burst delivers its own last value.
    void burstsEachDeliverTheirLastEvent()
    {
        riotest::Worker receiver;
        rio::QtRegistry<int> registry;
        std::atomic<int> calls{0};
        std::atomic<int> last{0};
        registry.add(receiver.context,
                     [&](const int &v) {
                         calls.fetch_add(1);
                         last.store(v);
                     },
                     {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
        for (int burst = 1; burst <= 10; ++burst) {
            auto gate = receiver.block();
            for (int i = 0; i < 1000; ++i)
                registry.notify(burst * 1000 + i);
            gate->count_down();
            receiver.flush();
            QCOMPARE(calls.load(), burst);
            QCOMPARE(last.load(), burst * 1000 + 999);
        }
    }

    // Concurrent notifiers with a running receiver: the last event of the last notifier to
    // finish is always seen, and nothing is delivered twice for one notify.
    void concurrentNotifiersWithRunningReceiver()
    {
        riotest::Worker receiver;
        rio::QtRegistry<int> registry;
        std::atomic<int> calls{0};
        std::atomic<int> last{-1};
        registry.add(receiver.context,
                     [&](const int &v) {
                         calls.fetch_add(1);
                         last.store(v);
                     },
                     {.delivery = rio::Delivery::Latest});
        const int perThread = RIO_TEST_SANITIZED ? 5000 : 50000;
        std::thread a([&] {
            for (int i = 0; i < perThread; ++i)
                registry.notify(i);
        });
        std::thread b([&] {
            for (int i = 0; i < perThread; ++i)
                registry.notify(i);
        });
        a.join();
        b.join();
        registry.notify(-7); // the final event
        receiver.flush();
        QCOMPARE(last.load(), -7);
        QVERIFY(calls.load() <= 2 * perThread + 1);
    }

    // On the receiver's own thread: Queued + Latest coalesces a flood into one delivery on the
    // next event-loop turn (Auto would run each notify directly).
    void sameThreadQueuedLatestCoalesces()
    {
        QObject context;
        rio::QtRegistry<int> registry;
        int calls = 0;
        int last = -1;
        registry.add(&context,
                     [&](const int &v) {
                         ++calls;
                         last = v;
                     },
                     {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
        for (int i = 0; i < 1000; ++i)
            registry.notify(i);
        QCOMPARE(calls, 0); // nothing runs inside notify
        QCoreApplication::sendPostedEvents(&context);
        QCOMPARE(calls, 1);
        QCOMPARE(last, 999);
        QCoreApplication::sendPostedEvents(&context);
        QCOMPARE(calls, 1); // no second delivery for the same flood
    }

    // A minimum interval spaces the deliveries of one handler; the newest event of each burst
    // is delivered, once. On the receiver's own thread and across threads.
    void minIntervalSpacesDeliveries_data()
    {
        QTest::addColumn<bool>("crossThread");
        QTest::newRow("same thread") << false;
        QTest::newRow("cross thread") << true;
    }
    void minIntervalSpacesDeliveries()
    {
        QFETCH(bool, crossThread);
        constexpr auto interval = std::chrono::milliseconds(50);
        // The handler stamps its start, a little after the decision to deliver: a thread
        // preempted between the two on a loaded machine shortens one measured gap a little.
        // Without the interval the gaps would be microseconds.
        constexpr auto tolerance = std::chrono::milliseconds(20);
        std::optional<riotest::Worker> worker;
        QObject local;
        QObject *context = &local;
        if (crossThread) {
            worker.emplace();
            context = worker->context;
        }
        rio::QtRegistry<int> registry;
        std::mutex mutex;
        std::vector<std::pair<int, std::chrono::steady_clock::time_point>> seen;
        rio::HandlerOptions options{.connection = Qt::QueuedConnection};
        options.delivery = rio::Delivery::Latest;
        options.minInterval = interval;
        registry.add(
            context,
            [&](const int &v) {
                std::lock_guard lock(mutex);
                seen.emplace_back(v, std::chrono::steady_clock::now());
            },
            options);
        const auto lastSeen = [&] {
            std::lock_guard lock(mutex);
            return seen.empty() ? -1 : seen.back().first;
        };
        constexpr int bursts = 5;
        for (int b = 0; b < bursts; ++b) {
            for (int i = 0; i < 500; ++i)
                registry.notify(b * 1000 + i);
            QTRY_COMPARE_WITH_TIMEOUT(lastSeen(), b * 1000 + 499, 10000);
        }
        std::lock_guard lock(mutex);
        // One delivery per burst, its newest event (across threads the receiver may also take one
        // while the burst is under way), in order.
        if (crossThread)
            QVERIFY(int(seen.size()) >= bursts && int(seen.size()) <= 2 * bursts);
        else
            QCOMPARE(int(seen.size()), bursts);
        for (std::size_t i = 1; i < seen.size(); ++i)
            QVERIFY(seen[i].first > seen[i - 1].first);
        for (std::size_t i = 1; i < seen.size(); ++i)
            QVERIFY2(seen[i].second - seen[i - 1].second >= interval - tolerance,
                     qPrintable(QStringLiteral("deliveries %1 and %2 only %3 us apart")
                                    .arg(i - 1)
                                    .arg(i)
                                    .arg(std::chrono::duration_cast<std::chrono::microseconds>(
                                             seen[i].second - seen[i - 1].second)
                                             .count())));
    }

    // A handler removed while its delayed delivery waits for the interval never runs.
    // Auto, notified on the context's own thread: a Latest handler runs directly when nothing of
    // it is scheduled, but one with a minimum interval is posted, so even same-thread notifies get
    // at most one delivery per interval (the newest when it ends).
    void sameThreadAutoNotifiesKeepToTheMinimumInterval()
    {
        QObject context;
        rio::QtRegistry<int> registry;
        std::vector<int> received;
        rio::HandlerOptions options;
        options.delivery = rio::Delivery::Latest;
        options.minInterval = std::chrono::minutes(10); // never ends within the test
        const rio::HandlerId id =
            registry.add(&context, [&](const int &v) { received.push_back(v); }, options);
        registry.notify(1);
        QVERIFY(received.empty()); // posted, not run inside notify
        QCoreApplication::sendPostedEvents(&context);
        QCOMPARE(received, std::vector<int>{1}); // the first delivery has no interval before it
        registry.notify(2);
        registry.notify(3);
        QCoreApplication::sendPostedEvents(&context);
        QCOMPARE(received, std::vector<int>{1}); // 2 and 3 wait for the interval's end
        QVERIFY(registry.remove(id));
    }

    void minIntervalDelayedDeliveryOfARemovedHandlerNeverRuns()
    {
        QObject context;
        rio::QtRegistry<int> registry;
        int calls = 0;
        rio::HandlerOptions options{.connection = Qt::QueuedConnection};
        options.delivery = rio::Delivery::Latest;
        options.minInterval = std::chrono::milliseconds(20);
        const rio::HandlerId id = registry.add(&context, [&calls] { ++calls; }, options);
        registry.notify(1);
        QTRY_COMPARE(calls, 1);
        registry.notify(2); // waits for the interval
        QCoreApplication::sendPostedEvents(&context);
        const int before = calls;
        QVERIFY(registry.remove(id));
        int ticks = 0;
        QTimer::singleShot(100, &context, [&ticks] { ++ticks; }); // well past the interval
        QTRY_COMPARE(ticks, 1);
        QCOMPARE(calls, before);
    }
};

QTEST_GUILESS_MAIN(tst_QtCoalesce)
#include "tst_qt_coalesce.moc"
