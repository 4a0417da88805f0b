// SPDX-License-Identifier: MIT
#pragma once

// Internal interface between the parts of the reclamation domain (not installed).

#include <registryio/detail/hazard.h>

namespace rio::detail::hazard {

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
