// SPDX-License-Identifier: MIT
// The client side: connectToSource() connects a node through schemes of the library's own
// (riolocal:, riotcp:, riotls:) registered with Qt Remote Objects' external-schema API, so that
// plain Qt Remote Objects (local:, tcp:) in the same process keeps its own transports.
#include "remote_screen_p.h"
#include "remote_transport_p.h"

#include <registryio/remote/remote_connect.h>
#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_tls.h>

#include <QDataStream>
#include <QHash>
#include <QLocalSocket>
#include <QLoggingCategory>
#include <QPointer>
#include <QRemoteObjectNode>
#include <QSet>
#include <QSslConfiguration>
#include <QSslSocket>
#include <QTcpSocket>
#include <QTimer>
#include <QVariant>
#include <QtEndian>
#include <QtRemoteObjects/qtremoteobjectglobal.h>

#include <algorithm>
#include <memory>
#include <optional>

namespace rio {

namespace {

constexpr int RetryMs = 250; // as QRemoteObjectNode's own reconnection
// What a node holds for one source at most: a packet (so about the largest event a subscriber
// takes), and the objects the source lists (names, type names, signatures).
constexpr qint64 MaxReplyBytes = qint64(64) << 20;
constexpr qint64 MaxListedBytes = qint64(8) << 20;
constexpr qint64 ReadChunk = qint64(1) << 20; // what the socket buffers while the pipe does not read
// The most signals, methods or properties a class a source defines may have.
constexpr quint32 MaxMembers = 256;

QString internalScheme(const QString &scheme)
{
    return QStringLiteral("rio") + scheme;
}

// The API a source defined for a dynamic replica: each signal's parameter types, each property's type.
struct ReplicaApi
{
    QList<QList<QMetaType>> signalTakes;
    QList<QMetaType> properties;
};

// What a node asked of its source and was told, against which each packet the source sends is
// judged. Per connection: the handshake, the objects listed (with the bytes each holds in the
// node), those released (what the source sent for one before it read that is read and ignored).
// Per object acquired (an AddObject written): whether it waits for its definition or values, and
// its API (kept across connections, as the node's replica keeps the class it built).
struct ReplyState
{
    struct Replica
    {
        std::optional<ReplicaApi> api;
        bool dynamic = false;  // it asked for a definition (it has none)
        bool awaiting = false; // asked on this connection, not answered yet
        bool live = false;     // answered on this connection
    };
    bool handshaken = false;
    QHash<QString, qint64> listed;
    qint64 listedBytes = 0;
    QHash<QString, Replica> replicas;
    QSet<QString> released;
    // AddObject packets not answered yet, by name: an object released and asked for again before
    // the source answered gets two answers, both its own.
    QHash<QString, int> unanswered;

    // Notes the AddObject and RemoveObject packets the node writes (each whole, in one write).
    void wrote(const char *data, qint64 size)
    {
        for (qint64 at = 0; at + 6 <= size; at += 4 + qint64(qFromLittleEndian<quint32>(data + at))) {
            const auto type = qFromLittleEndian<quint16>(data + at + 4);
            if (type != QtRemoteObjects::AddObject && type != QtRemoteObjects::RemoveObject)
                continue;
            QDataStream in(QByteArray::fromRawData(data + at + 6, size - at - 6));
            in.setByteOrder(QDataStream::LittleEndian);
            QString name;
            bool dynamic = false;
            in >> name >> dynamic;
            if (type == QtRemoteObjects::RemoveObject) {
                replicas.remove(name);
                released.insert(name);
            } else {
                replicas[name] = {replicas.value(name).api, dynamic, true, false};
                released.remove(name);
                ++unanswered[name];
            }
        }
    }

    // The connection went: what the source listed (the node's RemoveObject packets), forgotten.
    QStringList lost()
    {
        QStringList names = listed.keys();
        listed.clear();
        listedBytes = 0;
        handshaken = false;
        released.clear();
        unanswered.clear();
        for (Replica &replica : replicas)
            replica.awaiting = replica.live = false;
        return names;
    }
};

// A packet a source sent, walked as the node reads it and judged against ReplyState, which it
// changes only once the whole packet passed.
class ReplyScreen : detail::WireWalk
{
public:
    ReplyScreen(const QByteArray &body, ReplyState &state) : WireWalk(body), m_state(state) { }

