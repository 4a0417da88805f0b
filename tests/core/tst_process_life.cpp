// SPDX-License-Identifier: MIT
// The accidents of a process's life: fork() while other threads are inside a notify, writing or
// inside a diagnostics call, a fork child's watchdog, and thread cancellation (pthread_exit,
// pthread_cancel) inside a handler. Every wait that could hang is bounded: a hung child is killed
// and counted, a hung thread ends the test process with a message.
#include "rio_check.h"
#include "rio_test_support.h"

#include <registryio/detail/diagnostics.h>
#include <registryio/registry.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

// ASan's own allocator (clang 14) can be left locked in a forked child by another thread.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool rioAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool rioAddressSanitizer = true;
#else
constexpr bool rioAddressSanitizer = false;
#endif
#else
constexpr bool rioAddressSanitizer = false;
#endif

namespace {

// Debian's libc++abi unwinds with LLVM's libunwind, glibc's pthread_exit and pthread_cancel with
// libgcc_s: mixed, they crash even a program without a registry (checked with a plain try block).
#if defined(_LIBCPP_VERSION) && defined(__GLIBC__)
constexpr bool forcedUnwindCrashesHere = true;
#else
constexpr bool forcedUnwindCrashesHere = false;
#endif

// Skips a case that forks a multi-threaded process where the sanitizer cannot follow it (the
// g++ stage runs these cases, in both fence modes).
void skipForkOfThreadsUnderSanitizers()
{
    if (RIO_SEQ_CST_OPS) // a ThreadSanitizer build
        SKIP("TSan cannot follow a fork of a multi-threaded process");
    if (rioAddressSanitizer)
        SKIP("clang 14's ASan allocator is not fork-safe: a child forked while another thread "
             "holds a size-class lock hangs in operator new inside the sanitizer runtime (seen with "
             "gdb)");
}

// A child that does not exit within 10 s counts as hung and is killed.
constexpr auto childLimit = std::chrono::seconds(10);

// Waits for `pid` with a bounded poll; returns its exit status, or -1 if it hung (then kills it).
int waitChild(pid_t pid)
{
    const auto deadline = std::chrono::steady_clock::now() + childLimit;
    int status = 0;
    for (;;) {
        const pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (std::chrono::steady_clock::now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1)); // a poll interval, not a sync
    }
}

// A closure member whose destructor says it began (`entered`) and waits until `release`; a
// moved-from one does nothing.
struct OnDestroyGate
{
    rio::check::Latch *entered = nullptr;
    rio::check::Latch *release = nullptr;
    OnDestroyGate(rio::check::Latch *e, rio::check::Latch *r) : entered(e), release(r) { }
    OnDestroyGate(OnDestroyGate &&o) noexcept
        : entered(std::exchange(o.entered, nullptr)), release(std::exchange(o.release, nullptr))
    { }
    OnDestroyGate &operator=(OnDestroyGate &&) = delete;
    ~OnDestroyGate()
    {
        if (entered != nullptr) {
            entered->count_down();
            release->wait();
        }
    }
};

// A closure with a destructor, so reclaim passes run user code while we fork.
struct Payload
{
    std::string text = std::string(40, 'x');
    void operator()(int) const { }
};

// Adds and removes on both registries until told to stop (remove, and removeAndWait, whose
// passes destroy closures, so a fork can catch a writer mid-pass).
void churn(rio::Registry<int> &r, rio::Registry<int> &r2, const std::atomic<bool> &stop)
{
    while (!stop.load(std::memory_order_relaxed)) {
        r.remove(r.add(Payload{}));
        r2.removeAndWait(r2.add(Payload{}));
        r2.remove(r2.add(Payload{}, 1));
    }
}

// What the child does: every call must complete; the exit code says which check failed.
int childWork(rio::Registry<int> &r, rio::Registry<int> &r2, rio::HandlerId blockedId)
{
    r.synchronize();
    if (blockedId.isValid() && !r.removeAndWait(blockedId))
        return 10;
    int calls = 0;
    const rio::HandlerId a = r.add([&calls] { ++calls; });
    r.notify(0);
    if (calls != 1)
        return 11;
    if (!r.remove(a))
        return 12;
    const rio::HandlerId b = r2.add(Payload{});
    if (!r2.removeAndWait(b))
        return 13;
    r2.remove(r2.add(Payload{}));
    r2.synchronize();
    r.synchronize();
    return 0;
}

namespace diag = rio::detail::diag;

