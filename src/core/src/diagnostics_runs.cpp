// SPDX-License-Identifier: MIT
// Diagnostics' run records (docs/DIAGNOSTICS.md): each thread's record of the run in progress,
// handler statistics' lifetime, slow runs (counted, kept, reported) and the watchdog thread that
// reads the records and reports a run still going past the stall threshold.

#include "diagnostics_p.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <utility>
#include <vector>

#if defined(__linux__) && defined(__GLIBC__)
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cxxabi.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
#include <sys/syscall.h>
#include <unistd.h>
#define RIO_DIAG_STACKS 1
#else
#define RIO_DIAG_STACKS 0
#endif

namespace rio::detail::diag {

RIO_TLS_INITIAL_EXEC thread_local constinit RunRecord *tlsRecord = nullptr;

namespace {

constinit std::atomic<long> registriesOn{0}; // states whose arrays are timed
constinit std::atomic<SlowSink> slowSink{nullptr};
constinit std::atomic<MainThreadCheck> mainThreadCheck{nullptr};

constinit std::atomic<RunRecord *> records{nullptr};
constinit std::atomic<bool> watchdogLost{false}; // a fork child's: its next run starts one

// Gives the thread's record back when the thread exits.
struct RecordRelease
{
    ~RecordRelease();
};

// What threads share here, never destroyed: a thread may still end a run or watch at exit.
struct Shared
{
    std::mutex statsMutex; // guards freeing statistics against the watchdog reading them
    // The last slowRunsKept slow runs, every one (not only each handler's first, the one reported).
    std::mutex slowMutex;
    std::array<SlowRun, slowRunsKept> slowRuns;
    std::size_t slowNext = 0;
    std::size_t slowCount = 0;
    std::array<SlowRun, stallsKept> stalls; // the last stall reports, under slowMutex too
    std::size_t stallNext = 0;
    std::size_t stallCount = 0;
    // The watchdog thread, running while `watchdog` is joinable.
    std::mutex watchdogMutex;
    std::condition_variable wake;
    std::uint64_t generation = 0; // a watchdog whose generation is past ends
    std::thread watchdog;
};

Shared &shared() noexcept
{
    static auto *s = new Shared; // NOLINT(bugprone-unhandled-exception-at-new): never destroyed
    return *s;
}

RecordRelease::~RecordRelease()
{
    if (RunRecord *r = tlsRecord) {
        tlsRecord = nullptr;
        {
            // No more signals to this thread: the watchdog reads the id and signals it under this
            // lock, so it never signals an id the kernel may have given to a new thread.
            std::lock_guard lock(shared().statsMutex);
            r->tid.store(0, std::memory_order_relaxed);
        }
        r->times.store(nullptr, std::memory_order_release);
        r->inUse.store(false, std::memory_order_release);
    }
}

// --- A stalled thread's stack (Linux) ------------------------------------------------------------

#if RIO_DIAG_STACKS
// The signal the watchdog sends a stalled thread: its handler writes the thread's stack into
// the thread's run record (backtrace(), loaded before the handler is installed, so that it
// allocates nothing there). Installed once, only while the signal has its default disposition.
int stackSignal() noexcept
{
    return SIGRTMIN + 4;
}

constinit std::atomic<int> stackHandler{0}; // 0: not tried, 1: installed, -1: not available

void onStackSignal(int, siginfo_t *, void *) noexcept
{
    const int saved = errno;
    RunRecord *r = tlsRecord;
    int asked = 1;
    if (r != nullptr && r->stackState.compare_exchange_strong(asked, 3, std::memory_order_acq_rel)) {
        r->stackCount = backtrace(r->stack.data(), static_cast<int>(r->stack.size()));
        r->stackState.store(2, std::memory_order_release);
    }
    errno = saved;
}

// True while the signal's disposition is still our handler: a program (or a fork child) that set
// its own, or the default (which would end the process), after ours was installed has taken it.
bool stackHandlerStillOurs() noexcept
{
    struct sigaction now{};
    return sigaction(stackSignal(), nullptr, &now) == 0 && (now.sa_flags & SA_SIGINFO) != 0 &&
           now.sa_sigaction == &onStackSignal; // NOLINT(cppcoreguidelines-pro-type-union-access)
}

bool stackHandlerReady() noexcept
{
    int state = stackHandler.load(std::memory_order_acquire);
    if (state > 0 && !stackHandlerStillOurs()) {
        state = -1; // taken since: never signalled again
        stackHandler.store(state, std::memory_order_release);
    }
    if (state != 0)
        return state > 0;
    const char *env = std::getenv("RIO_DIAGNOSTICS_STACKS"); // NOLINT(concurrency-mt-unsafe)
    state = -1;
    if (env == nullptr || std::strcmp(env, "0") != 0) {
        void *warm[4];
        (void)backtrace(warm, 4); // loads the unwinder now, not in the handler
        struct sigaction old{};
        if (sigaction(stackSignal(), nullptr, &old) == 0 && (old.sa_flags & SA_SIGINFO) == 0 &&
            old.sa_handler == SIG_DFL) { // NOLINT(cppcoreguidelines-pro-type-union-access)
            struct sigaction act{};
            act.sa_sigaction = &onStackSignal; // NOLINT(cppcoreguidelines-pro-type-union-access)
            act.sa_flags = SA_SIGINFO | SA_RESTART;
            sigemptyset(&act.sa_mask);
            if (sigaction(stackSignal(), &act, nullptr) == 0)
                state = 1;
        }
    }
    stackHandler.store(state, std::memory_order_release);
    return state > 0;
}

// One frame as text: "function+0xoffset (module)", or where no symbol is exported the address
// and where it is in its module's file, "0x55d… (module+0x12f1)", which a symbolizer reads from the
// module (`addr2line -f -C -e module 0x12f1`): the address less the module's load bias.
void appendFrame(std::string &out, void *address)
{
    Dl_info info{};
    link_map *map = nullptr;
    char line[128];
    const char *module = "?";
    if (dladdr1(address, &info, reinterpret_cast<void **>(&map), RTLD_DL_LINKMAP) != 0 &&
        info.dli_fname != nullptr) {
        module = std::strrchr(info.dli_fname, '/') != nullptr ? std::strrchr(info.dli_fname, '/') + 1
                                                              : info.dli_fname;
    }
    if (info.dli_sname != nullptr) {
        int status = -1;
        char *demangled = abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status);
        out += status == 0 && demangled != nullptr ? demangled : info.dli_sname;
        std::free(demangled); // NOLINT(cppcoreguidelines-no-malloc)
        std::snprintf(line, sizeof line, "+0x%zx (%s)\n",
                      static_cast<std::size_t>(static_cast<const char *>(address) -
                                               static_cast<const char *>(info.dli_saddr)),
                      module);
    } else if (map != nullptr) {
        std::snprintf(line, sizeof line, "%p (%s+0x%zx)\n", address, module,
                      reinterpret_cast<std::uintptr_t>(address) - static_cast<std::uintptr_t>(map->l_addr));
    } else {
        std::snprintf(line, sizeof line, "%p (%s)\n", address, module);
    }
    out += line;
}
#endif

// The stack of the thread whose record `r` is, as text (empty where it cannot be had): the thread
// is interrupted for as long as backtrace() takes, and the watchdog waits at most 100 ms for it.
std::string captureStack(RunRecord &r)
{
#if RIO_DIAG_STACKS
    if (!stackHandlerReady()) // may load the unwinder: not under a lock of ours
        return {};
    {
        // The thread cannot exit meanwhile (its record's release takes this lock): the id signalled
        // is its own, never one the kernel reused for a new thread.
        std::lock_guard lock(shared().statsMutex);
        const long tid = r.tid.load(std::memory_order_relaxed);
        if (tid == 0)
            return {};
        r.stackState.store(1, std::memory_order_release);
        if (syscall(SYS_tgkill, static_cast<long>(getpid()), tid, stackSignal()) != 0) {
            r.stackState.store(0, std::memory_order_release);
            return {};
        }
    }
    for (int waited = 0; r.stackState.load(std::memory_order_acquire) != 2; ++waited) {
        int asked = 1;
        if (waited >= 100 && r.stackState.compare_exchange_strong(asked, 0, std::memory_order_acq_rel))
            return {}; // signals blocked on that thread, or it is not scheduled: no stack
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        tickCoarse(); // the watchdog's tick goes on meanwhile
    }
    std::string out;
    // The handler's own frame and the signal trampoline first.
    for (int i = 2; i < r.stackCount; ++i)
        appendFrame(out, r.stack[static_cast<std::size_t>(i)]);
    r.stackState.store(0, std::memory_order_release);
    if (!out.empty())
        out.pop_back(); // the last newline
    return out;
#else
    (void)r;
    return {};
#endif
}

// --- The watchdog ------------------------------------------------------------------------------

// True when the run that started at `start` on `r`'s thread was reported. Runs on a thread nest,
// so a run seen now ended every reported run that started after it: those are forgotten, and a
// run that encloses a nested one (a nested event loop) is still known once it shows again.
bool reportedBefore(RunRecord &r, std::uint64_t start) noexcept
{
    while (r.reportedCount > 0 && r.reported[r.reportedCount - 1] > start)
        --r.reportedCount;
    return r.reportedCount > 0 && r.reported[r.reportedCount - 1] == start;
}

void noteReported(RunRecord &r, std::uint64_t start) noexcept
{
    if (r.reportedCount == r.reported.size()) { // the oldest: a run that began before seven others
        std::move(r.reported.begin() + 1, r.reported.end(), r.reported.begin());
        --r.reportedCount;
    }
    r.reported[r.reportedCount++] = start;
}

// One look at every thread's run: a run past the stall threshold is reported once, while it runs.
void watchdogScan() noexcept
{
    const std::uint64_t limit = stallTicks.load(std::memory_order_relaxed);
    if (limit == off)
        return;
    const std::uint64_t now = readTicks();
    for (RunRecord *r = records.load(std::memory_order_acquire); r != nullptr; r = r->next) {
        HandlerTimes *s = r->times.load(std::memory_order_acquire);
        if (s == nullptr)
            continue;
        const std::uint64_t start = r->start.load(std::memory_order_acquire);
        // 0 is a record's resting start (no run, the clock never reads it): a record seen
        // between two runs is no run at all.
        if (start == 0 || now < start || now - start < limit)
            continue;
        SlowRun run;
        {
            // A record still showing `s` after we hold the lock shows a run in progress: its
            // statistics are freed only with its box, after the run ended and the record moved
            // on, and freeing takes this lock. It also keeps the records' lists of reported runs:
            // a watchdog that is ending may still scan beside the next one.
            std::lock_guard lock(shared().statsMutex);
            if (r->times.load(std::memory_order_acquire) != s ||
                r->start.load(std::memory_order_acquire) != start || reportedBefore(*r, start))
                continue;
            try {
                run.registry = s->registry;
                run.id = s->id;
                run.where = s->where;
                if (s->eventType != nullptr)
                    run.eventType = *s->eventType;
            } catch (...) {
                continue;
            }
            noteReported(*r, start);
        }
        run.elapsedNs = toNs(now - start);
        run.thread = r->thread.load(std::memory_order_relaxed);
        run.turn = onTimeline(*r) ? timelineTurn() : 0;
        run.stillRunning = true;
        try {
            run.stack = captureStack(*r);
            // Taken while that run still ran, or not at all.
            if (r->times.load(std::memory_order_acquire) != s ||
                r->start.load(std::memory_order_acquire) != start)
                run.stack.clear();
        } catch (...) {
            run.stack.clear(); // no memory: reported without it
        }
        try {
            Shared &k = shared();
            std::lock_guard lock(k.slowMutex);
            SlowRun &kept = k.stalls[k.stallNext];
            kept = run;
            kept.atNs = static_cast<std::uint64_t>(steadyNs());
            k.stallNext = (k.stallNext + 1) % k.stalls.size();
            k.stallCount = std::min(k.stallCount + 1, k.stalls.size());
        } catch (...) {
            // No memory: reported, not kept.
        }
        if (const SlowSink sink = slowSink.load(std::memory_order_acquire))
            sink(run); // no lock of ours held
    }
}

void watchdogMain(std::uint64_t generation) noexcept
{
    Shared &g = shared();
    auto lastRefine = std::chrono::steady_clock::now();
    auto lastScan = lastRefine;
    std::unique_lock lock(g.watchdogMutex);
    tickCoarse();
    while (g.generation == generation) { // also after a look: a stop may have come meanwhile
        const std::uint64_t stall = stallNs.load(std::memory_order_relaxed);
        // A quarter of the stall threshold between looks (1 to 20 ms); woken, it looks at once.
        // The coarse clock ticks every millisecond meanwhile.
        const auto period = std::chrono::nanoseconds(
            std::clamp<std::uint64_t>(stall == 0 ? 20'000'000 : stall / 4, 1'000'000, 20'000'000));
        const bool woken =
            g.wake.wait_for(lock, std::chrono::nanoseconds(coarseTickNs)) == std::cv_status::no_timeout;
        if (g.generation != generation)
            break;
        tickCoarse();
        const auto now = std::chrono::steady_clock::now();
        if (!woken && now - lastScan < period)
            continue;
        lastScan = now;
        lock.unlock();
        watchdogScan();
        if (now - lastRefine > std::chrono::seconds(1)) {
            lastRefine = now;
            refineClock();
            updateTicks();
        }
        lock.lock();
    }
}

} // namespace

