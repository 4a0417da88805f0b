// SPDX-License-Identifier: MIT
// Diagnostics' clock (docs/DIAGNOSTICS.md): the TSC where it is invariant, calibrated against
// steady_clock, else steady_clock; durations and the slow and stall thresholds in its ticks.

#include "diagnostics_p.h"
#include "registry_list.h"

#include <algorithm>
#include <cstdlib>

#if RIO_DIAG_TSC
#include <cpuid.h>
#endif

namespace rio::detail::diag {

constinit std::atomic<bool> useTsc{false};
constinit std::atomic<double> nsPerTickValue{1.0};

namespace {

constinit std::atomic<bool> clockChosen{false};

#if RIO_DIAG_TSC
bool invariantTsc() noexcept
{
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid(0x80000000u, &a, &b, &c, &d) == 0 || a < 0x80000007u)
        return false;
    __get_cpuid(0x80000007u, &a, &b, &c, &d);
    return (d & (1u << 8)) != 0; // invariant TSC: constant rate, runs in every C-state
}

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

std::uint64_t toTicks(std::uint64_t ns) noexcept
{
    if (ns == 0)
        return off;
    const double t = static_cast<double>(ns) / nsPerTickValue.load(std::memory_order_relaxed);
    return t >= 1.8e19 ? off : std::max<std::uint64_t>(1, static_cast<std::uint64_t>(t));
}

} // namespace

void initClockLocked() noexcept
{
#if RIO_DIAG_TSC
    if (!clockChosen.load(std::memory_order_relaxed) && invariantTsc() &&
        std::getenv("RIO_DIAGNOSTICS_STEADY_CLOCK") == nullptr) // NOLINT(concurrency-mt-unsafe)
        if (const double rate = calibrate(nullptr, calibrationPair); rate > 0) {
            nsPerTickValue.store(rate, std::memory_order_relaxed);
            useTsc.store(true, std::memory_order_release);
        }
#endif
    clockChosen.store(true, std::memory_order_release);
}

void initClock() noexcept
{
    RegistryList::initOnce(clockChosen, &initClockLocked);
}

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

constinit std::atomic<std::uint64_t> mainNs{16'000'000};
constinit std::atomic<std::uint64_t> otherNs{16'000'000};
constinit std::atomic<std::uint64_t> stallNs{50'000'000};
constinit std::atomic<std::uint64_t> mainTicks{off};
constinit std::atomic<std::uint64_t> otherTicks{off};
constinit std::atomic<std::uint64_t> unresolvedTicks{0};
constinit std::atomic<std::uint64_t> stallTicks{off};
// Half the lower slow threshold: a timed run longer than its handler's fastLimit, which never
// exceeds this, takes the cold path that tests it against the thread's threshold. The half
// keeps the refinement of the clock's rate (which moves the thresholds a little) harmless.
constinit std::atomic<std::uint64_t> fastCap{0};

constinit std::atomic<std::uint64_t> coarseNow{0};
constinit std::atomic<std::uint64_t> coarseTick{1};
// A coarse run longer than this may have reached the lower slow threshold (one tick below it).
constinit std::atomic<std::uint64_t> coarseCap{off};
constinit std::atomic<bool> everyRunPrecise{false};
constinit std::atomic<bool> preciseRuns{false};

void updateTicks() noexcept
{
    mainTicks.store(toTicks(mainNs.load(std::memory_order_relaxed)), std::memory_order_relaxed);
    otherTicks.store(toTicks(otherNs.load(std::memory_order_relaxed)), std::memory_order_relaxed);
    stallTicks.store(toTicks(stallNs.load(std::memory_order_relaxed)), std::memory_order_relaxed);
    const std::uint64_t lower =
        std::min(mainTicks.load(std::memory_order_relaxed), otherTicks.load(std::memory_order_relaxed));
    fastCap.store(lower / 2, std::memory_order_seq_cst);
    const std::uint64_t tick = toTicks(coarseTickNs);
    coarseTick.store(tick, std::memory_order_relaxed);
    coarseCap.store(lower == off ? off : (lower > tick ? lower - tick : 0), std::memory_order_relaxed);
    preciseRuns.store(everyRunPrecise.load(std::memory_order_relaxed) || lower / 2 < tick,
                      std::memory_order_relaxed);
}

std::uint64_t toNs(std::uint64_t ticks) noexcept
{
    return static_cast<std::uint64_t>(static_cast<double>(ticks) *
                                      nsPerTickValue.load(std::memory_order_relaxed));
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
    if (ClockPair start; invariantTsc())
        return calibrate(delay, start);
#endif
    (void)delay;
    return 0.0;
}

bool ticksAreTsc() noexcept
{
    initClock();
    return useTsc.load(std::memory_order_relaxed);
}

void toNanos(const Histogram &h, HistogramRecord &out) noexcept
{
    // Up to the maximum's bucket, into a fresh record (the others are empty: a run records its
    // bucket before it raises the maximum, and one ending meanwhile is the next snapshot's).
    const std::uint64_t max = h.max.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i <= tickBucket(max); ++i)
        out.buckets[i] = h.buckets[i].load(std::memory_order_relaxed);
    out.nsPerTick = nsPerTickValue.load(std::memory_order_relaxed);
    out.totalNs = toNs(h.total.load(std::memory_order_relaxed));
    out.maxNs = toNs(max);
}

} // namespace rio::detail::diag
