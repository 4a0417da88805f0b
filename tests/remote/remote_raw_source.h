// SPDX-License-Identifier: MIT
#pragma once
// A source that speaks Qt Remote Objects by hand, in this process, over local:, TCP or TLS: it
// answers a subscriber's node as a share does (handshake, its objects, their definitions, a
// channel for each subscription), and writes whatever else a test or the fuzzer makes of it.
// The packets are written out here rather than with Qt Remote Objects, so that they can lie.
#include "remote_payload.h"

#include <QDataStream>
#include <QLocalServer>
#include <QLocalSocket>
#include <QObject>
#include <QPointer>
#include <QSslConfiguration>
#include <QSslServer>
#include <QSslSocket>
#include <QTcpServer>
#include <QUrl>
#include <QVariant>
#include <QtEndian>
#include <QtRemoteObjects/qtremoteobjectglobal.h>

#include <functional>
#include <memory>

namespace raw {

inline void wire(QDataStream &stream)
{
    stream.setVersion(QDataStream::Qt_6_2);
    stream.setByteOrder(QDataStream::LittleEndian);
}

// A packet as it travels: its size (32 bits, little-endian), then its body.
inline QByteArray framed(const QByteArray &body)
{
    QByteArray bytes(4, Qt::Uninitialized);
    qToLittleEndian(quint32(body.size()), bytes.data());
    return bytes + body;
}

// The body of a packet of `type` for the object `name` (none for an ObjectList), then what
// `write` streams.
inline QByteArray body(quint16 type, const QString *name,
                       const std::function<void(QDataStream &)> &write = {})
{
    QByteArray bytes;
    QDataStream out(&bytes, QIODevice::WriteOnly);
    wire(out);
    out << type;
    if (name)
        out << *name;
    if (write)
        write(out);
    return bytes;
}

inline QByteArray packet(quint16 type, const QString &name,
                         const std::function<void(QDataStream &)> &write = {})
{
    return framed(body(type, &name, write));
}

inline QByteArray handshake(const QString &version = QStringLiteral("QtRO 2.0"))
{
    return packet(QtRemoteObjects::Handshake, version);
}

inline QByteArray objectList(const QStringList &names)
{
    return framed(body(QtRemoteObjects::ObjectList, nullptr, [&](QDataStream &out) {
        out << quint32(names.size());
        for (const QString &name : names)
            out << name << QString() << QByteArray();
    }));
}

// A class's definition (no enumerations, gadget types or properties), as InitDynamicPacket
// carries it, then its properties' values (none).
inline void definition(QDataStream &out, const QString &typeName, const QList<QByteArray> &signalList,
                       const QList<QByteArray> &methods)
{
    out << typeName << quint32(0) << quint32(0) << quint32(0) << quint32(signalList.size());
    for (const QByteArray &signature : signalList)
        out << signature << QByteArrayList(signature.count(',') + (signature.endsWith("()") ? 0 : 1));
    out << quint32(methods.size());
    for (const QByteArray &signature : methods)
        out << signature << QByteArray("void")
            << QByteArrayList(signature.count(',') + (signature.endsWith("()") ? 0 : 1));
    out << quint32(0) << quint32(0); // properties, values
}

// What a share remotes under its name, and under each subscriber's channel.
inline const QList<QByteArray> ShareMethods{"post(QByteArray)", "subscribe(QByteArray)",
                                            "unsubscribe(qulonglong)", "took(qulonglong)"};
inline QByteArray shareDefinition(const QString &name)
{
    return packet(QtRemoteObjects::InitDynamicPacket, name, [](QDataStream &out) {
        definition(out, QStringLiteral("rio::detail::RemoteSource"), {}, ShareMethods);
    });
}
inline QByteArray channelDefinition(const QString &name)
{
    return packet(QtRemoteObjects::InitDynamicPacket, name, [](QDataStream &out) {
        definition(out, QStringLiteral("rio::detail::RemoteChannel"), {"delivered(QByteArray)"}, {"ready()"});
    });
}

// Signal `index` of `name` emitted with `args` (an InvokePacket as a source writes it).
inline QByteArray emission(const QString &name, int index, const QVariantList &args)
{
    return packet(QtRemoteObjects::InvokePacket, name, [&](QDataStream &out) {
        out << qint32(QMetaObject::InvokeMetaMethod) << qint32(index) << quint32(args.size());
        for (const QVariant &arg : args)
            out << arg;
        out << qint32(-1) << qint32(-1);
    });
}

// One event frame as a share emits it on a channel: version 2, flags, instance, one event
// (sequence, origin 0, its bytes); big-endian.
inline QByteArray eventFrame(quint64 instance, quint64 sequence, const QByteArray &payload)
{
    QByteArray bytes(1, char(2));
    bytes += char(0);
    QByteArray numbers(28, Qt::Uninitialized);
    qToBigEndian(instance, numbers.data());
    qToBigEndian(quint32(1), numbers.data() + 8);
    qToBigEndian(sequence, numbers.data() + 12);
    qToBigEndian(quint64(0), numbers.data() + 20);
    QByteArray length(4, Qt::Uninitialized);
    qToBigEndian(quint32(payload.size()), length.data());
    return bytes + numbers + length + payload;
}

// One packet a node wrote: its type, its object, and what a test looks at of what it carries.
struct NodePacket
{
    quint16 type = 0;
    QString name;
    bool dynamic = false; // AddObject
    qint32 index = -1;    // InvokePacket
    QVariantList args;    // InvokePacket
};

// The source. Each new connection replaces the one before; `honest` makes it answer a share's
// subscriber as a RemoteShare named `name` would, up to the subscriber's ready(), so that it
// is Connected.
class RawSource : public QObject
{
public:
    explicit RawSource(const QString &url, const QSslConfiguration &tls = {},
                       QString name = QStringLiteral("orders"))
        : m_name(std::move(name))
    {
        const QUrl at(url);
        if (at.scheme() == QLatin1String("local")) {
            auto *server = new QLocalServer(this);
            QLocalServer::removeServer(at.path());
            if (server->listen(at.path()))
                m_address = url;
            connect(server, &QLocalServer::newConnection, this,
                    [this, server] { adopt(server->nextPendingConnection()); });
            return;
        }
        const bool secure = at.scheme() == QLatin1String("tls");
        auto *server = secure ? new QSslServer(this) : new QTcpServer(this);
        if (secure)
            static_cast<QSslServer *>(server)->setSslConfiguration(tls);
        if (server->listen(QHostAddress(at.host()), quint16(at.port())))
            m_address = QStringLiteral("%1://%2:%3").arg(at.scheme(), at.host()).arg(server->serverPort());
        connect(server, &QTcpServer::pendingConnectionAvailable, this,
                [this, server] { adopt(server->nextPendingConnection()); });
    }

