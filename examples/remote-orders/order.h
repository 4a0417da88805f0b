// SPDX-License-Identifier: MIT
#pragma once

#include <QDataStream>
#include <QString>

// The event both processes share: it crosses the wire as QDataStream bytes, so it has the two
// stream operators (without them, RemoteShare and RemoteRegistry do not compile).
struct Order
{
    qint64 id = 0;
    QString item;
    int quantity = 0;
};

inline QDataStream &operator<<(QDataStream &s, const Order &o)
{
    return s << o.id << o.item << o.quantity;
}

inline QDataStream &operator>>(QDataStream &s, Order &o)
{
    return s >> o.id >> o.item >> o.quantity;
}
