// SPDX-License-Identifier: MIT
#pragma once

// What a notify and the layers' runs need of diagnostics (docs/DIAGNOSTICS.md): a handler's
// statistics block and the scope that times a run the layer makes itself. The rest (records,
// the clock, the watchdog, the timeline) is diagnostics.h's. Not part of the public API.

#include <registryio/detail/config.h>
#include <registryio/drop_reason.h>

#include <atomic>
#include <cstdint>

namespace rio::detail::diag {

/// A handler's timing block: what timed runs record and who the handler is, for the watchdog
/// (diagnostics.h). Allocated when its registry's diagnostics first time it (the switch, or its
/// add while on), freed with the statistics.
struct HandlerTimes;

/// One handler's statistics: the one record of its runs, created by the registry under its lock
/// and owned by the handler's box; a handler's while diagnostics are (or were) on, a layerTimed
/// handler's (HandlerBox::layerTimed: the Qt facade's handlers with a context) from its add,
/// the layer holding a reference (retainStats). Its counters are always there, its timing block
/// once it was timed. Freed by the last freeStats, which the watchdog synchronises with.
struct HandlerStats
{
    // `times` while the registry's diagnostics are on, else null (the registry's lock, release):
    // whether and where the layer times a run. First: the Qt layer reads it inline (mayTime).
    std::atomic<HandlerTimes *> timing{nullptr};
    std::atomic<std::uint64_t> calls{0};    // every run counted but a timed notify's owner's
    std::atomic<std::uint64_t> failures{0}; // runs that threw (those counted here)
    // A layerTimed handler's queued deliveries, counted from its add (not only while timed).
    std::atomic<std::uint64_t> drops[dropReasonCount] = {}; // dropped, by DropReason, while listed
    std::atomic<std::uint64_t> maxWaiting{0}; // the most deliveries waiting at once (the layer's lock)
    std::atomic<std::uint64_t> coalesced{0};  // Latest: payloads a newer event replaced (ditto)
    // Counts `n` deliveries dropped for `reason`: the handler's own count while it is listed,
    // its registry's (leftTo) once it left (leave). Exact under any interleaving with leave(): a
    // drop counted after leave() took the counts is moved by this test of `left` (both
    // sequentially consistent), each count once.
    void countDrops(std::uint64_t n, DropReason reason) noexcept
    {
        drops[static_cast<int>(reason)].fetch_add(n, std::memory_order_seq_cst);
        if (left.load(std::memory_order_seq_cst)) [[unlikely]]
            moveDrops();
    }
    /// The handler left its registry's table: its drops so far, and every later one, count for
    /// the registry (RegistryRecord::leftDrops). Called once, by whoever took it out.
    void leave() noexcept
    {
        left.store(true, std::memory_order_seq_cst);
        moveDrops();
    }
    HandlerStats *leftTo = nullptr; // a reference to the registry's drops of handlers that left
    // The timing block once it was timed (set under the registry's lock, before `timing` or the
    // statistics' publication), freed with them.
    HandlerTimes *times = nullptr;
    std::atomic<std::uint32_t> refs{1}; // the box's, and each retainStats
    std::atomic<bool> left{false};
    // The registry's statistics of handlers that left (leftTo): its diagnostics are on (its
    // lock, release), which the switch sets also for those no longer in its table.
    std::atomic<bool> registryTiming{false};
    /// Where the layer times a run (`timing`), or null: a layerTimed handler's follows its
    /// registry's switch (leftTo's registryTiming) also once it left the table, with a delivery
    /// still waiting (a fired once-handler's).
    [[nodiscard]] HandlerTimes *timingNow() const noexcept
    {
        HandlerTimes *t = timing.load(std::memory_order_acquire);
        if (t != nullptr && leftTo != nullptr && !leftTo->registryTiming.load(std::memory_order_acquire))
            [[unlikely]]
            return nullptr;
        return t;
    }

private:
    void moveDrops() noexcept
    {
        for (int r = 0; r < dropReasonCount; ++r) {
            if (const std::uint64_t n = drops[r].exchange(0, std::memory_order_seq_cst); n != 0 && leftTo)
                leftTo->drops[r].fetch_add(n, std::memory_order_release); // see recordLocked
        }
    }
};

/// Gives back a reference to `stats` (the box's, when the box is destroyed); the last frees them
/// (the watchdog never reads freed ones). Also declared by registry_core.h, which frees a box's.
RIO_CORE_EXPORT void freeStats(HandlerStats *stats) noexcept; // NOLINT(readability-redundant-declaration)
/// A reference to statistics (freeStats when it goes).
struct FreeStats
{
    void operator()(HandlerStats *s) const noexcept { freeStats(s); }
};

/// A run of a handler a timed notify does not time itself (a layerTimed handler's: the Qt
/// layer's queued deliveries and context handlers' runs on the notifying thread): shows it to
/// the watchdog while it runs, then records its time and reports it if slow.
class RIO_CORE_EXPORT RunScope
{
public:
    /// Starts timing a run of `stats` (`timing` seen set) on this thread; `count`: also counts the
    /// run in stats->calls and, if it throws (an exception leaves the scope), in stats->failures.
    explicit RunScope(HandlerStats *stats, bool count = false) noexcept;
    ~RunScope();
    RunScope(const RunScope &) = delete;
    RunScope &operator=(const RunScope &) = delete;
    /// When the run started (ticks).
    [[nodiscard]] std::uint64_t start() const noexcept { return m_start; }

private:
    HandlerStats *m_stats;
    void *m_record;
    HandlerTimes *m_prevStats;
    std::uint64_t m_prevStart;
    std::uint64_t m_start;
    int m_uncaught; // exceptions already unwinding when the run started (counted runs)
    bool m_count;
};

} // namespace rio::detail::diag
