// SPDX-License-Identifier: MIT
#pragma once

// The block a QtRegistry shares with everything that may outlive it: its mailboxes, its failure
// reporting (callback, signal, log) and the count of queued deliveries running, for
// synchronize(). Reaches the registry through an OwnerAnchor.

#include <registryio/detail/owner_anchor.h>

#include <registryio/drop_reason.h>
#include <registryio/exception_info.h>
#include <registryio/handler_id.h>
#include <registryio/qt/detail/drop_warning.h>
#include <registryio/qt/qt_tracing.h>

#include <QString>
#include <QThread>
#include <QtGlobal>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#if RIO_QT_TRACING
#include <string>
#endif

namespace rio {
class QtRegistryBase;
struct HandlerInfo;
} // namespace rio

namespace rio::detail {

class QtMailboxes;
class QtHandlerCore;
class QtHandlerState;

// A handler as the diagnostics log lines name it: "handler N of registry R "name" (event type),
// added at file:line", its origin first when it has one (diagnostics.cpp).
QString describeHandler(const HandlerInfo &h);
// `handler` of registry `registryId` so named, as a snapshot of its registry lists it (else as it
// recorded itself: removed). Takes the registry's locks: no lock of ours may be held.
QString describeHandler(quint64 registryId, QtHandlerState &handler);

struct QtRegistryControl
{
    explicit QtRegistryControl(QtRegistryBase *registry);

    OwnerAnchor anchor; // reaches the QtRegistryBase
    std::shared_ptr<QtMailboxes> mailboxes;

    // Reports `info` through the callback, handlerFailed and the log. No lock is held while the
    // callback or a slot runs, and nothing is emitted by a registry they deleted.
    void reportFailure(const ExceptionInfo &info) noexcept;
    // Reports the exception being handled as a failure of `id`.
    void reportCurrentException(HandlerId id) noexcept;
    // Why queued deliveries were dropped (the log says which).
    using DropReason = rio::DropReason;
    // Reports `total` deliveries of `handler` dropped so far: the signal when `signal`, the log
    // (naming it as describeHandler does) at most once a second (each removal's drops always).
    // Through QtHandlerState::report only.
    void reportDropped(QtHandlerState &handler, std::uint64_t n, std::uint64_t total, bool signal,
                       DropReason reason) noexcept;
    // Removes `id` from the registry, if it still lives (`cancel` false: a once-handler fired,
    // see QtHandlerCore::spend).
    bool remove(HandlerId id, bool cancel) noexcept;
    // The delivery of fired once-handler `id` ran or was dropped: it leaves the registry's
    // table, if the registry still lives (its typed part is destroyed here, outside any lock).
    void settle(HandlerId id) noexcept;

    // Diagnostics: `handler` takes its box's statistics, if the registry still lives
    // (QtHandlerCore::takeStats).
    void takeStats(QtHandlerCore &handler) noexcept;

    void setCallback(std::shared_ptr<const std::function<void(const ExceptionInfo &)>> callback) noexcept;

    // Queued deliveries running, in two generations: synchronize() moves new deliveries to the
    // other one and waits for the old one to drain, leaving out the calling thread's own.
    std::atomic<std::uint64_t> generation{0};
    std::atomic<long> running[2] = {0, 0};
    // Waits until every queued delivery running on another thread when it was called ended.
    void waitForRunningDeliveries() const noexcept;

#if RIO_QT_TRACING
    // The registry as tracepoints name it: its diagnostics id (QtRegistryBase::registryId(), set
    // as the registry attaches its diagnostics, before any add or notify), and its objectName,
    // kept here for notifies on any thread.
    std::atomic<std::uint64_t> traceId{0};
    void setTraceName(const QString &name);
    [[nodiscard]] std::shared_ptr<const std::string> traceName() const;
#endif

    QtRegistryControl(const QtRegistryControl &) = delete;
    QtRegistryControl &operator=(const QtRegistryControl &) = delete;

private:
#if RIO_QT_TRACING
    mutable std::mutex m_traceNameMutex;
    std::shared_ptr<const std::string> m_traceName;
#endif
    std::mutex m_callbackMutex;
    std::shared_ptr<const std::function<void(const ExceptionInfo &)>> m_callback;
    DropWarning m_dropWarning; // the registry's (the one format and rate limit, Remote's shares' too)
};

// A run on this thread that counted its call (timed when it started): a JavaScript failure
// inside it counts too (noteHandlerFailure).
struct CountedRunFrame : ThreadFrame
{
    static constexpr FrameKind frameKind = FrameKind::CountedRun;
    explicit CountedRunFrame(const QtHandlerCore &c) noexcept : ThreadFrame(frameKind), core(c) { }
    const QtHandlerCore &core;
};

// A queued delivery running on this thread: counted for synchronize() and for removeAndWait()
// of its handler, and one of the thread's frames so that neither waits for the thread's own
// deliveries.
struct DeliveryFrame : ThreadFrame
{
    static constexpr FrameKind frameKind = FrameKind::Delivery;
    explicit DeliveryFrame(QtHandlerState &h) noexcept;
    ~DeliveryFrame();

    QtHandlerState &handler;
    QtRegistryControl &control;
    const unsigned parity; // the generation of control.running it counts in
    // Its run counted its call whether timed or not (a queued delivery's; a step's only when
    // timed as it started: runStep decides), so a JavaScript failure in it counts too.
    bool counted = true;
};

// Waits with a growing pause until `done` holds (for waits on other threads' deliveries, which
// may be long).
template <typename F>
void waitUntil(F done) noexcept
{
    for (unsigned spins = 0; !done(); ++spins) {
        if (spins < 64)
            QThread::yieldCurrentThread();
        else
            QThread::usleep(spins < 1024 ? 50 : 1000);
    }
}

} // namespace rio::detail
