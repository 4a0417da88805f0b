// SPDX-License-Identifier: MIT
// What the dashboard shows of the flood: ten snapshots a second, as QVariantMaps for QML.
#pragma once

#include "flood.h"

#include <QAbstractItemModel>
#include <QVariantMap>

#include <array>
#include <chrono>

/// What one pending delivery holds on the heap, measured before the workers start.
struct QueueCosts
{
    qint64 perQueuedSignal = 0;  ///< each queued Qt signal
    qint64 perPendingLatest = 0; ///< a coalesced handler's one pending delivery, however many notifies
};

/// Measures QueueCosts: 2,000 queued signals, and 2,000 notifies of one coalesced handler, to a
/// receiver on this thread before it runs an event loop (glibc's mallinfo2, main arena).
QueueCosts measureQueueCosts();

/// The process's resident memory.
qint64 residentBytes();

/// Turns the counters of the flood and its receivers into snapshots.
class Monitor
{
public:
    /// Watches `flood`, its receivers and the window's two keyed tables (see tableState()).
    Monitor(const Flood &flood, const Receiver &qtSide, const Receiver &registrySide, const Receiver &uiSide,
            QueueCosts costs, const QAbstractItemModel &qtTable, const QAbstractItemModel &latestTable);

    /// A snapshot: `seq`, `seconds`, `published` (events/s per worker), `fps`, `rssBytes`, and
    /// for each side (`qt`, `registry`): `queued`, `latencyMs`, `memoryBytes`, `behind` (events
    /// published since the newest one shown), `perSecond` (updates taken), `capped`, `skipped`;
    /// for the UI-thread route (`ui`): `queued`, `latencyMs`; for each table (`qtTable`,
    /// `latestTable`): `rows`, `current`, `behind` (TableState).
    /// Rates are over the time since the previous snapshot; `frames` counts frames swapped.
    QVariantMap snapshot(qint64 frames);

private:
    const Flood &m_flood;
    const Receiver &m_qt;
    const Receiver &m_registry;
    const Receiver &m_ui;
    QueueCosts m_costs;
    const QAbstractItemModel &m_qtTable;
    const QAbstractItemModel &m_latestTable;
    qint64 m_seq = 0;
    qint64 m_frames = 0, m_qtHandled = 0, m_registryHandled = 0, m_skipped = 0;
    std::array<qint64, Receiver::kWorkers> m_published{};
    std::chrono::steady_clock::time_point m_started = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point m_at = m_started;
};
