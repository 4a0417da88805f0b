// SPDX-License-Identifier: MIT
// Thread cancellation (pthread_exit, pthread_cancel) inside a handler ends that thread and
// nothing else, as it does inside a Qt slot: the facade never swallows the unwinding, and the
// registry goes on serving the other threads.
#include "qt_test_support.h"

#include <registryio/qt/qt_registry.h>

#include <QFuture>
#include <QTest>
#include <QThread>

#include <pthread.h>

#include <atomic>
#include <latch>
#include <thread>

namespace {

// A thread with an event loop whose context object is created on it and handed over to the
// test once the thread has ended (a handler ends it).
class LoopThread : public QThread
{
public:
    void run() override
    {
        context = new QObject;
        ready.count_down();
        exec();
    }
    std::latch ready{1};
    QObject *context = nullptr;
};

void exitThisThread(bool cancel)
{
    if (cancel) {
        pthread_cancel(pthread_self());
        pthread_testcancel();
    }
    pthread_exit(nullptr);
}

} // namespace

class tst_QtCancel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        if (RIO_TEST_SANITIZED_THREAD)
            QSKIP("ThreadSanitizer does not follow a thread that unwinds through pthread_exit");
    }

    void cancellationInAQueuedHandlerEndsOnlyThatThread_data()
    {
        QTest::addColumn<bool>("cancel");
        QTest::addColumn<bool>("latest");
        QTest::newRow("pthread_exit, every") << false << false;
        QTest::newRow("pthread_cancel, every") << true << false;
        QTest::newRow("pthread_exit, latest") << false << true;
    }

    void cancellationInAQueuedHandlerEndsOnlyThatThread()
    {
        QFETCH(bool, cancel);
        QFETCH(bool, latest);
        rio::QtRegistry<int> registry;
        LoopThread thread;
        thread.start();
        thread.ready.wait();
        std::atomic<int> calls{0};
        const rio::HandlerOptions options{.connection = Qt::QueuedConnection,
                                          .delivery = latest ? rio::Delivery::Latest : rio::Delivery::Every};
        registry.add(
            thread.context,
            [&, cancel](const int &) {
                ++calls;
                exitThisThread(cancel);
            },
            options);
        QObject here;
        std::atomic<int> afterwards{0};
        registry.add(&here, [&](const int &) { ++afterwards; }, {.connection = Qt::QueuedConnection});
        registry.notify(1);
        QVERIFY(thread.wait(QDeadlineTimer(10000)));
        QCOMPARE(calls.load(), 1);
        QTRY_COMPARE(afterwards.load(), 1);
        registry.notify(2); // the registry still serves the living threads
        QTRY_COMPARE(afterwards.load(), 2);
        delete thread.context; // its thread has ended
    }

    // notifySequential runs a handler without context on the notifying thread.
    void cancellationInASequentialStepEndsOnlyThatThread()
    {
        rio::QtRegistry<int> registry;
        std::atomic<int> calls{0};
        registry.add([&](const int &) {
            ++calls;
            pthread_exit(nullptr);
        });
        std::thread notifier([&] { static_cast<void>(registry.notifySequential(1)); });
        notifier.join();
        QCOMPARE(calls.load(), 1);
    }
};

QTEST_GUILESS_MAIN(tst_QtCancel)
#include "tst_qt_cancel.moc"
