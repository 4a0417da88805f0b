// SPDX-License-Identifier: MIT
// Diagnostics in the core, its interface (docs/DIAGNOSTICS.md): thread numbers, registry
// serials, the process-wide and per-registry switches, the thresholds, and snapshots of every
// writer state. The clock, run records and the timed loop live in diagnostics_*.cpp.

#include "diagnostics_p.h"
#include "registry_list.h"
#include "snapshot.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace rio::detail::diag {

thread_local constinit std::uint64_t tlsThreadNumber = 0;

namespace {

constinit std::atomic<std::uint64_t> threadCounter{0};
constinit std::atomic<std::uint64_t> serialCounter{0};
constinit std::atomic<bool> globalOn{false};
constinit std::atomic<bool> keepOn{false}; // destroyed registries' records are kept

// Calls f(state) for every listed registry state with a core (serial 0), or for the one whose
// serial is `serial`, under the state's writer lock. The others' locks are not taken: a state's
// serial is set under the list's lock before it is listed and never changes, so one registry's
// record (a drop warning's name) costs no lock of every other registry.
template <typename F>
void forEachCore(F f, std::uint64_t serial = 0)
{
    struct Visit
    {
        F &f;
        std::uint64_t serial;
    } visit{f, serial};
    RegistryList::visit(
        [](RegistryState &s, void *arg) {
            auto &v = *static_cast<Visit *>(arg);
            if (v.serial != 0 && s.serial != v.serial)
                return;
            std::lock_guard lock(s.writerLock);
            if (s.core != nullptr)
                v.f(s);
        },
        &visit);
}

} // namespace

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
    static constinit std::atomic<bool> read{false};
    RegistryList::initOnce(read, []() noexcept {
        // The file written at exit shows registries destroyed before it (the Qt layer writes it).
        const char *json = std::getenv("RIO_DIAGNOSTICS_JSON"); // NOLINT(concurrency-mt-unsafe)
        if (json != nullptr && json[0] != '\0')
            keepOn.store(true, std::memory_order_relaxed);
        const char *v = std::getenv("RIO_DIAGNOSTICS");               // NOLINT(concurrency-mt-unsafe)
        const char *precise = std::getenv("RIO_DIAGNOSTICS_PRECISE"); // NOLINT(concurrency-mt-unsafe)
        if (precise != nullptr && precise[0] != '\0' && std::strcmp(precise, "0") != 0)
            everyRunPrecise.store(true, std::memory_order_relaxed);
        if (v != nullptr && v[0] != '\0' && std::strcmp(v, "0") != 0) {
            initClockLocked();
            updateTicks();
            tickCoarse();
            globalOn.store(true, std::memory_order_release);
            updateWatchdog();
        }
    });
}

void setGlobalEnabled(bool enabled)
{
    initClock();
    updateTicks();
    tickCoarse(); // before any run is timed: a coarse clock left from an earlier watchdog is stale
    std::exception_ptr error;
    globalOn.store(enabled, std::memory_order_release);
    forEachCore([&](RegistryState &s) {
        try {
            Registries::applyLocked(*s.core, enabled || s.diagnosticsOwn);
        } catch (...) {
            if (!error)
                error = std::current_exception();
        }
    });
    updateWatchdog();
    if (error)
        std::rethrow_exception(error);
}

void setEveryRunPrecise(bool on) noexcept
{
    initClock();
    everyRunPrecise.store(on, std::memory_order_relaxed);
    updateTicks();
}

bool isEveryRunPrecise() noexcept
{
    return everyRunPrecise.load(std::memory_order_relaxed);
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
    forEachCore([](RegistryState &s) {
        Registries::capFastLimitsLocked(*s.core, fastCap.load(std::memory_order_seq_cst));
    });
    updateWatchdog(); // a new period
}

void thresholds(std::uint64_t &main, std::uint64_t &other, std::uint64_t &stall) noexcept
{
    main = mainNs.load(std::memory_order_relaxed);
    other = otherNs.load(std::memory_order_relaxed);
    stall = stallNs.load(std::memory_order_relaxed);
}

namespace {

// Records of destroyed registries, the last departedKept; never destroyed (registries with static
// storage may die after any static of ours).
struct Departed
{
    std::mutex mutex;
    std::vector<RegistryRecord> records;
    std::uint64_t lost = 0;
};

Departed &departed()
{
    static auto *d = new Departed; // NOLINT(bugprone-unhandled-exception-at-new)
    return *d;
}
} // namespace

