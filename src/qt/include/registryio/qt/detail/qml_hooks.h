// SPDX-License-Identifier: MIT
#pragma once

// A QML handler's run, which the QML layer marks so that the Qt layer's diagnostics count the
// JavaScript errors it catches (noteHandlerFailure). Not part of the public API.

#include <registryio/detail/thread_frames.h>
#include <registryio/qt/qt_registry_base.h>

namespace rio::detail {

/// A QML handler's run on this thread (listed while it runs), inside which noteHandlerFailure
/// counts a failure: the run that counted its call is just outside it (a queued delivery's
/// DeliveryFrame, a timed run's CountedRunFrame); another run's ScriptRunFrame first means a run
/// on the notifying thread inside that run, untimed, so uncounted.
struct ScriptRunFrame : ThreadFrame
{
    static constexpr FrameKind frameKind = FrameKind::ScriptRun;
    ScriptRunFrame() noexcept : ThreadFrame(frameKind) { }
};

} // namespace rio::detail
