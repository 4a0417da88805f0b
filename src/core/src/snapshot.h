// SPDX-License-Identifier: MIT
#pragma once

// The layout of a registry's handler arrays, shared by the flat array (flat_array.cpp), runs mode
// (runs.cpp) and reclamation (reclamation.cpp). Not installed.
//
// A flat array (Snapshot with runCount 0) is its entries, then two writer-only columns: each
// entry's handler id and priority. A runs-mode array is one entry per priority run, each calling
// callRun, then the RunRef records those entries point to. See docs/ARCHITECTURE.md, "Writers".

#include "registry_state.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <stdexcept>
#include <utility>
#include <vector>

namespace rio::detail {

// A priority run (runs mode, see Snapshot): entries and their ids, appended in place; arrays list
// a prefix of it. Freed when the last array listing it is destroyed.
struct Run
{
    std::atomic<std::uint32_t> refs{0}; // arrays listing it, retired ones included
    std::uint32_t size = 0;             // entries written (writer-only)
    std::uint32_t capacity = 0;
    std::uint32_t dead = 0; // removed entries (writer-only)
    int priority = 0;
    std::uint32_t bytes = 0;

    [[nodiscard]] Entry *entries() noexcept { return reinterpret_cast<Entry *>(this + 1); }
    [[nodiscard]] std::uint64_t *ids() noexcept
    {
        return reinterpret_cast<std::uint64_t *>(entries() + capacity);
    }
};

// A runs-mode array's record of one run: the run, how many of its entries the array lists, and
// their priority.
struct RunRef
{
    Run *run;
    std::uint32_t count;
    int priority;
};

/// The shared empty array (flat_array.cpp): a Snapshot whose `end` is its first entry.
struct EmptyArray
{
    Snapshot array;
    Entry none[1];
};
extern EmptyArray emptyArray;

inline Snapshot *emptySnapshot() noexcept
{
    return &emptyArray.array;
}

/// Tombstones a flat array or a run tolerates before it is compacted (see compactLocked).
inline constexpr std::uint32_t compactAfterDead = 16;
/// An add inside the order of this many handlers turns the registry to runs.
inline constexpr std::size_t runsFrom = 64;

/// Order of the writer's stores readers load (sequentially consistent under TSan).
inline constexpr std::memory_order publishOrder =
    RIO_SEQ_CST_OPS ? std::memory_order_seq_cst : std::memory_order_release;
/// Order of a pass's loads of reader records (sequentially consistent under TSan).
inline constexpr std::memory_order scanOrder =
    RIO_SEQ_CST_OPS ? std::memory_order_seq_cst : std::memory_order_acquire;

/// Times `s` (never the shared empty array) or stops timing it, under the writer lock: moves
/// its end between `end` and `timedEnd` (see Snapshot).
inline void setTimed(Snapshot *s, bool on) noexcept
{
    if (on) {
        s->timed.store(s->runCount != 0 ? timedRuns : timedFlat, std::memory_order_relaxed);
        // Released too: a notify may read `end` as an earlier switch left it and then this
        // `timedEnd`, past entries appended while off, which it must see written.
        s->timedEnd.store(s->end.load(std::memory_order_relaxed), publishOrder);
        s->end.store(s->entries(), publishOrder);
    } else {
        s->end.store(s->timedEnd.load(std::memory_order_relaxed), publishOrder);
    }
}

inline RunRef *refsOf(Snapshot *s) noexcept
{
    return reinterpret_cast<RunRef *>(s->entries() + s->capacity);
}

// Writer-only columns after the entries: each entry's handler id and priority, so that writers
// never read a box (a removed one may be freed while its tombstone remains).
inline std::uint64_t *ids(Snapshot *s) noexcept
{
    return reinterpret_cast<std::uint64_t *>(s->entries() + s->capacity);
}

inline int *priorities(Snapshot *s) noexcept
{
    return reinterpret_cast<int *>(ids(s) + s->capacity);
}

inline Run *createRun(std::size_t capacity, int priority)
{
    if (capacity > std::numeric_limits<std::uint32_t>::max() / 2)
        throw std::length_error("rio::Registry: too many handlers");
    const std::size_t bytes = sizeof(Run) + capacity * (sizeof(Entry) + sizeof(std::uint64_t));
    auto *r = new (::operator new(bytes)) Run;
    r->capacity = static_cast<std::uint32_t>(capacity);
    r->priority = priority;
    r->bytes =
        static_cast<std::uint32_t>(std::min<std::size_t>(bytes, std::numeric_limits<std::uint32_t>::max()));
    return r;
}

// Arrays are destroyed outside the registry's lock, possibly on several threads at once.
inline void freeRun(Run *r) noexcept
{
    r->~Run();
    ::operator delete(r);
}

inline void releaseRun(Run *r) noexcept
{
    if (r->refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
        freeRun(r);
}

inline void freeSnapshot(Retired *r) noexcept
{
    auto *s = static_cast<Snapshot *>(r);
    for (std::uint32_t i = 0; i < s->runCount; ++i)
        releaseRun(refsOf(s)[i].run);
    s->~Snapshot();
    ::operator delete(s);
}

// Calls f(entry, id, priority) for each entry `s` lists, in order.
template <typename F>
inline void forEachEntry(Snapshot *s, bool empty, F &&f)
{
    if (s->runCount == 0) {
        for (std::uint32_t i = 0; i < s->size; ++i)
            f(s->entries()[i], empty ? 0 : ids(s)[i], empty ? 0 : priorities(s)[i]);
        return;
    }
    for (std::uint32_t r = 0; r < s->runCount; ++r) {
        const RunRef &ref = refsOf(s)[r];
        for (std::uint32_t i = 0; i < ref.count; ++i)
            f(ref.run->entries()[i], ref.run->ids()[i], ref.priority);
    }
}

// As forEachEntry, last entry first.
template <typename F>
inline void forEachEntryBackwards(Snapshot *s, F &&f)
{
    if (s->runCount == 0) {
        for (std::uint32_t i = s->size; i-- > 0;)
            f(s->entries()[i]);
        return;
    }
    for (std::uint32_t r = s->runCount; r-- > 0;) {
        const RunRef &ref = refsOf(s)[r];
        for (std::uint32_t i = ref.count; i-- > 0;)
            f(ref.run->entries()[i]);
    }
}

// Ids grow with every add, and a registry's adds mostly append: an id's index is usually its
// distance from the last (or the first) id. The index of `id` among the `n` ids `key(i)` gives,
// if one of those two guesses holds it, else `n` (then the caller searches).
template <typename Key>
inline std::uint32_t guessIndex(std::uint32_t n, std::uint64_t id, Key &&key) noexcept
{
    if (n == 0)
        return n;
    const std::uint64_t last = key(n - 1);
    if (last >= id && last - id < n && key(static_cast<std::uint32_t>(n - 1 - (last - id))) == id)
        return static_cast<std::uint32_t>(n - 1 - (last - id));
    const std::uint64_t first = key(0);
    if (id >= first && id - first < n && key(static_cast<std::uint32_t>(id - first)) == id)
        return static_cast<std::uint32_t>(id - first);
    return n;
}

inline std::uint32_t guessIndex(const std::uint64_t *ids, std::uint32_t n, std::uint64_t id) noexcept
{
    return guessIndex(n, id, [ids](std::uint32_t i) { return ids[i]; });
}

// A registry's entry for `id` in its id map (RegistryState::byId, sorted by id), or null.
inline std::pair<std::uint64_t, std::uintptr_t> *
findById(std::vector<std::pair<std::uint64_t, std::uintptr_t>> &byId, std::uint64_t id) noexcept
{
    const auto n = static_cast<std::uint32_t>(byId.size());
    if (const std::uint32_t i = guessIndex(n, id, [&byId](std::uint32_t k) { return byId[k].first; }); i != n)
        return &byId[i];
    const auto it = std::lower_bound(byId.begin(), byId.end(), id,
                                     [](const auto &entry, std::uint64_t v) { return entry.first < v; });
    return it != byId.end() && it->first == id ? &*it : nullptr;
}

// Tombstones `box`'s entry in `s` if it has one: entries are sorted by priority (descending),
// then id (registration order). A removal must reach every array a notify may still iterate,
// not only the head: the box may be freed once nobody runs it.
inline Entry *entryIn(Snapshot *s, const HandlerBox *box) noexcept
{
    if (s->runCount != 0) {
        const RunRef *refs = refsOf(s);
        const RunRef *ref = std::partition_point(
            refs, refs + s->runCount, [p = box->priority](const RunRef &r) { return r.priority > p; });
        if (ref == refs + s->runCount || ref->priority != box->priority)
            return nullptr;
        const std::uint64_t *id = ref->run->ids();
        const std::uint64_t *at = std::lower_bound(id, id + ref->count, box->id.value());
        return at == id + ref->count || *at != box->id.value() ? nullptr : ref->run->entries() + (at - id);
    }
    const int *prio = priorities(s);
    const std::uint64_t *id = ids(s);
    if (const std::uint32_t guess = guessIndex(id, s->size, box->id.value()); guess != s->size)
        return s->entries() + guess;
    const auto lo = static_cast<std::uint32_t>(
        std::partition_point(prio, prio + s->size, [p = box->priority](int q) { return q > p; }) - prio);
    const auto hi = static_cast<std::uint32_t>(
        std::partition_point(prio + lo, prio + s->size, [p = box->priority](int q) { return q >= p; }) -
        prio);
    const auto index = static_cast<std::uint32_t>(std::lower_bound(id + lo, id + hi, box->id.value()) - id);
    if (index == hi || id[index] != box->id.value())
        return nullptr;
    return s->entries() + index;
}

// A runs-mode array's record of the run for `priority` (it must have one).
inline RunRef *runOf(Snapshot *s, int priority) noexcept
{
    RunRef *refs = refsOf(s);
    return std::partition_point(refs, refs + s->runCount,
                                [priority](const RunRef &r) { return r.priority > priority; });
}

inline bool tombstoneIn(Snapshot *s, const HandlerBox *box) noexcept
{
    Entry *e = entryIn(s, box);
    if (e == nullptr)
        return false;
    e->invoke.store(&skipRemoved, publishOrder);
    return true;
}

// Runs mode's array entry (runs.cpp): walks its run as notify walks an array.
void callRun(HandlerBox *b, const void *event);

} // namespace rio::detail
