// SPDX-License-Identifier: MIT
// Runs mode: a large registry with several priorities keeps one shared, appendable run per
// priority, and its arrays list the runs (one entry each, calling callRun) instead of copying
// every handler on an add inside the order. See docs/ARCHITECTURE.md, "Writers".

#include "domain.h"
#include "snapshot.h"

#include <registryio/detail/registry_core.h>

#include <algorithm>
#include <exception>
#include <utility>
#include <vector>

namespace rio::detail {

// A runs-mode array's entry: calls its run's entries up to the array's count, as notify calls an
// entry (announce, load the call, call; failures reported; only a forced unwind escapes). The
// running cell is the calling section's: threadSlot is its slot + 1 until the section ends.
// The same loop as Registry<E>::notify and RegistryCore::notifyOutOfLine: keep them alike.
void callRun(HandlerBox *b, const void *event)
{
    const auto *ref = reinterpret_cast<const RunRef *>(b);
    std::atomic<const void *> *running = hazard::runningCell();
    const bool fence = hazard::readersFence();
    for (const Entry *it = ref->run->entries(), *end = it + ref->count; it != end; ++it) {
        HandlerBox *box = it->box;
        running->store(box, announceOrder);
        if (fence)
            std::atomic_thread_fence(std::memory_order_seq_cst);
        else
            std::atomic_signal_fence(std::memory_order_seq_cst);
        try {
            it->invoke.load(invokeOrder)(box, event);
        }
#if RIO_HAVE_FORCED_UNWIND
        catch (abi::__forced_unwind &) {
            throw; // notify closes the section
        }
#endif
        catch (const std::exception &e) {
            RegistryCore::reportFailure(box, e.what());
        } catch (...) {
            RegistryCore::reportFailure(box, nullptr);
        }
    }
}

namespace {

// A new run for `priority` holding the live entries of `from` (its first `count`, may be null),
// with room for `extra` more and then as many again.
Run *copyRun(const Run *from, std::uint32_t count, int priority, std::size_t extra)
{
    std::size_t live = 0;
    for (std::uint32_t i = 0; from != nullptr && i < count; ++i)
        live += const_cast<Run *>(from)->entries()[i].invoke.load(std::memory_order_relaxed) != &skipRemoved;
    Run *r = createRun(std::max<std::size_t>(4, 2 * (live + extra)), priority);
    for (std::uint32_t i = 0; from != nullptr && i < count; ++i) {
        Entry &e = const_cast<Run *>(from)->entries()[i];
        const Invoke f = e.invoke.load(std::memory_order_relaxed);
        if (f == &skipRemoved)
            continue;
        new (&r->entries()[r->size]) Entry{{f}, e.box};
        r->ids()[r->size] = const_cast<Run *>(from)->ids()[i];
        ++r->size;
    }
    return r;
}

} // namespace

Snapshot *RegistryCore::createTop(const RunRef *refs, std::uint32_t count) const
{
    const std::size_t bytes = sizeof(Snapshot) + count * (sizeof(Entry) + sizeof(RunRef));
    auto *s = new (::operator new(bytes)) Snapshot;
    s->kind = Retired::Kind::Snapshot;
    s->destroy = &freeSnapshot;
    s->bytes = static_cast<std::uint32_t>(bytes);
    s->capacity = s->size = s->runCount = count;
    RunRef *out = refsOf(s);
    for (std::uint32_t i = 0; i < count; ++i) {
        out[i] = refs != nullptr ? refs[i] : RunRef{nullptr, 0, 0}; // null: the caller fills them
        new (&s->entries()[i]) Entry{{&callRun}, reinterpret_cast<HandlerBox *>(&out[i])};
    }
    s->end.store(s->entries() + count, std::memory_order_relaxed);
    s->version = st().version + 1;
    return s;
}

void RegistryCore::publishTopLocked(Snapshot *top) noexcept
{
    for (std::uint32_t i = 0; i < top->runCount; ++i)
        refsOf(top)[i].run->refs.fetch_add(1, std::memory_order_relaxed);
    publishLocked(top);
}

void RegistryCore::addToRunsLocked(HandlerBox *box, Invoke invoke, int priority)
{
    Snapshot *cur = head.load(std::memory_order_relaxed);
    const RunRef *refs = refsOf(cur);
    RunRef *at = runOf(cur, priority);
    const auto idx = static_cast<std::size_t>(at - refs);
    const bool found = idx < cur->runCount && at->priority == priority;
    // Everything that can throw first.
    std::vector<RunRef> next(refs, refs + cur->runCount);
    Run *run = found ? at->run : nullptr;
    const bool inPlace = found && run->size == at->count && run->size < run->capacity;
    Run *fresh = nullptr;
    Snapshot *top = nullptr;
    try {
        if (!inPlace) {
            fresh = copyRun(run, found ? at->count : 0, priority, 1);
            if (found)
                next[idx] = {fresh, fresh->size, priority};
            else
                next.insert(next.begin() + static_cast<std::ptrdiff_t>(idx), RunRef{fresh, 0, priority});
        }
        top = createTop(next.data(), static_cast<std::uint32_t>(next.size()));
    } catch (...) {
        if (fresh != nullptr)
            freeRun(fresh);
        throw;
    }
    // Append past the count of every array that lists the run, then list it in the new array.
    Run *target = inPlace ? run : fresh;
    new (&target->entries()[target->size]) Entry{{invoke}, box};
    target->ids()[target->size] = box->id.value();
    ++target->size;
    refsOf(top)[idx].count = target->size;
    box->birth = top->version;
    if (fresh != nullptr && found)
        cur->bytes += run->bytes; // freed with the last array that lists it
    publishTopLocked(top);
}

void RegistryCore::toRunsLocked(HandlerBox *box, Invoke invoke, std::uint32_t insertAt)
{
    Snapshot *cur = head.load(std::memory_order_relaxed);
    std::vector<RunRef> next;
    Snapshot *top = nullptr;
    try {
        // The live entries in order, `box` at insertAt, cut into runs of equal priority.
        auto each = [&](auto &&f) {
            for (std::uint32_t i = 0; i <= cur->size; ++i) {
                if (i == insertAt)
                    f(invoke, box, box->id.value(), box->priority);
                if (i == cur->size)
                    break;
                Entry &e = cur->entries()[i];
                const Invoke fn = e.invoke.load(std::memory_order_relaxed);
                if (fn != &skipRemoved)
                    f(fn, e.box, ids(cur)[i], priorities(cur)[i]);
            }
        };
        std::vector<std::pair<int, std::size_t>> sizes; // (priority, live entries)
        each([&](Invoke, HandlerBox *, std::uint64_t, int p) {
            if (sizes.empty() || sizes.back().first != p)
                sizes.emplace_back(p, 0);
            ++sizes.back().second;
        });
        next.reserve(sizes.size());
        for (const auto &[p, n] : sizes)
            next.push_back({createRun(std::max<std::size_t>(4, 2 * n), p), 0, p});
        std::size_t r = 0;
        each([&](Invoke fn, HandlerBox *b, std::uint64_t id, int p) {
            if (next[r].priority != p)
                ++r;
            Run *run = next[r].run;
            new (&run->entries()[run->size]) Entry{{fn}, b};
            run->ids()[run->size] = id;
            next[r].count = ++run->size;
        });
        top = createTop(next.data(), static_cast<std::uint32_t>(next.size()));
    } catch (...) {
        for (const RunRef &ref : next)
            freeRun(ref.run);
        throw;
    }
    box->birth = top->version;
    publishTopLocked(top);
}

// Runs mode's compaction, on the flat array's terms: only once more than compactAfterDead and
// more than half of the entries the head lists are removed ones (or when forced), so that it
// allocates at most once per compactAfterDead + 1 removals: one array, plus a copy of each run
// more than half removed. Runs with nothing left are dropped, the others stay shared.
void RegistryCore::compactRunsLocked(bool force) noexcept
{
    Snapshot *cur = head.load(std::memory_order_relaxed);
    const RunRef *refs = refsOf(cur);
    std::size_t listed = 0;
    std::size_t dead = 0;
    for (std::uint32_t i = 0; i < cur->runCount; ++i) {
        listed += refs[i].count;
        dead += refs[i].run->dead;
    }
    if (dead == 0 || (!force && (dead <= compactAfterDead || dead * 2 <= listed)))
        return;
    auto worn = [force](const RunRef &ref) {
        return ref.run->dead != 0 && (force || ref.run->dead * 2 > ref.count);
    };
    std::uint32_t kept = 0;
    for (std::uint32_t i = 0; i < cur->runCount; ++i)
        kept += refs[i].run->dead != refs[i].count ? 1u : 0u;
    if (kept == 0) {
        publishEmptyLocked();
        return;
    }
    Snapshot *top = nullptr;
    std::uint32_t made = 0;
    std::uint32_t replacedBytes = 0;
    try {
        top = createTop(nullptr, kept);
        RunRef *out = refsOf(top);
        for (std::uint32_t i = 0; i < cur->runCount; ++i) {
            const RunRef &ref = refs[i];
            if (ref.run->dead == ref.count) {
                replacedBytes += ref.run->bytes; // nothing left of this priority
                continue;
            }
            if (!worn(ref)) {
                out[made++] = ref;
                continue;
            }
            Run *fresh = copyRun(ref.run, ref.count, ref.priority, 0);
            replacedBytes += ref.run->bytes;
            out[made++] = {fresh, fresh->size, ref.priority};
        }
    } catch (...) {
        // No memory: the tombstones stay until a later compaction. Removal never needs memory.
        if (top != nullptr) {
            for (std::uint32_t i = 0; i < made; ++i) {
                Run *r = refsOf(top)[i].run;
                if (std::none_of(refs, refs + cur->runCount, [r](const RunRef &ref) { return ref.run == r; }))
                    freeRun(r); // a copy made here
            }
            top->~Snapshot();
            ::operator delete(top);
        }
        return;
    }
    cur->bytes += replacedBytes;
    publishTopLocked(top);
}

} // namespace rio::detail
