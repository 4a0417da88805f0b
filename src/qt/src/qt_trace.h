// SPDX-License-Identifier: MIT
#pragma once

// The library's own tracepoints (RIO_TRACING=LTTNG builds): queued deliveries and drops. In a
// build without the option every function here is empty and inline, and compiles to nothing.

#include "qt_control.h"

#include <registryio/qt/qt_tracing.h>

#include <cstdint>

namespace rio::detail {

class QtHandlerState;

#if RIO_QT_TRACING
// delivery_begin: a queued delivery of `h` starts on this thread; `postedAt`: when its notify
// queued it (diagnostics' ticks, known while the registry's diagnostics are on; 0: unknown, the
// event's delay_ns is then -1).
void traceDeliveryBegin(const QtHandlerState &h, std::uint64_t postedAt) noexcept;
// delivery_end: that delivery ended (`failed`: the handler threw).
void traceDeliveryEnd(const QtHandlerState &h, bool failed) noexcept;
// drop: `count` deliveries of `h` were dropped for `reason`.
void traceDrop(const QtHandlerState &h, std::uint64_t count, QtRegistryControl::DropReason reason) noexcept;
#else
inline void traceDeliveryBegin(const QtHandlerState &, std::uint64_t) noexcept { }
inline void traceDeliveryEnd(const QtHandlerState &, bool) noexcept { }
inline void traceDrop(const QtHandlerState &, std::uint64_t, QtRegistryControl::DropReason) noexcept { }
#endif

} // namespace rio::detail
