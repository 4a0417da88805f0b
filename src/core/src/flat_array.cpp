// SPDX-License-Identifier: MIT
// The flat array and the writer's operations on it: a registry's handlers in one priority-sorted
// array, appended in place or copied, removed by tombstone, compacted; ids; suspension; the
// notify loop for sections entered out of line. Large registries with several priorities switch
// to runs (runs.cpp); what is unpublished is reclaimed by reclamation.cpp. See
// docs/ARCHITECTURE.md, "Writers".

#include "diagnostics_p.h"
#include "domain.h"
#include "registry_list.h"
#include "snapshot.h"

#include <registryio/detail/registry_core.h>
#include <registryio/detail/registry_link.h>
#include <registryio/handler_guard.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace rio::detail {

namespace {

bool removeThroughLink(void *core, HandlerId id) noexcept
{
    return static_cast<RegistryCore *>(core)->remove(id);
}

bool removeHintedThroughLink(void *core, HandlerId id, std::uint32_t hint) noexcept
{
    return static_cast<RegistryCore *>(core)->remove(id, hint);
}

bool containsThroughLink(void *core, HandlerId id) noexcept
{
    return static_cast<const RegistryCore *>(core)->contains(id);
}

// A fresh box's statistics while diagnostics are on, or for a layerTimed handler, whose queued
// deliveries are always counted (under the lock): timed arrays record its runs there (published
// with the entry). Out of line, with its arguments in registers: diag::newTimes takes the
// location by value on the stack, which inside the add made g++ keep a frame pointer and spill
// values in every add. Throws std::bad_alloc with nothing changed (the id taken back).
RIO_COLD [[gnu::noinline]] void newStatsLocked(RegistryState &ws, HandlerBox *box)
{
    try {
        if (box->layerTimed && ws.leftStats == nullptr) {
            ws.leftStats = diag::newStats();
            ws.leftStats->registryTiming.store(ws.diagnosticsOn, std::memory_order_relaxed);
        }
        std::unique_ptr<diag::HandlerStats, diag::FreeStats> s(diag::newStats());
        if (ws.diagnosticsOn) // timed from its add
            s->times = diag::newTimes(ws.serial, box->id, box->where, ws.eventType);
        s->timing.store(ws.diagnosticsOn ? s->times : nullptr, std::memory_order_relaxed);
        if (box->layerTimed) {
            ws.leftStats->refs.fetch_add(1, std::memory_order_relaxed);
            s->leftTo = ws.leftStats;
        }
        box->stats = s.release();
        box->times = box->layerTimed ? nullptr : box->stats->times;
    } catch (...) {
        --ws.lastId;
        throw;
    }
}

} // namespace

void skipRemoved(HandlerBox *, const void *) noexcept { }

void skipSuspended(HandlerBox *, const void *) noexcept { }

