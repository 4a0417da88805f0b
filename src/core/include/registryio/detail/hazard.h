// SPDX-License-Identifier: MIT
#pragma once

// The read side of the reclamation domain that a notify inlines: hazard-pointer protection with
// an asymmetric fence (the rest of the domain, ReaderRecord and Protected<T>, is the core
// library's src/domain.h).
//
// Shaped like C++26 std::hazard_pointer (P2530): Protected<T> is a hazard pointer holding one
// protect()ed value for its lifetime (enterInline()/leave() are its unscoped form, for notify's
// loop); RegistryCore's reclaim pass plays the part of the domain's retire/reclaim. A reader pins only the
// snapshot it holds, so a reader parked inside a handler for minutes keeps at most what it can reach alive.
// See docs/ARCHITECTURE.md for the protocol, its proof and tests/model/ for the Promela model.
//
// Each thread owns one ReaderRecord: a small stack of hazard slots (one per nested section). A
// slot store is followed by a compiler barrier only; writers pay instead with a heavy fence
// (membarrier, an IPI, FlushProcessWriteBuffers) in their amortised reclaim pass. Where no heavy
// fence exists (the fallback), readers enter out of line and use a sequentially consistent fence.

#include <registryio/detail/config.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace rio::detail::hazard {

/// Hazard slots per record in the asymmetric fence modes; a thread nesting deeper chains a
/// further record. The fallback mode has one fewer (see ReaderRecord, domain.h).
inline constexpr std::uint32_t slotCount = 8;

/// The bit of a slot's address that sends a section out of line (see ReaderRecord).
inline constexpr std::uintptr_t outOfLineBit = 64;

/// How writers fence and readers enter; chosen once at start-up (RIO_FENCE overrides).
enum class FenceMode : std::uint8_t {
    Fallback,                 ///< no heavy fence: readers use a sequentially consistent fence, out of line
    Membarrier,               ///< Linux membarrier(PRIVATE_EXPEDITED)
    Ipi,                      ///< an mprotect-induced TLB shootdown (x86 only)
    FlushProcessWriteBuffers, ///< Windows
};

#if RIO_INLINE_READER_TLS
/// The calling thread's next free slot; an address with outOfLineBit set when the next section
/// must enter out of line (no record yet, the record full, the fallback mode).
RIO_TLS_INITIAL_EXEC extern thread_local constinit std::atomic<std::atomic<const void *> *> threadSlot;
#endif

/// Enters a section out of line: a thread's first section, every section in the fallback mode, a
/// section nested deeper than a record holds. Returns the section's slot, claimed. Never blocks;
/// allocates only for a thread's first record or first deep nesting (see prepareThread()).
RIO_CORE_EXPORT std::atomic<const void *> *acquireSlow() noexcept;

#if !RIO_INLINE_READER_TLS
/// Gives `slot` back (where the thread-local slot cannot be reached inline).
RIO_CORE_EXPORT void releaseSlow(std::atomic<const void *> *slot) noexcept;
#endif

/// Registers the calling thread's record (and its release at thread exit) now, so that later
/// sections on this thread never allocate or lock.
RIO_CORE_EXPORT void prepareThread() noexcept;

/// Reader records that exist (in use or free): bounded by the threads alive at once.
RIO_CORE_EXPORT std::size_t recordCount() noexcept;

/// The heavy fence mode in use.
RIO_CORE_EXPORT FenceMode fenceMode() noexcept;

#if RIO_INLINE_READER_TLS && !RIO_SEQ_CST_OPS
/// True when a section may enter inline on `slot` (threadSlot's value): an asymmetric fence
/// mode, a registered thread, a free slot in its record. Otherwise enterOutOfLine() opens it.
inline bool entersInline(std::atomic<const void *> *slot) noexcept
{
    return (reinterpret_cast<std::uintptr_t>(slot) & outOfLineBit) == 0;
}

/// Opens a section inline on `slot` (threadSlot's value, for which entersInline() holds),
/// protecting the value of `source`, and returns that value.
template <typename T>
inline T *enterInline(std::atomic<const void *> *slot, const std::atomic<T *> &source) noexcept
{
    // Claim the slot first: a signal handler interrupting us takes the next one.
    threadSlot.store(slot + 1, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    T *q = source.load(std::memory_order_relaxed);
    T *p;
    do {
        p = q;
        slot->store(p, std::memory_order_relaxed);
        // The writer's heavy fence supplies the store-load ordering.
        std::atomic_signal_fence(std::memory_order_seq_cst);
        q = source.load(std::memory_order_acquire);
    } while (q != p);
    return p;
}
#endif

/// Closes the section that owns `slot`.
inline void leave(std::atomic<const void *> *slot) noexcept
{
    slot->store(nullptr, RIO_SEQ_CST_OPS ? std::memory_order_seq_cst : std::memory_order_release);
    std::atomic_signal_fence(std::memory_order_seq_cst);
#if RIO_INLINE_READER_TLS
    threadSlot.store(slot, std::memory_order_relaxed);
#else
    releaseSlow(slot);
#endif
}

} // namespace rio::detail::hazard
