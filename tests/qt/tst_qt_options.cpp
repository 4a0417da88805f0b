// SPDX-License-Identifier: MIT
// The registration shape of QtRegistry: add(f, priority), add(context, f, options) and
// add(receiver, &Class::method, options), their scoped variants and addOnce(f, priority). Every
// option combines with every form: once with coalesced, bounded and blocking deliveries, scoped
// member functions that run once, priorities given as an option, and bad options refused by every
// form without a change.
#include "qt_test_support.h"

#include <registryio/qt/qt_registry.h>

#include <QCoreApplication>
#include <QSignalSpy>
#include <QTest>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

class Receiver : public QObject
{
    Q_OBJECT
public:
    std::atomic<int> calls{0};
    std::atomic<int> last{0};
    void onEvent(const int &value)
    {
        last.store(value);
        calls.fetch_add(1);
    }
};

constexpr Qt::ConnectionType withFlag(Qt::ConnectionType type, Qt::ConnectionType flag)
{
    return static_cast<Qt::ConnectionType>(static_cast<int>(type) | static_cast<int>(flag));
}

using Registry = rio::QtRegistry<int>;
void handler(const int &) { }

// One shape per form: the context forms take options, never a bare priority or connection type,
// and `once` with a context is an option, not an addOnce overload (templates: a requires-expression
// only answers for dependent expressions).
template <typename R>
constexpr bool takesOptions = requires(R &r, QObject *o) { r.add(o, handler, {.priority = 1}); };
template <typename R>
constexpr bool takesPriority = requires(R &r) {
    r.add(handler, 1);
    r.addOnce(handler, 1);
    r.addScoped(handler, 1);
};
template <typename R>
constexpr bool contextTakesPriority = requires(R &r, QObject *o) { r.add(o, handler, 1); };
template <typename R>
constexpr bool contextTakesType = requires(R &r, QObject *o) { r.add(o, handler, 0, Qt::QueuedConnection); };
template <typename R>
constexpr bool contextOnce = requires(R &r, QObject *o) { r.addOnce(o, handler); };
template <typename R>
constexpr bool memberOnce = requires(R &r, Receiver *o) { r.addOnce(o, &Receiver::onEvent); };
static_assert(takesOptions<Registry> && takesPriority<Registry>);
static_assert(!contextTakesPriority<Registry> && !contextTakesType<Registry>);
static_assert(!contextOnce<Registry> && !memberOnce<Registry>);

} // namespace

