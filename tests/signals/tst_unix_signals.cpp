#include <registryio/unix_signals.h>

#include <QDir>
#include <QEventLoop>
#include <QProcess>
#include <QRegularExpression>
#include <QSet>
#include <QSignalSpy>
#include <QTest>
#include <QThread>
#include <QTimer>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

// Qt is not built with ThreadSanitizer: its futex-based mutexes are invisible to TSan, so the
// pthread calls Qt makes (QtTest's watchdog, QThread::wait) look racy. Judge only our code.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
extern "C" __attribute__((used, visibility("default"))) const char *__tsan_default_options()
{
    return "ignore_noninstrumented_modules=1";
}
#endif
#endif

namespace {

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RIO_TEST_TSAN 1
#endif
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define RIO_TEST_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define RIO_TEST_TSAN 1
#endif
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define RIO_TEST_SANITIZED 1
#endif
#ifdef RIO_TEST_SANITIZED
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

// QProcess (Qt's clone-based forkfd) aborts ThreadSanitizer 14 even in a program without
// RegistryIO (CHECK failed: tsan_rtl.cpp:234 "!thr->slot"); that test runs in the gcc and ASan
// builds. The other child-process tests use posix_spawn, which TSan handles.
#ifdef RIO_TEST_TSAN
#define SKIP_FORK_UNDER_TSAN()                                                                               \
    QSKIP("QProcess aborts ThreadSanitizer 14 (tsan_rtl.cpp:234), with or without RegistryIO")
#else
#define SKIP_FORK_UNDER_TSAN() (void)0
#endif

struct sigaction query(int signal)
{
    struct sigaction current
    { };
    if (::sigaction(signal, nullptr, &current) != 0)
        qFatal("sigaction(%d) failed", signal);
    return current;
}

// Same handler and SA_SIGINFO-ness: what "disposition unchanged / restored" means.
bool sameDisposition(const struct sigaction &a, const struct sigaction &b)
{
    if ((a.sa_flags & SA_SIGINFO) != (b.sa_flags & SA_SIGINFO))
        return false;
    return (a.sa_flags & SA_SIGINFO) ? a.sa_sigaction == b.sa_sigaction : a.sa_handler == b.sa_handler;
}

void setDisposition(int signal, void (*handler)(int))
{
    struct sigaction action
    { };
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    ::sigaction(signal, &action, nullptr);
}

// A "prior" handler installed before UnixSignals: it clobbers errno, as careless handlers do.
std::atomic<int> priorCalls{0};
std::atomic<int> priorSigno{0};
std::atomic<long> priorTid{0};
void priorHandler(int signal)
{
    priorCalls.fetch_add(1);
    priorSigno.store(signal);
    priorTid.store(static_cast<long>(::syscall(SYS_gettid)));
    errno = EBADF;
}
void priorAction(int signal, siginfo_t *info, void *)
{
    priorCalls.fetch_add(1);
    priorSigno.store(info != nullptr ? info->si_signo : -signal);
    errno = EBADF;
}

QSet<int> openFds()
{
    QSet<int> fds;
    const QStringList entries =
        QDir("/proc/self/fd").entryList(QDir::Files | QDir::System | QDir::NoDotAndDotDot);
    for (const QString &e : entries)
        fds.insert(e.toInt());
    return fds;
}

// Lets the event loop run a while without sleeping: a zero timer chain of `rounds` passes.
void spinEventLoop(int rounds = 20)
{
    for (int i = 0; i < rounds; ++i)
        QCoreApplication::processEvents(QEventLoop::AllEvents);
}

// Runs `/bin/sh -c command` with posix_spawn (which ThreadSanitizer handles, unlike QProcess's
// clone-based forkfd) and returns its exit status and standard output.
std::pair<int, QByteArray> runShell(const char *command)
{
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0)
        return {-1, {}};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    char arg0[] = "sh";
    char arg1[] = "-c";
    std::string script = command;
    char *argv[] = {arg0, arg1, script.data(), nullptr};
    pid_t pid = 0;
    const int spawned = ::posix_spawn(&pid, "/bin/sh", &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    QByteArray output;
    char buffer[4096];
    ssize_t n = 0;
    while (spawned == 0 && ((n = ::read(out[0], buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR))) {
        if (n > 0)
            output.append(buffer, n);
    }
    ::close(out[0]);
    int status = 0;
    if (spawned != 0 || ::waitpid(pid, &status, 0) != pid)
        return {-1, output};
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}
} // namespace

class tst_UnixSignals : public QObject
{
    Q_OBJECT
private slots:
    void init()
    {
        priorCalls = 0;
        priorSigno = 0;
        priorTid = 0;
        // Every test starts from the default disposition of the source it uses.
        for (int s : {SIGUSR1, SIGUSR2, SIGWINCH, SIGURG, SIGCHLD})
            setDisposition(s, SIG_DFL);
    }

