// SPDX-License-Identifier: MIT
#include <registryio/remote/remote_tls.h>

#include <QHostAddress>
#include <QPointer>
#include <QRemoteObjectNode>
#include <QSslConfiguration>
#include <QSslSocket>
#include <QVariant>
#include <QtRemoteObjects/qconnectionfactories.h>

#include <mutex>

namespace rio {

namespace {

constexpr const char *TlsConfigurationProperty = "_rio_remote_tls";

// A Qt Remote Objects client connection over QSslSocket: connectToNode(tls://...) creates one per
// URL, and Qt Remote Objects' own reconnection drives it (shouldReconnect, then connectToServer
// again), so replicas go Suspect and come back as over plain TCP.
class TlsClientIo final : public QtROClientIoDevice
{
public:
    explicit TlsClientIo(QObject *parent) : QtROClientIoDevice(parent), m_socket(new QSslSocket(this))
    {
        // The node that creates us holds the configuration.
        const QVariant configuration = parent ? parent->property(TlsConfigurationProperty) : QVariant();
        if (configuration.canConvert<QSslConfiguration>()) {
            m_socket->setSslConfiguration(configuration.value<QSslConfiguration>());
        } else {
            qWarning("rio::setRemoteTlsConfiguration() was not called for this node: tls: "
                     "connections check the source's certificate against the system's CA "
                     "certificates only");
        }
        connect(m_socket, &QSslSocket::readyRead, this, &QtROClientIoDevice::readyRead);
        connect(m_socket, &QSslSocket::sslErrors, this, [this](const QList<QSslError> &errors) {
            QStringList what;
            for (const QSslError &error : errors)
                what.append(error.errorString());
            // Not ignored: the handshake fails and the socket closes. Said once per reason, as
            // Qt Remote Objects retries every quarter of a second.
            refuse(what.join(QStringLiteral("; ")));
        });
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
        });
        connect(m_socket, &QSslSocket::encrypted, this, [this] {
            m_refusal.clear();
            initializeDataStream();
        });
    }

    ~TlsClientIo() override { close(); }

    TlsClientIo(const TlsClientIo &) = delete;
    TlsClientIo &operator=(const TlsClientIo &) = delete;

    [[nodiscard]] QIODevice *connection() const override { return m_socket; }

    void connectToServer() override
    {
        if (isOpen())
            return;
        // The certificate must name the URL's host (an IP address as a subjectAltName IP entry).
        m_socket->connectToHostEncrypted(url().host(), quint16(url().port()), url().host());
    }

    [[nodiscard]] bool isOpen() const override
    {
        return !isClosing() && (m_socket->state() == QAbstractSocket::ConnectedState ||
                                m_socket->state() == QAbstractSocket::ConnectingState ||
                                m_socket->state() == QAbstractSocket::HostLookupState);
    }

protected:
    void doClose() override
    {
        if (m_socket->isOpen()) {
            connect(m_socket, &QSslSocket::disconnected, this, &QObject::deleteLater);
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
        qWarning("rio: the TLS connection to %s is refused: %s", qPrintable(url().toString()),
                 qPrintable(reason));
    }

    QSslSocket *m_socket;
    QString m_refusal;
};

} // namespace

void setRemoteTlsConfiguration(QRemoteObjectNode *node, const QSslConfiguration &configuration)
{
    static std::once_flag registered;
    std::call_once(registered, [] {
        QtROClientFactory::instance()->registerType<TlsClientIo>(QString::fromLatin1(RemoteTlsScheme));
    });
    if (node)
        node->setProperty(TlsConfigurationProperty, QVariant::fromValue(configuration));
}

} // namespace rio
