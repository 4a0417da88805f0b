// SPDX-License-Identifier: MIT
// Exceptions never escape into Qt's event loop: in every delivery mode they reach the exception
// callback, the handlerFailed signal and the `registryio` logging category.
#include "qt_test_support.h"

#include <registryio/qt/qt_registry.h>

#include <QFuture>
#include <QSignalSpy>
#include <QTest>

#include <atomic>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace {

// The three channels of one registry.
class Channels
{
public:
    explicit Channels(rio::QtRegistry<int> &registry) : spy(&registry, &rio::QtRegistryBase::handlerFailed)
    {
        registry.setExceptionHandler([this](const rio::ExceptionInfo &info) {
            std::lock_guard lock(mutex);
            ids.push_back(info.handlerId);
            messages.push_back(QString::fromStdString(info.message));
            hasException.push_back(static_cast<bool>(info.exception));
        });
    }

    // Waits for `n` failures (the log line is the last channel written) and checks all three.
    void expect(int n, rio::HandlerId id, const QString &message)
    {
        QTRY_COMPARE_WITH_TIMEOUT(log.count(), n, 10000);
        {
            QCOMPARE(log.count(), n);
            QCOMPARE(spy.count(), n);
            std::lock_guard lock(mutex);
            QCOMPARE(static_cast<int>(ids.size()), n);
            for (int i = 0; i < n; ++i) {
                QCOMPARE(ids[i], id);
                QCOMPARE(messages[i], message);
                QVERIFY(hasException[i]);
                QCOMPARE(spy.at(i).at(0).value<rio::HandlerId>(), id);
                QCOMPARE(spy.at(i).at(1).toString(), message);
                QVERIFY(log.messages().at(i).contains(message));
                QVERIFY(log.messages().at(i).contains(QString::number(id.value())));
            }
        }
    }

    riotest::LogCapture log;
    QSignalSpy spy;
    std::mutex mutex;
    std::vector<rio::HandlerId> ids;
    QStringList messages;
    std::vector<bool> hasException;
};

// Checks the channels and leaves the test function on failure.
#define EXPECT_FAILURES(channels, ...)                                                                       \
    do {                                                                                                     \
        (channels).expect(__VA_ARGS__);                                                                      \
        if (QTest::currentTestFailed())                                                                      \
            return;                                                                                          \
    } while (false)

[[noreturn]] void fail(const int &)
{
    throw std::runtime_error("handler failed");
}

const QString failMessage = QStringLiteral("handler failed");

} // namespace

