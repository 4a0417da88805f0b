// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/qt/delivery.h>

#include <QtGlobal>

#include <chrono>
#include <cstddef>

namespace rio {

/// How a shared registry sends its events to subscribers, and what it accepts from them. Every
/// subscriber has a backlog of its own at the source, with these options: a slow or stalled
/// subscriber costs its own events only.
struct RemoteShareOptions
{
    /// Every: each event is sent; Latest: coalesced per subscriber on the sending side, so that a
    /// slow link or subscriber never sees a backlog, only the newest event.
    Delivery delivery = Delivery::Every;
    /// Every: the most events waiting for the wire for one subscriber, beyond which `overflow`
    /// decides (drops are counted, and the subscriber sees the gap); 0 means unbounded. The default
    /// holds events of up to 2,000 bytes within RemoteListener's default backlogBytesBudget.
    std::size_t capacity = 65536;
    /// Every: what a subscriber's full backlog does with a new event: DropOldest (the default)
    /// drops its oldest waiting event, DropNewest the new one, Block makes `notify` wait for room.
    Overflow overflow = Overflow::DropOldest;
    /// Overflow::Block: the longest `notify` waits for room before it drops the event for the
    /// subscribers still full. Never waits on the share's own thread (it drops there at once).
    std::chrono::milliseconds blockTimeout{1000};
    /// A posted event larger than this (bytes of its QDataStream) drops the peer's connection.
    qint64 maxEventBytes = qint64(1) << 20;
    /// Keeps the newest event notified: a subscriber that connects, or reconnects, receives it
    /// first (once), before the events notified from then on.
    bool retainLatest = false;
};

} // namespace rio
