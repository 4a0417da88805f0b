// SPDX-License-Identifier: MIT
// Delivery::Latest of a small trivially copyable event: writers on several threads share one cell
// without a lock. Under a flood the handler never sees a torn event, never the same write twice,
// each writer's events in the order it wrote them, and the last event written; a handler removed
// or a context destroyed mid-flood gets nothing more. Every write is delivered or counted as
// coalesced (or still waits, its delivery's event discarded), and no number of writes between two
// deliveries hides the newest. A writer stopped after any store of the cell holds up no other
// call, nor the reader's thread (a LatestValue's included).

#include "qt_handler_state.h" // the cell's sequence, moved as 2^31 writes would move it
#include "qt_test_support.h"
#include "stopped_writer.h"

#include <registryio/qt/diagnostics.h>
#include <registryio/qt/latest_value.h>
#include <registryio/qt/qt_registry.h>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QRegularExpression>
#include <QSemaphore>
#include <QTest>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <latch>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace {

// 16 bytes, the most a cell holds: `check` is always ~`value`, so a torn read shows.
struct Reading
{
    std::uint32_t writer = 0;
    std::uint32_t serial = 0;
    std::uint64_t check = 0;

    [[nodiscard]] bool whole() const { return check == ~((std::uint64_t(writer) << 32) | serial); }
    static Reading of(std::uint32_t writer, std::uint32_t serial)
    {
        return {writer, serial, ~((std::uint64_t(writer) << 32) | serial)};
    }
};
static_assert(rio::detail::storesByValue<Reading>);

constexpr std::uint32_t kWriters = 4;
constexpr std::uint32_t kLastWriter = kWriters; // the one write after every writer is done
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr std::uint32_t kPerWriter = 5000;
#else
constexpr std::uint32_t kPerWriter = 50000;
#endif

// What the handler saw, on the test thread.
struct Seen
{
    std::vector<std::uint32_t> lastSerial = std::vector<std::uint32_t>(kWriters + 1, 0);
    std::vector<bool> any = std::vector<bool>(kWriters + 1, false);
    int deliveries = 0;
    int torn = 0;
    int backwards = 0; // a writer's event older than one seen before, or the same one again
    Reading last;

    void take(const Reading &r)
    {
        ++deliveries;
        last = r;
        if (!r.whole() || r.writer > kLastWriter) {
            ++torn;
            return;
        }
        if (any[r.writer] && r.serial <= lastSerial[r.writer])
            ++backwards;
        any[r.writer] = true;
        lastSerial[r.writer] = r.serial;
    }
};

rio::HandlerInfo infoOf(const rio::QtRegistryBase &registry, rio::HandlerId id)
{
    for (const rio::HandlerInfo &h : rio::Diagnostics::snapshot(registry.registryId()).handlers)
        if (h.id == id)
            return h;
    return {};
}

// The handler's `calls + coalesced`, which must be every write once no delivery waits.
quint64 deliveredOrCoalesced(const rio::QtRegistryBase &registry, rio::HandlerId id)
{
    const rio::HandlerInfo h = infoOf(registry, id);
    return h.calls + h.coalesced;
}

// Each writer notifies its own serials, then stops; the test thread keeps delivering meanwhile.
void flood(rio::QtRegistry<Reading> &registry)
{
    std::atomic<std::uint32_t> done{0};
    std::vector<std::thread> writers;
    for (std::uint32_t w = 0; w < kWriters; ++w) {
        writers.emplace_back([&registry, &done, w] {
            for (std::uint32_t i = 1; i <= kPerWriter; ++i)
                registry.notify(Reading::of(w, i));
            done.fetch_add(1);
        });
    }
    while (done.load() < kWriters)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
    for (std::thread &t : writers)
        t.join();
}

} // namespace

// An event whose writers a test stops after one step of the cell's write (riotest::StoppedWriter).
struct Stopped
{
    int v = 0;
};

template <>
struct rio::detail::CellPause<Stopped> : riotest::StopHere
{ };

namespace {

// A registry of Stopped events that shows its handler's core.
struct StoppedRegistry : rio::QtRegistry<Stopped>
{
    using rio::QtRegistry<Stopped>::handlerCore;
};

} // namespace

