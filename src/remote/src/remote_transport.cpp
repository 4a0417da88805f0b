// SPDX-License-Identifier: MIT
// The client side of RegistryIO::Remote's connections: connectToSource() connects a node through
// schemes of the library's own (riolocal:, riotcp:, riotls:) that it registers on that node with
// Qt Remote Objects' public external-schema API, so that plain Qt Remote Objects (local:, tcp:)
// in the same process keeps its own transports.
#include "remote_transport_p.h"

#include <registryio/remote/remote_connect.h>
#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_tls.h>

#include <QDataStream>
#include <QLocalSocket>
#include <QLoggingCategory>
#include <QRemoteObjectNode>
#include <QSet>
#include <QSslConfiguration>
#include <QSslSocket>
#include <QTcpSocket>
#include <QTimer>
#include <QVariant>
#include <QtEndian>
#include <QtRemoteObjects/qtremoteobjectglobal.h>

#include <memory>

namespace rio {

namespace {

// Qt Remote Objects' reconnection interval (QRemoteObjectNode retries every 250 ms).
constexpr int RetryMs = 250;

QString internalScheme(const QString &scheme)
{
    return QStringLiteral("rio") + scheme;
}

// The one device a node reads from and writes to for one URL, for the node's life: it connects,
// and after a loss connects again every RetryMs, to whatever source listens there.
//
// The node sees whole packets only, so its reader never waits for the rest of a packet that a
// dead connection cut short (Qt Remote Objects' reader keeps that size and would take the next
// connection's handshake for the rest). When the connection goes, the node is told what Qt's own
// transports tell it: each object the source remoted is gone (one RemoveObject packet per name,
// the packet a source sends when it stops remoting one), so its replicas turn Suspect and attach
// again when the next source lists them.
class ClientPipe final : public QIODevice
{
public:
    ClientPipe(QRemoteObjectNode *node, const QUrl &url) : QIODevice(node), m_url(url)
    {
        const QString scheme = url.scheme();
        if (scheme == internalScheme(QStringLiteral("local"))) {
            auto *local = new QLocalSocket(this);
            m_socket = local;
            connect(local, &QLocalSocket::stateChanged, this, [this](QLocalSocket::LocalSocketState state) {
                if (state == QLocalSocket::ClosingState)
                    static_cast<QLocalSocket *>(m_socket)->abort(); // the source is gone: unsent bytes too
                else if (state == QLocalSocket::UnconnectedState)
                    lost();
            });
            connect(local, &QLocalSocket::connected, this, [this] { m_open = true; });
        } else {
            const bool tls = scheme == internalScheme(QString::fromLatin1(RemoteTlsScheme));
            auto *tcp = tls ? new QSslSocket(this) : new QTcpSocket(this);
            m_socket = tcp;
            connect(tcp, &QAbstractSocket::stateChanged, this,
                    [this, tcp](QAbstractSocket::SocketState state) {
                        if (state == QAbstractSocket::ClosingState)
                            tcp->abort();
                        else if (state == QAbstractSocket::UnconnectedState)
                            lost();
                    });
            if (tls)
                configureTls(node, static_cast<QSslSocket *>(tcp));
            else
                connect(tcp, &QAbstractSocket::connected, this, [this] { m_open = true; });
        }
        connect(m_socket, &QIODevice::readyRead, this, &ClientPipe::receive);
        m_retry.setSingleShot(true);
        m_retry.setInterval(RetryMs);
        connect(&m_retry, &QTimer::timeout, this, &ClientPipe::connectToSource);
        m_claim.setSingleShot(true);
        m_claim.setInterval(detail::ClaimIntervalMs);
        connect(&m_claim, &QTimer::timeout, m_link, [this] { Q_EMIT m_link->progressed(m_link->received); });
        QIODevice::open(QIODevice::ReadWrite | QIODevice::Unbuffered);
        node->addClientSideConnection(this);
        connectToSource();
    }

    ~ClientPipe() override { m_socket->disconnect(this); }

    ClientPipe(const ClientPipe &) = delete;
    ClientPipe &operator=(const ClientPipe &) = delete;

    [[nodiscard]] bool isSequential() const override { return true; }

    [[nodiscard]] qint64 bytesAvailable() const override
    {
        return m_whole - m_read + QIODevice::bytesAvailable();
    }

