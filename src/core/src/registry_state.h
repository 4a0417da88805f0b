// SPDX-License-Identifier: MIT
#pragma once

// A registry's writer state and its retired list: what the core library's writers share, behind
// the public headers (a notify reads none of it).

#include <registryio/detail/registry_core.h>
#include <registryio/detail/writer_lock.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rio::detail {

/// A registry's retired objects, its reclaim passes' schedule and the destruction chains in
/// flight (reclamation.cpp). Under the registry's lock, except the atomics.
struct RetiredList
{
    Retired *boxes = nullptr;  // removed handler boxes
    Retired *others = nullptr; // replaced arrays and exception callbacks (few)
    std::size_t pending = 0;   // objects on both lists
    std::size_t pendingBytes = 0;
    std::atomic<std::size_t> pendingPublic{0};          // `pending`, for pendingCount() without the lock
    std::size_t nextPass = passBatch;                   // the next pass when this many are pending...
    std::size_t nextPassBytes = std::size_t{64} * 1024; // ...or this many bytes
    std::uint64_t retireSeq = 0;                        // the last retired object's number
    std::uint64_t fencedSeq = 0;    // everything retired up to this was unpublished before a fence
    DestroyFrame *chains = nullptr; // chains being destroyed, all threads
    std::uint64_t chainNumber = 0;  // the last chain's number

    /// Puts `r` on its list (numbered). Inline: every removal retires its box.
    void retire(Retired *r) noexcept
    {
        r->seq = ++retireSeq;
        Retired **list = r->kind == Retired::Kind::Handler ? &boxes : &others;
        r->next = *list;
        *list = r;
        ++pending;
        pendingBytes += r->bytes;
        pendingPublic.store(pending, std::memory_order_relaxed);
    }
    /// True when the pending objects call for a pass.
    [[nodiscard]] bool passDue() const noexcept
    {
        return pending >= nextPass || pendingBytes >= nextPassBytes;
    }
};

/// A registry's writer state: allocated by its first add (or exception callback, or link), so
/// that an empty registry costs a few stores to construct and destroy, and joins the
/// process-wide list fork() locks (process_life.cpp) only then. Every writer takes `writerLock`.
struct RegistryState
{
    WriterLock writerLock;
    std::atomic<std::size_t> live{0}; // registered handlers (read without the lock by size())
    std::uint64_t lastId = 0;
    std::uint64_t version = 0;
    std::size_t lastCapacity = 0; // the flat array's capacity when the registry last emptied
    // Sorted by id: the box (live, or removed and pending), then chainTag(n) once the pass whose
    // chain is number n took it, or 0. Entries of destroyed handlers are dropped in batches. An
    // entry holding a box is at that box's byIdIndex.
    std::vector<std::pair<std::uint64_t, std::uintptr_t>> byId;
    std::size_t byIdNulls = 0; // entries of removed handlers since the last batch
    RetiredList retired;
    std::shared_ptr<RegistryLink> link;
    // The exception callback (read by failure reports through a hazard slot): here, not in the
    // registry, so that constructing a registry stores nothing for it.
    std::atomic<CallbackBox *> callback{nullptr};
    // Blocks of destroyed plain boxes (freePlainBox's), kept for the next adds of plain closures
    // (addPlain): at most `spareLimit`, each still a Retired with its block's `bytes`.
    Retired *spareBoxes = nullptr;
    std::size_t spareCount = 0;
    RegistryState *prev = nullptr; // the process-wide list of states (fork)
    RegistryState *next = nullptr;
    // Guards (HandlerGuard) hold the state itself, not a shared link: a guard's drop is one
    // round trip of the writer lock and no atomic counter of its own. The state outlives its
    // registry while guards hold it; the last of them frees it.
    RegistryCore *core = nullptr; // the registry, until its destruction begins (guards then do nothing)
    std::size_t guardHolds = 0;   // guards holding the state
    std::size_t guardPasses = 0;  // guards' reclaim passes running without the lock (~Registry waits)
    bool orphan = false;          // the registry is destroyed: the last guard hold frees the state
    // Diagnostics (diagnostics.cpp), under the lock.
    std::uint64_t serial = 0;    // process-unique, never reused (RegistryInfo::id)
    std::string name;            // setDiagnosticsName (a QtRegistry: its objectName)
    bool facade = false;         // a QtRegistry's: the Qt layer lists it and keeps its last record
    bool diagnosticsOwn = false; // enabled for this registry itself
    bool diagnosticsOn = false;  // published arrays are timed (own or process-wide)
    // The first add's event type, shared by its handlers' timing blocks (a run may outlive it).
    std::shared_ptr<const std::string> eventType;
    // Drops of layerTimed handlers that left the table (HandlerStats::leftTo), from the first
    // such add; freed by the last reference (the state's, or a handler's statistics).
    diag::HandlerStats *leftStats = nullptr;
};

/// Spare blocks a registry keeps for plain boxes (RegistryState::spareBoxes).
/// As many as a pass frees under churn, so that an add after a pass takes no malloc.
inline constexpr std::size_t spareLimit = passBatch;

} // namespace rio::detail
