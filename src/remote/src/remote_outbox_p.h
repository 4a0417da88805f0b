// SPDX-License-Identifier: MIT
#pragma once

#include <registryio/qt/delivery.h>
#include <registryio/remote/remote_outbox.h>

#include <QByteArray>
#include <QObject>
#include <QThread>

#include <atomic>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace rio::detail {

// Frames one turn of a pump (the share's or a subscriber's) sends at most before it lets the
// thread's other work run.
inline constexpr int RemoteFramesPerTurn = 8;

/// One event waiting for the wire.
struct RemoteOutgoing
{
    quint64 origin = 0;
    quint64 sequence = 0;
    QByteArray payload;
};

struct RemoteOutbox : std::enable_shared_from_this<RemoteOutbox>
{
    /// A random id: the subscriber's origin on the wire, and the inbound mark's key.
    const quint64 key;
    /// Subscriber side: sends as `key`, drops while disconnected, never echoes inbound events.
    const bool subscriberSide;
    const Delivery delivery;
    const std::size_t capacity;

    std::atomic<bool> connected{false};
    std::atomic<quint64> dropped{0};
    std::atomic<quint64> droppedDisconnected{0};
    std::atomic<std::size_t> pending{0};

    RemoteOutbox(bool subscriber, Delivery d, std::size_t cap);

    /// Owner side, on its thread: where and what sends. `send` runs on `pump`'s thread.
    void attach(QObject *pump, std::function<void()> send);
    /// Owner side, Every delivery only: an event pushed on the pump's thread while nothing waits
    /// or is scheduled and `isIdle()` says the wire has nothing left to write is given to
    /// `sendNow` at once (no queueing, no copy, no waiting for a turn); later ones queue until
    /// the pump's turn, which sends them together.
    void attachDirect(std::function<bool()> isIdle, std::function<void(RemoteOutgoing &)> sendNow);
    /// Owner side, before it dies: no more sending scheduled.
    void detach();
    /// Takes up to `max` waiting events, oldest first (the newest alone with Latest), and no
    /// more after their payloads reach `maxBytes` (always at least one when any waits).
    std::vector<RemoteOutgoing> take(std::size_t max, qsizetype maxBytes);
    /// Schedules a send on the pump's thread when events wait (at most one scheduled at a time).
    void schedule();
    /// Drops everything waiting (the connection went away).
    std::size_t discard();

    void push(quint64 origin, QByteArray payload) noexcept;

private:
    void scheduleLocked();

    std::mutex m_mutex;
    std::deque<RemoteOutgoing> m_queue;
    std::optional<RemoteOutgoing> m_latest;
    quint64 m_nextSequence = 1;
    bool m_scheduled = false;
    QObject *m_pump = nullptr;
    std::shared_ptr<std::function<void()>> m_send;
    std::atomic<QThread *> m_pumpThread{nullptr};
    std::function<bool()> m_isIdle;                  // pump thread only
    std::function<void(RemoteOutgoing &)> m_sendNow; // pump thread only
};

/// A random non-zero 64-bit id.
quint64 randomRemoteId();

} // namespace rio::detail