void keepDeparted(bool on) noexcept
{
    keepOn.store(on, std::memory_order_relaxed);
}

bool keepingDeparted() noexcept
{
    return keepOn.load(std::memory_order_relaxed);
}

std::vector<RegistryRecord> departedRecords(std::uint64_t &lost)
{
    Departed &d = departed();
    std::lock_guard lock(d.mutex);
    lost = d.lost;
    return d.records;
}

// A registry being destroyed, under its lock, its handlers still listed: keeps its record.
void noteDeparture(const RegistryCore &core, const RegistryState &s) noexcept
{
    if (!keepOn.load(std::memory_order_relaxed) || s.facade || (s.eventType == nullptr && s.name.empty()))
        return;
    Departed &d = departed();
    try {
        RegistryRecord rec;
        Registries::recordLocked(core, rec);
        std::lock_guard lock(d.mutex);
        if (d.records.size() == departedKept) {
            d.records.erase(d.records.begin());
            ++d.lost;
        }
        d.records.push_back(std::move(rec));
    } catch (...) {
        std::lock_guard lock(d.mutex);
        ++d.lost; // no memory: not kept
    }
}

std::vector<RegistryRecord> collect(std::uint64_t serial, bool handlers)
{
    std::vector<RegistryRecord> out;
    forEachCore(
        [&](RegistryState &s) {
            // Listed once it has something to show: a handler added (its event type) or a name. A
            // QtRegistry's core is listed by the Qt layer (record()), unless asked for by serial.
            if ((s.facade && serial == 0) || (s.eventType == nullptr && s.name.empty()))
                return;
            RegistryRecord rec;
            Registries::recordLocked(*s.core, rec, handlers);
            out.push_back(std::move(rec));
        },
        serial);
    std::sort(out.begin(), out.end(),
              [](const RegistryRecord &a, const RegistryRecord &b) { return a.serial < b.serial; });
    return out;
}

} // namespace rio::detail::diag

