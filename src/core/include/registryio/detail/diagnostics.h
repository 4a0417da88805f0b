// SPDX-License-Identifier: MIT
#pragma once

// The core's side of diagnostics (docs/DIAGNOSTICS.md): per-handler statistics that exist once
// a registry's diagnostics were on (timed notifies record them), the thread numbers,
// the clock and the per-thread record of the run in progress that the watchdog reads. Not part
// of the public API; the Qt layer's rio::Diagnostics presents it.

#include <registryio/detail/config.h>
#include <registryio/detail/diagnostics_hooks.h>
#include <registryio/drop_reason.h>
#include <registryio/handler_id.h>
#include <registryio/source_location.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rio::detail {

struct HandlerBox;
class RegistryCore;

namespace diag {

/// Log-2 buckets of a recorded histogram (ticks): one per bit, so a duration's bucket needs no
/// clamp. Records and snapshots keep these buckets, with the tick's length in nanoseconds.
inline constexpr int tickBucketCount = 64;

/// The bucket of a duration of `ticks`: its highest set bit (0 counts as 1).
RIO_ALWAYS_INLINE inline std::size_t tickBucket(std::uint64_t ticks) noexcept
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    std::size_t bit; // one instruction; __builtin_clzll costs three more for 63 - clz
    __asm__("bsrq %1, %0" : "=r"(bit) : "rm"(ticks | 1) : "cc");
    return bit;
#else
    return static_cast<std::size_t>(63 - __builtin_clzll(ticks | 1));
#endif
}

/// A duration histogram updated by any thread (relaxed counters).
struct Histogram
{
    std::array<std::atomic<std::uint64_t>, tickBucketCount> buckets{};
    std::atomic<std::uint64_t> total{0}; // ticks
    std::atomic<std::uint64_t> max{0};   // ticks

    RIO_ALWAYS_INLINE void record(std::uint64_t ticks) noexcept
    {
        buckets[tickBucket(ticks)].fetch_add(1, std::memory_order_relaxed);
        total.fetch_add(ticks, std::memory_order_relaxed);
        raiseMax(ticks);
    }
    RIO_ALWAYS_INLINE void raiseMax(std::uint64_t ticks) noexcept
    {
        std::uint64_t m = max.load(std::memory_order_relaxed);
        while (ticks > m && !max.compare_exchange_weak(m, ticks, std::memory_order_relaxed)) {
        }
    }
};

