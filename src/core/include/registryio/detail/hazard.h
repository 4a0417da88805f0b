#pragma once

// The read side of the reclamation domain: hazard-pointer protection with an asymmetric fence.
//
// Shaped like C++26 std::hazard_pointer (P2530): Protected<T> is a hazard pointer holding one
// protect()ed value for its lifetime; RegistryCore's reclaim pass plays the part of the domain's
// retire/reclaim. A reader pins only the snapshot it holds, so a reader parked inside a handler
// for minutes keeps at most what it can reach alive. See docs/ARCHITECTURE.md for the protocol,
// its proof and tests/model/ for the Promela model.
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

/// Hazard slots per record; a thread nesting deeper chains a further record.
inline constexpr std::uint32_t slotCount = 8;

/// One thread's reader state. Written by its thread (and its signal handlers) only; read by
/// reclaim passes. Laid out so that a section needs a single pointer, its slot: the record is
/// the slot's address rounded down to 64 bytes, and the section's running cell sits slotCount
/// cells after its slot.
struct alignas(64) ReaderRecord
{
    // cells[d]: the snapshot the section at depth d holds. cells[slotCount + d]: the handler box
    // that section is calling (or last called; only meaningful while cells[d] is set).
    std::atomic<const void *> cells[2 * slotCount] = {};
    std::atomic<std::atomic<const void *> *> top{&cells[0]}; // the next free slot
    std::atomic<bool> inUse{false};
    ReaderRecord *deeper = nullptr; // the same thread's record for sections nested deeper
    ReaderRecord *next = nullptr;   // immutable once linked into the global list

    [[nodiscard]] std::atomic<const void *> &hazard(std::uint32_t d) noexcept { return cells[d]; }
    [[nodiscard]] std::atomic<const void *> &running(std::uint32_t d) noexcept
    {
        return cells[slotCount + d];
    }
};
static_assert(sizeof(std::atomic<const void *>) * slotCount == 64,
              "a record's hazard cells fill one 64-byte line");

/// How writers fence and readers enter; chosen once at start-up (RIO_FENCE overrides).
enum class FenceMode : std::uint8_t {
    Fallback,                 ///< no heavy fence: readers use a sequentially consistent fence, out of line
    Membarrier,               ///< Linux membarrier(PRIVATE_EXPEDITED)
    Ipi,                      ///< an mprotect-induced TLB shootdown (x86 only)
    FlushProcessWriteBuffers, ///< Windows
};

#if RIO_INLINE_READER_TLS
/// The calling thread's record once it may enter inline (an asymmetric fence mode); else null.
RIO_TLS_INITIAL_EXEC extern thread_local constinit ReaderRecord *threadRecord;
#endif

/// Enters a section out of line: a thread's first section, every section in the fallback mode, a
/// section nested deeper than slotCount. Returns the section's slot. Never blocks; allocates
/// only for a thread's first record or first deep nesting (see prepareThread()).
RIO_CORE_EXPORT std::atomic<const void *> *acquireSlow() noexcept;

/// The record a slot belongs to.
inline ReaderRecord *recordOf(std::atomic<const void *> *slot) noexcept
{
    return reinterpret_cast<ReaderRecord *>(reinterpret_cast<std::uintptr_t>(slot) & ~std::uintptr_t{63});
}

/// Registers the calling thread's record (and its release at thread exit) now, so that later
/// sections on this thread never allocate or lock.
RIO_CORE_EXPORT void prepareThread() noexcept;

/// Reader records that exist (in use or free): bounded by the threads alive at once.
RIO_CORE_EXPORT std::size_t recordCount() noexcept;

/// The heavy fence mode in use.
RIO_CORE_EXPORT FenceMode fenceMode() noexcept;

/// A hazard pointer protecting the value of one atomic pointer for the object's lifetime.
template <typename T>
class Protected
{
public:
    explicit Protected(const std::atomic<T *> &source) noexcept
    {
#if RIO_INLINE_READER_TLS && !RIO_SEQ_CST_OPS
        if (ReaderRecord *r = threadRecord) [[likely]] {
            std::atomic<const void *> *slot = r->top.load(std::memory_order_relaxed);
            if (slot != &r->cells[slotCount]) [[likely]] {
                // Claim the slot first: a signal handler interrupting us takes the next one.
                r->top.store(slot + 1, std::memory_order_relaxed);
                std::atomic_signal_fence(std::memory_order_seq_cst);
                T *p = source.load(std::memory_order_relaxed);
                for (;;) {
                    slot->store(p, std::memory_order_relaxed);
                    // The writer's heavy fence supplies the store-load ordering.
                    std::atomic_signal_fence(std::memory_order_seq_cst);
                    T *q = source.load(std::memory_order_acquire);
                    if (q == p) [[likely]]
                        break;
                    p = q;
                }
                m_value = p;
                m_running = slot + slotCount;
                return;
            }
        }
#endif
        std::atomic<const void *> *slot = acquireSlow();
        m_value = protectSlow(slot, source);
        m_running = slot + slotCount;
    }

    ~Protected()
    {
        // Only the running cell is kept: notify's loop needs it anyway, and the slot is derived.
        std::atomic<const void *> *slot = m_running - slotCount;
        slot->store(nullptr, RIO_SEQ_CST_OPS ? std::memory_order_seq_cst : std::memory_order_release);
        std::atomic_signal_fence(std::memory_order_seq_cst);
        recordOf(slot)->top.store(slot, std::memory_order_relaxed);
    }

    Protected(const Protected &) = delete;
    Protected &operator=(const Protected &) = delete;

    /// The protected value: valid until this object is destroyed.
    [[nodiscard]] T *get() const noexcept
    {
        return m_value;
    }

    /// Where the section announces the handler it is about to call (see Registry::notify).
    [[nodiscard]] std::atomic<const void *> *running() const noexcept
    {
        return m_running;
    }

private:
    // The out-of-line entry's protect loop: sequentially consistent, right in every mode.
    static T *protectSlow(std::atomic<const void *> *slot, const std::atomic<T *> &source) noexcept
    {
        T *p = source.load(std::memory_order_seq_cst);
        for (;;) {
            slot->store(p, std::memory_order_seq_cst);
            std::atomic_thread_fence(std::memory_order_seq_cst);
            T *q = source.load(std::memory_order_seq_cst);
            if (q == p)
                return p;
            p = q;
        }
    }

    T *m_value;
    std::atomic<const void *> *m_running; // the section's running cell (its slot + slotCount)
};

} // namespace rio::detail::hazard