    QString packet()
    {
        using detail::Carries;
        quint16 type = 0;
        Carries carries = Carries::Refused;
        if (QString why = WireWalk::type(type, &detail::PacketRule::toReplica, carries); !why.isEmpty())
            return why;
        if (m_state.handshaken == (carries == Carries::Handshake))
            return m_state.handshaken ? QStringLiteral("a second handshake")
                                      : QStringLiteral("a packet of type %1 before its handshake").arg(type);
        if (carries != Carries::Objects)
            m_in >> m_name;
        if (!ok())
            return QStringLiteral("a packet of type %1 with a malformed object name").arg(type);
        m_released = m_state.released.contains(m_name);
        const auto it = m_state.replicas.find(m_name);
        m_replica = it == m_state.replicas.end() ? nullptr : &*it;
        QString why;
        if (carries == Carries::Handshake && m_name != QLatin1String("QtRO 2.0"))
            why = QStringLiteral("a handshake of protocol \"%1\" (this node speaks QtRO 2.0)")
                      .arg(m_name.left(64));
        else if (carries == Carries::Objects)
            why = objects();
        else if (carries == Carries::Definition || carries == Carries::Values)
            why = init(carries == Carries::Definition);
        else if (carries == Carries::Invocation)
            why = emission();
        else if (carries == Carries::Reply || carries == Carries::Property)
            why = value(carries == Carries::Reply);
        if (why.isEmpty())
            why = rest(type);
        if (why.isEmpty())
            commit(carries, type);
        return why;
    }

private:
    // The objects the source remotes, for the node's list (which keeps the first entry of a name).
    QString objects()
    {
        quint32 count = 0;
        QString why =
            WireWalk::count(count, 3 * detail::SmallestString, QStringLiteral("an object list"), "objects");
        qint64 bytes = m_state.listedBytes;
        for (quint32 i = 0; i < count && why.isEmpty(); ++i) {
            QString name;
            QString typeName;
            QByteArray signature;
            m_in >> name >> typeName >> signature;
            if (!ok())
                return QStringLiteral("a malformed object list");
            if (m_state.listed.contains(name) || m_listed.contains(name))
                continue;
            m_listed.insert(name, 64 + 2 * (name.size() + typeName.size()) + signature.size());
            if ((bytes += m_listed.value(name)) > MaxListedBytes)
                why = QStringLiteral("a list of objects that would hold more than %1 bytes")
                          .arg(MaxListedBytes);
        }
        return why;
    }

    // InitDynamicPacket (`dynamic`: a definition, then the values) or InitPacket (the values).
    QString init(bool dynamic)
    {
        const QString what =
            QStringLiteral("the %1 of \"%2\"")
                .arg(dynamic ? QStringLiteral("definition") : QStringLiteral("values"), m_name);
        if (!m_released && (!m_replica || !m_replica->awaiting || m_replica->dynamic != dynamic ||
                            (!dynamic && !m_replica->api)))
            return what + QStringLiteral(", which this node did not ask for (or knows no definition of)");
        if (dynamic) {
            if (QString why = definition(); !why.isEmpty())
                return QStringLiteral("%1 with %2").arg(what, why);
        } else if (!m_released) {
            m_api = *m_replica->api;
        }
        quint32 count = 0;
        if (QString why = WireWalk::count(count, detail::SmallestVariant, what, "values"); !why.isEmpty())
            return why;
        return values(count, m_released ? nullptr : &m_api.properties, what);
    }

    // A class's definition without enumerations or gadget types (Qt Remote Objects would register
    // them in this process for good), whose signals and properties take only the table's types.
    QString definition()
    {
        QString typeName;
        quint32 enums = 0;
        quint32 qtEnums = 0;
        quint32 gadgets = 0;
        m_in >> typeName >> enums >> qtEnums >> gadgets;
        if (!ok() || enums || qtEnums || gadgets)
            return QStringLiteral("enumerations or gadget types, or cut short");
        for (const char *members : {"signals", "methods", "properties"}) {
            quint32 count = 0;
            QString why =
                WireWalk::count(count, 3 * detail::SmallestString, QStringLiteral("a definition"), members);
            // Qt Remote Objects connects each signal of a replica it builds, at a cost that grows
            // with the square of their count: a class of more members than any share has is refused.
            if (why.isEmpty() && count > MaxMembers)
                why = QStringLiteral("a definition of %1 %2 (at most %3)")
                          .arg(count)
                          .arg(members)
                          .arg(MaxMembers);
            for (quint32 i = 0; i < count && why.isEmpty(); ++i)
                why = member(*members);
            if (!why.isEmpty())
                return why;
        }
        return {};
    }

