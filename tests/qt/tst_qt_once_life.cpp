// SPDX-License-Identifier: MIT
// A fired once-handler's life: it stays reachable from its registry until its one queued
// delivery ran or was dropped, so every way of removing it (remove, removeAndWait, synchronize
// after a remove, a guard, a Connection, clear, its context's death, the registry's destruction)
// cancels that delivery and counts it as dropped for the right reason, also when its loop
// reaches it while the removal is under way; once the delivery ran, nothing of it is kept.
#include "qt_handler_testing_p.h"
#include "qt_test_support.h"

#include <registryio/connection.h>
#include <registryio/qt/qt_registry.h>

#include <QRegularExpression>
#include <QSignalSpy>
#include <QTest>

#include <atomic>
#include <latch>
#include <memory>
#include <optional>

namespace {

enum class How {
    Remove,
    RemoveAndWait,
    Synchronize,
    Guard,
    Connection,
    Clear,
    ContextDeleted,
    RegistryDeleted
};

// What the handler's closure reads: freed with the registry in the RegistryDeleted case, so a
// delivery that still ran would read freed memory (AddressSanitizer reports it).
struct ClosureState
{
    std::atomic<int> calls{0};
};

// The cancellation window a test holds open (setQtCancelTestHook): the cancellation of `id`,
// its flag set and its lock not yet taken, opens the receiving loop and waits until it handled
// what was queued.
struct CancelWindow
{
    static inline rio::HandlerId id;
    static inline std::latch *loop = nullptr;    // the receiving loop's gate
    static inline std::latch *handled = nullptr; // counted down behind the delivery
    static inline std::atomic<bool> opened{false};

    static void hook(rio::HandlerId cancelled)
    {
        if (cancelled != id || opened.exchange(true))
            return;
        loop->count_down();
        handled->wait();
    }
};

class Receiver : public QObject
{
public:
    std::atomic<int> calls{0};
    void onEvent(const int &) { calls.fetch_add(1); }
};

} // namespace

Q_DECLARE_METATYPE(How)

