// SPDX-License-Identifier: MIT
// The client side of RegistryIO::Remote's connections: Qt Remote Objects' client connection
// types for local:, tcp: and tls: URLs, created by QRemoteObjectNode::connectToNode and driven by
// its reconnection (shouldReconnect, then connectToServer again).
#include "remote_transport_p.h"

#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_tls.h>

#include <QBuffer>
#include <QLocalSocket>
#include <QLoggingCategory>
#include <QSslConfiguration>
#include <QSslSocket>
#include <QTcpSocket>
#include <QVariant>
#include <QtRemoteObjects/qconnectionfactories.h>

#include <limits>
#include <mutex>
#include <utility>

namespace rio {

namespace {

// What the local, TCP and TLS connections share: a reader that starts each connection at a packet
// boundary.
//
// Qt Remote Objects' reader (QtROIoDeviceBase::read) remembers the size of the packet whose header
// it has read until the rest arrives, and nothing resets it when the connection is opened again.
// A source killed in the middle of a packet leaves that size behind: the new connection's
// handshake is taken for the rest of the old packet, and the reader waits for bytes that the new
// source never sends (it waits for the handshake's answer). Before the reader sees a new
// connection, this lets it finish whatever it waited for on a blank device of its own, then points
// it at the socket again.
class ClientIoBase : public QtROClientIoDevice
{
public:
    explicit ClientIoBase(QObject *parent) : QtROClientIoDevice(parent), m_blank(new QBuffer(this)) { }

    [[nodiscard]] QIODevice *connection() const final { return m_resetting ? m_blank : socket(); }

    [[nodiscard]] qint64 bytesAvailable() const final
    {
        return m_resetting ? m_available : socket()->bytesAvailable();
    }

protected:
    [[nodiscard]] virtual QIODevice *socket() const = 0;

    // The socket is connected (encrypted, for TLS): the reader starts afresh on it. First, with 4
    // bytes available, a reader between packets takes a size from the blank device and waits for
    // more, while one that waits for the rest of a packet keeps waiting: both now wait for the rest
    // of a packet. Then, with every byte available, it takes that rest from the blank device: a
    // Pong for no object (a valid packet, so nothing is reported) that nobody dispatches.
    void startReading()
    {
        QtRemoteObjects::QRemoteObjectPacketTypeEnum type{};
        QString name;
        QByteArray size(4, '\xff');
        size[3] = '\x7f';
        QByteArray pong(6, '\0');
        pong[0] = char(QtRemoteObjects::Pong); // 16 bits, little-endian, then an empty name
        m_resetting = true;
        for (const auto &[bytes, available] : {std::pair{size, qint64(4)}, std::pair{pong, Unlimited}}) {
            m_blank->close();
            m_blank->setData(bytes);
            m_blank->open(QIODevice::ReadOnly);
            m_available = available;
            initializeDataStream();
            (void)read(type, name);
        }
        m_resetting = false;
        initializeDataStream();
    }

private:
    static constexpr qint64 Unlimited = std::numeric_limits<qint64>::max();
    QBuffer *m_blank;
    qint64 m_available = 0;
    bool m_resetting = false;
};

class LocalClientIo final : public ClientIoBase
{
public:
    explicit LocalClientIo(QObject *parent) : ClientIoBase(parent), m_socket(new QLocalSocket(this))
    {
        connect(m_socket, &QLocalSocket::readyRead, this, &QtROClientIoDevice::readyRead);
        connect(m_socket, &QLocalSocket::errorOccurred, this, [this](QLocalSocket::LocalSocketError error) {
            switch (error) {
            case QLocalSocket::ServerNotFoundError:
            case QLocalSocket::UnknownSocketError:
            case QLocalSocket::PeerClosedError:
            case QLocalSocket::ConnectionError:
            case QLocalSocket::ConnectionRefusedError:
                Q_EMIT shouldReconnect(this); // not there (yet): Qt Remote Objects tries again
                break;
            default:
                break;
            }
        });
        connect(m_socket, &QLocalSocket::stateChanged, this, [this](QLocalSocket::LocalSocketState state) {
            if (state == QLocalSocket::ClosingState && !isClosing()) {
                m_socket->abort();
                Q_EMIT shouldReconnect(this);
            }
            if (state == QLocalSocket::ConnectedState)
                startReading();
        });
    }

    ~LocalClientIo() override { close(); }

    LocalClientIo(const LocalClientIo &) = delete;
    LocalClientIo &operator=(const LocalClientIo &) = delete;

    void connectToServer() override
    {
        if (!isOpen())
            m_socket->connectToServer(url().path());
    }

    [[nodiscard]] bool isOpen() const override
    {
        return !isClosing() && (m_socket->state() == QLocalSocket::ConnectedState ||
                                m_socket->state() == QLocalSocket::ConnectingState);
    }

protected:
    [[nodiscard]] QIODevice *socket() const override { return m_socket; }

    void doClose() override
    {
        if (m_socket->isOpen()) {
            connect(m_socket, &QLocalSocket::disconnected, this, &QObject::deleteLater);
            m_socket->disconnectFromServer();
        } else {
            deleteLater();
        }
    }