namespace rio::detail {

void RegistryCore::setDiagnosticsEnabled(bool enabled)
{
    diag::initClock();
    diag::updateTicks();
    diag::tickCoarse();
    {
        RegistryState &ws = writerState();
        std::lock_guard lock(ws.writerLock);
        diag::Registries::applyLocked(*this, enabled || diag::globalEnabled());
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

void diag::Registries::markFacade(RegistryCore &core, const std::string_view *eventType)
{
    RegistryState &ws = core.writerState();
    std::shared_ptr<const std::string> copy;
    if (eventType != nullptr && !eventType->empty())
        copy = std::make_shared<const std::string>(*eventType);
    std::lock_guard lock(ws.writerLock);
    ws.facade = true;
    ws.eventType.swap(copy);
}

std::uint64_t diag::Registries::serial(RegistryCore &core)
{
    return core.writerState().serial;
}

void diag::Registries::applyLocked(RegistryCore &core, bool on)
{
    RegistryState &ws = core.st();
    if (on == ws.diagnosticsOn)
        return;
    Snapshot *h = core.head.load(std::memory_order_relaxed);
    const bool empty = h == emptySnapshot();
    if (on) {
        // Everything that can throw first: statistics for every live handler, published
        // (release) before the flag, so a notify that reads the flag finds them, and the timing
        // block of those that had statistics without one (layerTimed).
        forEachEntry(h, empty, [&](Entry &e, std::uint64_t, int) {
            HandlerBox *b = e.box;
            if (e.invoke.load(std::memory_order_relaxed) == &skipRemoved)
                return;
            if (b->stats == nullptr) { // (not layerTimed: its block before its publication)
                std::unique_ptr<diag::HandlerStats, diag::FreeStats> s(diag::newStats());
                s->times = diag::newTimes(ws.serial, b->id, b->where, ws.eventType);
                __atomic_store_n(&b->stats, s.release(), __ATOMIC_RELEASE);
                __atomic_store_n(&b->times, b->stats->times, __ATOMIC_RELEASE);
            }
            if (b->stats->times == nullptr)
                b->stats->times = diag::newTimes(ws.serial, b->id, b->where, ws.eventType);
        });
    }
    forEachEntry(h, empty, [on](Entry &e, std::uint64_t, int) {
        if (e.invoke.load(std::memory_order_relaxed) == &skipRemoved)
            return; // its box may be gone already: read nothing of it
        if (diag::HandlerStats *s = e.box->stats)
            s->timing.store(on ? s->times : nullptr, std::memory_order_release);
    });
    // The shared empty array is never written; every array published from now on carries the
    // flag too (publishLocked). Arrays a notify still walks keep theirs: it may finish timed.
    if (!empty)
        setTimed(h, on);
    ws.diagnosticsOn = on;
    if (ws.leftStats != nullptr) // its handlers that left the table too
        ws.leftStats->registryTiming.store(on, std::memory_order_release);
    diag::countRegistry(on);
}

void diag::Registries::capFastLimitsLocked(const RegistryCore &core, std::uint64_t cap) noexcept
{
    Snapshot *h = core.head.load(std::memory_order_relaxed);
    forEachEntry(h, h == emptySnapshot(), [cap](Entry &e, std::uint64_t, int) {
        if (e.invoke.load(std::memory_order_relaxed) == &skipRemoved)
            return;
        if (diag::HandlerStats *s = diag::loadStats(e.box); s != nullptr && s->times != nullptr)
            diag::capFastLimit(s->times, cap);
    });
}

void diag::Registries::recordLocked(const RegistryCore &core, RegistryRecord &out, bool handlers)
{
    const RegistryState &ws = core.st();
    out.serial = ws.serial;
    out.name = ws.name;
    if (ws.eventType != nullptr)
        out.eventType = *ws.eventType;
    out.enabled = ws.diagnosticsOn;
    if (!handlers)
        return;
    // Before the handlers, which a handler leaves outside this lock (its layer takes it out
    // first): a drop moving from a leaving handler to the registry is missed by this record
    // rather than shown twice (acquire: a move read here has taken the handler's count to 0).
    if (const diag::HandlerStats *left = ws.leftStats)
        for (int r = 0; r < dropReasonCount; ++r)
            out.leftDrops[static_cast<std::size_t>(r)] = left->drops[r].load(std::memory_order_acquire);
    const std::size_t live = ws.live.load(std::memory_order_relaxed);
    out.handlers.reserve(live);
    const auto histogram = [&](const diag::Histogram &from) { // (none for one that has no runs)
        if (from.max.load(std::memory_order_relaxed) == 0 &&
            from.buckets[0].load(std::memory_order_relaxed) == 0)
            return diag::HandlerRecord::none;
        if (out.histograms.empty())
            out.histograms.reserve(ws.diagnosticsOn ? 2 * live : live);
        diag::toNanos(from, out.histograms.emplace_back());
        return static_cast<std::uint32_t>(out.histograms.size() - 1);
    };
    for (const auto &[id, value] : ws.byId) {
        if (value == 0 || (value & 1u) != 0)
            continue;
        const auto *box = reinterpret_cast<const HandlerBox *>(value); // NOLINT(performance-no-int-to-ptr)
        if (box->removed)
            continue;
        diag::HandlerRecord &h = out.handlers.emplace_back();
        h.id = box->id;
        h.priority = box->priority;
        h.suspended = box->suspended;
        h.where = box->where;
        h.thread = box->thread;
        if (const diag::HandlerStats *s = box->stats) {
            h.failures = s->failures.load(std::memory_order_relaxed);
            if (const diag::HandlerTimes *t = s->times) { // diagnostics were on for it at some point
                h.timed = true;
                h.slowRuns = t->slowRuns.load(std::memory_order_relaxed);
                h.runTime = histogram(t->runTime);
                if (box->layerTimed && ws.diagnosticsOn)
                    h.queueDelay = histogram(t->queueDelay);
            }
            // Every run is counted; the histogram holds the precisely timed ones.
            h.calls = diag::totalCalls(*s);
            for (int r = 0; r < dropReasonCount; ++r)
                h.drops[static_cast<std::size_t>(r)] = s->drops[r].load(std::memory_order_relaxed);
            h.maxWaiting = s->maxWaiting.load(std::memory_order_relaxed);
            h.coalesced = s->coalesced.load(std::memory_order_relaxed);
        }
    }
}

bool diag::Registries::record(const RegistryCore &core, RegistryRecord &out, bool handlers)
{
    if (core.m_state.load(std::memory_order_acquire) == nullptr)
        return false;
    std::lock_guard lock(core.st().writerLock);
    recordLocked(core, out, handlers);
    return true;
}

diag::HandlerStats *RegistryCore::retainStats(HandlerId id)
{
    if (m_state.load(std::memory_order_acquire) == nullptr)
        return nullptr;
    std::lock_guard lock(st().writerLock);
    HandlerBox *box = findLocked(id);
    if (box == nullptr || box->stats == nullptr)
        return nullptr;
    box->stats->refs.fetch_add(1, std::memory_order_relaxed);
    return box->stats;
}

} // namespace rio::detail