// A run of at least one tick of the diagnostics clock (slow at a 1 ns threshold), or of `ns`.
void runFor(std::int64_t ns)
{
    const std::uint64_t t = diag::ticks();
    const auto end = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
    while (diag::ticks() == t || std::chrono::steady_clock::now() < end) {
    }
}

void countSlowRun(const diag::SlowRun &) noexcept
{
    static std::atomic<long> reports{0}; // lock-free: the sink may run while another thread forks
    reports.fetch_add(1, std::memory_order_relaxed);
}

// A diagnostics call of kind `kind` (0 to 4): switches (`r`'s and the process-wide), thresholds,
// recent slow runs, a slow run reported (every 8th one long enough for the watchdog to name it
// while it runs; `r` has a handler that runs for the event's nanoseconds), or statistics freed.
void diagnosticsCall(rio::Registry<int> &r, int kind, int i)
{
    switch (kind) {
    case 0:
        r.setDiagnosticsEnabled(i % 2 == 0);
        diag::setGlobalEnabled(i % 4 == 1);
        break;
    case 1:
        diag::setThresholds(16'000'000, 1, i % 2 == 0 ? 1'000'000 : 2'000'000); // every run is slow
        break;
    case 2:
        (void)diag::recentSlowRuns();
        break;
    case 3:
        r.setDiagnosticsEnabled(true);
        r.notify(i % 8 == 0 ? 3'000'000 : 0);
        break;
    default:
        r.setDiagnosticsEnabled(true);
        r.removeAndWait(r.add([] { }));
    }
}

// The cancelled thread left no section open: removeAndWait returns, nothing stays pending,
// and the registry still adds, notifies and removes.
void checkUsableAfter(rio::Registry<int> &r, rio::HandlerId id)
{
    auto waited = std::async(std::launch::async, [&r, id] { return r.removeAndWait(id); });
    CHECK(rio::check::getOrDie(waited, 20, "removeAndWait after a cancelled handler"));
    r.synchronize();
    CHECK_EQ(r.pendingCount(), std::size_t{0});
    CHECK_EQ(rio::detail::pendingCountAll(), std::size_t{0});
    int calls = 0;
    const rio::HandlerId other = r.add([&calls] { ++calls; });
    r.notify(2);
    CHECK_EQ(calls, 1);
    CHECK(r.removeAndWait(other));
    CHECK_EQ(r.size(), std::size_t{0});
}

} // namespace

// A child forked while one thread is blocked inside a notify of `r` and another churns
// add/remove on `r` and `r2` can still synchronize, removeAndWait (the blocked handler too: its
// thread does not exist in the child), add and remove, and exit.
RIO_TEST(forkWhileInsideNotifyAndWriting)
{
    skipForkOfThreadsUnderSanitizers();
    const int forks = rio::test::scaled(60, 6);
    rio::Registry<int> r;
    rio::Registry<int> r2;
    rio::check::Latch entered(1);
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    const rio::HandlerId blockedId = r.add([&entered, released] {
        entered.count_down();
        released.wait();
    });
    std::thread reader([&r] { r.notify(0); });
    entered.wait();
    std::atomic<bool> stop{false};
    std::thread writer([&] { churn(r, r2, stop); });

    int hung = 0;
    int failed = 0;
    for (int i = 0; i < forks; ++i) {
        const pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0)
            _exit(childWork(r, r2, blockedId));
        const int status = waitChild(pid);
        if (status < 0)
            ++hung;
        else if (status != 0)
            ++failed;
    }
    stop.store(true);
    writer.join();
    release.set_value();
    reader.join();
    CHECK_EQ(hung, 0);
    CHECK_EQ(failed, 0);
    CHECK(r.removeAndWait(blockedId));
}

// About 100 children forked while a writer churns and a reader notifies: each can use both
// registries and exit (none hangs on a lock or a section the fork left held).
RIO_TEST(forkWithChurningWriter)
{
    skipForkOfThreadsUnderSanitizers();
    const int forks = rio::test::scaled(100, 5);
    rio::Registry<int> r;
    rio::Registry<int> r2;
    std::atomic<bool> stop{false};
    std::thread writer([&] { churn(r, r2, stop); });
    std::thread reader([&] {
        while (!stop.load(std::memory_order_relaxed))
            r.notify(1);
    });
    int hung = 0;
    int failed = 0;
    for (int i = 0; i < forks; ++i) {
        const pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0)
            _exit(childWork(r, r2, rio::HandlerId{}));
        const int status = waitChild(pid);
        if (status < 0)
            ++hung;
        else if (status != 0)
            ++failed;
    }
    stop.store(true);
    writer.join();
    reader.join();
    CHECK_EQ(hung, 0);
    CHECK_EQ(failed, 0);
}

