// SPDX-License-Identifier: MIT
// Queued delivery across the life of threads and of the application: the application ends with
// a drain or a blocking delivery pending on its main thread, a thread ends and a slot on its finished() moves
// a receiver to the main thread, an application event filter notifies while a first delivery goes to a new
// thread. What would hang for good runs in a child process, under a deadline.
#include "qt_test_support.h"

#include <registryio/qt/detail/qt_handler.h>
#include <registryio/qt/qt_registry.h>

#include <QDeadlineTimer>
#include <QScopeGuard>
#include <QSemaphore>
#include <QTest>
#include <QTimer>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace {

constexpr const char *childVariable = "RIO_THREAD_LIFE_CHILD";

// Runs `run` in the calling thread's TLS destructors (made before the registry's per-thread
// state when the thread sets it first).
struct AtThreadExit
{
    std::function<void()> run;
    AtThreadExit() = default;
    AtThreadExit(const AtThreadExit &) = delete;
    AtThreadExit &operator=(const AtThreadExit &) = delete;
    ~AtThreadExit()
    {
        if (run)
            run();
    }
};
thread_local AtThreadExit atThreadExit;

// A QThread of QThread's own size running `threadBody`: a plain QThread can take its address
// once it is deleted.
std::function<void()> threadBody;
class BodyThread final : public QThread
{
public:
    using QThread::QThread;

protected:
    void run() override { threadBody(); }
};
static_assert(sizeof(BodyThread) == sizeof(QThread));

// An application singleton holds a registry and a main-thread receiver; a worker stopped after
// exec() returned notifies on its way out, so a drain is pending when the application ends.
int childExitWithDrainPending(int argc, char **argv)
{
    static rio::QtRegistry<int> registry;
    static QObject receiver;
    auto app = std::make_unique<QCoreApplication>(argc, argv);
    registry.add(&receiver, [](int) { }, {.connection = Qt::QueuedConnection});
    QThread worker;
    QObject::connect(&worker, &QThread::finished, [] { registry.notify(1); });
    worker.start();
    QTimer::singleShot(0, app.get(), &QCoreApplication::quit);
    QCoreApplication::exec();
    worker.quit();
    worker.wait();
    app.reset(); // discards the pending drain
    std::puts("exited");
    return 0;
}

// Marks when the BlockingQueued delivery to `target` is in the main thread's event queue: Qt asks
// the application whether to compress each event posted to a receiver that has others waiting.
class MarkingApplication : public QCoreApplication
{
public:
    using QCoreApplication::QCoreApplication;
    QObject *target = nullptr;
    std::atomic<bool> posted{false};

protected:
    bool compressEvent(QEvent *event, QObject *receiver, QPostEventList *list) override
    {
        if (receiver == target && event->type() == QEvent::MetaCall)
            posted.store(true);
        return QCoreApplication::compressEvent(event, receiver, list);
    }
};

// The application ends while a worker waits in a BlockingQueued notify to a main-thread receiver;
// a deliveriesDropped slot posts an event to the main thread. Qt discards the delivery under
// its post-event lock: the drop is reported (once, to the slot) where that lock is not held.
int childExitWithBlockingDeliveryPending(int argc, char **argv)
{
    static rio::QtRegistry<int> registry;
    static QObject receiver;
    static std::atomic<int> reported{0};
    auto app = std::make_unique<MarkingApplication>(argc, argv);
    app->target = &receiver;
    registry.add(&receiver, [](int) { }, {.connection = Qt::BlockingQueuedConnection});
    QObject::connect(&registry, &rio::QtRegistryBase::deliveriesDropped, [](rio::HandlerId, quint64) {
        reported.fetch_add(1);
        QCoreApplication::postEvent(&receiver, new QEvent(QEvent::User));
    });
    QCoreApplication::postEvent(&receiver, new QEvent(QEvent::User)); // so the next is compared
    std::thread notifier([] { registry.notify(1); });
    while (!app->posted.load())
        std::this_thread::yield();
    app.reset(); // discards the pending delivery
    notifier.join();
    std::printf("exited, %d drop(s) reported\n", reported.load());
    return reported.load() == 1 ? 0 : 1;
}

