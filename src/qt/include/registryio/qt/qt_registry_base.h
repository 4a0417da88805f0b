// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/exception_info.h>
#include <registryio/handler_id.h>
#include <registryio/qt/debug.h>
#include <registryio/qt/qt_export.h>

#include <QObject>
#include <QString>

#include <atomic>

#include <cstddef>
#include <functional>
#include <memory>

namespace rio {

struct RegistryInfo;
class QtRegistryBase;

namespace detail {
struct QtRegistryControl;
struct RegistryLink;
class RegistryCore;
class QtRegistrations;

/// The QML layer's diagnostics of handler `id` of `registry` (not public API): an origin (a QML
/// file URL and line) shown besides the C++ position of its add. False (nothing changed) for an
/// id not registered there.
RIO_QT_EXPORT bool setHandlerOrigin(QtRegistryBase &registry, HandlerId id, const QString &file, int line);
/// Counts a failure of handler `id` of `registry` that did not leave it as an exception (a QML
/// handler's JavaScript error, caught by the QML layer), from inside its run (in a
/// ScriptRunFrame, qml_hooks.h), when that run counted its call. False (nothing counted) for an
/// id not there.
RIO_QT_EXPORT bool noteHandlerFailure(QtRegistryBase &registry, HandlerId id);
} // namespace detail

/// The non-template QObject half of QtRegistry<E>: its signals, its `count` property and the
/// failure reporting shared by every event type.
class RIO_QT_EXPORT QtRegistryBase : public QObject
{
    Q_OBJECT
    /// Number of registered handlers.
    Q_PROPERTY(int count READ count NOTIFY countChanged)

public:
    ~QtRegistryBase() override;

    /// Number of registered handlers (saturates at INT_MAX).
    [[nodiscard]] int count() const noexcept;

    /// Sets (or replaces) the callback that learns about failing handlers, on whatever thread
    /// the failure happened. An exception thrown by the callback is swallowed.
    void setExceptionHandler(std::function<void(const ExceptionInfo &)> callback);
    /// Removes the exception callback (handlerFailed and the log still report failures).
    void clearExceptionHandler();
    /// Queued deliveries of this registry and of `other` to one thread are delivered together, in
    /// notify order across both (one mailbox per thread, one notify sequence). Call it before
    /// either registry has queued anything (right after construction).
    void shareDeliveryOrderWith(QtRegistryBase &other) noexcept;

    /// This registry's process-unique id in diagnostics (RegistryInfo::id; never reused).
    [[nodiscard]] quint64 registryId() const noexcept;
    /// Records this registry's run times, direct handlers' calls and failures, queueing delays and
    /// slow runs (docs/DIAGNOSTICS.md); queued handlers' counters are always on. Its objectName
    /// names the registry in snapshots.
    void setDiagnosticsEnabled(bool enabled);
    /// True while diagnostics are enabled for this registry (by itself or process-wide).
    [[nodiscard]] bool isDiagnosticsEnabled() const noexcept;

Q_SIGNALS:
    /// A handler threw (or its future failed, or its delivery was refused); emitted on the
    /// thread where that happened, after the exception callback ran.
    void handlerFailed(rio::HandlerId id, const QString &message);
    /// A handler was added or removed (emitted on the thread that changed the set).
    void countChanged();
    /// Queued deliveries to `id` were dropped (`total`: its drops so far), emitted on a thread that
    /// dropped them or learnt of it, and logged at most once a second per registry. A slot may see
    /// a total twice or out of order; the highest total is the latest.
    void deliveriesDropped(rio::HandlerId id, quint64 total);

protected:
    /// \cond RIO_INTERNAL
    // The interface of QtRegistry<E>, not of the public API: hidden from the reference.

    /// Used by QtRegistry<E>.
    explicit QtRegistryBase(QObject *parent);

    /// Number of registered handlers, from the typed half.
    [[nodiscard]] virtual std::size_t handlerCount() const noexcept = 0;
    /// True while `id` is registered, from the typed half.
    [[nodiscard]] virtual bool containsHandler(HandlerId id) const noexcept = 0;
    /// Removes `id` and drops its pending deliveries. True the first time. `cancel` false: a
    /// once-handler fired; it leaves the count but stays reachable until its delivery settled.
    virtual bool removeHandler(HandlerId id, bool cancel) noexcept = 0;

    /// Reports a failure through the exception callback, handlerFailed and the `registryio`
    /// logging category. Never throws; the callback may delete the registry.
    void reportFailure(const ExceptionInfo &info) noexcept;
    /// Waits until every queued delivery running on another thread when called has ended (the
    /// calling thread's own are not waited for).
    void synchronizeQueued() const noexcept;

    /// How many receiving threads have a mailbox now (for tests: it must not grow with thread churn).
    [[nodiscard]] std::size_t mailboxCountForTesting() const;

    /// Puts this registry on the diagnostics list (the typed constructor, once its core exists).
    void attachDiagnostics(detail::RegistryCore &core, detail::QtRegistrations &registrations,
                           const void *eventType);

    /// Detaches the shared control block and the guard link: afterwards nothing that outlives
    /// the registry (queued deliveries, guards, context connections) reaches it. Waits for
    /// reports in progress on other threads, never for the calling thread's own (a slot or
    /// callback may delete the registry). Called first by the typed destructor.
    void detachShared() noexcept;

    /// Reaches this registry from deliveries, context connections and handler futures.
    std::shared_ptr<detail::QtRegistryControl> m_control;
    /// Lets HandlerGuards from addScoped() and Connections reach handlers while the registry lives.
    std::shared_ptr<detail::RegistryLink> m_link;
    /// The QObject that holds this registry as a data member, if set (see detail::HeldQtRegistry):
    /// handlers whose context is that object need no watch on its destruction.
    QObject *m_holder = nullptr;
    /// \endcond

private:
    friend struct detail::QtRegistryControl;
    friend class Diagnostics;

    // Keeps this registry's last record while the core keeps destroyed ones (detachShared).
    void detachDiagnostics() const noexcept;

    detail::RegistryCore *m_diagCore = nullptr;
    detail::QtRegistrations *m_diagRegistrations = nullptr;
    QMetaObject::Connection m_nameConnection;

protected:
    /// \cond RIO_INTERNAL
    /// The diagnostics id (registryId()).
    quint64 m_registryId = 0;
    /// \endcond

private:
    static bool removeThroughLink(void *registry, HandlerId id) noexcept;
    static bool containsThroughLink(void *registry, HandlerId id) noexcept;
    static bool removeThroughControl(QtRegistryBase &registry, HandlerId id, bool cancel) noexcept;
};

} // namespace rio
