// Reader records: one per thread, reused after the thread ends, never freed.

#include "domain.h"

#include <exception>
#include <new>

namespace rio::detail::hazard {

#if RIO_INLINE_READER_TLS
thread_local constinit ReaderRecord *threadRecord = nullptr;
#endif

namespace {

constinit std::atomic<ReaderRecord *> recordsHead{nullptr};

// The calling thread's record in every mode (threadRecord mirrors it in asymmetric modes).
thread_local constinit ReaderRecord *ownRecord = nullptr;
// Set once the thread's releaser ran: a later section (a thread_local destructor that notifies)
// gets a transient record, released again at its outermost exit.
thread_local constinit bool released = false;
thread_local constinit ReaderRecord *transientRecord = nullptr;

ReaderRecord *acquireRecord()
{
    for (ReaderRecord *r = recordsHead.load(std::memory_order_acquire); r; r = r->next) {
        bool expected = false;
        if (!r->inUse.load(std::memory_order_relaxed) &&
            r->inUse.compare_exchange_strong(expected, true, std::memory_order_acq_rel))
            return r;
    }
    auto *r = new ReaderRecord; // may throw: the caller decides
    r->inUse.store(true, std::memory_order_relaxed);
    ReaderRecord *head = recordsHead.load(std::memory_order_relaxed);
    do {
        r->next = head;
    } while (
        !recordsHead.compare_exchange_weak(head, r, std::memory_order_release, std::memory_order_relaxed));
    return r;
}

void releaseRecord(ReaderRecord *r) noexcept
{
    for (auto &slot : r->slots)
        slot.store(nullptr, std::memory_order_relaxed);
    for (auto &running : r->running)
        running.store(nullptr, std::memory_order_relaxed);
    r->overflow.store(0, std::memory_order_relaxed);
    r->depth.store(0, std::memory_order_relaxed);
    r->transient = false;
    r->inUse.store(false, std::memory_order_release);
}

// Releases the thread's record when the thread ends. It owns the record pointer itself: with
// MinGW's emulated TLS another thread_local may already be gone when this destructor runs.
struct Releaser
{
    ReaderRecord *record = nullptr;
    ~Releaser()
    {
        released = true;
#if RIO_INLINE_READER_TLS
        threadRecord = nullptr;
#endif
        ownRecord = nullptr;
        if (record != nullptr)
            releaseRecord(record);
    }
};

ReaderRecord *registerThread() noexcept
{
    initialize();
    try {
        static thread_local Releaser releaser;
        ReaderRecord *r = acquireRecord();
        releaser.record = r;
        ownRecord = r;
#if RIO_INLINE_READER_TLS
        if (fenceMode() != FenceMode::Fallback && !RIO_SEQ_CST_OPS)
            threadRecord = r; // from now on this thread enters inline
#endif
        return r;
    } catch (...) {
        // No memory for a thread's first record: a noexcept notify has nothing sensible left.
        std::terminate();
    }
}

} // namespace

ReaderRecord *firstRecord() noexcept
{
    return recordsHead.load(std::memory_order_acquire);
}

std::size_t recordCount() noexcept
{
    std::size_t n = 0;
    forEachRecord([&n](ReaderRecord *) { ++n; });
    return n;
}

ReaderRecord *currentRecord() noexcept
{
    return ownRecord != nullptr ? ownRecord : transientRecord;
}

void prepareThread() noexcept
{
    if (ownRecord == nullptr && !released)
        registerThread();
}

SlowEntry acquireSlow() noexcept
{
    ReaderRecord *r = ownRecord;
    if (r == nullptr) {
        if (!released) {
            r = registerThread();
        } else if ((r = transientRecord) == nullptr) {
            try {
                r = acquireRecord();
            } catch (...) {
                std::terminate();
            }
            r->transient = true;
            transientRecord = r;
        }
    }
    const std::uint32_t d = r->depth.load(std::memory_order_relaxed);
    r->depth.store(d + 1, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (d >= slotCount) {
        // Nested too deep for a slot: pin everything while this section lasts.
        r->overflow.fetch_add(1, std::memory_order_seq_cst);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        return {r, nullptr, d};
    }
    return {r, &r->slots[d], d};
}

void releaseSlow(ReaderRecord *r, std::uint32_t depth, bool overflow) noexcept
{
    if (overflow) {
        r->overflow.fetch_sub(1, RIO_SEQ_CST_OPS ? std::memory_order_seq_cst : std::memory_order_release);
        std::atomic_signal_fence(std::memory_order_seq_cst);
        r->depth.store(depth, std::memory_order_relaxed);
    }
    if (depth == 0 && r->transient) {
        transientRecord = nullptr;
        releaseRecord(r);
    }
}

void resetRecordsInChild() noexcept
{
    const ReaderRecord *self = currentRecord();
    forEachRecord([self](ReaderRecord *r) {
        if (r != self && r->inUse.load(std::memory_order_relaxed))
            releaseRecord(r);
    });
}

} // namespace rio::detail::hazard
