// SPDX-License-Identifier: MIT
// Diagnostics in the core (docs/DIAGNOSTICS.md): thread numbers, registry serials, the clock,
// per-handler statistics and the timed notify loop that records them (taken by notifies of
// arrays published while the registry's diagnostics are on, so that off costs notify one test
// of a flag), the per-thread record of the run in progress, the watchdog thread that reads
// those records, and snapshots.

#include "diagnostics_p.h"
#include "domain.h"
#include "registry_list.h"
#include "snapshot.h"

#include <registryio/detail/diagnostics.h>
#include <registryio/detail/registry_core.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <x86intrin.h>
#define RIO_DIAG_TSC 1
#else
#define RIO_DIAG_TSC 0
#endif

namespace rio::detail::diag {

thread_local constinit std::uint64_t tlsThreadNumber = 0;

namespace {

constinit std::atomic<std::uint64_t> threadCounter{0};
constinit std::atomic<std::uint64_t> serialCounter{0};
constinit std::atomic<bool> globalOn{false};
constinit std::atomic<long> registriesOn{0}; // states whose arrays are timed
constinit std::atomic<SlowSink> slowSink{nullptr};
constinit std::atomic<MainThreadCheck> mainThreadCheck{nullptr};

// --- The clock -------------------------------------------------------------------------------

constinit std::atomic<bool> useTsc{false};
constinit std::atomic<double> nsPerTickValue{1.0};

std::int64_t steadyNs() noexcept
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

[[maybe_unused]] bool invariantTsc() noexcept
{
#if RIO_DIAG_TSC
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid(0x80000000u, &a, &b, &c, &d) == 0 || a < 0x80000007u)
        return false;
    __get_cpuid(0x80000007u, &a, &b, &c, &d);
    return (d & (1u << 8)) != 0; // invariant TSC: constant rate, runs in every C-state
#else
    return false;
#endif
}

#if RIO_DIAG_TSC
// Both clocks read at one moment: the TSC on both sides of a steady_clock read, the pair with the
// closest bracket of several tries. A preemption inside a try makes its bracket long and it
// loses, so one preemption cannot put a pair's readings apart.
struct ClockPair
{
    std::uint64_t ticks = 0;
    std::int64_t ns = 0;
};

ClockPair readPair(CalibrationDelay delay, int &reads) noexcept
{
    ClockPair best;
    std::uint64_t bestSpan = ~std::uint64_t{0};
    for (int i = 0; i < 8; ++i) {
        const std::uint64_t t0 = __rdtsc();
        if (delay != nullptr)
            delay(reads);
        ++reads;
        const std::int64_t n = steadyNs();
        const std::uint64_t t1 = __rdtsc();
        if (t1 - t0 < bestSpan) {
            bestSpan = t1 - t0;
            best = {t0 + (t1 - t0) / 2, n};
        }
    }
    return best;
}

// Nanoseconds per TSC tick between two pairs (0: no usable interval).
double rateBetween(const ClockPair &a, const ClockPair &b) noexcept
{
    return b.ticks > a.ticks && b.ns > a.ns
               ? static_cast<double>(b.ns - a.ns) / static_cast<double>(b.ticks - a.ticks)
               : 0.0;
}

// The TSC's rate against steady_clock over 2 ms, between two bracketed pairs (a preemption
// between them only lengthens the interval). Returns the first pair in `start`.
double calibrate(CalibrationDelay delay, ClockPair &start) noexcept
{
    int reads = 0;
    start = readPair(delay, reads);
    while (steadyNs() - start.ns < 2'000'000) {
    }
    return rateBetween(start, readPair(delay, reads));
}

constinit ClockPair calibrationPair;
#endif

// Chooses the clock once: the TSC where it is invariant (a read is a few instructions), measured
// against steady_clock; else steady_clock (a vDSO call).
void initClock() noexcept
{
    static const bool once = [] {
#if RIO_DIAG_TSC
        if (invariantTsc() &&
            std::getenv("RIO_DIAGNOSTICS_STEADY_CLOCK") == nullptr) { // NOLINT(concurrency-mt-unsafe)
            const double rate = calibrate(nullptr, calibrationPair);
            if (rate > 0) {
                nsPerTickValue.store(rate, std::memory_order_relaxed);
                useTsc.store(true, std::memory_order_release);
            }
        }
#endif
        return true;
    }();
    (void)once;
}

// Refines the TSC's rate over the whole time since calibration (the watchdog, now and then).
void refineClock() noexcept
{
#if RIO_DIAG_TSC
    if (!useTsc.load(std::memory_order_relaxed))
        return;
    int reads = 0;
    const ClockPair now = readPair(nullptr, reads);
    if (now.ns - calibrationPair.ns > 100'000'000)
        if (const double rate = rateBetween(calibrationPair, now); rate > 0)
            nsPerTickValue.store(rate, std::memory_order_relaxed);
#endif
}

inline std::uint64_t readTicks() noexcept
{
#if RIO_DIAG_TSC
    if (useTsc.load(std::memory_order_relaxed)) [[likely]]
        return __rdtsc();
#endif
    return static_cast<std::uint64_t>(steadyNs());
}

// --- Thresholds --------------------------------------------------------------------------------

constexpr std::uint64_t off = ~std::uint64_t{0};
constinit std::atomic<std::uint64_t> mainNs{16'000'000};
constinit std::atomic<std::uint64_t> otherNs{0};
constinit std::atomic<std::uint64_t> stallNs{50'000'000};
constinit std::atomic<std::uint64_t> mainTicks{off};
constinit std::atomic<std::uint64_t> otherTicks{off};
constinit std::atomic<std::uint64_t> stallTicks{off};
// Half the lower slow threshold: a timed run longer than its handler's fastLimit, which never
// exceeds this, takes the cold path that tests it against the thread's threshold. The half
// keeps the refinement of the clock's rate (which moves the thresholds a little) harmless.
constinit std::atomic<std::uint64_t> fastCap{0};

std::uint64_t toTicks(std::uint64_t ns) noexcept
{
    if (ns == 0)
        return off;
    const double t = static_cast<double>(ns) / nsPerTickValue.load(std::memory_order_relaxed);
    return t >= 1.8e19 ? off : std::max<std::uint64_t>(1, static_cast<std::uint64_t>(t));
}

void updateTicks() noexcept
{
    mainTicks.store(toTicks(mainNs.load(std::memory_order_relaxed)), std::memory_order_relaxed);
    otherTicks.store(toTicks(otherNs.load(std::memory_order_relaxed)), std::memory_order_relaxed);
    stallTicks.store(toTicks(stallNs.load(std::memory_order_relaxed)), std::memory_order_relaxed);
    fastCap.store(
        std::min(mainTicks.load(std::memory_order_relaxed), otherTicks.load(std::memory_order_relaxed)) / 2,
        std::memory_order_seq_cst);
}

std::uint64_t toNs(std::uint64_t ticks) noexcept
{
    return static_cast<std::uint64_t>(static_cast<double>(ticks) *
                                      nsPerTickValue.load(std::memory_order_relaxed));
}

// --- Per-thread run records -------------------------------------------------------------------

// The run in progress on one thread, read by the watchdog. Records are never freed: a thread's
// record goes back to the pool when it exits and a new thread takes it.
struct alignas(64) RunRecord
{
    std::atomic<std::uint64_t> start{0};
    std::atomic<HandlerStats *> stats{nullptr};
    const std::atomic<std::uint64_t> *slowTicks = &otherTicks;
    std::atomic<std::uint64_t> thread{0};
    std::string threadName; // the owning thread's alone (the hook's name for it)
    // The watchdog's: starts of the runs it reported (ascending; the last few).
    std::array<std::uint64_t, 8> reported{};
    std::size_t reportedCount = 0;
    std::atomic<bool> inUse{false};
    RunRecord *next = nullptr;
};

constinit std::atomic<RunRecord *> records{nullptr};
RIO_TLS_INITIAL_EXEC thread_local constinit RunRecord *tlsRecord = nullptr;

// Gives the thread's record back when the thread exits.
struct RecordRelease
{
    RecordRelease() = default;
    RecordRelease(const RecordRelease &) = delete;
    RecordRelease &operator=(const RecordRelease &) = delete;
    ~RecordRelease()
    {
        if (RunRecord *r = tlsRecord) {
            tlsRecord = nullptr;
            r->stats.store(nullptr, std::memory_order_release);
            r->inUse.store(false, std::memory_order_release);
        }
    }
};

RIO_COLD RunRecord *acquireRecord() noexcept
{
    static thread_local RecordRelease release; // registers the release at thread exit
    (void)&release;
    RunRecord *r = nullptr;
    for (RunRecord *it = records.load(std::memory_order_acquire); it != nullptr; it = it->next) {
        bool expected = false;
        if (!it->inUse.load(std::memory_order_relaxed) &&
            it->inUse.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
            r = it;
            break;
        }
    }
    if (r == nullptr) {
        r = new (std::nothrow) RunRecord;
        if (r == nullptr) {
            // No memory: runs on this thread are still counted, through a shared dummy the
            // watchdog never sees.
            static RunRecord dummy;
            return &dummy;
        }
        r->inUse.store(true, std::memory_order_relaxed);
        RunRecord *head = records.load(std::memory_order_relaxed);
        do {
            r->next = head;
        } while (!records.compare_exchange_weak(head, r, std::memory_order_acq_rel));
    }
    const MainThreadCheck check = mainThreadCheck.load(std::memory_order_acquire);
    r->threadName.clear();
    r->slowTicks = check != nullptr && check(r->threadName) ? &mainTicks : &otherTicks;
    r->thread.store(currentThreadNumber(), std::memory_order_relaxed);
    tlsRecord = r;
    return r;
}

inline RunRecord *record() noexcept
{
    RunRecord *r = tlsRecord;
    return r != nullptr ? r : acquireRecord();
}

// Guards freeing statistics against the watchdog reading them (see watchdogScan).
std::mutex &statsMutex() noexcept
{
    static auto *m = new std::mutex; // NOLINT(bugprone-unhandled-exception-at-new): never destroyed
    return *m;
}

// The last slowRunsKept slow runs of the process, every one of them (not only each handler's
// first, which alone is reported).
struct SlowRuns
{
    std::mutex mutex;
    std::array<SlowRun, slowRunsKept> runs;
    std::size_t next = 0;
    std::size_t count = 0;
};

SlowRuns &slowRuns() noexcept
{
    static auto *r = new SlowRuns; // NOLINT(bugprone-unhandled-exception-at-new): never destroyed
    return *r;
}

RIO_COLD void keepSlowRun(const HandlerStats *s, std::uint64_t ticks, const RunRecord &r) noexcept
{
    SlowRuns &k = slowRuns();
    std::lock_guard lock(k.mutex);
    SlowRun &run = k.runs[k.next];
    run.registry = s->registry;
    run.id = s->id;
    run.where = s->where;
    run.elapsedNs = toNs(ticks);
    run.thread = r.thread.load(std::memory_order_relaxed);
    try {
        run.threadName = r.threadName;
    } catch (...) {
        run.threadName.clear(); // no memory: the report says "#N"
    }
    run.atNs = static_cast<std::uint64_t>(steadyNs());
    k.next = (k.next + 1) % k.runs.size();
    k.count = std::min(k.count + 1, k.runs.size());
}

RIO_COLD void reportSlow(HandlerStats *s, std::uint64_t ticks, const RunRecord &r) noexcept
{
    s->slowRuns.fetch_add(1, std::memory_order_relaxed);
    keepSlowRun(s, ticks, r);
    if (s->slowReported.exchange(true, std::memory_order_acq_rel))
        return;
    const SlowSink sink = slowSink.load(std::memory_order_acquire);
    if (sink == nullptr)
        return;
    try {
        SlowRun run;
        run.registry = s->registry;
        run.id = s->id;
        run.where = s->where;
        run.eventType = s->eventType;
        run.elapsedNs = toNs(ticks);
        run.thread = r.thread.load(std::memory_order_relaxed);
        run.threadName = r.threadName;
        sink(run);
    } catch (...) {
        // No memory for the report: the run is still counted in slowRuns.
    }
}

// Ends a run begun by RunScope: the record shows the enclosing run again. The run's statistics
// leave the record before its start does (released by the start): a watchdog that read them and
// then the enclosing start (0 at the top) sees them gone when it looks again.
inline void finishRun(RunRecord &r, HandlerStats *s, std::uint64_t t0, HandlerStats *prevStats,
                      std::uint64_t prevStart) noexcept
{
    const std::uint64_t dt = readTicks() - t0;
    r.stats.store(prevStats, std::memory_order_relaxed);
    r.start.store(prevStart, std::memory_order_release);
    s->runTime.record(dt);
    if (dt >= r.slowTicks->load(std::memory_order_relaxed)) [[unlikely]]
        reportSlow(s, dt, r);
}

// A box's statistics pointer, read and published atomically (std::atomic_ref would do it, but
// libc++ 14, the macOS stand-in, lacks it; these are the builtins it wraps on GCC and Clang).
HandlerStats *loadStats(HandlerBox *box) noexcept
{
    return __atomic_load_n(&box->stats, __ATOMIC_ACQUIRE);
}

void publishStats(HandlerBox *box, HandlerStats *stats) noexcept
{
    __atomic_store_n(&box->stats, stats, __ATOMIC_RELEASE);
}

// Lowers `s`'s fast limit to `cap` if it is above.
void capFastLimit(HandlerStats *s, std::uint64_t cap) noexcept
{
    std::uint64_t l = s->fastLimit.load(std::memory_order_seq_cst);
    while (l > cap && !s->fastLimit.compare_exchange_weak(l, cap, std::memory_order_seq_cst)) {
    }
}

// --- The timed notify loop --------------------------------------------------------------------

template <bool Tsc>
RIO_ALWAYS_INLINE inline std::uint64_t clockTicks() noexcept
{
#if RIO_DIAG_TSC
    if constexpr (Tsc)
        return __rdtsc();
#endif
    return static_cast<std::uint64_t>(steadyNs());
}

// A run longer than its handler's fastLimit (the fast path's one test): raises the maximum,
// reports a slow run, and sets the limit again. Returns the clock's reading to go on from.
RIO_COLD std::uint64_t timedOutlier(HandlerStats *s, std::uint64_t dt, std::uint64_t now,
                                    RunRecord &r) noexcept
{
    s->runTime.raiseMax(dt);
    const std::uint64_t max = s->runTime.max.load(std::memory_order_relaxed);
    std::uint64_t limit = std::min(max, fastCap.load(std::memory_order_seq_cst));
    s->fastLimit.store(limit, std::memory_order_seq_cst);
    // setThresholds lowers every limit after it lowers the cap: a limit stored after its walk
    // read this one is lowered here.
    if (const std::uint64_t cap = fastCap.load(std::memory_order_seq_cst); cap < limit)
        capFastLimit(s, cap);
    if (dt < r.slowTicks->load(std::memory_order_relaxed))
        return now;
    // The report runs the sink: the record shows no run meanwhile, and the report's own time is
    // no handler's.
    r.stats.store(nullptr, std::memory_order_relaxed);
    reportSlow(s, dt, r);
    return readTicks();
}

// A live entry's call without statistics (its box's are not published to this notify):
// called untimed. Returns the clock's reading after it.
RIO_COLD std::uint64_t callUntimed(Invoke f, HandlerBox *box, const void *event, RunRecord &r)
{
    r.stats.store(nullptr, std::memory_order_relaxed);
    try {
        f(box, event);
    }
#if RIO_HAVE_FORCED_UNWIND
    catch (abi::__forced_unwind &) {
        throw;
    }
#endif
    catch (const std::exception &e) {
        RegistryCore::reportFailure(box, e.what());
    } catch (...) {
        RegistryCore::reportFailure(box, nullptr);
    }
    return readTicks();
}

// The timed loop over the entries [it, end): as notify's (announce, the fallback mode's fence,
// load the call, call it, failures reported), and each live handler with statistics timed with
// one clock read: the end of one run is the start of the next, so the loop's own few
// instructions between two handlers land in the second one's time. `last` is the clock's
// reading when the first handler starts; returns the reading after the last. Throws only a
// forced unwind.
template <bool Tsc, bool Fence>
RIO_ALWAYS_INLINE inline std::uint64_t timedRange(const Entry *it, const Entry *end, const void *event,
                                                  std::uint64_t last, RunRecord &r,
                                                  std::atomic<const void *> *running)
{
    for (; it != end; ++it) {
        HandlerBox *box = it->box;
        running->store(box, announceOrder);
        if constexpr (Fence)
            std::atomic_thread_fence(std::memory_order_seq_cst);
        else
            std::atomic_signal_fence(std::memory_order_seq_cst);
        const Invoke f = it->invoke.load(invokeOrder);
        // A removed or suspended entry is no run: not called, not counted; its few instructions
        // land in the next handler's time. Tested before the box is read: a removed box may be
        // freed once its entry reads skipRemoved (the announcement protects only a box whose
        // call was loaded).
        if (f == &skipRemoved || f == &skipSuspended) [[unlikely]]
            continue;
        HandlerStats *s = loadStats(box);
        // No statistics, or a call that only dispatches (the layer times the run itself).
        if (s == nullptr || s->layerTimed) [[unlikely]] {
            last = callUntimed(f, box, event, r);
            continue;
        }
        // What the watchdog needs to name a run still going.
        r.start.store(last, std::memory_order_relaxed);
        r.stats.store(s, std::memory_order_release);
        try {
            f(box, event);
        }
#if RIO_HAVE_FORCED_UNWIND
        catch (abi::__forced_unwind &) {
            throw; // notifyTimed leaves the section
        }
#endif
        catch (const std::exception &e) {
            s->failures.fetch_add(1, std::memory_order_relaxed);
            RegistryCore::reportFailure(it->box, e.what());
        } catch (...) {
            s->failures.fetch_add(1, std::memory_order_relaxed);
            RegistryCore::reportFailure(it->box, nullptr);
        }
        const std::uint64_t now = clockTicks<Tsc>();
        const std::uint64_t dt = now - last;
        last = now;
        s->runTime.buckets[tickBucket(dt)].fetch_add(1, std::memory_order_relaxed);
        s->runTime.total.fetch_add(dt, std::memory_order_relaxed);
        // One test for a new maximum and a slow run: the limit is at most both.
        if (dt > s->fastLimit.load(std::memory_order_relaxed)) [[unlikely]]
            last = timedOutlier(s, dt, now, r);
    }
    return last;
}

// A timed notify with the clock and fence mode it was compiled for (notifyTimed's).
template <bool Tsc, bool Fence>
void timedNotify(std::atomic<const void *> *slot, const Snapshot *s, const Entry *end, const void *event,
                 RunRecord &r)
{
    HandlerStats *const prevStats = r.stats.load(std::memory_order_relaxed);
    const std::uint64_t prevStart = r.start.load(std::memory_order_relaxed);
    std::atomic<const void *> *running = slot + hazard::slotCount;
    std::uint64_t last = clockTicks<Tsc>();
    try {
        if (s->timed.load(std::memory_order_relaxed) == timedRuns) [[unlikely]] {
            // Runs mode: the array's entries are its runs (callRun's), each up to this array's
            // count.
            for (const Entry *top = s->entries(); top != end; ++top) {
                const auto *ref = reinterpret_cast<const RunRef *>(top->box);
                const Entry *first = ref->run->entries();
                last = timedRange<Tsc, Fence>(first, first + ref->count, event, last, r, running);
            }
        } else {
            timedRange<Tsc, Fence>(s->entries(), end, event, last, r, running);
        }
    } catch (...) {
        // Only a forced unwind (thread cancellation) gets here: it must unwind.
        r.stats.store(prevStats, std::memory_order_relaxed);
        r.start.store(prevStart, std::memory_order_release);
        hazard::leave(slot);
        throw;
    }
    // The record shows the enclosing run again (a nested notify's).
    r.stats.store(prevStats, std::memory_order_relaxed);
    r.start.store(prevStart, std::memory_order_release);
    hazard::leave(slot);
}

// --- The watchdog ------------------------------------------------------------------------------

struct Watchdog
{
    std::mutex mutex;
    std::condition_variable wake;
    bool stop = false;
};

std::mutex &watchdogMutex() noexcept
{
    static auto *m = new std::mutex; // NOLINT(bugprone-unhandled-exception-at-new): never destroyed
    return *m;
}
constinit std::shared_ptr<Watchdog> *watchdogControl = nullptr; // under watchdogMutex
constinit std::thread *watchdogThread = nullptr;                // under watchdogMutex
constinit std::atomic<bool> watchdogActive{false};

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
        HandlerStats *s = r->stats.load(std::memory_order_acquire);
        if (s == nullptr)
            continue;
        const std::uint64_t start = r->start.load(std::memory_order_acquire);
        if (now < start || now - start < limit || reportedBefore(*r, start))
            continue;
        SlowRun run;
        {
            // A record still showing `s` after we hold the lock shows a run in progress: its
            // statistics are freed only with its box, after the run ended and the record moved
            // on, and freeing takes this lock.
            std::lock_guard lock(statsMutex());
            if (r->stats.load(std::memory_order_acquire) != s ||
                r->start.load(std::memory_order_acquire) != start)
                continue;
            try {
                run.registry = s->registry;
                run.id = s->id;
                run.where = s->where;
                run.eventType = s->eventType;
            } catch (...) {
                continue;
            }
        }
        noteReported(*r, start);
        run.elapsedNs = toNs(now - start);
        run.thread = r->thread.load(std::memory_order_relaxed);
        run.stillRunning = true;
        if (const SlowSink sink = slowSink.load(std::memory_order_acquire))
            sink(run); // no lock of ours held
    }
}

