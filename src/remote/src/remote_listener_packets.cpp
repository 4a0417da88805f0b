// SPDX-License-Identifier: MIT
#include "remote_listener_p.h"

#include <QDataStream>
#include <QMetaMethod>
#include <QUrl>
#include <QUuid>
#include <QtEndian>
#include <QtRemoteObjects/qtremoteobjectglobal.h>

#include <algorithm>
#include <array>

namespace rio {

using namespace detail; // remote_listener_p.h

namespace {

// What a source's Qt Remote Objects reads of a packet after its type and object name, by type:
// exactly this (it reads from the stream, so a byte more or less moves the next packet). The types
// only a source sends, and unknown ones, are refused.
enum class Carries : quint8 { Refused, Nothing, Flag, Invocation };
constexpr std::array<Carries, QtRemoteObjects::Pong + 1> PacketCarries{
    Carries::Refused,    // Invalid
    Carries::Refused,    // Handshake (source to replica)
    Carries::Refused,    // InitPacket (source to replica)
    Carries::Refused,    // InitDynamicPacket (source to replica)
    Carries::Flag,       // AddObject: whether the replica is dynamic
    Carries::Nothing,    // RemoveObject
    Carries::Invocation, // InvokePacket: call, index, arguments, serial id, property index
    Carries::Refused,    // InvokeReplyPacket (source to replica)
    Carries::Refused,    // PropertyChangePacket (source to replica)
    Carries::Refused,    // ObjectList (source to replica; read without a name)
    Carries::Nothing,    // Ping
    Carries::Refused,    // Pong (source to replica)
};

// How a value of each type a peer may send travels in a QVariant, by what the screen checks: a Leaf
// by Qt's loader (which reserves for no count), a container's count against the bytes left, then
// each element. Any other type is refused: Qt Remote Objects would hand its storage to a slot
// expecting another type, or Qt's loader would reserve for a count the peer chose.
enum class Shape : quint8 { Leaf, Variants, StringVariants, Strings, ByteArrays };
struct WireType
{
    QMetaType type;
    Shape shape;
};
const std::array<WireType, 25> &wireTypes()
{
    static const std::array<WireType, 25> types{{
        {QMetaType::fromType<bool>(), Shape::Leaf},
        {QMetaType::fromType<char>(), Shape::Leaf},
        {QMetaType::fromType<signed char>(), Shape::Leaf},
        {QMetaType::fromType<uchar>(), Shape::Leaf},
        {QMetaType::fromType<short>(), Shape::Leaf},
        {QMetaType::fromType<ushort>(), Shape::Leaf},
        {QMetaType::fromType<int>(), Shape::Leaf},
        {QMetaType::fromType<uint>(), Shape::Leaf},
        {QMetaType::fromType<long>(), Shape::Leaf},
        {QMetaType::fromType<ulong>(), Shape::Leaf},
        {QMetaType::fromType<qlonglong>(), Shape::Leaf},
        {QMetaType::fromType<qulonglong>(), Shape::Leaf},
        {QMetaType::fromType<float>(), Shape::Leaf},
        {QMetaType::fromType<double>(), Shape::Leaf},
        {QMetaType::fromType<QChar>(), Shape::Leaf},
        {QMetaType::fromType<QByteArray>(), Shape::Leaf},
        {QMetaType::fromType<QString>(), Shape::Leaf},
        {QMetaType::fromType<QUrl>(), Shape::Leaf},
        {QMetaType::fromType<QUuid>(), Shape::Leaf},
        {QMetaType::fromType<QVariantList>(), Shape::Variants},
        {QMetaType::fromType<QVariantMap>(), Shape::StringVariants},
        {QMetaType::fromType<QVariantHash>(), Shape::StringVariants},
        {QMetaType::fromType<QStringList>(), Shape::Strings},
        {QMetaType::fromType<QByteArrayList>(), Shape::ByteArrays},
        // What a node that uses a registry sends "Registry" (Qt Remote Objects reads its first
        // argument as one, whatever the host).
        {QMetaType::fromType<QRemoteObjectSourceLocation>(), Shape::Leaf},
    }};
    return types;
}

const WireType *wireType(QMetaType type)
{
    for (const WireType &known : wireTypes()) {
        if (known.type == type)
            return &known;
    }
    return nullptr;
}

// The type a parameter of type `type` travels as: an enumeration as the integer of its size (as
// Qt Remote Objects sends it), anything else as itself.
QMetaType transferType(QMetaType type)
{
    if (!type.flags().testFlag(QMetaType::IsEnumeration))
        return type;
    switch (type.sizeOf()) {
    case 1:
        return QMetaType::fromType<qint8>();
    case 2:
        return QMetaType::fromType<qint16>();
    default:
        return QMetaType::fromType<qint32>();
    }
}

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

// QVariants nested in containers, at most: deeper ones would be read by recursion as deep.
constexpr int MaxNesting = 16;
// The smallest a streamed QVariant (type id, null flag), string or byte array (length) can be.
constexpr qint64 SmallestVariant = 5;
constexpr qint64 SmallestString = 4;

// Walks one packet body as Qt Remote Objects' source side reads it (little-endian, stream version
// Qt_6_2), without building what it describes except through Qt's loaders of leaf types; each
// check returns what is wrong, or nothing.
class PacketScreen
{
public:
    explicit PacketScreen(const QByteArray &body) : m_body(body), m_in(body)
    {
        m_in.setVersion(QDataStream::Qt_6_2);
        m_in.setByteOrder(QDataStream::LittleEndian);
    }