// A registry creates its writer state (and joins the list fork() locks) at its first add, and
// leaves the list when destroyed. A child forked while another thread creates, fills and
// destroys fresh registries, and churns on a shared one, can still create registries, add,
// notify and remove, and exit.
RIO_TEST(forkWhileRegistriesAreCreatedAndDestroyed)
{
    skipForkOfThreadsUnderSanitizers();
    const int forks = rio::test::scaled(100, 5);
    rio::Registry<int> shared;
    std::atomic<bool> stop{false};
    std::thread creator([&] {
        while (!stop.load(std::memory_order_relaxed)) {
            rio::Registry<int> fresh;
            const rio::HandlerId id = fresh.add(Payload{});
            fresh.notify(1);
            shared.remove(shared.add(Payload{}));
            fresh.removeAndWait(id);
            rio::Registry<int> untouched; // never written: no state, never listed
            untouched.notify(2);
        }
    });
    int hung = 0;
    int failed = 0;
    for (int i = 0; i < forks; ++i) {
        const pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            rio::Registry<int> inChild;
            int calls = 0;
            const rio::HandlerId a = inChild.add([&calls] { ++calls; });
            inChild.notify(0);
            const bool removed = inChild.removeAndWait(a);
            rio::Registry<int> r2;
            _exit(calls == 1 && removed ? childWork(shared, r2, rio::HandlerId{}) : 20);
        }
        const int status = waitChild(pid);
        if (status < 0)
            ++hung;
        else if (status != 0)
            ++failed;
    }
    stop.store(true);
    creator.join();
    CHECK_EQ(hung, 0);
    CHECK_EQ(failed, 0);
}

// A child forked while one thread destroys a closure (removeAndWait's chain, held in the
// closure's destructor) and another waits for that destruction (synchronize): in the child,
// which has neither thread, the same registry's removals and waits return.
RIO_TEST(forkWhileAThreadWaitsForAnotherThreadsDestruction)
{
    skipForkOfThreadsUnderSanitizers();
    const int forks = rio::test::scaled(20, 5);
    int hung = 0;
    int failed = 0;
    for (int i = 0; i < forks; ++i) {
        rio::Registry<int> registry;
        rio::check::Latch entered(1);
        rio::check::Latch release(1);
        const rio::HandlerId slow = registry.add([d = OnDestroyGate{&entered, &release}](int) { });
        std::thread destroyer([&] { registry.removeAndWait(slow); });
        entered.wait(); // the destroyer's chain runs the closure's destructor now
        std::atomic<bool> waiting{false};
        std::thread waiter([&] {
            waiting.store(true);
            registry.synchronize(); // waits for the destroyer's chain
        });
        while (!waiting.load())
            std::this_thread::yield();
        const pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            bool ok = true;
            for (int n = 0; n < 200 && ok; ++n) { // enough for several reclaim passes
                const rio::HandlerId id = registry.add(Payload{});
                ok = n % 2 == 0 ? registry.removeAndWait(id) : registry.remove(id);
                registry.synchronize();
            }
            _exit(ok ? 0 : 20);
        }
        const int status = waitChild(pid);
        hung += status < 0;
        failed += status > 0;
        release.count_down();
        destroyer.join();
        waiter.join();
    }
    CHECK_EQ(hung, 0);
    CHECK_EQ(failed, 0);
}

// A child forked from a closure destructor that a Connection's disconnect runs (the reclaim pass
// of that removal, inside the registry's link): the child finishes the disconnect, then destroys
// the registry, whose detach must not wait for a call that no thread of the child has under way.
RIO_TEST(forkInsideConnectionDisconnect)
{
    static pid_t child = -1; // what the forking destructor's fork() returned
    struct ForksWhenDestroyed
    {
        bool armed = false;
        explicit ForksWhenDestroyed(bool a) noexcept : armed(a) { }
        ForksWhenDestroyed(ForksWhenDestroyed &&other) noexcept : armed(std::exchange(other.armed, false)) { }
        ForksWhenDestroyed(const ForksWhenDestroyed &) = delete;
        ForksWhenDestroyed &operator=(const ForksWhenDestroyed &) = delete;
        ForksWhenDestroyed &operator=(ForksWhenDestroyed &&) = delete;
        ~ForksWhenDestroyed()
        {
            if (armed)
                child = fork();
        }
        void operator()(int) const { }
    };
    auto r = std::make_unique<rio::Registry<int>>();
    r->remove(r->add(ForksWhenDestroyed(true))); // retired: the next reclaim pass destroys it
    std::vector<rio::Connection> connections;
    for (int i = 0; i < 200; ++i)
        connections.push_back(r->connection(r->add(Payload{})));
    for (const rio::Connection &c : connections) {
        CHECK(c.disconnect());
        if (child == 0) {
            r.reset(); // the forking thread's link call has ended: nothing to wait for
            _exit(0);
        }
        if (child > 0)
            break;
    }
    CHECK(child > 0); // some disconnect's pass ran the destructor
    CHECK_EQ(waitChild(child), 0);
}

