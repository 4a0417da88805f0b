// SPDX-License-Identifier: MIT
// The facade's three rules, each attacked where it used to give way: user code (closure
// destructors, continuations, slots, callbacks) runs under no lock of the facade; no wait waits
// for the calling thread's own frames (a registry may be deleted from its own slots and
// callbacks, removeAndWait may run inside the delivery it covers); and removeAndWait and
// synchronize cover queued deliveries on every thread the handler runs on. A deadlock ends the
// test through a watchdog instead of hanging it.
#include "qt_test_support.h"

#include <registryio/handler_guard.h>
#include <registryio/qt/qt_registry.h>

#include <QFuture>
#include <QPointer>
#include <QTest>

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>

namespace {

using namespace std::chrono_literals;

// Long enough for a waiting call to be seen waiting, short enough for the suite: a handler that
// must outlive a removeAndWait or synchronize waits this long for the call to return first.
constexpr auto proofWindow = 1s;

// A latch that may be waited for with a timeout: true when it was released in time.
struct Flag
{
    std::promise<void> promise;
    std::shared_future<void> future = promise.get_future().share();
    void set() { promise.set_value(); }
    bool waitFor(std::chrono::milliseconds limit) const
    {
        return future.wait_for(limit) == std::future_status::ready;
    }
};

} // namespace

