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

/// Hazard slots per thread: sections nested deeper use the record's overflow count instead.
inline constexpr std::uint32_t slotCount = 7;

/// One thread's reader state. Written by its thread (and its signal handlers) only; read by
/// reclaim passes.
struct alignas(64) ReaderRecord
{
    std::atomic<const void *> slots[slotCount] = {};
    // The handler box each section is calling (or last called); the extra one serves overflow
    // sections, which pin everything anyway.
    std::atomic<const void *> running[slotCount + 1] = {};
    std::atomic<std::uint32_t> depth{0};    // sections open on the owner thread
    std::atomic<std::uint32_t> overflow{0}; // open sections beyond slotCount: pin everything
    std::atomic<bool> inUse{false};
    bool transient = false;       // held for one outermost section only (see acquireSlow)
    ReaderRecord *next = nullptr; // immutable once linked into the global list
};

/// How writers fence and readers enter; chosen once at start-up (RIO_FENCE overrides).
enum class FenceMode : std::uint8_t {
    Fallback,   ///< no heavy fence: readers use a sequentially consistent fence, out of line
    Membarrier, ///< Linux membarrier(PRIVATE_EXPEDITED)
    Ipi,        ///< an mprotect-induced TLB shootdown (x86 only)
    FlushProcessWriteBuffers, ///< Windows
};

#if RIO_INLINE_READER_TLS
/// The calling thread's record once it may enter inline (an asymmetric fence mode); else null.
RIO_TLS_INITIAL_EXEC extern thread_local constinit ReaderRecord *threadRecord;
#endif

/// What acquireSlow() hands a section: the record, the slot (null for an overflow section) and
/// whether exit must go out of line.
struct SlowEntry
{
    ReaderRecord *record;
    std::atomic<const void *> *slot;
    std::uint32_t depth;
};

/// Enters a section out of line: a thread's first section, every section in the fallback mode, a
/// nested section beyond slotCount, a thread whose record was already released. Never blocks;
/// allocates only for a thread's first record (see prepareThread()).
RIO_CORE_EXPORT SlowEntry acquireSlow() noexcept;

/// Leaves a section entered by acquireSlow() (overflow count, transient record release).
RIO_CORE_EXPORT void releaseSlow(ReaderRecord *record, std::uint32_t depth, bool overflow) noexcept;

/// Registers the calling thread's record (and its release at thread exit) now, so that later
/// sections on this thread never allocate or lock.
RIO_CORE_EXPORT void prepareThread() noexcept;

/// The heavy fence mode in use.
RIO_CORE_EXPORT FenceMode fenceMode() noexcept;

/// Reader records ever created (in use or free): bounded by the threads alive at once (tests).
RIO_CORE_EXPORT std::size_t recordCount() noexcept;

/// A hazard pointer protecting the value of one atomic pointer for the object's lifetime.
template <typename T>
class Protected
{
public:
    explicit Protected(const std::atomic<T *> &source) noexcept
    {
#if RIO_INLINE_READER_TLS && !RIO_SEQ_CST_OPS
        if (ReaderRecord *r = threadRecord) [[likely]] {
            const std::uint32_t d = r->depth.load(std::memory_order_relaxed);
            if (d < slotCount) [[likely]] {
                // Depth first: a signal handler interrupting us takes the next slot, not ours.
                r->depth.store(d + 1, std::memory_order_relaxed);
                std::atomic_signal_fence(std::memory_order_seq_cst);
                std::atomic<const void *> *slot = &r->slots[d];
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
                m_record = r;
                m_slot = slot;
                m_depth = d;
                m_slow = false;
                return;
            }
        }
#endif
        enterSlow(source);
    }

    ~Protected()
    {
        if (m_slot != nullptr) [[likely]] {
            m_slot->store(nullptr, RIO_SEQ_CST_OPS ? std::memory_order_seq_cst : std::memory_order_release);
            std::atomic_signal_fence(std::memory_order_seq_cst);
            m_record->depth.store(m_depth, std::memory_order_relaxed);
        }
        if (m_slow) [[unlikely]]
            releaseSlow(m_record, m_depth, m_slot == nullptr);
    }

    Protected(const Protected &) = delete;
    Protected &operator=(const Protected &) = delete;

    /// The protected value: valid until this object is destroyed.
    [[nodiscard]] T *get() const noexcept { return m_value; }

    /// Where the section announces the handler it is about to call (see Registry::notify).
    [[nodiscard]] std::atomic<const void *> *running() const noexcept
    {
        return &m_record->running[m_depth < slotCount ? m_depth : slotCount];
    }

private:
    RIO_COLD void enterSlow(const std::atomic<T *> &source) noexcept
    {
        const SlowEntry e = acquireSlow();
        m_record = e.record;
        m_slot = e.slot;
        m_depth = e.depth;
        m_slow = true;
        T *p = source.load(std::memory_order_seq_cst);
        if (m_slot == nullptr) { // overflow: acquireSlow raised the record's pin-everything count
            m_value = p;
            return;
        }
        for (;;) {
            m_slot->store(p, std::memory_order_seq_cst);
            std::atomic_thread_fence(std::memory_order_seq_cst);
            T *q = source.load(std::memory_order_seq_cst);
            if (q == p)
                break;
            p = q;
        }
        m_value = p;
    }

    T *m_value;
    ReaderRecord *m_record;
    std::atomic<const void *> *m_slot;
    std::uint32_t m_depth;
    bool m_slow;
};

} // namespace rio::detail::hazard