// Children forked while other threads switch diagnostics, set thresholds, read recent slow runs,
// report slow runs (the watchdog names some while they run) and free statistics, a thread for
// each: each child makes the same calls, on a registry of its own and on the parent's, and exits.
RIO_TEST(forkWhileOtherThreadsAreInsideDiagnosticsCalls)
{
    skipForkOfThreadsUnderSanitizers();
    constexpr int kinds = 5;
    const int forks = rio::test::scaled(40, 4);
    std::uint64_t mainNs = 0, otherNs = 0, stallNs = 0;
    diag::thresholds(mainNs, otherNs, stallNs);
    diag::setThresholds(mainNs, 1, 1'000'000);
    diag::setSlowSink(&countSlowRun);
    std::array<rio::Registry<int>, kinds> registries;
    for (rio::Registry<int> &r : registries)
        r.add([](int ns) { runFor(ns); });
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int kind = 0; kind < kinds; ++kind)
        threads.emplace_back([&registries, &stop, kind] {
            for (int i = 0; i < 100'000'000 && !stop.load(std::memory_order_relaxed); ++i)
                diagnosticsCall(registries[kind], kind, i);
        });
    int hung = 0;
    int failed = 0;
    for (int i = 0; i < forks && hung < 3; ++i) { // a hung child costs childLimit
        const pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            rio::Registry<int> own;
            own.add([](int ns) { runFor(ns); });
            for (int k = 0; k < 2; ++k)
                for (int kind = 0; kind < kinds; ++kind) {
                    diagnosticsCall(own, kind, k);
                    diagnosticsCall(registries[kind], kind, k);
                }
            (void)diag::collect();
            diag::setGlobalEnabled(false);
            for (rio::Registry<int> &r : registries)
                r.setDiagnosticsEnabled(false);
            own.setDiagnosticsEnabled(false);
            _exit(diag::watchdogRunning() ? 1 : 0);
        }
        const int status = waitChild(pid);
        hung += status < 0;
        failed += status > 0;
    }
    stop.store(true);
    for (std::thread &t : threads)
        t.join();
    for (rio::Registry<int> &r : registries)
        r.setDiagnosticsEnabled(false);
    diag::setGlobalEnabled(false);
    diag::setThresholds(mainNs, otherNs, stallNs);
    diag::setSlowSink(nullptr);
    CHECK_EQ(hung, 0);
    CHECK_EQ(failed, 0);
    CHECK(!diag::watchdogRunning());
}

namespace {
std::atomic<bool> inChild{false};
std::atomic<std::uint64_t> parentRunId{0}, childRunId{0};
std::atomic<bool> parentRunNamed{false}, childRunNamed{false};

void noteStall(const diag::SlowRun &run) noexcept
{
    if (run.stillRunning && run.id.value() == parentRunId.load())
        parentRunNamed.store(true);
    if (run.stillRunning && run.id.value() == childRunId.load())
        childRunNamed.store(true);
}
} // namespace

// The scene of the fork tests below: a parent-side run that stalls (named by the watchdog) until
// the test ends, and a child-side handler that stalls only in a child, until its own watchdog
// names it (bounded: 5 s). Stall threshold 20 ms; the thresholds and sink go back at the end.
struct StallScene
{
    std::uint64_t mainNs = 0, otherNs = 0, stallNs = 0;
    rio::Registry<int> parentSide;
    rio::Registry<int> childSide;
    std::atomic<bool> release{false};
    std::thread blocked;