// Asks the main-thread check about the calling thread, whose record `r` is: its threshold and
// name. Without an answer the record stays tentative: setMainThreadCheck() has its next slow run
// ask again (and a check installed while this one asked is seen here).
void resolveThread(RunRecord &r) noexcept
{
    const MainThreadCheck check = mainThreadCheck.load(std::memory_order_seq_cst);
    r.threadName.clear();
    const int main = check != nullptr ? check(r.threadName) : -1;
    r.slowTicks.store(main == 1 ? &mainTicks : &otherTicks, std::memory_order_relaxed);
    r.tentative.store(main < 0, std::memory_order_seq_cst);
    if (main < 0 && mainThreadCheck.load(std::memory_order_seq_cst) != check)
        r.slowTicks.store(&unresolvedTicks, std::memory_order_relaxed);
}

RIO_COLD RunRecord *acquireRecord() noexcept
{
    static thread_local RecordRelease release; // registers the release at thread exit
    (void)&release;
    if (watchdogLost.exchange(false, std::memory_order_relaxed)) [[unlikely]]
        updateWatchdog();
    // A free record, or the one this thread held when it forked (thread numbers are never reused).
    const std::uint64_t self = currentThreadNumber();
    RunRecord *r = records.load(std::memory_order_acquire);
    for (bool expected = false; r != nullptr; r = r->next, expected = false)
        if (r->inUse.load(std::memory_order_relaxed)
                ? r->thread.load(std::memory_order_relaxed) == self
                : r->inUse.compare_exchange_strong(expected, true, std::memory_order_acq_rel))
            break;
    if (r == nullptr) {
        r = new (std::nothrow) RunRecord;
        if (r == nullptr) {
            // No memory: runs on this thread are still counted, through a shared dummy the
            // watchdog never sees.
            static RunRecord dummy;
            return &dummy;
        }
        r->inUse.store(true, std::memory_order_relaxed);
        r->next = records.load(std::memory_order_relaxed);
        while (!records.compare_exchange_weak(r->next, r, std::memory_order_acq_rel)) {
        }
    }
#if RIO_DIAG_STACKS
    r->tid.store(static_cast<long>(syscall(SYS_gettid)), std::memory_order_relaxed); // a fork child's too
#endif
    if (r->thread.load(std::memory_order_relaxed) != self) { // its own is named and checked
        r->thread.store(self, std::memory_order_relaxed);
        resolveThread(*r);
    }
    tlsRecord = r;
    return r;
}

