// SPDX-License-Identifier: MIT
#include "remote_codec_p.h"

#include <registryio/qt/logging.h>
#include <registryio/remote/detail/remote_bridge.h>

#include <QLoggingCategory>
#include <QtEndian>

#include <cstring>
#include <utility>

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

// A frame's (`frame`) or a post's events, after the header: each whole, a frame's sequences
// increasing from 1, a post's origins not 0 (the sharing process itself, which a peer cannot claim).
bool readEvents(Reader &in, bool frame, std::vector<RemoteFrameEvent> &events)
{
    quint32 count = 0;
    if (!in.read(count) || count < 1 || count > RemoteFrameMaxEvents ||
        qint64(count) * (frame ? FrameEventHeader : PostEventHeader) > in.left())
        return false;
    events.resize(count);
    quint64 previous = 0;
    for (RemoteFrameEvent &event : events) {
        if ((frame && !in.read(event.sequence)) || !in.read(event.origin) || !in.readBytes(event.payload))
            return false;
        if (frame ? event.sequence <= std::exchange(previous, event.sequence) : event.origin == 0)
            return false;
    }
    return in.left() == 0;
}

QByteArray encode(bool frame, quint8 flags, quint64 sourceInstance, std::span<const RemoteFrameEvent> events)
{
    qsizetype size = frame ? FrameHeader : PostHeader;
    for (const RemoteFrameEvent &event : events)
        size += (frame ? FrameEventHeader : PostEventHeader) + event.payload.size();
    QByteArray bytes(size, Qt::Uninitialized);
    char *out = bytes.data();
    *out++ = char(WireVersion);
    if (frame) {
        *out++ = char(flags);
        out = put(out, sourceInstance);
    }
    out = put(out, quint32(events.size()));
    for (const RemoteFrameEvent &event : events) {
        if (frame)
            out = put(out, event.sequence);
        out = put(out, event.origin);
        out = put(out, quint32(event.payload.size()));
        if (!event.payload.isEmpty())
            std::memcpy(out, event.payload.data(), size_t(event.payload.size()));
        out += event.payload.size();
    }
    return bytes;
}

} // namespace

QByteArray encodeRemoteFrame(quint64 sourceInstance, quint8 flags, std::span<const RemoteFrameEvent> events)
{
    return encode(true, flags, sourceInstance, events);
}

std::optional<RemoteFrame> decodeRemoteFrame(QByteArrayView bytes)
{
    Reader in(bytes);
    quint8 version = 0;
    RemoteFrame frame;
    if (!in.read(version) || version != WireVersion || !in.read(frame.flags) ||
        !in.read(frame.sourceInstance) || !readEvents(in, true, frame.events))
        return std::nullopt;
    return frame;
}

QByteArray encodeRemotePost(std::span<const RemoteFrameEvent> events)
{
    return encode(false, 0, 0, events);
}

std::optional<std::vector<RemoteFrameEvent>> decodeRemotePost(QByteArrayView bytes)
{
    Reader in(bytes);
    quint8 version = 0;
    std::vector<RemoteFrameEvent> events;
    if (!in.read(version) || version != WireVersion || !readEvents(in, false, events))
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