class tst_QtOptions : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void onceWithLatestRunsOnceOnTheContextThread()
    {
        riotest::Worker worker;
        Registry registry;
        std::atomic<int> calls{0};
        std::atomic<int> last{0};
        std::atomic<QThread *> ranOn{nullptr};
        const auto gate = worker.block(); // the deliveries wait while we notify
        const rio::HandlerId id = registry.add(worker.context,
                                               [&](const int &v) {
                                                   ranOn.store(QThread::currentThread());
                                                   last.store(v);
                                                   calls.fetch_add(1);
                                               },
                                               {.delivery = rio::Delivery::Latest, .once = true});
        QVERIFY(id.isValid());
        for (int i = 1; i <= 5; ++i)
            registry.notify(i);
        QVERIFY(!registry.contains(id)); // fired at the first notify
        gate->count_down();
        worker.flush();
        QCOMPARE(calls.load(), 1);
        QCOMPARE(last.load(), 1);
        QCOMPARE(ranOn.load(), worker.thread());
        QCOMPARE(registry.size(), std::size_t{0});
    }

    void onceWithABoundedQueueRunsOnce()
    {
        QObject context;
        Registry registry;
        std::vector<int> seen;
        const rio::HandlerId id = registry.add(&context, [&seen](const int &v) { seen.push_back(v); },
                                               {.connection = Qt::QueuedConnection,
                                                .capacity = 1,
                                                .overflow = rio::Overflow::DropNewest,
                                                .once = true});
        for (int i = 1; i <= 5; ++i)
            registry.notify(i);
        QCoreApplication::sendPostedEvents(); // the drain is posted to the thread, not to the context
        QCOMPARE(seen, std::vector<int>{1});
        QVERIFY(!registry.contains(id));
        QCOMPARE(registry.droppedCount(id), quint64{0});
    }

    // A once-handler's typed part (its closure) lives until its queued delivery ran, and not
    // longer: the closure, and what it owns, is destroyed when the delivery is done.
    void onceQueuedClosureIsDestroyedAfterItsDelivery_data()
    {
        QTest::addColumn<bool>("latest");
        QTest::newRow("every") << false;
        QTest::newRow("latest") << true;
    }
    void onceQueuedClosureIsDestroyedAfterItsDelivery()
    {
        QFETCH(bool, latest);
        QObject context;
        Registry registry;
        auto owned = std::make_shared<int>(0);
        const std::weak_ptr<int> watch = owned;
        registry.add(&context, [owned = std::move(owned)](const int &v) { *owned += v; },
                     {.connection = Qt::QueuedConnection,
                      .delivery = latest ? rio::Delivery::Latest : rio::Delivery::Every,
                      .once = true});
        registry.notify(7);
        QVERIFY(!watch.expired()); // the delivery is still queued
        QCoreApplication::sendPostedEvents();
        registry.synchronize(); // the core's retired entry goes with a reclaim pass
        QVERIFY2(watch.expired(), "the fired once-handler's closure outlives its delivery");
        QCOMPARE(registry.size(), std::size_t{0});
    }

    void onceWithBlockingQueuedRunsOnceBeforeTheNotifyReturns()
    {
        riotest::Worker worker;
        Registry registry;
        std::atomic<int> calls{0};
        registry.add(worker.context, [&calls] { calls.fetch_add(1); },
                     {.connection = Qt::BlockingQueuedConnection, .once = true});
        registry.notify(1);
        QCOMPARE(calls.load(), 1);
        registry.notify(2);
        worker.flush();
        QCOMPARE(calls.load(), 1);
    }

    void scopedMemberOnceRunsOnceAndLeavesAnInertGuard()
    {
        Registry registry;
        Receiver r;
        {
            rio::HandlerGuard guard =
                registry.addScoped(&r, &Receiver::onEvent, {.priority = 2, .once = true});
            QVERIFY(guard.isActive());
            registry.notify(7);
            registry.notify(8);
            QCOMPARE(r.calls.load(), 1);
            QCOMPARE(r.last.load(), 7);
            QVERIFY(registry.isEmpty());
        } // the guard of a fired handler removes nothing and does not throw
        QVERIFY(registry.isEmpty());
    }

    void scopedContextOnceQueuedRunsOnce()
    {
        riotest::Worker worker;
        Registry registry;
        std::atomic<int> calls{0};
        rio::HandlerGuard guard = registry.addScoped(worker.context, [&calls] { calls.fetch_add(1); },
                                                     {.connection = Qt::QueuedConnection, .once = true});
        registry.notify(1);
        registry.notify(2);
        QTRY_COMPARE(calls.load(), 1);
        worker.flush();
        QCOMPARE(calls.load(), 1);
        QVERIFY(registry.isEmpty());
    }

    void scopedMemberGuardCancelsAPendingDelivery()
    {
        Registry registry;
        Receiver r;
        {
            rio::HandlerGuard guard =
                registry.addScoped(&r, &Receiver::onEvent, {.connection = Qt::QueuedConnection});
            registry.notify(1);
        }
        QCoreApplication::sendPostedEvents();
        QCOMPARE(r.calls.load(), 0);
        QVERIFY(registry.isEmpty());
    }

    void uniqueOnceMemberIsRefusedUntilItFired()
    {
        Registry registry;
        Receiver r;
        const rio::HandlerOptions uniqueOnce{
            .connection = withFlag(Qt::DirectConnection, Qt::UniqueConnection), .once = true};
        QVERIFY(registry.add(&r, &Receiver::onEvent, uniqueOnce).isValid());
        QVERIFY(!registry.add(&r, &Receiver::onEvent, uniqueOnce).isValid());
        QCOMPARE(registry.size(), std::size_t{1});
        registry.notify(1); // fires and leaves: the key is free again
        QVERIFY(registry.add(&r, &Receiver::onEvent, uniqueOnce).isValid());
        registry.notify(2);
        QCOMPARE(r.calls.load(), 2);
    }

    void priorityOptionOrdersEveryForm()
    {
        QObject context;
        Registry registry;
        Receiver r;
        std::string order;
        registry.add(&context, [&order] { order += 'a'; }, {.priority = 1});
        registry.add([&order] { order += 'b'; }, 3);
        registry.add(&context, [&order] { order += 'c'; },
                     {.priority = 5, .connection = Qt::DirectConnection});
        registry.add(&r, &Receiver::onEvent, {.priority = 4});
        registry.add(&context, [&order] { order += 'd'; }); // priority 0
        registry.notify(1);
        QCOMPARE(order, std::string("cbad"));
        QCOMPARE(r.calls.load(), 1);
    }

    void badOptionsAreRefusedByEveryFormWithoutAChange_data()
    {
        QTest::addColumn<int>("form");
        QTest::addColumn<int>("bad");
        const char *forms[] = {"add(context)", "add(member)", "addScoped(context)", "addScoped(member)"};
        const char *bads[] = {"Latest+Direct", "minInterval+Every", "unknown type", "Unique on lambda"};
        for (int f = 0; f < 4; ++f)
            for (int b = 0; b < 4; ++b) {
                if (b == 3 && (f == 1 || f == 3))
                    continue; // Unique is valid on a member function
                QTest::addRow("%s %s", forms[f], bads[b]) << f << b;
            }
    }

    void badOptionsAreRefusedByEveryFormWithoutAChange()
    {
        QFETCH(int, form);
        QFETCH(int, bad);
        using namespace std::chrono_literals;
        const rio::HandlerOptions options[] = {
            {.connection = Qt::DirectConnection, .delivery = rio::Delivery::Latest, .once = true},
            {.minInterval = 5ms, .once = true},
            {.connection = static_cast<Qt::ConnectionType>(7)},
            {.connection = withFlag(Qt::AutoConnection, Qt::UniqueConnection)},
        };
        QObject context;
        Registry registry;
        Receiver r;
        QSignalSpy counted(&registry, &rio::QtRegistryBase::countChanged);
        const auto attempt = [&] {
            switch (form) {
            case 0:
                registry.add(&context, handler, options[bad]);
                break;
            case 1:
                registry.add(&r, &Receiver::onEvent, options[bad]);
                break;
            case 2:
                (void)registry.addScoped(&context, handler, options[bad]);
                break;
            default:
                (void)registry.addScoped(&r, &Receiver::onEvent, options[bad]);
                break;
            }
        };
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, attempt());
        QCOMPARE(registry.size(), std::size_t{0});
        QCOMPARE(counted.count(), 0);
        registry.notify(1);
        QCOMPARE(r.calls.load(), 0);
    }
};

QTEST_GUILESS_MAIN(tst_QtOptions)
#include "tst_qt_options.moc"
