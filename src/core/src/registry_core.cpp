// SPDX-License-Identifier: MIT
// The writer side of a registry: handler arrays, removal by tombstone, and the registry's own
// reclaim passes. See docs/ARCHITECTURE.md ("Core v2") for the protocol and its proof.

#include "domain.h"
#include "registry_list.h"

#include <registryio/detail/registry_core.h>
#include <registryio/detail/registry_link.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <vector>

namespace rio::detail {

// A chain of retired objects one thread destroys outside the registry's lock.
struct DestroyFrame
{
    const RegistryCore *core = nullptr;
    DestroyFrame *next = nullptr;       // this thread's frames, innermost first
    DestroyFrame *nextInCore = nullptr; // the registry's chains in flight (under its lock)
    std::uint64_t number = 0;           // never reused within the registry
    std::uint64_t oldestSeq = ~0ull;    // the smallest retire sequence number in the chain
};

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
static_assert(sizeof(Run) % alignof(Entry) == 0);

namespace {

constexpr std::size_t passObjects = 64;                   // a pass runs once this many objects wait...
constexpr std::size_t passBytes = std::size_t{64} * 1024; // ...or this many bytes
constexpr std::uint32_t compactAfterDead = 8;             // tombstones tolerated before compaction
constexpr std::size_t runsFrom = 64; // an add inside the order of this many handlers turns to runs

constexpr std::memory_order publishOrder =
    RIO_SEQ_CST_OPS ? std::memory_order_seq_cst : std::memory_order_release;
constexpr std::memory_order scanOrder =
    RIO_SEQ_CST_OPS ? std::memory_order_seq_cst : std::memory_order_acquire;

constinit std::atomic<std::size_t> pendingAll{0};

// This thread's chains being destroyed, innermost first: a registry does not wait for its own
// thread (a closure destructor may call removeAndWait or synchronize of its registry).
thread_local constinit DestroyFrame *destroyFrames = nullptr;

bool ownsFrame(const DestroyFrame *frame) noexcept;

// m_byId's value for a handler a chain took: odd, never a box's address.
std::uintptr_t chainTag(std::uint64_t number) noexcept
{
    return static_cast<std::uintptr_t>(number << 1) | 1u;
}

RunRef *refsOf(Snapshot *s) noexcept
{
    return reinterpret_cast<RunRef *>(s->entries() + s->capacity);
}

Run *createRun(std::size_t capacity, int priority)
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
void freeRun(Run *r) noexcept
{
    r->~Run();
    ::operator delete(r);
}

void releaseRun(Run *r) noexcept
{
    if (r->refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
        freeRun(r);
}

void freeSnapshot(Retired *r) noexcept
{
    auto *s = static_cast<Snapshot *>(r);
    for (std::uint32_t i = 0; i < s->runCount; ++i)
        releaseRun(refsOf(s)[i].run);
    s->~Snapshot();
    ::operator delete(s);
}

// Writer-only columns after the entries: each entry's handler id and priority, so that writers
// never read a box (a removed one may be freed while its tombstone remains).
std::uint64_t *ids(Snapshot *s) noexcept
{
    return reinterpret_cast<std::uint64_t *>(s->entries() + s->capacity);
}
int *priorities(Snapshot *s) noexcept
{
    return reinterpret_cast<int *>(ids(s) + s->capacity);
}

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

// Calls f(entry, id, priority) for each entry `s` lists, in order.
template <typename F>
void forEachEntry(Snapshot *s, bool empty, F &&f)
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
void forEachEntryBackwards(Snapshot *s, F &&f)
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

// Tombstones `box`'s entry in `s` if it has one: entries are sorted by priority (descending),
// then id (registration order). A removal must reach every array a notify may still iterate,
// not only the head: the box may be freed once nobody runs it.
Entry *entryIn(Snapshot *s, const HandlerBox *box) noexcept
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
RunRef *runOf(Snapshot *s, int priority) noexcept
{
    RunRef *refs = refsOf(s);
    return std::partition_point(refs, refs + s->runCount,
                                [priority](const RunRef &r) { return r.priority > priority; });
}

bool tombstoneIn(Snapshot *s, const HandlerBox *box) noexcept
{
    Entry *e = entryIn(s, box);
    if (e == nullptr)
        return false;
    e->invoke.store(&skipRemoved, publishOrder);
    return true;
}

bool removeThroughLink(void *core, HandlerId id) noexcept
{
    return static_cast<RegistryCore *>(core)->remove(id);
}

bool containsThroughLink(void *core, HandlerId id) noexcept
{
    return static_cast<const RegistryCore *>(core)->contains(id);
}

void backoff(unsigned spins) noexcept
{
    if (spins < 64)
        std::this_thread::yield();
    else
        std::this_thread::sleep_for(std::chrono::microseconds(spins < 1024 ? 50 : 1000));
}

bool ownsFrame(const DestroyFrame *frame) noexcept
{
    for (const DestroyFrame *f = destroyFrames; f; f = f->next)
        if (f == frame)
            return true;
    return false;
}

} // namespace

void skipRemoved(HandlerBox *, const void *) noexcept { }

// Registry<E>::notify's loop for sections entered out of line; callRun walks a run the same way.
// In the fallback mode writers have no heavy fence, so the reader fences between its running
// announcement and its invoke load: a remover then either sees the announcement or makes the
// reader load skipRemoved, exactly as the heavy fence guarantees in the other modes, and waits
// can trust the running cells.
void RegistryCore::notifyOutOfLine(const void *event) const
{
    const auto [slot, s] = hazard::enterOutOfLine(head);
    std::atomic<const void *> *running = slot + hazard::slotCount;
    const bool fence = hazard::readersFence();
    for (const Entry *it = s->entries(), *end = s->end.load(std::memory_order_acquire); it != end; ++it) {
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
            hazard::leave(slot);
            throw; // thread cancellation must unwind, not be swallowed
        }
#endif
        catch (const std::exception &e) {
            reportFailure(box, e.what());
        } catch (...) {
            reportFailure(box, nullptr);
        }
    }
    hazard::leave(slot);
}
void skipSuspended(HandlerBox *, const void *) noexcept { }

std::size_t pendingCountAll() noexcept
{
    return pendingAll.load(std::memory_order_relaxed);
}

RegistryCore::RegistryCore(std::size_t capacityHint)
    : head(&m_empty), m_capacityHint(std::min<std::size_t>(capacityHint, std::size_t{1} << 20))
{
    hazard::initialize();
    m_empty.kind = Retired::Kind::Snapshot;
    m_empty.end.store(m_empty.entries(), std::memory_order_relaxed);
    RegistryList::add(this);
}

RegistryCore::~RegistryCore()
{
    if (m_link)
        m_link->detach();
    // Closure destructors may still call this registry (remove, clear, add): take everything
    // under the lock, destroy outside it, until nothing is left.
    for (;;) {
        Retired *chain = nullptr;
        std::unique_lock lock(m_mutex);
        Snapshot *s = head.load(std::memory_order_relaxed);
        forEachEntry(s, s == &m_empty, [&](Entry &e, std::uint64_t, int) {
            if (e.invoke.load(std::memory_order_relaxed) != &skipRemoved) {
                e.box->next = chain;
                chain = e.box;
            }
        });
        if (s != &m_empty) {
            head.store(&m_empty, publishOrder);
            s->next = chain;
            chain = s;
        }
        if (CallbackBox *c = callback.exchange(nullptr, std::memory_order_acq_rel)) {
            c->next = chain;
            chain = c;
        }
        for (Retired **list : {&m_boxes, &m_others}) {
            while (Retired *r = *list) {
                *list = r->next;
                r->next = chain;
                chain = r;
            }
        }
        pendingAll.fetch_sub(m_pending, std::memory_order_relaxed);
        m_pending = m_pendingBytes = 0;
        m_pendingPublic.store(0, std::memory_order_relaxed);
        m_byId.clear();
        m_byIdNulls = 0;
        m_live.store(0, std::memory_order_relaxed);
        if (chain == nullptr) {
            // Other threads' chains end under the lock: once none is left, none touches us.
            waitForChains(lock, 0, ~0ull);
            break;
        }
        DestroyFrame frame;
        frame.number = ++m_chainNumber;
        frame.oldestSeq = 0;
        startChainLocked(frame);
        lock.unlock();
        destroyChain(chain, frame);
    }
    RegistryList::remove(this);
}

Snapshot *RegistryCore::createSnapshot(std::size_t capacity)
{
    if (capacity > std::numeric_limits<std::uint32_t>::max() / 2)
        throw std::length_error("rio::Registry: too many handlers");
    const std::size_t bytes =
        sizeof(Snapshot) + capacity * (sizeof(Entry) + sizeof(std::uint64_t) + sizeof(int));
    auto *s = new (::operator new(bytes)) Snapshot;
    s->kind = Retired::Kind::Snapshot;
    s->destroy = &freeSnapshot;
    s->bytes =
        static_cast<std::uint32_t>(std::min<std::size_t>(bytes, std::numeric_limits<std::uint32_t>::max()));
    s->capacity = static_cast<std::uint32_t>(capacity);
    return s;
}

// A copy of the head without its tombstones, with `insert` at `insertAt` (an index into the
// head) calling `invoke` if given. Throws std::bad_alloc with nothing changed.
Snapshot *RegistryCore::copyLocked(std::size_t capacity, const HandlerBox *insert, std::uint32_t insertAt,
                                   Invoke invoke)
{
    Snapshot *cur = head.load(std::memory_order_relaxed);
    Snapshot *next = createSnapshot(capacity);
    Entry *out = next->entries();
    std::uint64_t *outId = ids(next);
    int *outPriority = priorities(next);
    std::uint32_t n = 0;
    auto place = [&](Invoke f, HandlerBox *b, std::uint64_t id, int priority) {
        new (&out[n]) Entry{{f}, b};
        outId[n] = id;
        outPriority[n] = priority;
        ++n;
    };
    const bool empty = cur == &m_empty;
    if (cur->dead == 0 && !empty) {
        // Nothing to drop: copy the columns in two runs around the insertion point. Entries are
        // plain pointers; only the writer (us, under the lock) ever changes them.
        const std::uint32_t at = insert != nullptr ? insertAt : cur->size;
        auto runs = [&](auto *to, const auto *from) {
            using T = std::remove_pointer_t<decltype(to)>;
            std::memcpy(static_cast<void *>(to), static_cast<const void *>(from), at * sizeof(T));
            std::memcpy(static_cast<void *>(to + at + (insert != nullptr ? 1 : 0)),
                        static_cast<const void *>(from + at), (cur->size - at) * sizeof(T));
        };
        runs(out, cur->entries());
        runs(outId, ids(cur));
        runs(outPriority, priorities(cur));
        n = cur->size;
        if (insert != nullptr) {
            new (&out[at]) Entry{{invoke}, const_cast<HandlerBox *>(insert)};
            outId[at] = insert->id.value();
            outPriority[at] = insert->priority;
            ++n;
        }
        next->size = n;
        next->end.store(out + n, std::memory_order_relaxed);
        next->version = m_version + 1;
        return next;
    }
    for (std::uint32_t i = 0; i <= cur->size; ++i) {
        if (insert != nullptr && i == insertAt)
            place(invoke, const_cast<HandlerBox *>(insert), insert->id.value(), insert->priority);
        if (i == cur->size)
            break;
        const Entry &e = cur->entries()[i];
        const Invoke f = e.invoke.load(std::memory_order_relaxed);
        if (f != &skipRemoved)
            place(f, e.box, empty ? 0 : ids(cur)[i], empty ? 0 : priorities(cur)[i]);
    }
    next->size = n;
    next->end.store(out + n, std::memory_order_relaxed);
    next->version = m_version + 1;
    return next;
}

// Makes `next` the head. Every tombstone of the old head is gone from `next`: their boxes die
// at its version. The old head is retired.
void RegistryCore::publishLocked(Snapshot *next) noexcept
{
    Snapshot *old = head.load(std::memory_order_relaxed);
    m_version = next->version;
    head.store(next, publishOrder);
    for (Retired *r = m_boxes; r; r = r->next) {
        auto *b = static_cast<HandlerBox *>(r);
        if (b->death == ~0ull)
            b->death = next->version;
    }
    if (old != &m_empty)
        retireLocked(old);
}

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
    s->version = m_version + 1;
    return s;
}

