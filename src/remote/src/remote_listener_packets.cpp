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

// What a source's Qt Remote Objects reads of a packet after its type and the name of its object,
// by type. It reads from the connection's stream, not from the packet: a packet that holds more
// (or less) than that shifts where it finds the next one, so every packet must hold exactly this.
// A source reads nothing further of the types only a source sends, nor of unknown ones: refused.
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

// How a value of each type a peer may send travels in a QVariant (after its type id, null flag
// and, for types streamed by name, the name), by what the screen checks of it: a Leaf is read by
// Qt's own loader of that type, which reads no count it would reserve for; a container's count is
// checked against the bytes left before its elements are screened one by one. Any other type (and
// a method or property that takes one) is refused: Qt Remote Objects would hand its storage to a
// slot expecting another type, or Qt's loader would reserve for a count the peer chose.
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

    QString packet(const QHash<QString, QPointer<const QObject>> &sources)
    {
        quint16 type = 0;
        m_in >> type;
        if (!ok() || type >= PacketCarries.size() || PacketCarries[type] == Carries::Refused)
            return QStringLiteral("a packet of type %1, which a source does not read").arg(type);
        QString name;
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
            why = invocation(name, sources.value(name));
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

    // An invocation of `object` (null: not one the listener knows; Qt Remote Objects reads its
    // arguments all the same, then ignores it) named `name`.
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

void RemoteListener::beforeRead(QIODevice *socket)
{
    Private::Peer *peer = d->find(socket);
    if (!peer || socket->property(RejectedProperty).toBool())
        return;
    peer->before = socket->bytesAvailable();
    peer->readPaused = peer->pauses > 0;
    const QString why = d->screen(*peer, socket);
    if (why.isEmpty()) {
        // Qt Remote Objects reads only what was screened: a source handler it runs may run a
        // nested event loop, in which the socket would read more without a readyRead (it does
        // not recurse), and Qt Remote Objects would go on into it. So the socket takes nothing
        // from the system until afterRead(): nothing while it holds a byte, and one byte at most
        // (never a whole packet) once Qt Remote Objects has read all it held.
        setReadLimit(socket, 1);
        return;
    }
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

void RemoteListener::afterRead(QIODevice *socket)
{
    if (socket->property(RejectedProperty).toBool()) {
        abortSocket(socket);
        return;
    }
    Private::Peer *peer = d->find(socket);
    if (!peer)
        return;
    setReadLimit(socket, d->readLimit()); // reads on, with a readyRead for what it takes
    const qint64 left = socket->bytesAvailable();
    // Qt Remote Objects reads every whole packet and the size field of the next: what it left of
    // what was held is the rest of the next. More left means that a nested event loop read the
    // one byte beforeRead() allowed, once Qt Remote Objects had read all it held.
    const qint64 end = peer->consumed + peer->before;
    const qint64 rest = end - std::max(peer->consumed, peer->nextAt + (peer->nextSize < 0 ? 0 : 4));
    const qint64 arrived = !peer->readPaused && rest == 0 ? std::min<qint64>(left, 1) : 0;
    const qint64 taken = peer->before + arrived - left;
    peer->consumed += taken;
    // Paused before this read: Qt Remote Objects did not read, nothing is judged. A pause that
    // began during it (a share holding this poster) let it finish reading the whole packets.
    if (peer->readPaused)
        return;
    // Qt Remote Objects has consumed every whole packet; what is left is part of the next one.
    const qint64 now = nowMs();
    if (taken >= SmallestPacketBytes) { // a packet completed: progress
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
