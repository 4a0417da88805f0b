// SPDX-License-Identifier: MIT
#pragma once

#include <QByteArray>
#include <QCryptographicHash>
#include <QDataStream>
#include <QtEndian>

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

/// A subscriber's secret for raw subscriptions (subscribe(QByteArray)): 16 bytes made of `n`.
inline QByteArray secretFor(quint64 n)
{
    QByteArray secret(16, 's');
    qToBigEndian(n, secret.data());
    return secret;
}

/// The key that names a secret's channel (`<name>#<key in hex>`): the first 64 bits of its
/// SHA-256, computed here so that the tests do not lean on the library's own.
inline quint64 keyOf(const QByteArray &secret)
{
    return qFromBigEndian<quint64>(QCryptographicHash::hash(secret, QCryptographicHash::Sha256).constData());
}
