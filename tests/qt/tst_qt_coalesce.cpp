// Coalesced delivery: a worker floods a blocked receiving thread; at most one delivery per
// coalesced handler is pending, the last value arrives, and memory stays flat.
#include "qt_test_support.h"

#include <registryio/qt_registry.h>

#include <QTest>

#include <atomic>
#include <thread>

namespace {

// One million as the issue asks; scaled down under the sanitizers, which are 10x slower and
// (ASan's quarantine) keep freed memory resident.
constexpr int floodSize = RIO_TEST_SANITIZED ? 100000 : 1000000;

struct Progress
{
    int done = 0;
    int total = 0;
    QString label;
};

} // namespace

class TstQtCoalesce : public QObject
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
            registry.add(
                receiver.context,
                [&, h](const Progress &p) {
                    calls[h].fetch_add(1);
                    last[h].store(p.done);
                    total.store(p.total);
                },
                h, rio::Delivery::Latest);
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
        registry.add(
            receiver.context,
            [&](const int &v) {
                calls.fetch_add(1);
                last.store(v);
            },
            0, Qt::QueuedConnection, rio::Delivery::Latest);
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
        registry.add(
            receiver.context,
            [&](const int &v) {
                calls.fetch_add(1);
                last.store(v);
            },
            0, rio::Delivery::Latest);
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
};

QTEST_GUILESS_MAIN(TstQtCoalesce)
#include "tst_qt_coalesce.moc"