RIO_COLD void reportSlow(HandlerTimes *s, std::uint64_t ticks, RunRecord &r) noexcept
{
    if (r.slowTicks.load(std::memory_order_relaxed) == &unresolvedTicks) { // a check came since
        resolveThread(r);
        if (ticks < r.slowTicks.load(std::memory_order_relaxed)->load(std::memory_order_relaxed))
            return;
    }
    s->slowRuns.fetch_add(1, std::memory_order_relaxed);
    // Its end on both clocks at once: the trace finds its timeline entry by it, which a wait for
    // the lock below (its holder preempted) would put milliseconds apart.
    const std::uint64_t end = readTicks();
    const auto at = static_cast<std::uint64_t>(steadyNs());
    std::uint64_t turn = 0;
    if (onTimeline(r)) { // the main thread's: its turn holds it
        timelineRun(s, end - std::min(end, ticks), end);
        turn = timelineTurn();
    }
    const auto describe = [&](SlowRun &run) { // the thread's name last: copying it may throw
        run.registry = s->registry;
        run.id = s->id;
        run.where = s->where;
        run.elapsedNs = toNs(ticks);
        run.thread = r.thread.load(std::memory_order_relaxed);
        run.turn = turn;
        run.threadName = r.threadName;
    };
    {
        Shared &k = shared();
        std::lock_guard lock(k.slowMutex);
        SlowRun &run = k.slowRuns[k.slowNext];
        try {
            describe(run);
        } catch (...) {
            run.threadName.clear(); // no memory: the report says "#N"
        }
        run.atNs = at;
        k.slowNext = (k.slowNext + 1) % k.slowRuns.size();
        k.slowCount = std::min(k.slowCount + 1, k.slowRuns.size());
    }
    if (s->slowReported.exchange(true, std::memory_order_acq_rel))
        return;
    const SlowSink sink = slowSink.load(std::memory_order_acquire);
    if (sink == nullptr)
        return;
    try {
        SlowRun run;
        if (s->eventType != nullptr)
            run.eventType = *s->eventType;
        describe(run);
        sink(run);
    } catch (...) {
        // No memory for the report: the run is still counted in slowRuns.
    }
}

