// SPDX-License-Identifier: MIT
// The Windows heavy fence: FlushProcessWriteBuffers, which interrupts every processor running a
// thread of the process.

#include "domain.h"

#if defined(_WIN32)
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#endif

namespace rio::detail::hazard {

bool flushProcessWriteBuffers() noexcept
{
#if defined(_WIN32)
    FlushProcessWriteBuffers();
    return true;
#else
    return false;
#endif
}

} // namespace rio::detail::hazard