    QString packet(const QHash<QString, Remoted> &sources, quint16 &type, QString &name)
    {
        m_in >> type;
        if (!ok() || type >= PacketCarries.size() || PacketCarries[type] == Carries::Refused)
            return QStringLiteral("a packet of type %1, which a source does not read").arg(type);
        m_in >> name;
        if (!ok())
            return QStringLiteral("a packet of type %1 with a malformed object name").arg(type);
        QString why;
        switch (PacketCarries[type]) {
        case Carries::Flag: {
            quint8 flag = 2;
            m_in >> flag;
            if (!ok() || flag > 1)
                why = QStringLiteral("a packet of type %1 with a malformed flag").arg(type);
            break;
        }
        case Carries::Invocation:
            why = invocation(name, sources.value(name).object);
            break;
        default:
            break;
        }
        if (why.isEmpty() && !m_in.atEnd())
            why = QStringLiteral("a packet of type %1 with %2 bytes more than it carries")
                      .arg(type)
                      .arg(left());
        return why;
    }

private:
    [[nodiscard]] bool ok() const { return m_in.status() == QDataStream::Ok; }
    [[nodiscard]] qint64 left() const { return m_body.size() - m_in.device()->pos(); }

    // An invocation of `object` named `name` (null: unknown; Qt Remote Objects reads it all the same).
    QString invocation(const QString &name, const QObject *object)
    {
        qint32 call = -1;
        qint32 index = -1;
        quint32 count = 0;
        m_in >> call >> index >> count;
        if (!ok())
            return QStringLiteral("a truncated invocation packet");
        if (call != QMetaObject::InvokeMetaMethod && call != QMetaObject::WriteProperty)
            return QStringLiteral("an invocation of \"%1\" of kind %2").arg(name).arg(call);
        if (count > quint64(left()) / SmallestVariant)
            return QStringLiteral("an invocation of \"%1\" announcing %2 arguments").arg(name).arg(count);
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
        for (quint32 i = 0; i < count; ++i) {
            // Unknown targets (and "Registry"'s further arguments) take any screened type.
            const QMetaType expected = known ? takes.at(i) : QMetaType();
            if (QString why = variant(expected, 0); !why.isEmpty())
                return QStringLiteral("an invocation of \"%1\" whose argument %2 is %3")
                    .arg(name)
                    .arg(i)
                    .arg(why);
        }
        qint32 serialId = 0;
        qint32 propertyIndex = 0;
        m_in >> serialId >> propertyIndex;
        return ok() ? QString() : QStringLiteral("a truncated invocation packet");
    }