    explicit StallScene(diag::SlowSink sink)
    {
        diag::thresholds(mainNs, otherNs, stallNs);
        parentRunNamed.store(false);
        childRunNamed.store(false);
        diag::setSlowSink(sink);
        diag::setThresholds(mainNs, otherNs, 20'000'000);
        childSide.add([] { }); // ids differ from parentSide's: reports are told apart by id
        parentRunId.store(
            parentSide.add([this] { rio::check::waitUntil([this] { return release.load(); }); }).value());
        childRunId.store(childSide
                             .add([] {
                                 if (inChild.load())
                                     rio::check::waitUntil([] { return childRunNamed.load(); },
                                                           std::chrono::seconds(5));
                             })
                             .value());
        parentSide.setDiagnosticsEnabled(true);
        childSide.setDiagnosticsEnabled(true);
    }
    void stallParent()
    {
        blocked = std::thread([this] { parentSide.notify(0); });
    }
    ~StallScene()
    {
        release.store(true);
        if (blocked.joinable())
            blocked.join();
        parentSide.setDiagnosticsEnabled(false);
        childSide.setDiagnosticsEnabled(false);
        diag::setThresholds(mainNs, otherNs, stallNs);
        diag::setSlowSink(nullptr);
        parentRunNamed.store(false);
    }
    StallScene(const StallScene &) = delete;
    StallScene &operator=(const StallScene &) = delete;
};

// A child forked while the watchdog runs has a watchdog of its own, started by its first timed
// run, a switch or a threshold: it names a run of the child that stalls, never a run of a thread
// the child does not have (one the parent's watchdog named before the fork), and switching
// diagnostics off in the child ends it. The exit code says which failed.
RIO_TEST_DATA(aForkChildsWatchdogNamesItsOwnStalls, int, startBy, {"run", 0}, {"switch", 1},
              {"thresholds", 2})
{
    if (RIO_SEQ_CST_OPS) // a ThreadSanitizer build; ASan runs it (no other thread allocates at the fork)
        SKIP("TSan ends a child of a multi-threaded process that starts a thread");
    StallScene scene(&noteStall);
    rio::Registry<int> &parentSide = scene.parentSide;
    rio::Registry<int> &childSide = scene.childSide;
    childSide.notify(0); // this thread's run record, which the child inherits
    scene.stallParent();
    CHECK(rio::check::waitUntil([] { return parentRunNamed.load(); }));
    const pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        inChild.store(true);
        parentRunNamed.store(false);
        if (startBy == 1) { // nothing on: no watchdog to end, then one to start
            parentSide.setDiagnosticsEnabled(false);
            childSide.setDiagnosticsEnabled(false);
            childSide.setDiagnosticsEnabled(true);
        } else if (startBy == 2) {
            diag::setThresholds(scene.mainNs, scene.otherNs, 20'000'000);
        }
        childSide.notify(1);
        const bool named = childRunNamed.load();
        parentSide.setDiagnosticsEnabled(false);
        childSide.setDiagnosticsEnabled(false); // ends the child's watchdog: every look is done
        _exit(!named ? 1 : parentRunNamed.load() ? 2 : diag::watchdogRunning() ? 3 : 0);
    }
    const int status = waitChild(pid);
    CHECK_EQ(status, 0);
}

namespace {
std::atomic<pid_t> sinkChild{0};
rio::Registry<int> *sinkChildSide = nullptr;

// The slow sink of the test below: on the watchdog's thread, it forks when the parent's run is
// named, and the child stalls in its first timed run until its own watchdog names it.
void forkOnStall(const diag::SlowRun &run) noexcept
{
    noteStall(run);
    if (inChild.load() || !run.stillRunning || run.id.value() != parentRunId.load() || sinkChild.load() != 0)
        return;
    const pid_t pid = fork();
    if (pid != 0) {
        sinkChild.store(pid);
        return;
    }
    inChild.store(true);
    sinkChildSide->notify(1); // blocks until named (bounded: 5 s)
    _exit(childRunNamed.load() ? 0 : 1);
}
} // namespace

// A child forked from a report, on the watchdog's own thread, gets a watchdog of its own too.
RIO_TEST(aChildForkedFromTheWatchdogsReportGetsAWatchdog)
{
    if (RIO_SEQ_CST_OPS) // a ThreadSanitizer build; ASan runs it
        SKIP("TSan ends a child of a multi-threaded process that starts a thread");
    StallScene scene(&forkOnStall);
    sinkChildSide = &scene.childSide;
    scene.stallParent();
    CHECK(rio::check::waitUntil([] { return sinkChild.load() != 0; }));
    const int status = sinkChild.load() > 0 ? waitChild(sinkChild.load()) : -1;
    CHECK_EQ(status, 0);
}

