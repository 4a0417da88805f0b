// SPDX-License-Identifier: MIT
#pragma once

#include <registryio/qt/delivery.h>

#include <QtGlobal>

#include <cstddef>

namespace rio {

/// How a shared registry sends its events to subscribers, and what it accepts from them.
struct RemoteShareOptions
{
    /// Every: each event is sent; Latest: coalesced on the sending side, so that a slow link or
    /// subscriber never sees a backlog, only the newest event.
    Delivery delivery = Delivery::Every;
    /// Every: the most events waiting for the wire at once (the oldest is dropped beyond it, and
    /// counted; subscribers see the gap). 0 means unbounded.
    std::size_t capacity = 65536;
    /// A posted event larger than this (bytes of its QDataStream) drops the peer's connection.
    qint64 maxEventBytes = qint64(1) << 20;
    /// Keeps the newest event sent: a subscriber that connects, or reconnects, receives it first
    /// (once), before the events notified from then on.
    bool retainLatest = false;
};

} // namespace rio