Q_DECLARE_METATYPE(rio::detail::CellStep)

class tst_QtLatestCell : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // Four writers: whole events only, each writer's in order, none twice, the last one shown.
    void aFloodKeepsEveryPromise()
    {
        rio::QtRegistry<Reading> registry;
        QObject context;
        Seen seen;
        const rio::HandlerId id =
            registry.add(&context, [&seen](const Reading &r) { seen.take(r); },
                         {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
        flood(registry);
        registry.notify(Reading::of(kLastWriter, 1));
        QTRY_COMPARE(seen.last.writer, kLastWriter);
        QCoreApplication::processEvents();
        // Each write delivered or coalesced, a write that met another writer's included.
        QCOMPARE(deliveredOrCoalesced(registry, id), quint64{kWriters * kPerWriter + 1});
        QCOMPARE(seen.torn, 0);
        QCOMPARE(seen.backwards, 0);
        QVERIFY(seen.last.whole());
        QCOMPARE_LE(seen.deliveries, int(kWriters * kPerWriter + 1));
        // Nothing more waits: a turn of the loop delivers nothing.
        const int deliveries = seen.deliveries;
        QCoreApplication::processEvents();
        QCOMPARE(seen.deliveries, deliveries);
    }

    // Writers on one thread, the handler on another's event loop: the same promises across
    // threads both ways.
    void aHandlerOnAnotherThread()
    {
        riotest::Worker receiver;
        rio::QtRegistry<Reading> registry;
        std::atomic<int> torn{0};
        std::atomic<std::uint64_t> last{0};
        const rio::HandlerId id =
            registry.add(receiver.context,
                         [&](const Reading &r) {
                             if (!r.whole())
                                 ++torn;
                             last.store((std::uint64_t(r.writer) << 32) | r.serial);
                         },
                         {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
        std::vector<std::thread> writers;
        for (std::uint32_t w = 0; w < kWriters; ++w) {
            writers.emplace_back([&registry, w] {
                for (std::uint32_t i = 1; i <= kPerWriter; ++i)
                    registry.notify(Reading::of(w, i));
            });
        }
        for (std::thread &t : writers)
            t.join();
        registry.notify(Reading::of(kLastWriter, 7));
        QTRY_COMPARE(last.load(), (std::uint64_t(kLastWriter) << 32) | 7U);
        QCOMPARE(torn.load(), 0);
        // A delivery reading writes made after it was scheduled delivers what it counts.
        QCOMPARE(deliveredOrCoalesced(registry, id), quint64{kWriters * kPerWriter + 1});
    }

    // 2^31 writes between two deliveries (the cell's sequence moved as the first 2^31 - 1 would
    // move it, then one real write): the newest is delivered, the others counted as coalesced.
    void theSequenceNeverComesBackToTheOneDelivered()
    {
        struct Registry : rio::QtRegistry<int>
        {
            using rio::QtRegistry<int>::handlerCore;
        } registry;
        QObject context;
        std::vector<int> seen;
        const rio::HandlerId id =
            registry.add(&context, [&seen](int v) { seen.push_back(v); },
                         {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
        registry.notify(1);
        QTRY_COMPARE(seen.size(), std::size_t{1});
        auto &seq = rio::detail::state(*registry.handlerCore(id)).latest.seq;
        seq.fetch_add(static_cast<decltype(seq.load())>((std::uint64_t{1} << 32) - 2));
        registry.notify(2);
        QTRY_COMPARE(seen.size(), std::size_t{2});
        QCOMPARE(seen.back(), 2);
        QCOMPARE(deliveredOrCoalesced(registry, id), (quint64{1} << 31) + 1);
    }

    // A writer stopped mid-write (a debugger, a preempting real-time thread), met by a delivery:
    // another notify, a snapshot and a remove() return meanwhile. The bound only turns a hang into
    // a failure.
    void aWriterStoppedMidWriteHoldsUpNoOtherCall()
    {
        StoppedRegistry registry;
        riotest::Worker receiver;
        const rio::HandlerId id =
            registry.add(receiver.context, [](const Stopped &) { },
                         {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
        rio::detail::QtHandlerState &state = rio::detail::state(*registry.handlerCore(id));
        const auto gate = receiver.block();
        registry.notify(Stopped{1}); // schedules the delivery, queued behind the gate
        riotest::StoppedWriter writer(rio::detail::CellStep::Held,
                                      [&registry] { registry.notify(Stopped{2}); });
        gate->count_down();
        QTRY_VERIFY_WITH_TIMEOUT(!state.latest.owed.load(), 20000); // the delivery took the cell
        std::mutex mutex;
        std::condition_variable changed;
        bool done = false;
        bool removed = false;
        std::thread other([&] {
            registry.notify(Stopped{3});
            (void)rio::Diagnostics::snapshot(registry.registryId());
            const bool first = registry.remove(id);
            const std::lock_guard lock(mutex);
            removed = first;
            done = true;
            changed.notify_all();
        });
        bool returned = false;
        {
            std::unique_lock lock(mutex);
            returned = changed.wait_for(lock, std::chrono::seconds(20), [&] { return done; });
        }
        writer.resume();
        other.join();
        QVERIFY(returned);
        QVERIFY(removed);
    }

    void aReaderNeverWaitsForAStoppedWriter_data()
    {
        QTest::addColumn<bool>("latestValue");
        QTest::addColumn<rio::detail::CellStep>("step");
        for (const bool latestValue : {false, true}) {
            for (const rio::detail::CellStep step : riotest::kCellSteps)
                QTest::addRow("%s, step %d", latestValue ? "LatestValue" : "Latest handler", int(step))
                    << latestValue << step;
        }
    }

    // A writer stopped after any store of the cell (a lower-priority thread preempted there): the
    // reader's turn of the event loop returns while the writer stays stopped, its other events
    // run, and the write is shown once the writer goes on. The turn's time is printed (a
    // measurement, not a check).
    void aReaderNeverWaitsForAStoppedWriter()
    {
        QFETCH(bool, latestValue);
        QFETCH(rio::detail::CellStep, step);
        rio::QtRegistry<Stopped> registry;
        QObject context;
        rio::LatestValue<Stopped> value;
        std::atomic<int> last{0}; // the handler's or the value's
        QObject::connect(&value, &rio::LatestValueBase::valueChanged, &value,
                         [&] { last.store(value.get().v); });
        registry.add(&context, [&last](const Stopped &s) { last.store(s.v); },
                     {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
        const auto write = [&](int v) {
            if (latestValue)
                value.set(Stopped{v});
            else
                registry.notify(Stopped{v});
        };
        write(1); // its delivery scheduled
        riotest::StoppedWriter writer(step, [&write] { write(2); });
        bool ran = false; // another event of the reader's thread, posted after the delivery
        QMetaObject::invokeMethod(&context, [&ran] { ran = true; }, Qt::QueuedConnection);
        QElapsedTimer turn;
        turn.start();
        QCoreApplication::processEvents();
        const qint64 elapsed = turn.nsecsElapsed();
        QVERIFY(!writer.byWatchdog); // the turn returned with the writer still stopped
        QVERIFY(ran);
        if (step != rio::detail::CellStep::Released)
            QCOMPARE(last.load(), 0); // the delivery met the write and left it
        qInfo("the reader's turn with a writer stopped after step %d: %lld us", int(step), elapsed / 1000);
        writer.resume();
        QTRY_COMPARE(last.load(), 2);
    }
    // Qt discards the delivery's event unrun: the cell's write still waits (diagnostics say so),
    // and the next write delivers the newest, the others counted as coalesced.
    void aDiscardedDeliveryLeavesItsWriteWaiting()
    {
        rio::QtRegistry<int> registry;
        QObject context;
        int last = 0;
        const rio::HandlerId id =
            registry.add(&context, [&last](int v) { last = v; },
                         {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
        for (int i = 1; i <= 5; ++i)
            registry.notify(i);
        QCoreApplication::removePostedEvents(&context);
        QCoreApplication::processEvents();
        rio::HandlerInfo h = infoOf(registry, id);
        QCOMPARE(h.waiting, quint64{1});
        QCOMPARE(h.calls + h.coalesced + h.totalDrops() + h.waiting, quint64{5});
        registry.notify(6);
        QTRY_COMPARE(last, 6);
        h = infoOf(registry, id);
        QCOMPARE(h.waiting, quint64{0});
        QCOMPARE(h.calls + h.coalesced + h.totalDrops(), quint64{6});
    }

    // A snapshot between the read's two stores (its reader preempted there): the writes still add
    // up and coalesced never goes down. The read's stores are made by hand, in its order.
    void aSnapshotDuringTheReadAddsUp()
    {
        struct Registry : rio::QtRegistry<int>
        {
            using rio::QtRegistry<int>::handlerCore;
        } registry;
        QObject context;
        const rio::HandlerId id = registry.add(
            &context, [](int) { }, {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
        rio::detail::QtHandlerState &state = rio::detail::state(*registry.handlerCore(id));
        for (int i = 1; i <= 5; ++i)
            registry.notify(i);
        quint64 coalesced = 0;
        const auto check = [&](quint64 waiting, quint64 running = 0) {
            const rio::HandlerInfo h = infoOf(registry, id);
            QCOMPARE(h.waiting, waiting);
            QCOMPARE(h.coalesced + h.waiting + running, quint64{5});
            QCOMPARE_GE(h.coalesced, coalesced);
            coalesced = h.coalesced;
        };
        check(1);
        state.latest.owed.store(false); // the delivery, past its lock
        check(1);
        state.cellDelivered.fetch_add(1); // the read's first store
        check(1);
        state.cellTaken.store(state.latest.seq.load()); // its second: the run is in neither
        check(0, 1);
        QCoreApplication::removePostedEvents(&context); // its delivery found the cell read
    }

    // Removed, or its context destroyed, with a write in the cell not yet delivered: that delivery
    // is dropped (signalled, and in removedHandlerDrops), the other writes coalesced.
    void removalDropsTheWriteWaiting()
    {
        for (const bool byContext : {false, true}) {
            rio::QtRegistry<int> registry;
            auto context = std::make_unique<QObject>();
            int calls = 0;
            quint64 dropped = 0;
            QObject::connect(&registry, &rio::QtRegistryBase::deliveriesDropped,
                             [&dropped](rio::HandlerId, quint64 total) { dropped = total; });
            const rio::HandlerId id =
                registry.add(context.get(), [&calls](int) { ++calls; },
                             {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
            for (int i = 1; i <= 5; ++i)
                registry.notify(i);
            QTest::ignoreMessage(QtWarningMsg,
                                 QRegularExpression(QStringLiteral("1 queued deliveries dropped so far")));
            if (byContext)
                context.reset();
            else
                QVERIFY(registry.remove(id));
            QCoreApplication::processEvents();
            QCOMPARE(calls, 0);
            QCOMPARE(dropped, quint64{1});
            quint64 removedDrops = 0;
            for (const quint64 d : rio::Diagnostics::snapshot(registry.registryId()).removedHandlerDrops)
                removedDrops += d;
            QCOMPARE(removedDrops, quint64{1});
        }
    }

    // Removed, or its context destroyed, while writers flood: no delivery after that.
    void removalStopsTheCell()
    {
        for (const bool byContext : {false, true}) {
            rio::QtRegistry<Reading> registry;
            auto context = std::make_unique<QObject>();
            int calls = 0;
            const rio::HandlerId id =
                registry.add(context.get(), [&calls](const Reading &) { ++calls; },
                             {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
            std::atomic<bool> stop{false};
            std::thread writer([&] {
                for (std::uint32_t i = 1; i <= kPerWriter * 4 && !stop.load(); ++i)
                    registry.notify(Reading::of(0, i));
            });
            QTRY_VERIFY(calls > 0);
            if (byContext)
                context.reset();
            else
                QVERIFY(registry.remove(id));
            const int after = calls;
            for (int turn = 0; turn < 20; ++turn)
                QCoreApplication::processEvents();
            stop.store(true);
            writer.join();
            QCoreApplication::processEvents();
            QCOMPARE(calls, after);
        }
    }
};

QTEST_MAIN(tst_QtLatestCell)
#include "tst_qt_latest_cell.moc"
