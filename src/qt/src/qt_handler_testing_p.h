// SPDX-License-Identifier: MIT
#pragma once

// Test-only injection point of QtRegistry's handler cancellation. Not installed, not API: the
// tests reach it through RegistryIO::TestHooks (cmake/RioTestHooks.cmake), to run a queued
// delivery in the window between a handler's cancelled flag and its cancellation's lock.

#include <registryio/handler_id.h>
#include <registryio/qt/qt_export.h>

namespace rio::detail {

/// A test hook: called with the id of the handler being cancelled, once its cancelled flag is
/// set and before its cancellation takes the handler's lock (no lock of ours is held).
using QtCancelTestHook = void (*)(HandlerId id);

/// Sets (or, with nullptr, clears) the test hook. For tests only.
RIO_QT_EXPORT void setQtCancelTestHook(QtCancelTestHook hook) noexcept;

} // namespace rio::detail
