// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/qt/logging.h> // lcRegistryIORemote(), the category a listener warns in
#include <registryio/remote/remote_export.h>

#include <QList>
#include <QObject>
#include <QString>
#include <QUrl>

#include <chrono>
#include <memory>
#include <utility>
#include <vector>

QT_BEGIN_NAMESPACE
class QIODevice;
class QRemoteObjectHost;
class QSslConfiguration;
class QSslSocket;
QT_END_NAMESPACE

namespace rio {

/// Accepts a QRemoteObjectHost's connections itself, to restrict and watch them: `local:` for the same
/// user only, TCP or TLS on request; a peer sending a malformed or oversized packet is dropped; shares
/// see each connection's write buffer (their flow control), Qt Remote Objects keeping its protocol.
/// A slot of its signals destroys it with deleteLater(), as with Qt's sockets, never with delete.
class RIO_REMOTE_EXPORT RemoteListener : public QObject
{
    Q_OBJECT

public:
    /// Limits per connection, and the budget of the process.
    struct Options
    {
        /// A connection that announces a Qt Remote Objects packet larger than this is dropped.
        qint64 maxPacketBytes = (qint64(1) << 20) + 65536;
        /// Shares stop sending while any connection has more than this waiting to be written.
        qint64 highWaterBytes = qint64(1) << 20;
        /// The most bytes packets not yet whole may hold in this process (every listener); past it,
        /// the connections whose packet has been incomplete longest are dropped until it holds.
        qint64 incompleteBytesBudget = qint64(16) << 20;
        /// A connection with more than this waiting to be written when a write comes (it does not
        /// read what the source sends or answers) is dropped, and the write is not queued.
        qint64 maxQueuedBytes = qint64(8) << 20;
        /// The most bytes that may wait to be written in this process (every listener): a write that
        /// would pass it first drops the connections whose peers have taken nothing for longest.
        qint64 queuedBytesBudget = qint64(64) << 20;
        /// The most bytes subscriptions' backlogs (an event: its bytes and 48) may hold in the process.
        /// Past it, connections that do not read go, lossy (DropOldest, DropNewest) backlogs lose their
        /// oldest, and only then do lossless (Block, Latest) ones make those sent nothing for longest go.
        qint64 backlogBytesBudget = qint64(128) << 20;
        /// A connection that holds part of a packet and completes none for this long is dropped.
        std::chrono::milliseconds progressTimeout{30000};
        /// A connection that has not sent one whole packet this long after it connected (its TLS
        /// handshake included) is dropped.
        std::chrono::milliseconds handshakeTimeout{10000};
    };

    /// A listener for `host` (which must live on the calling thread and have no URL of its own),
    /// owned by it by default. Create it, and listen, before sharing on the host.
    explicit RemoteListener(QRemoteObjectHost *host, Options options, QObject *parent = nullptr);
    /// As above, with the default limits.
    explicit RemoteListener(QRemoteObjectHost *host, QObject *parent = nullptr);
    /// Closes the server and every connection.
    ~RemoteListener() override;

