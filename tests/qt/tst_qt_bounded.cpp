// SPDX-License-Identifier: MIT
// Bounded queued delivery: a producer flooding a stalled receiver for a fixed number of events
// keeps at most `capacity` deliveries waiting, each overflow policy drops what it says, drops are
// counted, signalled and logged, and nothing else changes (order, async notifies, removal).
#include "qt_test_support.h"

#include <registryio/qt/qt_registry.h>

#include <QEventLoop>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTest>
#include <QTimer>

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

// An event that counts its live instances (shared by the handlers of one notify while queued).
struct Tracked
{
    static inline std::atomic<long> live{0};
    static inline std::atomic<long> peak{0};
    int value = 0;
    explicit Tracked(int v) : value(v) { grow(); }
    Tracked(const Tracked &other) : value(other.value) { grow(); }
    Tracked &operator=(const Tracked &) = delete;
    ~Tracked() { live.fetch_sub(1); }
    static void grow()
    {
        const long now = live.fetch_add(1) + 1;
        for (long p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {
        }
    }
};

// Records the delivered values (on whatever thread) in order.
struct Recorder
{
    std::mutex mutex;
    std::vector<int> values;
    auto handler()
    {
        return [this](const int &v) {
            std::lock_guard lock(mutex);
            values.push_back(v);
        };
    }
    std::vector<int> take()
    {
        std::lock_guard lock(mutex);
        return values;
    }
};

// Stalls the worker's event loop until the gate opens: at the end of the scope at the latest, so
// that a failed check does not leave the worker blocked forever.
struct Stall
{
    explicit Stall(riotest::Worker &worker) : gate(worker.block()) { }
    ~Stall() { open(); }
    Stall(const Stall &) = delete;
    Stall &operator=(const Stall &) = delete;
    void open()
    {
        if (!gate->try_wait())
            gate->count_down();
    }
    std::shared_ptr<std::latch> gate;
};

std::vector<int> range(int from, int to)
{
    std::vector<int> r;
    for (int i = from; i < to; ++i)
        r.push_back(i);
    return r;
}

} // namespace

