// SPDX-License-Identifier: MIT
#include "remote_listener_p.h"

#include <QLocalSocket>
#include <QSslConfiguration>
#include <QSslKey>
#include <QTcpSocket>

#ifdef Q_OS_LINUX
#include <sys/socket.h>
#endif

#include <utility>

namespace rio {

using namespace detail; // remote_listener_p.h

namespace {

// A TCP server whose connections start a TLS handshake at once, timed by the listener from the TCP
// connect (QSslServer times it from the first bytes, and closes some without a signal).
class TlsServer final : public QTcpServer
{
public:
    TlsServer(const QSslConfiguration &configuration, std::function<void(QSslSocket *)> connected,
              QObject *parent)
        : QTcpServer(parent), m_configuration(configuration), m_connected(std::move(connected))
    { }

    void take(qintptr descriptor) { incomingConnection(descriptor); } // accepted for this server

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

void detail::abortSocket(QIODevice *socket)
{
    // abort() frees what a disconnected socket read (up to maxPacketBytes) at once.
    if (auto *local = qobject_cast<QLocalSocket *>(socket)) {
        local->disconnectFromServer();
        local->abort();
    } else if (auto *tcp = qobject_cast<QAbstractSocket *>(socket)) {
        tcp->disconnectFromHost();
        tcp->abort();
    } else {
        socket->close();
    }
}

void detail::setReadLimit(QIODevice *socket, qint64 bytes)
{
    // (also reads from the system again when the buffer has room)
    if (auto *local = qobject_cast<QLocalSocket *>(socket))
        local->setReadBufferSize(bytes);
    else if (auto *tcp = qobject_cast<QAbstractSocket *>(socket))
        tcp->setReadBufferSize(bytes);
}

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
    if (host)
        host->setProperty(ListenerProperty, QVariant::fromValue(static_cast<QObject *>(this)));
}

RemoteListener::~RemoteListener()
{
    if (d->host && d->host->property(ListenerProperty).value<QObject *>() == this)
        d->host->setProperty(ListenerProperty, QVariant());
    for (auto &[id, peer] : d->peers) {
        g_ledger.close(id); // no drop is left for us once we are going
        QIODevice *socket = peer.socket;
        if (!socket)
            continue;
        socket->disconnect(this);
        if (peer.pipe)
            peer.pipe->discard(); // nothing more reaches us through it
        // Destroyed by a handler inside Qt Remote Objects' read of it: read() lets it go.
        if (peer.reading)
            socket->setParent(nullptr);
        else
            forget(id); // the host may outlive us: it must not write to our sockets
        abortSocket(socket);
    }
    for (const auto &[key, handshake] : d->handshakes) {
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
    const QString scheme = url.scheme();
    const bool wantsTls = scheme == QLatin1String("tls");
    d->error.clear();
    if (!d->host)
        d->error = QStringLiteral("no host");
    else if (!d->address.isEmpty())
        d->error = QStringLiteral("already listening on %1").arg(d->address.toString());
    else if (wantsTls != (tls != nullptr))
        d->error = wantsTls ? QStringLiteral("tls: needs a configuration: listen(url, QSslConfiguration)")
                            : QStringLiteral("a TLS configuration needs a tls: URL (tls://127.0.0.1:port)");
    else if (scheme != QLatin1String("local") && scheme != QLatin1String("tcp") && !wantsTls)
        d->error = QStringLiteral("unsupported scheme \"%1\" (local: or tcp:)").arg(scheme);
    if (!d->error.isEmpty() || !(scheme == QLatin1String("local") ? listenLocal(url) : listenTcp(url, tls)))
        return false;
    // A host URL of a scheme Qt Remote Objects does not know: it takes connections from us.
    QUrl external = d->address;
    external.setScheme(QStringLiteral("rio") + d->address.scheme());
    if (d->host->hostUrl().isEmpty() &&
        !d->host->setHostUrl(external, QRemoteObjectHostBase::AllowExternalRegistration)) {
        d->error = QStringLiteral("the host refused the URL %1").arg(external.toString());
        return false;
    }
    return true;
}

bool RemoteListener::listenLocal(const QUrl &url)
{
    const QString name = url.path();
    if (name.isEmpty()) {
        d->error = QStringLiteral("local: needs a name (local:orders)");
        return false;
    }
    auto *server =
        new detail::RemoteLocalServer([this](QIODevice *socket) { accepted(socket); },
                                      [this](int error) { acceptFailed(qt_error_string(error)); }, this);
    if (!server->listen(name, &d->error)) {
        delete server;
        return false;
    }
    d->address = url;
    return true;
}

bool RemoteListener::listenTcp(const QUrl &url, const QSslConfiguration *tls)
{
    const QHostAddress address(url.host());
    if (address.isNull()) {
        d->error = QStringLiteral("%1: needs a numeric address (%1://127.0.0.1:port)").arg(url.scheme());
        return false;
    }
    if (tls && (tls->localCertificate().isNull() || tls->privateKey().isNull())) {
        d->error = QStringLiteral("tls: the configuration has no local certificate and key");
        return false;
    }
    QTcpServer *server = tls ? new TlsServer(
                                   *tls, [this](QSslSocket *socket) { beginHandshake(socket); }, this)
                             : new QTcpServer(this);
    // As deep a queue as local:'s: Qt's 50 overflow in a burst (SYN cookies then hide connections).
    server->setListenBacklogSize(4096); // the system caps it (Linux: net.core.somaxconn)
    if (!server->listen(address, quint16(url.port(0)))) {
        d->error = server->errorString();
        delete server;
        return false;
    }
    // Accepted as local: ones are (QTcpServer retries a failed accept() at once, for ever).
    auto *acceptor =
        new detail::RemoteLocalServer([this](QIODevice *socket) { accepted(socket); },
                                      [this](int error) { acceptFailed(qt_error_string(error)); }, this);
    std::function<void(qintptr)> incoming;
    if (tls)
        incoming = [server](qintptr fd) { static_cast<TlsServer *>(server)->take(fd); };
    if (!acceptor->acceptFor(server, std::move(incoming))) {
        delete acceptor; // where QTcpServer accepts by itself
        if (!tls) {
            connect(server, &QTcpServer::newConnection, this, [this, server] {
                while (QTcpSocket *socket = server->nextPendingConnection())
                    accepted(socket);
            });
        }
        // Qt pauses accepting after the failures it reports: resumed after a pause.
        connect(server, &QTcpServer::acceptError, this, [this, server] {
            acceptFailed(server->errorString());
            QTimer::singleShot(detail::RemoteLocalServer::RetryMs, server, &QTcpServer::resumeAccepting);
        });
    }
    d->address = url;
    d->address.setPort(server->serverPort());
    return true;
}

void RemoteListener::accepted(QIODevice *socket)
{
    if (std::exchange(d->acceptFailing, false))
        qCInfo(lcRegistryIORemote, "rio::RemoteListener %s: accepting connections again",
               qPrintable(d->address.toString()));
    if (socket != nullptr) // (none: a TLS connection, accepted once encrypted)
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
    accepted(nullptr);
    const quint64 key = g_nextConnection.fetch_add(1, std::memory_order_relaxed);
    d->handshakes.emplace(key, Private::Handshake{socket, nowMs()});
    const auto errors = std::make_shared<QString>(); // what sslErrors() said, for the rejection
    if (!d->deadlines->isActive())
        d->deadlines->start();
    connect(socket, &QSslSocket::encrypted, this, [this, socket, key] {
        const auto handshake = d->settleHandshake(key);
        if (!handshake)
            return;
        socket->disconnect(this);
        accept(socket, handshake->connectedAt);
    });
    // Verification errors come first, then (unless they are not fatal: no VerifyPeer) the failure.
    connect(socket, &QSslSocket::sslErrors, this, [errors](const QList<QSslError> &list) {
        for (const QSslError &error : list)
            *errors += (errors->isEmpty() ? QString() : QStringLiteral("; ")) + error.errorString();
    });
    const auto failed = [this, socket, errors, key](QAbstractSocket::SocketError error) {
        if (!d->settleHandshake(key))
            return;
        socket->disconnect(this);
        socket->deleteLater(); // not from inside the socket's own signal: it goes on after it
        if (error != QAbstractSocket::RemoteHostClosedError) // (the peer went away: nothing to reject)
            rejectHandshake(
                QStringLiteral(
                    "rio::RemoteListener %1: the peer at %2 failed the TLS handshake and is dropped: %3")
                    .arg(d->address.toString(), peerAt(socket),
                         errors->isEmpty() ? socket->errorString() : *errors));
    };
    connect(socket, &QAbstractSocket::errorOccurred, this, failed);
    connect(socket, &QAbstractSocket::disconnected, this,
            [failed] { failed(QAbstractSocket::RemoteHostClosedError); });
}

void RemoteListener::rejectHandshake(const QString &reason)
{
    qCWarning(lcRegistryIORemote, "%s", qPrintable(reason));
    ++d->rejected;
    Q_EMIT peerRejected(reason);
}

void RemoteListener::accept(QIODevice *socket, qint64 connectedAt)
{
    if (!d->host) {
        abortSocket(socket);
        socket->deleteLater();
        return;
    }
    socket->setParent(this);
    setReadLimit(socket, d->readLimit()); // never more than one packet (and a read) buffered
    const quint64 id = g_nextConnection.fetch_add(1, std::memory_order_relaxed);
    const QString name = nameOf(socket);
    g_ledger.open(this, id, d->address.toString(), name, d->options.backlogBytesBudget,
                  d->options.highWaterBytes, StallPasses * qint64(d->deadlines->interval()));
    Private::Peer &peer =
        d->peers.emplace(id, Private::Peer{socket, id, name, connectedAt, nowMs()}).first->second;
    // Qt Remote Objects reads the pipe (what pump() screened) and writes through it (write()).
    auto *pipe =
        new ScreenedPipe(socket, [this, id](const char *data, qint64 size) { return write(id, data, size); });
    peer.pipe = pipe;
    connect(socket, &QIODevice::readyRead, this, [this, id] { pump(id); });
    d->host->addHostSideConnection(pipe);
    // Its device (the host's newest child), found now: a host being destroyed can no longer be asked.
    const QObjectList &children = d->host->children();
    for (auto it = children.crbegin(); it != children.crend() && !peer.device; ++it) {
        if (auto *device = qobject_cast<QtROIoDeviceBase *>(*it); device && device->connection() == pipe)
            peer.device = device;
    }
    // Each connection's room is its own: one that stays full does not keep the others waiting.
    const auto wrote = [this, id](qint64 handed) {
        Private::Peer *peer = d->find(id);
        if (peer == nullptr || !peer->socket)
            return;
        peer->handed += handed;
        const qint64 queued = queuedBytes(peer->socket);
        dropAll(g_ledger.hold(this, id, QueuedBytes, queued, d->options.queuedBytesBudget), true);
        d->measure(*peer, queued); // what its peer takes: the budgets' measure of who reads, kept live
        if (queued > d->options.highWaterBytes)
            peer->congested = true;
        else if (std::exchange(peer->congested, false))
            Q_EMIT drained();
    };
    // Over TLS, bytesWritten() says plain bytes, encryptedBytesWritten() those handed to the system.
    auto *ssl = qobject_cast<QSslSocket *>(socket);
    connect(socket, &QIODevice::bytesWritten, this, [wrote, ssl](qint64 bytes) { wrote(ssl ? 0 : bytes); });
    if (ssl)
        connect(ssl, &QSslSocket::encryptedBytesWritten, this, wrote);
    const auto gone = [this, id] { closed(id); };
    if (auto *local = qobject_cast<QLocalSocket *>(socket))
        connect(local, &QLocalSocket::disconnected, this, gone);
    else if (auto *tcp = qobject_cast<QAbstractSocket *>(socket))
        connect(tcp, &QAbstractSocket::disconnected, this, gone);
    if (!d->deadlines->isActive())
        d->deadlines->start();
    Q_EMIT connectionCountChanged(connectionCount());
}

QString RemoteListener::nameOf(QIODevice *socket) const
{
    // local: connections are QTcpSocket on Unix (see RemoteLocalServer), named by their process.
    auto *tcp = qobject_cast<QAbstractSocket *>(socket);
    if (tcp && d->address.scheme() != QLatin1String("local"))
        return peerAt(tcp);
    QString name = d->address.toString();
#ifdef Q_OS_LINUX
    ucred credentials{};
    socklen_t size = sizeof(credentials);
    if (tcp && ::getsockopt(int(tcp->socketDescriptor()), SOL_SOCKET, SO_PEERCRED, &credentials, &size) == 0)
        name = QStringLiteral("%1 pid %2 uid %3").arg(name).arg(credentials.pid).arg(credentials.uid);
#endif
    return name;
}

void RemoteListener::closed(quint64 id)
{
    Private::Peer *peer = d->find(id);
    if (peer == nullptr)
        return;
    // Closed while Qt Remote Objects reads it (a handler spins an event loop): read() lets it go.
    if (peer->reading) {
        peer->hungUp = true;
        return;
    }
    forget(id);
    const QPointer<QIODevice> socket = peer->socket;
    d->peers.erase(id);
    g_ledger.close(id);
    if (d->peers.empty() && d->handshakes.empty())
        d->deadlines->stop();
    if (socket)
        socket->deleteLater();
    Q_EMIT connectionClosed(id);
    Q_EMIT connectionCountChanged(connectionCount());
    Q_EMIT drained(); // the slow peer may have been this one
}

void RemoteListener::forget(quint64 id)
{
    // Qt Remote Objects forgets a connection when its device (not the pipe) says disconnected().
    const Private::Peer *peer = d->find(id);
    if (peer && peer->device)
        Q_EMIT peer->device->disconnected();
}

bool RemoteListener::hasRoom(quint64 id) const noexcept
{
    const Private::Peer *peer = d->find(id);
    if (!peer || !peer->socket)
        return true; // gone: nothing queued for it
    const qint64 queued = queuedBytes(peer->socket);
    if (queued <= d->options.highWaterBytes)
        return true;
    if (!std::exchange(peer->congested, true)) // drained() tells when it has room again
        d->measure(*peer, queued);             // the backlog budget's measure of who reads, kept live
    return false;
}

bool RemoteListener::isIdle(quint64 id) const noexcept
{
    return bytesToWrite(id) == 0;
}

qint64 RemoteListener::bytesToWrite(quint64 id) const noexcept
{
    const Private::Peer *peer = d->find(id);
    return peer && peer->socket ? queuedBytes(peer->socket) : 0;
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
    return int(d->peers.size());
}

QList<quint64> RemoteListener::connections() const
{
    QList<quint64> out;
    out.reserve(qsizetype(d->peers.size()));
    for (const auto &[id, peer] : d->peers)
        out.append(id);
    return out;
}

qint64 RemoteListener::incompleteBytes() noexcept
{
    return g_ledger.total(IncompleteBytes);
}

qint64 RemoteListener::unsentBytes() noexcept
{
    return g_ledger.total(QueuedBytes);
}

qint64 RemoteListener::backlogBytes() noexcept
{
    return g_ledger.total(BacklogBytes);
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