    // One signal (`kind` 's'), method ('m') or property ('p') of a definition.
    QString member(char kind)
    {
        QByteArray signature;
        QByteArray type;
        QByteArray notifier;
        m_in >> signature;
        if (kind == 'p') {
            m_in >> type >> notifier;
            // A property's type name as Qt Remote Objects writes it: with its terminating zero.
            const QMetaType metaType = QMetaType::fromName(type.chopped(type.endsWith('\0') ? 1 : 0));
            m_api.properties.append(metaType);
            return ok() && type.endsWith('\0') && screened(metaType)
                       ? QString()
                       : QStringLiteral("a property of type %1")
                             .arg(QString::fromLatin1(type.left(64)).remove(QChar(0)));
        }
        if (kind == 'm')
            m_in >> type;
        QList<QMetaType> takes;
        quint32 names = 0;
        QString why = parameters(signature, kind == 's' ? &takes : nullptr);
        if (why.isEmpty())
            why = WireWalk::count(names, detail::SmallestString, QStringLiteral("a signature"), "names");
        if (why.isEmpty() && kind == 's' && names != 0 && names != quint32(takes.size()))
            why = QStringLiteral("a signal of %1 parameters with %2 names").arg(takes.size()).arg(names);
        for (quint32 i = 0; i < names && ok(); ++i)
            m_in >> type;
        if (kind == 's')
            m_api.signalTakes.append(takes);
        return why.isEmpty() && !ok() ? QStringLiteral("a definition cut short") : why;
    }

    // Whether a signal or property may take values of type `type`: the table knows it.
    static bool screened(QMetaType type)
    {
        return type == QMetaType::fromType<QVariant>() || detail::wireType(detail::transferType(type));
    }

    // The types of a signature "name(T1,T2)", each one the table knows (into `types`, when given).
    QString parameters(const QByteArray &signature, QList<QMetaType> *types)
    {
        const QByteArray normal = QMetaObject::normalizedSignature(signature.constData());
        const qsizetype open = normal.indexOf('(');
        if (!ok() || open <= 0 || !normal.endsWith(')'))
            return QStringLiteral("a malformed signature %1").arg(QString::fromLatin1(signature.left(64)));
        const QByteArray inside = normal.mid(open + 1, normal.size() - open - 2);
        int depth = 0;
        qsizetype from = 0;
        for (qsizetype i = 0; types && i <= inside.size(); ++i) {
            if (i < inside.size() && (inside[i] != ',' || depth > 0)) {
                depth += inside[i] == '<' ? 1 : inside[i] == '>' ? -1 : 0;
                continue;
            }
            const QMetaType type = QMetaType::fromName(inside.mid(from, i - from));
            if ((i > from || !inside.isEmpty()) && !screened(type))
                return QStringLiteral("a signal %1 of a type no subscriber takes")
                    .arg(QString::fromLatin1(signature.left(64)));
            if (i > from)
                types->append(type);
            from = i + 1;
        }
        return {};
    }

    // The API of the object the packet is for, if it was defined on this connection; else null,
    // `why` set.
    const ReplicaApi *api(const QString &what, QString &why) const
    {
        if (m_replica && m_replica->live && m_replica->api)
            return &*m_replica->api;
        why = what + QStringLiteral(", which this node did not acquire from it");
        return nullptr;
    }

