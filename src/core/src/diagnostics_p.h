// SPDX-License-Identifier: MIT
#pragma once

// What the core's diagnostics files share (diagnostics.cpp, diagnostics_clock.cpp,
// diagnostics_runs.cpp, diagnostics_loop.cpp), and the thread numbers add reads inline.

#include "registry_state.h"
#include <registryio/detail/config.h>
#include <registryio/detail/diagnostics.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <x86intrin.h>
#define RIO_DIAG_TSC 1
#else
#define RIO_DIAG_TSC 0
#endif

namespace rio::detail::diag {

/// The calling thread's number, 0 until assigned (inline: read by every add).
RIO_TLS_INITIAL_EXEC extern thread_local constinit std::uint64_t tlsThreadNumber;
std::uint64_t assignThreadNumber() noexcept;
/// The calling thread's number (assigned on first use).
inline std::uint64_t currentThreadNumber() noexcept
{
    const std::uint64_t n = tlsThreadNumber;
    return n != 0 ? n : assignThreadNumber();
}
/// The next registry serial (from 1).
std::uint64_t nextSerial() noexcept;
/// Counts a registry whose entries start (true) or stop recording, under its lock (the watchdog
/// runs while any do).
void countRegistry(bool on) noexcept;
/// A registry being destroyed (under its lock, handlers still listed): kept while keepDeparted.
void noteDeparture(const RegistryCore &core, const RegistryState &s) noexcept;
/// Reads RIO_DIAGNOSTICS once (the first registry state of the process).
void initFromEnvironment() noexcept;

// --- The clock and thresholds (diagnostics_clock.cpp) ------------------------------------------

extern constinit std::atomic<bool> useTsc;
extern constinit std::atomic<double> nsPerTickValue;

inline std::int64_t steadyNs() noexcept
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// Chooses the clock once: the TSC where it is invariant (a read is a few instructions), measured
// against steady_clock; else steady_clock (a vDSO call). Under RegistryList::initOnce's lock, which
// fork() takes: a child never inherits a choice half made. initClockLocked: for its holder.
void initClock() noexcept;
void initClockLocked() noexcept;
// Refines the TSC's rate over the whole time since calibration (the watchdog, now and then).
void refineClock() noexcept;

inline std::uint64_t readTicks() noexcept
{
#if RIO_DIAG_TSC
    if (useTsc.load(std::memory_order_relaxed)) [[likely]]
        return __rdtsc();
#endif
    return static_cast<std::uint64_t>(steadyNs());
}

// The thresholds as set (ns) and in ticks (`off`: none).
inline constexpr std::uint64_t off = ~std::uint64_t{0};
extern constinit std::atomic<std::uint64_t> mainNs, otherNs, stallNs, mainTicks, otherTicks, unresolvedTicks,
    stallTicks, fastCap;
// The coarse clock (ticks of the clock above, as the watchdog thread last read it, once per
// coarseTickNs while it runs): what an untimed run's length is read from, one load per run.
inline constexpr std::uint64_t coarseTickNs = 1'000'000;
extern constinit std::atomic<std::uint64_t> coarseNow, coarseTick, coarseCap;
// Every timed run read with the precise clock (setEveryRunPrecise), and whether timed notifies do:
// also while the lower slow threshold is under two ticks of the coarse clock, which could miss a
// run that reached it (updateTicks).
extern constinit std::atomic<bool> everyRunPrecise, preciseRuns;
// Sets the coarse clock to now (the watchdog's tick; a switch that starts timing).
inline void tickCoarse() noexcept
{
    coarseNow.store(readTicks(), std::memory_order_relaxed);
}
// Converts the thresholds to ticks at the clock's rate.
void updateTicks() noexcept;
std::uint64_t toNs(std::uint64_t ticks) noexcept;

// --- Per-thread run records and the watchdog (diagnostics_runs.cpp) ---------------------------

// The run in progress on one thread, read by the watchdog. Records are never freed: a thread's
// record goes back to the pool when it exits and a new thread takes it.
struct alignas(64) RunRecord
{
    std::atomic<std::uint64_t> start{0};
    std::atomic<HandlerTimes *> times{nullptr}; // the run's handler's timing block
    // mainTicks or otherTicks; unresolvedTicks (0) sends its next run to reportSlow, which asks
    // the main-thread check again (`tentative`: the last answer was no answer).
    std::atomic<const std::atomic<std::uint64_t> *> slowTicks{&otherTicks};
    std::atomic<bool> tentative{false};
    std::atomic<std::uint64_t> thread{0};
    std::string threadName; // the owning thread's alone (the hook's name for it)
    // The watchdog's: starts of the runs it reported (ascending; the last few).
    std::array<std::uint64_t, 8> reported{};
    std::size_t reportedCount = 0;
    std::atomic<bool> inUse{false};
    std::uint64_t preciseAt = 0; // the owning thread's: the coarse clock at its last precise notify
    // Linux: the owning thread's kernel id, and its stack as a signal from the watchdog captured
    // it (stackCount frames; stackState: 0 idle, 1 asked, 2 written).
    std::atomic<long> tid{0};
    std::atomic<int> stackState{0};
    int stackCount = 0;
    std::array<void *, 48> stack{};
    RunRecord *next = nullptr;
};

RIO_TLS_INITIAL_EXEC extern thread_local constinit RunRecord *tlsRecord;
RIO_COLD RunRecord *acquireRecord() noexcept;

inline RunRecord *record() noexcept
{
    RunRecord *r = tlsRecord;
    return r != nullptr ? r : acquireRecord();
}

// --- The frame timeline (diagnostics_timeline.cpp) --------------------------------------------

// True while diagnostics are on anywhere (the watchdog's switch): the main thread's runs, waits
// and turns are recorded.
extern constinit std::atomic<bool> timelineOn;
// Allocates the ring (once) and switches recording on (updateWatchdog; off: timelineOn = false).
void startTimeline() noexcept;
// The main thread's event-loop turn in progress (the number its end will be marked with), 0
// before the first turn was marked: kept with a slow run, whose turn the ring may drop first.
std::uint64_t timelineTurn() noexcept;
// A timed run on the main thread that was not slow.
RIO_COLD void timelineRun(const HandlerTimes *s, std::uint64_t start, std::uint64_t end) noexcept;

// True when runs of the thread owning `r` go on the timeline: the main thread's, while on.
inline bool onTimeline(const RunRecord &r) noexcept
{
    return timelineOn.load(std::memory_order_relaxed) &&
           r.slowTicks.load(std::memory_order_relaxed) == &mainTicks;
}

// Counts a slow run, keeps it and reports it (the handler's first) to the sink.
RIO_COLD void reportSlow(HandlerTimes *s, std::uint64_t ticks, RunRecord &r) noexcept;

// A box's statistics pointer, read atomically (applyDiagnosticsLocked publishes it with the
// matching store). std::atomic_ref would do it, but libc++ 14, the macOS stand-in, lacks it;
// these are the builtins it wraps on GCC and Clang.
inline HandlerStats *loadStats(HandlerBox *box) noexcept
{
    return __atomic_load_n(&box->stats, __ATOMIC_ACQUIRE);
}
// Its timing block when the core times it (HandlerBox::times), read as loadStats reads `stats`.
inline HandlerTimes *loadTimes(HandlerBox *box) noexcept
{
    return __atomic_load_n(&box->times, __ATOMIC_ACQUIRE);
}

// A handler's timing block, set in its statistics (sharing `eventType`). Throws std::bad_alloc.
HandlerTimes *newTimes(std::uint64_t registry, HandlerId id, SourceLocation where,
                       const std::shared_ptr<const std::string> &eventType);
void capFastLimit(HandlerTimes *s, std::uint64_t cap) noexcept;
// fork(): takes diagnostics' locks (after every registry's), and releases them in the parent or
// the child (where only the forking thread's run and no watchdog are left).
void prepareFork() noexcept;
void afterFork(bool child) noexcept;

} // namespace rio::detail::diag
