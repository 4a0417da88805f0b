// SPDX-License-Identifier: MIT
#pragma once

// Test-only injection point of rio::EventFlags. Not installed, not API: the tests reach it through
// RegistryIO::TestHooks (cmake/RioTestHooks.cmake).

#include <registryio/core_export.h>

namespace rio::detail {

/// Called by EventFlags::broadcast() with the event id between deciding that a pending id has
/// listeners and notifying them; nullptr (the default) clears it.
RIO_CORE_EXPORT void setEventFlagsTestHook(void (*hook)(int id)) noexcept;

} // namespace rio::detail