void watchdogMain(const std::shared_ptr<Watchdog> &w) noexcept
{
    auto lastRefine = std::chrono::steady_clock::now();
    std::unique_lock lock(w->mutex);
    while (!w->stop) {
        const std::uint64_t stall = stallNs.load(std::memory_order_relaxed);
        // A quarter of the stall threshold between looks (1 to 20 ms).
        const auto period = std::chrono::nanoseconds(
            std::clamp<std::uint64_t>(stall == 0 ? 20'000'000 : stall / 4, 1'000'000, 20'000'000));
        w->wake.wait_for(lock, period, [&] { return w->stop; });
        if (w->stop)
            break;
        lock.unlock();
        watchdogScan();
        const auto now = std::chrono::steady_clock::now();
        if (now - lastRefine > std::chrono::seconds(1)) {
            lastRefine = now;
            refineClock();
            updateTicks();
        }
        lock.lock();
    }
}

} // namespace

// --- Exported ----------------------------------------------------------------------------------

std::uint64_t assignThreadNumber() noexcept
{
    tlsThreadNumber = threadCounter.fetch_add(1, std::memory_order_relaxed) + 1;
    return tlsThreadNumber;
}

std::uint64_t threadNumber() noexcept
{
    return currentThreadNumber();
}

std::uint64_t nextSerial() noexcept
{
    return serialCounter.fetch_add(1, std::memory_order_relaxed) + 1;
}

