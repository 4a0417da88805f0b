// SPDX-License-Identifier: MIT
#pragma once

#include <QByteArray>
#include <QDataStream>

/// The event of the cross-process tests: a sequence number and some bytes.
struct Payload
{
    qint64 seq = 0;
    QByteArray blob;
};

inline QDataStream &operator<<(QDataStream &s, const Payload &p)
{
    return s << p.seq << p.blob;
}

inline QDataStream &operator>>(QDataStream &s, Payload &p)
{
    return s >> p.seq >> p.blob;
}
