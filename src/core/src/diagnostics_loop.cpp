// SPDX-License-Identifier: MIT
// The timed notify loop (docs/DIAGNOSTICS.md): taken by notifies of arrays published while the
// registry's diagnostics are on, so that off costs notify one test of a flag. It calls each
// handler as notify does and records its run in the handler's statistics.

#include "diagnostics_p.h"
#include "domain.h"
#include "snapshot.h"

#include <algorithm>
#include <exception>

namespace rio::detail::diag {

namespace {

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
RIO_COLD std::uint64_t timedOutlier(HandlerTimes *s, std::uint64_t dt, std::uint64_t now, RunRecord &r,
                                    bool onTimeline) noexcept
{
    s->runTime.raiseMax(dt);
    const std::uint64_t max = s->runTime.max.load(std::memory_order_relaxed);
    std::uint64_t limit = std::min(max, fastCap.load(std::memory_order_seq_cst));
    s->fastLimit.store(limit, std::memory_order_seq_cst);
    // setThresholds lowers every limit after it lowers the cap: a limit stored after its walk
    // read this one is lowered here.
    if (const std::uint64_t cap = fastCap.load(std::memory_order_seq_cst); cap < limit)
        capFastLimit(s, cap);
    if (dt < r.slowTicks.load(std::memory_order_relaxed)->load(std::memory_order_relaxed)) {
        if (onTimeline)
            timelineRun(s, now - dt, now);
        return now;
    }
    // The report runs the sink: the record shows no run meanwhile, and the report's own time is
    // no handler's.
    r.times.store(nullptr, std::memory_order_relaxed);
    reportSlow(s, dt, r);
    return readTicks();
}

// A run the coarse clock saw longer than coarseCap (one tick below the lower slow threshold), which
// began at coarse reading `start`: it may have reached its thread's threshold. Its end is read
// with the precise clock; from the coarse start (never after the true one) that is at least its
// length, and at most one tick more while the watchdog keeps time: it raises the maximum, and it
// is slow when that reaches the thread's threshold.
RIO_COLD void coarseOutlier(HandlerTimes *s, std::uint64_t start, RunRecord &r) noexcept
{
    const std::uint64_t now = readTicks();
    const std::uint64_t dt = now > start ? now - start : 0;
    s->runTime.raiseMax(dt);
    if (dt < r.slowTicks.load(std::memory_order_relaxed)->load(std::memory_order_relaxed))
        return;
    r.times.store(nullptr, std::memory_order_relaxed); // the report's own time is no handler's
    reportSlow(s, dt, r);
}

// Calls the handler as notify does; a failure is reported, and counted in `s` (if not null). A
// forced unwind (thread cancellation) goes on: notifyTimed leaves the section.
RIO_ALWAYS_INLINE inline void call(Invoke f, HandlerBox *box, const void *event, HandlerStats *s)
{
    try {
        f(box, event);
    }
#if RIO_HAVE_FORCED_UNWIND
    catch (abi::__forced_unwind &) {
        throw;
    }
#endif
    catch (const std::exception &e) {
        if (s != nullptr)
            s->failures.fetch_add(1, std::memory_order_relaxed);
        RegistryCore::reportFailure(box, e.what());
    } catch (...) {
        if (s != nullptr)
            s->failures.fetch_add(1, std::memory_order_relaxed);
        RegistryCore::reportFailure(box, nullptr);
    }
}

// A live entry's call without statistics (its box's are not published to this notify):
// called untimed.
RIO_COLD void callUntimed(Invoke f, HandlerBox *box, const void *event, RunRecord &r)
{
    r.times.store(nullptr, std::memory_order_relaxed);
    call(f, box, event, nullptr);
}

// The timed loop over the entries [it, end), as notify's, each live handler with statistics timed
// with one clock read: the end of one run is the start of the next, so the loop's own few
// instructions between two handlers land in the second one's time. `last` is the clock's
// reading when the first handler starts; returns the reading after the last.
template <bool Tsc, bool Fence>
RIO_ALWAYS_INLINE inline std::uint64_t timedRange(const Entry *it, const Entry *end, const void *event,
                                                  std::uint64_t last, RunRecord &r,
                                                  std::atomic<const void *> *running, bool onTimeline)
{
    const std::uint64_t self = r.thread.load(std::memory_order_relaxed);
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
        // No timing block, or a call that only dispatches (the layer times the run itself).
        HandlerTimes *t = loadTimes(box);
        if (t == nullptr) [[unlikely]] {
            callUntimed(f, box, event, r);
            last = clockTicks<Tsc>();
            continue;
        }
        HandlerStats *s = loadStats(box); // its address: its line is read only when the run throws
        // What the watchdog needs to name a run still going.
        r.start.store(last, std::memory_order_relaxed);
        r.times.store(t, std::memory_order_release);
        call(f, box, event, s);
        const std::uint64_t now = clockTicks<Tsc>();
        const std::uint64_t dt = now - last;
        last = now;
        t->countCall(self, s->calls);
        t->runTime.buckets[tickBucket(dt)].fetch_add(1, std::memory_order_relaxed);
        t->runTime.total.fetch_add(dt, std::memory_order_relaxed);
        // One test for a new maximum and a slow run: the limit is at most both.
        if (dt > t->fastLimit.load(std::memory_order_relaxed)) [[unlikely]]
            last = timedOutlier(t, dt, now, r, onTimeline);
        else if (onTimeline) [[unlikely]]
            timelineRun(t, now - dt, now); // the main thread's, while the timeline records
    }
    return last;
}

// The coarse loop: as timedRange, each run counted, its length read from the coarse clock (one
// load, no clock read): a run that may have reached the lower slow threshold takes the cold path.
// `last` is the coarse clock when the first handler starts; returns it after the last.
template <bool Fence>
RIO_ALWAYS_INLINE inline std::uint64_t coarseRange(const Entry *it, const Entry *end, const void *event,
                                                   std::uint64_t last, RunRecord &r,
                                                   std::atomic<const void *> *running)
{
    const std::uint64_t cap = coarseCap.load(std::memory_order_relaxed);
    const std::uint64_t self = r.thread.load(std::memory_order_relaxed);
    for (; it != end; ++it) {
        HandlerBox *box = it->box;
        running->store(box, announceOrder);
        if constexpr (Fence)
            std::atomic_thread_fence(std::memory_order_seq_cst);
        else
            std::atomic_signal_fence(std::memory_order_seq_cst);
        const Invoke f = it->invoke.load(invokeOrder);
        if (f == &skipRemoved || f == &skipSuspended) [[unlikely]]
            continue;
        HandlerTimes *t = loadTimes(box);
        if (t == nullptr) [[unlikely]] {
            callUntimed(f, box, event, r);
            last = coarseNow.load(std::memory_order_relaxed);
            continue;
        }
        HandlerStats *s = loadStats(box);
        r.start.store(last, std::memory_order_relaxed);
        r.times.store(t, std::memory_order_release);
        call(f, box, event, s);
        t->countCall(self, s->calls);
        const std::uint64_t now = coarseNow.load(std::memory_order_relaxed);
        if (now - last > cap) [[unlikely]]
            coarseOutlier(t, last, r);
        last = now;
    }
    return last;
}

// A timed notify with the clock and fence mode it was compiled for (notifyTimed's).
template <bool Tsc, bool Fence>
void timedNotify(std::atomic<const void *> *slot, const Snapshot *s, const Entry *end, const void *event,
                 RunRecord &r)
{
    HandlerTimes *const prevStats = r.times.load(std::memory_order_relaxed);
    const std::uint64_t prevStart = r.start.load(std::memory_order_relaxed);
    std::atomic<const void *> *running = slot + hazard::slotCount;
    // One notify per thread per tick of the coarse clock reads the precise clock at every run
    // (the histograms' sample); the others count runs and read the coarse clock.
    const std::uint64_t coarse = coarseNow.load(std::memory_order_relaxed);
    const bool precise = coarse != r.preciseAt || preciseRuns.load(std::memory_order_relaxed);
    std::uint64_t last = precise ? clockTicks<Tsc>() : coarse;
    if (precise)
        r.preciseAt = coarse;
    const bool timeline = precise && onTimeline(r);
    const auto range = [&](const Entry *first, const Entry *stop) __attribute__((always_inline)) {
        if (precise)
            last = timedRange<Tsc, Fence>(first, stop, event, last, r, running, timeline);
        else
            last = coarseRange<Fence>(first, stop, event, last, r, running);
    };
    try {
        if (s->timed.load(std::memory_order_relaxed) == timedRuns) [[unlikely]] {
            // Runs mode: the array's entries are its runs (callRun's), each up to this array's
            // count.
            for (const Entry *top = s->entries(); top != end; ++top) {
                const auto *ref = reinterpret_cast<const RunRef *>(top->box);
                const Entry *first = ref->run->entries();
                range(first, first + ref->count);
            }
        } else {
            range(s->entries(), end);
        }
    } catch (...) {
        // Only a forced unwind (thread cancellation) gets here: it must unwind.
        r.times.store(prevStats, std::memory_order_relaxed);
        r.start.store(prevStart, std::memory_order_release);
        hazard::leave(slot);
        throw;
    }
    // The record shows the enclosing run again (a nested notify's).
    r.times.store(prevStats, std::memory_order_relaxed);
    r.start.store(prevStart, std::memory_order_release);
    hazard::leave(slot);
}

} // namespace

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

} // namespace rio::detail::diag
