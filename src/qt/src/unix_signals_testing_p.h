// SPDX-License-Identifier: MIT
#pragma once

// Test-only injection points of rio::UnixSignals. Not installed, not API: the tests reach them
// through RegistryIO::TestHooks (cmake/RioTestHooks.cmake), to force a signal into the windows
// between the steps of installing and restoring a disposition.

#include <registryio/qt/qt_export.h>

namespace rio::detail {

/// The places UnixSignals calls the test hook from (under its process-wide lock).
enum class UnixSignalsHookPoint {
    Installed, ///< Our OS handler just replaced the previous disposition of the signal.
    Restoring, ///< The signal's last listener in the process is gone; the previous disposition is about to
               ///< return.
};

/// A test hook: called with the point and the signal number. Must not call into UnixSignals.
using UnixSignalsTestHook = void (*)(UnixSignalsHookPoint point, int signal);

/// Sets (or, with nullptr, clears) the test hook. For tests only.
RIO_QT_EXPORT void setUnixSignalsTestHook(UnixSignalsTestHook hook) noexcept;

} // namespace rio::detail
