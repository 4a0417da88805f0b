// SPDX-License-Identifier: MIT
#pragma once

// What the serving module (inspect_server.cpp) and registryio-inspect agree on: two Remote shares
// of QByteArray events, each a qCompress'ed JSON document, sent while someone subscribes.

#include <QString>

namespace rio::inspect {

/// The share of Diagnostics::toJson() (the snapshots the in-app inspector reads), every
/// snapshotIntervalMs while subscribed; the newest is kept for a subscriber that arrives.
inline const QString snapshotShare = QStringLiteral("rio.diagnostics");
/// The share of Diagnostics::toTrace() (the frame timeline), every timelineIntervalMs while subscribed.
inline const QString timelineShare = QStringLiteral("rio.timeline");
/// How often each is sent while subscribed (ms).
inline constexpr int snapshotIntervalMs = 500;
inline constexpr int timelineIntervalMs = 1000;
/// The prefix of the names RIO_INSPECT=1 serves on (`rio-inspect-<application>-<pid>`), which
/// `registryio-inspect list` looks for.
inline const QString namePrefix = QStringLiteral("rio-inspect-");

} // namespace rio::inspect
