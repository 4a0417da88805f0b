// SPDX-License-Identifier: MIT
#pragma once

// Internal interface between the parts of the reclamation domain (not installed).

#include <registryio/detail/hazard.h>

#include <atomic>
#include <cstdint>

namespace rio::detail::hazard {

/// One thread's reader state. Written by its thread (and its signal handlers) only; read by
/// reclaim passes. A section needs a single pointer, its slot: the record is the slot's address
/// rounded down to 128 bytes, and the section's running cell sits slotCount cells after its slot.
///
/// The thread's next free slot is kept in a thread-local pointer (threadSlot). A slot that may be
/// entered inline has bit 6 of its address clear: in the asymmetric modes the hazard cells are
/// cells[0..7] (bytes 0-63) and the cell after the last, cells[8], has it set, so a full record
/// sends the next section out of line with the same test that catches a thread not registered
/// yet (threadSlot starts at such an address). In the fallback mode, where every section must
/// enter out of line, the hazard cells are cells[8..14] (bit 6 set) and their running cells
/// cells[16..22].
struct alignas(128) ReaderRecord
{
    // cells[b + d]: the snapshot the section at depth d holds (b: 0, or 8 in the fallback mode).
    // cells[b + slotCount + d]: the handler box that section is calling (or last called; only
    // meaningful while cells[b + d] is set).
    std::atomic<const void *> cells[3 * slotCount] = {};
    std::atomic<bool> inUse{false};
    ReaderRecord *deeper = nullptr; // the same thread's record for sections nested deeper
    ReaderRecord *next = nullptr;   // immutable once linked into the global list
};
static_assert(sizeof(std::atomic<const void *>) * slotCount == 64,
              "a record's hazard cells fill one 64-byte line");

/// The record a slot belongs to.
inline ReaderRecord *recordOf(std::atomic<const void *> *slot) noexcept
{
    // The address arithmetic is the point: a record is found from any of its slots.
    // NOLINTNEXTLINE(performance-no-int-to-ptr)
    return reinterpret_cast<ReaderRecord *>(reinterpret_cast<std::uintptr_t>(slot) & ~std::uintptr_t{127});
}

/// A section's slot and the value it protects.
template <typename T>
struct Section
{
    std::atomic<const void *> *slot; // running cell: slot + slotCount
    T *value;
};

/// Opens a section out of line, sequentially consistent: right in every mode.
template <typename T>
inline Section<T> enterOutOfLine(const std::atomic<T *> &source) noexcept
{
    std::atomic<const void *> *claimed = acquireSlow();
    T *p = source.load(std::memory_order_seq_cst);
    for (;;) {
        claimed->store(p, std::memory_order_seq_cst);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        T *q = source.load(std::memory_order_seq_cst);
        if (q == p)
            return {claimed, p};
        p = q;
    }
}

/// Opens a section protecting the value of `source`: valid until leave(section.slot). Sections
/// of a thread close in the reverse order of opening (signal handlers included).
template <typename T>
inline Section<T> enter(const std::atomic<T *> &source) noexcept
{
#if RIO_INLINE_READER_TLS && !RIO_SEQ_CST_OPS
    std::atomic<const void *> *slot = threadSlot.load(std::memory_order_relaxed);
    if (entersInline(slot)) [[likely]]
        return {slot, enterInline(slot, source)};
#endif
    return enterOutOfLine(source);
}

/// A hazard pointer protecting the value of one atomic pointer for the object's lifetime.
template <typename T>
class Protected
{
public:
    explicit Protected(const std::atomic<T *> &source) noexcept : m_section(enter(source)) { }
    ~Protected() { leave(m_section.slot); }

    Protected(const Protected &) = delete;
    Protected &operator=(const Protected &) = delete;

    /// The protected value: valid until this object is destroyed.
    [[nodiscard]] T *get() const noexcept { return m_section.value; }

private:
    Section<T> m_section;
};

/// Decides the fence mode and installs the process-life hooks; cheap after the first call.
void initialize() noexcept;
/// The writer's side of the asymmetric fence (a plain seq_cst fence in the fallback mode).
void heavyFence() noexcept;
/// True if `r` is one of the calling thread's records (deeper ones included).
bool ownsRecord(const ReaderRecord *r) noexcept;
/// Calls `f(record)` for every record ever created (in use or not).
template <typename F>
void forEachRecord(F &&f);
/// The first hazard cell of a record (0, or slotCount in the fallback mode; see ReaderRecord).
std::uint32_t hazardBase() noexcept;
/// Hazard slots per record (slotCount, or one fewer in the fallback mode).
std::uint32_t hazardSlots() noexcept;
/// The running cell of the calling thread's innermost open section (inside a notify).
std::atomic<const void *> *runningCell() noexcept;
/// True where readers fence after each running announcement (the fallback mode, in which
/// writers have no heavy fence).
bool readersFence() noexcept;
/// The head of the record list (for forEachRecord).
ReaderRecord *firstRecord() noexcept;

// Platform fences, each in its own file; every one returns false where it is unavailable.
bool membarrierRegister() noexcept;
bool membarrierFence() noexcept;
bool ipiAvailable() noexcept;
bool ipiFence() noexcept;
bool flushProcessWriteBuffers() noexcept;
void ipiLockForFork() noexcept;
void ipiUnlockAfterFork() noexcept;

/// In a forked child: every record but the calling thread's belonged to a thread that does not
/// exist here; clears them.
void resetRecordsInChild() noexcept;

template <typename F>
void forEachRecord(F &&f)
{
    for (ReaderRecord *r = firstRecord(); r != nullptr; r = r->next)
        f(r);
}

} // namespace rio::detail::hazard