// Registry<E>::notify's loop for sections entered out of line; callRun walks a run the same way.
// In the fallback mode writers have no heavy fence, so the reader fences between its running
// announcement and its invoke load: a remover then either sees the announcement or makes the
// reader load skipRemoved, exactly as the heavy fence guarantees in the other modes, and waits
// can trust the running cells.
void RegistryCore::notifyOutOfLine(const void *event) const
{
    const auto [slot, s] = hazard::enterOutOfLine(head);
    const Entry *end = s->end.load(std::memory_order_acquire);
    const bool fence = hazard::readersFence();
    if (end == s->entries()) [[unlikely]] {
        if (const Entry *timedEnd = s->timedEnd.load(std::memory_order_acquire)) {
            diag::notifyTimed(slot, s, timedEnd, event, fence); // timed (see Snapshot)
            return;
        }
    }
    std::atomic<const void *> *running = slot + hazard::slotCount;
    for (const Entry *it = s->entries(); it != end; ++it) {
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

void RegistryCore::reportFailure(const HandlerBox *box, const char *what) noexcept
{
    try {
        hazard::Protected<CallbackBox> callback(box->core->st().callback); // a box: the state exists
        CallbackBox *c = callback.get();
        if (c == nullptr)
            return;
        const ExceptionInfo info{box->id, what ? std::string(what) : std::string(), std::current_exception()};
        c->call(c, info);
    } catch (...) {
    }
}

// Every empty registry's array: never written after its constant initialisation. Its version
// is 0, older than every box, so a pass never counts a box as running in a section holding it.
constinit EmptyArray emptyArray{
    {{nullptr, nullptr, 0, 0, Retired::Kind::Snapshot}, {untimedArray}, {&emptyArray.none[0]}, {nullptr}},
    {}};

constinit Snapshot *const emptyHead = &emptyArray.array;

RegistryState &RegistryCore::writerState()
{
    if (RegistryState *s = m_state.load(std::memory_order_acquire))
        return *s;
    return RegistryList::create(m_state, this);
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
    const bool empty = cur == emptySnapshot();
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
        next->version = st().version + 1;
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
    next->version = st().version + 1;
    return next;
}

// Makes `next` the head. Every tombstone of the old head is gone from `next`: their boxes die
// at its version. The old head is retired.
void RegistryCore::publishLocked(Snapshot *next) noexcept
{
    Snapshot *old = head.load(std::memory_order_relaxed);
    st().version = next == emptySnapshot() ? st().version + 1 : next->version;
    if (st().diagnosticsOn && next != emptySnapshot()) [[unlikely]]
        setTimed(next, true);
    head.store(next, publishOrder);
    // Boxes are retired at the front of the list and every publication dates them all, so the
    // undated ones are a prefix: stop at the first dated box.
    for (Retired *r = st().retired.boxes; r; r = r->next) {
        auto *b = static_cast<HandlerBox *>(r);
        if (b->death != ~0ull)
            break;
        b->death = st().version;
    }
    if (old != emptySnapshot())
        st().retired.retire(old);
}

// Room for a copy holding `live` handlers: twice that, at least the hint, and at least the
// capacity the registry last emptied, unless `live` is far below it (a registry that fills and
// empties again in rounds allocates one array per round, not one per doubling).
std::size_t RegistryCore::copyCapacityLocked(std::size_t live, std::size_t room) const noexcept
{
    const std::size_t last = std::max(st().lastCapacity, room);
    const std::size_t sticky = live * 8 >= last ? last : 0;
    return std::max({m_capacityHint, 2 * live, std::size_t{4}, sticky});
}

void RegistryCore::publishEmptyLocked() noexcept
{
    if (Snapshot *cur = head.load(std::memory_order_relaxed); cur != emptySnapshot() && cur->runCount == 0)
        st().lastCapacity = cur->capacity;
    publishLocked(emptySnapshot());
}

// Inlined into add() and addPlain(), its only callers: one call frame per add, not two.
RIO_ALWAYS_INLINE inline HandlerId RegistryCore::addLocked(std::unique_lock<WriterLock> &lock,
                                                           HandlerBox *box, Invoke invoke, int priority,
                                                           GuardLink *link)
{
    RegistryState &ws = st();
    // Everything that can throw comes first: on a throw nothing has changed.
    if (ws.byIdNulls > 32 && ws.byIdNulls * 2 > ws.byId.size()) {
        // One sweep of the id map: drops the entries nobody can look up any more (no box, or a
        // chain that is no longer in flight), and tells each box whose entry moved its new index
        // (a pass finds an entry by its box).
        std::size_t kept = 0;
        for (const auto &entry : ws.byId) {
            const std::uintptr_t e = entry.second;
            if (e == 0)
                continue;
            if ((e & 1u) != 0) {
                if (!chainInFlightLocked(e >> 1))
                    continue;
            } else {
                reinterpret_cast<HandlerBox *>(e)->byIdIndex = // NOLINT(performance-no-int-to-ptr)
                    static_cast<std::uint32_t>(kept);
            }
            ws.byId[kept++] = entry;
        }
        ws.byId.resize(kept);
        ws.byIdNulls = 0;
    }
    if (ws.byId.size() == ws.byId.capacity())
        ws.byId.reserve(std::max<std::size_t>(16, 2 * ws.byId.size())); // amortised O(1)
    Snapshot *cur = head.load(std::memory_order_relaxed);
    const int *curPriority = cur == emptySnapshot() || cur->runCount != 0 ? nullptr : priorities(cur);
    // After every entry of equal or higher priority (registration order within a priority).
    // The common case first: an append (no entry, or the last one's priority is not below it).
    const auto pos = static_cast<std::uint32_t>(
        curPriority == nullptr ? 0
        : cur->size == 0 || curPriority[cur->size - 1] >= priority
            ? cur->size
            : std::partition_point(curPriority, curPriority + cur->size, [priority](int p) {
                  return p >= priority;
              }) - curPriority);
    box->priority = priority;
    box->invoke = invoke;
    box->core = this; // a box is constructed of kind Handler
    box->thread = diag::currentThreadNumber();
    const HandlerId id{++ws.lastId};
    box->id = id;
    if (ws.diagnosticsOn || box->layerTimed) [[unlikely]] // a fresh box: no statistics yet
        newStatsLocked(ws, box);
    const std::size_t liveAfter = ws.live.load(std::memory_order_relaxed) + 1;
    if (cur->runCount != 0 || (pos < cur->size && liveAfter >= runsFrom)) {
        // Runs mode: an add costs its run (amortised O(1)) and an array of one entry per run.
        try {
            if (cur->runCount != 0)
                addToRunsLocked(box, invoke, priority);
            else
                toRunsLocked(box, invoke, pos);
        } catch (...) {
            --ws.lastId;
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
        (ws.diagnosticsOn ? cur->timedEnd : cur->end).store(slot + 1, publishOrder); // see Snapshot
    } else {
        const std::size_t live = ws.live.load(std::memory_order_relaxed) + 1;
        // Filling again from empty: straight to the room the registry had when it last emptied
        // (bounded), so that rounds of filling and emptying copy no array per doubling.
        const std::size_t capacity =
            cur == emptySnapshot()
                ? std::max(copyCapacityLocked(live), std::min<std::size_t>(ws.lastCapacity, 1024))
                // An add into a full head of tombstones (a registry that emptied by removals
                // and fills again) keeps the head's room: one copy, not one per doubling.
                : copyCapacityLocked(live, cur->runCount == 0 ? cur->capacity : 0);
        Snapshot *next = nullptr;
        try {
            next = copyLocked(capacity, box, pos, invoke);
        } catch (...) {
            --ws.lastId;
            throw;
        }
        box->birth = next->version;
        publishLocked(next);
    }
    box->byIdIndex = static_cast<std::uint32_t>(ws.byId.size());
    ws.byId.emplace_back(id.value(), reinterpret_cast<std::uintptr_t>(box)); // capacity reserved above
    if (link != nullptr) {
        // The guard's hold on the state, taken under the lock and only once nothing can throw.
        link->state = &ws;
        link->hint = box->byIdIndex;
        ++ws.guardHolds;
    }
    // Only writers change it, under the lock: a plain store, not a locked read-modify-write.
    ws.live.store(ws.live.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    // Copy-on-write retires arrays, and once-handlers that fired wait here too: without a pass
    // on add, a loop of addOnce() and notify() would never reclaim anything.
    if (ws.retired.passDue())
        pass(lock, /*fence=*/true, nullptr, 0);
    return id;
}

// The first add's event type, for diagnostics (copied: the name may live in a plugin). Before
// the box is built, while the caller's arguments are still in registers. Throws std::bad_alloc
// (nothing changed).
inline void RegistryCore::keepEventTypeLocked(const std::string_view &eventType)
{
    if (st().eventType == nullptr && !eventType.empty()) [[unlikely]]
        st().eventType = std::make_shared<const std::string>(eventType);
}

HandlerId RegistryCore::add(HandlerBox *box, Invoke invoke, int priority, GuardLink *link,
                            const std::string_view &eventType)
{
    std::unique_lock lock(writerState().writerLock);
    keepEventTypeLocked(eventType);
    return addLocked(lock, box, invoke, priority, link);
}

HandlerId RegistryCore::addPlain(const PlainType &type, const void *fn, int priority, GuardLink *link,
                                 const SourceLocation &where)
{
    std::unique_lock lock(writerState().writerLock);
    keepEventTypeLocked(*type.eventType);
    void *block = takeSpareLocked(type.bytes);
    if (block == nullptr)
        block = ::operator new(type.bytes); // may throw: nothing changed
    HandlerBox *box = type.make(block, fn, where);
    try {
        return addLocked(lock, box, type.invoke, priority, link);
    } catch (...) {
        if (box->stats != nullptr) {
            diag::freeStats(box->stats);
            box->stats = nullptr;
            box->times = nullptr;
        }
        keepSpareLocked(box); // addLocked throws before it can release the lock
        throw;
    }
}

void *RegistryCore::takeSpareLocked(std::size_t bytes) noexcept
{
    RegistryState &ws = st();
    for (Retired **link = &ws.spareBoxes; Retired *r = *link; link = &r->next) {
        if (r->bytes == bytes) {
            *link = r->next;
            --ws.spareCount;
            return r;
        }
    }
    return nullptr;
}

void RegistryCore::keepSpareLocked(Retired *block) noexcept
{
    RegistryState &ws = st();
    if (ws.spareCount >= spareLimit) {
        freePlainBox(block);
        return;
    }
    block->next = ws.spareBoxes;
    ws.spareBoxes = block;
    ++ws.spareCount;
}

bool RegistryCore::setSuspended(HandlerId id, bool suspended) noexcept
{
    if (m_state.load(std::memory_order_acquire) == nullptr)
        return false; // never had a handler
    std::lock_guard lock(st().writerLock);
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
    if (m_state.load(std::memory_order_acquire) == nullptr)
        return false;
    std::lock_guard lock(st().writerLock);
    const HandlerBox *box = findLocked(id);
    return box != nullptr && !box->removed && box->suspended;
}

std::uintptr_t RegistryCore::entryLocked(HandlerId id, std::uint32_t hint) const noexcept
{
    // The hint is an index the entry had; entries only move towards the front (batches drop
    // destroyed handlers' entries), and ids are never reused, so a stale hint fails the test.
    const auto &byId = st().byId;
    if (hint < byId.size() && byId[hint].first == id.value())
        return byId[hint].second;
    const auto *entry = findById(st().byId, id.value());
    return entry != nullptr ? entry->second : 0;
}

HandlerBox *RegistryCore::findLocked(HandlerId id, std::uint32_t hint) const noexcept
{
    // entryLocked's hint test, here without its call: a guard's hint almost always holds.
    const auto &byId = st().byId;
    const std::uintptr_t e =
        hint < byId.size() && byId[hint].first == id.value() ? byId[hint].second : entryLocked(id, hint);
    if (e == 0 || (e & 1u) != 0)
        return nullptr;
    // The entry word is a box pointer when its low bit is clear (a chain number otherwise).
    auto *box = reinterpret_cast<HandlerBox *>(e); // NOLINT(performance-no-int-to-ptr)
    return box->removed ? nullptr : box;
}

void RegistryCore::tombstoneLocked(HandlerBox *box) noexcept
{
    RegistryState &ws = st();
    Snapshot *cur = head.load(std::memory_order_relaxed);
    if (tombstoneIn(cur, box) && cur->runCount != 0)
        ++runOf(cur, box->priority)->run->dead;
    // Notifies that started before a copy-on-write still iterate an older array. Arrays older
    // than the box cannot hold it (the common case under add/remove churn): skip their search.
    // Arrays are retired in the order of their versions and the list is newest first: stop at
    // the first one older than the box.
    for (Retired *r = ws.retired.others; r; r = r->next) {
        if (r->kind != Retired::Kind::Snapshot)
            continue;
        if (static_cast<Snapshot *>(r)->version < box->birth)
            break;
        tombstoneIn(static_cast<Snapshot *>(r), box);
    }
    ++cur->dead;
    box->removed = true;
    ++ws.byIdNulls; // its entry keeps the box until a pass takes it
    ws.live.store(ws.live.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    ws.retired.retire(box);
}

void RegistryCore::compactLocked(bool force) noexcept
{
    Snapshot *cur = head.load(std::memory_order_relaxed);
    if (cur->runCount != 0) {
        compactRunsLocked(force);
        return;
    }
    if (cur->dead == 0)
        return;
    const std::size_t live = st().live.load(std::memory_order_relaxed);
    // The last handler gone, compacting copies nothing (the empty array is published, nothing is
    // allocated): compactAfterDead tombstones are enough. A copy waits for one more, and for half
    // the array.
    if (live == 0 && (force || cur->dead >= compactAfterDead)) {
        publishEmptyLocked();
        return;
    }
    if (!force && (cur->dead <= compactAfterDead || cur->dead * 2 <= cur->size))
        return;
    try {
        publishLocked(copyLocked(copyCapacityLocked(live), nullptr, 0, nullptr));
    } catch (...) {
        // No memory: the tombstones stay until a later compaction. Removal never needs memory.
    }
}

RIO_ALWAYS_INLINE inline bool RegistryCore::removeLocked(HandlerId id, std::uint32_t hint) noexcept
{
    HandlerBox *box = findLocked(id, hint);
    if (box == nullptr)
        return false;
    tombstoneLocked(box);
    // Most removals leave too few tombstones for a compaction: test that here, without a call.
    if (const Snapshot *cur = head.load(std::memory_order_relaxed);
        cur->runCount != 0 || cur->dead >= compactAfterDead)
        compactLocked();
    return true;
}

bool RegistryCore::remove(HandlerId id, std::uint32_t hint) noexcept
{
    if (!id.isValid() || m_state.load(std::memory_order_acquire) == nullptr)
        return false;
    RegistryState &ws = st();
    std::unique_lock lock(ws.writerLock);
    if (!removeLocked(id, hint))
        return false;
    if (ws.retired.passDue())
        pass(lock, /*fence=*/true, nullptr, 0);
    return true;
}

bool RegistryCore::removeByGuard(RegistryState &state, HandlerId id, std::uint32_t hint) noexcept
{
    std::unique_lock lock(state.writerLock);
    RegistryCore *core = state.core; // null once the registry's destruction began
    const bool removed = core != nullptr && core->removeLocked(id, hint);
    if (removed && state.retired.passDue())
        core->passForGuard(lock);
    const bool last = --state.guardHolds == 0 && state.orphan;
    lock.unlock();
    if (last)
        RegistryList::remove(&state);
    return removed;
}

} // namespace rio::detail

// Here, beside removeByGuard, which the compiler then calls directly (or inlines), not through
// the library's symbol table: a guard's drop is one call.
void rio::HandlerGuard::drop(detail::RegistryState &state, HandlerId id, std::uint32_t hint) noexcept
{
    detail::RegistryCore::removeByGuard(state, id, hint);
}

namespace rio::detail {

void RegistryCore::releaseGuard(RegistryState &state) noexcept
{
    std::unique_lock lock(state.writerLock);
    const bool last = --state.guardHolds == 0 && state.orphan;
    lock.unlock();
    if (last)
        RegistryList::remove(&state);
}

void RegistryCore::retireFired(HandlerBox *box) noexcept
{
    // Inside notify: unpublish only; the next writer of this registry reclaims.
    std::lock_guard lock(st().writerLock);
    if (!box->removed)
        tombstoneLocked(box);
}

void RegistryCore::clear() noexcept
{
    if (m_state.load(std::memory_order_acquire) == nullptr)
        return;
    std::unique_lock lock(st().writerLock);
    Snapshot *cur = head.load(std::memory_order_relaxed);
    if (cur == emptySnapshot())
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
        st().retired.retire(e.box);
    });
    for (Retired *r = st().retired.others; r; r = r->next) {
        if (r->kind != Retired::Kind::Snapshot)
            continue;
        forEachEntryBackwards(static_cast<Snapshot *>(r),
                              [](Entry &e) { e.invoke.store(&skipRemoved, publishOrder); });
    }
    st().byIdNulls = st().byId.size(); // the entries keep the retired boxes for waiters
    st().live.store(0, std::memory_order_relaxed);
    publishEmptyLocked();
    if (st().retired.passDue())
        pass(lock, true, nullptr, 0);
}

bool RegistryCore::contains(HandlerId id) const noexcept
{
    if (!id.isValid() || m_state.load(std::memory_order_acquire) == nullptr)
        return false;
    std::lock_guard lock(st().writerLock);
    return findLocked(id) != nullptr;
}

void RegistryCore::replaceCallback(CallbackBox *box)
{
    if (box == nullptr && m_state.load(std::memory_order_acquire) == nullptr)
        return; // no callback was ever set
    std::unique_lock lock(writerState().writerLock);
    if (box != nullptr)
        box->kind = Retired::Kind::Callback;
    CallbackBox *old =
        st().callback.exchange(box, RIO_SEQ_CST_OPS ? std::memory_order_seq_cst : std::memory_order_acq_rel);
    if (old != nullptr) {
        st().retired.retire(old);
        if (st().retired.passDue())
            pass(lock, true, nullptr, 0);
    }
}

std::shared_ptr<RegistryLink> RegistryCore::link()
{
    std::lock_guard lock(writerState().writerLock);
    return linkLocked();
}

const std::shared_ptr<RegistryLink> &RegistryCore::linkLocked()
{
    if (!st().link) {
        auto l = std::make_shared<RegistryLink>(this);
        l->removeFn = &removeThroughLink;
        l->removeHintedFn = &removeHintedThroughLink;
        l->containsFn = &containsThroughLink;
        st().link = std::move(l);
    }
    return st().link;
}

} // namespace rio::detail