    [[nodiscard]] qint64 bytesToWrite() const override { return m_socket->bytesToWrite(); }

protected:
    qint64 readData(char *data, qint64 maxSize) override
    {
        const qint64 n = qMin(maxSize, m_whole - m_read);
        std::memcpy(data, m_in.constData() + m_read, size_t(n));
        m_read += n;
        return n;
    }

    // What the node writes while no source is connected (nothing normally: its replicas are
    // Suspect) has no reader: it is dropped, as a closed socket would.
    qint64 writeData(const char *data, qint64 size) override
    {
        if (!m_open)
            return size;
        const qint64 written = m_socket->write(data, size);
        return written < 0 ? size : written;
    }

private:
    void connectToSource()
    {
        m_link->received = m_link->told = 0; // a new connection's bytes
        m_claim.stop();
        if (auto *local = qobject_cast<QLocalSocket *>(m_socket)) {
            local->connectToServer(m_url.path());
        } else if (auto *ssl = qobject_cast<QSslSocket *>(m_socket)) {
            // The certificate must name the URL's host (an IP address as a subjectAltName IP entry).
            ssl->connectToHostEncrypted(m_url.host(), quint16(m_url.port()), m_url.host());
        } else {
            static_cast<QTcpSocket *>(m_socket)->connectToHost(m_url.host(), quint16(m_url.port()));
        }
    }

    // Appends what arrived, and lets the node read the packets that are whole now.
    void receive()
    {
        // Read straight into the buffer, which keeps its capacity: no allocation per read once
        // the node has read everything before (the usual case).
        if (m_read == m_in.size())
            m_in.resize(0);
        else
            m_in.remove(0, m_read);
        m_whole -= std::exchange(m_read, 0);
        const qint64 arrived = m_socket->bytesAvailable();
        if (arrived > 0) {
            const qsizetype at = m_in.size();
            m_in.resize(at + arrived);
            const qint64 n = m_socket->read(m_in.data() + at, arrived);
            m_in.resize(at + qMax<qint64>(n, 0));
            m_link->received += quint64(qMax<qint64>(n, 0));
            if (n > 0 && !m_claim.isActive())
                m_claim.start();
        }
        const qint64 before = m_whole;
        constexpr qint64 Header = sizeof(quint32);
        while (m_in.size() - m_whole >= Header) {
            const qint64 size = qFromLittleEndian<quint32>(m_in.constData() + m_whole);
            if (m_in.size() - m_whole - Header < size)
                break;
            note(QByteArray::fromRawData(m_in.constData() + m_whole + Header, size));
            m_whole += Header + size;
        }
        if (m_whole > before)
            letRead();
    }

    // The node reads what is whole; its subscribers find this link meanwhile.
    void letRead()
    {
        const auto outer = std::exchange(detail::t_clientLink, m_link);
        Q_EMIT readyRead();
        detail::t_clientLink = outer;
    }

    // The names the source remotes, as its ObjectList and RemoveObject packets say: a packet is its
    // type (16 bits), then for an ObjectList the objects (name, type name, signature), for others
    // the object's name; little-endian.
    void note(const QByteArray &body)
    {
        // Read from the bytes: a QDataStream over a QByteArray allocates a QBuffer, which every
        // event's packet would pay for.
        if (body.size() < qsizetype(sizeof(quint16)))
            return;
        const auto type = qFromLittleEndian<quint16>(body.constData());
        if (type != QtRemoteObjects::ObjectList && type != QtRemoteObjects::RemoveObject)
            return;
        QDataStream in(body);
        in.setByteOrder(QDataStream::LittleEndian);
        in.skipRawData(sizeof(quint16));
        if (type == QtRemoteObjects::ObjectList) {
            quint32 count = 0;
            in >> count;
            for (quint32 i = 0; i < count && in.status() == QDataStream::Ok; ++i) {
                QString name;
                QString typeName;
                QByteArray signature;
                in >> name >> typeName >> signature;
                if (in.status() == QDataStream::Ok)
                    m_names.insert(name);
            }
        } else if (type == QtRemoteObjects::RemoveObject) {
            QString name;
            in >> name;
            m_names.remove(name);
        }
    }

