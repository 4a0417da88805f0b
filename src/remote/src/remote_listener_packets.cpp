// SPDX-License-Identifier: MIT
#include "remote_listener_p.h"

#include <QDataStream>
#include <QMetaMethod>
#include <QtEndian>

namespace rio {

using namespace detail; // remote_listener_p.h

void RemoteListener::beforeRead(QIODevice *socket)
{
    Private::Peer *peer = d->find(socket);
    if (!peer || socket->property(RejectedProperty).toBool())
        return;
    peer->before = socket->bytesAvailable();
    peer->readPaused = peer->pauses > 0;
    const QString why = d->screen(*peer, socket);
    if (why.isEmpty())
        return;
    // Qt Remote Objects must not read it: its reader is stopped for the rest of this read, and
    // afterRead() closes the connection (drop() leaves the connection being read open).
    if (QtROIoDeviceBase *device = d->deviceOf(socket))
        device->blockSignals(true);
    drop(socket, QStringLiteral("rio::RemoteListener %1: %2 sent %3; its connection is dropped")
                     .arg(d->address.toString(), Private::describe(*peer), why));
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
    // Paused before this read: Qt Remote Objects did not read, nothing is judged. A pause that
    // began during it (a share holding this poster) let it finish reading the whole packets.
    if (!peer || peer->readPaused)
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
    peer->held = left;
    const qint64 total = g_ledger.set(peer->id, IncompleteBytes, left, peer->packetSince);
    // More than a packet may hold means a peer announcing a huge one: refuse to buffer it.
    if (left > d->options.maxPacketBytes) {
        drop(socket, QStringLiteral("rio::RemoteListener %1: %2 sent more than %3 bytes of one packet "
                                    "(the limit); its connection is dropped")
                         .arg(d->address.toString(), Private::describe(*peer))
                         .arg(d->options.maxPacketBytes));
    } else if (total > d->options.incompleteBytesBudget) {
        shed(IncompleteBytes, d->options.incompleteBytesBudget);
    }
    // What reading made the source answer (a Pong per Ping, an object's state per acquisition)
    // waits for a peer that may never read it.
    checkQueued();
}

} // namespace rio
