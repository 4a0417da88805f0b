// SPDX-License-Identifier: MIT
// The tracepoints of RegistryIO::Qt on LTTng-UST (RIO_TRACING=LTTNG): this file defines the
// provider `registryio` (its probes live in the library) and the calls the library makes.
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#define LTTNG_UST_TRACEPOINT_DEFINE
#include "qt_trace_lttng.h"

#include "qt_handler_state.h"
#include "qt_trace.h"

#include <registryio/detail/diagnostics.h>
#include <registryio/qt/detail/qt_trace.h>
#include <registryio/qt/qt_registry_base.h>

#include <QString>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace rio::detail {

namespace {

// The queueing delay of a delivery queued at `postedAt` (ticks), in nanoseconds; -1 unknown.
std::int64_t delaySince(std::uint64_t postedAt) noexcept
{
    if (postedAt == 0)
        return -1;
    const std::uint64_t now = diag::ticks();
    if (now < postedAt)
        return 0;
    return static_cast<std::int64_t>(static_cast<double>(now - postedAt) * diag::nanosPerTick());
}

} // namespace

void QtRegistryControl::setTraceName(const QString &name)
{
    auto copy = std::make_shared<const std::string>(name.toStdString());
    std::lock_guard lock(m_traceNameMutex);
    m_traceName.swap(copy); // the old name goes after the lock is released
}

std::shared_ptr<const std::string> QtRegistryControl::traceName() const
{
    std::lock_guard lock(m_traceNameMutex);
    return m_traceName;
}

const volatile int *const notifyTraceState = &lttng_ust_tracepoint_registryio___notify_begin.state;

void QtNotifyTrace::begin(const QtRegistryBase &registry, const QtRegistryControl &control,
                          bool async) noexcept
{
    std::shared_ptr<const std::string> name;
    try {
        name = control.traceName();
    } catch (...) {
    }
    lttng_ust_do_tracepoint(registryio, notify_begin, control.traceId.load(std::memory_order_relaxed),
                            name ? name->c_str() : "", static_cast<std::uint64_t>(registry.count()),
                            async ? 1 : 0);
    m_control = &control;
}

void QtNotifyTrace::end() const noexcept
{
    // A session started during the notify sees no lone end: begin() set m_control.
    lttng_ust_tracepoint(registryio, notify_end, m_control->traceId.load(std::memory_order_relaxed));
}

void traceDeliveryBegin(const QtHandlerState &h, std::uint64_t postedAt) noexcept
{
    lttng_ust_tracepoint(registryio, delivery_begin, h.control->traceId.load(std::memory_order_relaxed),
                         h.id.value(),
                         delaySince(postedAt)); // evaluated only while the tracepoint is enabled
}

void traceDeliveryEnd(const QtHandlerState &h, bool failed) noexcept
{
    lttng_ust_tracepoint(registryio, delivery_end, h.control->traceId.load(std::memory_order_relaxed),
                         h.id.value(), failed ? 1 : 0);
}

void traceDrop(const QtHandlerState &h, std::uint64_t count, QtRegistryControl::DropReason reason) noexcept
{
    lttng_ust_tracepoint(registryio, drop, h.control->traceId.load(std::memory_order_relaxed), h.id.value(),
                         count, static_cast<int>(reason));
}

} // namespace rio::detail