void capFastLimit(HandlerTimes *s, std::uint64_t cap) noexcept
{
    std::uint64_t l = s->fastLimit.load(std::memory_order_seq_cst);
    while (l > cap && !s->fastLimit.compare_exchange_weak(l, cap, std::memory_order_seq_cst)) {
    }
}

std::vector<SlowRun> recentSlowRuns()
{
    Shared &k = shared();
    std::vector<SlowRun> out;
    out.reserve(slowRunsKept);
    std::lock_guard lock(k.slowMutex);
    for (std::size_t i = 0; i < k.slowCount; ++i) // oldest first
        out.push_back(k.slowRuns[(k.slowNext + slowRunsKept - k.slowCount + i) % slowRunsKept]);
    return out;
}

std::vector<SlowRun> recentStalls()
{
    Shared &k = shared();
    std::vector<SlowRun> out;
    out.reserve(stallsKept);
    std::lock_guard lock(k.slowMutex);
    for (std::size_t i = 0; i < k.stallCount; ++i) // oldest first
        out.push_back(k.stalls[(k.stallNext + stallsKept - k.stallCount + i) % stallsKept]);
    return out;
}

void freeStats(HandlerStats *stats) noexcept
{
    if (stats->refs.fetch_sub(1, std::memory_order_acq_rel) != 1)
        return;
    HandlerStats *leftTo = stats->leftTo;
    {
        std::lock_guard lock(shared().statsMutex);
        delete stats->times;
        delete stats;
    }
    if (leftTo != nullptr)
        freeStats(leftTo);
}

