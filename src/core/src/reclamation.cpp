// SPDX-License-Identifier: MIT
// Reclamation: a registry's retired list, its reclaim passes (heavy fence, scan of the reader
// records, freeing what no reader can reach), the destruction of what a pass took outside the
// lock, and the waits of removeAndWait, synchronize and ~Registry. See docs/ARCHITECTURE.md,
// "Reclamation".

#include "diagnostics_p.h"
#include "domain.h"
#include "registry_list.h"
#include "snapshot.h"

#include <registryio/detail/registry_core.h>
#include <registryio/detail/registry_link.h>
#include <registryio/detail/thread_frames.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>

namespace rio::detail {

// A chain of retired objects one thread destroys outside the registry's lock: one of the
// thread's frames (a registry does not wait for its own thread's chains: a closure destructor may
// call removeAndWait or synchronize of its registry).
struct DestroyFrame : ThreadFrame
{
    static constexpr FrameKind frameKind = FrameKind::DestroyChain;
    DestroyFrame() noexcept : ThreadFrame(frameKind) { }
    const RegistryCore *core = nullptr; // set as the chain starts; null once the registry died
    DestroyFrame *nextInCore = nullptr; // the registry's chains in flight (under its lock)
    std::uint64_t number = 0;           // never reused within the registry
    std::uint64_t oldestSeq = ~0ull;    // the smallest retire sequence number in the chain
    bool blocked = false;               // its thread waits in synchronize() (under the lock)
};

// A guard's reclaim pass under way on this thread (RegistryCore::passForGuard): a ~Registry run
// from inside one (a closure destructor its pass runs) does not wait for it.
struct GuardPass : ThreadFrame
{
    static constexpr FrameKind frameKind = FrameKind::GuardPass;
    explicit GuardPass(const RegistryState *s) noexcept : ThreadFrame(frameKind), state(s) { }
    const RegistryState *state;
};

namespace {

constexpr std::size_t passObjects = passBatch;            // a pass runs once this many objects wait...
constexpr std::size_t passBytes = std::size_t{64} * 1024; // ...or this many bytes

bool ownsFrame(const DestroyFrame *frame) noexcept
{
    return ThreadFrame::count<DestroyFrame>([frame](const DestroyFrame &f) { return &f == frame; }) != 0;
}

// Marks the calling thread's chains of `core` as blocked in a wait (or no longer); true if it
// has any (it is inside a closure destructor of that registry).
bool markBlocked(const RegistryCore *core, bool blocked) noexcept
{
    return ThreadFrame::count<DestroyFrame>([&](DestroyFrame &f) {
               if (f.core == core)
                   f.blocked = blocked;
               return f.core == core;
           }) != 0;
}

// st().byId's value for a handler a chain took: odd, never a box's address.
std::uintptr_t chainTag(std::uint64_t number) noexcept
{
    return static_cast<std::uintptr_t>(number << 1) | 1u;
}

} // namespace

void backoff(unsigned spins) noexcept
{
    if (spins < 64)
        std::this_thread::yield();
    else
        std::this_thread::sleep_for(std::chrono::microseconds(spins < 1024 ? 50 : 1000));
}

std::size_t pendingCountAll() noexcept
{
    // Summed over the registries, so that retiring and reclaiming touch no process-wide counter.
    return RegistryList::pending();
}

void RegistryCore::destroyState() noexcept
{
    bool watchdogMayStop = false;
    if (st().link)
        st().link->detach();
    {
        // Guards dropped from now on only give up their hold; a guard's pass still running
        // without the lock on another thread is waited for (never one of this thread's own).
        std::unique_lock lock(st().writerLock);
        diag::noteDeparture(*this, st());
        st().core = nullptr;
        if (st().diagnosticsOn) {
            st().diagnosticsOn = false;
            diag::countRegistry(false);
            watchdogMayStop = true;
        }
        const std::size_t own =
            ThreadFrame::count<GuardPass>([this](const GuardPass &p) { return p.state == &st(); });
        for (unsigned spins = 0; st().guardPasses > own; ++spins) {
            lock.unlock();
            backoff(spins);
            lock.lock();
        }
    }
    // Closure destructors may still call this registry (remove, clear, add): take everything
    // under the lock, destroy outside it, until nothing is left.
    for (;;) {
        Retired *chain = nullptr;
        std::unique_lock lock(st().writerLock);
        Snapshot *s = head.load(std::memory_order_relaxed);
        forEachEntry(s, s == emptySnapshot(), [&](Entry &e, std::uint64_t, int) {
            if (e.invoke.load(std::memory_order_relaxed) != &skipRemoved) {
                e.box->next = chain;
                chain = e.box;
            }
        });
        if (s != emptySnapshot()) {
            head.store(emptySnapshot(), publishOrder);
            s->next = chain;
            chain = s;
        }
        if (CallbackBox *c = st().callback.exchange(nullptr, std::memory_order_acq_rel)) {
            c->next = chain;
            chain = c;
        }
        for (Retired **list : {&st().retired.boxes, &st().retired.others}) {
            while (Retired *r = *list) {
                *list = r->next;
                r->next = chain;
                chain = r;
            }
        }
        st().retired.pending = st().retired.pendingBytes = 0;
        st().retired.pendingPublic.store(0, std::memory_order_relaxed);
        st().byId.clear();
        st().byIdNulls = 0;
        st().live.store(0, std::memory_order_relaxed);
        if (chain == nullptr) {
            // Other threads' chains end under the lock: once none is left, none touches us.
            // This thread's own (one of whose closure destructors runs this destructor) end
            // after we are gone: they are told so, and touch nothing of ours.
            waitForChains(lock, 0, ~0ull);
            for (DestroyFrame *f = st().retired.chains; f != nullptr; f = f->nextInCore)
                f->core = nullptr;
            st().retired.chains = nullptr;
            while (Retired *r = st().spareBoxes) {
                st().spareBoxes = r->next;
                freePlainBox(r);
            }
            st().spareCount = 0;
            break;
        }
        DestroyFrame frame;
        frame.number = ++st().retired.chainNumber;
        frame.oldestSeq = 0;
        startChainLocked(frame);
        lock.unlock();
        destroyChain(chain, frame);
    }
    if (st().leftStats != nullptr) // the registry's reference (its handlers' statistics may keep them)
        diag::freeStats(std::exchange(st().leftStats, nullptr));
    // Guards that still hold the state keep it (and its place on the fork list) until the last
    // of them lets go.
    RegistryState *state = m_state.exchange(nullptr, std::memory_order_acq_rel);
    bool last = false;
    {
        std::lock_guard lock(state->writerLock);
        state->orphan = true;
        last = state->guardHolds == 0;
    }
    if (last)
        RegistryList::remove(state);
    if (watchdogMayStop)
        diag::updateWatchdog();
}

void RegistryCore::passForGuard(std::unique_lock<WriterLock> &lock) noexcept
{
    RegistryState &ws = st();
    ++ws.guardPasses;
    {
        const GuardPass frame(&ws);
        pass(lock, /*fence=*/true, nullptr, 0); // returns with the lock released
    }
    lock.lock();
    --ws.guardPasses; // a ~Registry on another thread may wait for this
}

std::size_t RegistryCore::size() const noexcept
{
    const RegistryState *s = m_state.load(std::memory_order_acquire);
    return s != nullptr ? s->live.load(std::memory_order_relaxed) : 0;
}

std::size_t RegistryCore::pendingCount() const noexcept
{
    const RegistryState *s = m_state.load(std::memory_order_acquire);
    return s != nullptr ? s->retired.pendingPublic.load(std::memory_order_relaxed) : 0;
}

namespace {

// Marks the retired objects a reader's slot holds: arrays and callbacks in a slot, and the boxes
// a section of such an array announces running (markSelf for the passing thread's own records,
// markOther for the others'). `cur`, the head, is never retired. Other values are never
// dereferenced. Marks are clear before (an object starts clear, each pass clears what it keeps).
void markProtected(RetiredList &retired, const Snapshot *cur) noexcept
{
    const std::uint32_t base = hazard::hazardBase();
    const std::uint32_t slots = hazard::hazardSlots();
    const auto mark = [](Retired *list, const void *v, bool mine) -> Retired * {
        for (Retired *r = list; r; r = r->next) {
            if (r == v) {
                (mine ? r->markSelf : r->markOther) = true;
                return r;
            }
        }
        return nullptr;
    };
    hazard::forEachRecord([&](hazard::ReaderRecord *rec) {
        const bool mine = hazard::ownsRecord(rec);
        for (std::uint32_t d = base; d < base + slots; ++d) {
            const void *v = rec->cells[d].load(scanOrder);
            if (v == nullptr)
                continue;
            // The array this section iterates, if it is one of ours.
            const Snapshot *held = cur;
            if (v != cur) {
                const Retired *r = mark(retired.others, v, mine);
                held = r != nullptr && r->kind == Retired::Kind::Snapshot ? static_cast<const Snapshot *>(r)
                                                                          : nullptr;
            }
            if (held == nullptr)
                continue;
            // A section announces only boxes of the array it holds: another box is left over
            // from an earlier section at this depth, and would block waits while the thread
            // keeps notifying.
            if (const void *b = rec->cells[d + hazard::slotCount].load(scanOrder)) {
                for (Retired *r = retired.boxes; r; r = r->next) {
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
}

// Takes every retired object no reader holds (after markProtected) off the lists and returns
// them as a chain for `frame` (their handlers' waiters wait for that chain only), but a box with
// no destructor to run, destroyed here and its block kept for the next add while there is room.
// An awaited box (`target`, or retired at or before `awaitSeq`) another thread holds sets
// `blocked`.
Retired *takeUnreachable(RegistryState &ws, DestroyFrame &frame, const HandlerBox *target,
                         std::uint64_t awaitSeq, bool &blocked) noexcept
{
    Retired *chain = nullptr;
    RetiredList &retired = ws.retired;
    std::size_t freed = 0, freedBytes = 0; // kept out of memory while the lists' links are written
    const auto unlink = [&](Retired **link, Retired *r, Retired *&to) {
        *link = r->next;
        r->next = to;
        to = r;
        ++freed;
        freedBytes += r->bytes;
    };
    for (Retired **link = &retired.boxes; Retired *r = *link;) {
        const bool others = r->seq > retired.fencedSeq || r->markOther;
        if (!others && !r->markSelf) {
            auto *box = static_cast<HandlerBox *>(r);
            // The box's entry holds it, at its byIdIndex, until this pass takes it (a search
            // only should that ever not hold).
            auto &byId = ws.byId;
            auto *entry = box->byIdIndex < byId.size() &&
                                  byId[box->byIdIndex].second == reinterpret_cast<std::uintptr_t>(box)
                              ? &byId[box->byIdIndex]
                              : findById(byId, box->id.value());
            const bool spare = r->destroy == &freePlainBox && ws.spareCount < spareLimit;
            if (entry != nullptr)
                entry->second = spare ? 0 : chainTag(frame.number);
            if (spare) { // (keepSpareLocked, with its room test done)
                if (box->stats != nullptr) {
                    diag::freeStats(std::exchange(box->stats, nullptr));
                    box->times = nullptr;
                }
                ++ws.spareCount;
                unlink(link, r, ws.spareBoxes);
                continue;
            }
            frame.oldestSeq = std::min(frame.oldestSeq, r->seq);
            unlink(link, r, chain);
            continue;
        }
        blocked = blocked || (others && ((target != nullptr && r == target) || r->seq <= awaitSeq));
        r->markOther = r->markSelf = false;
        link = &r->next;
    }
    // Snapshots and callbacks: freed once no slot holds them (nobody waits for these).
    for (Retired **link = &retired.others; Retired *r = *link;) {
        if (r->seq <= retired.fencedSeq && !r->markOther && !r->markSelf) {
            frame.oldestSeq = std::min(frame.oldestSeq, r->seq);
            unlink(link, r, chain);
            continue;
        }
        r->markOther = r->markSelf = false;
        link = &r->next;
    }
    retired.pending -= freed;
    retired.pendingBytes -= freedBytes;
    retired.pendingPublic.store(retired.pending, std::memory_order_relaxed);
    return chain;
}

} // namespace

// One reclaim pass. With `fence`, first the heavy fence: every reader either published its slot
// and running announcement before it (the scan sees them) or loads the head and each invoke
// after it (and cannot reach what was unpublished before it). Then every slot is read
// (markProtected), and what no reader holds is freed (takeUnreachable): readers that still hold
// a snapshot with a removed box's entry read skipRemoved there and never touch the box. In the
// fallback fence mode, where the pass has no heavy fence, readers fence after each announcement
// instead (notifyOutOfLine, callRun).
RegistryCore::PassResult RegistryCore::pass(std::unique_lock<WriterLock> &lock, bool fence,
                                            const HandlerBox *target, std::uint64_t awaitSeq) noexcept
{
    RetiredList &retired = st().retired;
    if (fence && target == nullptr) {
        // Without a target box: the heavy fence (a system call) runs without the lock,
        // so other writers of this registry go on meanwhile. It still follows the unpublication
        // of everything retired up to `seq`; what is retired during it waits for a later pass.
        // The next pass is pushed back first, so that those writers do not start one each.
        const std::uint64_t seq = retired.retireSeq;
        retired.nextPass = retired.pending + passObjects;
        lock.unlock();
        hazard::heavyFence();
        lock.lock();
        retired.fencedSeq = std::max(retired.fencedSeq, seq);
    } else if (fence) {
        // A removeAndWait's pass keeps the lock: its target must stay the box it looked up.
        hazard::heavyFence();
        retired.fencedSeq = retired.retireSeq;
    }
    Snapshot *cur = head.load(std::memory_order_relaxed);
    markProtected(retired, cur);
    DestroyFrame frame;
    frame.number = retired.chainNumber + 1;
    PassResult result;
    Retired *chain = takeUnreachable(st(), frame, target, awaitSeq, result.blockedByOthers);
    // The next pass when as much again is pending: a reader parked on a snapshot keeps what it
    // pins, and writers then pay O(1) amortised per retirement instead of a pass each.
    // Bytes scale with the live array too: a registry of 10,000 handlers retires a 280 KB array
    // per copy, and one fence per copy would cost more than the copy.
    retired.nextPass = retired.pending + std::max(passObjects, retired.pending);
    retired.nextPassBytes =
        retired.pendingBytes + std::max({passBytes, retired.pendingBytes, 2 * std::size_t{cur->bytes}});
    if (chain == nullptr) {
        lock.unlock();
        return result;
    }
    retired.chainNumber = frame.number;
    startChainLocked(frame);
    lock.unlock();
    result.registryGone = !destroyChain(chain, frame);
    return result;
}

void RegistryCore::startChainLocked(DestroyFrame &frame) noexcept
{
    frame.core = this;
    frame.nextInCore = st().retired.chains;
    st().retired.chains = &frame;
}

bool RegistryCore::destroyChain(Retired *chain, DestroyFrame &frame) noexcept
{
    while (Retired *r = chain) {
        chain = r->next;
        r->destroy(r);
    }
    if (frame.core == nullptr)
        return false; // a destructor above destroyed the registry (and unlinked the frame)
    // Under the lock, which a ~Registry waiting for this chain takes before it frees anything.
    std::lock_guard lock(st().writerLock);
    for (DestroyFrame **link = &st().retired.chains; *link; link = &(*link)->nextInCore) {
        if (*link == &frame) {
            *link = frame.nextInCore;
            break;
        }
    }
    return true;
}

bool RegistryCore::chainInFlightLocked(std::uint64_t number) const noexcept
{
    for (const DestroyFrame *f = st().retired.chains; f; f = f->nextInCore)
        if (f->number == number)
            return true;
    return false;
}

void RegistryCore::waitForChains(std::unique_lock<WriterLock> &lock, std::uint64_t number,
                                 std::uint64_t awaitSeq) noexcept
{
    // synchronize() from inside a closure destructor of this registry does not wait for another
    // thread's chain whose thread is itself blocked in synchronize() from a closure destructor:
    // that thread may be waiting for ours (each would wait for the other for good). The first of
    // two such threads to block waits; the second sees it blocked and goes on.
    const bool sync = number == 0 && awaitSeq != ~0ull;
    const bool inOwnChain = sync && markBlocked(this, true);
    for (unsigned spins = 0;;) {
        bool waiting = false;
        for (const DestroyFrame *f = st().retired.chains; f != nullptr && !waiting; f = f->nextInCore)
            waiting = (number != 0 ? f->number == number : f->oldestSeq <= awaitSeq) && !ownsFrame(f) &&
                      !(inOwnChain && f->blocked);
        if (!waiting)
            break;
        // Polled with the waits' back-off: no condition variable, whose waiters a fork() child
        // would inherit, and no std::atomic::wait, which MinGW-w64's libstdc++ can leave asleep.
        lock.unlock();
        backoff(spins++);
        lock.lock();
    }
    if (inOwnChain)
        markBlocked(this, false);
}

// Waits for the handler `target` (or, without one, everything retired up to `awaitSeq`): passes
// until no other thread runs it, then destroys it here, or waits for the one chain that took it.
// Never for other handlers, other chains or this thread's own frames.
void RegistryCore::wait(std::uint64_t awaitSeq, HandlerId target) noexcept
{
    std::unique_lock lock(st().writerLock, std::defer_lock);
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
            // NOLINTNEXTLINE(performance-no-int-to-ptr): a tagged box word, low bit clear
            box = reinterpret_cast<const HandlerBox *>(e);
        }
        if (spins == 1) {
            // Still blocked: drop the tombstones from the head, so that notifies starting from
            // now on no longer announce the awaited boxes (each would, then skip them) and only
            // sections already under way can hold the wait up.
            compactLocked(/*force=*/true);
        }
        const PassResult r = pass(lock, spins <= 1, box, awaitSeq);
        if (r.registryGone)
            return; // a closure destructor of the pass destroyed the registry: nothing is left
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
    if (!id.isValid() || m_state.load(std::memory_order_acquire) == nullptr)
        return false; // never handed out here: nothing can be running
    bool removed = false;
    {
        std::lock_guard lock(st().writerLock);
        if (id.value() > st().lastId)
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
    if (m_state.load(std::memory_order_acquire) == nullptr)
        return; // nothing was ever retired
    std::uint64_t seq = 0;
    {
        std::lock_guard lock(st().writerLock);
        seq = st().retired.retireSeq;
    }
    wait(seq, HandlerId{});
}

void RegistryCore::lockForFork(RegistryState &state) noexcept
{
    state.writerLock.lock();
    if (state.link)
        state.link->anchor.lockForFork();
}

void RegistryCore::unlockAfterFork(RegistryState &state, bool child) noexcept
{
    if (child) {
        // Threads that were destroying our objects or removing through guards do not exist here.
        for (DestroyFrame **link = &state.retired.chains; *link;) {
            if (ownsFrame(*link))
                link = &(*link)->nextInCore;
            else
                *link = (*link)->nextInCore;
        }
    }
    if (state.link)
        state.link->anchor.unlockAfterFork(child);
    if (child)
        state.writerLock.resetInChild();
    else
        state.writerLock.unlock();
}

void freePlainBox(Retired *r) noexcept
{
    // A plain box (or a spare block one left): no destructor, but diagnostics' statistics.
    if (auto *b = static_cast<HandlerBox *>(r); b->stats != nullptr)
        diag::freeStats(b->stats);
    ::operator delete(r);
}

} // namespace rio::detail