    /// Listens on `local:<name>` (same user only; a stale socket left by a killed process is
    /// replaced, a live one is not) or `tcp://<address>:<port>` (port 0: any free port). False,
    /// with errorString(), on failure or another scheme.
    bool listen(const QUrl &url);
    /// Listens on `tls://<address>:<port>` with `configuration` (this side's certificate and key; with
    /// VerifyPeer and CA certificates, subscribers must chain to them), dropping with a warning a peer
    /// not through the handshake within Options::handshakeTimeout. False, with errorString(), on
    /// failure, another scheme, or no local certificate.
    bool listen(const QUrl &url, const QSslConfiguration &configuration);
    /// The address peers connect to (the real port for tcp port 0).
    [[nodiscard]] QUrl address() const;
    /// Why listen() failed.
    [[nodiscard]] QString errorString() const;
    /// Open connections.
    [[nodiscard]] int connectionCount() const noexcept;
    /// The ids of the open connections, in no order.
    [[nodiscard]] QList<quint64> connections() const;
    /// Whether connection `id` has room to write (below highWaterBytes; true once it is gone).
    [[nodiscard]] bool hasRoom(quint64 id) const noexcept;
    /// Whether connection `id` has no bytes left to write (true once it is gone).
    [[nodiscard]] bool isIdle(quint64 id) const noexcept;
    /// Bytes connection `id` has waiting to be written (0 once it is gone).
    [[nodiscard]] qint64 bytesToWrite(quint64 id) const noexcept;
    /// Who is at the other end of connection `id`, for people ("127.0.0.1:50312",
    /// "local:orders pid 4242 uid 1000").
    [[nodiscard]] QString peerName(quint64 id) const;
    /// Connection `id` as every warning that drops it names it: "connection 7 (127.0.0.1:50312)".
    [[nodiscard]] QString connectionName(quint64 id) const;
    /// Bytes that packets not yet whole hold now, across every listener of this process.
    [[nodiscard]] static qint64 incompleteBytes() noexcept;
    /// Bytes waiting to be written now as queuedBytesBudget counts them (every listener).
    [[nodiscard]] static qint64 unsentBytes() noexcept;
    /// Bytes subscriptions' backlogs hold as backlogBytesBudget counts them (every listener), as
    /// each share tells it after every turn of its thread that changed them.
    [[nodiscard]] static qint64 backlogBytes() noexcept;
    /// Peers dropped so far (for what they sent, a limit or a deadline).
    [[nodiscard]] quint64 rejectedCount() const noexcept;
    /// Calls of accept() that failed so far (at the open-file limit, say), warned about once per
    /// episode. The listener keeps its socket and name through them, retrying every 100 ms.
    [[nodiscard]] quint64 acceptFailures() const noexcept;
    /// The listener of `host`, if it has one.
    static RemoteListener *of(const QRemoteObjectHost *host);
    /// Drops the connection whose bytes are being read now (from inside a slot that Qt Remote
    /// Objects invokes for it), with a warning; false when no listener's connection is being read.
    static bool rejectCurrentPeer(const QString &reason);
    /// Whether the connection being read now was rejected (its remaining packets are ignored).
    static bool isCurrentPeerRejected();
    /// Drops connection `id` with a warning giving `reason` (peerRejected, counted in
    /// rejectedCount()); false when it is not one of this listener's open connections.
    bool dropConnection(quint64 id, const QString &reason);
    /// Stops reading connection `id` (what it sends waits in its socket, then in the kernel,
    /// then in the peer) until resumeReading() as often; false when it is not open here.
    bool pauseReading(quint64 id);
    /// Undoes one pauseReading(); the connection is read again once none is left.
    void resumeReading(quint64 id);
    /// Counts a subscription of connection `id` that has not acquired its channel against the
    /// process's budget of 256 (past it, the connections with the most go). False, counting
    /// nothing, when `id` went that way itself or is not open here.
    bool holdUnready(quint64 id);
    /// One subscription counted by holdUnready() acquired its channel, or went.
    void releaseUnready(quint64 id);
    /// Connection `id`'s peer says it has read `bytes` of it since it connected (shares call it): a
    /// claim that grew counts as its reading for at most five stall waits after its system last
    /// took bytes. Empty, or what is wrong with a claim that cannot be true (the caller drops it).
    [[nodiscard]] QString noteReceived(quint64 id, quint64 bytes);
    /// The host remotes `object` as `name` (null: no longer): a peer invoking it unacquired, or with other
    /// types than its class's API (or its Q_CLASSINFO-named base's) takes, is dropped before Qt Remote
    /// Objects reads the packet. With an `owner` connection (a channel), another connection that
    /// acquires it must become its owner within handshakeTimeout.
    void addSource(const QString &name, const QObject *object, quint64 owner = 0);
    /// The id of the connection being read now (from inside a slot that Qt Remote Objects invokes
    /// for it): unique in the process, never reused; 0 when no listener's connection is being read.
    static quint64 currentConnection();

Q_SIGNALS:
    /// A connection found without room (hasRoom() false) has room again, or one closed.
    void drained();
    /// A peer was disconnected for what it sent, a limit or a deadline (also warned about).
    void peerRejected(const QString &reason);
    /// A connection opened or closed.
    void connectionCountChanged(int count);
    /// Connection `id` closed (shares forget the subscribers that came through it).
    void connectionClosed(quint64 id);

private:
    Q_INVOKABLE void dropShed(); // drops what another listener's budget check left for this one
    bool start(const QUrl &url, const QSslConfiguration *tls);
    bool listenLocal(const QUrl &url);
    bool listenTcp(const QUrl &url, const QSslConfiguration *tls);
    void accepted(QIODevice *socket);
    void acceptFailed(const QString &why);
    void beginHandshake(QSslSocket *socket);
    void rejectHandshake(const QString &reason);
    void accept(QIODevice *socket, qint64 connectedAt);
    [[nodiscard]] QString nameOf(QIODevice *socket) const;
    void pump(quint64 id);
    bool read(quint64 id);
    void checkDeadlines();
    void checkHandshakes(qint64 now);
    qint64 write(quint64 id, const char *data, qint64 size);
    void dropAll(const std::vector<std::pair<quint64, QString>> &drops, bool later = false);
    void drop(quint64 id, const QString &reason, bool later = false);
    void closed(quint64 id);
    void forget(quint64 id);

    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace rio
