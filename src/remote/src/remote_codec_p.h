// SPDX-License-Identifier: MIT
#pragma once
// The share's wire frames (source side and subscriber side of the library only; the typed
// templates of the public headers need only the events, in remote_codec.h).
#include <registryio/remote/remote_codec.h>

#include <optional>
#include <vector>

namespace rio::detail {

/// One frame as the source broadcasts it: one or more events, in sequence order.
struct RemoteFrame
{
    /// Random id of the source instance: a new one after a restart restarts the sequence.
    quint64 sourceInstance = 0;
    /// Bit 0: the share coalesces (gaps are coalesced events, not drops).
    quint8 flags = 0;
    /// The events, oldest first; never empty, at most RemoteFrameMaxEvents.
    std::vector<RemoteFrameEvent> events;
};

/// Bit of RemoteFrame::flags: the share coalesces to the newest event.
inline constexpr quint8 RemoteFrameLatest = 0x1;
/// The most events one frame (broadcast or post) may carry; a frame announcing more is malformed.
inline constexpr quint32 RemoteFrameMaxEvents = 256;
/// A sender adds a second and later event to a frame only while the frame stays below this many
/// bytes (a single event may be larger: it is bounded by the event limits).
inline constexpr qsizetype RemoteFrameBatchBytes = qsizetype(1) << 18;

/// The frame of broadcast events (1 to RemoteFrameMaxEvents of them, sequences increasing).
RIO_REMOTE_EXPORT QByteArray encodeRemoteFrame(quint64 sourceInstance, quint8 flags,
                                               std::span<const RemoteFrameEvent> events);
/// The frame in `bytes`, or nothing when they are not exactly one (wrong version, a short header
/// or event, a count of 0 or above RemoteFrameMaxEvents, a sequence 0 or not increasing, trailing
/// bytes): one bad event makes the whole frame malformed.
RIO_REMOTE_EXPORT std::optional<RemoteFrame> decodeRemoteFrame(QByteArrayView bytes);
/// The frame of events a subscriber posts to the source (1 to RemoteFrameMaxEvents; the
/// sequences are not sent).
RIO_REMOTE_EXPORT QByteArray encodeRemotePost(std::span<const RemoteFrameEvent> events);
/// The events (origin and payload; sequence 0) of a post, or nothing when `bytes` are not exactly
/// one (the same rules as a broadcast frame, and no origin may be 0, the source's own).
RIO_REMOTE_EXPORT std::optional<std::vector<RemoteFrameEvent>> decodeRemotePost(QByteArrayView bytes);

} // namespace rio::detail
