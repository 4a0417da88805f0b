// SPDX-License-Identifier: MIT
#include "remote_screen_p.h"

#include <QIODevice>
#include <QRemoteObjectSourceLocation>
#include <QUrl>
#include <QUuid>
#include <QVariant>
#include <QtEndian>

#include <algorithm>

namespace rio::detail {

std::optional<WireType> wireType(QMetaType type)
{
    // QRemoteObjectSourceLocation: the first argument Qt Remote Objects reads of any "Registry" call.
    static const QMetaType leaves[] = {
        QMetaType::fromType<bool>(),        QMetaType::fromType<char>(),
        QMetaType::fromType<signed char>(), QMetaType::fromType<uchar>(),
        QMetaType::fromType<short>(),       QMetaType::fromType<ushort>(),
        QMetaType::fromType<int>(),         QMetaType::fromType<uint>(),
        QMetaType::fromType<long>(),        QMetaType::fromType<ulong>(),
        QMetaType::fromType<qlonglong>(),   QMetaType::fromType<qulonglong>(),
        QMetaType::fromType<float>(),       QMetaType::fromType<double>(),
        QMetaType::fromType<QChar>(),       QMetaType::fromType<QByteArray>(),
        QMetaType::fromType<QString>(),     QMetaType::fromType<QUrl>(),
        QMetaType::fromType<QUuid>(),       QMetaType::fromType<QRemoteObjectSourceLocation>()};
    if (std::find(std::begin(leaves), std::end(leaves), type) != std::end(leaves))
        return WireType{type, Shape::Leaf};
    if (type == QMetaType::fromType<QVariantList>())
        return WireType{type, Shape::Variants};
    if (type == QMetaType::fromType<QVariantMap>() || type == QMetaType::fromType<QVariantHash>())
        return WireType{type, Shape::StringVariants};
    if (type == QMetaType::fromType<QStringList>())
        return WireType{type, Shape::Strings};
    if (type == QMetaType::fromType<QByteArrayList>())
        return WireType{type, Shape::ByteArrays};
    return std::nullopt;
}

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

qsizetype screenPackets(const QByteArray &bytes, qsizetype from, qint64 limit,
                        const std::function<QString(const QByteArray &body)> &screen, QString &why)
{
    while (why.isEmpty() && bytes.size() - from >= 4) {
        const qint64 size = qFromLittleEndian<quint32>(bytes.constData() + from);
        if (size > limit)
            why = QStringLiteral("a packet of %1 bytes (the limit is %2)").arg(size).arg(limit);
        else if (bytes.size() - from - 4 < size)
            break; // screened once it is whole
        else if ((why = screen(QByteArray::fromRawData(bytes.constData() + from + 4, size))).isEmpty())
            from += 4 + size;
    }
    return from;
}

WireWalk::WireWalk(const QByteArray &body) : m_body(body), m_in(body)
{
    m_in.setVersion(QDataStream::Qt_6_2);
    m_in.setByteOrder(QDataStream::LittleEndian);
}

qint64 WireWalk::left() const
{
    return m_body.size() - m_in.device()->pos();
}

QString WireWalk::type(quint16 &type, Carries PacketRule::*side, Carries &carries)
{
    m_in >> type;
    carries = ok() && type < PacketRules.size() ? PacketRules[type].*side : Carries::Refused;
    if (carries == Carries::Refused)
        return QStringLiteral("a packet of type %1, which %2 does not read")
            .arg(type)
            .arg(side == &PacketRule::toSource ? QStringLiteral("a source") : QStringLiteral("a subscriber"));
    return {};
}

QString WireWalk::count(quint32 &count, qint64 smallest, const QString &what, const char *items)
{
    m_in >> count;
    if (!ok() || count > quint64(left()) / quint64(smallest))
        return QStringLiteral("%1 announcing %2 %3 in %4 bytes")
            .arg(what)
            .arg(count)
            .arg(QLatin1String(items))
            .arg(left());
    return {};
}

QString WireWalk::values(quint32 count, const QList<QMetaType> *takes, const QString &what)
{
    if (takes && quint32(takes->size()) != count)
        return QStringLiteral("%1 with %2 values instead of %3").arg(what).arg(count).arg(takes->size());
    for (quint32 i = 0; i < count; ++i) {
        if (QString why = variant(takes ? takes->at(i) : QMetaType()); !why.isEmpty())
            return QStringLiteral("%1 whose argument %2 is %3").arg(what).arg(i).arg(why);
    }
    return {};
}

QString WireWalk::variant(QMetaType expected, int depth)
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
    const std::optional<WireType> wire = wireType(type);
    if (!wire)
        return QStringLiteral("a value of type %1, which no remoted method takes")
            .arg(QString::fromLatin1(type.isValid() ? type.name() : "invalid"));
    if (!anything && type != transferType(expected))
        return QStringLiteral("a %1 where a %2 is taken")
            .arg(QString::fromLatin1(type.name()), QString::fromLatin1(expected.name()));
    return value(*wire, depth);
}

QString WireWalk::value(const WireType &wire, int depth)
{
    if (wire.type == QMetaType::fromType<QByteArray>()) {
        // An event's frame: skipped, not copied (its length, 0xffffffff for a null one, then its bytes).
        quint32 length = 0;
        m_in >> length;
        if (ok() && length != 0xffffffffu &&
            (length > quint64(left()) || m_in.skipRawData(int(length)) != int(length)))
            m_in.setStatus(QDataStream::ReadPastEnd);
    } else if (wire.shape == Shape::Leaf) {
        QVariant scratch(wire.type);
        if (!wire.type.load(m_in, scratch.data()))
            m_in.setStatus(QDataStream::ReadCorruptData);
    }
    if (wire.shape == Shape::Leaf)
        return ok() ? QString() : QStringLiteral("a malformed %1").arg(QString::fromLatin1(wire.type.name()));
    if (depth >= MaxNesting)
        return QStringLiteral("containers nested more than %1 deep").arg(MaxNesting);
    quint32 n = 0;
    const qint64 smallest = wire.shape == Shape::Variants         ? SmallestVariant
                            : wire.shape == Shape::StringVariants ? SmallestString + SmallestVariant
                                                                  : SmallestString;
    if (QString why = count(n, smallest, QStringLiteral("a ") + QLatin1String(wire.type.name()), "elements");
        !why.isEmpty())
        return why;
    const WireType string{QMetaType::fromType<QString>(), Shape::Leaf};
    const WireType bytes{QMetaType::fromType<QByteArray>(), Shape::Leaf};
    for (quint32 i = 0; i < n; ++i) {
        QString why;
        if (wire.shape == Shape::StringVariants || wire.shape == Shape::Strings)
            why = value(string, depth + 1);
        else if (wire.shape == Shape::ByteArrays)
            why = value(bytes, depth + 1);
        if (why.isEmpty() && (wire.shape == Shape::Variants || wire.shape == Shape::StringVariants))
            why = variant(QMetaType(), depth + 1);
        if (!why.isEmpty())
            return why;
    }
    return {};
}

QString WireWalk::rest(quint16 type)
{
    if (m_in.atEnd())
        return {};
    return QStringLiteral("a packet of type %1 with %2 bytes more than it carries").arg(type).arg(left());
}

} // namespace rio::detail