// An activity tap: an application event filter that notifies a registry when an object changes
// thread (once: the notify may itself bring an object to a thread).
class Tap : public QObject
{
public:
    explicit Tap(rio::QtRegistry<int> &registry) : m_registry(registry) { }
    bool eventFilter(QObject *watched, QEvent *event) override
    {
        if (event->type() == QEvent::ThreadChange && !m_notified.exchange(true))
            m_registry.notify(-1);
        return QObject::eventFilter(watched, event);
    }

private:
    rio::QtRegistry<int> &m_registry;
    std::atomic<bool> m_notified{false};
};

// The first queued delivery to a worker thread, with the tap installed.
int childEventFilterNotifies(int argc, char **argv)
{
    const QCoreApplication app(argc, argv);
    rio::QtRegistry<int> registry;
    Tap tap(registry);
    QCoreApplication::instance()->installEventFilter(&tap);
    std::atomic<int> calls{0};
    {
        riotest::Worker worker;
        registry.add(worker.context, [&calls](int) { calls.fetch_add(1); });
        registry.notify(1);
        worker.flush();
        worker.flush(); // the tap's notify, if any, was posted after the first flush began
    }
    QCoreApplication::instance()->removeEventFilter(&tap);
    std::printf("delivered %d\n", calls.load());
    return calls.load() >= 1 ? 0 : 1;
}

