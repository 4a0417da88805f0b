#pragma once

// The reclamation domain: epoch-based RCU with asymmetric fences.
//
// Shaped like C++26 std::rcu (P2545): a read-side guard (ReadSection ~ rcu_reader), retire
// (~ rcu_retire), synchronize (~ rcu_synchronize) and barrier (~ rcu_barrier), so that it can be
// swapped for the standard one when compilers ship it. See docs/ARCHITECTURE.md for the protocol
// and its correctness argument, and tests/model/ for the Promela model of it.
//
// Readers: one record per thread holding the global epoch its outermost section entered at. Entering is a
// relaxed store plus a compiler barrier; the writer pays instead with
// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED). Where membarrier is unavailable both sides use
// sequentially consistent fences, and in ThreadSanitizer builds (which do not model fences) both
// sides use sequentially consistent atomic operations.

#include <registryio/core_export.h>

#include <atomic>
#include <cstdint>

#if defined(__SANITIZE_THREAD__)
#define RIO_RCU_SEQ_CST_OPS 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RIO_RCU_SEQ_CST_OPS 1
#endif
#endif
#ifndef RIO_RCU_SEQ_CST_OPS
#define RIO_RCU_SEQ_CST_OPS 0
#endif

namespace rio::detail::rcu {

/// Something retired: freed by `destroy` once no read section that could still see it is active.
struct Retired
{
    Retired *next = nullptr;
    std::uint64_t tag = 0;       // epoch at which it was unpublished
    const void *owner = nullptr; // the registry it belongs to (for reclaimOwner)
    void (*destroy)(Retired *) noexcept = nullptr;
};

/// One thread's reader state. Written by its thread only; read by reclaimers.
struct alignas(64) ReaderRecord
{
    // Epoch the outermost read section entered at; 0 outside any section. Nested sections leave
    // it alone, so the owner thread learns whether it is nested from its own last store.
    std::atomic<std::uint64_t> epoch{0};
    std::atomic<bool> inUse{false};
    ReaderRecord *next = nullptr; // immutable once linked into the global list
};

/// How the two sides fence; decided once, before the first registry exists.
enum class FenceMode : std::uint8_t { SeqCstFences, Membarrier };

/// Global read-mostly state. Readers only load from these (no shared-line writes on notify).
struct alignas(64) Globals
{
    std::atomic<std::uint64_t> epoch{1};
    FenceMode fenceMode = FenceMode::SeqCstFences;
    // A reader that entered at or below this may be blocking retired work and reclaims on its way
    // out. In the fallback fence mode it is pinned to the maximum, so every outermost exit goes
    // out of line (where the fallback's fence lives) and the inline exit tests no mode.
    alignas(64) std::atomic<std::uint64_t> exitHint{~std::uint64_t{0}};
};

RIO_CORE_EXPORT extern constinit Globals globals;
/// The calling thread's record in membarrier mode once registered; null otherwise.
[[gnu::tls_model("initial-exec")]] RIO_CORE_EXPORT extern thread_local constinit ReaderRecord *threadRecord;

/// Sets up the fence mode; called by every registry constructor. Cheap after the first call.
RIO_CORE_EXPORT void initialize() noexcept;

/// Called by a reader that entered at `entered` leaving its outermost section while work it may
/// block is pending (and on every outermost exit in the fallback fence mode).
[[gnu::cold]] RIO_CORE_EXPORT void onReaderExit(std::uint64_t entered) noexcept;

/// Tags a chain of unpublished objects with the current epoch and queues them. Returns true when
/// the caller should reclaim(): enough is pending (plain memory is batched), or a reclaimer that
/// could not take the lock meanwhile left its pass to us.
RIO_CORE_EXPORT bool retire(Retired *first, Retired *last) noexcept;

/// Retires and, for `urgent` work (closures of removed handlers), reclaims at once if possible.
/// Inside a read section it only queues: the caller's own section blocks the work, and its exit
/// reclaims.
RIO_CORE_EXPORT void retireAndReclaim(Retired *first, Retired *last, bool urgent) noexcept;

/// Frees what can be freed now (never waits).
RIO_CORE_EXPORT void reclaim() noexcept;

/// Waits until every read section on other threads that began before the call has ended, then
/// frees what that releases. Inside a read section it does not wait for the caller's own.
RIO_CORE_EXPORT void synchronize() noexcept;

/// synchronize(), then everything retired before the call that no active section on this thread
/// can see is freed.
RIO_CORE_EXPORT void barrier() noexcept;

/// Frees every retired object of `owner` at once: the owner is being destroyed, so no read
/// section can reach them any more.
RIO_CORE_EXPORT void reclaimOwner(const void *owner) noexcept;

/// Number of retired objects not yet freed (all owners).
RIO_CORE_EXPORT std::size_t pendingCount() noexcept;

/// True while the calling thread is inside a read section.
RIO_CORE_EXPORT bool inReadSection() noexcept;

/// The out-of-line entry: a thread's first section, every section in the fallback fence mode
/// (whose reader fence lives here, keeping the inline path free of a mode test) and in
/// ThreadSanitizer builds. Returns the record when this is the outermost section, else null.
[[gnu::cold]] RIO_CORE_EXPORT ReaderRecord *enterSlow() noexcept;

/// RAII read-side critical section. Never blocks; no allocation after a thread's first use.
class ReadSection
{
public:
    ReadSection() noexcept
    {
        ReaderRecord *r = threadRecord; // stays null in the fallback mode: see enterSlow()
        if (r == nullptr) [[unlikely]] {
            m_outer = enterSlow();
            return;
        }
        if (r->epoch.load(std::memory_order_relaxed) != 0) {
            m_outer = nullptr; // nested: the outermost section keeps the epoch
            return;
        }
        r->epoch.store(globals.epoch.load(std::memory_order_acquire), std::memory_order_relaxed);
        // Membarrier mode: the writer's membarrier supplies the store-load ordering.
        std::atomic_signal_fence(std::memory_order_seq_cst);
        m_outer = r;
    }

    ~ReadSection()
    {
        if (ReaderRecord *r = m_outer) {
            const std::uint64_t entered = r->epoch.load(std::memory_order_relaxed);
#if RIO_RCU_SEQ_CST_OPS
            r->epoch.store(0, std::memory_order_seq_cst);
#else
            r->epoch.store(0, std::memory_order_release);
            std::atomic_signal_fence(std::memory_order_seq_cst);
#endif
            // In the fallback mode exitHint is pinned to the maximum: onReaderExit fences first.
            if (entered <= globals.exitHint.load(std::memory_order_relaxed)) [[unlikely]]
                onReaderExit(entered);
        }
    }

    ReadSection(const ReadSection &) = delete;
    ReadSection &operator=(const ReadSection &) = delete;

private:
    ReaderRecord *m_outer; // the thread's record if this section is the outermost, else null
};

/// Load of an RCU-protected pointer inside a read section.
template <typename T>
inline T *dereference(const std::atomic<T *> &p) noexcept
{
#if RIO_RCU_SEQ_CST_OPS
    return p.load(std::memory_order_seq_cst);
#else
    return p.load(std::memory_order_acquire);
#endif
}

/// Publication of a new value for an RCU-protected pointer (writers, under their own lock).
template <typename T>
inline T *publish(std::atomic<T *> &p, T *value) noexcept
{
#if RIO_RCU_SEQ_CST_OPS
    return p.exchange(value, std::memory_order_seq_cst);
#else
    return p.exchange(value, std::memory_order_acq_rel);
#endif
}

} // namespace rio::detail::rcu
