// SPDX-License-Identifier: MIT
// A queued delivery whose memory cannot be had on the notifying thread is reported as that
// handler's failure and changes nothing: the event is neither half-queued nor silently lost,
// and the handler (with every other handler of the registry on the receiving thread) gets the
// next event. Each allocation of one notify is refused in turn, one per run, until a run meets
// no allocation left to refuse.
//
// Replaces the global operator new (so not run under the sanitizers, which replace it too). Qt's
// own containers allocate with malloc and are not refused here; every allocation RegistryIO
// makes with new, make_shared and the standard containers is.
#include "../replaced_operator_new.h"
#include "qt_test_support.h"

#include <registryio/qt/latest_value.h>
#include <registryio/qt/qt_registry.h>

#include <QCoreApplication>
#include <QFuture>
#include <QLoggingCategory>
#include <QScopeGuard>
#include <QString>
#include <QTest>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <numeric>
#include <thread>
#include <utility>
#include <vector>

namespace {

thread_local long t_refuseAt = 0; // the allocation of this thread to refuse (1-based), 0: none
thread_local long t_seen = 0;     // allocations of this thread since it was armed
thread_local std::function<void()> *t_whileRefusing = nullptr; // run once, just before the refusal
std::atomic<bool> refusedOne{false};

// While alive, the `at`-th allocation of this thread is refused (only that one).
struct RefuseAllocation
{
    explicit RefuseAllocation(long at)
    {
        t_seen = 0;
        t_refuseAt = at;
    }
    ~RefuseAllocation() { t_refuseAt = 0; }
    RefuseAllocation(const RefuseAllocation &) = delete;
    RefuseAllocation &operator=(const RefuseAllocation &) = delete;
};

// The allocations of write(1) ... write(writes) on `worker`'s thread (counted, none refused).
template <typename F>
long allocationsOn(riotest::Worker &worker, int writes, F write)
{
    long allocations = -1;
    worker.run([&] {
        const RefuseAllocation count(std::numeric_limits<long>::max());
        for (int i = 1; i <= writes; ++i)
            write(i);
        allocations = t_seen;
    });
    return allocations;
}

// A registry's failures and drop signals, counted where they are emitted.
struct Reported
{
    explicit Reported(rio::QtRegistryBase &registry)
    {
        QObject::connect(
            &registry, &rio::QtRegistryBase::handlerFailed, &registry,
            [this](rio::HandlerId, const QString &) { failures.fetch_add(1); }, Qt::DirectConnection);
        QObject::connect(
            &registry, &rio::QtRegistryBase::deliveriesDropped, &registry,
            [this](rio::HandlerId, quint64) { dropSignals.fetch_add(1); }, Qt::DirectConnection);
    }
    std::atomic<int> failures{0};
    std::atomic<int> dropSignals{0};
};

// One handler on the test thread: what it received, and the failures reported for it.
struct Side
{
    rio::HandlerId id;
    std::vector<int> got; // the test thread only
    std::atomic<int> failures{0};
};

} // namespace

// Refuses the chosen one: see replaced_operator_new.h.
void rioBeforeAllocation()
{
    if (t_refuseAt != 0 && ++t_seen == t_refuseAt) {
        refusedOne.store(true);
        if (std::function<void()> *f = std::exchange(t_whileRefusing, nullptr))
            (*f)();
        throw std::bad_alloc();
    }
}

class tst_QtAllocFailure : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void refusedAllocationIsReportedAndChangesNothing_data();
    void refusedAllocationIsReportedAndChangesNothing();
    void refusedAllocationInAddChangesNothing_data();
    void refusedAllocationInAddChangesNothing();
    void refusedBlockingDeliveryIsAFailureNotADrop();
    void aRefusedPushToAFullDropOldestQueueDropsNothing();
    void aLatestWriterOfASmallEventAllocatesNothing();
    void aRefusedLatestScheduleLeavesOtherWritersEventsDelivered();
    void aLatestValueSetIsReportedWhenRefusedAndTheNextOneShows_data();
    void aLatestValueSetIsReportedWhenRefusedAndTheNextOneShows();
    void anAsyncDeliveryAllocatesNoMoreThanAPlainOne();
};

