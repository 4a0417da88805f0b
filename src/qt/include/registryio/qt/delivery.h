// SPDX-License-Identifier: MIT
#pragma once

#include <QtCore/qnamespace.h>

#include <chrono>
#include <cstddef>

namespace rio {

/// How queued deliveries of one handler are batched: every event, or only the newest pending one.
enum class Delivery {
    /// Every notify queues its own delivery (the default), up to HandlerOptions::capacity.
    Every,
    /// Coalesced: at most one pending delivery per handler; a newer event replaces its payload,
    /// and the last event is always delivered. Uses no memory per event; a small trivially
    /// copyable event to a Queued handler is written without a lock or an allocation while a delivery is
    /// scheduled.
    Latest,
};

/// What a queued delivery does when its handler already has `capacity` deliveries waiting.
enum class Overflow {
    /// The oldest waiting delivery is dropped for the new one (the default: a UI wants the
    /// newest data).
    DropOldest,
    /// The new delivery is dropped; the waiting ones stay.
    DropNewest,
    /// The notifying thread waits up to HandlerOptions::blockTimeout for room, then drops the
    /// new delivery. Never waits on the receiver's own thread (it drops the new one there).
    Block,
};

/// How a QtRegistry handler with a context runs: its priority, its connection type and the
/// options of its queued deliveries. Dropped deliveries are counted
/// (QtRegistryBase::droppedCount), signalled (QtRegistryBase::deliveriesDropped) and logged to
/// the `registryio` category at most once a second per registry: never silent.
struct HandlerOptions
{
    /// The default capacity: a runaway producer stops growing memory at about this many waiting
    /// events per handler (about 48 bytes each for a small event or a QVariant), far above what
    /// a responsive receiver ever has waiting.
    static constexpr std::size_t DefaultCapacity = 1'000'000;

    /// Higher priorities run first; equal priorities in registration order.
    int priority = 0;
    /// Auto (the default: directly when notified on the context's thread, queued otherwise),
    /// Direct, Queued or BlockingQueued (the notifier waits; refused from the context's own
    /// thread), optionally OR'd with Qt::UniqueConnection (member functions only) or
    /// Qt::SingleShotConnection (as `once`).
    Qt::ConnectionType connection = Qt::AutoConnection;
    /// Every (queue each event) or Latest (coalesce to the newest).
    Delivery delivery = Delivery::Every;
    /// Every: the most deliveries that wait for this handler at once; 0 means unbounded (as a
    /// Qt queued connection).
    std::size_t capacity = DefaultCapacity;
    /// Every: what happens when `capacity` deliveries already wait.
    Overflow overflow = Overflow::DropOldest;
    /// Overflow::Block: the longest a notifying thread waits for room.
    std::chrono::milliseconds blockTimeout{1000};
    /// Latest: the shortest time between two deliveries to this handler (0: the next event-loop
    /// turn). Events in between are coalesced; the newest is always delivered.
    std::chrono::milliseconds minInterval{0};
    /// The handler runs at most once, then it is removed.
    bool once = false;
};

} // namespace rio