void initFromEnvironment() noexcept
{
    static const bool once = [] {
        const char *v = std::getenv("RIO_DIAGNOSTICS"); // NOLINT(concurrency-mt-unsafe)
        if (v != nullptr && v[0] != '\0' && std::strcmp(v, "0") != 0) {
            initClock();
            updateTicks();
            globalOn.store(true, std::memory_order_release);
            updateWatchdog();
        }
        return true;
    }();
    (void)once;
}

std::uint64_t ticks() noexcept
{
    return readTicks();
}

double nanosPerTick() noexcept
{
    return nsPerTickValue.load(std::memory_order_relaxed);
}

double calibrateClock(CalibrationDelay delay) noexcept
{
#if RIO_DIAG_TSC
    if (!invariantTsc())
        return 0.0;
    ClockPair start;
    return calibrate(delay, start);
#else
    (void)delay;
    return 0.0;
#endif
}

std::vector<SlowRun> recentSlowRuns()
{
    SlowRuns &k = slowRuns();
    std::vector<SlowRun> out;
    out.reserve(slowRunsKept);
    std::lock_guard lock(k.mutex);
    for (std::size_t i = 0; i < k.count; ++i) // oldest first
        out.push_back(k.runs[(k.next + k.runs.size() - k.count + i) % k.runs.size()]);
    return out;
}