// What a notifyAsync allocates more than a notify, with `handlers` queued handlers whose queues
// were used before (a notify then allocates only its drain's Qt event).
template <typename E>
long asyncExtraAllocations(int handlers, const E &event)
{
    QObject receiver; // on the test thread: its deliveries run when posted events are sent
    rio::QtRegistry<E> registry;
    for (int i = 0; i < handlers; ++i)
        registry.add(&receiver, [](const E &) { }, {.connection = Qt::QueuedConnection});
    const auto allocations = [&](const auto &notify) {
        for (int i = 0; i < 2; ++i) { // warms both segments of each queue
            notify();
            QCoreApplication::sendPostedEvents();
        }
        long n = 0;
        {
            const RefuseAllocation count(std::numeric_limits<long>::max()); // counts, refuses none
            notify();
            n = t_seen;
        }
        QCoreApplication::sendPostedEvents();
        return n;
    };
    const long plain = allocations([&] { registry.notify(event); });
    const long a = allocations([&] { static_cast<void>(registry.notifyAsync(event)); });
    return a - plain;
}

// Delivery::Latest of a small trivially copyable event, queued: once its delivery is scheduled,
// a writer's notifies allocate nothing (they only replace the event in the handler's cell), and
// the one delivery brings the last.
void tst_QtAllocFailure::aLatestWriterOfASmallEventAllocatesNothing()
{
    QObject receiver; // on the test thread, which runs no event loop while the worker writes
    rio::QtRegistry<int> registry;
    int got = 0;
    int calls = 0;
    registry.add(&receiver,
                 [&](int v) {
                     got = v;
                     ++calls;
                 },
                 {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
    riotest::Worker worker;
    worker.run([] { rio::prepareThread(); });
    worker.run([&] { registry.notify(0); }); // schedules the delivery: Qt's event is allocated
    constexpr int writes = 100000;
    QCOMPARE(allocationsOn(worker, writes, [&](int i) { registry.notify(i); }), 0L);
    QTRY_COMPARE(got, writes);
    QCOMPARE(calls, 1);
}

// Delivery::Latest of a small event, queued: a writer whose scheduling of the delivery is refused
// reports its failure, and an event another writer notifies meanwhile (finding that schedule
// under way) is still delivered: that writer's notify succeeded and was the last.
void tst_QtAllocFailure::aRefusedLatestScheduleLeavesOtherWritersEventsDelivered()
{
    QObject receiver; // on the test thread
    rio::QtRegistry<int> registry;
    std::atomic<int> failures{0};
    QObject::connect(
        &registry, &rio::QtRegistryBase::handlerFailed, &registry,
        [&](rio::HandlerId, const QString &) { failures.fetch_add(1); }, Qt::DirectConnection);
    int got = -1;
    registry.add(&receiver, [&](int v) { got = v; },
                 {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
    riotest::Worker first;
    first.run([] { rio::prepareThread(); });
    first.run([&] { registry.notify(0); });
    QTRY_COMPARE(got, 0);
    QCoreApplication::sendPostedEvents();
    // The second writer notifies from inside the first one's refused allocation. It may wait for
    // the first (which holds the handler's lock): the first waits for it only a bounded while.
    std::mutex m;
    std::condition_variable cv;
    bool secondDone = false;
    std::thread second;
    std::function<void()> meanwhile = [&] {
        second = std::thread([&] {
            registry.notify(2);
            const std::lock_guard lock(m);
            secondDone = true;
            cv.notify_all();
        });
        std::unique_lock lock(m);
        cv.wait_for(lock, std::chrono::milliseconds(500), [&] { return secondDone; });
    };
    first.run([&] {
        const RefuseAllocation refuse(1);
        t_whileRefusing = &meanwhile;
        registry.notify(1);
        t_whileRefusing = nullptr;
    });
    QVERIFY(refusedOne.load());
    second.join();
    QTRY_COMPARE(got, 2);
    QCOMPARE(failures.load(), 1);
}

namespace {

std::atomic<int> failuresLogged{0}; // `registryio` warnings of a failed handler
QtMessageHandler previousHandler = nullptr;

void countFailures(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    if (type == QtWarningMsg && qstrcmp(context.category, "registryio") == 0 && message.contains(" failed: "))
        failuresLogged.fetch_add(1);
    else
        previousHandler(type, context, message);
}

// A latest value of a small event (its cell) or of a large one (a shared copy per set).
template <typename T>
void setEachAllocationRefused(T (*make)(int))
{
    riotest::Worker worker; // the setting thread
    previousHandler = qInstallMessageHandler(countFailures);
    int injected = 0;
    for (long at = 1; at <= 400; ++at) {
        rio::LatestValue<T> latest; // on the test thread
        worker.run([&] { latest.set(make(0)); });
        QTRY_VERIFY(latest.get() == make(0));
        QCoreApplication::sendPostedEvents(); // an idle thread: the next set schedules a delivery
        refusedOne.store(false);
        failuresLogged.store(0);
        worker.run([&] {
            const RefuseAllocation refuse(at);
            latest.set(make(1)); // noexcept: a refusal that escaped would terminate
        });
        const bool refused = refusedOne.load();
        QCOMPARE(failuresLogged.load(), refused ? 1 : 0);
        if (!refused)
            QTRY_VERIFY(latest.get() == make(1));
        worker.run([&] { latest.set(make(2)); });
        QTRY_VERIFY2(latest.get() == make(2),
                     qPrintable(QStringLiteral("refusing allocation %1 left the next set unshown").arg(at)));
        if (!refused)
            break; // this set made fewer than `at` allocations: every one was refused once
        ++injected;
        QVERIFY2(at < 400, "the set kept allocating");
    }
    qInstallMessageHandler(previousHandler);
    QVERIFY2(injected >= 1, "no allocation was refused");
    qInfo("%d allocations of the set refused, one per run", injected);
}

} // namespace

void tst_QtAllocFailure::aLatestValueSetIsReportedWhenRefusedAndTheNextOneShows_data()
{
    QTest::addColumn<bool>("large"); // a QString: copied once per set
    QTest::newRow("small") << false;
    QTest::newRow("large") << true;
}

// LatestValue::set from another thread: once its delivery is scheduled, a small value's sets
// allocate nothing. Each allocation a set makes (scheduling the delivery, a large value's copy) is
// refused in turn, one per run: the set returns, its failure is logged on the `registryio`
// category, and the next set is shown.
void tst_QtAllocFailure::aLatestValueSetIsReportedWhenRefusedAndTheNextOneShows()
{
    QFETCH(bool, large);
    if (large) {
        setEachAllocationRefused<QString>([](int i) { return QString::number(i); });
        return;
    }
    setEachAllocationRefused<int>([](int i) { return i; });
    rio::LatestValue<int> latest;
    riotest::Worker worker;
    worker.run([&] { latest.set(0); }); // schedules the delivery
    constexpr int writes = 100000;
    QCOMPARE(allocationsOn(worker, writes, [&](int i) { latest.set(i); }), 0L);
    QTRY_COMPARE(latest.get(), writes);
}

// A queued delivery of a notifyAsync carries its token in its queue entry: the notify's join is
// its only extra allocation, however many handlers it queues for, whether the event waits by
// value or as the notify's one shared copy.
void tst_QtAllocFailure::anAsyncDeliveryAllocatesNoMoreThanAPlainOne()
{
    const long byValue = asyncExtraAllocations(1, 7);
    QVERIFY(byValue > 0); // the join
    QCOMPARE(asyncExtraAllocations(8, 7), byValue);
    const QString text = QStringLiteral("a shared event");
    const long shared = asyncExtraAllocations(1, text);
    QCOMPARE(asyncExtraAllocations(8, text), shared);
}

void tst_QtAllocFailure::refusedAllocationIsReportedAndChangesNothing_data()
{
    QTest::addColumn<bool>("latest"); // the handler under test coalesces
    QTest::addColumn<bool>("warm");   // its queue and the mailbox were used before
    QTest::addColumn<bool>("async");  // notifyAsync: the future must still finish
    QTest::newRow("every, first delivery") << false << false << false;
    QTest::newRow("every, warm") << false << true << false;
    QTest::newRow("every, notifyAsync") << false << false << true;
    QTest::newRow("latest, first delivery") << true << false << false;
    QTest::newRow("latest, warm") << true << true << false;
    QTest::newRow("latest, notifyAsync") << true << true << true;
}

void tst_QtAllocFailure::refusedAllocationIsReportedAndChangesNothing()
{
    QFETCH(bool, latest);
    QFETCH(bool, warm);
    QFETCH(bool, async);
    riotest::Worker worker; // the notifying thread
    // A thread's first notify allocates its reader record, and terminates without one (see
    // rio::prepareThread in docs/API.md): that one is made here, out of the sweep.
    worker.run([] { rio::prepareThread(); });
    int runs = 0;
    int injected = 0;
    for (long at = 1; at <= 400; ++at) {
        QObject receiver; // on the test thread
        rio::QtRegistry<int> registry;
        Side tested; // the handler whose allocation may be refused
        Side other;  // another handler listed in the same mailbox
        QObject::connect(
            &registry, &rio::QtRegistryBase::handlerFailed, &registry,
            [&](rio::HandlerId id, const QString &) {
                (id == tested.id ? tested : other).failures.fetch_add(1);
            },
            Qt::DirectConnection);
        rio::HandlerOptions options{.priority = 1};
        if (latest)
            options.delivery = rio::Delivery::Latest;
        tested.id = registry.add(&receiver, [&](int v) { tested.got.push_back(v); }, options);
        other.id = registry.add(&receiver, [&](int v) { other.got.push_back(v); });
        const auto delivered = [](const Side &s, int v) { return !s.got.empty() && s.got.back() == v; };
        if (warm) {
            worker.run([&] { registry.notify(0); });
            QTRY_VERIFY(delivered(tested, 0) && delivered(other, 0));
            // A drain posts a follow-up drain event (for nested event loops) before it delivers:
            // QTRY_VERIFY may return with it still queued (Qt 6.8's does, 6.4's went on
            // processing events), and a notify then finds the mailbox already posted and
            // allocates nothing. Run it now: the mailbox is idle, as after any quiet spell.
            QCoreApplication::sendPostedEvents();
        }

        // The notify whose `at`-th allocation on the worker is refused.
        refusedOne.store(false);
        QFuture<void> future;
        worker.run([&] {
            const RefuseAllocation refuse(at);
            if (async) {
                try {
                    future = registry.notifyAsync(1);
                } catch (const std::bad_alloc &) {
                    // Refused before any handler ran: a clear error, nothing queued.
                }
            } else {
                registry.notify(1); // noexcept: a refusal that escaped would terminate
            }
        });
        const bool refused = refusedOne.load();
        ++runs;
        // Each handler gets event 1 or has a failure reported; then both get event 2.
        QTRY_VERIFY(((delivered(tested, 1) || tested.failures.load() > 0) &&
                     (delivered(other, 1) || other.failures.load() > 0)) ||
                    (async && !future.isValid()));
        worker.run([&] { registry.notify(2); });
        QTRY_VERIFY2(
            delivered(tested, 2) && delivered(other, 2),
            qPrintable(QStringLiteral("refusing allocation %1 left a handler without later events").arg(at)));
        if (future.isValid())
            QTRY_VERIFY2(
                future.isFinished(),
                qPrintable(QStringLiteral("refusing allocation %1 left the future unfinished").arg(at)));
        for (Side *s : {&tested, &other}) {
            // Written out whole: a copied vector grown by push_back makes GCC 14 warn
            // (-Warray-bounds, a false positive) at -O2.
            const bool gotOne = s->failures.load() == 0 && !(async && !future.isValid());
            const std::vector<int> expected =
                warm ? (gotOne ? std::vector<int>{0, 1, 2} : std::vector<int>{0, 2})
                     : (gotOne ? std::vector<int>{1, 2} : std::vector<int>{2});
            QVERIFY2(s->got == expected,
                     qPrintable(QStringLiteral("refusing allocation %1: a handler got %2 events, expected %3")
                                    .arg(at)
                                    .arg(s->got.size())
                                    .arg(expected.size())));
            QVERIFY(s->failures.load() <= 1);
        }
        if (!refused)
            break; // this notify made fewer than `at` allocations: every one was refused once
        ++injected;
        QVERIFY2(at < 400, "the notify kept allocating");
    }
    // The sweep is only worth something if the path allocates at all.
    QVERIFY2(injected >= 1, qPrintable(QStringLiteral("no allocation was refused in %1 runs").arg(runs)));
    qInfo("%d allocations of the notify refused, one per run", injected);
}

void tst_QtAllocFailure::refusedAllocationInAddChangesNothing_data()
{
    QTest::addColumn<bool>("member"); // add(receiver, &Class::method) instead of a closure
    QTest::newRow("closure") << false;
    QTest::newRow("member") << true;
}

// Each allocation of add(context, ...) refused in turn, QObject::connect's among them: the add
// throws std::bad_alloc and the registry is as before (no handler half registered); the same
// add then succeeds and its handler runs and goes with its context.
void tst_QtAllocFailure::refusedAllocationInAddChangesNothing()
{
    QFETCH(bool, member);
    int injected = 0;
    for (long at = 1; at <= 400; ++at) {
        rio::QtRegistry<int> registry;
        auto *context = new QObject;
        int calls = 0;
        refusedOne.store(false);
        rio::HandlerId id;
        bool threw = false;
        try {
            const RefuseAllocation refuse(at);
            if (member)
                id = registry.add(context, &QObject::deleteLater);
            else
                id = registry.add(context, [&](const int &) { ++calls; });
        } catch (const std::bad_alloc &) {
            threw = true;
        }
        if (threw) {
            ++injected;
            QVERIFY2(registry.size() == 0 && registry.count() == 0,
                     qPrintable(QStringLiteral("refusing allocation %1 left a handler registered").arg(at)));
            registry.notify(1);
            QCOMPARE(calls, 0);
            id = registry.add(context, [&](const int &) { ++calls; });
        } else {
            QVERIFY(!refusedOne.load() || id.isValid());
        }
        QVERIFY(registry.contains(id));
        if (!member || threw) {
            registry.notify(2);
            QCOMPARE(calls, 1);
        }
        delete context; // removes the handler
        QCOMPARE(registry.size(), std::size_t{0});
        if (!refusedOne.load())
            break;
        QVERIFY2(at < 400, "add kept allocating");
    }
    QVERIFY(injected >= 1);
    qInfo("%d allocations of add refused, one per run", injected);
}

// A BlockingQueued notify whose allocations (the core's, Qt's event and slot object) are refused
// one by one: the handler runs, or its failure is reported; never a drop as well.
void tst_QtAllocFailure::refusedBlockingDeliveryIsAFailureNotADrop()
{
    int injected = 0;
    for (long at = 1; at <= 400; ++at) {
        QObject receiver; // on the test thread
        rio::QtRegistry<int> registry;
        Reported reported(registry);
        std::vector<int> got; // the test thread only
        const rio::HandlerId id = registry.add(&receiver, [&](int v) { got.push_back(v); },
                                               {.connection = Qt::BlockingQueuedConnection});
        refusedOne.store(false);
        std::atomic<bool> finished{false};
        std::thread notifier([&] {
            rio::prepareThread();
            static_cast<void>(QThread::currentThread()); // Qt's record of this thread, made first
            {
                const RefuseAllocation refuse(at);
                registry.notify(1); // noexcept: a refusal that escaped would terminate
            }
            finished.store(true);
        });
        QTRY_VERIFY_WITH_TIMEOUT(finished.load(), 30000); // runs the delivery, if it was posted
        notifier.join();
        QCOMPARE(int(got.size()) + reported.failures.load(), 1);
        QCOMPARE(reported.dropSignals.load(), 0);
        QCOMPARE(registry.droppedCount(id), quint64{0});
        if (!refusedOne.load())
            break; // this notify made fewer than `at` allocations: every one was refused once
        ++injected;
        QVERIFY2(at < 400, "the notify kept allocating");
    }
    QVERIFY2(injected >= 1, "no allocation was refused");
    qInfo("%d allocations of the blocking notify refused, one per run", injected);
}

// A full DropOldest queue drops its oldest only once the new delivery is queued: each allocation
// of the notify that would drop it refused in turn, it is the handler's failure and drops nothing
// (no count, no signal, the oldest still delivered); unrefused, the oldest is dropped.
void tst_QtAllocFailure::aRefusedPushToAFullDropOldestQueueDropsNothing()
{
    // Not logged: the drop's line allocates in Qt's message handler, and a refusal there ends the
    // process (QDebug's destructor is noexcept), which is no part of the queue's promise.
    QLoggingCategory::setFilterRules(QStringLiteral("registryio.warning=false"));
    const auto logged = qScopeGuard([] { QLoggingCategory::setFilterRules(QString()); });
    constexpr int Capacity = 8; // a full first chunk of the queue: the next delivery needs another
    riotest::Worker worker;     // the notifying thread
    worker.run([] { rio::prepareThread(); });
    int injected = 0;
    for (long at = 1; at <= 400; ++at) {
        QObject receiver; // on the test thread: nothing is delivered until the test runs its events
        rio::QtRegistry<int> registry;
        Reported reported(registry);
        std::vector<int> got; // the test thread only
        const rio::HandlerId id = registry.add(&receiver, [&](int v) { got.push_back(v); },
                                               {.capacity = Capacity, .overflow = rio::Overflow::DropOldest});
        worker.run([&] {
            for (int i = 0; i < Capacity; ++i)
                registry.notify(i);
        });
        refusedOne.store(false);
        worker.run([&] {
            const RefuseAllocation refuse(at);
            registry.notify(Capacity); // noexcept: a refusal that escaped would terminate
        });
        const bool queueRefused = refusedOne.load();
        QTRY_COMPARE(int(got.size()), Capacity);
        QCoreApplication::sendPostedEvents(); // nothing more comes
        std::vector<int> expected(Capacity);
        std::iota(expected.begin(), expected.end(), queueRefused ? 0 : 1);
        QCOMPARE(got, expected);
        QCOMPARE(reported.failures.load(), queueRefused ? 1 : 0);
        QCOMPARE(registry.droppedCount(id), quint64(queueRefused ? 0 : 1));
        QCOMPARE(reported.dropSignals.load() != 0, !queueRefused);
        if (!queueRefused)
            break; // this notify made fewer than `at` allocations: every one was refused once
        ++injected;
        QVERIFY2(at < 400, "the notify kept allocating");
    }
    QVERIFY2(injected >= 1, "no allocation was refused");
    qInfo("%d allocations of the notify into a full queue refused, one per run", injected);
}

QTEST_GUILESS_MAIN(tst_QtAllocFailure)
#include "tst_qt_alloc_failure.moc"