// pthread_exit() inside a handler ends the thread (the forced unwind passes through notify,
// which does not swallow it, and the process does not abort); the registry is usable and its
// handler removable afterwards.
RIO_TEST(pthreadExitInsideHandler)
{
    if (RIO_SEQ_CST_OPS) // a ThreadSanitizer build; the ASan and g++ stages run it
        SKIP("TSan reports threads that end by forced unwinding ('finished with ignores enabled')");
    if (forcedUnwindCrashesHere)
        SKIP("libc++ on glibc: glibc's forced unwind (libgcc_s) calls libc++abi's personality, which "
             "calls LLVM's libunwind; any pthread_exit through a C++ try block crashes there");
    rio::Registry<int> r;
    const rio::HandlerId id = r.add([] { pthread_exit(nullptr); });
    pthread_t t{};
    CHECK_EQ(pthread_create(
                 &t, nullptr,
                 +[](void *p) -> void * {
                     static_cast<rio::Registry<int> *>(p)->notify(1);
                     return p; // only if notify swallowed the exit
                 },
                 &r),
             0);
    void *result = &r;
    CHECK_EQ(pthread_join(t, &result), 0);
    CHECK_EQ(result, nullptr);
    checkUsableAfter(r, id);
}

// pthread_exit() inside a handler while the registry's diagnostics are on: the timed loop lets
// the forced unwind pass as well and leaves its section (a reclaim pass and a removal that
// waits would otherwise hang on the dead thread's slot).
RIO_TEST(pthreadExitInsideTimedHandler)
{
    if (RIO_SEQ_CST_OPS) // a ThreadSanitizer build; the ASan and g++ stages run it
        SKIP("TSan reports threads that end by forced unwinding ('finished with ignores enabled')");
    if (forcedUnwindCrashesHere)
        SKIP("libc++ on glibc: glibc's forced unwind (libgcc_s) calls libc++abi's personality, which "
             "calls LLVM's libunwind; any pthread_exit through a C++ try block crashes there");
    rio::Registry<int> r;
    r.setDiagnosticsEnabled(true);
    const rio::HandlerId id = r.add([] { pthread_exit(nullptr); });
    pthread_t t{};
    CHECK_EQ(pthread_create(
                 &t, nullptr,
                 +[](void *p) -> void * {
                     static_cast<rio::Registry<int> *>(p)->notify(1);
                     return p; // only if notify swallowed the exit
                 },
                 &r),
             0);
    void *result = &r;
    CHECK_EQ(pthread_join(t, &result), 0);
    CHECK_EQ(result, nullptr);
    checkUsableAfter(r, id);
    r.setDiagnosticsEnabled(false);
}

// pthread_cancel() of a thread blocked at a cancellation point (read) inside a
// handler ends it with PTHREAD_CANCELED; the process does not abort.
RIO_TEST(pthreadCancelInsideHandler)
{
    if (RIO_SEQ_CST_OPS) // a ThreadSanitizer build; the ASan and g++ stages run it
        SKIP("TSan reports threads that end by forced unwinding ('finished with ignores enabled')");
    if (forcedUnwindCrashesHere)
        SKIP("libc++ on glibc: glibc's forced unwind (libgcc_s) calls libc++abi's personality, which "
             "calls LLVM's libunwind; any pthread_exit through a C++ try block crashes there");
    rio::Registry<int> r;
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
    struct Ctx
    {
        rio::Registry<int> *r;
        rio::check::Latch entered{1};
    } ctx{&r};
    const int readFd = fds[0];
    const rio::HandlerId id = r.add([&ctx, readFd] {
        ctx.entered.count_down();
        char c = 0;
        (void)!read(readFd, &c, 1); // nobody writes: blocks until cancelled
    });
    pthread_t t{};
    CHECK_EQ(pthread_create(
                 &t, nullptr,
                 +[](void *p) -> void * {
                     static_cast<Ctx *>(p)->r->notify(1);
                     return nullptr;
                 },
                 &ctx),
             0);
    ctx.entered.wait();
    CHECK_EQ(pthread_cancel(t), 0);
    void *result = nullptr;
    CHECK_EQ(pthread_join(t, &result), 0);
    CHECK_EQ(result, PTHREAD_CANCELED);
    close(fds[0]);
    close(fds[1]);
    checkUsableAfter(r, id);
}