bool ticksAreTsc() noexcept
{
    initClock();
    return useTsc.load(std::memory_order_relaxed);
}

void freeStats(HandlerStats *stats) noexcept
{
    if (stats->refs.fetch_sub(1, std::memory_order_acq_rel) != 1)
        return;
    std::lock_guard lock(statsMutex());
    delete stats;
}

void retainStats(HandlerStats *stats) noexcept
{
    stats->refs.fetch_add(1, std::memory_order_relaxed);
}

HandlerStats *newStats(std::uint64_t registry, HandlerId id, SourceLocation where, std::string_view eventType,
                       bool layerTimed)
{
    auto *s = new HandlerStats;
    s->registry = registry;
    s->id = id;
    s->where = where;
    s->eventType = eventType;
    s->layerTimed = layerTimed;
    return s;
}

void notifyTimed(std::atomic<const void *> *slot, const Snapshot *s, const Entry *end, const void *event,
                 bool fence)
{
    RunRecord &r = *record();
    // The clock (chosen once, before any registry's diagnostics were on) and the fence mode: one
    // loop each.
    if (RIO_DIAG_TSC && useTsc.load(std::memory_order_relaxed)) [[likely]] {
        if (fence) [[unlikely]]
            timedNotify<true, true>(slot, s, end, event, r);
        else
            timedNotify<true, false>(slot, s, end, event, r);
    } else if (fence) {
        timedNotify<false, true>(slot, s, end, event, r);
    } else {
        timedNotify<false, false>(slot, s, end, event, r);
    }
}

