// SPDX-License-Identifier: MIT
#include "remote_listener_p.h"
#include "remote_screen_p.h"

#include <QDataStream>
#include <QMetaMethod>
#include <QRemoteObjectSourceLocation>
#include <QtEndian>
#include <QtRemoteObjects/qtremoteobjectglobal.h>

#include <algorithm>

namespace rio {

using namespace detail; // remote_listener_p.h

namespace {

// The class whose API Qt Remote Objects remotes for an object given to enableRemoting(object,
// name): the one that names its type (Q_CLASSINFO QCLASSINFO_REMOTEOBJECT_TYPE, as repc's Source
// classes do), whose subclasses add nothing to the API, or else the object's own class.
const QMetaObject *remotedClass(const QMetaObject *meta)
{
    const int info = meta->indexOfClassInfo(QCLASSINFO_REMOTEOBJECT_TYPE);
    while (info >= 0 && meta->superClass() &&
           meta->superClass()->indexOfClassInfo(QCLASSINFO_REMOTEOBJECT_TYPE) == info)
        meta = meta->superClass();
    return meta;
}

// A packet a peer sent a source, walked as Qt Remote Objects' source side reads it.
class PacketScreen : WireWalk
{
public:
    using WireWalk::WireWalk;

    QString packet(const QHash<QString, QPointer<const QObject>> &sources)
    {
        quint16 type = 0;
        Carries carries = Carries::Refused;
        if (QString why = WireWalk::type(type, &PacketRule::toSource, carries); !why.isEmpty())
            return why;
        QString name;
        m_in >> name;
        if (!ok())
            return QStringLiteral("a packet of type %1 with a malformed object name").arg(type);
        QString why;
        if (carries == Carries::Flag) {
            quint8 flag = 2;
            m_in >> flag;
            if (!ok() || flag > 1)
                why = QStringLiteral("a packet of type %1 with a malformed flag").arg(type);
        } else if (carries == Carries::Invocation) {
            why = invocation(name, sources.value(name));
        }
        return why.isEmpty() ? rest(type) : why;
    }

private:
    // An invocation of `object` (null: not one the listener knows; Qt Remote Objects reads its
    // arguments all the same, then ignores it) named `name`.
    QString invocation(const QString &name, const QObject *object)
    {
        qint32 call = -1;
        qint32 index = -1;
        quint32 count = 0;
        m_in >> call >> index;
        if (!ok())
            return QStringLiteral("a truncated invocation packet");
        if (call != QMetaObject::InvokeMetaMethod && call != QMetaObject::WriteProperty)
            return QStringLiteral("an invocation of \"%1\" of kind %2").arg(name).arg(call);
        const QString what = QStringLiteral("an invocation of \"%1\"").arg(name);
        if (QString why = WireWalk::count(count, SmallestVariant, what, "arguments"); !why.isEmpty())
            return why;
        // The types the target takes, where it is known: a method's parameters, or a property.
        QList<QMetaType> takes;
        bool known = false;
        if (const QMetaObject *meta = object ? remotedClass(object->metaObject()) : nullptr;
            meta && call == QMetaObject::InvokeMetaMethod) {
            // The API Qt Remote Objects makes of a QObject: that class's own methods, signals
            // apart, in declaration order.
            int seen = 0;
            for (int i = meta->methodOffset(); !known && i < meta->methodCount(); ++i) {
                const QMetaMethod method = meta->method(i);
                if (method.methodType() == QMetaMethod::Signal || seen++ != index)
                    continue;
                known = true;
                for (int p = 0; p < method.parameterCount(); ++p)
                    takes.append(method.parameterMetaType(p));
            }
        } else if (meta && index >= 0 && index < meta->propertyCount() - meta->propertyOffset()) {
            known = true; // that class's own properties
            takes.append(meta->property(meta->propertyOffset() + index).metaType());
        }
        if (call == QMetaObject::WriteProperty && count != 1)
            return QStringLiteral("a property write to \"%1\" with %2 values").arg(name).arg(count);
        // Qt Remote Objects takes the first argument of any invocation of "Registry".
        if (name == QLatin1String("Registry")) {
            if (count == 0)
                return QStringLiteral("an invocation of \"Registry\" without arguments");
            if (!known) {
                known = true;
                takes.append(QMetaType::fromType<QRemoteObjectSourceLocation>());
                for (quint32 i = 1; i < count; ++i)
                    takes.append(QMetaType());
            }
        }
        if (known && quint32(takes.size()) != count)
            return QStringLiteral("an invocation of \"%1\" %2 %3 with %4 arguments instead of %5")
                .arg(name, call == QMetaObject::InvokeMetaMethod ? QStringLiteral("method")
                                                                 : QStringLiteral("property"))
                .arg(index)
                .arg(count)
                .arg(takes.size());
        // Unknown targets (and "Registry"'s further arguments) take any screened type.
        if (QString why = values(count, known ? &takes : nullptr, what); !why.isEmpty())
            return why;
        qint32 serialId = 0;
        qint32 propertyIndex = 0;
        m_in >> serialId >> propertyIndex;
        return ok() ? QString() : QStringLiteral("a truncated invocation packet");
    }
};

} // namespace

// Reads what `socket` holds; each packet made whole is screened, in order, and appended to the pipe
// Qt Remote Objects reads if it passes, which it then reads. A refused packet drops the connection
// once what passed before it was read; nothing after it is. Qt Remote Objects never reads a byte
// that is not in a screened packet, whatever the transport buffers meanwhile.
void RemoteListener::pump(QIODevice *socket)
{
    Private::Peer *peer = d->find(socket);
    // Paused, or Qt Remote Objects is reading this connection (a handler it runs spins a nested
    // event loop): what arrives stays in the socket (up to its limit) until that is over.
    if (!peer || !peer->pipe || peer->reading || peer->pauses > 0 ||
        socket->property(RejectedProperty).toBool())
        return;
    const bool began = peer->partial.isEmpty();
    readInto(socket, peer->partial, d->readLimit());
    QString why;
    const qsizetype at = screenPackets(
        peer->partial, 0, d->options.maxPacketBytes,
        [this](const QByteArray &body) { return d->screenPacket(body); }, why);
    if (at > 0)
        peer->pipe->append(peer->partial.constData(), at);
    peer->partial.remove(0, at);
    // The room a large packet took goes back once it passed: an idle connection holds none of it.
    if (peer->partial.capacity() > std::max<qsizetype>(ReleasedAbove, 2 * peer->partial.size()))
        peer->partial.squeeze();
    const qint64 now = nowMs();
    if (at > 0) { // a packet completed: progress, and what is left (if anything) began a new one
        peer->handshaken = true;
        peer->pendingSince = now;
        peer->packetSince = now;
    } else if (began) { // a new packet began
        peer->pendingSince = now;
        peer->packetSince = now;
    }
    peer->held = peer->partial.size();
    g_ledger.set(peer->id, IncompleteBytes, peer->held, peer->packetSince);
    if (peer->pipe->bytesAvailable() > 0) {
        // A share's slot it runs names this connection; it may spin an event loop, in which other
        // connections are read (and this list changes).
        const CurrentPeer outer = std::exchange(t_current, {this, socket, peer->id});
        const QPointer<RemoteListener> alive(this);
        const QPointer<QtROIoDeviceBase> device = peer->device;
        peer->reading = true;
        Q_EMIT peer->pipe->readyRead();
        t_current = outer;
        if (!alive) { // a handler destroyed the listener, which left the connection to this read
            if (device)
                Q_EMIT device->disconnected();
            socket->deleteLater();
            return;
        }
        peer = d->find(socket);
        if (!peer)
            return;
        peer->reading = false;
        if (peer->hungUp) { // it closed while it was read
            closed(socket, peer->id);
            return;
        }
        if (socket->property(RejectedProperty).toBool()) { // by a share, or a budget, while it read
            abortSocket(socket);
            return;
        }
    }
    if (!why.isEmpty()) {
        drop(socket, QStringLiteral("rio::RemoteListener %1: %2 sent %3; its connection is dropped")
                         .arg(d->address.toString(), Private::describe(*peer), why));
        return;
    }
    if (g_ledger.total(IncompleteBytes) > d->options.incompleteBytesBudget)
        shed(IncompleteBytes, d->options.incompleteBytesBudget);
    // What reading made the source answer (a Pong per Ping, an object's state per acquisition)
    // waits for a peer that may never read it.
    checkQueued();
    // What arrived while Qt Remote Objects read: the socket signals no more for it.
    if (socket->isOpen() && socket->bytesAvailable() > 0)
        QMetaObject::invokeMethod(
            this,
            [this, s = QPointer(socket)] {
                if (s)
                    pump(s);
            },
            Qt::QueuedConnection);
}

// A packet's body is its type (16 bits), the name of the object it is for, then what its type
// carries (PacketCarries); all little-endian. Screened as Qt Remote Objects' source side would
// read it, by the table of what each packet type and argument type may carry.
QString RemoteListener::Private::screenPacket(const QByteArray &body) const
{
    return PacketScreen(body).packet(sources);
}

void RemoteListener::addSource(const QString &name, const QObject *object)
{
    d->sources.removeIf([](const auto &source) { return source.value().isNull(); });
    d->sources.insert(name, object);
}

} // namespace rio