    // A signal the source emits (an InvokePacket), as its definition gave it.
    QString emission()
    {
        qint32 call = -1;
        qint32 index = -1;
        quint32 count = 0;
        m_in >> call >> index;
        const QString what = QStringLiteral("an emission of \"%1\" signal %2").arg(m_name).arg(index);
        QString why = WireWalk::count(count, detail::SmallestVariant, what, "arguments");
        const ReplicaApi *api = m_released || !why.isEmpty() ? nullptr : this->api(what, why);
        if (api && (call != QMetaObject::InvokeMetaMethod || index < 0 || index >= api->signalTakes.size()))
            why = what + QStringLiteral(" of kind %1, which it did not define").arg(call);
        if (why.isEmpty())
            why = values(count, api ? &api->signalTakes.at(index) : nullptr, what);
        qint32 serial = 0;
        qint32 property = 0;
        m_in >> serial >> property;
        if (why.isEmpty() && api && property != -1 && (property < 0 || property >= api->properties.size()))
            why = what + QStringLiteral(" naming property %1").arg(property);
        return why;
    }

    // A reply's value (of any type the table knows), or a property's new value (of its type).
    QString value(bool reply)
    {
        qint32 index = -1;
        m_in >> index;
        const QString what =
            QStringLiteral("%1 \"%2\" %3")
                .arg(reply ? QStringLiteral("a reply of") : QStringLiteral("a change of"), m_name)
                .arg(index);
        QString why; // a reply too is for an object this node acquired
        const ReplicaApi *api = m_released ? nullptr : this->api(what, why);
        if (reply)
            api = nullptr; // its value: any type the table knows
        else if (api && (index < 0 || index >= api->properties.size()))
            why = what + QStringLiteral(", a property it did not define");
        const QList<QMetaType> takes{api && why.isEmpty() ? api->properties.at(index) : QMetaType()};
        return why.isEmpty() ? values(1, api ? &takes : nullptr, what) : why;
    }

    void commit(detail::Carries carries, quint16 type)
    {
        if (carries == detail::Carries::Handshake) {
            m_state.handshaken = true;
        } else if (carries == detail::Carries::Objects) {
            for (auto it = m_listed.cbegin(); it != m_listed.cend(); ++it)
                m_state.listedBytes += m_state.listed[it.key()] = it.value();
        } else if (carries == detail::Carries::Definition || carries == detail::Carries::Values) {
            const bool more = --m_state.unanswered[m_name] > 0; // another AddObject's answer to come
            if (!more)
                m_state.unanswered.remove(m_name);
            if (!m_released)
                *m_replica = {std::move(m_api), more && m_replica->dynamic, more, true};
        } else if (type == QtRemoteObjects::RemoveObject) {
            m_state.listedBytes -= m_state.listed.take(m_name);
            if (m_replica)
                m_replica->awaiting = m_replica->live = false;
        }
    }

    ReplyState &m_state;
    QString m_name;
    bool m_released = false;
    ReplyState::Replica *m_replica = nullptr;
    ReplicaApi m_api;                // what a definition defines, or the values are of
    QHash<QString, qint64> m_listed; // what an object list adds
};

// The one device a node uses for one URL, for the node's life: it connects, and after a loss again
// every RetryMs, to whatever source listens there. The node reads whole, screened packets only: it
// never waits for the rest of one a dead connection cut short (Qt Remote Objects' reader would take
// the next handshake for it), nor reads one it would decode unsafely. When the connection goes,
// the node gets one RemoveObject per object listed, as from Qt's own transports, so its replicas
// turn Suspect and attach again when the next source lists them.
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
        detail::setReadLimit(m_socket, ReadChunk);
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

