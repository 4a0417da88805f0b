// SPDX-License-Identifier: MIT
#include <registryio/remote/remote_listener.h>

#include "remote_local_server_p.h"

#include <QAbstractSocket>
#include <QDataStream>
#include <QElapsedTimer>
#include <QFile>
#include <QHash>
#include <QHostAddress>
#include <QLocalSocket>
#include <QLoggingCategory>
#include <QMetaMethod>
#include <QPointer>
#include <QRemoteObjectHost>
#include <QSslConfiguration>
#include <QSslKey>
#include <QSslSocket>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>
#include <QtEndian>
#include <QtRemoteObjects/qconnectionfactories.h>

#ifdef Q_OS_LINUX
#include <sys/socket.h>
#endif

#include <algorithm>
#include <atomic>
#include <functional>
#include <utility>
#include <vector>

namespace rio {

namespace {

// Bytes held by packets not yet whole, across every listener of the process (listeners may live
// on different threads).
std::atomic<qint64> g_incompleteBytes{0};
// Bytes waiting to be written to connections, as last measured, across every listener.
std::atomic<qint64> g_queuedBytes{0};
// Subscriptions of connections that have not acquired their channel, across every listener.
std::atomic<qint64> g_unready{0};
// The most of those the process holds; past it, the connections with the most go.
constexpr qint64 UnreadyBudget = 256;

// Connection ids: unique in the process, never reused.
std::atomic<quint64> g_nextConnection{1};

// A whole Qt Remote Objects packet is at least its size, type and (empty) name: 4 + 2 + 4 bytes.
// Its reader consumes only whole packets and the 4-byte size of the next, so a read that consumed
// this much completed one.
constexpr qint64 SmallestPacketBytes = 10;

// A monotonic clock in ms, shared by the listeners' deadlines.
qint64 nowMs()
{
    static const QElapsedTimer clock = [] {
        QElapsedTimer timer;
        timer.start();
        return timer;
    }();
    return clock.elapsed();
}

constexpr const char *ListenerProperty = "_rio_remote_listener";
constexpr const char *RejectedProperty = "_rio_remote_rejected";

// The connection Qt Remote Objects is reading on this thread (between our two readyRead slots,
// which surround its own), so that a share's slot can name the peer it is serving.
struct CurrentPeer
{
    RemoteListener *listener = nullptr;
    QIODevice *socket = nullptr;
    quint64 id = 0;
};
thread_local CurrentPeer t_current;

// The order in which a budget's holders go: the most first, then the oldest connection.
bool holdsMore(qint64 a, quint64 aId, qint64 b, quint64 bId)
{
    return a != b ? a > b : aId < bId;
}

// A TCP peer's address and port, for people.
QString peerAt(const QAbstractSocket *socket)
{
    return QStringLiteral("%1:%2").arg(socket->peerAddress().toString()).arg(socket->peerPort());
}

// Closes a connection so that it emits disconnected(): Qt Remote Objects forgets it only then.
void abortSocket(QIODevice *socket)
{
    if (auto *local = qobject_cast<QLocalSocket *>(socket)) {
        local->disconnectFromServer();
        if (local->state() != QLocalSocket::UnconnectedState)
            local->abort();
    } else if (auto *tcp = qobject_cast<QAbstractSocket *>(socket)) {
        tcp->disconnectFromHost();
        if (tcp->state() != QAbstractSocket::UnconnectedState)
            tcp->abort();
    } else {
        socket->close();
    }
}

// A TCP server whose connections start a TLS handshake as its server side at once. The listener
// hears of each connection when it is accepted (so that it times the handshake from the TCP
// connect and settles each peer once) and takes it once encrypted. (QSslServer restarts its
// handshake timer when the first bytes arrive, reports its timeout as errorOccurred() and closes a
// connection whose first byte is not a ClientHello without a signal.)
class TlsServer final : public QTcpServer
{
public:
    TlsServer(const QSslConfiguration &configuration, std::function<void(QSslSocket *)> connected,
              QObject *parent)
        : QTcpServer(parent), m_configuration(configuration), m_connected(std::move(connected))
    { }

protected:
    void incomingConnection(qintptr descriptor) override
    {
        auto *socket = new QSslSocket(this);
        socket->setSslConfiguration(m_configuration);
        if (!socket->setSocketDescriptor(descriptor)) {
            delete socket;
            return;
        }
        m_connected(socket);
        socket->startServerEncryption();
    }

private:
    QSslConfiguration m_configuration;
    std::function<void(QSslSocket *)> m_connected;
};

} // namespace

struct RemoteListener::Private
{
    QPointer<QRemoteObjectHost> host;
    Options options;
    detail::RemoteLocalServer *local = nullptr;
    QTcpServer *tcp = nullptr;
    QUrl address;
    QString error;
    // One per connection: what its packet not yet whole holds, and since when it made progress.
    struct Peer
    {
        QPointer<QIODevice> socket;
        quint64 id = 0;             // the connection's id (never reused)
        QString name;               // who is at the other end
        qint64 connectedAt = 0;     // ms
        qint64 pendingSince = 0;    // ms: the packet being received began (or the last one completed)
        qint64 before = 0;          // bytes available when Qt Remote Objects started reading
        qint64 held = 0;            // bytes of a packet not yet whole, after its reading
        qint64 packetSince = 0;     // ms: the packet not yet whole began
        qint64 queued = 0;          // bytes waiting to be written, as last measured
        qint64 unready = 0;         // subscriptions that have not acquired their channel
        int pauses = 0;             // pauseReading() not yet resumed: Qt Remote Objects does not read
        QPointer<QObject> device{}; // Qt Remote Objects' device for it, while paused
        bool handshaken = false;    // a whole packet arrived
        // Where the packets stand in the stream (offsets from its first byte): read by Qt Remote
        // Objects so far, and the size field of the first packet not yet screened (with its size,
        // once read; -1 before).
        qint64 consumed = 0;
        qint64 nextAt = 0;
        qint64 nextSize = -1;
        // Found without room (hasRoom() said no, or a write left it above the high-water
        // mark): drained() tells once it has room again. A connection that always had room
        // writes without a signal per write.
        mutable bool congested = false;
    };
    std::vector<Peer> peers;
    // TLS connections whose handshake has not ended: each leaves this list once, encrypted (to
    // peers), rejected, or gone by itself.
    struct Handshake
    {
        QPointer<QSslSocket> socket;
        qint64 connectedAt = 0; // ms
        QString errors;         // what sslErrors() said, for the rejection that follows
    };
    std::vector<Handshake> handshakes;
    QTimer *deadlines = nullptr;
    quint64 rejected = 0;
    quint64 acceptFailures = 0;
    bool acceptFailing = false;        // since the last failed accept(), none succeeded
    QTimer *queuedCheck = nullptr;     // once per turn of the event loop in which shares wrote
    QTimer *resumeAccepting = nullptr; // a TCP server after a failed accept()
    // What the host remotes, by name (addSource()): the packets that invoke them are screened.
    QHash<QString, QPointer<const QObject>> sources;