    // A QVariant whose value must be of `expected` (invalid: of any type the table knows; a
    // QVariant parameter takes any, also nested), `depth` containers deep.
    QString variant(QMetaType expected, int depth)
    {
        quint32 id = 0;
        qint8 null = 0;
        m_in >> id >> null;
        if (!ok())
            return QStringLiteral("truncated");
        if (null != 0 && null != 1)
            return QStringLiteral("a value with a null flag of %1").arg(null);
        QMetaType type;
        if (id == QMetaType::User) { // streamed by name (with its terminating zero), read as Qt does
            QByteArray name;
            m_in >> name;
            if (!ok() || name.isEmpty())
                return QStringLiteral("a value of a malformed type name");
            type = QMetaType::fromName(name);
            if (!type.isValid())
                return QStringLiteral("a value of the unknown type %1")
                    .arg(QString::fromLatin1(name.left(64)).remove(QChar(0)));
        } else if (id < QMetaType::User) {
            type = QMetaType(int(id));
        } else {
            return QStringLiteral("a value of type id %1").arg(id);
        }
        const bool anything = !expected.isValid() || expected == QMetaType::fromType<QVariant>();
        // An invalid QVariant carries nothing: where a QVariant is taken, or in a container.
        if (id == QMetaType::UnknownType && (depth > 0 || expected == QMetaType::fromType<QVariant>()))
            return {};
        const WireType *wire = wireType(type);
        if (!wire)
            return QStringLiteral("a value of type %1, which no remoted method takes")
                .arg(QString::fromLatin1(type.isValid() ? type.name() : "invalid"));
        if (!anything && type != transferType(expected))
            return QStringLiteral("a %1 where a %2 is taken")
                .arg(QString::fromLatin1(type.name()), QString::fromLatin1(expected.name()));
        return value(*wire, depth);
    }

    QString value(const WireType &wire, int depth)
    {
        if (wire.shape == Shape::Leaf) {
            QVariant scratch(wire.type);
            if (!wire.type.load(m_in, scratch.data()) || !ok())
                return QStringLiteral("a malformed %1").arg(QString::fromLatin1(wire.type.name()));
            return {};
        }
        if (depth >= MaxNesting)
            return QStringLiteral("containers nested more than %1 deep").arg(MaxNesting);
        quint32 count = 0;
        m_in >> count;
        const qint64 smallest = wire.shape == Shape::Variants         ? SmallestVariant
                                : wire.shape == Shape::StringVariants ? SmallestString + SmallestVariant
                                                                      : SmallestString;
        if (!ok() || count > quint64(left()) / quint64(smallest))
            return QStringLiteral("a %1 announcing %2 elements in %3 bytes")
                .arg(QString::fromLatin1(wire.type.name()))
                .arg(count)
                .arg(left());
        const WireType string{QMetaType::fromType<QString>(), Shape::Leaf};
        const WireType bytes{QMetaType::fromType<QByteArray>(), Shape::Leaf};
        for (quint32 i = 0; i < count; ++i) {
            QString why;
            switch (wire.shape) {
            case Shape::Variants:
                why = variant(QMetaType(), depth + 1);
                break;
            case Shape::StringVariants:
                why = value(string, depth + 1);
                if (why.isEmpty())
                    why = variant(QMetaType(), depth + 1);
                break;
            case Shape::Strings:
                why = value(string, depth + 1);
                break;
            case Shape::ByteArrays:
                why = value(bytes, depth + 1);
                break;
            case Shape::Leaf:
                break;
            }
            if (!why.isEmpty())
                return why;
        }
        return {};
    }