class tst_QtBounded : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void dropOldestKeepsTheNewest()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        QSignalSpy dropped(&registry, &rio::QtRegistryBase::deliveriesDropped);
        Recorder seen;
        const rio::HandlerId id = registry.add(
            worker.context, seen.handler(),
            {.connection = Qt::QueuedConnection, .capacity = 100, .overflow = rio::Overflow::DropOldest});
        Stall stall(worker); // the receiver is stalled
        for (int i = 0; i < 10'000; ++i)
            registry.notify(i);
        QCOMPARE(registry.droppedCount(id), quint64{9'900});
        QCOMPARE(dropped.count(), 1); // the first drop, on the notifying thread: not 9,900 signals
        QCOMPARE(dropped.last().at(0).value<rio::HandlerId>(), id);
        QCOMPARE(dropped.last().at(1).toULongLong(), 1ULL);
        stall.open();
        worker.flush();
        QCOMPARE(seen.take(), range(9'900, 10'000));
        QCOMPARE(dropped.count(), 2); // the receiver reports the total before delivering
        QCOMPARE(dropped.last().at(1).toULongLong(), 9'900ULL);
    }

    void dropNewestKeepsTheOldest()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        Recorder seen;
        const rio::HandlerId id = registry.add(
            worker.context, seen.handler(),
            {.connection = Qt::QueuedConnection, .capacity = 100, .overflow = rio::Overflow::DropNewest});
        Stall stall(worker);
        for (int i = 0; i < 10'000; ++i)
            registry.notify(i);
        QCOMPARE(registry.droppedCount(id), quint64{9'900});
        stall.open();
        worker.flush();
        QCOMPARE(seen.take(), range(0, 100));
    }

    // The drop is logged to the `registryio` category, once however many are dropped.
    void dropsAreLoggedOnce()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        Recorder seen;
        registry.add(worker.context, seen.handler(), {.connection = Qt::QueuedConnection, .capacity = 1});
        Stall stall(worker);
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression("queued deliveries dropped so far"));
        for (int i = 0; i < 1'000; ++i)
            registry.notify(i);
        stall.open();
        worker.flush();
        QCOMPARE(seen.take(), std::vector<int>{999});
    }

    // A stalled receiver and a flood of a fixed number of events: what waits never exceeds the
    // capacity (live event copies counted), and every other event is counted as dropped.
    void floodOfAStalledReceiverStaysWithinCapacity()
    {
        riotest::Worker worker;
        rio::QtRegistry<Tracked> registry;
        constexpr int capacity = 1'000;
        constexpr int events = RIO_TEST_SANITIZED ? 50'000 : 500'000;
        std::atomic<int> delivered{0};
        const rio::HandlerId id =
            registry.add(worker.context, [&](const Tracked &) { delivered.fetch_add(1); },
                         {.connection = Qt::QueuedConnection, .capacity = capacity});
        Stall stall(worker);
        Tracked::peak.store(Tracked::live.load());
        const long before = Tracked::live.load();
        std::thread producer([&] {
            for (int i = 0; i < events; ++i)
                registry.notify(Tracked(i));
        });
        producer.join();
        // + the notified temporary and its shared copy, and the dropped one on its way out
        QVERIFY2(Tracked::peak.load() - before <= capacity + 3,
                 qPrintable(QString::number(Tracked::peak.load() - before)));
        QCOMPARE(registry.droppedCount(id), quint64(events - capacity));
        stall.open();
        worker.flush();
        QCOMPARE(delivered.load(), capacity);
        QCOMPARE(Tracked::live.load(), before);
    }

    // The default is bounded too (and Latest stays the zero-memory option).
    void theDefaultIsBounded()
    {
        QCOMPARE(rio::HandlerOptions{}.capacity, rio::HandlerOptions::DefaultCapacity);
        QCOMPARE(rio::HandlerOptions{}.overflow, rio::Overflow::DropOldest);
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        std::atomic<int> delivered{0};
        std::atomic<int> last{-1};
        const rio::HandlerId id = registry.add(worker.context, [&](const int &v) {
            delivered.fetch_add(1);
            last.store(v);
        });
        Stall stall(worker);
        const int events = int(rio::HandlerOptions::DefaultCapacity) + 10;
        for (int i = 0; i < events; ++i)
            registry.notify(i);
        QCOMPARE(registry.droppedCount(id), quint64{10});
        stall.open();
        worker.flush();
        QCOMPARE(delivered.load(), int(rio::HandlerOptions::DefaultCapacity));
        QCOMPARE(last.load(), events - 1);
    }

    void capacityZeroIsUnbounded()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        Recorder seen;
        const rio::HandlerId id =
            registry.add(worker.context, seen.handler(), {.connection = Qt::QueuedConnection, .capacity = 0});
        Stall stall(worker);
        for (int i = 0; i < 5'000; ++i)
            registry.notify(i);
        stall.open();
        worker.flush();
        QCOMPARE(registry.droppedCount(id), quint64{0});
        QCOMPARE(seen.take(), range(0, 5'000));
    }

    // Block with a receiver that keeps up: nothing is dropped, all arrive in order.
    void blockLosesNothingWhileTheReceiverRuns()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        Recorder seen;
        const rio::HandlerId id = registry.add(worker.context, seen.handler(),
                                               {.connection = Qt::QueuedConnection,
                                                .capacity = 8,
                                                .overflow = rio::Overflow::Block,
                                                .blockTimeout = std::chrono::minutes(10)});
        constexpr int events = 20'000;
        std::thread producer([&] {
            for (int i = 0; i < events; ++i)
                registry.notify(i);
        });
        producer.join();
        worker.flush();
        QCOMPARE(registry.droppedCount(id), quint64{0});
        QCOMPARE(seen.take(), range(0, events));
    }

    // Block with a stalled receiver: each overflowing notify waits its timeout, then drops.
    void blockTimesOutAndDropsTheNewest()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        Recorder seen;
        const rio::HandlerId id = registry.add(worker.context, seen.handler(),
                                               {.connection = Qt::QueuedConnection,
                                                .capacity = 4,
                                                .overflow = rio::Overflow::Block,
                                                .blockTimeout = 20ms});
        Stall stall(worker);
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < 7; ++i)
            registry.notify(i);
        QVERIFY(std::chrono::steady_clock::now() - start >= 3 * 20ms); // it did wait
        QCOMPARE(registry.droppedCount(id), quint64{3});
        stall.open();
        worker.flush();
        QCOMPARE(seen.take(), range(0, 4));
    }

    // A notifier blocked for room wakes when the handler is removed (and when it gets room).
    void blockedNotifierWakesOnRemoval()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        Recorder seen;
        const rio::HandlerId id = registry.add(worker.context, seen.handler(),
                                               {.connection = Qt::QueuedConnection,
                                                .capacity = 1,
                                                .overflow = rio::Overflow::Block,
                                                .blockTimeout = std::chrono::hours(1)});
        Stall stall(worker);
        registry.notify(0);
        auto second = std::async(std::launch::async, [&] { registry.notify(1); });
        QCOMPARE(second.wait_for(50ms), std::future_status::timeout); // it is waiting
        QVERIFY(registry.remove(id));
        QCOMPARE(second.wait_for(std::chrono::minutes(1)), std::future_status::ready);
        stall.open();
        worker.flush();
        QCOMPARE(seen.take(), std::vector<int>{}); // removal cancels what waited
    }

    // Block never waits on the receiver's own thread: it would wait for itself.
    void blockNeverWaitsOnTheReceiversThread()
    {
        rio::QtRegistry<int> registry;
        QObject context;
        Recorder seen;
        const rio::HandlerId id = registry.add(&context, seen.handler(),
                                               {.connection = Qt::QueuedConnection,
                                                .capacity = 2,
                                                .overflow = rio::Overflow::Block,
                                                .blockTimeout = std::chrono::hours(1)});
        for (int i = 0; i < 5; ++i)
            registry.notify(i); // returns at once (the test would hang otherwise)
        QCOMPARE(registry.droppedCount(id), quint64{3});
        QTRY_COMPARE(seen.take(), range(0, 2));
    }

    // A dropped delivery of notifyAsync counts as finished, as a coalesced one does.
    void droppedAsyncDeliveryFinishesItsFuture()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        Recorder seen;
        registry.add(worker.context, seen.handler(), {.connection = Qt::QueuedConnection, .capacity = 1});
        Stall stall(worker);
        QFuture<void> first = registry.notifyAsync(1);
        QFuture<void> second = registry.notifyAsync(2);
        QVERIFY(first.isFinished());
        QVERIFY(!second.isFinished());
        stall.open();
        worker.flush();
        QTRY_VERIFY(second.isFinished());
        QCOMPARE(seen.take(), std::vector<int>{2});
    }

    // Queued deliveries to several handlers on one thread keep notify order, then priority
    // order, across the drain's batches.
    void orderAcrossHandlersAndBatches()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        std::mutex mutex;
        std::vector<int> order;
        auto record = [&](int tag) {
            return [&, tag](const int &event) {
                std::lock_guard lock(mutex);
                order.push_back(event * 10 + tag);
            };
        };
        registry.add(worker.context, record(1), {.priority = 1, .connection = Qt::QueuedConnection});
        registry.add(worker.context, record(2), {.priority = 2, .connection = Qt::QueuedConnection});
        Stall stall(worker);
        constexpr int events = 500; // more than one batch per handler
        for (int i = 0; i < events; ++i)
            registry.notify(i);
        registry.add(worker.context, record(3),
                     {.priority = 3, .connection = Qt::QueuedConnection}); // joins late
        for (int i = events; i < 2 * events; ++i)
            registry.notify(i);
        stall.open();
        worker.flush();
        std::vector<int> expected;
        for (int i = 0; i < 2 * events; ++i) {
            if (i >= events)
                expected.push_back(i * 10 + 3);
            expected.push_back(i * 10 + 2);
            expected.push_back(i * 10 + 1);
        }
        std::lock_guard lock(mutex);
        QCOMPARE(order, expected);
    }

    // A handler that runs a nested event loop: the deliveries after it run inside that loop,
    // each once and in order.
    void nestedEventLoopInsideADelivery()
    {
        rio::QtRegistry<int> registry;
        QObject context;
        std::vector<int> entered;
        registry.add(&context,
                     [&](const int &v) {
                         entered.push_back(v);
                         if (v == 5 || v == 50) {
                             QEventLoop loop;
                             QTimer::singleShot(0, &loop, [&] { loop.quit(); });
                             loop.exec();
                         }
                     },
                     {.connection = Qt::QueuedConnection});
        for (int i = 0; i < 100; ++i)
            registry.notify(i);
        QTRY_COMPARE(entered.size(), std::size_t{100});
        QCOMPARE(entered, range(0, 100));
    }

    void invalidOptionsAreRefused()
    {
        rio::QtRegistry<int> registry;
        QObject context;
        auto fn = [](const int &) { };
        QVERIFY_THROWS_EXCEPTION(
            std::invalid_argument,
            registry.add(&context, fn, {.connection = Qt::QueuedConnection, .minInterval = 5ms}));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, registry.add(&context, fn,
                                                                     {.connection = Qt::QueuedConnection,
                                                                      .overflow = rio::Overflow::Block,
                                                                      .blockTimeout = -1ms}));
        QVERIFY_THROWS_EXCEPTION(
            std::invalid_argument,
            registry.add(&context, fn,
                         {.connection = Qt::QueuedConnection, .overflow = static_cast<rio::Overflow>(42)}));
        QVERIFY_THROWS_EXCEPTION(
            std::invalid_argument,
            registry.add(&context, fn,
                         {.connection = Qt::QueuedConnection, .delivery = static_cast<rio::Delivery>(42)}));
        QCOMPARE(registry.size(), std::size_t{0});
    }
};

QTEST_GUILESS_MAIN(tst_QtBounded)
#include "tst_qt_bounded.moc"