    void refusedSignalsLeaveDispositionUnchanged()
    {
        rio::UnixSignals source;
        const std::vector<int> refused = {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGILL, SIGFPE};
        for (int s : refused) {
            const struct sigaction before = query(s);
            QVERIFY(!rio::UnixSignals::isCatchable(s));
            QVERIFY_THROWS_EXCEPTION(std::invalid_argument, source.add(s, [] {}));
            QVERIFY_THROWS_EXCEPTION(std::invalid_argument, (void)source.addScoped(s, [] {}));
            QVERIFY(sameDisposition(query(s), before));
            QCOMPARE(source.listenerCount(s), std::size_t{0});
        }
        for (int s : {0, -1, -SIGTERM, SIGRTMAX + 1, 1000}) {
            QVERIFY(!rio::UnixSignals::isCatchable(s));
            QVERIFY_THROWS_EXCEPTION(std::invalid_argument, source.add(s, [] {}));
        }
#ifdef __linux__
        for (int s = 32; s < SIGRTMIN; ++s) { // glibc's own (thread cancellation, setxid)
            QVERIFY(!rio::UnixSignals::isCatchable(s));
            QVERIFY_THROWS_EXCEPTION(std::invalid_argument, source.add(s, []{}));
        }
#endif
        try {
            source.add(SIGKILL, [] {});
            QFAIL("SIGKILL accepted");
        } catch (const std::invalid_argument &e) {
            QVERIFY2(QString(e.what()).contains("signal 9"), e.what());
        }
        // An empty handler for a good signal is refused too, and installs nothing.
        const struct sigaction before = query(SIGUSR1);
        void (*null)(int) = nullptr;
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, source.add(SIGUSR1, null));
        QVERIFY(sameDisposition(query(SIGUSR1), before));
    }

    void deliversOnOwningThreadAndCoalesces()
    {
        rio::UnixSignals source;
        int calls = 0;
        int received = 0;
        QThread *thread = nullptr;
        source.add(SIGUSR1, [&](int s) {
            ++calls;
            received = s;
            thread = QThread::currentThread();
        });
        for (int i = 0; i < 10; ++i)
            QCOMPARE(::raise(SIGUSR1), 0);
        QCOMPARE(calls, 0); // never inside the OS handler
        QTRY_COMPARE(calls, 1);
        spinEventLoop();
        QCOMPARE(calls, 1); // ten raises, one delivery
        QCOMPARE(received, SIGUSR1);
        QCOMPARE(thread, QThread::currentThread());

        ::raise(SIGUSR1); // a later signal is a new delivery
        QTRY_COMPARE(calls, 2);
    }

    void signalDuringDispatchIsDeliveredOnNextPass()
    {
        rio::UnixSignals source;
        int calls = 0;
        int callsSeenAfterRaise = -1;
        source.add(SIGUSR1, [&] {
            if (++calls == 1) {
                ::raise(SIGUSR1);
                callsSeenAfterRaise = calls; // not re-entered from inside the dispatch
            }
        });
        ::raise(SIGUSR1);
        QTRY_COMPARE(calls, 2);
        QCOMPARE(callsSeenAfterRaise, 1);
        spinEventLoop();
        QCOMPARE(calls, 2);
    }