HandlerStats *newStats()
{
    return new HandlerStats;
}

HandlerTimes *newTimes(std::uint64_t registry, HandlerId id, SourceLocation where,
                       const std::shared_ptr<const std::string> &eventType)
{
    auto *t = new HandlerTimes;
    t->registry = registry;
    t->id = id;
    t->where = where;
    t->eventType = eventType;
    return t;
}

RunScope::RunScope(HandlerStats *stats, bool count) noexcept
    : m_stats(stats), m_uncaught(count ? std::uncaught_exceptions() : 0), m_count(count)
{
    if (count)
        stats->calls.fetch_add(1, std::memory_order_relaxed);
    RunRecord &r = *record();
    m_record = &r;
    m_prevStats = r.times.load(std::memory_order_relaxed);
    m_prevStart = r.start.load(std::memory_order_relaxed);
    m_start = readTicks();
    r.start.store(m_start, std::memory_order_relaxed);
    r.times.store(stats->times, std::memory_order_release);
}

RunScope::~RunScope()
{
    if (m_count && std::uncaught_exceptions() > m_uncaught) // one thrown by the run, not an outer one
        m_stats->failures.fetch_add(1, std::memory_order_relaxed);
    // The record shows the enclosing run again. The run's statistics leave the record before its
    // start does (released by the start): a watchdog that read them and then the enclosing start
    // (0 at the top) sees them gone when it looks again.
    RunRecord &r = *static_cast<RunRecord *>(m_record);
    const std::uint64_t dt = readTicks() - m_start;
    r.times.store(m_prevStats, std::memory_order_relaxed);
    r.start.store(m_prevStart, std::memory_order_release);
    HandlerTimes *t = m_stats->times;
    t->runTime.record(dt);
    if (dt >= r.slowTicks.load(std::memory_order_relaxed)->load(std::memory_order_relaxed)) [[unlikely]]
        reportSlow(t, dt, r);
    else if (onTimeline(r)) [[unlikely]]
        timelineRun(t, m_start, m_start + dt);
}

