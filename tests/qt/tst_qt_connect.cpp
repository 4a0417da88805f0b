// SPDX-License-Identifier: MIT
// Parity with QObject::connect: member functions that run once or are scoped, forward() of signals
// with a QPrivateSignal tag, Qt::UniqueConnection and Qt::SingleShotConnection, rio::Connection
// on a QtRegistry, and suspended handlers.
#include "qt_test_support.h"

#include <registryio/connection.h>
#include <registryio/qt/qt_registry.h>
#include <registryio/qt/signal_forwarding.h>

#include <QCoreApplication>
#include <QSignalSpy>
#include <QTest>
#include <QThread>
#include <QTimer>

#include <atomic>
#include <latch>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <vector>

namespace {

class Receiver : public QObject
{
    Q_OBJECT
public:
    std::atomic<int> calls{0};
    std::atomic<int> last{0};
    std::atomic<int> anyCalls{0};
    void onEvent(const int &value)
    {
        last.store(value);
        calls.fetch_add(1);
    }
    void onAny() { anyCalls.fetch_add(1); }
};

constexpr Qt::ConnectionType withFlag(Qt::ConnectionType type, Qt::ConnectionType flag)
{
    return static_cast<Qt::ConnectionType>(static_cast<int>(type) | static_cast<int>(flag));
}

const Qt::ConnectionType uniqueAuto = withFlag(Qt::AutoConnection, Qt::UniqueConnection);

struct Tick
{ };

static_assert(std::is_same_v<rio::detail::PublicArgsOf<int, const QString &>,
                             rio::detail::TypeList<int, const QString &>>);
static_assert(std::is_same_v<rio::detail::PublicArgsOf<>, rio::detail::TypeList<>>);
static_assert(!rio::detail::isPrivateSignalTag<int> && !rio::detail::isPrivateSignalTag<QString>);

} // namespace