class tst_QtDiscipline : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // A handler's closure owns the guard of another handler of the same registry: the closure's
    // destruction (by whichever later add or remove reclaims it) removes that handler.
    void closureDestructorMayRemoveAHandlerOfTheSameRegistry()
    {
        riotest::Watchdog watchdog("closure destructor re-entering the registry");
        rio::QtRegistry<int> registry;
        auto guard = std::make_shared<rio::HandlerGuard>(registry.addScoped([] { }));
        const rio::HandlerId owner = registry.add([guard](const int &) { });
        guard.reset();
        QVERIFY(registry.remove(owner));
        for (int i = 0; i < 1000; ++i) // enough churn for the reclaim passes to run
            registry.remove(registry.add([](const int &) { }));
        registry.synchronize();
        QCOMPARE(registry.size(), std::size_t{0});
    }

    // A QVariant event whose value Qt keeps inline is copied by the value's copy constructor,
    // user code, which runs before any lock of the handler is taken: it may notify the same
    // registry, whatever the handler's connection and delivery and whether the notify is async.
    void variantEventCopyMayNotifyTheSameRegistry()
    {
        riotest::Watchdog watchdog("QVariant event copy re-entering the registry");
        riotest::Worker worker;
        QVERIFY(!riotest::inlineVariant(0).data_ptr().is_shared); // the value lies in the QVariant
        const std::pair<Qt::ConnectionType, rio::Delivery> kinds[] = {
            {Qt::QueuedConnection, rio::Delivery::Every},
            {Qt::AutoConnection, rio::Delivery::Every},
            {Qt::QueuedConnection, rio::Delivery::Latest}};
        for (const auto &[connection, delivery] : kinds) {
            for (const bool async : {false, true}) {
                rio::QtRegistry<QVariant> registry;
                std::atomic<int> sum{0};
                std::atomic<int> last{0};
                registry.add(worker.context,
                             [&](const QVariant &v) {
                                 sum.fetch_add(riotest::inlineVariantValue(v));
                                 last.store(riotest::inlineVariantValue(v));
                             },
                             {.connection = connection, .delivery = delivery});
                const QVariant event = riotest::inlineVariant(1);
                riotest::InlineVariantValue::onCopy = [&registry] {
                    registry.notify(riotest::inlineVariant(2));
                };
                if (async)
                    static_cast<void>(registry.notifyAsync(event));
                else
                    registry.notify(event);
                QVERIFY(!riotest::InlineVariantValue::onCopy); // copied, and it notified
                worker.flush();
                if (delivery == rio::Delivery::Every)
                    QCOMPARE(sum.load(), 3);
                else
                    QCOMPARE(last.load(), 1); // the newer notify
            }
        }
    }

    // Removing a handler with a queued delivery of notifyAsync finishes that future inside
    // remove(): its continuation may use the registry.
    void continuationRunByARemovalMayUseTheRegistry()
    {
        riotest::Watchdog watchdog("continuation run under the registry's lock");
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        const rio::HandlerId id =
            registry.add(worker.context, [](const int &) { }, {.connection = Qt::QueuedConnection});
        const rio::HandlerId other = registry.add([](const int &) { });
        auto gate = worker.block(); // the delivery stays queued
        std::atomic<bool> continued{false};
        QFuture<void> done = registry.notifyAsync(1).then(QtFuture::Launch::Sync, [&] {
            registry.remove(other); // takes the registry's lock
            continued = true;
        });
        QVERIFY(registry.remove(id)); // drops the delivery: the future finishes here
        gate->count_down();
        QVERIFY(continued.load());
        QVERIFY(!registry.contains(other));
        worker.flush();
    }

    // A queued delivery throws on the main thread; the handlerFailed slot deletes the registry.
    void registryMayBeDeletedFromItsHandlerFailedSlot()
    {
        riotest::Watchdog watchdog("delete from handlerFailed");
        QObject context;
        QPointer<rio::QtRegistry<int>> registry = new rio::QtRegistry<int>;
        registry->add(&context, [](const int &) { throw std::runtime_error("boom"); },
                      {.connection = Qt::QueuedConnection});
        QObject::connect(
            registry.data(), &rio::QtRegistryBase::handlerFailed, &context, [&] { delete registry.data(); },
            Qt::DirectConnection);
        registry->notify(1);
        QTRY_VERIFY(registry.isNull());
    }

    // The same from the exception callback, which runs before handlerFailed is emitted.
    void registryMayBeDeletedFromItsExceptionCallback()
    {
        riotest::Watchdog watchdog("delete from the exception callback");
        QObject context;
        QPointer<rio::QtRegistry<int>> registry = new rio::QtRegistry<int>;
        bool signalled = false;
        registry->add(&context, [](const int &) { throw std::runtime_error("boom"); },
                      {.connection = Qt::QueuedConnection});
        registry->setExceptionHandler([&](const rio::ExceptionInfo &) { delete registry.data(); });
        QObject::connect(
            registry.data(), &rio::QtRegistryBase::handlerFailed, &context, [&] { signalled = true; },
            Qt::DirectConnection);
        registry->notify(1);
        QTRY_VERIFY(registry.isNull());
        QVERIFY(!signalled); // nothing is emitted by a registry deleted meanwhile
    }

    // deliveriesDropped, emitted by the drain on the receiving thread, deletes the registry.
    void registryMayBeDeletedFromDeliveriesDroppedInADrain()
    {
        riotest::Watchdog watchdog("delete from deliveriesDropped in a drain");
        QObject context;
        QPointer<rio::QtRegistry<int>> registry = new rio::QtRegistry<int>;
        bool notifying = true;
        registry->add(
            &context, [](const int &) { },
            {.connection = Qt::QueuedConnection, .capacity = 1, .overflow = rio::Overflow::DropOldest});
        QObject::connect(
            registry.data(), &rio::QtRegistryBase::deliveriesDropped, &context,
            [&] {
                if (!notifying) // the drain's report, not the notify's
                    delete registry.data();
            },
            Qt::DirectConnection);
        for (int i = 0; i < 5; ++i)
            registry->notify(i);
        notifying = false;
        QTRY_VERIFY(registry.isNull());
    }

    // A context's destruction removes its handler; the countChanged slot deletes the registry.
    void registryMayBeDeletedFromCountChangedOfAContextRemoval()
    {
        riotest::Watchdog watchdog("delete from countChanged of a context removal");
        QObject observer;
        auto *context = new QObject;
        QPointer<rio::QtRegistry<int>> registry = new rio::QtRegistry<int>;
        registry->add(context, [](const int &) { });
        QObject::connect(
            registry.data(), &rio::QtRegistryBase::countChanged, &observer, [&] { delete registry.data(); },
            Qt::DirectConnection);
        delete context;
        QVERIFY(registry.isNull());
    }

    // A guard's removal goes through the registry's link; its countChanged slot deletes the
    // registry: the registry's link does not wait for that removal, which is its caller.
    void registryMayBeDeletedFromCountChangedOfAGuardRemoval()
    {
        riotest::Watchdog watchdog("delete from countChanged of a guard removal");
        QObject observer;
        QPointer<rio::QtRegistry<int>> registry = new rio::QtRegistry<int>;
        std::optional<rio::HandlerGuard> guard = registry->addScoped([](const int &) { });
        QObject::connect(
            registry.data(), &rio::QtRegistryBase::countChanged, &observer, [&] { delete registry.data(); },
            Qt::DirectConnection);
        guard.reset();
        QVERIFY(registry.isNull());
    }

    // remove(id); synchronize(); waits for a queued delivery of `id` already running.
    void synchronizeWaitsForARunningQueuedDelivery()
    {
        riotest::Watchdog watchdog("synchronize and a queued delivery");
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        std::latch entered(1);
        Flag returned;
        std::atomic<bool> finished{false};
        const rio::HandlerId id =
            registry.add(worker.context,
                         [&](const int &) {
                             entered.count_down();
                             returned.waitFor(proofWindow); // a synchronize that does not wait returns first
                             finished = true;
                         },
                         {.connection = Qt::QueuedConnection});
        registry.notify(1);
        entered.wait();
        registry.remove(id);
        registry.synchronize();
        const bool sawFinished = finished.load();
        returned.set();
        QVERIFY(sawFinished);
        worker.flush();
    }

    // Delivery 1 runs on T2 and moves the context to T1; delivery 2 runs on T1. removeAndWait on
    // T1 (outside the handler) still waits for delivery 1 on T2.
    void removeAndWaitCoversEveryThreadTheHandlerRunsOn()
    {
        riotest::Watchdog watchdog("removeAndWait after a move");
        riotest::Worker t1;
        riotest::Worker t2;
        rio::QtRegistry<int> registry;
        QObject *context = nullptr;
        t2.run([&] { context = new QObject; });
        std::latch moved(1);
        std::latch secondRan(1);
        Flag returned;
        std::atomic<bool> firstFinished{false};
        const rio::HandlerId id =
            registry.add(context,
                         [&](const int &event) {
                             if (event == 1) {
                                 context->moveToThread(t1.thread());
                                 moved.count_down();
                                 returned.waitFor(proofWindow);
                                 firstFinished = true;
                             } else {
                                 secondRan.count_down();
                             }
                         },
                         {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
        registry.notify(1);
        moved.wait();
        registry.notify(2);
        secondRan.wait();
        bool sawFinished = false;
        t1.run([&] {
            registry.removeAndWait(id);
            sawFinished = firstFinished.load();
            returned.set();
        });
        QVERIFY(sawFinished);
        t2.flush();
        t1.run([&] { delete context; });
    }

    // The same handler, with delivery 1 calling removeAndWait itself after delivery 2 ran on T1:
    // it does not wait for itself.
    void removeAndWaitInsideADeliveryAfterAMoveDoesNotWaitForItself()
    {
        riotest::Watchdog watchdog("removeAndWait inside its own delivery after a move");
        riotest::Worker t1;
        riotest::Worker t2;
        rio::QtRegistry<int> registry;
        QObject *context = nullptr;
        t2.run([&] { context = new QObject; });
        std::latch moved(1);
        std::latch secondRan(1);
        std::latch removed(1);
        rio::HandlerId id;
        std::atomic<bool> removedInside{false};
        id = registry.add(context,
                          [&](const int &event) {
                              if (event == 1) {
                                  context->moveToThread(t1.thread());
                                  moved.count_down();
                                  secondRan.wait();
                                  removedInside = registry.removeAndWait(id);
                                  removed.count_down();
                              } else {
                                  secondRan.count_down();
                              }
                          },
                          {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
        registry.notify(1);
        moved.wait();
        registry.notify(2);
        removed.wait();
        QVERIFY(removedInside.load());
        t2.flush();
        t1.run([&] { delete context; });
    }
};

QTEST_GUILESS_MAIN(tst_QtDiscipline)
#include "tst_qt_discipline.moc"
