// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/remote/remote_export.h>

#include <QByteArray>
#include <QByteArrayView>
#include <QDataStream>
#include <QIODevice>
#include <QVarLengthArray>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace rio {

/// An event type that can cross a process boundary: default-constructible, with QDataStream
/// operator<< and operator>> (which is also what a Qt 6 metatype needs to be streamed).
template <typename E>
concept RemoteEvent = std::default_initializable<E> && requires(QDataStream &s, E &e, const E &ce) {
    { s << ce } -> std::same_as<QDataStream &>;
    { s >> e } -> std::same_as<QDataStream &>;
};

namespace detail {

/// The QDataStream version of every event on the wire: fixed, so peers on newer Qt still agree.
inline constexpr QDataStream::Version RemoteStreamVersion = QDataStream::Qt_6_4;

/// One event inside a frame.
struct RemoteFrameEvent
{
    /// 1, 2, 3... per source; a gap is an event the source did not send to anyone. Posts carry 0.
    quint64 sequence = 0;
    /// The subscriber the event came from (0: the sharing process itself).
    quint64 origin = 0;
    /// The event's QDataStream bytes, viewed in their frame.
    QByteArrayView payload;
};

/// `event` as QDataStream bytes in a buffer of their size, as backlogs hold and budgets count it
/// (copied out of the stream's, which may be twice as large; shrinking that would fragment).
template <RemoteEvent E>
QByteArray encodeRemoteEvent(const E &event)
{
    QByteArray bytes;
    {
        QDataStream stream(&bytes, QIODevice::WriteOnly);
        stream.setVersion(RemoteStreamVersion);
        stream << event;
    }
    if (bytes.capacity() > bytes.size())
        return {bytes.constData(), bytes.size()};
    return bytes;
}

/// Reads one E from `bytes` into `out`; false unless it read exactly all of them without error.
template <RemoteEvent E>
bool decodeRemoteEvent(QByteArrayView bytes, E &out)
{
    const QByteArray raw = QByteArray::fromRawData(bytes.data(), bytes.size());
    QDataStream stream(raw);
    stream.setVersion(RemoteStreamVersion);
    stream >> out;
    return stream.status() == QDataStream::Ok && stream.atEnd();
}

/// Decodes a frame's events as E, then runs `accepted()` and `notify(event, origin)` for each until
/// one returns false (a handler destroyed the receiver). False, running nothing, if one does not decode.
template <RemoteEvent E, typename Accepted, typename Notify>
bool deliverRemoteEvents(std::span<const RemoteFrameEvent> events, Accepted &&accepted, Notify &&notify)
{
    QVarLengthArray<E, 1> decoded(qsizetype(events.size())); // one event, the common case: no allocation
    for (std::size_t i = 0; i < events.size(); ++i) {
        if (!decodeRemoteEvent(events[i].payload, decoded[qsizetype(i)]))
            return false;
    }
    accepted();
    for (std::size_t i = 0; i < events.size(); ++i) {
        if (!notify(std::as_const(decoded[qsizetype(i)]), events[i].origin))
            break;
    }
    return true;
}

} // namespace detail
} // namespace rio
