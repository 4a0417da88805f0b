// SPDX-License-Identifier: MIT
#include <registryio/remote/remote_listener.h>

#include <QAbstractSocket>
#include <QHostAddress>
#include <QLocalServer>
#include <QLocalSocket>
#include <QPointer>
#include <QRemoteObjectHost>
#include <QSslConfiguration>
#include <QSslKey>
#include <QSslServer>
#include <QSslSocket>
#include <QTcpServer>
#include <QTcpSocket>
#include <QtEndian>
#include <QtRemoteObjects/qconnectionfactories.h>

#include <vector>

namespace rio {

namespace {

constexpr const char *ListenerProperty = "_rio_remote_listener";
constexpr const char *RejectedProperty = "_rio_remote_rejected";

// The connection Qt Remote Objects is reading on this thread (between our two readyRead slots,
// which surround its own), so that a share's slot can name the peer it is serving.
struct CurrentPeer
{
    RemoteListener *listener = nullptr;
    QIODevice *socket = nullptr;
};
thread_local CurrentPeer t_current;

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

} // namespace

struct RemoteListener::Private
{
    QPointer<QRemoteObjectHost> host;
    Options options;
    QLocalServer *local = nullptr;
    QTcpServer *tcp = nullptr;
    QUrl address;
    QString error;
    std::vector<QPointer<QIODevice>> peers;
};

RemoteListener::RemoteListener(QRemoteObjectHost *host, QObject *parent)
    : RemoteListener(host, Options{}, parent)
{ }

RemoteListener::RemoteListener(QRemoteObjectHost *host, Options options, QObject *parent)
    : QObject(parent ? parent : host), d(std::make_unique<Private>())
{
    d->host = host;
    d->options = options;
    if (host)
        host->setProperty(ListenerProperty, QVariant::fromValue(static_cast<QObject *>(this)));
}

RemoteListener::~RemoteListener()
{
    if (d->host && d->host->property(ListenerProperty).value<QObject *>() == this)
        d->host->setProperty(ListenerProperty, QVariant());
    for (const auto &peer : d->peers) {
        if (peer) {
            peer->disconnect(this);
            forget(peer); // the host may outlive us: it must not write to our sockets
            abortSocket(peer);
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
        // A live server keeps its name (with UserAccessOption, QLocalServer would otherwise put
        // its socket in place of the live one); a socket file left by a killed process is replaced.
        {
            QLocalSocket probe;
            probe.connectToServer(name);
            if (probe.waitForConnected(1000)) {
                probe.abort();
                d->error = QStringLiteral("local:%1 is in use by a running server").arg(name);
                return false;
            }
        }
        auto *server = new QLocalServer(this);
        server->setSocketOptions(QLocalServer::UserAccessOption);
        bool ok = server->listen(name);
        if (!ok && server->serverError() == QAbstractSocket::AddressInUseError) {
            QLocalServer::removeServer(name);
            ok = server->listen(name);
        }
        if (!ok) {
            d->error = server->errorString();
            delete server;
            return false;
        }
        connect(server, &QLocalServer::newConnection, this, [this, server] {
            while (QLocalSocket *socket = server->nextPendingConnection())
                accept(socket);
        });
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
            auto *ssl = new QSslServer(this);
            ssl->setSslConfiguration(*tls);
            ssl->setHandshakeTimeout(10000);
            // A peer that fails the handshake never becomes a connection; say why.
            connect(ssl, &QSslServer::sslErrors, this, [this](QSslSocket *, const QList<QSslError> &errors) {
                QStringList what;
                for (const QSslError &error : errors)
                    what.append(error.errorString());
                rejectHandshake(what.join(QStringLiteral("; ")));
            });
            connect(ssl, &QSslServer::errorOccurred, this,
                    [this](QSslSocket *socket, QAbstractSocket::SocketError error) {
                        if (error == QAbstractSocket::SslHandshakeFailedError)
                            rejectHandshake(socket->errorString());
                    });
            server = ssl;
        } else {
            server = new QTcpServer(this);
        }
        if (!server->listen(address, quint16(url.port(0)))) {
            d->error = server->errorString();
            delete server;
            return false;
        }
        const auto acceptAll = [this, server] {
            while (QTcpSocket *socket = server->nextPendingConnection())
                accept(socket);
        };
        // A QSslServer emits newConnection() when a peer connects, before the handshake, and
        // queues the connection only once it is encrypted.
        if (wantsTls)
            connect(server, &QTcpServer::pendingConnectionAvailable, this, acceptAll);
        else
            connect(server, &QTcpServer::newConnection, this, acceptAll);
        d->tcp = server;
        d->address = url;
        d->address.setPort(server->serverPort());
        return true;
    }
    d->error = QStringLiteral("unsupported scheme \"%1\" (local: or tcp:)").arg(url.scheme());
    return false;
}

void RemoteListener::accept(QIODevice *socket)
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
    // Qt calls these in connection order: ours, then Qt Remote Objects' reader, then ours again.
    connect(socket, &QIODevice::readyRead, this, [this, socket] { t_current = {this, socket}; });
    d->host->addHostSideConnection(socket);
    connect(socket, &QIODevice::readyRead, this, [this, socket] {
        t_current = {};
        afterRead(socket);
    });
    connect(socket, &QIODevice::bytesWritten, this, [this] {
        if (hasRoom())
            Q_EMIT drained();
    });
    const auto gone = [this, socket] {
        forget(socket);
        std::erase_if(d->peers, [socket](const QPointer<QIODevice> &p) { return !p || p == socket; });
        socket->deleteLater();
        Q_EMIT connectionCountChanged(connectionCount());
        Q_EMIT drained(); // the slow peer may have been this one
    };
    if (auto *local = qobject_cast<QLocalSocket *>(socket))
        connect(local, &QLocalSocket::disconnected, this, gone);
    else if (auto *tcp = qobject_cast<QAbstractSocket *>(socket))
        connect(tcp, &QAbstractSocket::disconnected, this, gone);
    d->peers.emplace_back(socket);
    Q_EMIT connectionCountChanged(connectionCount());
}

