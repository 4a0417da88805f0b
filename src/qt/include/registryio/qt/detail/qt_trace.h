// SPDX-License-Identifier: MIT
#pragma once

// The tracepoints of a notify, in a build with RIO_TRACING=LTTNG (registryio/qt/qt_tracing.h
// says RIO_QT_TRACING 1): notify_begin and notify_end around each notify of a QtRegistry,
// recorded when a tracing session enables them. Without the option this header declares
// nothing and a notify calls nothing. Not part of the public API.

#include <registryio/qt/qt_export.h>
#include <registryio/qt/qt_tracing.h>

namespace rio {
class QtRegistryBase;
}

namespace rio::detail {

struct QtRegistryControl;

#if RIO_QT_TRACING
// LTTng's own enabled flag of notify_begin (nonzero while a session records it), read inline by
// every notify: one that no session traces pays a load and a test, and calls nothing. LTTng
// builds only (Linux), so no data is imported across a Windows DLL boundary.
RIO_QT_EXPORT extern const volatile int *const notifyTraceState;

// Emits notify_begin (registry, name, handler count, async) when constructed and notify_end when
// destroyed, when a tracing session records them; otherwise two tests, inline.
class RIO_QT_EXPORT QtNotifyTrace
{
public:
    QtNotifyTrace(const QtRegistryBase &registry, const QtRegistryControl &control, bool async) noexcept
    {
        if (*notifyTraceState != 0) [[unlikely]] // its arguments only read once it is enabled
            begin(registry, control, async);
    }
    ~QtNotifyTrace()
    {
        if (m_control != nullptr) [[unlikely]] // only when the begin was recorded
            end();
    }
    QtNotifyTrace(const QtNotifyTrace &) = delete;
    QtNotifyTrace &operator=(const QtNotifyTrace &) = delete;

private:
    [[gnu::cold]] void begin(const QtRegistryBase &registry, const QtRegistryControl &control,
                             bool async) noexcept;
    [[gnu::cold]] void end() const noexcept;

    const QtRegistryControl *m_control = nullptr; // null: notify_begin was not recorded
};
#endif

} // namespace rio::detail