class tst_QtConnect : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // --- member functions that run once (.once) or are scoped (addScoped) ---

    void addOnceMemberRunsOnce()
    {
        rio::QtRegistry<int> registry;
        Receiver r;
        const rio::HandlerId id = registry.add(&r, &Receiver::onEvent, {.once = true});
        const rio::HandlerId any = registry.add(&r, &Receiver::onAny, {.priority = 5, .once = true});
        QVERIFY(id.isValid() && any.isValid());
        QCOMPARE(registry.size(), std::size_t{2});
        registry.notify(7);
        registry.notify(8);
        QCOMPARE(r.calls.load(), 1);
        QCOMPARE(r.last.load(), 7);
        QCOMPARE(r.anyCalls.load(), 1);
        QVERIFY(!registry.contains(id));
        QVERIFY(registry.isEmpty());
    }

    void addOnceMemberQueuedRunsOnce()
    {
        rio::QtRegistry<int> registry;
        Receiver r;
        Receiver sentinel;
        registry.add(&r, &Receiver::onEvent, {.connection = Qt::QueuedConnection, .once = true});
        registry.add(&sentinel, &Receiver::onEvent, {.connection = Qt::QueuedConnection});
        registry.notify(1);
        registry.notify(2);
        QCOMPARE(r.calls.load(), 0); // queued: nothing yet
        QTRY_COMPARE(sentinel.calls.load(), 2);
        QCOMPARE(r.calls.load(), 1);
        QCOMPARE(r.last.load(), 1);
        QCOMPARE(registry.size(), std::size_t{1});
    }

    void addScopedMemberGuardsTheHandler()
    {
        rio::QtRegistry<int> registry;
        Receiver r;
        {
            const rio::HandlerGuard guard = registry.addScoped(&r, &Receiver::onEvent);
            QVERIFY(guard.isActive());
            QVERIFY(registry.contains(guard.id()));
            registry.notify(3);
            QCOMPARE(r.calls.load(), 1);
        }
        QVERIFY(registry.isEmpty());
        registry.notify(4);
        QCOMPARE(r.calls.load(), 1);
    }

    void addScopedMemberWithTypeAndOptions()
    {
        rio::QtRegistry<int> registry;
        Receiver r;
        rio::HandlerGuard guard = registry.addScoped(
            &r, &Receiver::onEvent,
            {.priority = 1, .connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
        registry.notify(1);
        registry.notify(2);
        registry.notify(3);
        QTRY_COMPARE(r.calls.load(), 1); // coalesced
        QCOMPARE(r.last.load(), 3);
        QVERIFY(guard.reset());
        QVERIFY(registry.isEmpty());
    }

    void addScopedMemberRemovedWithItsReceiver()
    {
        rio::QtRegistry<int> registry;
        auto r = std::make_unique<Receiver>();
        rio::HandlerGuard guard = registry.addScoped(r.get(), &Receiver::onAny);
        QCOMPARE(registry.size(), std::size_t{1});
        r.reset();
        QVERIFY(registry.isEmpty());
        QVERIFY(!guard.reset()); // gone with its receiver
    }

    void memberFormsRefuseNullInput()
    {
        rio::QtRegistry<int> registry;
        Receiver r;
        void (Receiver::*none)(const int &) = nullptr;
        Receiver *nobody = nullptr;
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, registry.add(&r, none, {.once = true}));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, (void)registry.addScoped(&r, none));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 registry.add(nobody, &Receiver::onEvent, {.once = true}));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, (void)registry.addScoped(nobody, &Receiver::onEvent));
        QVERIFY(registry.isEmpty());
    }

    // --- forward() with QPrivateSignal signals ---

    void forwardTimerTimeout()
    {
        rio::QtRegistry<Tick> ticks;
        std::atomic<int> seen{0};
        ticks.add([&seen] { seen.fetch_add(1); });
        QTimer timer;
        timer.setSingleShot(true);
        const QMetaObject::Connection c = rio::forward(&timer, &QTimer::timeout, ticks);
        QVERIFY(c);
        timer.start(0);
        QTRY_COMPARE(seen.load(), 1);
        // With a mapper: timeout has no public argument, the map takes none.
        rio::QtRegistry<int> counts;
        int mapped = 0;
        counts.add([&mapped](const int &v) { mapped += v; });
        rio::forward(&timer, &QTimer::timeout, counts, [] { return 40; });
        timer.start(0);
        QTRY_COMPARE(mapped, 40);
        QCOMPARE(seen.load(), 2);
    }

    void forwardObjectNameChanged()
    {
        QObject object;
        rio::QtRegistry<QString> names;
        QString last;
        names.add([&last](const QString &name) { last = name; });
        rio::forward(&object, &QObject::objectNameChanged, names);
        rio::QtRegistry<int> lengths;
        int length = -1;
        lengths.add([&length](const int &n) { length = n; });
        rio::forward(&object, &QObject::objectNameChanged, lengths,
                     [](const QString &name) { return static_cast<int>(name.size()); });
        object.setObjectName(QStringLiteral("renamed"));
        QCOMPARE(last, QStringLiteral("renamed"));
        QCOMPARE(length, 7);
    }

    void forwardThreadStartedAndFinished()
    {
        std::unique_ptr<QThread> thread(QThread::create([] { }));
        rio::QtRegistry<Tick> started;
        rio::QtRegistry<Tick> finished;
        std::atomic<int> startedSeen{0};
        std::atomic<int> finishedSeen{0};
        std::atomic<bool> onThatThread{false};
        QThread *raw = thread.get();
        started.add([&] { startedSeen.fetch_add(1); });
        finished.add([&] {
            onThatThread.store(QThread::currentThread() == raw); // notified on the emitting thread
            finishedSeen.fetch_add(1);
        });
        rio::forward(raw, &QThread::started, started);
        rio::forward(raw, &QThread::finished, finished);
        thread->start();
        QVERIFY(thread->wait());
        QCOMPARE(startedSeen.load(), 1);
        QCOMPARE(finishedSeen.load(), 1);
        QVERIFY(onThatThread.load());
    }

    // --- Qt::UniqueConnection / Qt::SingleShotConnection ---

    void uniqueRefusesTheSameReceiverAndMember()
    {
        rio::QtRegistry<int> registry;
        Receiver r;
        const rio::HandlerId first = registry.add(&r, &Receiver::onEvent);
        QSignalSpy countSpy(&registry, &rio::QtRegistryBase::countChanged);
        const rio::HandlerId second =
            registry.add(&r, &Receiver::onEvent, {.priority = 3, .connection = uniqueAuto});
        QVERIFY(!second.isValid());
        QCOMPARE(registry.size(), std::size_t{1});
        QCOMPARE(countSpy.count(), 0);
        const rio::HandlerId queued = registry.add(
            &r, &Receiver::onEvent, {.connection = withFlag(Qt::QueuedConnection, Qt::UniqueConnection)});
        QVERIFY(!queued.isValid());
        QVERIFY(!registry.add(&r, &Receiver::onEvent, {.connection = uniqueAuto, .once = true}).isValid());
        const rio::HandlerGuard guard =
            registry.addScoped(&r, &Receiver::onEvent, {.connection = uniqueAuto});
        QVERIFY(!guard.isActive());
        QCOMPARE(registry.size(), std::size_t{1});
        registry.notify(5);
        QCOMPARE(r.calls.load(), 1);
        QVERIFY(registry.contains(first));
        // Another member function, or another receiver, is a different registration.
        Receiver other;
        QVERIFY(registry.add(&r, &Receiver::onAny, {.connection = uniqueAuto}).isValid());
        QVERIFY(registry.add(&other, &Receiver::onEvent, {.connection = uniqueAuto}).isValid());
        QCOMPARE(registry.size(), std::size_t{3});
        // Without the flag a duplicate is accepted, as QObject::connect does.
        QVERIFY(registry.add(&r, &Receiver::onEvent).isValid());
        QCOMPARE(registry.size(), std::size_t{4});
    }

    void uniqueIsForgottenOnRemoval()
    {
        rio::QtRegistry<int> registry;
        Receiver r;
        const rio::HandlerId first = registry.add(&r, &Receiver::onEvent, {.connection = uniqueAuto});
        QVERIFY(first.isValid());
        QVERIFY(registry.remove(first));
        const rio::HandlerId second = registry.add(&r, &Receiver::onEvent, {.connection = uniqueAuto});
        QVERIFY(second.isValid());
        // Through a Connection and a guard.
        QVERIFY(registry.connection(second).disconnect());
        rio::HandlerGuard guard = registry.addScoped(&r, &Receiver::onEvent, {.connection = uniqueAuto});
        QVERIFY(guard.isActive());
        QVERIFY(guard.reset());
        // A once-handler that fired.
        QVERIFY(registry.add(&r, &Receiver::onEvent, {.connection = uniqueAuto, .once = true}).isValid());
        QVERIFY(!registry.add(&r, &Receiver::onEvent, {.connection = uniqueAuto}).isValid());
        registry.notify(1);
        QVERIFY(registry.isEmpty());
        QVERIFY(registry.add(&r, &Receiver::onEvent, {.connection = uniqueAuto}).isValid());
        // clear().
        registry.clear();
        QVERIFY(registry.add(&r, &Receiver::onEvent, {.connection = uniqueAuto}).isValid());
        QCOMPARE(registry.size(), std::size_t{1});
    }

    void uniqueIsForgottenWhenTheReceiverDies()
    {
        rio::QtRegistry<int> registry;
        std::optional<Receiver> slot; // the next receiver reuses the same address
        slot.emplace();
        Receiver *before = &*slot;
        QVERIFY(registry.add(before, &Receiver::onEvent, {.connection = uniqueAuto}).isValid());
        QVERIFY(!registry.add(before, &Receiver::onEvent, {.connection = uniqueAuto}).isValid());
        slot.reset();
        QVERIFY(registry.isEmpty());
        slot.emplace();
        QCOMPARE(&*slot, before);
        QVERIFY(registry.add(&*slot, &Receiver::onEvent, {.connection = uniqueAuto}).isValid());
        registry.notify(9);
        QCOMPARE(slot->calls.load(), 1);
    }

    void uniqueFromManyThreadsAcceptsOne()
    {
        rio::QtRegistry<int> registry;
        Receiver r;
        std::atomic<int> accepted{0};
        std::latch start(4);
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&] {
                start.arrive_and_wait();
                for (int i = 0; i < 50; ++i) {
                    if (registry
                            .add(&r, &Receiver::onEvent,
                                 {.connection = withFlag(Qt::DirectConnection, Qt::UniqueConnection)})
                            .isValid())
                        accepted.fetch_add(1);
                }
            });
        }
        for (std::thread &t : threads)
            t.join();
        QCOMPARE(accepted.load(), 1);
        QCOMPARE(registry.size(), std::size_t{1});
    }

    void uniqueNeedsTheMemberForm()
    {
        rio::QtRegistry<int> registry;
        QObject context;
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 registry.add(&context, [] { }, {.connection = uniqueAuto}));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 registry.add(&context, [] { }, {.connection = uniqueAuto, .once = true}));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 (void)registry.addScoped(&context, [] { }, {.connection = uniqueAuto}));
        // Unknown bits are still refused once the flags are taken off.
        Receiver r;
        QVERIFY_THROWS_EXCEPTION(
            std::invalid_argument,
            registry.add(&r, &Receiver::onEvent, {.connection = static_cast<Qt::ConnectionType>(0x40)}));
        QVERIFY_THROWS_EXCEPTION(
            std::invalid_argument,
            registry.add(&r, &Receiver::onEvent,
                         {.connection = withFlag(static_cast<Qt::ConnectionType>(7), Qt::UniqueConnection)}));
        QVERIFY(registry.isEmpty());
        // A refused one is not remembered.
        QVERIFY(registry.add(&r, &Receiver::onEvent, {.connection = uniqueAuto}).isValid());
    }

    void singleShotFlagRunsOnce()
    {
        rio::QtRegistry<int> registry;
        Receiver r;
        const rio::HandlerId id = registry.add(
            &r, &Receiver::onEvent, {.connection = withFlag(Qt::AutoConnection, Qt::SingleShotConnection)});
        QObject context;
        int lambdaCalls = 0;
        registry.add(&context, [&lambdaCalls] { ++lambdaCalls; },
                     {.connection = withFlag(Qt::QueuedConnection, Qt::SingleShotConnection)});
        Receiver sentinel;
        registry.add(&sentinel, &Receiver::onEvent, {.priority = -1, .connection = Qt::QueuedConnection});
        registry.notify(1);
        registry.notify(2);
        QCOMPARE(r.calls.load(), 1);
        QVERIFY(!registry.contains(id));
        QTRY_COMPARE(sentinel.calls.load(), 2);
        QCOMPARE(lambdaCalls, 1);
        QCOMPARE(registry.size(), std::size_t{1});
        // Both flags together.
        QVERIFY(registry
                    .add(&r, &Receiver::onAny,
                         {.connection = withFlag(withFlag(Qt::DirectConnection, Qt::UniqueConnection),
                                                 Qt::SingleShotConnection)})
                    .isValid());
        QVERIFY(!registry.add(&r, &Receiver::onAny, {.connection = uniqueAuto}).isValid());
        registry.notify(3);
        registry.notify(4);
        QCOMPARE(r.anyCalls.load(), 1);
        QVERIFY(registry.add(&r, &Receiver::onAny, {.connection = uniqueAuto}).isValid());
    }

    // --- rio::Connection on a QtRegistry ---

    void connectionDisconnectsOnce()
    {
        rio::QtRegistry<int> registry;
        Receiver r;
        const rio::HandlerId id = registry.add(&r, &Receiver::onEvent);
        const rio::Connection c = registry.connection(id);
        const rio::Connection copy = c;
        QVERIFY(copy == c);
        QCOMPARE(c.id(), id);
        QVERIFY(c.isConnected());
        QSignalSpy countSpy(&registry, &rio::QtRegistryBase::countChanged);
        QVERIFY(copy.disconnect());
        QVERIFY(!c.disconnect());
        QVERIFY(!c.isConnected());
        QCOMPARE(countSpy.count(), 1);
        registry.notify(1);
        QCOMPARE(r.calls.load(), 0);
        QVERIFY(!registry.connection(rio::HandlerId{999}).isConnected());
        QVERIFY(!rio::Connection().disconnect());
    }

    void connectionSeesTheReceiverDie()
    {
        rio::QtRegistry<int> registry;
        auto r = std::make_unique<Receiver>();
        const rio::Connection c = registry.connection(registry.add(r.get(), &Receiver::onEvent));
        QVERIFY(c.isConnected());
        r.reset();
        QVERIFY(!c.isConnected());
        QVERIFY(!c.disconnect());
    }

    void connectionAfterTheRegistryDied()
    {
        auto registry = std::make_unique<rio::QtRegistry<int>>();
        Receiver r;
        const rio::Connection c = registry->connection(registry->add(&r, &Receiver::onEvent));
        rio::Connection copy;
        copy = c;
        QVERIFY(c.isConnected());
        registry.reset();
        QVERIFY(!c.isConnected());
        QVERIFY(!c.disconnect());
        QVERIFY(!copy.isConnected());
        QVERIFY(!copy.disconnect());
    }

    void connectionDisconnectsFromAnotherThreadAndCancelsQueued()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        std::atomic<int> calls{0};
        const rio::Connection c = registry.connection(registry.add(
            worker.context, [&calls] { calls.fetch_add(1); }, {.connection = Qt::QueuedConnection}));
        auto gate = worker.block();
        registry.notify(1); // waits behind the blocked worker
        bool removed = false;
        std::thread other([&removed, copy = c] { removed = copy.disconnect(); });
        other.join();
        QVERIFY(removed);
        QVERIFY(!c.isConnected());
        gate->count_down();
        worker.flush();
        QCOMPARE(calls.load(), 0);
        // And the other way round: a connection checked on the worker thread.
        const rio::Connection d = registry.connection(registry.add([] { }));
        bool connected = false;
        worker.run([&] { connected = d.isConnected(); });
        QVERIFY(connected);
        worker.run([&] { connected = d.disconnect(); });
        QVERIFY(connected);
        QVERIFY(registry.isEmpty());
    }

    // --- setSuspended / isSuspended ---

    void suspendedDirectHandlerIsSkippedThenResumed()
    {
        rio::QtRegistry<int> registry;
        Receiver r;
        const rio::HandlerId id = registry.add(&r, &Receiver::onEvent);
        int others = 0;
        registry.add([&others] { ++others; });
        QVERIFY(!registry.isSuspended(id));
        QVERIFY(registry.setSuspended(id, true));
        QVERIFY(registry.isSuspended(id));
        registry.notify(1);
        QCOMPARE(r.calls.load(), 0);
        QCOMPARE(others, 1);
        QVERIFY(registry.contains(id));
        QCOMPARE(registry.size(), std::size_t{2});
        QVERIFY(registry.setSuspended(id, false));
        QVERIFY(!registry.isSuspended(id));
        registry.notify(2);
        QCOMPARE(r.calls.load(), 1);
        QCOMPARE(r.last.load(), 2);
        // Unknown and removed ids.
        QVERIFY(!registry.setSuspended(rio::HandlerId{}, true));
        QVERIFY(!registry.setSuspended(rio::HandlerId{12345}, true));
        QVERIFY(!registry.isSuspended(rio::HandlerId{12345}));
        QVERIFY(registry.setSuspended(id, true));
        QVERIFY(registry.remove(id));
        QVERIFY(!registry.isSuspended(id));
        QVERIFY(!registry.setSuspended(id, false));
    }

    void suspendedOnceHandlerIsNotUsedUp()
    {
        rio::QtRegistry<int> registry;
        int calls = 0;
        const rio::HandlerId id = registry.addOnce([&calls] { ++calls; });
        QVERIFY(registry.setSuspended(id, true));
        registry.notify(1);
        QCOMPARE(calls, 0);
        QVERIFY(registry.contains(id));
        QVERIFY(registry.setSuspended(id, false));
        registry.notify(2);
        registry.notify(3);
        QCOMPARE(calls, 1);
        QVERIFY(!registry.contains(id));
    }

    void suspendSkipsPendingQueuedDeliveries()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        std::atomic<int> calls{0};
        std::atomic<int> last{0};
        const rio::HandlerId id = registry.add(worker.context,
                                               [&](const int &v) {
                                                   last.store(v);
                                                   calls.fetch_add(1);
                                               },
                                               {.connection = Qt::QueuedConnection});
        auto gate = worker.block();
        registry.notify(1);
        registry.notify(2); // both wait behind the blocked worker
        QVERIFY(registry.setSuspended(id, true));
        gate->count_down();
        worker.flush(); // everything queued before has run (or been skipped)
        QCOMPARE(calls.load(), 0);
        registry.notify(3); // suspended: not even queued
        worker.flush();
        QCOMPARE(calls.load(), 0);
        QVERIFY(registry.setSuspended(id, false));
        registry.notify(4);
        QTRY_COMPARE(calls.load(), 1);
        QCOMPARE(last.load(), 4);
    }

    void eachSuspendedDropIsSignalledOnce()
    {
        // Each delivery of a suspended handler that comes up is one drop, signalled once with
        // its new total (deliveriesDropped counts the same drops as droppedCount).
        rio::QtRegistry<int> registry;
        Receiver r;
        Receiver sentinel;
        const rio::HandlerId id =
            registry.add(&r, &Receiver::onEvent, {.priority = 1, .connection = Qt::QueuedConnection});
        registry.add(&sentinel, &Receiver::onEvent, {.connection = Qt::QueuedConnection});
        QSignalSpy spy(&registry, &rio::QtRegistryBase::deliveriesDropped);
        for (int i = 1; i <= 3; ++i)
            registry.notify(i);
        QVERIFY(registry.setSuspended(id, true));
        QTRY_COMPARE(sentinel.calls.load(), 3);
        QVERIFY(registry.setSuspended(id, false));
        registry.notify(4);
        QTRY_COMPARE(sentinel.calls.load(), 4);
        QTRY_COMPARE(r.calls.load(), 1);
        QCOMPARE(registry.droppedCount(id), quint64{3});
        std::vector<quint64> totals;
        for (const QList<QVariant> &args : spy) {
            QCOMPARE(args.at(0).value<rio::HandlerId>(), id);
            totals.push_back(args.at(1).value<quint64>());
        }
        QCOMPARE(totals, (std::vector<quint64>{1, 2, 3}));
    }

    void suspendSkipsPendingCoalescedAndSameThreadQueued()
    {
        rio::QtRegistry<int> registry;
        Receiver latest;
        Receiver every;
        Receiver sentinel;
        const rio::HandlerId a = registry.add(
            &latest, &Receiver::onEvent,
            {.priority = 2, .connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
        const rio::HandlerId b =
            registry.add(&every, &Receiver::onEvent, {.priority = 1, .connection = Qt::QueuedConnection});
        registry.add(&sentinel, &Receiver::onEvent, {.connection = Qt::QueuedConnection});
        registry.notify(1);
        QVERIFY(registry.setSuspended(a, true));
        QVERIFY(registry.setSuspended(b, true));
        QTRY_COMPARE(sentinel.calls.load(), 1);
        QCoreApplication::processEvents();
        QCOMPARE(latest.calls.load(), 0);
        QCOMPARE(every.calls.load(), 0);
        QVERIFY(registry.setSuspended(a, false));
        QVERIFY(registry.setSuspended(b, false));
        registry.notify(2);
        QTRY_COMPARE(sentinel.calls.load(), 2);
        QTRY_COMPARE(latest.calls.load(), 1);
        QTRY_COMPARE(every.calls.load(), 1);
        QCOMPARE(every.last.load(), 2);
    }

    void suspendedHandlerDoesNotHoldUpAsyncNotify()
    {
        rio::QtRegistry<int> registry;
        Receiver r;
        const rio::HandlerId id = registry.add(&r, &Receiver::onEvent, {.connection = Qt::QueuedConnection});
        QVERIFY(registry.setSuspended(id, true));
        QFuture<void> future = registry.notifyAsync(1);
        QTRY_VERIFY(future.isFinished());
        QCOMPARE(r.calls.load(), 0);
    }
};

QTEST_GUILESS_MAIN(tst_QtConnect)
#include "tst_qt_connect.moc"
