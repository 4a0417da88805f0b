// SPDX-License-Identifier: MIT
#include <registryio/remote/remote_codec.h>

#include <QtEndian>

#include <cstring>

namespace rio::detail {

namespace {

// Layouts (big-endian): frame = version, flags, instance, sequence, origin, payload;
// post = version, origin, payload.
constexpr quint8 WireVersion = 1;
constexpr qsizetype FrameHeader = 1 + 1 + 8 + 8 + 8;
constexpr qsizetype PostHeader = 1 + 8;

void put64(char *at, quint64 value) noexcept
{
    qToBigEndian(value, at);
}

quint64 get64(const char *at) noexcept
{
    return qFromBigEndian<quint64>(at);
}

} // namespace

QByteArray encodeRemoteFrame(const RemoteFrame &frame)
{
    QByteArray bytes(FrameHeader + frame.payload.size(), Qt::Uninitialized);
    char *out = bytes.data();
    out[0] = char(WireVersion);
    out[1] = char(frame.flags);
    put64(out + 2, frame.sourceInstance);
    put64(out + 10, frame.sequence);
    put64(out + 18, frame.origin);
    if (!frame.payload.isEmpty())
        std::memcpy(out + FrameHeader, frame.payload.data(), size_t(frame.payload.size()));
    return bytes;
}

std::optional<RemoteFrame> decodeRemoteFrame(QByteArrayView bytes) noexcept
{
    if (bytes.size() < FrameHeader || quint8(bytes[0]) != WireVersion)
        return std::nullopt;
    const char *in = bytes.data();
    RemoteFrame frame;
    frame.flags = quint8(in[1]);
    frame.sourceInstance = get64(in + 2);
    frame.sequence = get64(in + 10);
    frame.origin = get64(in + 18);
    if (frame.sequence == 0)
        return std::nullopt;
    frame.payload = bytes.sliced(FrameHeader);
    return frame;
}

QByteArray encodeRemotePost(quint64 origin, QByteArrayView payload)
{
    QByteArray bytes(PostHeader + payload.size(), Qt::Uninitialized);
    char *out = bytes.data();
    out[0] = char(WireVersion);
    put64(out + 1, origin);
    if (!payload.isEmpty())
        std::memcpy(out + PostHeader, payload.data(), size_t(payload.size()));
    return bytes;
}

std::optional<std::pair<quint64, QByteArrayView>> decodeRemotePost(QByteArrayView bytes) noexcept
{
    if (bytes.size() < PostHeader || quint8(bytes[0]) != WireVersion)
        return std::nullopt;
    const quint64 origin = get64(bytes.data() + 1);
    if (origin == 0) // 0 is the sharing process itself: a peer cannot claim it
        return std::nullopt;
    return std::pair{origin, bytes.sliced(PostHeader)};
}

} // namespace rio::detail
