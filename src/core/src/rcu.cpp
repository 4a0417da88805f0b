#include <registryio/detail/rcu.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace rio::detail::rcu {

constinit Globals globals;
thread_local constinit ReaderRecord *threadRecord = nullptr;

namespace {
// The calling thread's record in every mode (threadRecord mirrors it only in membarrier mode).
thread_local constinit ReaderRecord *ownRecord = nullptr;
} // namespace

namespace {

// Reader records: a lock-free push-only list; records are reused, never freed.
constinit std::atomic<ReaderRecord *> recordsHead{nullptr};

// Retired objects of every registry, oldest first. Guarded by retiredMutex.
#if defined(_WIN32)
// TEMP (MinGW): winpthreads' std::mutex has no constexpr constructor, so it cannot be constinit.
std::mutex retiredMutex;
#else
constinit std::mutex retiredMutex;
#endif
constinit Retired *retiredHead = nullptr;
constinit Retired *retiredTail = nullptr;
constinit std::size_t retiredCount = 0;
constinit std::atomic<std::size_t> retiredCountPublic{0};
// Set by a reclaimer that could not take retiredMutex; the holder runs one more pass.
constinit std::atomic<bool> reclaimAgain{false};
// Largest tag still pending (0: nothing pending). Mirrored into globals.exitHint in membarrier mode.
constinit std::atomic<std::uint64_t> pendingTag{0};

void setPendingTag(std::uint64_t tag) noexcept
{
    pendingTag.store(tag, std::memory_order_seq_cst);
    if (globals.fenceMode == FenceMode::Membarrier)
        globals.exitHint.store(tag, std::memory_order_seq_cst);
}

// Plain memory is batched: this many pending objects trigger a reclaim pass.
constexpr std::size_t batchLimit = 64;

bool registerMembarrier() noexcept
{
#if defined(__linux__) && defined(__NR_membarrier) && !RIO_RCU_SEQ_CST_OPS
    const long supported = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (supported < 0 || (supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0)
        return false;
    return syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#else
    return false;
#endif
}

// The writer's side of the asymmetric fence: after it returns, every other thread's accesses
// before its "fence point" are visible to us and its accesses after it see our earlier stores.
void heavyFence() noexcept
{
#if RIO_RCU_SEQ_CST_OPS
    std::atomic_thread_fence(std::memory_order_seq_cst);
#else
#if defined(__linux__) && defined(__NR_membarrier)
    if (globals.fenceMode == FenceMode::Membarrier) {
        if (syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
            return;
    }
#endif
    std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

struct ThreadRecordReleaser
{
    ~ThreadRecordReleaser()
    {
        if (ReaderRecord *r = ownRecord) {
            threadRecord = nullptr;
            ownRecord = nullptr;
            r->epoch.store(0, std::memory_order_release);
            r->inUse.store(false, std::memory_order_release);
        }
    }
};

// Smallest epoch of an active reader (other than `skip`); max() when there is none.
std::uint64_t oldestActiveEpoch(const ReaderRecord *skip) noexcept
{
    std::uint64_t oldest = std::numeric_limits<std::uint64_t>::max();
    for (ReaderRecord *r = recordsHead.load(std::memory_order_acquire); r; r = r->next) {
        if (r == skip)
            continue;
        const std::uint64_t e = r->epoch.load(std::memory_order_seq_cst);
        if (e != 0 && e < oldest)
            oldest = e;
    }
    return oldest;
}

// Unlinks every retired object with tag < bound (or every one of `owner`) and returns the
// chain. Caller holds retiredMutex.
Retired *takeFreeable(std::uint64_t bound, const void *owner) noexcept
{
    Retired *freeHead = nullptr;
    Retired **freeLink = &freeHead;
    Retired *prev = nullptr;
    std::uint64_t maxRemaining = 0;
    for (Retired *r = retiredHead; r;) {
        Retired *next = r->next;
        const bool take = owner ? r->owner == owner : r->tag < bound;
        if (take) {
            (prev ? prev->next : retiredHead) = next;
            if (retiredTail == r)
                retiredTail = prev;
            r->next = nullptr;
            *freeLink = r;
            freeLink = &r->next;
            --retiredCount;
        } else {
            maxRemaining = std::max(maxRemaining, r->tag);
            prev = r;
        }
        r = next;
    }
    setPendingTag(maxRemaining);
    retiredCountPublic.store(retiredCount, std::memory_order_relaxed);
    return freeHead;
}

// A chain taken off the retired list and being destroyed outside the lock (a closure's
// destructor may use registries itself). Linked into `inFlightHead` while it runs, so that
// reclaimOwner() can wait until no other thread is still destroying an object of its owner:
// "destroyed at the latest when the registry dies" must hold even when another thread's reader
// exit took the object first.
struct InFlight
{
    static constexpr int maxOwners = 8;
    InFlight *next = nullptr;
    Retired *remaining = nullptr; // only the destroying thread touches it
    std::thread::id thread;
    const void *owners[maxOwners] = {};
    int ownerCount = 0;
    bool anyOwner = false; // more owners than fit: treated as holding every owner

    bool holds(const void *owner) const noexcept
    {
        return anyOwner || std::find(owners, owners + ownerCount, owner) != owners + ownerCount;
    }
};
constinit InFlight *inFlightHead = nullptr; // guarded by retiredMutex

// Registers `chain` as in flight on the calling thread. Caller holds retiredMutex, the same
// hold that took the chain off the retired list, so an object is always findable somewhere.
void beginInFlight(InFlight &f, Retired *chain) noexcept
{
    f.remaining = chain;
    if (chain == nullptr)
        return;
    f.thread = std::this_thread::get_id();
    for (Retired *r = chain; r && !f.anyOwner; r = r->next) {
        if (r->owner == nullptr || f.holds(r->owner))
            continue;
        if (f.ownerCount == InFlight::maxOwners)
            f.anyOwner = true;
        else
            f.owners[f.ownerCount++] = r->owner;
    }
    f.next = inFlightHead;
    inFlightHead = &f;
}

// Destroys an in-flight chain outside every lock, then unlinks it.
void runInFlight(InFlight &f) noexcept
{
    if (f.remaining == nullptr)
        return;
    while (Retired *r = f.remaining) {
        f.remaining = r->next;
        r->destroy(r);
    }
    std::lock_guard lock(retiredMutex);
    for (InFlight **link = &inFlightHead; *link; link = &(*link)->next) {
        if (*link == &f) {
            *link = f.next;
            break;
        }
    }
}

// Moves the objects of `owner` still queued in this thread's own in-flight chains (we are
// inside one of their destructors) onto `out`. Caller holds retiredMutex.
Retired *takeOwnInFlight(const void *owner, Retired *out) noexcept
{
    const std::thread::id self = std::this_thread::get_id();
    for (InFlight *f = inFlightHead; f; f = f->next) {
        if (f->thread != self)
            continue;
        for (Retired **link = &f->remaining; *link;) {
            Retired *r = *link;
            if (r->owner == owner) {
                *link = r->next;
                r->next = out;
                out = r;
            } else {
                link = &r->next;
            }
        }
    }
    return out;
}

// True while another thread is destroying a chain that may hold an object of `owner`.
bool ownerInFlightElsewhere(const void *owner) noexcept
{
    const std::thread::id self = std::this_thread::get_id();
    std::lock_guard lock(retiredMutex);
    for (const InFlight *f = inFlightHead; f; f = f->next) {
        if (f->thread != self && f->holds(owner))
            return true;
    }
    return false;
}

// One reclaim pass under retiredMutex: fence, find the oldest reader, take what it cannot see.
Retired *reclaimPassLocked() noexcept
{
    if (retiredHead == nullptr)
        return nullptr;
    heavyFence();
    // The caller's own record counts: it may itself hold a snapshot.
    return takeFreeable(oldestActiveEpoch(nullptr), nullptr);
}

void reclaimWithRetry() noexcept
{
    reclaimAgain.store(true, std::memory_order_seq_cst);
    while (reclaimAgain.load(std::memory_order_seq_cst) && retiredMutex.try_lock()) {
        reclaimAgain.store(false, std::memory_order_seq_cst);
        InFlight done;
        beginInFlight(done, reclaimPassLocked());
        retiredMutex.unlock();
        runInFlight(done);
    }
}

} // namespace

void initialize() noexcept
{
    static const bool once = [] {
        if (registerMembarrier()) {
            globals.fenceMode = FenceMode::Membarrier;
            globals.exitHint.store(pendingTag.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
        }
        return true;
    }();
    (void)once;
}

namespace {

ReaderRecord *registerThread()
{
    initialize();
    static thread_local ThreadRecordReleaser releaser;
    (void)releaser;
    for (ReaderRecord *r = recordsHead.load(std::memory_order_acquire); r; r = r->next) {
        bool expected = false;
        if (!r->inUse.load(std::memory_order_relaxed) &&
            r->inUse.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
            ownRecord = r;
            return r;
        }
    }
    auto *r = new ReaderRecord;
    r->inUse.store(true, std::memory_order_relaxed);
    ReaderRecord *head = recordsHead.load(std::memory_order_relaxed);
    do {
        r->next = head;
    } while (
        !recordsHead.compare_exchange_weak(head, r, std::memory_order_release, std::memory_order_relaxed));
    ownRecord = r;
    return r;
}

} // namespace

bool inReadSection() noexcept
{
    const ReaderRecord *r = ownRecord;
    return r != nullptr && r->epoch.load(std::memory_order_relaxed) != 0;
}

ReaderRecord *enterSlow() noexcept
{
    ReaderRecord *r = ownRecord;
    if (r == nullptr) {
        try {
            r = registerThread();
        } catch (...) {
            // No memory for a reader record: nothing sensible is left for a noexcept notify.
            std::terminate();
        }
        if (globals.fenceMode == FenceMode::Membarrier)
            threadRecord = r; // from now on this thread enters inline
    }
    if (r->epoch.load(std::memory_order_relaxed) != 0)
        return nullptr;
#if RIO_RCU_SEQ_CST_OPS
    r->epoch.store(globals.epoch.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
#else
    r->epoch.store(globals.epoch.load(std::memory_order_acquire), std::memory_order_relaxed);
    if (globals.fenceMode == FenceMode::Membarrier)
        std::atomic_signal_fence(std::memory_order_seq_cst);
    else
        std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
    return r;
}

void onReaderExit(std::uint64_t entered) noexcept
{
    if (globals.fenceMode != FenceMode::Membarrier) {
        // The fallback's reader fence: orders the epoch clear before the pending check.
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (entered > pendingTag.load(std::memory_order_seq_cst))
            return;
    }
    reclaimWithRetry();
}

bool retire(Retired *first, Retired *last) noexcept
{
    if (first == nullptr)
        return false;
    std::size_t added = 0;
    for (Retired *r = first; r; r = r->next)
        ++added;
    bool reclaimNow = false;
    {
        std::lock_guard lock(retiredMutex);
        // Every object in the chain is already unpublished: readers that enter from now on get a
        // larger epoch and cannot reach it.
#if RIO_RCU_SEQ_CST_OPS
        const std::uint64_t tag = globals.epoch.fetch_add(1, std::memory_order_seq_cst);
#else
        const std::uint64_t tag = globals.epoch.fetch_add(1, std::memory_order_acq_rel);
#endif
        for (Retired *r = first; r; r = r->next)
            r->tag = tag;
        (retiredTail ? retiredTail->next : retiredHead) = first;
        retiredTail = last;
        retiredCount += added;
        retiredCountPublic.store(retiredCount, std::memory_order_relaxed);
        // Published before the reclaim pass's heavy fence: a reader leaving after that fence
        // sees it and reclaims on its way out.
        if (tag > pendingTag.load(std::memory_order_relaxed))
            setPendingTag(tag);
        reclaimNow = retiredCount >= batchLimit;
    }
    // A reclaimer (typically a reader leaving its section) whose try_lock failed while we held
    // retiredMutex left its pass to the lock holder, and this holder does not loop: ask the
    // caller to run it, or the work that reader was blocking stays queued.
    return reclaimNow || reclaimAgain.load(std::memory_order_seq_cst);
}

void retireAndReclaim(Retired *first, Retired *last, bool urgent) noexcept
{
    const bool batchFull = retire(first, last);
    // A writer inside a read section would only find itself blocking the work: its own exit
    // will reclaim instead.
    if ((urgent || batchFull) && first != nullptr && !inReadSection())
        reclaimWithRetry();
}

void reclaim() noexcept
{
    reclaimWithRetry();
}

void synchronize() noexcept
{
    initialize();
    const ReaderRecord *self = inReadSection() ? ownRecord : nullptr;
#if RIO_RCU_SEQ_CST_OPS
    const std::uint64_t target = globals.epoch.fetch_add(1, std::memory_order_seq_cst);
#else
    const std::uint64_t target = globals.epoch.fetch_add(1, std::memory_order_acq_rel);
#endif
    heavyFence();
    // Wait for readers that entered at or before `target`. Readers are short; back off from
    // spinning to yielding to short sleeps so a long handler does not burn a core.
    for (unsigned spins = 0; oldestActiveEpoch(self) <= target; ++spins) {
        if (spins < 64)
            std::this_thread::yield();
        else
            std::this_thread::sleep_for(std::chrono::microseconds(spins < 1024 ? 20 : 200));
    }
    // Blocking here (unlike a reader's try-lock) so that what the wait released is freed before
    // we return.
    // Everything tagged at or before `target` is unreachable now, except by our own section: no
    // second heavy fence is needed to free it.
    std::uint64_t bound = target + 1;
    if (self != nullptr)
        bound = std::min(bound, self->epoch.load(std::memory_order_relaxed));
    InFlight done;
    {
        std::lock_guard lock(retiredMutex);
        beginInFlight(done, retiredHead ? takeFreeable(bound, nullptr) : nullptr);
    }
    runInFlight(done);
    // A failed try_lock during our pass left its own pass to us (see retire()).
    if (reclaimAgain.load(std::memory_order_seq_cst))
        reclaimWithRetry();
}

void barrier() noexcept
{
    synchronize();
}

void reclaimOwner(const void *owner) noexcept
{
    InFlight done;
    {
        std::lock_guard lock(retiredMutex);
        beginInFlight(done, takeOwnInFlight(owner, takeFreeable(0, owner)));
    }
    runInFlight(done);
    // Another thread's reclaim pass may have taken some of ours just before: wait until its
    // destructors ran, so nothing of this owner outlives the owner.
    for (unsigned spins = 0; ownerInFlightElsewhere(owner); ++spins) {
        if (spins < 64)
            std::this_thread::yield();
        else
            std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    if (reclaimAgain.load(std::memory_order_seq_cst))
        reclaimWithRetry();
}

std::size_t pendingCount() noexcept
{
    return retiredCountPublic.load(std::memory_order_relaxed);
}

} // namespace rio::detail::rcu