void RemoteListener::forget(QIODevice *socket)
{
    // Qt 6.4's QtROExternalIoDevice never hears its device's disconnected() (it looks the signal
    // up under a wrong name), so Qt Remote Objects would keep writing to this connection after it
    // is gone. Tell it, through the signal it does listen to.
    if (!d->host)
        return;
    const auto devices = d->host->findChildren<QtROIoDeviceBase *>();
    for (QtROIoDeviceBase *device : devices) {
        if (device->connection() == socket)
            Q_EMIT device->disconnected();
    }
}

void RemoteListener::afterRead(QIODevice *socket)
{
    if (socket->property(RejectedProperty).toBool()) {
        abortSocket(socket);
        return;
    }
    // Qt Remote Objects has consumed every complete packet; what is left is part of the next
    // one. More than a packet may hold means a peer announcing a huge one: refuse to buffer it.
    const qint64 limit = d->options.maxPacketBytes;
    if (socket->bytesAvailable() > limit) {
        const QString reason =
            QStringLiteral("rio::RemoteListener %1: a peer sent more than %2 bytes of one packet "
                           "(the limit); its connection is dropped")
                .arg(d->address.toString())
                .arg(limit);
        qWarning("%s", qPrintable(reason));
        socket->setProperty(RejectedProperty, true);
        Q_EMIT peerRejected(reason);
        abortSocket(socket);
    }
}

void RemoteListener::rejectHandshake(const QString &what)
{
    const QString reason =
        QStringLiteral("rio::RemoteListener %1: a peer failed the TLS handshake and is dropped: %2")
            .arg(d->address.toString(), what);
    qWarning("%s", qPrintable(reason));
    Q_EMIT peerRejected(reason);
}

bool RemoteListener::rejectCurrentPeer(const QString &reason)
{
    const CurrentPeer current = t_current;
    if (!current.listener || !current.socket)
        return false;
    if (!current.socket->property(RejectedProperty).toBool()) {
        qWarning("%s", qPrintable(reason));
        current.socket->setProperty(RejectedProperty, true);
        Q_EMIT current.listener->peerRejected(reason);
    }
    // Closed by afterRead(), once Qt Remote Objects has left its reader.
    return true;
}

bool RemoteListener::isCurrentPeerRejected()
{
    return t_current.socket && t_current.socket->property(RejectedProperty).toBool();
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
        n += peer ? 1 : 0;
    return n;
}

bool RemoteListener::hasRoom() const noexcept
{
    for (const auto &peer : d->peers) {
        if (peer && peer->bytesToWrite() > d->options.highWaterBytes)
            return false;
    }
    return true;
}

bool RemoteListener::isIdle() const noexcept
{
    for (const auto &peer : d->peers) {
        if (peer && peer->bytesToWrite() > 0)
            return false;
    }
    return true;
}

} // namespace rio
