// SPDX-License-Identifier: MIT
#pragma once
// Reading a connection, and what a node keeps of the client side of its connections.

#include <QObject>

namespace rio::detail {

// Past this, the room a connection's buffer took for a large packet goes back once it is empty.
inline constexpr qsizetype ReleasedAbove = 65536;

// The most a connection's socket buffers of what it reads from the system (0: no limit).
void setReadLimit(QIODevice *socket, qint64 bytes);
// Appends what `socket` holds to `buffer` and returns the bytes read; a socket whose buffer (of
// `limit` bytes) was full reads from the system again.
qint64 readInto(QIODevice *socket, QByteArray &buffer, qint64 limit);

// One connectToSource() connection's bytes read since it connected, told at most every
// ClaimIntervalMs while bytes arrive; a subscriber on it tells the source (RemoteSource::took()),
// which sees a reader's progress that TCP hides until about a segment was read.
class ClientLink final : public QObject
{
    Q_OBJECT

public:
    using QObject::QObject;
    quint64 received = 0;
    quint64 told = 0; // the last `received` a subscriber told: one claim per link, not per subscriber
    qint64 held = 0;  // bytes the pipe holds: packets not yet whole, or not yet read by the node

Q_SIGNALS:
    void progressed(quint64 received);
};

// A quarter of a source's deadline pass at its defaults (1 s).
inline constexpr int ClaimIntervalMs = 250;

// The link whose packets the node reads on this thread: a subscriber finds its replicas' link.
inline thread_local ClientLink *t_clientLink = nullptr;

/// The node property that holds a node's TLS configuration (setRemoteTlsConfiguration).
inline constexpr const char *RemoteTlsConfigurationProperty = "_rio_remote_tls";

} // namespace rio::detail