/// The timing block of a handler's statistics: what timed runs record (histograms, slow runs) and
/// who the handler is, for the watchdog. Allocated when its registry's diagnostics first time it
/// (the switch, or its add while on), freed with the statistics.
struct alignas(64) HandlerTimes
{
    // A timed notify's runs: the thread that owns the counter (the first to run the handler in
    // one) counts with a plain increment (a single writer), every other in HandlerStats::calls.
    std::atomic<std::uint64_t> owner{~std::uint64_t{0}}; // its thread number (all ones: none yet)
    std::atomic<std::uint64_t> ownerCalls{0};
    /// Counts a run of the calling thread, whose number is `self` (the others' in `calls`).
    RIO_ALWAYS_INLINE void countCall(std::uint64_t self, std::atomic<std::uint64_t> &calls) noexcept
    {
        if (owner.load(std::memory_order_relaxed) == self) [[likely]]
            ownerCalls.store(ownerCalls.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        else
            countOtherCall(self, calls);
    }
    /// countCall's other path: takes the counter if it has no owner, else adds atomically (a
    /// thread without a number, 0, shares the record of every thread out of memory: it adds).
    [[gnu::noinline]] void countOtherCall(std::uint64_t self, std::atomic<std::uint64_t> &calls) noexcept
    {
        std::uint64_t none = ~std::uint64_t{0};
        if (self != 0 && owner.compare_exchange_strong(none, self, std::memory_order_relaxed))
            ownerCalls.store(ownerCalls.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        else
            calls.fetch_add(1, std::memory_order_relaxed);
    }
    std::atomic<std::uint64_t> slowRuns{0};
    std::atomic<bool> slowReported{false};
    // Timed notifies: a run longer than this takes the cold path (a new maximum, or perhaps a
    // slow run); at most the maximum and under every slow threshold.
    std::atomic<std::uint64_t> fastLimit{0};
    Histogram runTime;
    Histogram queueDelay; // queued deliveries: notify to run (the Qt layer)
    // Who this is, for the watchdog, which may read it while the handler runs.
    std::uint64_t registry = 0; // RegistryState::serial
    HandlerId id;
    SourceLocation where;
    // Its registry's (shared: a queued run may outlive the registry, whose name may live in a
    // plugin); null when it has none.
    std::shared_ptr<const std::string> eventType;
};

/// Every run of `stats` counted (under its registry's lock, which sets `times`).
[[nodiscard]] inline std::uint64_t totalCalls(const HandlerStats &stats) noexcept
{
    return stats.calls.load(std::memory_order_relaxed) +
           (stats.times != nullptr ? stats.times->ownerCalls.load(std::memory_order_relaxed) : 0);
}

/// The calling thread's number: process-unique, from 1, never reused.
RIO_CORE_EXPORT std::uint64_t threadNumber() noexcept;

/// The clock diagnostics use: ticks (the TSC on x86-64 where it is invariant, else
/// steady_clock's nanoseconds) and their length.
RIO_CORE_EXPORT std::uint64_t ticks() noexcept;
/// Nanoseconds per tick (1 for steady_clock).
RIO_CORE_EXPORT double nanosPerTick() noexcept;
RIO_CORE_EXPORT bool ticksAreTsc() noexcept;
/// Called between the two clocks' reads of calibration read number `read` (tests: a preemption).
using CalibrationDelay = void (*)(int read) noexcept;
/// Runs a calibration of the TSC against steady_clock as the clock's first use does, with
/// `delay` (may be null) between the reads, and returns its nanoseconds per tick without using
/// them (0 where the TSC is not used: not x86-64 or not invariant).
RIO_CORE_EXPORT double calibrateClock(CalibrationDelay delay) noexcept;

/// Process-wide switch (Diagnostics::setEnabled, RIO_DIAGNOSTICS=1): applies to every registry.
RIO_CORE_EXPORT void setGlobalEnabled(bool enabled);
RIO_CORE_EXPORT bool globalEnabled() noexcept;
/// Every timed run read with the precise clock (true; RIO_DIAGNOSTICS_PRECISE=1), or (false, the
/// default) one notify per thread per millisecond, the other runs counted and measured with the
/// coarse clock the watchdog thread keeps.
RIO_CORE_EXPORT void setEveryRunPrecise(bool on) noexcept;
RIO_CORE_EXPORT bool isEveryRunPrecise() noexcept;

/// Slow-run thresholds in nanoseconds (0: off): the main thread's, other threads', and the
/// stall threshold the watchdog thread checks while a handler runs.
RIO_CORE_EXPORT void setThresholds(std::uint64_t mainNs, std::uint64_t otherNs,
                                   std::uint64_t stallNs) noexcept;
/// The thresholds (main, other, stall), ns.
RIO_CORE_EXPORT void thresholds(std::uint64_t &mainNs, std::uint64_t &otherNs,
                                std::uint64_t &stallNs) noexcept;

/// A slow or stalled run as the core reports it (plain values; `where`'s strings are static).
struct SlowRun
{
    std::uint64_t registry = 0;
    HandlerId id;
    SourceLocation where;
    std::string eventType;
    std::uint64_t elapsedNs = 0;
    std::uint64_t thread = 0;
    std::string threadName; // as the thread's hook named it when the run ended (empty: unknown)
    std::uint64_t atNs = 0; // steady_clock when it ended (recentSlowRuns)
    std::uint64_t turn = 0; // the main thread's event-loop turn it ended in (its frame on the
                            // timeline); 0: another thread, or no turn marked yet
    bool stillRunning = false;
    /// A stall's: the stalled thread's stack when it was reported, innermost first, one frame
    /// a line ("function+0xoffset (module)", or the address where no symbol is known); empty
    /// where it cannot be captured (not Linux, or the signal it uses is taken).
    std::string stack;
};

inline constexpr std::size_t slowRunsKept = 64;
/// The last slowRunsKept slow runs of the process (every slow run, oldest first; eventType empty).
RIO_CORE_EXPORT std::vector<SlowRun> recentSlowRuns();
inline constexpr std::size_t stallsKept = 16;
/// The last stallsKept stalls the watchdog reported, oldest first, each with its stack (where
/// captured) and atNs the time of its report.
RIO_CORE_EXPORT std::vector<SlowRun> recentStalls();

/// Receives slow runs (on the thread that ran the handler) and stalls (on the watchdog thread).
/// Called with no lock of ours held. Set once by the Qt layer; null: slow runs are only counted.
using SlowSink = void (*)(const SlowRun &) noexcept;
/// Installs the sink (null removes it).
RIO_CORE_EXPORT void setSlowSink(SlowSink sink) noexcept;

/// New statistics, without their timing block (set under the registry's lock once it times
/// them). Throws std::bad_alloc.
RIO_CORE_EXPORT HandlerStats *newStats();

/// Starts or stops the watchdog thread as the switches now call for (no lock of ours held).
RIO_CORE_EXPORT void updateWatchdog() noexcept;
RIO_CORE_EXPORT bool watchdogRunning() noexcept;

/// Called by each thread when it first runs a timed handler (or a RunScope): whether it is the
/// main thread (1), another (0), or cannot tell yet (-1: no application object). The Qt layer
/// installs QThread's answer and names the thread for reports in `threadName`, which slow runs
/// on the thread then carry. A thread that could not tell, or ran before any check was
/// installed, asks again at its next slow run after the next setMainThreadCheck().
using MainThreadCheck = int (*)(std::string &threadName) noexcept;
/// Installs the check (null: no thread is the main thread); threads that could not tell ask it.
RIO_CORE_EXPORT void setMainThreadCheck(MainThreadCheck check) noexcept;

/// A recorded histogram read in nanoseconds (toNanos).
struct HistogramRecord
{
    std::array<std::uint64_t, tickBucketCount> buckets{}; // tick buckets
    double nsPerTick = 1.0;
    std::uint64_t totalNs = 0;
    std::uint64_t maxNs = 0;
};

struct HandlerRecord
{
    /// No histogram (the handler was never timed).
    static constexpr std::uint32_t none = ~std::uint32_t{0};
    HandlerId id;
    int priority = 0;
    bool suspended = false;
    bool timed = false;
    SourceLocation where;
    std::uint64_t thread = 0;
    std::uint64_t calls = 0;
    std::uint64_t failures = 0;
    std::uint64_t slowRuns = 0;
    std::array<std::uint64_t, dropReasonCount> drops{};
    std::uint64_t maxWaiting = 0;
    std::uint64_t coalesced = 0;
    // Indices into the registry record's histograms (none: empty). queueDelay: a layerTimed
    // handler's, while its registry's diagnostics are on.
    std::uint32_t runTime = none;
    std::uint32_t queueDelay = none;
};

struct RegistryRecord
{
    std::uint64_t serial = 0;
    std::string name;
    std::string eventType;
    bool enabled = false;
    std::vector<HandlerRecord> handlers;
    std::vector<HistogramRecord> histograms;                // the timed handlers' (HandlerRecord's indices)
    std::array<std::uint64_t, dropReasonCount> leftDrops{}; // of handlers that left its table
    /// Histogram `i` of its handlers' (empty for HandlerRecord::none).
    [[nodiscard]] const HistogramRecord &histogram(std::uint32_t i) const noexcept
    {
        static const HistogramRecord empty;
        return i < histograms.size() ? histograms[i] : empty;
    }
};

/// Every live registry with a writer state but the Qt layer's, which it lists itself
/// (RegistryCore::record) (serial 0); else the one of that serial, whichever layer's. With its
/// handlers' records when `handlers` (else none: its name, for a log line). Takes each
/// registry's lock in turn; runs no user code.
RIO_CORE_EXPORT std::vector<RegistryRecord> collect(std::uint64_t serial = 0, bool handlers = true);

/// The diagnostics' side of a registry's core (diagnostics.cpp), which RegistryCore befriends.
struct RIO_CORE_EXPORT Registries
{
    /// Marks `core` a QtRegistry's (event type `eventType`): the Qt layer lists and keeps its record.
    static void markFacade(RegistryCore &core, const std::string_view *eventType);
    /// The process-unique serial diagnostics know `core` by (creates its writer state).
    static std::uint64_t serial(RegistryCore &core);
    /// `core`'s record (its handlers' when `handlers`) under its lock; false for one never written.
    static bool record(const RegistryCore &core, RegistryRecord &out, bool handlers = true);
    // The same, the switch, and a lower cap of the fast limits, with the lock held.
    static void recordLocked(const RegistryCore &core, RegistryRecord &out, bool handlers = true);
    static void applyLocked(RegistryCore &core, bool on);
    static void capFastLimitsLocked(const RegistryCore &core, std::uint64_t cap) noexcept;
};

/// How many destroyed registries keepDeparted keeps (the last ones).
inline constexpr std::size_t departedKept = 256;
/// While on, each registry without a facade keeps its last record when it is destroyed (the
/// Qt layer keeps its facades' own), so that a report written later still shows it.
RIO_CORE_EXPORT void keepDeparted(bool on) noexcept;
RIO_CORE_EXPORT bool keepingDeparted() noexcept;
/// The records kept of destroyed registries (oldest first), and how many were let go beyond
/// departedKept in `lost`.
RIO_CORE_EXPORT std::vector<RegistryRecord> departedRecords(std::uint64_t &lost);

enum class TimelineKind : std::uint8_t {
    Turn = 1,  ///< a turn of the main thread's event loop (a frame, where there is no window)
    Run = 2,   ///< a timed handler run on the main thread (a slow one is in recentSlowRuns too)
    Wait = 3,  ///< a queued delivery the main thread ran: from being queued to its start
    Frame = 4, ///< a window's frame: from its start on the GUI thread to its presentation
};
/// How many entries the timeline keeps (the newest; 64 bytes each, allocated when first on).
inline constexpr std::size_t timelineKept = 8192;
/// And how many windows' frames, apart (the newest: 10 s of three windows at 60 Hz).
inline constexpr std::size_t timelineFramesKept = 2048;
/// One timeline entry as read back (times in steady_clock nanoseconds).
struct TimelineEntry
{
    TimelineKind kind = TimelineKind::Turn;
    std::uint64_t startNs = 0;
    std::uint64_t endNs = 0;
    std::uint64_t registry = 0;
    HandlerId id;
    const char *file = nullptr; // static (the handler's add)
    int line = 0;
    std::uint64_t turn = 0;   // Turn, Frame: its number
    std::uint64_t window = 0; // Frame: its window's serial (never reused)
};
/// The timeline's entries that ended in the last `lastNs` nanoseconds: the runs, turns and waits
/// oldest first, then the windows' frames oldest first.
RIO_CORE_EXPORT std::vector<TimelineEntry> timeline(std::uint64_t lastNs);
/// A turn's beginning (timelineTurnBegin), for its end.
struct TurnMark
{
    std::uint64_t start = 0; // 0: not recorded
    std::uint64_t written = 0;
};
/// The main thread's event loop is about to wait (its next turn follows); nothing while off.
RIO_CORE_EXPORT TurnMark timelineTurnBegin() noexcept;
/// The turn that followed the wait at `mark` ends (the loop is about to wait again): kept, from
/// its first entry's start, unless nothing was recorded in it.
RIO_CORE_EXPORT void timelineTurnEnd(const TurnMark &mark, std::uint64_t number) noexcept;
/// The timeline's clock now, in ticks (any thread).
RIO_CORE_EXPORT std::uint64_t timelineTicks() noexcept;
/// True while the timeline records (diagnostics on anywhere).
RIO_CORE_EXPORT bool timelineRecording() noexcept;
/// Frame `number` of the window numbered `window` ran from `start` to `end` (ticks); main thread
/// only (the ring's one writer); nothing while off.
RIO_CORE_EXPORT void timelineFrame(std::uint64_t window, std::uint64_t number, std::uint64_t start,
                                   std::uint64_t end) noexcept;
/// A queued delivery of `stats`'s handler (timed, as RunScope) queued at `postedAt` (ticks; 0:
/// unknown) starts at `start`: records its queueing delay, and on the main thread its wait in the
/// timeline.
RIO_CORE_EXPORT void recordQueueDelay(HandlerStats *stats, std::uint64_t postedAt,
                                      std::uint64_t start) noexcept;

/// Reads a tick histogram: its buckets, total and max in nanoseconds, and the tick's length.
RIO_CORE_EXPORT void toNanos(const Histogram &h, HistogramRecord &out) noexcept;

} // namespace diag
} // namespace rio::detail
