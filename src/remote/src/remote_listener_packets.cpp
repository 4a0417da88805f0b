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

// The class whose API Qt Remote Objects remotes for an object given to enableRemoting(): the one
// naming its type (QCLASSINFO_REMOTEOBJECT_TYPE, as repc's Source classes do), else its own class.
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

    QString packet(const QHash<QString, Remoted> &sources, quint16 &type, QString &name)
    {
        Carries carries = Carries::Refused;
        if (QString why = WireWalk::type(type, &PacketRule::toSource, carries); !why.isEmpty())
            return why;
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
            why = invocation(name, sources.value(name).object);
        }
        return why.isEmpty() ? rest(type) : why;
    }

private:
    // An invocation of `object` named `name` (null: unknown; Qt Remote Objects reads, then ignores it).
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
            // Qt Remote Objects' API of a class: its own methods, signals apart, in declaration order.
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

// Reads connection `id`'s socket; each whole packet that passes the screen goes, in order, to the pipe
// Qt Remote Objects reads (read()). A refused packet drops the connection once what passed before it
// was read; Qt Remote Objects never reads a byte no screen passed.
void RemoteListener::pump(quint64 id)
{
    Private::Peer *peer = d->find(id);
    // Paused, or being read (a handler spins an event loop): what arrives waits in the socket.
    if (!peer || !peer->socket || peer->reading || peer->pauses > 0 || peer->rejected())
        return;
    QIODevice *socket = peer->socket;
    const bool began = peer->partial.isEmpty();
    readInto(socket, peer->partial, d->readLimit());
    QString why;
    // Each whole packet screened by the table, then judged by the conversation (which may swallow it).
    const qsizetype at = screenPackets(
        peer->partial, 0, d->options.maxPacketBytes,
        [this, peer](const QByteArray &body) {
            quint16 type = 0;
            QString name;
            bool pass = true;
            QString why = PacketScreen(body).packet(d->sources, type, name);
            if (why.isEmpty())
                why = d->judge(*peer, type, name, pass);
            if (why.isEmpty() && pass) // `body` lies in the buffer, after its size
                peer->pipe->append(body.constData() - 4, 4 + body.size());
            return why;
        },
        why);
    peer->partial.remove(0, at);
    // The room a large packet took goes back once it passed: an idle connection holds none of it.
    if (peer->partial.capacity() > std::max<qsizetype>(ReleasedAbove, 2 * peer->partial.size()))
        peer->partial.squeeze();
    const qint64 now = nowMs();
    if (at > 0 || began) { // a packet completed (progress), or a new one began
        peer->handshaken = peer->handshaken || at > 0;
        peer->pendingSince = now;
        peer->packetSince = now;
    }
    const qint64 since = peer->packetSince;
    if (!read(id))
        return;
    if (!why.isEmpty()) {
        drop(id, d->dropping(*d->find(id), QStringLiteral("sent ") + why));
        return;
    }
    dropAll(g_ledger.hold(this, id, IncompleteBytes, d->find(id)->partial.size(),
                          d->options.incompleteBytesBudget, since));
    // What arrived while Qt Remote Objects read: the socket signals no more for it.
    if (socket->isOpen() && socket->bytesAvailable() > 0)
        QMetaObject::invokeMethod(this, [this, id] { pump(id); }, Qt::QueuedConnection);
}

// Lets Qt Remote Objects read connection `id`'s pipe; false when it (or this listener) went meanwhile.
bool RemoteListener::read(quint64 id)
{
    Private::Peer *peer = d->find(id);
    if (peer->pipe->bytesAvailable() == 0)
        return true;
    // A share's slot it runs names this connection; it may spin an event loop that reads others.
    const QPointer<QIODevice> socket = peer->socket;
    const QPointer<QtROIoDeviceBase> device = peer->device;
    const CurrentPeer outer = std::exchange(t_current, {this, peer->pipe, id});
    const QPointer<RemoteListener> alive(this);
    peer->reading = true;
    Q_EMIT peer->pipe->readyRead();
    t_current = outer;
    if (!alive) { // a handler destroyed the listener, which left the connection to this read
        if (device)
            Q_EMIT device->disconnected();
        if (socket)
            socket->deleteLater();
        return false;
    }
    peer = d->find(id);
    if (!peer)
        return false;
    peer->reading = false;
    if (peer->pipe && peer->pipe->pending() == 0)
        Private::settleAsked(*peer);
    if (peer->hungUp) { // it closed while it was read
        closed(id);
        return false;
    }
    if (peer->rejected()) { // by a share, or a budget, while it read
        abortSocket(socket);
        return false;
    }
    return true;
}

