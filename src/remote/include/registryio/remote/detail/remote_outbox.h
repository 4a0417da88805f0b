// SPDX-License-Identifier: MIT
#pragma once

#include <registryio/remote/remote_export.h>

#include <QByteArray>
#include <QtGlobal>

#include <optional>

namespace rio::detail {

/// The events one side of a share waits to send (type-erased: QDataStream bytes). Defined in the
/// library; the typed shims only hold it through std::shared_ptr.
struct RemoteOutbox;

/// Whether the event being notified on this thread goes on the wire, and as whose: nothing for an
/// event that came from the wire into this side (no echo) or, on a subscriber, while it is not
/// connected (then counted as dropped).
RIO_REMOTE_EXPORT std::optional<quint64> remoteOutboxWants(RemoteOutbox &box) noexcept;

/// Queues the bytes of one event for the wire; never blocks and never runs user code. Every
/// delivery: bounded, the oldest waiting event is dropped and counted; Latest: replaces the
/// waiting one.
RIO_REMOTE_EXPORT void remoteOutboxPush(RemoteOutbox &box, quint64 origin, QByteArray payload) noexcept;

/// Marks, for the duration of one local notify, that the event came from the wire as `origin`
/// into the side that owns `box`, so that its forwarding handler does not send it back.
class RIO_REMOTE_EXPORT RemoteInboundScope
{
public:
    /// Marks the current thread's next forwarding by `box`.
    RemoteInboundScope(const RemoteOutbox &box, quint64 origin) noexcept;
    /// Clears the mark, consumed or not.
    ~RemoteInboundScope();
    RemoteInboundScope(const RemoteInboundScope &) = delete;
    RemoteInboundScope &operator=(const RemoteInboundScope &) = delete;

private:
    quint64 m_previousKey;
    quint64 m_previousOrigin;
};

} // namespace rio::detail
