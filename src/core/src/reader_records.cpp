// SPDX-License-Identifier: MIT
// Reader records: one per thread (plus one per further 8 levels of nesting), reused after the
// thread ends, never freed.

#include "diagnostics_p.h"
#include "domain.h"

#include <exception>
#include <new>

#if defined(_WIN32) && !defined(__MINGW32__)
#define RIO_RECORD_KEY_FLS 1
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#define RIO_RECORD_KEY_FLS 0
#include <pthread.h>
#if defined(_WIN32)
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#endif
#endif

namespace rio::detail::hazard {

namespace {

// Never used as a record: threadSlot's "not registered" value is its cells[slotCount], whose
// address has outOfLineBit set.
constinit ReaderRecord unregistered;

} // namespace

#if RIO_INLINE_READER_TLS
thread_local constinit std::atomic<std::atomic<const void *> *> threadSlot{&unregistered.cells[slotCount]};
#else
namespace {
thread_local constinit std::atomic<std::atomic<const void *> *> threadSlot{&unregistered.cells[slotCount]};
} // namespace
#endif

namespace {

constinit std::atomic<ReaderRecord *> recordsHead{nullptr};
constinit std::atomic<std::size_t> recordsCount{0};

// The calling thread's first record, in every mode.
thread_local constinit ReaderRecord *ownRecord = nullptr;

#if defined(_WIN32)
// Windows: a notify from a C++ thread_local destructor that runs after the thread's records were
// released (MinGW-w64 runs winpthreads' key destructors before the CRT's thread_local
// destructors, and by then its emulated TLS is gone, so nothing can tell the notify that the
// thread is ending) registers the thread anew, and nothing releases that record. So every
// record remembers its thread's id, and a thread that finds no free record takes back one whose
// thread has ended before allocating another: records stay bounded by the threads alive at once.
struct OwnedRecord : ReaderRecord
{
    std::atomic<DWORD> owner{0}; // the thread using the record, 0 when free
};

OwnedRecord *owned(ReaderRecord *r) noexcept
{
    return static_cast<OwnedRecord *>(r); // every record of the list is one (acquireRecord)
}

// True only when the thread `id` certainly ended: no thread has that id any more, or the thread
// that has it ended. (An id reused by a live thread keeps the record: a leak, never a misuse.)
bool threadEnded(DWORD id) noexcept
{
    HANDLE h = OpenThread(SYNCHRONIZE, FALSE, id);
    if (h == nullptr)
        return GetLastError() == ERROR_INVALID_PARAMETER;
    const bool ended = WaitForSingleObject(h, 0) == WAIT_OBJECT_0;
    CloseHandle(h);
    return ended;
}

void clearRecord(ReaderRecord *r) noexcept
{
    for (auto &cell : r->cells)
        cell.store(nullptr, std::memory_order_relaxed);
    r->deeper = nullptr; // a deeper record of the ended thread is taken back on its own
}

// A record in use by a thread that ended, now the calling thread's; or null.
ReaderRecord *reclaimFromEndedThread() noexcept
{
    for (ReaderRecord *r = recordsHead.load(std::memory_order_acquire); r; r = r->next) {
        DWORD id = owned(r)->owner.load(std::memory_order_acquire);
        if (id == 0 || id == GetCurrentThreadId() || !r->inUse.load(std::memory_order_acquire) ||
            !threadEnded(id))
            continue;
        if (owned(r)->owner.compare_exchange_strong(id, GetCurrentThreadId(), std::memory_order_acq_rel)) {
            clearRecord(r);
            return r;
        }
    }
    return nullptr;
}
#endif

ReaderRecord *acquireRecord()
{
    for (ReaderRecord *r = recordsHead.load(std::memory_order_acquire); r; r = r->next) {
        bool expected = false;
        if (!r->inUse.load(std::memory_order_relaxed) &&
            r->inUse.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
#if defined(_WIN32)
            owned(r)->owner.store(GetCurrentThreadId(), std::memory_order_release);
#endif
            return r;
        }
    }
#if defined(_WIN32)
    if (ReaderRecord *r = reclaimFromEndedThread())
        return r;
    auto *r = new OwnedRecord; // may throw: the caller decides
    r->owner.store(GetCurrentThreadId(), std::memory_order_relaxed);
#else
    auto *r = new ReaderRecord; // may throw: the caller decides
#endif
    r->inUse.store(true, std::memory_order_relaxed);
    ReaderRecord *head = recordsHead.load(std::memory_order_relaxed);
    do {
        r->next = head;
    } while (
        !recordsHead.compare_exchange_weak(head, r, std::memory_order_release, std::memory_order_relaxed));
    recordsCount.fetch_add(1, std::memory_order_relaxed);
    return r;
}

// Gives a thread's records back for reuse (its sections are all closed).
void releaseRecords(ReaderRecord *r) noexcept
{
    while (r != nullptr) {
        ReaderRecord *deeper = r->deeper;
        for (auto &cell : r->cells)
            cell.store(nullptr, std::memory_order_relaxed);
        r->deeper = nullptr;
#if defined(_WIN32)
        owned(r)->owner.store(0, std::memory_order_relaxed);
#endif
        r->inUse.store(false, std::memory_order_release);
        r = deeper;
    }
}

// Thread exit: a key destructor, not a thread_local one, because key destructors run after
// every C++ thread_local destructor (one of those may still notify), and run again if such a
// late notify registered the thread anew. The record comes as the key's value: with MinGW's
// emulated TLS our own thread_locals may already be gone.
void onThreadExit(void *record) noexcept
{
    threadSlot.store(&unregistered.cells[slotCount], std::memory_order_relaxed);
    ownRecord = nullptr;
    releaseRecords(static_cast<ReaderRecord *>(record));
}

#if RIO_RECORD_KEY_FLS
void WINAPI flsExit(void *record)
{
    if (record != nullptr)
        onThreadExit(record);
}
DWORD recordKey() noexcept
{
    static const DWORD key = FlsAlloc(&flsExit);
    return key;
}
bool setKey(ReaderRecord *r) noexcept
{
    return recordKey() != FLS_OUT_OF_INDEXES && FlsSetValue(recordKey(), r);
}
#else
extern "C" void rioOnThreadExit(void *record)
{
    onThreadExit(record);
}
pthread_key_t *recordKey() noexcept
{
    static pthread_key_t *key = [] {
        static pthread_key_t k;
        return pthread_key_create(&k, &rioOnThreadExit) == 0 ? &k : static_cast<pthread_key_t *>(nullptr);
    }();
    return key;
}
bool setKey(ReaderRecord *r) noexcept
{
    pthread_key_t *key = recordKey();
    return key != nullptr && pthread_setspecific(*key, r) == 0;
}
#endif

ReaderRecord *registerThread() noexcept
{
    initialize();
    ReaderRecord *r = nullptr;
    try {
        r = acquireRecord();
    } catch (...) {
        // No memory for a thread's first record: a notify has nothing sensible left.
        std::terminate();
    }
    // Without a key (none left) the record is never released: a leak, never an error.
    (void)setKey(r);
    ownRecord = r;
    // From now on this thread enters inline, unless its slots have outOfLineBit set (fallback).
    threadSlot.store(&r->cells[hazardBase()], std::memory_order_relaxed);
    return r;
}

} // namespace

ReaderRecord *firstRecord() noexcept
{
    return recordsHead.load(std::memory_order_acquire);
}

std::size_t recordCount() noexcept
{
    return recordsCount.load(std::memory_order_relaxed);
}

bool ownsRecord(const ReaderRecord *r) noexcept
{
    for (const ReaderRecord *own = ownRecord; own != nullptr; own = own->deeper)
        if (own == r)
            return true;
    return false;
}

void prepareThread() noexcept
{
    if (ownRecord == nullptr)
        registerThread();
    diag::record(); // its diagnostics' run record and name: none made by a timed notify then
}

std::uint32_t hazardBase() noexcept
{
    return fenceMode() == FenceMode::Fallback ? slotCount : 0;
}

std::uint32_t hazardSlots() noexcept
{
    return fenceMode() == FenceMode::Fallback ? slotCount - 1 : slotCount;
}

std::atomic<const void *> *runningCell() noexcept
{
    return threadSlot.load(std::memory_order_relaxed) - 1 + slotCount;
}

std::atomic<const void *> *acquireSlow() noexcept
{
    if (ownRecord == nullptr)
        registerThread();
    std::atomic<const void *> *slot = threadSlot.load(std::memory_order_relaxed);
    // Past the last slot of its record: nesting deeper than a record holds chains another.
    const std::uint32_t last = hazardBase() + hazardSlots();
    for (ReaderRecord *r = recordOf(slot); slot == &r->cells[last]; r = r->deeper) {
        if (r->deeper == nullptr) {
            try {
                r->deeper = acquireRecord();
            } catch (...) {
                std::terminate();
            }
        }
        slot = &r->deeper->cells[hazardBase()];
    }
    threadSlot.store(slot + 1, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    return slot;
}

#if !RIO_INLINE_READER_TLS
void releaseSlow(std::atomic<const void *> *slot) noexcept
{
    threadSlot.store(slot, std::memory_order_relaxed);
}
#endif

void resetRecordsInChild() noexcept
{
    forEachRecord([](ReaderRecord *r) {
        if (!ownsRecord(r) && r->inUse.load(std::memory_order_relaxed)) {
            r->deeper = nullptr; // a thread's deeper records are in the list too: released in turn
            releaseRecords(r);
        }
    });
}

} // namespace rio::detail::hazard
