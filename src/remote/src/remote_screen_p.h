// SPDX-License-Identifier: MIT
#pragma once
// What a peer may send: one table of what Qt Remote Objects reads of each packet type (each way) and
// argument type, and the walk that checks a whole packet against it before Qt Remote Objects reads it:
// for a source (remote_listener_packets.cpp) and for a node (remote_transport.cpp).
#include <QByteArray>
#include <QDataStream>
#include <QMetaType>
#include <QString>
#include <QtRemoteObjects/qtremoteobjectglobal.h>

#include <array>
#include <functional>
#include <optional>

namespace rio::detail {

// What Qt Remote Objects reads of a packet after its type and (but for an ObjectList) its object's
// name. It reads the connection's stream, not the packet: a packet holding more or less shifts where
// it finds the next one, so every packet must hold exactly this.
enum class Carries : quint8 {
    Refused,    // not read on this side (it would warn and read on from the wrong place)
    Nothing,    // the name only
    Flag,       // AddObject: whether the replica is dynamic
    Invocation, // call, index, arguments, serial id, property index
    Handshake,  // the protocol's version, as the name
    Objects,    // ObjectList: the objects (name, type name, signature)
    Definition, // InitDynamicPacket: a class's definition, then its properties' values
    Values,     // InitPacket: the properties' values
    Reply,      // InvokeReplyPacket: serial id, value
    Property,   // PropertyChangePacket: index, value
};
struct PacketRule
{
    Carries toSource;  // what a source reads of a peer's packet
    Carries toReplica; // what a node reads of a source's packet
};
inline constexpr std::array<PacketRule, QtRemoteObjects::Pong + 1> PacketRules{{
    {Carries::Refused, Carries::Refused},       // Invalid
    {Carries::Refused, Carries::Handshake},     // Handshake
    {Carries::Refused, Carries::Values},        // InitPacket
    {Carries::Refused, Carries::Definition},    // InitDynamicPacket
    {Carries::Flag, Carries::Refused},          // AddObject
    {Carries::Nothing, Carries::Nothing},       // RemoveObject
    {Carries::Invocation, Carries::Invocation}, // InvokePacket (to a replica: a signal emitted)
    {Carries::Refused, Carries::Reply},         // InvokeReplyPacket
    {Carries::Refused, Carries::Property},      // PropertyChangePacket
    {Carries::Refused, Carries::Objects},       // ObjectList
    {Carries::Nothing, Carries::Refused},       // Ping
    {Carries::Refused, Carries::Nothing},       // Pong
}};

// How a value of each type a peer may send travels in a QVariant (after type id, null flag and any
// type name): a Leaf is read by Qt's loader of that type, which reserves for no count; a container's
// count is checked against the bytes left, then its elements one by one. Any other type (and what
// takes one) is refused: Qt would hand its storage to code expecting another type, or reserve for a
// count the peer chose.
enum class Shape : quint8 { Leaf, Variants, StringVariants, Strings, ByteArrays };
struct WireType
{
    QMetaType type;
    Shape shape;
};
// The table's row of `type`, if it has one.
std::optional<WireType> wireType(QMetaType type);
// The type a parameter of `type` travels as: an enumeration as the integer of its size.
QMetaType transferType(QMetaType type);

// QVariants nested in containers, at most: deeper ones would be read by recursion as deep.
inline constexpr int MaxNesting = 16;
// The smallest a streamed QVariant (type id, null flag), string or byte array (length) can be.
inline constexpr qint64 SmallestVariant = 5;
inline constexpr qint64 SmallestString = 4;

// The end of the whole packets of `bytes` from `from` that pass `screen` (given each body), up to
// one that does not or announces more than `limit` bytes (`why` says why), or is not whole yet.
// A packet is its size (32 bits, little-endian), then its body.
qsizetype screenPackets(const QByteArray &bytes, qsizetype from, qint64 limit,
                        const std::function<QString(const QByteArray &body)> &screen, QString &why);

// Walks one packet body as Qt Remote Objects reads it (little-endian, Qt_6_2), building nothing but
// leaf values; each check returns what is wrong, or nothing.
class WireWalk
{
public:
    explicit WireWalk(const QByteArray &body);

protected:
    [[nodiscard]] bool ok() const { return m_in.status() == QDataStream::Ok; }
    [[nodiscard]] qint64 left() const;
    // The packet's type, and what its rule in `PacketRules` says this side reads of it.
    QString type(quint16 &type, Carries PacketRule::*side, Carries &carries);
    // A count of items of at least `smallest` bytes each that the bytes left can hold.
    QString count(quint32 &count, qint64 smallest, const QString &what, const char *items);
    // `count` values of the types `takes` (all of any type the table knows when it is null).
    QString values(quint32 count, const QList<QMetaType> *takes, const QString &what);
    // A QVariant of type `expected` (invalid, or QVariant: any type the table knows), `depth` deep.
    QString variant(QMetaType expected, int depth = 0);
    QString value(const WireType &wire, int depth);
    // What the packet holds past what it carries, if anything.
    QString rest(quint16 type);

    const QByteArray &m_body;
    QDataStream m_in;
};

} // namespace rio::detail