    void priorityOrderAndNoArgumentHandlers()
    {
        rio::UnixSignals source;
        std::vector<int> order;
        source.add(
            SIGUSR2, [&] { order.push_back(1); }, 1);
        source.add(
            SIGUSR2, [&] { order.push_back(9); }, 9);
        source.add(
            SIGUSR2, [&](int) { order.push_back(5); }, 5);
        ::raise(SIGUSR2);
        QTRY_COMPARE(order.size(), std::size_t{3});
        QCOMPARE(order, (std::vector<int>{9, 5, 1}));
    }

    void errnoPreserved_data()
    {
        QTest::addColumn<bool>("pipe");
        QTest::newRow("eventfd") << false;
        QTest::newRow("pipe") << true;
    }
    void errnoPreserved()
    {
        QFETCH(bool, pipe);
        setDisposition(SIGUSR2, priorHandler); // clobbers errno; called through our chain
        if (pipe)
            qputenv("RIO_UNIX_SIGNALS_PIPE", "1");
        rio::UnixSignals source;
        qunsetenv("RIO_UNIX_SIGNALS_PIPE");
        int calls = 0;
        source.add(SIGUSR2, [&calls] { ++calls; });
        // Enough raises to fill a pipe, so our own write(2) fails with EAGAIN as well.
        for (int i = 0; i < 70000; ++i) {
            errno = EDOM;
            ::raise(SIGUSR2);
            if (errno != EDOM)
                QFAIL(qPrintable(QString("errno changed to %1 by raise %2").arg(errno).arg(i)));
        }
        QCOMPARE(priorCalls.load(), 70000);
        QTRY_COMPARE(calls, 1);
    }

    void priorHandlerStillCalled()
    {
        // Plain handler.
        setDisposition(SIGUSR1, priorHandler);
        {
            rio::UnixSignals source;
            int calls = 0;
            source.add(SIGUSR1, [&calls] { ++calls; });
            QVERIFY(!sameDisposition(query(SIGUSR1), query(SIGUSR2)));
            ::raise(SIGUSR1);
            QCOMPARE(priorCalls.load(), 1); // synchronously, from our OS handler
            QCOMPARE(priorSigno.load(), SIGUSR1);
            QTRY_COMPARE(calls, 1);
        }
        QVERIFY(query(SIGUSR1).sa_handler == &priorHandler);

        // SA_SIGINFO handler: gets the siginfo.
        struct sigaction action
        { };
        action.sa_sigaction = priorAction;
        action.sa_flags = SA_SIGINFO;
        sigemptyset(&action.sa_mask);
        ::sigaction(SIGUSR2, &action, nullptr);
        priorCalls = 0;
        {
            rio::UnixSignals source;
            int calls = 0;
            source.add(SIGUSR2, [&calls] { ++calls; });
            ::raise(SIGUSR2);
            QCOMPARE(priorCalls.load(), 1);
            QCOMPARE(priorSigno.load(), SIGUSR2);
            QTRY_COMPARE(calls, 1);
        }
        QVERIFY(sameDisposition(query(SIGUSR2), action));

        // SIG_IGN and SIG_DFL are not "called": raising SIGUSR1 with SIG_DFL would kill us.
        setDisposition(SIGUSR1, SIG_DFL);
        rio::UnixSignals source;
        int calls = 0;
        source.add(SIGUSR1, [&calls] { ++calls; });
        ::raise(SIGUSR1);
        QTRY_COMPARE(calls, 1);
    }

