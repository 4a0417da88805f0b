// SPDX-License-Identifier: MIT
#pragma once

#include <registryio/remote/remote_export.h>

#include <QByteArray>
#include <QtGlobal>

#include <optional>

namespace rio::detail {

/// The events one side of a share waits to send, as QDataStream bytes (defined in the library).
struct RemoteOutbox;

/// As whose the event this thread notifies goes on the wire: nothing for one that came from the
/// wire into this side (no echo) or, on a subscriber, while disconnected (counted as dropped).
RIO_REMOTE_EXPORT std::optional<quint64> remoteOutboxWants(RemoteOutbox &box) noexcept;

/// Queues one event's bytes for the wire under the side's policy; never runs user code.
RIO_REMOTE_EXPORT void remoteOutboxPush(RemoteOutbox &box, quint64 origin, QByteArray payload) noexcept;

/// Marks for one local notify that the event came from the wire as `origin` into `box`'s side,
/// so that its forwarding handler does not send it back.
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
