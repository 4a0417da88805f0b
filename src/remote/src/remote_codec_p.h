// SPDX-License-Identifier: MIT
#pragma once
// The share's wire frames (the public headers' templates need only the events, remote_codec.h).
#include <registryio/remote/remote_codec.h>

#include <optional>
#include <vector>

namespace rio::detail {

/// One frame as the source broadcasts it.
struct RemoteFrame
{
    quint64 sourceInstance = 0; // random: a new one after a restart restarts the sequence
    quint8 flags = 0;
    std::vector<RemoteFrameEvent> events; // oldest first; 1 to RemoteFrameMaxEvents
};

/// A flag: the share coalesces (gaps are coalesced events, not drops).
inline constexpr quint8 RemoteFrameLatest = 0x1;
/// The most events one frame (broadcast or post) may carry; a frame announcing more is malformed.
inline constexpr quint32 RemoteFrameMaxEvents = 256;
/// A sender adds a second or later event to a frame only while it stays below this many bytes.
inline constexpr qsizetype RemoteFrameBatchBytes = qsizetype(1) << 18;

/// A frame of 1 to RemoteFrameMaxEvents events, sequences increasing.
RIO_REMOTE_EXPORT QByteArray encodeRemoteFrame(quint64 sourceInstance, quint8 flags,
                                               std::span<const RemoteFrameEvent> events);
/// The frame in `bytes`, or nothing when they are not exactly one (wrong version, a short header
/// or event, a count of 0 or above RemoteFrameMaxEvents, a sequence 0 or not increasing, trailing
/// bytes).
RIO_REMOTE_EXPORT std::optional<RemoteFrame> decodeRemoteFrame(QByteArrayView bytes);
/// A post: a subscriber's events to the source, as a frame without sequences.
RIO_REMOTE_EXPORT QByteArray encodeRemotePost(std::span<const RemoteFrameEvent> events);
/// The events of a post (sequence 0), or nothing when `bytes` are not exactly one (as for a frame,
/// and no origin may be 0, the source's own).
RIO_REMOTE_EXPORT std::optional<std::vector<RemoteFrameEvent>> decodeRemotePost(QByteArrayView bytes);

} // namespace rio::detail