    void dispositionRestoredAfterLastListener()
    {
        setDisposition(SIGWINCH, priorHandler);
        const struct sigaction before = query(SIGWINCH);
        auto a = std::make_unique<rio::UnixSignals>();
        rio::UnixSignals b;
        const rio::HandlerId first = a->add(SIGWINCH, [] {});
        QCOMPARE(rio::UnixSignals::signalOf(first), SIGWINCH);
        const struct sigaction ours = query(SIGWINCH);
        QVERIFY(!sameDisposition(ours, before));
        QVERIFY(ours.sa_flags & SA_RESTART);
        QVERIFY(ours.sa_flags & SA_SIGINFO);

        rio::HandlerGuard guard = a->addScoped(SIGWINCH, [] {});
        QCOMPARE(rio::UnixSignals::signalOf(guard.id()), SIGWINCH);
        int bCalls = 0;
        b.addOnce(SIGWINCH, [&bCalls] { ++bCalls; });
        QCOMPARE(a->listenerCount(SIGWINCH), std::size_t{2});

        QVERIFY(a->remove(first));
        QVERIFY(!a->remove(first));
        QVERIFY(sameDisposition(query(SIGWINCH), ours)); // the guard's handler still listens
        QVERIFY(guard.reset());
        QCOMPARE(a->listenerCount(SIGWINCH), std::size_t{0});
        QVERIFY(sameDisposition(query(SIGWINCH), ours)); // b's once-handler still listens

        ::raise(SIGWINCH);
        QTRY_COMPARE(bCalls, 1);
        QCOMPARE(b.listenerCount(SIGWINCH), std::size_t{0});
        QTRY_VERIFY(sameDisposition(query(SIGWINCH), before)); // the spent once-handler was the last

        // Re-adding installs again; destroying the owner restores again.
        a->add(SIGWINCH, [] {});
        QVERIFY(sameDisposition(query(SIGWINCH), ours));
        a.reset();
        QVERIFY(sameDisposition(query(SIGWINCH), before));

        QVERIFY(!b.remove(rio::HandlerId{}));
        QVERIFY(!b.remove(rio::HandlerId{12345u << 8 | SIGKILL}));
    }

    void notRestoredOverAForeignHandler()
    {
        const struct sigaction before = query(SIGURG);
        rio::UnixSignals source;
        int calls = 0;
        const rio::HandlerId id = source.add(SIGURG, [&calls] { ++calls; });
        const struct sigaction ours = query(SIGURG);
        // Someone installs their handler on top of ours and chains to it, as Qt's forkfd does.
        static struct sigaction saved;
        struct sigaction foreign
        { };
        foreign.sa_flags = SA_SIGINFO;
        foreign.sa_sigaction = [](int s, siginfo_t *info, void *context) {
            saved.sa_sigaction(s, info, context);
        };
        sigemptyset(&foreign.sa_mask);
        ::sigaction(SIGURG, &foreign, &saved);
        ::raise(SIGURG);
        QTRY_COMPARE(calls, 1);
        QVERIFY(source.remove(id));
        QVERIFY(sameDisposition(query(SIGURG), foreign)); // theirs stays
        source.add(SIGURG, [&calls] { ++calls; });        // no second copy of ours on top
        QVERIFY(sameDisposition(query(SIGURG), foreign));
        ::raise(SIGURG);
        QTRY_COMPARE(calls, 2);
        ::sigaction(SIGURG, &ours, nullptr); // they put ours back
        (void)before;
    }

    void reinstalledWhenAForeignHandlerLeftNoChain()
    {
        rio::UnixSignals source;
        int calls = 0;
        const rio::HandlerId id = source.add(SIGURG, [&calls] { ++calls; });
        const struct sigaction ours = query(SIGURG);
        struct sigaction foreign
        { };
        foreign.sa_handler = [](int) {};
        sigemptyset(&foreign.sa_mask);
        ::sigaction(SIGURG, &foreign, nullptr);
        QVERIFY(source.remove(id)); // theirs is on top: left alone
        QVERIFY(sameDisposition(query(SIGURG), foreign));
        setDisposition(SIGURG, SIG_DFL); // and they go, without putting ours back
        source.add(SIGURG, [&calls] { ++calls; });
        QVERIFY(sameDisposition(query(SIGURG), ours)); // so ours goes in again
        ::raise(SIGURG);
        QTRY_COMPARE(calls, 1);
    }

