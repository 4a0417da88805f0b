// SPDX-License-Identifier: MIT
// The LTTng-UST tracepoint provider `registryio` (compiled into RegistryIO::Qt by
// qt_trace_lttng.cpp when RIO_TRACING=LTTNG). Each event names its registry by a number unique
// in the process; notify_begin also gives the registry's objectName.

#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER registryio

#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "qt_trace_lttng.h"

#if !defined(RIO_QT_TRACE_LTTNG_H) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define RIO_QT_TRACE_LTTNG_H

#include <lttng/tracepoint.h>

#include <stdint.h> // NOLINT(modernize-deprecated-headers): the provider's own C style

// clang-format off: the provider's macros read best one field a line

// Why deliveries were dropped (QtRegistryControl::DropReason, in its order).
LTTNG_UST_TRACEPOINT_ENUM(registryio, drop_reason,
    LTTNG_UST_TP_ENUM_VALUES(
        lttng_ust_field_enum_value("overflow", 0)
        lttng_ust_field_enum_value("removed", 1)
        lttng_ust_field_enum_value("context_destroyed", 2)
        lttng_ust_field_enum_value("suspended", 3)
        lttng_ust_field_enum_value("no_memory", 4)
        lttng_ust_field_enum_value("discarded", 5)))

// A notify (or notifyAsync) of a QtRegistry starts: `handlers` registered.
LTTNG_UST_TRACEPOINT_EVENT(registryio, notify_begin,
    LTTNG_UST_TP_ARGS(uint64_t, registry, const char *, name, uint64_t, handlers, int, async),
    LTTNG_UST_TP_FIELDS(
        lttng_ust_field_integer(uint64_t, registry, registry)
        lttng_ust_field_string(name, name)
        lttng_ust_field_integer(uint64_t, handlers, handlers)
        lttng_ust_field_integer(uint8_t, async, async)))

// That notify returns (its direct handlers ran; its queued deliveries are queued).
LTTNG_UST_TRACEPOINT_EVENT(registryio, notify_end,
    LTTNG_UST_TP_ARGS(uint64_t, registry),
    LTTNG_UST_TP_FIELDS(
        lttng_ust_field_integer(uint64_t, registry, registry)))

// A queued delivery to `handler` starts on its context's thread (`delay_ns`: since its notify,
// -1 when not known).
LTTNG_UST_TRACEPOINT_EVENT(registryio, delivery_begin,
    LTTNG_UST_TP_ARGS(uint64_t, registry, uint64_t, handler, int64_t, delay_ns),
    LTTNG_UST_TP_FIELDS(
        lttng_ust_field_integer(uint64_t, registry, registry)
        lttng_ust_field_integer(uint64_t, handler, handler)
        lttng_ust_field_integer(int64_t, delay_ns, delay_ns)))

// That delivery ends (`failed`: the handler threw).
LTTNG_UST_TRACEPOINT_EVENT(registryio, delivery_end,
    LTTNG_UST_TP_ARGS(uint64_t, registry, uint64_t, handler, int, failed),
    LTTNG_UST_TP_FIELDS(
        lttng_ust_field_integer(uint64_t, registry, registry)
        lttng_ust_field_integer(uint64_t, handler, handler)
        lttng_ust_field_integer(uint8_t, failed, failed)))

// `count` queued deliveries to `handler` were dropped for `reason`.
LTTNG_UST_TRACEPOINT_EVENT(registryio, drop,
    LTTNG_UST_TP_ARGS(uint64_t, registry, uint64_t, handler, uint64_t, count, int, reason),
    LTTNG_UST_TP_FIELDS(
        lttng_ust_field_integer(uint64_t, registry, registry)
        lttng_ust_field_integer(uint64_t, handler, handler)
        lttng_ust_field_integer(uint64_t, count, count)
        lttng_ust_field_enum(registryio, drop_reason, int, reason, reason)))

// clang-format on

#endif // RIO_QT_TRACE_LTTNG_H

#include <lttng/tracepoint-event.h>