class tst_QtExceptions : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void plainHandler()
    {
        rio::QtRegistry<int> registry;
        Channels channels(registry);
        std::atomic<int> sibling{0};
        const rio::HandlerId id = registry.add(&fail, 1);
        registry.add([&sibling] { sibling.fetch_add(1); });
        registry.notify(1);
        EXPECT_FAILURES(channels, 1, id, failMessage);
        QCOMPARE(sibling.load(), 1); // one failure never stops its siblings
    }

    void directAndAutoOnSameThread()
    {
        rio::QtRegistry<int> registry;
        Channels channels(registry);
        QObject context;
        const rio::HandlerId direct = registry.add(&context, &fail, {.connection = Qt::DirectConnection});
        registry.notify(1);
        EXPECT_FAILURES(channels, 1, direct, failMessage);
        registry.remove(direct);
        Channels again(registry);
        const rio::HandlerId autoId = registry.add(&context, &fail, {.connection = Qt::AutoConnection});
        registry.notify(1);
        EXPECT_FAILURES(again, 1, autoId, failMessage);
    }

    void queuedToOtherThread()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        Channels channels(registry);
        std::atomic<int> sibling{0};
        const rio::HandlerId id =
            registry.add(worker.context, &fail, {.priority = 1, .connection = Qt::QueuedConnection});
        registry.add(worker.context, [&sibling] { sibling.fetch_add(1); },
                     {.connection = Qt::QueuedConnection});
        registry.notify(1);
        EXPECT_FAILURES(channels, 1, id, failMessage);
        worker.flush();
        QCOMPARE(sibling.load(), 1); // the worker's event loop survived and went on
    }

    void autoToOtherThread()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        Channels channels(registry);
        const rio::HandlerId id = registry.add(worker.context, &fail);
        registry.notify(1);
        EXPECT_FAILURES(channels, 1, id, failMessage);
    }

    void queuedOnSameThread()
    {
        rio::QtRegistry<int> registry;
        Channels channels(registry);
        QObject context;
        const rio::HandlerId id = registry.add(&context, &fail, {.connection = Qt::QueuedConnection});
        registry.notify(1);
        EXPECT_FAILURES(channels, 1, id, failMessage); // QTRY spins the main loop
    }

    void blockingQueued()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        Channels channels(registry);
        const rio::HandlerId id =
            registry.add(worker.context, &fail, {.connection = Qt::BlockingQueuedConnection});
        registry.notify(1); // returns although the handler threw on the worker
        EXPECT_FAILURES(channels, 1, id, failMessage);
    }

    void coalesced()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        Channels channels(registry);
        const rio::HandlerId id = registry.add(worker.context, &fail, {.delivery = rio::Delivery::Latest});
        auto gate = worker.block();
        for (int i = 0; i < 100; ++i)
            registry.notify(i);
        gate->count_down();
        EXPECT_FAILURES(channels, 1, id, failMessage); // one delivery, one failure
    }

    void onceQueued()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        Channels channels(registry);
        const rio::HandlerId id = registry.add(worker.context, &fail, {.once = true});
        registry.notify(1);
        registry.notify(2);
        EXPECT_FAILURES(channels, 1, id, failMessage);
    }

    void asyncHandlers()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        Channels channels(registry);
        const rio::HandlerId id = registry.add(worker.context, &fail);
        QFuture<void> future = registry.notifyAsync(1);
        QTRY_VERIFY(future.isFinished());
        QVERIFY(!future.isCanceled());
        EXPECT_FAILURES(channels, 1, id, failMessage);

        Channels sequential(registry);
        QFuture<void> second = registry.notifySequential(1);
        QTRY_VERIFY(second.isFinished());
        EXPECT_FAILURES(sequential, 1, id, failMessage);
    }

    void failedHandlerFuture()
    {
        rio::QtRegistry<int> registry;
        Channels channels(registry);
        const rio::HandlerId id = registry.add([] {
            return QtFuture::makeExceptionalFuture<void>(
                std::make_exception_ptr(std::runtime_error("handler failed")));
        });
        QFuture<void> future = registry.notifyAsync(1);
        QTRY_VERIFY(future.isFinished());
        EXPECT_FAILURES(channels, 1, id, failMessage);
        registry.notify(1); // a plain notify reports a failed returned future too
        EXPECT_FAILURES(channels, 2, id, failMessage);
    }

    void nonStandardExceptionHasEmptyMessage()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        Channels channels(registry);
        const rio::HandlerId id = registry.add(worker.context, [] { throw 42; });
        registry.notify(1);
        EXPECT_FAILURES(channels, 1, id, QString());
    }

    void throwingCallbackIsSwallowed()
    {
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        riotest::LogCapture log;
        std::atomic<int> signalled{0}; // failures arrive on two threads at once: no QSignalSpy
        connect(
            &registry, &rio::QtRegistryBase::handlerFailed, this, [&signalled] { signalled.fetch_add(1); },
            Qt::DirectConnection);
        registry.setExceptionHandler([](const rio::ExceptionInfo &) { throw std::logic_error("callback"); });
        registry.add(worker.context, &fail);
        registry.add(&fail);
        registry.notify(1);
        QTRY_COMPARE(log.count(), 2);
        QCOMPARE(signalled.load(), 2);
    }

    // HandlerId travels through queued signal connections (it is a registered metatype).
    void handlerFailedThroughQueuedConnection()
    {
        rio::QtRegistry<int> registry;
        riotest::LogCapture log;
        QObject receiver;
        std::atomic<quint64> received{0};
        connect(
            &registry, &rio::QtRegistryBase::handlerFailed, &receiver,
            [&received](rio::HandlerId id, const QString &) { received.store(id.value()); },
            Qt::QueuedConnection);
        const rio::HandlerId id = registry.add(&fail);
        registry.notify(1);
        QCOMPARE(received.load(), quint64{0}); // queued: not yet
        QTRY_COMPARE(received.load(), id.value());
    }

    void handlerFailedQueuedAcrossThreads()
    {
#if defined(RIO_TSAN)
        // Qt copies the QString argument into its (uninstrumented) event and frees it on the
        // receiving thread; TSan cannot see that handover. The same-thread test covers the
        // metatype; the delivery of failures from other threads is covered above.
        QSKIP("queued signal arguments are handed over invisibly to ThreadSanitizer");
#endif
        riotest::Worker worker;
        rio::QtRegistry<int> registry;
        riotest::LogCapture log;
        QObject receiver;
        std::atomic<quint64> received{0};
        connect(
            &registry, &rio::QtRegistryBase::handlerFailed, &receiver,
            [&received](rio::HandlerId id, const QString &) { received.store(id.value()); },
            Qt::QueuedConnection);
        const rio::HandlerId id = registry.add(worker.context, &fail);
        registry.notify(1);
        QTRY_COMPARE(received.load(), id.value());
    }
};

QTEST_GUILESS_MAIN(tst_QtExceptions)
#include "tst_qt_exceptions.moc"