    [[nodiscard]] QString address() const { return m_address; }
    [[nodiscard]] QIODevice *connection() const { return m_socket; }
    [[nodiscard]] int connections() const { return m_connections; }
    [[nodiscard]] bool isOpen() const { return m_socket && m_open; }
    // The subscriber's channel, once it subscribed; whether it said ready() on it.
    [[nodiscard]] QString channel() const { return m_channel; }
    [[nodiscard]] bool ready() const { return m_ready; }
    [[nodiscard]] const QList<NodePacket> &received() const { return m_received; }

    void write(const QByteArray &bytes)
    {
        if (m_socket)
            m_socket->write(bytes);
    }
    void setHonest(bool honest) { m_honest = honest; }
    // Answers the node's next AddObject for a channel with `answer` instead of its definition (on
    // every connection while `always`).
    void answerChannelWith(std::function<QByteArray(const QString &channel)> answer, bool always = false)
    {
        m_answer = std::move(answer);
        m_always = always;
    }

private:
    void adopt(QIODevice *socket)
    {
        if (!socket)
            return;
        if (m_socket)
            m_socket->deleteLater();
        m_socket = socket;
        m_open = true;
        m_in.clear();
        m_channel.clear();
        m_ready = false;
        ++m_connections;
        const auto closed = [this, socket] {
            if (m_socket == socket)
                m_open = false;
        };
        if (auto *local = qobject_cast<QLocalSocket *>(socket))
            connect(local, &QLocalSocket::disconnected, this, closed);
        else
            connect(static_cast<QAbstractSocket *>(socket), &QAbstractSocket::disconnected, this, closed);
        connect(socket, &QIODevice::readyRead, this, [this, socket] { read(socket); });
        if (m_honest)
            write(handshake() + objectList({m_name}));
        read(socket);
    }

    void read(QIODevice *socket)
    {
        if (socket != m_socket)
            return;
        m_in += socket->readAll();
        while (m_in.size() >= 4) {
            const qint64 size = qFromLittleEndian<quint32>(m_in.constData());
            if (m_in.size() - 4 < size)
                return;
            QDataStream in(m_in.mid(4, size));
            wire(in);
            NodePacket packet;
            in >> packet.type >> packet.name;
            if (packet.type == QtRemoteObjects::AddObject) {
                in >> packet.dynamic;
            } else if (packet.type == QtRemoteObjects::InvokePacket) {
                qint32 call = 0;
                in >> call >> packet.index >> packet.args;
            }
            m_in.remove(0, 4 + size);
            m_received.append(packet);
            if (m_honest)
                answer(packet);
        }
    }

    void answer(const NodePacket &packet)
    {
        if (packet.type == QtRemoteObjects::AddObject && packet.name != m_name && m_answer) {
            write(m_answer(packet.name));
            if (!m_always)
                m_answer = nullptr;
        } else if (packet.type == QtRemoteObjects::AddObject && !packet.dynamic) { // it has the class
            write(raw::packet(QtRemoteObjects::InitPacket, packet.name,
                              [](QDataStream &out) { out << quint32(0); }));
        } else if (packet.type == QtRemoteObjects::AddObject) {
            write(packet.name == m_name ? shareDefinition(packet.name) : channelDefinition(packet.name));
        } else if (packet.type == QtRemoteObjects::InvokePacket && packet.name == m_name &&
                   packet.index == 1) {
            const QByteArray secret = packet.args.value(0).toByteArray();
            m_channel = m_name + QLatin1Char('#') + QString::number(keyOf(secret), 16);
            write(objectList({m_channel}));
        } else if (packet.type == QtRemoteObjects::InvokePacket && packet.name == m_channel &&
                   packet.index == 0) {
            m_ready = true;
        }
    }

    QString m_name;
    QString m_address;
    QPointer<QIODevice> m_socket;
    bool m_open = false;
    bool m_honest = true;
    bool m_ready = false;
    bool m_always = false;
    std::function<QByteArray(const QString &)> m_answer;
    int m_connections = 0;
    QByteArray m_in;
    QString m_channel;
    QList<NodePacket> m_received;
};

} // namespace raw