    const QByteArray &m_body;
    QDataStream m_in;
};

} // namespace

// Reads what connection `id`'s socket holds; each whole packet is screened, in order, and appended to
// the pipe Qt Remote Objects reads (read()) if it passes. A refused packet drops the connection once
// what passed before it was read; Qt Remote Objects never reads a byte no screen passed.
void RemoteListener::pump(quint64 id)
{
    Private::Peer *peer = d->find(id);
    // Paused, or Qt Remote Objects is reading this connection (a handler it runs spins a nested
    // event loop): what arrives stays in the socket (up to its limit) until that is over.
    if (!peer || !peer->socket || peer->reading || peer->pauses > 0 || peer->rejected())
        return;
    QIODevice *socket = peer->socket;
    const bool began = peer->partial.isEmpty();
    if (const qint64 arrived = socket->bytesAvailable(); arrived > 0) {
        const qsizetype at = peer->partial.size();
        peer->partial.resize(at + arrived);
        peer->partial.resize(at + std::max<qint64>(socket->read(peer->partial.data() + at, arrived), 0));
        if (arrived >= d->readLimit()) { // it was full and reads from the system no more: again
            setReadLimit(socket, 0);
            setReadLimit(socket, d->readLimit());
        }
    }
    QString why;
    // A packet: its size, then its type (16 bits), its object's name and what its type carries
    // (PacketCarries), little-endian: screened by that table, then judged by the conversation.
    qsizetype at = 0;
    while (why.isEmpty() && peer->partial.size() - at >= 4) {
        const qint64 size = qFromLittleEndian<quint32>(peer->partial.constData() + at);
        bool pass = true;
        quint16 type = 0;
        QString name;
        if (size > d->options.maxPacketBytes)
            why = QStringLiteral("a packet of %1 bytes (the limit is %2)")
                      .arg(size)
                      .arg(d->options.maxPacketBytes);
        else if (peer->partial.size() - at - 4 < size)
            break; // not whole yet: screened once it is
        else if ((why = PacketScreen(QByteArray::fromRawData(peer->partial.constData() + at + 4, size))
                            .packet(d->sources, type, name))
                     .isEmpty())
            why = d->judge(*peer, type, name, pass);
        if (why.isEmpty() && pass)
            peer->pipe->append(peer->partial.constData() + at, 4 + size);
        at += why.isEmpty() ? 4 + size : 0;
    }
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
        drop(id, QStringLiteral("rio::RemoteListener %1: %2 sent %3; its connection is dropped")
                     .arg(d->address.toString(), Private::describe(*d->find(id)), why));
        return;
    }
    dropAll(g_ledger.hold(this, id, IncompleteBytes, d->find(id)->partial.size(),
                          d->options.incompleteBytesBudget, since));
    // What arrived while Qt Remote Objects read: the socket signals no more for it.
    if (socket->isOpen() && socket->bytesAvailable() > 0)
        QMetaObject::invokeMethod(this, [this, id] { pump(id); }, Qt::QueuedConnection);
}

// Lets Qt Remote Objects read what connection `id`'s pipe holds; false when the connection (or
// this listener) went meanwhile.
bool RemoteListener::read(quint64 id)
{
    Private::Peer *peer = d->find(id);
    if (peer->pipe->bytesAvailable() == 0)
        return true;
    // A share's slot it runs names this connection; it may spin an event loop, in which other
    // connections are read (and the peers change).
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

// The one state machine of a connection's conversation, as Qt Remote Objects' own nodes keep it
// (an object acquired once until released or withdrawn, invoked only once acquired): what passes,
// what is swallowed (a release that crossed the source's withdrawal), what drops the peer.
QString RemoteListener::Private::judge(Peer &peer, quint16 type, const QString &name, bool &pass)
{
    const auto it = sources.constFind(name);
    const Remoted source = it == sources.cend() ? Remoted{} : it.value();
    const bool another = source.object && source.owner != 0 && source.owner != peer.id;
    switch (type) {
    case QtRemoteObjects::AddObject:
        if (peer.acquired.contains(name))
            return QStringLiteral("a second acquisition of \"%1\", which it holds").arg(name);
        if (another && peer.foreign.size() >= MaxForeignChannels)
            return QStringLiteral("an acquisition of \"%1\" while it holds %2 channels of other connections' "
                                  "subscriptions")
                .arg(name)
                .arg(MaxForeignChannels);
        if (another)
            peer.foreign.emplace_back(name, nowMs());
        peer.acquired.insert(name, false);
        peer.asked.push_back(name);
        return {};
    case QtRemoteObjects::RemoveObject:
        pass = peer.acquired.contains(name);
        peer.release(name);
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
        const quint16 type = qFromLittleEndian<quint16>(data + at + 4);
        if (type == QtRemoteObjects::InitPacket || type == QtRemoteObjects::InitDynamicPacket ||
            type == QtRemoteObjects::RemoveObject) {
            QDataStream in(
                QByteArray::fromRawData(data + at + 6, std::clamp<qint64>(length - 2, 0, size - at - 6)));
            in.setVersion(QDataStream::Qt_6_2);
            in.setByteOrder(QDataStream::LittleEndian);
            QString name;
            in >> name;
            if (type != QtRemoteObjects::RemoveObject)
                peer.acquired.insert(name, true);
            else
                peer.release(name);
        }
        at += 4 + length;
    }
}

void RemoteListener::Private::settleAsked(Peer &peer)
{
    for (const QString &name : std::exchange(peer.asked, {})) {
        if (const auto it = peer.acquired.constFind(name); it != peer.acquired.cend() && !it.value())
            peer.release(name);
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