    void lost()
    {
        if (m_retry.isActive())
            return;
        const bool wasOpen = std::exchange(m_open, false);
        if (wasOpen) {
            if (m_socket->isOpen())
                receive();          // the whole packets the source sent before it went
            m_in.truncate(m_whole); // not the one it cut short
            for (const QString &name : std::as_const(m_names))
                appendRemoval(name);
            m_names.clear();
            m_whole = m_in.size();
            letRead();
        }
        m_retry.start();
    }

    void appendRemoval(const QString &name)
    {
        QByteArray packet;
        QDataStream out(&packet, QIODevice::WriteOnly);
        out.setByteOrder(QDataStream::LittleEndian);
        out << quint32(0) << quint16(QtRemoteObjects::RemoveObject) << name;
        qToLittleEndian<quint32>(quint32(packet.size() - sizeof(quint32)), packet.data());
        m_in.append(packet);
    }

    void configureTls(QRemoteObjectNode *node, QSslSocket *ssl)
    {
        // setRemoteTlsConfiguration() keeps it on the node.
        const QVariant configuration = node->property(detail::RemoteTlsConfigurationProperty);
        if (configuration.canConvert<QSslConfiguration>()) {
            ssl->setSslConfiguration(configuration.value<QSslConfiguration>());
        } else {
            qCWarning(lcRegistryIORemote(),
                      "rio::setRemoteTlsConfiguration() was not called for this node: tls: "
                      "connections check the source's certificate against the system's CA "
                      "certificates only");
        }
        connect(ssl, &QSslSocket::sslErrors, this, [this](const QList<QSslError> &errors) {
            QStringList what;
            for (const QSslError &error : errors)
                what.append(error.errorString());
            // Not ignored: the handshake fails and the socket closes. Said once per reason, as
            // the connection is tried again every RetryMs.
            refuse(what.join(QStringLiteral("; ")));
        });
        connect(ssl, &QAbstractSocket::errorOccurred, this, [this, ssl](QAbstractSocket::SocketError error) {
            if (error == QAbstractSocket::SslHandshakeFailedError)
                refuse(ssl->errorString());
        });
        connect(ssl, &QSslSocket::encrypted, this, [this] {
            m_refusal.clear();
            m_open = true;
        });
    }

    void refuse(const QString &reason)
    {
        if (reason == m_refusal)
            return;
        m_refusal = reason;
        qCWarning(lcRegistryIORemote(), "rio: the TLS connection to %s is refused: %s",
                  qPrintable(publicUrl().toString()), qPrintable(reason));
    }

    [[nodiscard]] QUrl publicUrl() const
    {
        QUrl url = m_url;
        url.setScheme(m_url.scheme().mid(3));
        return url;
    }

    QUrl m_url;
    QIODevice *m_socket = nullptr;
    QTimer m_retry{this}; // a child: it moves with the node to another thread
    detail::ClientLink *m_link = new detail::ClientLink(this);
    QTimer m_claim{this}; // runs while bytes arrive: the link tells what was read at most this often
    QByteArray m_in;      // read from the socket, not yet by the node
    qint64 m_read = 0;    // the node read up to here
    qint64 m_whole = 0;   // the whole packets end here (the node may read up to it)
    QSet<QString> m_names;
    QString m_refusal;
    bool m_open = false; // connected (encrypted, for TLS)
};

} // namespace

bool connectToSource(QRemoteObjectNode *node, const QUrl &url)
{
    const QString scheme = url.scheme();
    if (!node || (scheme != QLatin1String("local") && scheme != QLatin1String("tcp") &&
                  scheme != QLatin1String(RemoteTlsScheme))) {
        qCWarning(lcRegistryIORemote(), "rio::connectToSource: %s",
                  !node ? "no node"
                        : qPrintable(QStringLiteral("unsupported URL \"%1\" (local:, tcp:// or tls://)")
                                         .arg(url.toString())));
        return false;
    }
    if (scheme != QLatin1String("local") && (url.host().isEmpty() || url.port() <= 0)) {
        qCWarning(lcRegistryIORemote(), "rio::connectToSource: \"%s\" needs a host and a port",
                  qPrintable(url.toString()));
        return false;
    }
    QUrl internal = url;
    internal.setScheme(internalScheme(scheme));
    node->registerExternalSchema(internal.scheme(), [node](const QUrl &at) { new ClientPipe(node, at); });
    return node->connectToNode(internal);
}

} // namespace rio
