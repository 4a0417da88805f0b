// SPDX-License-Identifier: MIT
#pragma once

// Test-only injection point of the membarrier fence. Not installed, not API: the tests reach it
// through RegistryIO::TestHooks (cmake/RioTestHooks.cmake).

#include <registryio/core_export.h>

namespace rio::detail::hazard::testing {

/// true: every membarrier fence fails from now on, as after a seccomp filter installed later;
/// false restores the system call.
RIO_CORE_EXPORT void setMembarrierFails(bool fails) noexcept;

} // namespace rio::detail::hazard::testing