    // What the node writes while no source is connected (nothing normally) is dropped, as a closed
    // socket would.
    qint64 writeData(const char *data, qint64 size) override
    {
        m_screen.wrote(data, size); // what the node asks its source for
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

    // Lets the node read the packets made whole that passed the screen. A refused packet drops
    // the connection once what passed before it was read; it and what follows are never read.
    // While the node reads (a handler may spin an event loop), what arrives waits in the socket.
    void receive()
    {
        if (m_reading)
            return;
        // The buffer keeps its capacity: no allocation per read once the node read everything.
        if (m_read == m_in.size() && m_in.capacity() > 2 * ReadChunk)
            m_in = QByteArray(); // a large packet's room goes back once it was read
        else if (m_read == m_in.size())
            m_in.resize(0);
        else
            m_in.remove(0, m_read);
        m_whole -= std::exchange(m_read, 0);
        if (const qint64 n = detail::readInto(m_socket, m_in, ReadChunk); n > 0) {
            m_link->received += quint64(n);
            if (!m_claim.isActive())
                m_claim.start();
        }
        QString why;
        const qint64 before = m_whole;
        m_whole = detail::screenPackets(
            m_in, m_whole, MaxReplyBytes,
            [this](const QByteArray &body) { return ReplyScreen(body, m_screen).packet(); }, why);
        const QPointer<ClientPipe> alive(this);
        if (m_whole > before)
            letRead(); // a handler may destroy the node, and this pipe with it
        if (!alive)
            return;
        m_link->held = m_in.size() - m_read;
        if (!why.isEmpty()) {
            m_in.truncate(m_whole);
            refuse(QStringLiteral("the source at %1 sent %2; its connection is dropped")
                       .arg(publicUrl().toString(), why));
            abortSocket();
        } else if (m_socket->bytesAvailable() > 0) { // what arrived while the node read
            QMetaObject::invokeMethod(this, &ClientPipe::receive, Qt::QueuedConnection);
        }
    }

    // The node reads what is whole; its subscribers find this link meanwhile.
    void letRead()
    {
        const auto outer = std::exchange(detail::t_clientLink, m_link);
        const bool reading = std::exchange(m_reading, true);
        Q_EMIT readyRead();
        m_reading = reading;
        detail::t_clientLink = outer;
    }

    void abortSocket()
    {
        if (auto *local = qobject_cast<QLocalSocket *>(m_socket))
            local->abort();
        else
            static_cast<QAbstractSocket *>(m_socket)->abort();
    }

    void lost()
    {
        if (m_retry.isActive())
            return;
        if (!std::exchange(m_refused, false))
            m_refusal.clear(); // a connection that ended by itself: a refusal is said again
        if (std::exchange(m_open, false)) {
            if (m_socket->isOpen())
                receive();          // the whole packets the source sent before it went
            m_in.truncate(m_whole); // not the one it cut short
            for (const QString &name : m_screen.lost())
                appendRemoval(name);
            m_whole = m_in.size();
            const QPointer<ClientPipe> alive(this);
            letRead();
            if (!alive)
                return;
            m_link->held = m_in.size() - m_read;
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
            // Not ignored: the handshake fails and the socket closes.
            refuse(tlsRefusal(what.join(QStringLiteral("; "))));
        });
        connect(ssl, &QAbstractSocket::errorOccurred, this, [this, ssl](QAbstractSocket::SocketError error) {
            if (error == QAbstractSocket::SslHandshakeFailedError)
                refuse(tlsRefusal(ssl->errorString()));
        });
        connect(ssl, &QSslSocket::encrypted, this, [this] { m_open = true; });
    }

    [[nodiscard]] QString tlsRefusal(const QString &reason) const
    {
        return QStringLiteral("the TLS connection to %1 is refused: %2").arg(publicUrl().toString(), reason);
    }

    // Warns of a connection this side refuses: once per reason while the connection is tried
    // again every RetryMs and refused the same way.
    void refuse(const QString &warning)
    {
        m_refused = true;
        if (warning == m_refusal)
            return;
        m_refusal = warning;
        qCWarning(lcRegistryIORemote(), "rio: %s", qPrintable(warning));
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
    ReplyState m_screen;
    QString m_refusal;      // the last refusal's warning
    bool m_refused = false; // this connection was refused
    bool m_reading = false; // the node reads this pipe
    bool m_open = false;    // connected (encrypted, for TLS)
};

} // namespace

qint64 detail::readInto(QIODevice *socket, QByteArray &buffer, qint64 limit)
{
    // At most `limit` a turn (an unbuffered socket's bytesAvailable() is all the system holds).
    const qint64 arrived = std::min(socket->bytesAvailable(), limit);
    if (arrived <= 0)
        return 0;
    const qsizetype at = buffer.size();
    buffer.resize(at + arrived);
    const qint64 n = std::max<qint64>(socket->read(buffer.data() + at, arrived), 0);
    buffer.resize(at + n);
    if (arrived >= limit) { // it was full and reads from the system no more: again
        setReadLimit(socket, 0);
        setReadLimit(socket, limit);
    }
    return n;
}

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
