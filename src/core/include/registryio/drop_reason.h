// SPDX-License-Identifier: MIT
#pragma once

namespace rio {

/// Why queued deliveries were dropped (the index into HandlerInfo::drops).
enum class DropReason {
    /// The handler's queue was full (HandlerOptions::capacity and overflow).
    Overflow,
    /// The handler was removed while deliveries waited.
    Removed,
    /// The handler's context was destroyed while deliveries waited.
    ContextDestroyed,
    /// The handler was suspended while deliveries waited.
    Suspended,
    /// Memory ran out while queueing.
    NoMemory,
    /// Qt discarded a blocking delivery's event unrun, its context alive (removePostedEvents, an
    /// event filter that ate it, its thread's event loop gone).
    Discarded,
    /// A process-wide budget took it (Remote: a share's backlog thinned by backlogBytesBudget).
    Budget,
};

/// Number of DropReason values.
inline constexpr int dropReasonCount = 7;

namespace detail {
// DropReason's one name table, in its order: diagnostics' JSON keys, which the item model and
// the inspector show too.
inline constexpr const char *dropReasonNames[dropReasonCount] = {
    "overflow", "removed", "contextDestroyed", "suspended", "noMemory", "discarded", "budget"};
} // namespace detail

} // namespace rio