class tst_QtOnceLife : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void firedOnceDeliveryIsCancelledByEveryRemoval_data()
    {
        QTest::addColumn<How>("how");
        QTest::addColumn<bool>("latest");
        QTest::addColumn<bool>("onWorker");
        QTest::addColumn<bool>("member");
        const std::pair<const char *, How> hows[] = {
            {"remove", How::Remove},
            {"removeAndWait", How::RemoveAndWait},
            {"remove+synchronize", How::Synchronize},
            {"guard", How::Guard},
            {"connection", How::Connection},
            {"clear", How::Clear},
            {"context deleted", How::ContextDeleted},
            {"registry deleted", How::RegistryDeleted},
        };
        for (const auto &[name, how] : hows) {
            for (const bool latest : {false, true}) {
                for (const bool onWorker : {false, true}) {
                    QTest::addRow("%s, %s, %s", name, latest ? "Latest" : "Every",
                                  onWorker ? "worker" : "main")
                        << how << latest << onWorker << false;
                }
            }
            QTest::addRow("%s, member function", name) << how << false << false << true;
        }
    }

    // add(context, f, {.connection = Qt::QueuedConnection, .once = true}), notify, then the
    // removal before the receiving loop runs: the delivery never runs, and is counted.
    void firedOnceDeliveryIsCancelledByEveryRemoval()
    {
        QFETCH(How, how);
        QFETCH(bool, latest);
        QFETCH(bool, onWorker);
        QFETCH(bool, member);
        riotest::LogCapture log;
        std::optional<riotest::Worker> worker;
        QObject *context = nullptr;
        Receiver *receiver = nullptr;
        // The worker's loop is held until the removal is done (also when a check fails); a
        // context that dies is deleted there, ahead of the delivery.
        std::latch gate(1);
        class Open
        {
        public:
            explicit Open(std::latch &gate) : m_gate(gate) { }
            Open(const Open &) = delete;
            Open &operator=(const Open &) = delete;
            ~Open() { m_gate.count_down(); }

        private:
            std::latch &m_gate;
        };
        std::optional<Open> open;
        std::atomic<bool> deleteOnWorker{false};
        if (onWorker) {
            worker.emplace();
            worker->run([&] { context = new QObject; });
            std::latch entered(1);
            {
                [[maybe_unused]] const rio::detail::TsanPostScope posting;
                QMetaObject::invokeMethod(worker->runner, rio::detail::Handover([&, doomed = context] {
                                              entered.count_down();
                                              gate.wait();
                                              if (deleteOnWorker.load())
                                                  delete doomed;
                                          }));
            }
            entered.wait();
            open.emplace(gate);
        } else if (member) {
            context = receiver = new Receiver;
        } else {
            context = new QObject;
        }
        auto state = std::make_unique<ClosureState>();
        std::atomic<int> calls{0};
        const auto handler = [s = state.get(), &calls] {
            calls.fetch_add(1);
            s->calls.fetch_add(1);
        };
        auto registry = std::make_unique<rio::QtRegistry<int>>();
        QSignalSpy dropped(registry.get(), &rio::QtRegistryBase::deliveriesDropped);
        const rio::HandlerOptions options{.connection = Qt::QueuedConnection,
                                          .delivery = latest ? rio::Delivery::Latest : rio::Delivery::Every,
                                          .once = true};
        rio::HandlerGuard guard;
        if (how == How::Guard)
            guard = member ? registry->addScoped(receiver, &Receiver::onEvent, options)
                           : registry->addScoped(context, handler, options);
        const rio::HandlerId id = how == How::Guard ? guard.id()
                                  : member          ? registry->add(receiver, &Receiver::onEvent, options)
                                                    : registry->add(context, handler, options);
        const rio::Connection connection = registry->connection(id);
        registry->notify(1);
        registry->notify(2);
        QCOMPARE(registry->count(), 0); // fired: no longer registered
        QVERIFY(!registry->contains(id));

        switch (how) {
        case How::Remove:
            QVERIFY(!registry->remove(id)); // its firing removed it; this cancels its delivery
            break;
        case How::RemoveAndWait:
            QVERIFY(!registry->removeAndWait(id));
            break;
        case How::Synchronize:
            registry->remove(id);
            registry->synchronize();
            break;
        case How::Guard:
            QVERIFY(!guard.reset());
            break;
        case How::Connection:
            QVERIFY(!connection.disconnect());
            break;
        case How::Clear:
            registry->clear();
            break;
        case How::ContextDeleted:
            if (worker)
                deleteOnWorker.store(true);
            else
                delete context;
            context = nullptr;
            receiver = nullptr; // it was the context
            break;
        case How::RegistryDeleted:
            registry.reset();
            state.reset(); // freed with the registry: a delivery now would read freed memory
            break;
        }
        open.reset();
        if (worker)
            worker->flush();
        QCoreApplication::sendPostedEvents();
        QCoreApplication::processEvents();
        QCOMPARE(calls.load(), 0);
        if (receiver != nullptr)
            QCOMPARE(receiver->calls.load(), 0);

        // Counted as dropped, for the reason of its removal.
        const QString reason = how == How::ContextDeleted
                                   ? QStringLiteral("its context was destroyed with deliveries waiting")
                                   : QStringLiteral("it was removed with deliveries waiting");
        const QRegularExpression line(
            QStringLiteral("^handler %1 .*, added at .*tst_qt_once_life\\.cpp:\\d+: "
                           "1 queued deliveries dropped so far \\(%2\\)$")
                .arg(id.value())
                .arg(reason));
        QVERIFY2(log.messages().indexOf(line) >= 0, qPrintable(log.messages().join(QLatin1Char('\n'))));
        if (registry) { // a destroyed registry emits nothing: the log has it
            QCOMPARE(dropped.size(), 1);
            QCOMPARE(dropped.at(0).at(0).value<rio::HandlerId>(), id);
            QCOMPARE(dropped.at(0).at(1).value<quint64>(), quint64{1});
        }
        if (context != nullptr) {
            if (worker)
                worker->run([context] { delete context; });
            else
                delete context;
        }
    }

    void deliveryMeetingItsCancellationIsCounted_data()
    {
        QTest::addColumn<bool>("latest");
        QTest::addColumn<bool>("once");
        QTest::addColumn<Qt::ConnectionType>("connection");
        QTest::addRow("Every, once") << false << true << Qt::QueuedConnection;
        QTest::addRow("Latest, once") << true << true << Qt::QueuedConnection;
        QTest::addRow("Latest, Auto") << true << false << Qt::AutoConnection;     // its pending payload
        QTest::addRow("Latest, Queued") << true << false << Qt::QueuedConnection; // its cell
    }

    // A queued delivery (a fired once-handler's among them) that its loop reaches after
    // removeAndWait set the handler's cancelled flag, before that removal took its lock: it
    // does not run, and the removal counts it as dropped (it was neither run nor counted).
    void deliveryMeetingItsCancellationIsCounted()
    {
        QFETCH(bool, latest);
        QFETCH(bool, once);
        QFETCH(Qt::ConnectionType, connection);
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        QSignalSpy dropped(&registry, &rio::QtRegistryBase::deliveriesDropped);
        std::atomic<int> calls{0};
        const std::shared_ptr<std::latch> loop = worker.block();
        const rio::HandlerId id =
            registry.add(worker.context, [&calls] { calls.fetch_add(1); },
                         {.connection = connection,
                          .delivery = latest ? rio::Delivery::Latest : rio::Delivery::Every,
                          .once = once});
        registry.notify(1);
        std::latch handled(1);
        {
            [[maybe_unused]] const rio::detail::TsanPostScope posting;
            QMetaObject::invokeMethod(worker.runner,
                                      rio::detail::Handover([&handled] { handled.count_down(); }));
        }
        CancelWindow::id = id;
        CancelWindow::loop = loop.get();
        CancelWindow::handled = &handled;
        CancelWindow::opened.store(false);
        rio::detail::setQtCancelTestHook(&CancelWindow::hook);
        const bool removed = registry.removeAndWait(id);
        rio::detail::setQtCancelTestHook(nullptr);
        if (!CancelWindow::opened.exchange(true))
            loop->count_down(); // never reached: the loop is let go all the same
        worker.flush();
        QCOMPARE(removed, !once); // a fired once-handler is no longer registered
        QCOMPARE(calls.load(), 0);
        QCOMPARE(dropped.size(), 1);
    }

    // Once its delivery ran, a fired once-handler keeps nothing: its closure is destroyed (after
    // the reclamation synchronize() runs), and removing it changes nothing.
    void firedOnceHandlerIsForgottenAfterItsDelivery()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        auto sentinel = std::make_shared<int>(0);
        std::atomic<int> calls{0};
        const rio::HandlerId every =
            registry.add(worker.context, [sentinel, &calls] { calls.fetch_add(1); }, {.once = true});
        const rio::HandlerId latest = registry.add(worker.context, [sentinel, &calls] { calls.fetch_add(1); },
                                                   {.delivery = rio::Delivery::Latest, .once = true});
        QCOMPARE(sentinel.use_count(), 3);
        registry.notify(1);
        worker.flush();
        QCOMPARE(calls.load(), 2);
        registry.synchronize();
        QTRY_COMPARE(sentinel.use_count(), 1L);
        QSignalSpy dropped(&registry, &rio::QtRegistryBase::deliveriesDropped);
        QVERIFY(!registry.remove(every));
        QVERIFY(!registry.removeAndWait(latest));
        QCOMPARE(dropped.size(), 0);
    }

    // A fired once-handler is no longer registered: it cannot be suspended, and its delivery
    // still runs.
    void firedOnceHandlerCannotBeSuspended()
    {
        rio::QtRegistry<int> registry;
        QObject context;
        std::atomic<int> calls{0};
        const rio::HandlerId id = registry.add(&context, [&calls] { calls.fetch_add(1); },
                                               {.connection = Qt::QueuedConnection, .once = true});
        registry.notify(1);
        QVERIFY(!registry.setSuspended(id, true));
        QVERIFY(!registry.isSuspended(id));
        QCoreApplication::processEvents();
        QCOMPARE(calls.load(), 1);
    }

    // A once-handler run by notifySequential through its queue is cancelled by a removal made
    // before its step's delivery runs.
    void sequentialOnceStepIsCancelledByRemoval()
    {
        rio::QtRegistry<int> registry;
        QObject context;
        std::atomic<int> calls{0};
        const rio::HandlerId id = registry.add(&context, [&calls] { calls.fetch_add(1); },
                                               {.connection = Qt::QueuedConnection, .once = true});
        QFuture<void> done = registry.notifySequential(1);
        QVERIFY(!registry.remove(id));
        QCoreApplication::sendPostedEvents();
        QCoreApplication::processEvents();
        QCOMPARE(calls.load(), 0);
        QTRY_VERIFY(done.isFinished());
    }
};

QTEST_GUILESS_MAIN(tst_QtOnceLife)
#include "tst_qt_once_life.moc"