void RegistryCore::publishEmptyLocked() noexcept
{
    m_empty.version = m_version + 1;
    publishLocked(&m_empty);
}

void RegistryCore::publishTopLocked(Snapshot *top) noexcept
{
    for (std::uint32_t i = 0; i < top->runCount; ++i)
        refsOf(top)[i].run->refs.fetch_add(1, std::memory_order_relaxed);
    publishLocked(top);
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

HandlerId RegistryCore::add(HandlerBox *box, Invoke invoke, int priority)
{
    std::unique_lock lock(m_mutex);
    // Everything that can throw comes first: on a throw nothing has changed.
    if (m_byIdNulls > 32 && m_byIdNulls * 2 > m_byId.size()) {
        std::erase_if(m_byId, [this](const auto &entry) {
            return entry.second == 0 || ((entry.second & 1u) != 0 && !chainInFlightLocked(entry.second >> 1));
        });
        m_byIdNulls = 0;
    }
    if (m_byId.size() == m_byId.capacity())
        m_byId.reserve(std::max<std::size_t>(16, 2 * m_byId.size())); // amortised O(1)
    Snapshot *cur = head.load(std::memory_order_relaxed);
    const int *curPriority = cur == &m_empty || cur->runCount != 0 ? nullptr : priorities(cur);
    // After every entry of equal or higher priority (registration order within a priority).
    const auto pos = static_cast<std::uint32_t>(
        curPriority == nullptr
            ? 0
            : std::partition_point(curPriority, curPriority + cur->size, [priority](int p) {
                  return p >= priority;
              }) - curPriority);
    box->priority = priority;
    box->invoke = invoke;
    box->core = this;
    box->kind = Retired::Kind::Handler;
    const HandlerId id{++m_lastId};
    box->id = id;
    const std::size_t liveAfter = m_live.load(std::memory_order_relaxed) + 1;
    if (cur->runCount != 0 || (pos < cur->size && liveAfter >= runsFrom)) {
        // Runs mode: an add costs its run (amortised O(1)) and an array of one entry per run.
        try {
            if (cur->runCount != 0)
                addToRunsLocked(box, invoke, priority);
            else
                toRunsLocked(box, invoke, pos);
        } catch (...) {
            --m_lastId;
            throw;
        }
    } else if (pos == cur->size && cur->size < cur->capacity) {
        // Append into the head's spare room: readers that already loaded `end` never see it.
        Entry *slot = cur->entries() + cur->size;
        new (slot) Entry{{invoke}, box};
        ids(cur)[cur->size] = id.value();
        priorities(cur)[cur->size] = priority;
        box->birth = cur->version;
        ++cur->size;
        cur->end.store(slot + 1, publishOrder);
    } else {
        const std::size_t live = m_live.load(std::memory_order_relaxed) + 1;
        const std::size_t capacity = std::max({m_capacityHint, 2 * live, std::size_t{4}});
        Snapshot *next = nullptr;
        try {
            next = copyLocked(capacity, box, pos, invoke);
        } catch (...) {
            --m_lastId;
            throw;
        }
        box->birth = next->version;
        publishLocked(next);
    }
    m_byId.emplace_back(id.value(), reinterpret_cast<std::uintptr_t>(box)); // capacity reserved above
    m_live.fetch_add(1, std::memory_order_relaxed);
    // Copy-on-write retires arrays, and once-handlers that fired wait here too: without a pass
    // on add, a loop of addOnce() and notify() would never reclaim anything.
    if (passDueLocked())
        pass(lock, /*fence=*/true, nullptr, 0);
    return id;
}

bool RegistryCore::setSuspended(HandlerId id, bool suspended) noexcept
{
    std::lock_guard lock(m_mutex);
    HandlerBox *box = findLocked(id);
    if (box == nullptr || box->removed)
        return false;
    box->suspended = suspended;
    // Only the head: a copy-on-write copies entries with their current invoke, and a notify
    // already under way on an older array may still call the handler (as it may after remove).
    Entry *e = entryIn(head.load(std::memory_order_relaxed), box);
    if (e != nullptr && e->invoke.load(std::memory_order_relaxed) != &skipRemoved)
        e->invoke.store(suspended ? &skipSuspended : box->invoke, publishOrder);
    return true;
}

bool RegistryCore::isSuspended(HandlerId id) const noexcept
{
    std::lock_guard lock(m_mutex);
    const HandlerBox *box = findLocked(id);
    return box != nullptr && !box->removed && box->suspended;
}

HandlerBox *RegistryCore::findLocked(HandlerId id) const noexcept
{
    const std::uintptr_t e = entryLocked(id);
    if (e == 0 || (e & 1u) != 0)
        return nullptr;
    auto *box = reinterpret_cast<HandlerBox *>(e);
    return box->removed ? nullptr : box;
}

void RegistryCore::tombstoneLocked(HandlerBox *box) noexcept
{
    Snapshot *cur = head.load(std::memory_order_relaxed);
    if (tombstoneIn(cur, box) && cur->runCount != 0)
        ++runOf(cur, box->priority)->run->dead;
    // Notifies that started before a copy-on-write still iterate an older array. Arrays older
    // than the box cannot hold it (the common case under add/remove churn): skip their search.
    for (Retired *r = m_others; r; r = r->next) {
        if (r->kind == Retired::Kind::Snapshot && static_cast<Snapshot *>(r)->version >= box->birth)
            tombstoneIn(static_cast<Snapshot *>(r), box);
    }
    ++cur->dead;
    box->removed = true;
    ++m_byIdNulls; // its entry keeps the box until a pass takes it
    m_live.fetch_sub(1, std::memory_order_relaxed);
    retireLocked(box);
}

void RegistryCore::retireLocked(Retired *r) noexcept
{
    r->seq = ++m_retireSeq;
    Retired **list = r->kind == Retired::Kind::Handler ? &m_boxes : &m_others;
    r->next = *list;
    *list = r;
    ++m_pending;
    m_pendingBytes += r->bytes;
    m_pendingPublic.store(m_pending, std::memory_order_relaxed);
    pendingAll.fetch_add(1, std::memory_order_relaxed);
}

bool RegistryCore::passDueLocked() const noexcept
{
    return m_pending >= m_nextPass || m_pendingBytes >= m_nextPassBytes;
}

void RegistryCore::compactLocked(bool force) noexcept
{
    Snapshot *cur = head.load(std::memory_order_relaxed);
    if (cur->runCount != 0) {
        compactRunsLocked(force);
        return;
    }
    if (cur->dead == 0 || (!force && (cur->dead <= compactAfterDead || cur->dead * 2 <= cur->size)))
        return;
    const std::size_t live = m_live.load(std::memory_order_relaxed);
    if (live == 0) {
        publishEmptyLocked();
        return;
    }
    try {
        publishLocked(copyLocked(std::max({m_capacityHint, 2 * live, std::size_t{4}}), nullptr, 0, nullptr));
    } catch (...) {
        // No memory: the tombstones stay until a later compaction. Removal never needs memory.
    }
}

bool RegistryCore::remove(HandlerId id) noexcept
{
    if (!id.isValid())
        return false;
    std::unique_lock lock(m_mutex);
    HandlerBox *box = findLocked(id);
    if (box == nullptr)
        return false;
    tombstoneLocked(box);
    compactLocked();
    if (passDueLocked())
        pass(lock, /*fence=*/true, nullptr, 0);
    return true;
}

void RegistryCore::retireFired(HandlerBox *box) noexcept
{
    // Inside notify: unpublish only; the next writer of this registry reclaims.
    std::lock_guard lock(m_mutex);
    if (!box->removed)
        tombstoneLocked(box);
}

void RegistryCore::clear() noexcept
{
    std::unique_lock lock(m_mutex);
    Snapshot *cur = head.load(std::memory_order_relaxed);
    if (cur == &m_empty)
        return;
    // Last entry first, in every array: a notify walking one from the front meets the clear once,
    // so it calls a prefix of the handlers and skips the rest, never a gap followed by more calls.
    // The head first: its live entries are the boxes to retire, and in runs mode older arrays
    // share its runs. Older arrays that notifies may still iterate hold only boxes removed now or
    // before.
    forEachEntryBackwards(cur, [&](Entry &e) {
        if (e.invoke.load(std::memory_order_relaxed) == &skipRemoved)
            return;
        e.invoke.store(&skipRemoved, publishOrder);
        e.box->removed = true;
        retireLocked(e.box);
    });
    for (Retired *r = m_others; r; r = r->next) {
        if (r->kind != Retired::Kind::Snapshot)
            continue;
        forEachEntryBackwards(static_cast<Snapshot *>(r),
                              [](Entry &e) { e.invoke.store(&skipRemoved, publishOrder); });
    }
    m_byIdNulls = m_byId.size(); // the entries keep the retired boxes for waiters
    m_live.store(0, std::memory_order_relaxed);
    publishEmptyLocked();
    if (passDueLocked())
        pass(lock, true, nullptr, 0);
}

bool RegistryCore::contains(HandlerId id) const noexcept
{
    if (!id.isValid())
        return false;
    std::lock_guard lock(m_mutex);
    return findLocked(id) != nullptr;
}

std::size_t RegistryCore::pendingCount() const noexcept
{
    return m_pendingPublic.load(std::memory_order_relaxed);
}

void RegistryCore::replaceCallback(CallbackBox *box) noexcept
{
    std::unique_lock lock(m_mutex);
    if (box != nullptr)
        box->kind = Retired::Kind::Callback;
    CallbackBox *old =
        callback.exchange(box, RIO_SEQ_CST_OPS ? std::memory_order_seq_cst : std::memory_order_acq_rel);
    if (old != nullptr) {
        retireLocked(old);
        if (passDueLocked())
            pass(lock, true, nullptr, 0);
    }
}

std::shared_ptr<RegistryLink> RegistryCore::link()
{
    std::lock_guard lock(m_mutex);
    if (!m_link) {
        auto l = std::make_shared<RegistryLink>();
        l->registry = this;
        l->removeFn = &removeThroughLink;
        l->containsFn = &containsThroughLink;
        m_link = std::move(l);
    }
    return m_link;
}

// One reclaim pass. With `fence`, first the heavy fence: every reader either published its slot
// and running announcement before it (the scan sees them) or loads the head and each invoke
// after it (and cannot reach what was unpublished before it). Then every slot is read: values
// that are this registry's snapshots or callbacks mark them protected; running announcements
// that are this registry's removed boxes mark them running. Other values are never dereferenced.
// A removed box is freed once nobody runs it: readers that still hold a snapshot with its entry
// read skipRemoved there and never touch the box. In the fallback fence mode, where the pass has
// no heavy fence, readers fence after each announcement instead (notifyOutOfLine, callRun).
RegistryCore::PassResult RegistryCore::pass(std::unique_lock<std::mutex> &lock, bool fence,
                                            const HandlerBox *target, std::uint64_t awaitSeq) noexcept
{
    PassResult result;
    if (fence) {
        hazard::heavyFence();
        m_fencedSeq = m_retireSeq;
    }
    Snapshot *cur = head.load(std::memory_order_relaxed);
    for (Retired *list : {m_others, m_boxes})
        for (Retired *r = list; r; r = r->next)
            r->markOther = r->markSelf = false;
    const std::uint32_t base = hazard::hazardBase();
    const std::uint32_t slots = hazard::hazardSlots();
    hazard::forEachRecord([&](hazard::ReaderRecord *rec) {
        const bool mine = hazard::ownsRecord(rec);
        for (std::uint32_t d = base; d < base + slots; ++d) {
            const void *v = rec->cells[d].load(scanOrder);
            if (v == nullptr)
                continue;
            // The array this section iterates, if it is one of ours.
            const Snapshot *held = nullptr;
            if (v == cur) {
                held = cur;
            } else {
                for (Retired *r = m_others; r; r = r->next) {
                    if (r == v) {
                        (mine ? r->markSelf : r->markOther) = true;
                        if (r->kind == Retired::Kind::Snapshot)
                            held = static_cast<const Snapshot *>(r);
                        break;
                    }
                }
            }
            if (held == nullptr)
                continue;
            // A section announces only boxes of the array it holds: another box is left over
            // from an earlier section at this depth, and would block waits while the thread
            // keeps notifying.
            if (const void *b = rec->cells[d + hazard::slotCount].load(scanOrder)) {
                for (Retired *r = m_boxes; r; r = r->next) {
                    if (r == b) {
                        const auto *box = static_cast<const HandlerBox *>(r);
                        if (held->version >= box->birth && held->version < box->death)
                            (mine ? r->markSelf : r->markOther) = true;
                        break;
                    }
                }
            }
        }
    });

    Retired *chain = nullptr;
    std::size_t freed = 0;
    std::size_t freedBytes = 0;
    DestroyFrame frame;
    frame.number = m_chainNumber + 1;
    auto take = [&](Retired **link, Retired *r) {
        *link = r->next;
        r->next = chain;
        chain = r;
        ++freed;
        freedBytes += r->bytes;
        frame.oldestSeq = std::min(frame.oldestSeq, r->seq);
    };
    for (Retired **link = &m_boxes; Retired *r = *link;) {
        const bool others = r->seq > m_fencedSeq || r->markOther;
        if (!others && !r->markSelf) {
            // Waiters for this handler now wait for this chain only.
            const auto *box = static_cast<const HandlerBox *>(r);
            const auto it =
                std::lower_bound(m_byId.begin(), m_byId.end(), box->id.value(),
                                 [](const auto &entry, std::uint64_t v) { return entry.first < v; });
            if (it != m_byId.end() && it->first == box->id.value())
                it->second = chainTag(frame.number);
            take(link, r);
            continue;
        }
        if (others && ((target != nullptr && r == target) || r->seq <= awaitSeq))
            result.blockedByOthers = true;
        link = &r->next;
    }
    // Snapshots and callbacks: freed once no slot holds them (nobody waits for these).
    for (Retired **link = &m_others; Retired *r = *link;) {
        if (r->seq <= m_fencedSeq && !r->markOther && !r->markSelf) {
            take(link, r);
            continue;
        }
        link = &r->next;
    }

    m_pending -= freed;
    m_pendingBytes -= freedBytes;
    m_pendingPublic.store(m_pending, std::memory_order_relaxed);
    pendingAll.fetch_sub(freed, std::memory_order_relaxed);
    // The next pass when as much again is pending: a reader parked on a snapshot keeps what it
    // pins, and writers then pay O(1) amortised per retirement instead of a pass each.
    // Bytes scale with the live array too: a registry of 10,000 handlers retires a 280 KB array
    // per copy, and one fence per copy would cost more than the copy.
    m_nextPass = m_pending + std::max(passObjects, m_pending);
    m_nextPassBytes = m_pendingBytes + std::max({passBytes, m_pendingBytes, 2 * std::size_t{cur->bytes}});
    if (chain == nullptr) {
        lock.unlock();
        return result;
    }
    m_chainNumber = frame.number;
    startChainLocked(frame);
    lock.unlock();
    destroyChain(chain, frame);
    return result;
}

void RegistryCore::startChainLocked(DestroyFrame &frame) noexcept
{
    frame.core = this;
    frame.nextInCore = m_chains;
    m_chains = &frame;
}

void RegistryCore::destroyChain(Retired *chain, DestroyFrame &frame) noexcept
{
    frame.next = destroyFrames;
    destroyFrames = &frame;
    while (Retired *r = chain) {
        chain = r->next;
        r->destroy(r);
    }
    destroyFrames = frame.next;
    // Under the lock: a ~Registry woken by this takes the lock before it frees the registry, so
    // notify_all never touches freed memory.
    std::lock_guard lock(m_mutex);
    for (DestroyFrame **link = &m_chains; *link; link = &(*link)->nextInCore) {
        if (*link == &frame) {
            *link = frame.nextInCore;
            break;
        }
    }
    m_chainsDone.fetch_add(1, std::memory_order_release);
    m_chainsDone.notify_all();
}

bool RegistryCore::chainInFlightLocked(std::uint64_t number) const noexcept
{
    for (const DestroyFrame *f = m_chains; f; f = f->nextInCore)
        if (f->number == number)
            return true;
    return false;
}

void RegistryCore::waitForChains(std::unique_lock<std::mutex> &lock, std::uint64_t number,
                                 std::uint64_t awaitSeq) noexcept
{
    for (;;) {
        bool waiting = false;
        for (const DestroyFrame *f = m_chains; f != nullptr && !waiting; f = f->nextInCore)
            waiting = (number != 0 ? f->number == number : f->oldestSeq <= awaitSeq) && !ownsFrame(f);
        if (!waiting)
            return;
        const std::uint32_t seen = m_chainsDone.load(std::memory_order_relaxed);
        lock.unlock();
        m_chainsDone.wait(seen, std::memory_order_acquire);
        lock.lock();
    }
}

std::uintptr_t RegistryCore::entryLocked(HandlerId id) const noexcept
{
    // Ids grow with every add, so m_byId is sorted by id.
    const auto it = std::lower_bound(m_byId.begin(), m_byId.end(), id.value(),
                                     [](const auto &entry, std::uint64_t v) { return entry.first < v; });
    return it != m_byId.end() && it->first == id.value() ? it->second : 0;
}

// Waits for the handler `target` (or, without one, everything retired up to `awaitSeq`): passes
// until no other thread runs it, then destroys it here, or waits for the one chain that took it.
// Never for other handlers, other chains or this thread's own frames.
void RegistryCore::wait(std::uint64_t awaitSeq, HandlerId target) noexcept
{
    std::unique_lock lock(m_mutex, std::defer_lock);
    for (unsigned spins = 0;; ++spins) {
        lock.lock();
        const HandlerBox *box = nullptr;
        if (target.isValid()) {
            const std::uintptr_t e = entryLocked(target);
            if (e == 0)
                return; // destroyed
            if ((e & 1u) != 0) {
                waitForChains(lock, e >> 1, 0); // being destroyed: by that chain
                return;
            }
            box = reinterpret_cast<const HandlerBox *>(e);
        }
        if (spins == 1) {
            // Still blocked: drop the tombstones from the head, so that notifies starting from
            // now on no longer announce the awaited boxes (each would, then skip them) and only
            // sections already under way can hold the wait up.
            compactLocked(/*force=*/true);
        }
        const PassResult r = pass(lock, spins <= 1, box, awaitSeq);
        if (!r.blockedByOthers) {
            // The awaited box was found, so this pass destroyed it (or it runs only on this
            // thread): done, without touching the registry again. A ~Registry that waited for
            // this pass's destruction may free the registry the moment it finished.
            if (box != nullptr)
                return;
            lock.lock();
            waitForChains(lock, 0, awaitSeq);
            return;
        }
        backoff(spins);
    }
}

bool RegistryCore::removeAndWait(HandlerId id) noexcept
{
    if (!id.isValid())
        return false;
    bool removed = false;
    {
        std::lock_guard lock(m_mutex);
        if (id.value() > m_lastId)
            return false; // never handed out: nothing can be running
        if (HandlerBox *box = findLocked(id)) {
            tombstoneLocked(box);
            removed = true;
        }
    }
    wait(0, id);
    return removed;
}

void RegistryCore::synchronize() noexcept
{
    std::uint64_t seq = 0;
    {
        std::lock_guard lock(m_mutex);
        seq = m_retireSeq;
    }
    wait(seq, HandlerId{});
}

void RegistryCore::reportFailure(const HandlerBox *box, const char *what) noexcept
{
    try {
        hazard::Protected<CallbackBox> callback(box->core->callback);
        CallbackBox *c = callback.get();
        if (c == nullptr)
            return;
        const ExceptionInfo info{box->id, what ? std::string(what) : std::string(), std::current_exception()};
        c->call(c, info);
    } catch (...) {
    }
}

void RegistryCore::lockForFork() noexcept
{
    m_mutex.lock();
    if (m_link)
        m_link->mutex.lock();
}

void RegistryCore::unlockAfterFork(bool child) noexcept
{
    if (child) {
        // Threads that were destroying our objects or removing through guards do not exist here.
        for (DestroyFrame **link = &m_chains; *link;) {
            if (ownsFrame(*link))
                link = &(*link)->nextInCore;
            else
                *link = (*link)->nextInCore;
        }
        if (m_link)
            m_link->busy = 0;
    }
    if (m_link)
        m_link->mutex.unlock();
    m_mutex.unlock();
}

} // namespace rio::detail

namespace rio::detail {

void freePlainBox(Retired *r) noexcept
{
    ::operator delete(r);
}

} // namespace rio::detail