RunScope::RunScope(HandlerStats *stats, bool count) noexcept
    : m_stats(stats), m_uncaught(count ? std::uncaught_exceptions() : 0), m_count(count)
{
    if (count)
        stats->calls.fetch_add(1, std::memory_order_relaxed);
    RunRecord &r = *record();
    m_record = &r;
    m_prevStats = r.stats.load(std::memory_order_relaxed);
    m_prevStart = r.start.load(std::memory_order_relaxed);
    m_start = readTicks();
    r.start.store(m_start, std::memory_order_relaxed);
    r.stats.store(stats, std::memory_order_release);
}

RunScope::~RunScope()
{
    if (m_count && std::uncaught_exceptions() > m_uncaught) // one thrown by the run, not an outer one
        m_stats->failures.fetch_add(1, std::memory_order_relaxed);
    finishRun(*static_cast<RunRecord *>(m_record), m_stats, m_start, m_prevStats, m_prevStart);
}

void setGlobalEnabled(bool enabled)
{
    initClock();
    updateTicks();
    struct Apply
    {
        bool on;
        std::exception_ptr error;
    } apply{enabled, nullptr};
    globalOn.store(enabled, std::memory_order_release);
    RegistryList::visit(
        [](RegistryState &s, void *arg) {
            auto &a = *static_cast<Apply *>(arg);
            std::lock_guard lock(s.writerLock);
            if (s.core == nullptr)
                return;
            try {
                s.core->applyDiagnosticsLocked(a.on || s.diagnosticsOwn);
            } catch (...) {
                if (!a.error)
                    a.error = std::current_exception();
            }
        },
        &apply);
    updateWatchdog();
    if (apply.error)
        std::rethrow_exception(apply.error);
}