    void atMost64Instances()
    {
        std::vector<std::unique_ptr<rio::UnixSignals>> all;
        const QSet<int> fdsBefore = openFds();
        for (int i = 0; i < 64; ++i)
            all.push_back(std::make_unique<rio::UnixSignals>());
        const QSet<int> fdsAt64 = openFds();
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, rio::UnixSignals());
        QCOMPARE(openFds(), fdsAt64); // the refused one closed what it opened
        all.pop_back();
        all.push_back(std::make_unique<rio::UnixSignals>()); // a freed place is reused
        int calls = 0;
        all.back()->add(SIGUSR2, [&calls] { ++calls; });
        ::raise(SIGUSR2);
        QTRY_COMPARE(calls, 1);
        all.clear();
        QCOMPARE(openFds(), fdsBefore);
    }

    void manySignalsNeverBlockTheOsHandler_data()
    {
        QTest::addColumn<bool>("pipe");
        QTest::newRow("eventfd") << false;
        QTest::newRow("pipe") << true;
    }
    void manySignalsNeverBlockTheOsHandler()
    {
        QFETCH(bool, pipe);
        if (pipe)
            qputenv("RIO_UNIX_SIGNALS_PIPE", "1");
        rio::UnixSignals source;
        qunsetenv("RIO_UNIX_SIGNALS_PIPE");
        int calls = 0;
        source.add(SIGUSR1, [&calls] { ++calls; });
        // Nobody reads the fd while this loop runs: a blocking write would hang it (a pipe holds
        // 64 KiB), so finishing it proves the OS handler never blocks.
        constexpr int kSignals = 100000;
        for (int i = 0; i < kSignals; ++i)
            ::raise(SIGUSR1);
        QCOMPARE(calls, 0);
        QTRY_COMPARE(calls, 1);
        spinEventLoop();
        QCOMPARE(calls, 1);
        ::raise(SIGUSR1); // and the source still works after the flood
        QTRY_COMPARE(calls, 2);
    }

    void pthreadKillToWorkerReachesOwningLoop()
    {
        setDisposition(SIGUSR2, priorHandler); // records which thread ran the OS handler
        rio::UnixSignals source;
        std::atomic<int> calls{0};
        QThread *thread = nullptr;
        source.add(SIGUSR2, [&] {
            thread = QThread::currentThread();
            calls.fetch_add(1);
        });
        int wake[2];
        QCOMPARE(::pipe(wake), 0);
        std::atomic<long> workerTid{0};
        std::thread worker([&] {
            workerTid.store(static_cast<long>(::syscall(SYS_gettid)));
            pollfd p{wake[0], POLLIN, 0};
            while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
            }
        });
        QTRY_VERIFY(workerTid.load() != 0);
        QCOMPARE(::pthread_kill(worker.native_handle(), SIGUSR2), 0);
        QTRY_COMPARE(calls.load(), 1);
        QCOMPARE(thread, QThread::currentThread());
        QTRY_COMPARE(priorTid.load(), workerTid.load()); // the OS handler ran on the worker
        QCOMPARE(::write(wake[1], "x", 1), ssize_t{1});
        worker.join();
        ::close(wake[0]);
        ::close(wake[1]);
    }

    void ownerOnWorkerThread()
    {
        // The source lives on a worker's event loop; the signal is raised (and handled by the OS
        // handler) on this thread. Synchronised through atomics only, so ThreadSanitizer sees
        // every edge (Qt's own queues are not instrumented).
        std::atomic<QThread *> ranOn{nullptr};
        std::atomic<bool> ready{false};
        std::atomic<bool> finished{false};
        std::unique_ptr<QThread> loopThread(QThread::create([&] {
            {
                rio::UnixSignals source;
                QEventLoop loop;
                source.add(SIGUSR1, [&] {
                    ranOn.store(QThread::currentThread());
                    loop.quit();
                });
                ready.store(true);
                loop.exec();
            }
            finished.store(true);
        }));
        loopThread->start();
        QTRY_VERIFY(ready.load());
        ::raise(SIGUSR1);
        QTRY_COMPARE(ranOn.load(), loopThread.get());
        QTRY_VERIFY(finished.load());
        QVERIFY(loopThread->wait(10000));
        QVERIFY(query(SIGUSR1).sa_handler == SIG_DFL); // the worker's source restored it
    }

    void severalInstancesEachGetTheSignal()
    {
        rio::UnixSignals a;
        rio::UnixSignals b;
        int aCalls = 0;
        int bCalls = 0;
        a.add(SIGUSR1, [&aCalls] { ++aCalls; });
        b.add(SIGUSR1, [&bCalls] { ++bCalls; });
        ::raise(SIGUSR1);
        QTRY_COMPARE(aCalls, 1);
        QTRY_COMPARE(bCalls, 1);
        {
            rio::UnixSignals c; // listens to nothing: gets nothing, costs the handler nothing
        }
        ::raise(SIGUSR1);
        QTRY_COMPARE(aCalls, 2);
        QTRY_COMPARE(bCalls, 2);
    }

    void realTimeSignals()
    {
        QVERIFY(rio::UnixSignals::isCatchable(SIGRTMIN));
        QVERIFY(rio::UnixSignals::isCatchable(SIGRTMAX));
        const struct sigaction before = query(SIGRTMAX);
        auto owned = std::make_unique<rio::UnixSignals>();
        rio::UnixSignals &source = *owned;
        std::vector<int> seen;
        source.add(SIGRTMIN, [&seen](int s) { seen.push_back(s); });
        source.add(SIGRTMAX, [&seen](int s) { seen.push_back(s); });
        union sigval value { };
        value.sival_int = 42;
        QCOMPARE(::sigqueue(::getpid(), SIGRTMIN, value), 0);
        QCOMPARE(::sigqueue(::getpid(), SIGRTMIN, value), 0); // queued twice, coalesced
        QCOMPARE(::raise(SIGRTMAX), 0);
        QTRY_COMPARE(seen.size(), std::size_t{2});
        spinEventLoop();
        QCOMPARE(seen, (std::vector<int>{SIGRTMIN, SIGRTMAX}));
        QVERIFY(!source.remove(rio::HandlerId{}));
        owned.reset();
        QVERIFY(sameDisposition(query(SIGRTMAX), before));
    }

    void worksWhenCreatedBeforeTheLoopRuns()
    {
        rio::UnixSignals source;
        QEventLoop loop;
        int calls = 0;
        source.add(SIGUSR2, [&] {
            ++calls;
            loop.quit();
        });
        ::raise(SIGUSR2); // before any event loop ran since the object was made
        QTimer::singleShot(10000, &loop, [&loop] { loop.exit(1); });
        QCOMPARE(loop.exec(), 0);
        QCOMPARE(calls, 1);
    }

    void handlerExceptionsAreIsolatedAndReported()
    {
        rio::UnixSignals source;
        QSignalSpy failed(&source, &rio::UnixSignals::handlerFailed);
        int calls = 0;
        const rio::HandlerId bad = source.add(
            SIGUSR1, [] { throw std::runtime_error("reload failed"); }, 1);
        source.add(SIGUSR1, [&calls] { ++calls; });
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression("signal 10 threw: \"reload failed\""));
        ::raise(SIGUSR1);
        QTRY_COMPARE(calls, 1);
        QCOMPARE(failed.count(), 1);
        QCOMPARE(failed.at(0).at(0).value<rio::HandlerId>(), bad);
        QCOMPARE(failed.at(0).at(1).toInt(), SIGUSR1);
        QCOMPARE(failed.at(0).at(2).toString(), QString("reload failed"));
    }

    void handlerMayRemoveItselfAndOthers()
    {
        rio::UnixSignals source;
        int calls = 0;
        rio::HandlerId self;
        rio::HandlerGuard other = source.addScoped(
            SIGUSR2, [&calls] { ++calls; }, -1);
        self = source.add(SIGUSR2, [&] {
            ++calls;
            QVERIFY(source.remove(self));
            other.reset();
        });
        ::raise(SIGUSR2);
        QTRY_COMPARE(calls, 1); // removal is immediate: the pass skips `other`, as Registry::notify does
        spinEventLoop();
        QCOMPARE(calls, 1);
        QCOMPARE(source.listenerCount(SIGUSR2), std::size_t{0});
        QTRY_VERIFY(query(SIGUSR2).sa_handler == SIG_DFL);
    }

    void guardOutlivingTheSourceIsInert()
    {
        rio::HandlerGuard guard;
        {
            rio::UnixSignals source;
            guard = source.addScoped(SIGUSR1, [] {});
            QVERIFY(guard.isActive());
        }
        QVERIFY(query(SIGUSR1).sa_handler == SIG_DFL);
        QVERIFY(!guard.reset());
    }

    void sigchldListenerSeesChildren()
    {
        const struct sigaction before = query(SIGCHLD);
        {
            rio::UnixSignals source;
            int sigchld = 0;
            source.add(SIGCHLD, [&sigchld](int s) { sigchld += s == SIGCHLD ? 1 : 0; });
            // We spawn and reap the child ourselves; its exit still reaches the handler.
            QCOMPARE(runShell("exit 5").first, 5);
            QTRY_VERIFY(sigchld >= 1);
        }
        QVERIFY(sameDisposition(query(SIGCHLD), before));
    }

    void qprocessFinishesWhileSigchldIsListened()
    {
        SKIP_FORK_UNDER_TSAN();
        auto owned = std::make_unique<rio::UnixSignals>();
        rio::UnixSignals &source = *owned;
        int sigchld = 0;
        source.add(SIGCHLD, [&sigchld] { ++sigchld; });
        for (int round = 0; round < 3; ++round) {
            QProcess process;
            QSignalSpy finished(&process, &QProcess::finished);
            process.start("/bin/sh", {"-c", "exit 3"});
            QVERIFY(process.waitForStarted(10000));
            QVERIFY(finished.wait(10000));
            QCOMPARE(process.exitStatus(), QProcess::NormalExit);
            QCOMPARE(process.exitCode(), 3);
        }
        // And QProcess still works after our last SIGCHLD listener went.
        owned.reset();
        QProcess process;
        QSignalSpy finished(&process, &QProcess::finished);
        process.start("/bin/sh", {"-c", "exit 4"});
        QVERIFY(finished.wait(10000));
        QCOMPARE(process.exitCode(), 4);
    }

    void fdsAreCloseOnExecAndNotLeakedToChildren_data()
    {
        QTest::addColumn<bool>("pipe");
        QTest::newRow("eventfd") << false;
        QTest::newRow("pipe") << true;
    }
    void fdsAreCloseOnExecAndNotLeakedToChildren()
    {
        QFETCH(bool, pipe);
        const QSet<int> before = openFds();
        if (pipe)
            qputenv("RIO_UNIX_SIGNALS_PIPE", "1");
        rio::UnixSignals source;
        qunsetenv("RIO_UNIX_SIGNALS_PIPE");
        source.add(SIGUSR1, [] {});
        const QSet<int> ours = openFds() - before;
        QCOMPARE(ours.size(), pipe ? 2 : 1);
        for (int fd : ours) {
            QVERIFY(::fcntl(fd, F_GETFD) & FD_CLOEXEC);
            QVERIFY(::fcntl(fd, F_GETFL) & O_NONBLOCK);
        }
        // A child lists its own fds: none of ours may be there.
        const auto [exitCode, listing] = runShell("ls /proc/self/fd");
        QCOMPARE(exitCode, 0);
        QSet<int> inChild;
        const QStringList lines = QString::fromLocal8Bit(listing).split('\n', Qt::SkipEmptyParts);
        for (const QString &line : lines)
            inChild.insert(line.trimmed().toInt());
        QVERIFY2(inChild.contains(1), "the listing worked");
        QVERIFY2(!inChild.intersects(ours), qPrintable(QString("leaked: %1").arg(lines.join(' '))));
    }

    void stressAddRemoveWhileSignalled()
    {
        // Listeners come and go on a worker while a flood of source arrives: no crash, no race,
        // and the source still delivers afterwards. A prior handler keeps SIG_DFL (which would end
        // the test) out while no listener is left.
        setDisposition(SIGUSR1, priorHandler);
        rio::UnixSignals source;
        std::atomic<int> calls{0};
        std::atomic<bool> stop{false};
        const int rounds = kSanitized ? 300 : 3000;
        std::thread churn([&] {
            for (int i = 0; i < rounds; ++i) {
                rio::HandlerGuard g = source.addScoped(SIGUSR1, [&calls] { calls.fetch_add(1); });
                ::raise(SIGUSR1);
            }
            stop.store(true);
        });
        while (!stop.load()) {
            ::raise(SIGUSR1);
            QCoreApplication::processEvents();
        }
        churn.join();
        int after = 0;
        source.add(SIGUSR1, [&after] { ++after; });
        ::raise(SIGUSR1);
        QTRY_COMPARE(after, 1);
    }
};

QTEST_GUILESS_MAIN(tst_UnixSignals)
#include "tst_unix_signals.moc"