    [[nodiscard]] QString screen(Peer &peer, QIODevice *socket) const;
    [[nodiscard]] QString screenPacket(const QByteArray &body) const;
    template <typename First, typename Detail>
    void shed(RemoteListener *q, qint64 total, qint64 budget, qint64 Peer::*amount, const char *what,
              First first, Detail detail);
    // Takes a gone connection's share out of the process's totals.
    static void release(const Peer &peer)
    {
        g_incompleteBytes.fetch_sub(peer.held, std::memory_order_relaxed);
        g_queuedBytes.fetch_sub(peer.queued, std::memory_order_relaxed);
        g_unready.fetch_sub(peer.unready, std::memory_order_relaxed);
    }

    Handshake *findHandshake(const QSslSocket *socket)
    {
        const auto it = std::find_if(handshakes.begin(), handshakes.end(),
                                     [socket](const Handshake &h) { return h.socket == socket; });
        return it == handshakes.end() ? nullptr : &*it;
    }
    // Takes `socket` out of the handshakes; false when it was not there (already settled).
    bool settleHandshake(const QSslSocket *socket, qint64 *connectedAt = nullptr, QString *errors = nullptr)
    {
        const auto it = std::find_if(handshakes.begin(), handshakes.end(),
                                     [socket](const Handshake &h) { return h.socket == socket; });
        if (it == handshakes.end())
            return false;
        if (connectedAt)
            *connectedAt = it->connectedAt;
        if (errors)
            *errors = it->errors;
        handshakes.erase(it);
        return true;
    }
    // Who a connection is, for the warning that drops it.
    static QString describe(const Peer &peer)
    {
        return QStringLiteral("connection %1 (%2)").arg(peer.id).arg(peer.name);
    }
    Peer *findId(quint64 id)
    {
        const auto it = std::find_if(peers.begin(), peers.end(), [id](const Peer &p) { return p.id == id; });
        return it == peers.end() ? nullptr : &*it;
    }
    Peer *find(const QIODevice *socket)
    {
        const auto it =
            std::find_if(peers.begin(), peers.end(), [socket](const Peer &p) { return p.socket == socket; });
        return it == peers.end() ? nullptr : &*it;
    }
    [[nodiscard]] const Peer *find(quint64 id) const
    {
        const auto it = std::find_if(peers.begin(), peers.end(), [id](const Peer &p) { return p.id == id; });
        return it == peers.end() ? nullptr : &*it;
    }
};

RemoteListener::RemoteListener(QRemoteObjectHost *host, QObject *parent)
    : RemoteListener(host, Options{}, parent)
{ }

RemoteListener::RemoteListener(QRemoteObjectHost *host, Options options, QObject *parent)
    : QObject(parent ? parent : host), d(std::make_unique<Private>())
{
    d->host = host;
    d->options = options;
    d->deadlines = new QTimer(this);
    // A fraction of the shorter deadline: a peer goes at most a quarter of it late.
    const auto shorter = std::min(options.handshakeTimeout, options.progressTimeout);
    d->deadlines->setInterval(
        std::clamp(shorter / 4, std::chrono::milliseconds(10), std::chrono::milliseconds(1000)));
    connect(d->deadlines, &QTimer::timeout, this, &RemoteListener::checkDeadlines);
    d->queuedCheck = new QTimer(this);
    d->queuedCheck->setSingleShot(true);
    d->queuedCheck->setInterval(0);
    connect(d->queuedCheck, &QTimer::timeout, this, &RemoteListener::checkQueued);
    d->resumeAccepting = new QTimer(this);
    d->resumeAccepting->setSingleShot(true);
    d->resumeAccepting->setInterval(detail::RemoteLocalServer::RetryMs);
    connect(d->resumeAccepting, &QTimer::timeout, this, [this] {
        if (d->tcp)
            d->tcp->resumeAccepting();
    });
    if (host)
        host->setProperty(ListenerProperty, QVariant::fromValue(static_cast<QObject *>(this)));
}

RemoteListener::~RemoteListener()
{
    if (d->host && d->host->property(ListenerProperty).value<QObject *>() == this)
        d->host->setProperty(ListenerProperty, QVariant());
    for (const auto &peer : d->peers) {
        Private::release(peer);
        if (QIODevice *socket = peer.socket) {
            socket->disconnect(this);
            forget(socket); // the host may outlive us: it must not write to our sockets
            abortSocket(socket);
        }
    }
    for (const auto &handshake : d->handshakes) {
        if (QSslSocket *socket = handshake.socket) {
            socket->disconnect(this);
            socket->abort();
        }
    }
}

RemoteListener *RemoteListener::of(const QRemoteObjectHost *host)
{
    return host ? qobject_cast<RemoteListener *>(host->property(ListenerProperty).value<QObject *>())
                : nullptr;
}

bool RemoteListener::listen(const QUrl &url)
{
    return start(url, nullptr);
}

bool RemoteListener::listen(const QUrl &url, const QSslConfiguration &configuration)
{
    return start(url, &configuration);
}

bool RemoteListener::start(const QUrl &url, const QSslConfiguration *tls)
{
    if (!listenOn(url, tls))
        return false;
    // Qt Remote Objects accepts sources only on a host with a URL; one of a scheme it does not
    // know makes it take connections from us (addHostSideConnection) instead of a server of its own.
    QUrl external = d->address;
    external.setScheme(QStringLiteral("rio") + d->address.scheme());
    if (d->host->hostUrl().isEmpty() &&
        !d->host->setHostUrl(external, QRemoteObjectHostBase::AllowExternalRegistration)) {
        d->error = QStringLiteral("the host refused the URL %1").arg(external.toString());
        return false;
    }
    return true;
}

bool RemoteListener::listenOn(const QUrl &url, const QSslConfiguration *tls)
{
    if (!d->host) {
        d->error = QStringLiteral("no host");
        return false;
    }
    if (d->local || d->tcp) {
        d->error = QStringLiteral("already listening on %1").arg(d->address.toString());
        return false;
    }
    const bool wantsTls = url.scheme() == QLatin1String("tls");
    if (wantsTls != (tls != nullptr)) {
        d->error = wantsTls ? QStringLiteral("tls: needs a configuration: listen(url, QSslConfiguration)")
                            : QStringLiteral("a TLS configuration needs a tls: URL (tls://127.0.0.1:port)");
        return false;
    }
    if (url.scheme() == QLatin1String("local")) {
        const QString name = url.path();
        if (name.isEmpty()) {
            d->error = QStringLiteral("local: needs a name (local:orders)");
            return false;
        }
        // A live server keeps its name; a socket file left by a killed process is replaced.
        {
            QLocalSocket probe;
            probe.connectToServer(name);
            if (probe.waitForConnected(1000)) {
                probe.abort();
                d->error = QStringLiteral("local:%1 is in use by a running server").arg(name);
                return false;
            }
        }
        auto *server =
            new detail::RemoteLocalServer([this](QLocalSocket *socket) { accepted(socket); },
                                          [this](int error) { acceptFailed(qt_error_string(error)); }, this);
        QFile::remove(detail::RemoteLocalServer::pathFor(name)); // not live: left by a killed process
        if (!server->listen(name, &d->error)) {
            delete server;
            return false;
        }
        d->local = server;
        d->address = url;
        return true;
    }
    if (url.scheme() == QLatin1String("tcp") || wantsTls) {
        const QHostAddress address(url.host());
        if (address.isNull()) {
            d->error = QStringLiteral("%1: needs a numeric address (%1://127.0.0.1:port)").arg(url.scheme());
            return false;
        }
        QTcpServer *server = nullptr;
        if (wantsTls) {
            if (tls->localCertificate().isNull() || tls->privateKey().isNull()) {
                d->error = QStringLiteral("tls: the configuration has no local certificate and key");
                return false;
            }
            server = new TlsServer(*tls, [this](QSslSocket *socket) { beginHandshake(socket); }, this);
        } else {
            server = new QTcpServer(this);
        }
        if (!server->listen(address, quint16(url.port(0)))) {
            d->error = server->errorString();
            delete server;
            return false;
        }
        // TLS connections come through beginHandshake(), from the server itself.
        if (!wantsTls) {
            connect(server, &QTcpServer::newConnection, this, [this, server] {
                while (QTcpSocket *socket = server->nextPendingConnection())
                    accepted(socket);
            });
        }
        // Qt pauses accepting after a failed accept() (EMFILE...): resumed after a pause, as local:.
        connect(server, &QTcpServer::acceptError, this, [this, server] {
            acceptFailed(server->errorString());
            d->resumeAccepting->start();
        });
        d->tcp = server;
        d->address = url;
        d->address.setPort(server->serverPort());
        return true;
    }
    d->error = QStringLiteral("unsupported scheme \"%1\" (local: or tcp:)").arg(url.scheme());
    return false;
}

void RemoteListener::accepted(QIODevice *socket)
{
    if (std::exchange(d->acceptFailing, false))
        qCInfo(lcRegistryIORemote, "rio::RemoteListener %s: accepting connections again",
               qPrintable(d->address.toString()));
    accept(socket, nowMs());
}

void RemoteListener::acceptFailed(const QString &why)
{
    ++d->acceptFailures;
    // Once per episode: until a connection is accepted again, every retry fails the same way.
    if (std::exchange(d->acceptFailing, true))
        return;
    qCWarning(lcRegistryIORemote,
              "rio::RemoteListener %s: accepting a connection failed (%s); still listening, new "
              "connections wait and are accepted once it succeeds",
              qPrintable(d->address.toString()), qPrintable(why));
}

void RemoteListener::beginHandshake(QSslSocket *socket)
{
    if (std::exchange(d->acceptFailing, false))
        qCInfo(lcRegistryIORemote, "rio::RemoteListener %s: accepting connections again",
               qPrintable(d->address.toString()));
    d->handshakes.push_back({socket, nowMs(), {}});
    if (!d->deadlines->isActive())
        d->deadlines->start();
    connect(socket, &QSslSocket::encrypted, this, [this, socket] {
        qint64 connectedAt = 0;
        if (!d->settleHandshake(socket, &connectedAt))
            return;
        socket->disconnect(this);
        accept(socket, connectedAt);
    });
    // Verification errors come first, then (unless they are not fatal: no VerifyPeer) the failure.
    connect(socket, &QSslSocket::sslErrors, this, [this, socket](const QList<QSslError> &errors) {
        if (Private::Handshake *handshake = d->findHandshake(socket)) {
            QStringList what;
            for (const QSslError &error : errors)
                what.append(error.errorString());
            handshake->errors = what.join(QStringLiteral("; "));
        }
    });
    connect(socket, &QAbstractSocket::errorOccurred, this,
            [this, socket](QAbstractSocket::SocketError error) {
                QString errors;
                if (!d->settleHandshake(socket, nullptr, &errors))
                    return;
                socket->disconnect(this);
                socket->deleteLater(); // not from inside the socket's own signal: it goes on after it
                if (error == QAbstractSocket::RemoteHostClosedError)
                    return; // the peer went away: nothing to reject
                rejectHandshake(
                    QStringLiteral(
                        "rio::RemoteListener %1: the peer at %2 failed the TLS handshake and is dropped: %3")
                        .arg(d->address.toString(), peerAt(socket),
                             errors.isEmpty() ? socket->errorString() : errors));
            });
    // Closed without an error first: the peer went away.
    connect(socket, &QAbstractSocket::disconnected, this, [this, socket] {
        if (!d->settleHandshake(socket))
            return;
        socket->disconnect(this);
        socket->deleteLater();
    });
}

void RemoteListener::accept(QIODevice *socket, qint64 connectedAt)
{
    if (!d->host) {
        abortSocket(socket);
        socket->deleteLater();
        return;
    }
    socket->setParent(this);
    // Never more than one packet's limit (and a read's worth) buffered for a peer.
    if (auto *local = qobject_cast<QLocalSocket *>(socket))
        local->setReadBufferSize(d->options.maxPacketBytes + 65536);
    else if (auto *tcp = qobject_cast<QAbstractSocket *>(socket))
        tcp->setReadBufferSize(d->options.maxPacketBytes + 65536);
    const quint64 id = g_nextConnection.fetch_add(1, std::memory_order_relaxed);
    // Qt calls these in connection order: ours, then Qt Remote Objects' reader, then ours again.
    connect(socket, &QIODevice::readyRead, this, [this, socket, id] {
        t_current = {this, socket, id};
        beforeRead(socket);
    });
    d->host->addHostSideConnection(socket);
    connect(socket, &QIODevice::readyRead, this, [this, socket] {
        t_current = {};
        afterRead(socket);
    });
    // Each connection's room is its own: one that stays full does not keep the others waiting.
    connect(socket, &QIODevice::bytesWritten, this, [this, socket] {
        Private::Peer *peer = d->find(socket);
        if (peer == nullptr)
            return;
        if (socket->bytesToWrite() > d->options.highWaterBytes)
            peer->congested = true;
        else if (std::exchange(peer->congested, false))
            Q_EMIT drained();
    });
    const auto gone = [this, socket, id] {
        forget(socket);
        std::erase_if(d->peers, [socket](const Private::Peer &p) {
            if (p.socket && p.socket != socket)
                return false;
            Private::release(p);
            return true;
        });
        if (d->peers.empty() && d->handshakes.empty())
            d->deadlines->stop();
        socket->deleteLater();
        Q_EMIT connectionClosed(id);
        Q_EMIT connectionCountChanged(connectionCount());
        Q_EMIT drained(); // the slow peer may have been this one
    };
    if (auto *local = qobject_cast<QLocalSocket *>(socket))
        connect(local, &QLocalSocket::disconnected, this, gone);
    else if (auto *tcp = qobject_cast<QAbstractSocket *>(socket))
        connect(tcp, &QAbstractSocket::disconnected, this, gone);
    QString name = d->address.toString();
#ifdef Q_OS_LINUX
    if (auto *local = qobject_cast<QLocalSocket *>(socket)) {
        ucred credentials{};
        socklen_t size = sizeof(credentials);
        if (::getsockopt(int(local->socketDescriptor()), SOL_SOCKET, SO_PEERCRED, &credentials, &size) == 0)
            name = QStringLiteral("%1 pid %2 uid %3").arg(name).arg(credentials.pid).arg(credentials.uid);
    }
#endif
    if (auto *tcp = qobject_cast<QAbstractSocket *>(socket))
        name = peerAt(tcp);
    d->peers.push_back({socket, id, name, connectedAt, nowMs()});
    if (!d->deadlines->isActive())
        d->deadlines->start();
    Q_EMIT connectionCountChanged(connectionCount());
}

void RemoteListener::forget(QIODevice *socket)
{
    // Qt Remote Objects forgets a connection when its device says disconnected(), which a paused
    // or rejected connection's device, its signals blocked, did not pass on; and before Qt 6.5,
    // QtROExternalIoDevice never hears its socket's disconnected() at all (it looks the signal up
    // under a wrong name). Tell it, through the signal it does listen to.
    if (!d->host)
        return;
    const auto devices = d->host->findChildren<QtROIoDeviceBase *>();
    for (QtROIoDeviceBase *device : devices) {
        if (device->connection() != socket)
            continue;
#if QT_VERSION < QT_VERSION_CHECK(6, 5, 0)
        device->blockSignals(false);
        Q_EMIT device->disconnected();
#else
        if (device->blockSignals(false)) // blocked when Qt passed it on
            Q_EMIT device->disconnected();
#endif
    }
}

void RemoteListener::beforeRead(QIODevice *socket)
{
    Private::Peer *peer = d->find(socket);
    if (!peer || socket->property(RejectedProperty).toBool())
        return;
    peer->before = socket->bytesAvailable();
    const QString why = d->screen(*peer, socket);
    if (why.isEmpty())
        return;
    // Qt Remote Objects must not read it: its reader is stopped for the rest of this read, and
    // afterRead() closes the connection.
    const QString reason = QStringLiteral("rio::RemoteListener %1: %2 sent %3; its connection is dropped")
                               .arg(d->address.toString(), Private::describe(*peer), why);
    qCWarning(lcRegistryIORemote, "%s", qPrintable(reason));
    socket->setProperty(RejectedProperty, true);
    ++d->rejected;
    if (d->host) {
        const auto devices = d->host->findChildren<QtROIoDeviceBase *>();
        for (QtROIoDeviceBase *device : devices) {
            if (device->connection() == socket)
                device->blockSignals(true);
        }
    }
    Q_EMIT peerRejected(reason);
}

// Walks the packets that are whole in what `socket` holds and were not screened yet (each once,
// whatever the reads it arrives in); what is wrong with the first bad one, or nothing.
QString RemoteListener::Private::screen(Peer &peer, QIODevice *socket) const
{
    const qint64 end = peer.consumed + peer.before; // the stream's offset after what is held
    QByteArray held;                                // from peer.consumed on, peeked once
    const auto bytesAt = [&](qint64 at, qint64 size) {
        if (held.isEmpty())
            held = socket->peek(peer.before);
        return QByteArray::fromRawData(held.constData() + (at - peer.consumed), size);
    };
    for (;;) {
        if (peer.nextSize < 0) {
            if (end - peer.nextAt < 4)
                return {};
            peer.nextSize = qFromLittleEndian<quint32>(bytesAt(peer.nextAt, 4).constData());
        }
        const qint64 bodyAt = peer.nextAt + 4;
        if (end - bodyAt < peer.nextSize)
            return {}; // not whole yet: screened once it is
        QString why = screenPacket(bytesAt(bodyAt, peer.nextSize));
        peer.nextAt = bodyAt + peer.nextSize;
        peer.nextSize = -1;
        if (!why.isEmpty())
            return why;
    }
}

// A packet's body is its type (16 bits), the name of the object it is for, then what its type
// carries; all little-endian. An invocation carries the kind of call, the method's or property's
// index, the argument count, the arguments, a serial id and a property index.
QString RemoteListener::Private::screenPacket(const QByteArray &body) const
{
    QDataStream in(body);
    in.setByteOrder(QDataStream::LittleEndian);
    quint16 type = 0;
    in >> type;
    if (in.status() != QDataStream::Ok || type == QtRemoteObjects::Invalid || type > QtRemoteObjects::Pong)
        return QStringLiteral("a packet of unknown type %1").arg(type);
    if (type != QtRemoteObjects::InvokePacket)
        return {};
    QString name;
    qint32 call = 0;
    qint32 index = 0;
    quint32 count = 0;
    in >> name >> call >> index >> count;
    if (in.status() != QDataStream::Ok)
        return QStringLiteral("a truncated invocation packet");
    // Qt Remote Objects takes the first argument of any invocation of "Registry".
    if (name == QLatin1String("Registry") && count == 0)
        return QStringLiteral("an invocation of \"Registry\" without arguments");
    const QObject *object = sources.value(name);
    if (!object)
        return {}; // not one of ours: Qt Remote Objects ignores what it does not remote
    if (call != QMetaObject::InvokeMetaMethod) {
        if (count != 1)
            return QStringLiteral("a property write to \"%1\" with %2 values").arg(name).arg(count);
        return {};
    }
    // The API Qt Remote Objects makes of a QObject: its methods after QObject's own, signals apart,
    // in declaration order.
    const QMetaObject *metaObject = object->metaObject();
    int seen = 0;
    for (int i = QObject::staticMetaObject.methodCount(); i < metaObject->methodCount(); ++i) {
        const QMetaMethod method = metaObject->method(i);
        if (method.methodType() == QMetaMethod::Signal)
            continue;
        if (seen++ != index)
            continue;
        if (quint32(method.parameterCount()) != count)
            return QStringLiteral("an invocation of \"%1\" method %2 (%3) with %4 arguments instead of %5")
                .arg(name)
                .arg(index)
                .arg(QString::fromLatin1(method.name()))
                .arg(count)
                .arg(method.parameterCount());
        return {};
    }
    return {}; // no such method: Qt Remote Objects warns and ignores it
}

void RemoteListener::addSource(const QString &name, const QObject *object)
{
    d->sources.removeIf([](const auto &source) { return source.value().isNull(); });
    d->sources.insert(name, object);
}

void RemoteListener::afterRead(QIODevice *socket)
{
    if (socket->property(RejectedProperty).toBool()) {
        abortSocket(socket);
        return;
    }
    Private::Peer *peer = d->find(socket);
    if (peer)
        peer->consumed += peer->before - socket->bytesAvailable();
    if (!peer || peer->pauses > 0) // paused: Qt Remote Objects did not read, nothing is judged
        return;
    // Qt Remote Objects has consumed every whole packet; what is left is part of the next one.
    const qint64 left = socket->bytesAvailable();
    const qint64 now = nowMs();
    if (peer->before - left >= SmallestPacketBytes) { // a packet completed: progress
        peer->handshaken = true;
        peer->pendingSince = now;
        peer->packetSince = now;  // what is left (if anything) began a new one
    } else if (peer->held == 0) { // a new packet began
        peer->pendingSince = now;
        peer->packetSince = now;
    }
    const qint64 total =
        g_incompleteBytes.fetch_add(left - peer->held, std::memory_order_relaxed) + left - peer->held;
    peer->held = left;
    // More than a packet may hold means a peer announcing a huge one: refuse to buffer it.
    if (left > d->options.maxPacketBytes) {
        drop(socket, QStringLiteral("rio::RemoteListener %1: %2 sent more than %3 bytes of one packet "
                                    "(the limit); its connection is dropped")
                         .arg(d->address.toString(), Private::describe(*peer))
                         .arg(d->options.maxPacketBytes));
    } else if (total > d->options.incompleteBytesBudget) {
        shedIncomplete(total);
    }
    // What reading made the source answer (a Pong per Ping, an object's state per acquisition)
    // waits for a peer that may never read it.
    checkQueued();
}

// Past a process budget (`total` held now): this listener's connections that hold some of it go,
// `first` first, one warning each naming it, until it holds. Dropping closes a socket, which takes
// it out of peers: not while iterating them.
template <typename First, typename Detail>
void RemoteListener::Private::shed(RemoteListener *q, qint64 total, qint64 budget, qint64 Peer::*amount,
                                   const char *what, First first, Detail detail)
{
    std::vector<const Peer *> holders;
    for (const Peer &peer : peers) {
        if (peer.socket && peer.*amount > 0 && !peer.socket->property(RejectedProperty).toBool())
            holders.push_back(&peer);
    }
    std::sort(holders.begin(), holders.end(), [&](const Peer *a, const Peer *b) { return first(*a, *b); });
    std::vector<std::pair<QPointer<QIODevice>, QString>> shed;
    for (const Peer *peer : holders) {
        if (total <= budget)
            break;
        shed.emplace_back(peer->socket,
                          QStringLiteral("rio::RemoteListener %1: this process holds %2 %3 (the "
                                         "budget is %4); %5, %6, is dropped")
                              .arg(address.toString())
                              .arg(total)
                              .arg(QLatin1String(what))
                              .arg(budget)
                              .arg(describe(*peer), detail(*peer)));
        total -= peer->*amount;
    }
    for (const auto &[socket, reason] : shed) {
        if (socket)
            q->drop(socket, reason);
    }
}

void RemoteListener::shedIncomplete(qint64 total)
{
    // The one that passed the budget is usually a peer sending a packet now, at speed; those that
    // hold bytes for long are the ones keeping it: the longest incomplete go first.
    const qint64 now = nowMs();
    d->shed(
        this, total, d->options.incompleteBytesBudget, &Private::Peer::held, "bytes of packets not yet whole",
        [](const Private::Peer &a, const Private::Peer &b) {
            return a.packetSince != b.packetSince ? a.packetSince < b.packetSince
                                                  : holdsMore(a.held, a.id, b.held, b.id);
        },
        [now](const Private::Peer &peer) {
            return QStringLiteral("whose packet has been incomplete longest (%1 bytes for %2 ms)")
                .arg(peer.held)
                .arg(now - peer.packetSince);
        });
}

void RemoteListener::checkQueued()
{
    // Per connection: a peer that does not read what it is sent.
    std::vector<std::pair<QPointer<QIODevice>, QString>> late;
    qint64 total = 0;
    for (Private::Peer &peer : d->peers) {
        if (!peer.socket || peer.socket->property(RejectedProperty).toBool())
            continue;
        const qint64 queued = peer.socket->bytesToWrite();
        total =
            g_queuedBytes.fetch_add(queued - peer.queued, std::memory_order_relaxed) + queued - peer.queued;
        peer.queued = queued;
        if (queued > d->options.maxQueuedBytes)
            late.emplace_back(peer.socket,
                              QStringLiteral("rio::RemoteListener %1: %2 has %3 bytes waiting to be written "
                                             "(the limit per connection is %4): it does not read what it "
                                             "is sent; its connection is dropped")
                                  .arg(d->address.toString(), Private::describe(peer))
                                  .arg(queued)
                                  .arg(d->options.maxQueuedBytes));
    }
    for (const auto &[socket, reason] : late) {
        if (socket)
            drop(socket, reason);
    }
    if (total <= d->options.queuedBytesBudget)
        return;
    // Per process: the connections with the most waiting go first.
    d->shed(
        this, total, d->options.queuedBytesBudget, &Private::Peer::queued, "bytes waiting to be written",
        [](const Private::Peer &a, const Private::Peer &b) {
            return holdsMore(a.queued, a.id, b.queued, b.id);
        },
        [](const Private::Peer &peer) {
            return QStringLiteral("with the most (%1 bytes)").arg(peer.queued);
        });
}

bool RemoteListener::holdUnready(quint64 id)
{
    Private::Peer *peer = d->findId(id);
    if (!peer || !peer->socket || peer->socket->property(RejectedProperty).toBool())
        return false;
    ++peer->unready;
    const qint64 total = g_unready.fetch_add(1, std::memory_order_relaxed) + 1;
    if (total > UnreadyBudget) {
        d->shed(
            this, total, UnreadyBudget, &Private::Peer::unready,
            "subscriptions that did not acquire their channel",
            [](const Private::Peer &a, const Private::Peer &b) {
                return holdsMore(a.unready, a.id, b.unready, b.id);
            },
            [](const Private::Peer &p) { return QStringLiteral("with the most (%1)").arg(p.unready); });
    }
    peer = d->findId(id); // shedding may have closed it
    if (peer && peer->socket && !peer->socket->property(RejectedProperty).toBool())
        return true;
    if (peer) {
        --peer->unready;
        g_unready.fetch_sub(1, std::memory_order_relaxed);
    }
    return false;
}

void RemoteListener::releaseUnready(quint64 id)
{
    // A connection that closed took its share with it.
    Private::Peer *peer = d->findId(id);
    if (peer && peer->unready > 0) {
        --peer->unready;
        g_unready.fetch_sub(1, std::memory_order_relaxed);
    }
}

bool RemoteListener::dropConnection(quint64 id, const QString &reason)
{
    const Private::Peer *peer = d->find(id);
    if (!peer || !peer->socket)
        return false;
    if (!peer->socket->property(RejectedProperty).toBool())
        drop(peer->socket, reason);
    return true;
}

bool RemoteListener::pauseReading(quint64 id)
{
    Private::Peer *peer = d->findId(id);
    if (!peer || !peer->socket || !d->host)
        return false;
    if (peer->pauses++ > 0)
        return true;
    // Qt Remote Objects reads on its device's readyRead(), which relays the socket's: blocked,
    // it reads nothing more (our own slots on the socket still run, and see the pause).
    const auto devices = d->host->findChildren<QtROIoDeviceBase *>();
    for (QtROIoDeviceBase *device : devices) {
        if (device->connection() == peer->socket) {
            device->blockSignals(true);
            peer->device = device;
        }
    }
    return true;
}

void RemoteListener::resumeReading(quint64 id)
{
    Private::Peer *peer = d->findId(id);
    if (!peer || peer->pauses == 0 || --peer->pauses > 0)
        return;
    if (peer->device)
        peer->device->blockSignals(false);
    peer->pendingSince = nowMs();
    // The socket stopped reading from the kernel once its buffer was full, and reading whole
    // packets out of the buffer does not start it again: setting the size does.
    if (auto *local = qobject_cast<QLocalSocket *>(peer->socket.data())) {
        const qint64 size = local->readBufferSize();
        local->setReadBufferSize(0);
        local->setReadBufferSize(size);
    } else if (auto *tcp = qobject_cast<QAbstractSocket *>(peer->socket.data())) {
        const qint64 size = tcp->readBufferSize();
        tcp->setReadBufferSize(0);
        tcp->setReadBufferSize(size);
    }
    // What arrived meanwhile is read on the next turn, as if it had just arrived.
    if (QIODevice *socket = peer->socket; socket && socket->bytesAvailable() > 0)
        QMetaObject::invokeMethod(socket, [socket] { Q_EMIT socket->readyRead(); }, Qt::QueuedConnection);
}

void RemoteListener::noteWrites()
{
    // Once per turn of the event loop, whatever the number of writes in it.
    if (!d->queuedCheck->isActive())
        d->queuedCheck->start();
}

void RemoteListener::checkDeadlines()
{
    const qint64 now = nowMs();
    std::vector<std::pair<QPointer<QIODevice>, QString>> late;
    for (const Private::Peer &peer : d->peers) {
        if (!peer.socket || peer.socket->property(RejectedProperty).toBool() || peer.pauses > 0)
            continue;
        if (!peer.handshaken && now - peer.connectedAt > d->options.handshakeTimeout.count()) {
            late.emplace_back(peer.socket,
                              QStringLiteral("rio::RemoteListener %1: %2 sent no whole packet within %3 ms "
                                             "of connecting; its connection is dropped")
                                  .arg(d->address.toString(), Private::describe(peer))
                                  .arg(d->options.handshakeTimeout.count()));
        } else if (peer.held > 0 && now - peer.pendingSince > d->options.progressTimeout.count()) {
            late.emplace_back(peer.socket,
                              QStringLiteral("rio::RemoteListener %1: %2 held %3 bytes of a packet for "
                                             "%4 ms without completing it; its connection is dropped")
                                  .arg(d->address.toString(), Private::describe(peer))
                                  .arg(peer.held)
                                  .arg(d->options.progressTimeout.count()));
        }
    }
    // Dropping closes the socket, which takes it out of d->peers: not while iterating them.
    for (const auto &[socket, reason] : late) {
        if (socket)
            drop(socket, reason);
    }
    std::vector<QPointer<QSslSocket>> unfinished;
    for (const Private::Handshake &handshake : d->handshakes) {
        if (handshake.socket && now - handshake.connectedAt > d->options.handshakeTimeout.count())
            unfinished.push_back(handshake.socket);
    }
    std::erase_if(d->handshakes, [](const Private::Handshake &h) { return !h.socket; });
    for (const QPointer<QSslSocket> &socket : unfinished) {
        if (!socket || !d->settleHandshake(socket))
            continue;
        socket->disconnect(this);
        socket->abort();
        socket->deleteLater();
        rejectHandshake(QStringLiteral("rio::RemoteListener %1: the peer at %2 did not complete the TLS "
                                       "handshake within %3 ms of connecting; its connection is dropped")
                            .arg(d->address.toString(), peerAt(socket))
                            .arg(d->options.handshakeTimeout.count()));
    }
    if (d->peers.empty() && d->handshakes.empty())
        d->deadlines->stop();
}

void RemoteListener::drop(QIODevice *socket, const QString &reason)
{
    qCWarning(lcRegistryIORemote, "%s", qPrintable(reason));
    socket->setProperty(RejectedProperty, true);
    ++d->rejected;
    Q_EMIT peerRejected(reason);
    // The connection Qt Remote Objects is reading is closed by afterRead(), once it left its reader.
    if (socket != t_current.socket)
        abortSocket(socket);
}

void RemoteListener::rejectHandshake(const QString &reason)
{
    qCWarning(lcRegistryIORemote, "%s", qPrintable(reason));
    ++d->rejected;
    Q_EMIT peerRejected(reason);
}

bool RemoteListener::rejectCurrentPeer(const QString &reason)
{
    const CurrentPeer current = t_current;
    if (!current.listener || !current.socket)
        return false;
    if (!current.socket->property(RejectedProperty).toBool())
        current.listener->drop(current.socket, reason);
    return true;
}

bool RemoteListener::isCurrentPeerRejected()
{
    return t_current.socket && t_current.socket->property(RejectedProperty).toBool();
}

quint64 RemoteListener::currentConnection()
{
    return t_current.socket ? t_current.id : 0;
}

bool RemoteListener::hasRoom(quint64 id) const noexcept
{
    const Private::Peer *peer = d->find(id);
    if (!peer || !peer->socket || peer->socket->bytesToWrite() <= d->options.highWaterBytes)
        return true;
    peer->congested = true; // drained() tells when it has room again
    return false;
}

bool RemoteListener::isIdle(quint64 id) const noexcept
{
    const Private::Peer *peer = d->find(id);
    return !peer || !peer->socket || peer->socket->bytesToWrite() == 0;
}

qint64 RemoteListener::bytesToWrite(quint64 id) const noexcept
{
    const Private::Peer *peer = d->find(id);
    return peer && peer->socket ? peer->socket->bytesToWrite() : 0;
}

QString RemoteListener::peerName(quint64 id) const
{
    const Private::Peer *peer = d->find(id);
    return peer ? peer->name : QString();
}

QString RemoteListener::connectionName(quint64 id) const
{
    const Private::Peer *peer = d->find(id);
    return peer ? Private::describe(*peer) : QStringLiteral("connection %1").arg(id);
}

QUrl RemoteListener::address() const
{
    return d->address;
}

QString RemoteListener::errorString() const
{
    return d->error;
}

int RemoteListener::connectionCount() const noexcept
{
    int n = 0;
    for (const auto &peer : d->peers)
        n += peer.socket ? 1 : 0;
    return n;
}

bool RemoteListener::hasRoom() const noexcept
{
    for (const auto &peer : d->peers) {
        if (peer.socket && peer.socket->bytesToWrite() > d->options.highWaterBytes) {
            peer.congested = true; // drained() tells when it has room again
            return false;
        }
    }
    return true;
}

bool RemoteListener::isIdle() const noexcept
{
    for (const auto &peer : d->peers) {
        if (peer.socket && peer.socket->bytesToWrite() > 0)
            return false;
    }
    return true;
}

qint64 RemoteListener::incompleteBytes() noexcept
{
    return g_incompleteBytes.load(std::memory_order_relaxed);
}

quint64 RemoteListener::rejectedCount() const noexcept
{
    return d->rejected;
}

quint64 RemoteListener::acceptFailures() const noexcept
{
    return d->acceptFailures;
}

} // namespace rio