bool globalEnabled() noexcept
{
    return globalOn.load(std::memory_order_acquire);
}

void setThresholds(std::uint64_t main, std::uint64_t other, std::uint64_t stall) noexcept
{
    initClock();
    mainNs.store(main, std::memory_order_relaxed);
    otherNs.store(other, std::memory_order_relaxed);
    stallNs.store(stall, std::memory_order_relaxed);
    updateTicks();
    // A lower threshold: every handler's fast limit comes under the new cap.
    RegistryList::visit(
        [](RegistryState &s, void *) {
            std::lock_guard lock(s.writerLock);
            if (s.core != nullptr)
                s.core->capFastLimitsLocked(fastCap.load(std::memory_order_seq_cst));
        },
        nullptr);
    std::lock_guard lock(watchdogMutex());
    if (watchdogControl != nullptr)
        (*watchdogControl)->wake.notify_all(); // a new period
}

void thresholds(std::uint64_t &main, std::uint64_t &other, std::uint64_t &stall) noexcept
{
    main = mainNs.load(std::memory_order_relaxed);
    other = otherNs.load(std::memory_order_relaxed);
    stall = stallNs.load(std::memory_order_relaxed);
}

void setSlowSink(SlowSink sink) noexcept
{
    slowSink.store(sink, std::memory_order_release);
}

