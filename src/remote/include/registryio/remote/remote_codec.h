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

/// The QDataStream version of every event on the wire: fixed, so peers built against newer Qt
/// still agree.
inline constexpr QDataStream::Version RemoteStreamVersion = QDataStream::Qt_6_4;

/// One event inside a frame: who sent it, its place in the source's sequence, and its
/// QDataStream bytes.
struct RemoteFrameEvent
{
    /// 1, 2, 3... per source; a gap is an event the source did not send to anyone. Posts carry 0.
    quint64 sequence = 0;
    /// The subscriber the event came from (0: the sharing process itself).
    quint64 origin = 0;
    /// The event's bytes; a view into the frame they were decoded from (or encoded into).
    QByteArrayView payload;
};

/// `event` as QDataStream bytes, in a buffer of their size: backlogs hold it, and budgets count it
/// (a stream grows its buffer up to twice the bytes; copied out, its buffer goes whole, whereas
/// shrinking it in place would leave a free fragment beside every event a backlog holds).
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

/// Decodes every event of one frame as E first; only when all of them decode does it run
/// `accepted()` and then `notify(event, origin)` for each, in order, until one returns false (its
/// receiver is gone: a handler destroyed it). False, with nothing run, when one event does not
/// decode: one bad event makes the whole frame malformed.
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
