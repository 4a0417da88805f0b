// SPDX-License-Identifier: MIT
#pragma once

#include <registryio/remote/remote_export.h>

#include <QByteArray>
#include <QByteArrayView>
#include <QDataStream>
#include <QIODevice>

#include <concepts>
#include <cstdint>
#include <optional>

namespace rio {

/// An event type that can cross a process boundary: default-constructible, with QDataStream
/// operator<< and operator>> (which is also what a Qt 6 metatype needs to be streamed).
template <typename E>
concept RemoteEvent = std::default_initializable<E> && requires(QDataStream &s, E &e, const E &ce) {
    { s << ce } -> std::same_as<QDataStream &>;
    { s >> e } -> std::same_as<QDataStream &>;
};

namespace detail {

/// The QDataStream version of every event on the wire: fixed, so peers built against newer Qt
/// still agree.
inline constexpr QDataStream::Version RemoteStreamVersion = QDataStream::Qt_6_4;

/// One event as the source broadcasts it: who sent it, its place in the source's sequence, and
/// the QDataStream bytes of the event.
struct RemoteFrame
{
    /// Random id of the source instance: a new one after a restart restarts the sequence.
    quint64 sourceInstance = 0;
    /// 1, 2, 3... per source; a gap is an event the source did not send to anyone.
    quint64 sequence = 0;
    /// The subscriber the event came from (0: the sharing process itself).
    quint64 origin = 0;
    /// Bit 0: the share coalesces (gaps are coalesced events, not drops).
    quint8 flags = 0;
    /// The event's bytes; a view into the decoded frame.
    QByteArrayView payload;
};

/// Bit of RemoteFrame::flags: the share coalesces to the newest event.
inline constexpr quint8 RemoteFrameLatest = 0x1;

/// The frame of a broadcast event.
RIO_REMOTE_EXPORT QByteArray encodeRemoteFrame(const RemoteFrame &frame);
/// The frame in `bytes`, or nothing when they are not one (wrong version, short header).
RIO_REMOTE_EXPORT std::optional<RemoteFrame> decodeRemoteFrame(QByteArrayView bytes) noexcept;
/// The frame of an event a subscriber posts to the source.
RIO_REMOTE_EXPORT QByteArray encodeRemotePost(quint64 origin, QByteArrayView payload);
/// The origin and payload of a posted event, or nothing when `bytes` are not one.
RIO_REMOTE_EXPORT std::optional<std::pair<quint64, QByteArrayView>>
decodeRemotePost(QByteArrayView bytes) noexcept;

/// `event` as QDataStream bytes.
template <RemoteEvent E>
QByteArray encodeRemoteEvent(const E &event)
{
    QByteArray bytes;
    QDataStream stream(&bytes, QIODevice::WriteOnly);
    stream.setVersion(RemoteStreamVersion);
    stream << event;
    return bytes;
}

/// Reads one E from `bytes` into `out`; false unless the stream read exactly all of them without
/// error (trailing bytes are malformed input too).
template <RemoteEvent E>
bool decodeRemoteEvent(QByteArrayView bytes, E &out)
{
    // fromRawData: no copy; the stream only reads.
    const QByteArray raw = QByteArray::fromRawData(bytes.data(), bytes.size());
    QDataStream stream(raw);
    stream.setVersion(RemoteStreamVersion);
    stream >> out;
    return stream.status() == QDataStream::Ok && stream.atEnd();
}

} // namespace detail
} // namespace rio