void setMainThreadCheck(MainThreadCheck check) noexcept
{
    mainThreadCheck.store(check, std::memory_order_release);
}

void updateWatchdog() noexcept
{
    std::thread old;
    {
        std::lock_guard lock(watchdogMutex());
        const bool want =
            globalOn.load(std::memory_order_acquire) || registriesOn.load(std::memory_order_acquire) > 0;
        const bool running = watchdogThread != nullptr;
        if (want == running)
            return;
        if (want) {
            try {
                auto control = std::make_unique<std::shared_ptr<Watchdog>>(std::make_shared<Watchdog>());
                auto thread = std::make_unique<std::thread>([w = *control] { watchdogMain(w); });
                watchdogControl = control.release();
                watchdogThread = thread.release();
                watchdogActive.store(true, std::memory_order_release);
            } catch (...) {
                // No thread: stalls go unreported; slow runs are still reported after they end.
            }
            return;
        }
        {
            std::lock_guard wl((*watchdogControl)->mutex);
            (*watchdogControl)->stop = true;
        }
        (*watchdogControl)->wake.notify_all();
        delete watchdogControl;
        watchdogControl = nullptr;
        old = std::move(*watchdogThread);
        delete watchdogThread;
        watchdogThread = nullptr;
        watchdogActive.store(false, std::memory_order_release);
    }
    // Outside the lock: the watchdog may be reporting, and a slot may switch diagnostics.
    if (old.get_id() == std::this_thread::get_id())
        old.detach(); // a slot on the watchdog thread turned it off: it ends after this report
    else
        old.join();
}

bool watchdogRunning() noexcept
{
    return watchdogActive.load(std::memory_order_acquire);
}

void toNanos(const Histogram &h, std::array<std::uint64_t, tickBucketCount> &buckets, std::uint64_t &totalNs,
             std::uint64_t &maxNs, double &nsPerTick) noexcept
{
    for (std::size_t i = 0; i < buckets.size(); ++i)
        buckets[i] = h.buckets[i].load(std::memory_order_relaxed);
    nsPerTick = nsPerTickValue.load(std::memory_order_relaxed);
    totalNs = toNs(h.total.load(std::memory_order_relaxed));
    maxNs = toNs(h.max.load(std::memory_order_relaxed));
}

std::vector<RegistryRecord> collect(std::uint64_t serial)
{
    struct Collect
    {
        std::uint64_t serial;
        std::vector<RegistryRecord> out;
    } c{serial, {}};
    RegistryList::visit(
        [](RegistryState &s, void *arg) {
            auto &cc = *static_cast<Collect *>(arg);
            std::lock_guard lock(s.writerLock);
            if (s.core == nullptr || (cc.serial != 0 && s.serial != cc.serial))
                return;
            // Listed once it has something to show: a handler added (its event type), a name, or
            // the facade's mark (a QtRegistry under construction shows only when complete).
            if (!s.facade && s.eventType.empty() && s.name.empty())
                return;
            RegistryRecord rec;
            s.core->recordLocked(rec);
            cc.out.push_back(std::move(rec));
        },
        &c);
    std::sort(c.out.begin(), c.out.end(),
              [](const RegistryRecord &a, const RegistryRecord &b) { return a.serial < b.serial; });
    return std::move(c.out);
}

// Called (under the state's lock) when a state's arrays start or stop being timed.
void countRegistry(bool on) noexcept
{
    registriesOn.fetch_add(on ? 1 : -1, std::memory_order_acq_rel);
}

} // namespace rio::detail::diag