    void doDisconnectFromServer() override { m_socket->disconnectFromServer(); }

private:
    QLocalSocket *m_socket;
};

// tcp: over QTcpSocket, tls: over QSslSocket (replicas go Suspect and come back as over TCP).
class SocketClientIo : public ClientIoBase
{
public:
    SocketClientIo(QObject *parent, bool tls)
        : ClientIoBase(parent), m_socket(tls ? new QSslSocket(this) : new QTcpSocket(this)),
          m_ssl(tls ? static_cast<QSslSocket *>(m_socket) : nullptr)
    {
        connect(m_socket, &QTcpSocket::readyRead, this, &QtROClientIoDevice::readyRead);
        connect(m_socket, &QAbstractSocket::errorOccurred, this, [this](QAbstractSocket::SocketError error) {
            if (error == QAbstractSocket::SslHandshakeFailedError)
                refuse(m_socket->errorString());
            switch (error) {
            case QAbstractSocket::HostNotFoundError:
            case QAbstractSocket::ConnectionRefusedError:
            case QAbstractSocket::NetworkError:
            case QAbstractSocket::SslHandshakeFailedError:
                Q_EMIT shouldReconnect(this);
                break;
            default:
                break;
            }
        });
        connect(m_socket, &QAbstractSocket::stateChanged, this, [this](QAbstractSocket::SocketState state) {
            if (state == QAbstractSocket::ClosingState && !isClosing()) {
                m_socket->abort();
                Q_EMIT shouldReconnect(this);
            }
            if (state == QAbstractSocket::ConnectedState && !m_ssl)
                startReading();
        });
        if (!m_ssl)
            return;
        // The node that creates us holds the configuration.
        const QVariant configuration =
            parent ? parent->property(detail::RemoteTlsConfigurationProperty) : QVariant();
        if (configuration.canConvert<QSslConfiguration>()) {
            m_ssl->setSslConfiguration(configuration.value<QSslConfiguration>());
        } else {
            qCWarning(lcRegistryIORemote(),
                      "rio::setRemoteTlsConfiguration() was not called for this node: tls: "
                      "connections check the source's certificate against the system's CA "
                      "certificates only");
        }
        connect(m_ssl, &QSslSocket::sslErrors, this, [this](const QList<QSslError> &errors) {
            QStringList what;
            for (const QSslError &error : errors)
                what.append(error.errorString());
            // Not ignored: the handshake fails and the socket closes. Said once per reason, as
            // Qt Remote Objects retries every quarter of a second.
            refuse(what.join(QStringLiteral("; ")));
        });
        connect(m_ssl, &QSslSocket::encrypted, this, [this] {
            m_refusal.clear();
            startReading();
        });
    }

    ~SocketClientIo() override { close(); }

    SocketClientIo(const SocketClientIo &) = delete;
    SocketClientIo &operator=(const SocketClientIo &) = delete;

    void connectToServer() override
    {
        if (isOpen())
            return;
        if (m_ssl) // the certificate must name the URL's host (an IP address as a subjectAltName IP entry)
            m_ssl->connectToHostEncrypted(url().host(), quint16(url().port()), url().host());
        else
            m_socket->connectToHost(url().host(), quint16(url().port()));
    }

    [[nodiscard]] bool isOpen() const override
    {
        return !isClosing() && (m_socket->state() == QAbstractSocket::ConnectedState ||
                                m_socket->state() == QAbstractSocket::ConnectingState ||
                                m_socket->state() == QAbstractSocket::HostLookupState);
    }

protected:
    [[nodiscard]] QIODevice *socket() const override { return m_socket; }

    void doClose() override
    {
        if (m_socket->isOpen()) {
            connect(m_socket, &QAbstractSocket::disconnected, this, &QObject::deleteLater);
            m_socket->disconnectFromHost();
        } else {
            deleteLater();
        }
    }

    void doDisconnectFromServer() override { m_socket->disconnectFromHost(); }

private:
    void refuse(const QString &reason)
    {
        if (reason == m_refusal)
            return;
        m_refusal = reason;
        qCWarning(lcRegistryIORemote(), "rio: the TLS connection to %s is refused: %s",
                  qPrintable(url().toString()), qPrintable(reason));
    }

    QTcpSocket *m_socket;
    QSslSocket *m_ssl;
    QString m_refusal;
};

class TcpClientIo final : public SocketClientIo
{
public:
    explicit TcpClientIo(QObject *parent) : SocketClientIo(parent, false) { }
};

class TlsClientIo final : public SocketClientIo
{
public:
    explicit TlsClientIo(QObject *parent) : SocketClientIo(parent, true) { }
};

// At load: a node may connect before the first RemoteRegistry exists.
[[maybe_unused]] const bool g_transportsRegistered = [] {
    detail::registerRemoteClientTransports();
    return true;
}();

} // namespace

namespace detail {

void registerRemoteClientTransports()
{
    static std::once_flag registered;
    std::call_once(registered, [] {
        QtROClientFactory *factory = QtROClientFactory::instance();
        factory->registerType<LocalClientIo>(QStringLiteral("local"));
        factory->registerType<TcpClientIo>(QStringLiteral("tcp"));
        factory->registerType<TlsClientIo>(QString::fromLatin1(RemoteTlsScheme));
    });
}

} // namespace detail

} // namespace rio