void setSlowSink(SlowSink sink) noexcept
{
    slowSink.store(sink, std::memory_order_release);
}

void setMainThreadCheck(MainThreadCheck check) noexcept
{
    mainThreadCheck.store(check, std::memory_order_seq_cst);
    for (RunRecord *r = records.load(std::memory_order_acquire); r != nullptr; r = r->next)
        if (r->tentative.load(std::memory_order_seq_cst))
            r->slowTicks.store(&unresolvedTicks, std::memory_order_relaxed);
}

void updateWatchdog() noexcept
{
    Shared &g = shared();
    std::thread old;
    {
        std::lock_guard lock(g.watchdogMutex);
        const bool want = globalEnabled() || registriesOn.load(std::memory_order_acquire) > 0;
        if (want)
            startTimeline();
        else
            timelineOn.store(false, std::memory_order_relaxed);
        g.wake.notify_all(); // a new period (the stall threshold's), or the end
        if (want == g.watchdog.joinable())
            return;
        if (want) {
            try {
                g.watchdog = std::thread([generation = g.generation] { watchdogMain(generation); });
            } catch (...) {
                // No thread: stalls go unreported; slow runs are still reported after they end.
            }
            return;
        }
        ++g.generation;
        old = std::move(g.watchdog);
    }
    // Outside the lock: the watchdog may be reporting, and a slot may switch diagnostics.
    if (old.get_id() == std::this_thread::get_id())
        old.detach(); // a slot on the watchdog thread turned it off: it ends after this report
    else
        old.join();
}

// fork(): these locks are never held while another lock is taken, and statistics are freed under
// a registry's lock, so they come after every registry's.
void prepareFork() noexcept
{
    Shared &g = shared();
    std::lock(g.statsMutex, g.slowMutex, g.watchdogMutex);
}

void afterFork(bool child) noexcept
{
    Shared &g = shared();
    if (child) {
        // Only the forking thread is here: the others' records are freed (they show no run), and
        // this thread takes its own again at its next run.
        const RunRecord *own = std::exchange(tlsRecord, nullptr);
        for (RunRecord *r = records.load(std::memory_order_relaxed); r != nullptr; r = r->next)
            if (r != own) {
                r->times.store(nullptr, std::memory_order_relaxed);
                r->inUse.store(false, std::memory_order_release);
            }
        // The watchdog is not here, or is this thread, now running the child's code from a
        // report: its thread and the condition variable it may count as a waiter (a notify would
        // wait for it) are re-made in place (destroying them would end the process or wait), a
        // watchdog loop on this thread ends at its next look, and the next run, switch or
        // threshold starts one.
        if (g.watchdog.get_id() == std::this_thread::get_id())
            ++g.generation;
        new (&g.watchdog) std::thread;
        new (&g.wake) std::condition_variable;
        watchdogLost.store(true, std::memory_order_relaxed);
    }
    g.watchdogMutex.unlock();
    g.slowMutex.unlock();
    g.statsMutex.unlock();
}

bool watchdogRunning() noexcept
{
    std::lock_guard lock(shared().watchdogMutex);
    return shared().watchdog.joinable();
}

void countRegistry(bool on) noexcept
{
    registriesOn.fetch_add(on ? 1 : -1, std::memory_order_acq_rel);
}

} // namespace rio::detail::diag