namespace rio::detail {

void RegistryCore::setDiagnosticsEnabled(bool enabled)
{
    diag::initClock();
    diag::updateTicks();
    {
        RegistryState &ws = writerState();
        std::lock_guard lock(ws.writerLock);
        applyDiagnosticsLocked(enabled || diag::globalEnabled());
        ws.diagnosticsOwn = enabled;
    }
    diag::updateWatchdog();
}

bool RegistryCore::isDiagnosticsEnabled() const noexcept
{
    if (m_state.load(std::memory_order_acquire) == nullptr)
        return diag::globalEnabled();
    std::lock_guard lock(st().writerLock);
    return st().diagnosticsOn;
}

void RegistryCore::setDiagnosticsName(std::string_view name)
{
    RegistryState &ws = writerState();
    std::string copy(name); // outside the lock
    std::lock_guard lock(ws.writerLock);
    ws.name.swap(copy);
}

void RegistryCore::setDiagnosticsFacade(const std::string_view *eventType)
{
    RegistryState &ws = writerState();
    std::string copy(eventType != nullptr ? *eventType : std::string_view());
    std::lock_guard lock(ws.writerLock);
    ws.facade = true;
    ws.eventType.swap(copy);
}

std::uint64_t RegistryCore::diagnosticsSerial()
{
    return writerState().serial;
}

void RegistryCore::applyDiagnosticsLocked(bool on)
{
    RegistryState &ws = st();
    if (on == ws.diagnosticsOn)
        return;
    Snapshot *h = head.load(std::memory_order_relaxed);
    const bool empty = h == emptySnapshot();
    if (on) {
        // Everything that can throw first: statistics for every live handler, published
        // (release) before the flag, so a notify that reads the flag finds them.
        forEachEntry(h, empty, [&](Entry &e, std::uint64_t, int) {
            if (e.invoke.load(std::memory_order_relaxed) != &skipRemoved && e.box->stats == nullptr)
                diag::publishStats(e.box, diag::newStats(ws.serial, e.box->id, e.box->where, ws.eventType,
                                                         e.box->layerTimed));
        });
    }
    // The shared empty array is never written; every array published from now on carries the
    // flag too (publishLocked). Arrays a notify still walks keep theirs: it may finish timed.
    if (!empty)
        h->timed.store(on ? (h->runCount != 0 ? timedRuns : timedFlat) : untimedArray,
                       std::memory_order_release);
    ws.diagnosticsOn = on;
    diag::countRegistry(on);
}

void RegistryCore::capFastLimitsLocked(std::uint64_t cap) const noexcept
{
    Snapshot *h = head.load(std::memory_order_relaxed);
    forEachEntry(h, h == emptySnapshot(), [cap](Entry &e, std::uint64_t, int) {
        if (e.invoke.load(std::memory_order_relaxed) == &skipRemoved)
            return;
        if (diag::HandlerStats *s = diag::loadStats(e.box))
            diag::capFastLimit(s, cap);
    });
}

void RegistryCore::recordLocked(diag::RegistryRecord &out) const
{
    const RegistryState &ws = st();
    out.serial = ws.serial;
    out.name = ws.name;
    out.eventType = ws.eventType;
    out.facade = ws.facade;
    out.enabled = ws.diagnosticsOn;
    out.handlers.reserve(ws.live.load(std::memory_order_relaxed));
    for (const auto &[id, value] : ws.byId) {
        if (value == 0 || (value & 1u) != 0)
            continue;
        const auto *box = reinterpret_cast<const HandlerBox *>(value); // NOLINT(performance-no-int-to-ptr)
        if (box->removed)
            continue;
        diag::HandlerRecord h;
        h.id = box->id;
        h.priority = box->priority;
        h.suspended = box->suspended;
        h.where = box->where;
        h.thread = box->thread;
        if (const diag::HandlerStats *s = box->stats) {
            h.timed = true;
            h.failures = s->failures.load(std::memory_order_relaxed);
            h.slowRuns = s->slowRuns.load(std::memory_order_relaxed);
            diag::toNanos(s->runTime, h.buckets, h.totalNs, h.maxNs, h.nsPerTick);
            // A timed notify counts a run in the histogram alone; a layer counts its own runs.
            if (s->layerTimed)
                h.calls = s->calls.load(std::memory_order_relaxed);
            else
                for (const auto &b : s->runTime.buckets)
                    h.calls += b.load(std::memory_order_relaxed);
        }
        out.handlers.push_back(h);
    }
}

diag::HandlerStats *RegistryCore::retainStats(HandlerId id)
{
    if (m_state.load(std::memory_order_acquire) == nullptr)
        return nullptr;
    RegistryState &ws = st();
    std::lock_guard lock(ws.writerLock);
    const auto *entry = findById(ws.byId, id.value());
    if (entry == nullptr || entry->second == 0 || (entry->second & 1u) != 0)
        return nullptr;
    auto *box = reinterpret_cast<HandlerBox *>(entry->second); // NOLINT(performance-no-int-to-ptr)
    if (box->removed || box->stats == nullptr)
        return nullptr;
    diag::retainStats(box->stats);
    return box->stats;
}

} // namespace rio::detail