// Runs this executable as the child `name` (with posix_spawn, which ThreadSanitizer handles,
// unlike QProcess's clone-based fork); fails unless it exits with 0 within the deadline.
void runChild(const char *name)
{
    int out[2];
    QVERIFY(::pipe2(out, O_CLOEXEC) == 0);
    std::vector<std::string> environment;
    for (char **e = environ; *e != nullptr; ++e)
        environment.emplace_back(*e);
    // append(), not operator+: g++ 12 at -O2 may report a false -Warray-bounds in the latter's
    // inlined string move, depending on its inlining (with a precompiled header, it does).
    environment.push_back(std::string(childVariable).append("=").append(name));
    std::vector<char *> envp;
    for (std::string &e : environment)
        envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string path = QCoreApplication::applicationFilePath().toStdString();
    char *argv[] = {path.data(), nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    pid_t pid = 0;
    const int spawned = ::posix_spawn(&pid, path.c_str(), &actions, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    if (spawned != 0)
        ::close(out[0]);
    QCOMPARE(spawned, 0);
    // Its standard output ends when it exits (generous: a loaded machine).
    const QDeadlineTimer deadline(RIO_TEST_SANITIZED ? 120000 : 60000);
    QByteArray output;
    bool exited = false;
    while (!exited && !deadline.hasExpired()) {
        pollfd p{out[0], POLLIN, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(deadline.remainingTime()));
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            break;
        char buffer[256];
        const ssize_t n = ::read(out[0], buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0)
            output.append(buffer, n);
        else
            exited = true;
    }
    ::close(out[0]);
    if (!exited)
        ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    QVERIFY2(exited,
             qPrintable(
                 QStringLiteral("child '%1' still running at the deadline: hung").arg(QLatin1String(name))));
    QVERIFY2(WIFEXITED(status) && WEXITSTATUS(status) == 0, output.constData());
}

// A QThread that stays alive after its event loop returned, until released.
class GatedThread : public QThread
{
public:
    void run() override
    {
        exec();
        loopDone.count_down();
        gate.wait();
    }
    std::latch loopDone{1};
    std::latch gate{1};
};

} // namespace

class tst_QtThreadLife : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // The application ends with a drain pending on its main thread (its registry and receiver
    // outlive it): the process exits, as with a Qt queued signal pending.
    void applicationExitsWithDrainPending() { runChild("exit"); }

    // The application ends with a BlockingQueued delivery pending on its main thread and a
    // deliveriesDropped slot that posts to that thread: the process exits, the drop reported.
    void applicationExitsWithBlockingDeliveryPending() { runChild("blocking"); }

    // An application event filter that notifies a registry sees no object change thread under
    // the registry's locks: the first delivery to a new thread does not deadlock.
    void eventFilterNotifiesOnThreadChange() { runChild("filter"); }

    // A receiver moved back to the main thread by a slot on its thread's finished(), after the
    // registry's own: the deliveries waiting for the ended thread arrive on the main thread
    // (as a Qt queued signal's would), before its QThread is deleted.
    void deliveriesFollowAReceiverMovedInFinished()
    {
#if defined(RIO_TSAN)
        QSKIP("Qt-internal handover in moveToThread is invisible to ThreadSanitizer");
#endif
        rio::QtRegistry<int> registry;
        GatedThread a;
        auto *receiver = new QObject;
        receiver->moveToThread(&a);
        a.start();
        std::atomic<int> calls{0};
        std::atomic<int> last{-1};
        std::atomic<QThread *> where{nullptr};
        registry.add(receiver, [&](int v) {
            where.store(QThread::currentThread());
            last.store(v);
            calls.fetch_add(1);
        });
        registry.notify(0); // the registry's watch of `a` is connected first
        QTRY_COMPARE_WITH_TIMEOUT(calls.load(), 1, 10000);
        QThread *const mainThread = QThread::currentThread();
        QObject::connect(&a, &QThread::finished, receiver,
                         [receiver, mainThread] { receiver->moveToThread(mainThread); });
        a.quit();
        a.loopDone.wait();
        for (int i = 1; i <= 3; ++i)
            registry.notify(i);
        a.gate.count_down();
        QVERIFY(a.wait(30000));
        QTRY_COMPARE_WITH_TIMEOUT(calls.load(), 4, 10000);
        QCOMPARE(last.load(), 3);
        QCOMPARE(where.load(), mainThread);
        registry.notify(4); // and later ones arrive there too
        QTRY_COMPARE_WITH_TIMEOUT(calls.load(), 5, 10000);
        delete receiver;
        QCOMPARE(registry.count(), 0);
    }

    // An Auto handler whose context moved to the notifying thread with a delivery still waiting
    // (queued while it lived on another thread): a notify from its new thread runs it directly,
    // ahead of that delivery, as a Qt direct call would; a coalesced handler's scheduled delivery
    // takes the newer event instead, so the newest is the last delivered.
    void sameThreadNotifyAndAFollowedDelivery_data()
    {
        QTest::addColumn<bool>("latest");
        QTest::newRow("every") << false;
        QTest::newRow("latest") << true;
    }
    // A QThread deleted while its thread still runs its last TLS destructors (deleted once wait()
    // returned) is gone for the registry: an Auto handler whose context lives in a new QThread at
    // the freed address is queued to that thread, never run at once on the exiting one, and the
    // calling thread's QThread reads as what Qt says (null), never as the freed address. Where Qt
    // finishes a QThread only after its thread's TLS destructors (Qt 6.8 on), wait() cannot
    // return while they run: the notify from them then reads the live QThread, still queued.
    void aDeletedQThreadIsNeverTakenForANewOneAtItsAddress()
    {
        rio::QtRegistry<int> registry;
        auto context = std::make_unique<QObject>();
        const std::thread::id mainThread = std::this_thread::get_id();
        std::atomic<bool> ranOnExitingThread{false};
        registry.add(context.get(), [&](int) {
            if (std::this_thread::get_id() != mainThread)
                ranOnExitingThread = true;
        });
        QSemaphore exiting;
        QSemaphore deleted;
        QSemaphore done;
        // Atomic: Qt's semaphore and wait() are not instrumented for ThreadSanitizer.
        std::atomic<QThread *> seenBefore{nullptr};
        std::atomic<QThread *> seenAfter{reinterpret_cast<QThread *>(1)};
        threadBody = [&] {
            atThreadExit.run = [&] {
                exiting.release();
                if (deleted.tryAcquire(1, 30000)) {
                    seenAfter = rio::detail::currentQThread();
                    registry.notify(1);
                }
                done.release();
            };
            seenBefore = rio::detail::currentQThread();
            registry.notify(0); // the context lives on the main thread: queued
        };
        std::unique_ptr<QThread> worker = std::make_unique<BodyThread>();
        worker->start();
        QVERIFY(exiting.tryAcquire(1, 30000));
        if (!worker->wait(QDeadlineTimer(0))) { // Qt finishes the QThread after the TLS destructors
            deleted.release();
            QVERIFY(done.tryAcquire(1, 30000));
            QVERIFY(worker->wait(QDeadlineTimer(30000)));
            QCOMPARE(seenBefore.load(), worker.get());
            QCOMPARE(seenAfter.load(), worker.get());
            QVERIFY(!ranOnExitingThread.load());
            qInfo("Qt finishes a QThread after its TLS destructors: none is deleted under them");
            return;
        }
        QVERIFY(worker->wait(QDeadlineTimer(30000)));
        QThread *const freed = worker.get();
        worker.reset();
        // A new QThread at the freed address, if the allocator gives one back soon.
        std::vector<std::unique_ptr<QThread>> tries;
        QThread *reused = nullptr;
        for (int i = 0; i < 256 && reused == nullptr; ++i) {
            auto t = std::make_unique<QThread>();
            if (t.get() == freed)
                reused = t.get();
            tries.push_back(std::move(t));
        }
        if (reused != nullptr)
            context->moveToThread(reused);
        deleted.release();
        QVERIFY(done.tryAcquire(1, 30000));
        QCOMPARE(seenBefore.load(), freed);
        QVERIFY(seenAfter.load() != freed);
        QVERIFY(!ranOnExitingThread.load());
        if (reused == nullptr)
            qInfo("no new QThread took the freed address: the address check alone was made");
        context.reset(); // before the thread it lives in (never started)
    }

    void sameThreadNotifyAndAFollowedDelivery()
    {
#if defined(RIO_TSAN)
        QSKIP("Qt-internal handover in moveToThread is invisible to ThreadSanitizer");
#endif
        QFETCH(bool, latest);
        rio::QtRegistry<int> registry;
        QThread a;
        auto *receiver = new QObject;
        receiver->moveToThread(&a);
        a.start();
        const auto stop = qScopeGuard([&] { // on every return: `a` ends first, then the receiver
            a.quit();
            a.wait();
            delete receiver;
        });
        std::vector<int> received; // written on the main thread only, once the receiver is there
        std::atomic<QThread *> where{nullptr};
        registry.add(receiver,
                     [&](int v) {
                         where.store(QThread::currentThread());
                         received.push_back(v);
                     },
                     {.delivery = latest ? rio::Delivery::Latest : rio::Delivery::Every});
        QThread *const mainThread = QThread::currentThread();
        QSemaphore go;
        QSemaphore moved;
        // Holds `a` until the first notify is queued there, then moves the receiver to the main
        // thread before `a` drains it.
        QMetaObject::invokeMethod(receiver, [&] {
            go.acquire();
            receiver->moveToThread(mainThread);
            moved.release();
        });
        registry.notify(1); // queued for `a`
        go.release();
        moved.acquire();
        registry.notify(2); // on the receiver's thread now, with 1 waiting
        const std::vector<int> expected = latest ? std::vector<int>{2} : std::vector<int>{2, 1};
        QTRY_COMPARE_WITH_TIMEOUT(received.size(), expected.size(), 10000);
        QCoreApplication::processEvents();
        QCOMPARE(received, expected);
        QCOMPARE(where.load(), mainThread);
    }
};

int main(int argc, char **argv)
{
    if (const char *child = std::getenv(childVariable); child != nullptr) {
        if (std::strcmp(child, "exit") == 0)
            return childExitWithDrainPending(argc, argv);
        if (std::strcmp(child, "blocking") == 0)
            return childExitWithBlockingDeliveryPending(argc, argv);
        if (std::strcmp(child, "filter") == 0)
            return childEventFilterNotifies(argc, argv);
        return 2;
    }
    const QCoreApplication app(argc, argv);
    tst_QtThreadLife test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_qt_thread_life.moc"
