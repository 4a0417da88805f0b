// SPDX-License-Identifier: MIT
#include "remote_codec_p.h"

#include <registryio/qt/logging.h>
#include <registryio/remote/detail/remote_bridge.h>

#include <QLoggingCategory>
#include <QtEndian>

#include <cstring>

namespace rio::detail {

namespace {

// Layouts (big-endian):
//   frame = version, flags, instance, count, count x (sequence, origin, length, payload)
//   post  = version, count, count x (origin, length, payload)
constexpr quint8 WireVersion = 2;
constexpr qsizetype FrameHeader = 1 + 1 + 8 + 4;
constexpr qsizetype FrameEventHeader = 8 + 8 + 4;
constexpr qsizetype PostHeader = 1 + 4;
constexpr qsizetype PostEventHeader = 8 + 4;

template <typename Unsigned>
char *put(char *at, Unsigned value) noexcept
{
    qToBigEndian(value, at);
    return at + sizeof(Unsigned);
}

char *putBytes(char *at, QByteArrayView bytes) noexcept
{
    if (!bytes.isEmpty())
        std::memcpy(at, bytes.data(), size_t(bytes.size()));
    return at + bytes.size();
}

// Reads forward through untrusted bytes; every read checks what is left first.
class Reader
{
public:
    explicit Reader(QByteArrayView bytes) noexcept : m_bytes(bytes) { }

    template <typename Unsigned>
    bool read(Unsigned &out) noexcept
    {
        if (left() < qsizetype(sizeof(Unsigned)))
            return false;
        out = qFromBigEndian<Unsigned>(m_bytes.data() + m_at);
        m_at += qsizetype(sizeof(Unsigned));
        return true;
    }
    bool readBytes(QByteArrayView &out) noexcept
    {
        quint32 length = 0;
        if (!read(length) || qint64(length) > left())
            return false;
        out = m_bytes.sliced(m_at, qsizetype(length));
        m_at += qsizetype(length);
        return true;
    }
    [[nodiscard]] qsizetype left() const noexcept { return m_bytes.size() - m_at; }

private:
    QByteArrayView m_bytes;
    qsizetype m_at = 0;
};

// The count of a frame, when the bytes left can hold that many events at all.
bool readCount(Reader &in, quint32 &count, qsizetype eventHeader) noexcept
{
    return in.read(count) && count >= 1 && count <= RemoteFrameMaxEvents &&
           qint64(count) * eventHeader <= in.left();
}

} // namespace

QByteArray encodeRemoteFrame(quint64 sourceInstance, quint8 flags, std::span<const RemoteFrameEvent> events)
{
    qsizetype size = FrameHeader;
    for (const RemoteFrameEvent &event : events)
        size += FrameEventHeader + event.payload.size();
    QByteArray bytes(size, Qt::Uninitialized);
    char *out = bytes.data();
    *out++ = char(WireVersion);
    *out++ = char(flags);
    out = put(out, sourceInstance);
    out = put(out, quint32(events.size()));
    for (const RemoteFrameEvent &event : events) {
        out = put(out, event.sequence);
        out = put(out, event.origin);
        out = put(out, quint32(event.payload.size()));
        out = putBytes(out, event.payload);
    }
    return bytes;
}

std::optional<RemoteFrame> decodeRemoteFrame(QByteArrayView bytes)
{
    Reader in(bytes);
    quint8 version = 0;
    RemoteFrame frame;
    quint32 count = 0;
    if (!in.read(version) || version != WireVersion || !in.read(frame.flags) ||
        !in.read(frame.sourceInstance) || !readCount(in, count, FrameEventHeader))
        return std::nullopt;
    frame.events.resize(count);
    quint64 previous = 0;
    for (RemoteFrameEvent &event : frame.events) {
        if (!in.read(event.sequence) || !in.read(event.origin) || !in.readBytes(event.payload))
            return std::nullopt;
        if (event.sequence <= previous) // 0, or not after the one before it
            return std::nullopt;
        previous = event.sequence;
    }
    if (in.left() != 0)
        return std::nullopt;
    return frame;
}

QByteArray encodeRemotePost(std::span<const RemoteFrameEvent> events)
{
    qsizetype size = PostHeader;
    for (const RemoteFrameEvent &event : events)
        size += PostEventHeader + event.payload.size();
    QByteArray bytes(size, Qt::Uninitialized);
    char *out = bytes.data();
    *out++ = char(WireVersion);
    out = put(out, quint32(events.size()));
    for (const RemoteFrameEvent &event : events) {
        out = put(out, event.origin);
        out = put(out, quint32(event.payload.size()));
        out = putBytes(out, event.payload);
    }
    return bytes;
}

std::optional<std::vector<RemoteFrameEvent>> decodeRemotePost(QByteArrayView bytes)
{
    Reader in(bytes);
    quint8 version = 0;
    quint32 count = 0;
    if (!in.read(version) || version != WireVersion || !readCount(in, count, PostEventHeader))
        return std::nullopt;
    std::vector<RemoteFrameEvent> events(count);
    for (RemoteFrameEvent &event : events) {
        if (!in.read(event.origin) || !in.readBytes(event.payload))
            return std::nullopt;
        if (event.origin == 0) // 0 is the sharing process itself: a peer cannot claim it
            return std::nullopt;
    }
    if (in.left() != 0)
        return std::nullopt;
    return events;
}

bool remoteVariantReadsBack(const QVariant &event, const QByteArray &bytes)
{
    if (QVariant check; decodeRemoteEvent(bytes, check))
        return true;
    qCWarning(lcRegistryIORemote(),
              "RemoteRegistry: an event of type %s cannot cross processes (QDataStream cannot write and read "
              "it back); it was not sent",
              event.metaType().name() ? event.metaType().name() : "(none)");
    return false;
}

} // namespace rio::detail