// The one state machine of a connection's conversation, as Qt Remote Objects' nodes keep it (an object
// acquired once until released or withdrawn, invoked only once acquired): what passes, is swallowed
// or drops the peer.
// NOLINTNEXTLINE(readability-make-member-function-const): not const, its symbol is in the 0.3 ABI
QString RemoteListener::Private::judge(Peer &peer, quint16 type, const QString &name, bool &pass)
{
    const Remoted source = sources.value(name);
    switch (type) {
    case QtRemoteObjects::AddObject:
        if (peer.acquired.contains(name))
            return QStringLiteral("a second acquisition of \"%1\", which it holds").arg(name);
        // Another connection's channel not acquired before (one acquired before: its clock runs on).
        if (source.object && source.owner != 0 && source.owner != peer.id &&
            std::none_of(peer.foreign.begin(), peer.foreign.end(),
                         [&name](const auto &one) { return one.first == name; })) {
            if (peer.foreign.size() >= MaxForeignChannels)
                return QStringLiteral("an acquisition of \"%1\" while it holds %2 channels of other "
                                      "connections' subscriptions")
                    .arg(name)
                    .arg(MaxForeignChannels);
            peer.foreign.emplace_back(name, nowMs());
        }
        peer.acquired.insert(name, false);
        peer.asked.push_back(name);
        return {};
    case QtRemoteObjects::RemoveObject:
        pass = peer.acquired.remove(name); // (not held: a release that crossed a withdrawal)
        return {};
    case QtRemoteObjects::InvokePacket:
        // (Another connection's channel: its share judges, once what came before, a takeover, ran.)
        if (source.object && !peer.acquired.contains(name))
            return QStringLiteral("an invocation of \"%1\", which it has not acquired").arg(name);
        return {};
    default: // Ping: Qt Remote Objects answers any, acquired or not
        return {};
    }
}

void RemoteListener::Private::observe(Peer &peer, const char *data, qint64 size)
{
    for (qint64 at = 0; size - at >= 6;) {
        const qint64 length = qFromLittleEndian<quint32>(data + at);
        const auto type = qFromLittleEndian<quint16>(data + at + 4);
        if (type == QtRemoteObjects::InitPacket || type == QtRemoteObjects::InitDynamicPacket ||
            type == QtRemoteObjects::RemoveObject) {
            QDataStream in(
                QByteArray::fromRawData(data + at + 6, std::clamp<qint64>(length - 2, 0, size - at - 6)));
            in.setVersion(QDataStream::Qt_6_2);
            in.setByteOrder(QDataStream::LittleEndian);
            QString name;
            in >> name;
            if (type == QtRemoteObjects::RemoveObject)
                peer.acquired.remove(name);
            else if (const auto held = peer.acquired.find(name); held != peer.acquired.end())
                held.value() = true; // answered (one released since, in the same read, stays released)
        }
        at += 4 + length;
    }
}

void RemoteListener::Private::settleAsked(Peer &peer)
{
    for (const QString &name : std::exchange(peer.asked, {})) {
        if (const auto it = peer.acquired.constFind(name); it != peer.acquired.cend() && !it.value())
            peer.acquired.remove(name);
    }
}

void RemoteListener::addSource(const QString &name, const QObject *object, quint64 owner)
{
    if (!object) {
        d->sources.remove(name);
        return;
    }
    d->sources.insert(name, {object, owner});
    if (Private::Peer *peer = d->find(owner)) // it took the subscription over: its channel now
        std::erase_if(peer->foreign, [&name](const auto &one) { return one.first == name; });
}

} // namespace rio
