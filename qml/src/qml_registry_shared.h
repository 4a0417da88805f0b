// SPDX-License-Identifier: MIT
#pragma once

// The registration bookkeeping every QML registry shares with its handles, handlers and senders
// (QmlRegistry and typed registries alike). Private to the QML module.

#include "qml_values.h"

#include <registryio/detail/owner_anchor.h>
#include <registryio/handler_id.h>
#include <registryio/qml/detail/qml_facade.h>
#include <registryio/qt/qt_registry.h>

#include <QHash>
#include <QJSValue>
#include <QList>
#include <QVariant>

#include <atomic>
#include <memory>
#include <mutex>
#include <utility>

class QJSEngine;
class QQmlError;

namespace rio {
class HandlerSubscription;
} // namespace rio

namespace rio::detail {

/// A registration of a QML registry (a HandlerSubscription, a RegistryHandler, a typed handler),
/// as its deliveries reach it (QmlDelivery::registration): told when the facade removes its
/// handler behind its back or counts its drops. The handler itself (priority, order, its
/// deliveries) is the facade's alone. On the registry's thread.
class QmlRegistration
{
public:
    /// Registration `token` is registered no more, behind its back: removed by id (remove(id),
    /// the C++ facade, a Connection) or the registry is going. `dropped`: the facade's drop
    /// count of it just before it left. Runs user code (activeChanged). A registration already
    /// ended, or another one, ignores it.
    virtual void registrationEnded(quint64 token, quint64 dropped) = 0;
    /// The overflow policy dropped `total` events of registration `token` so far (a total may
    /// arrive more than once, or after a larger one).
    virtual void dropsReported(quint64 token, quint64 total) = 0;

protected:
    ~QmlRegistration() = default;
};

/// A declarative handler whose `registry` is a registry on its own thread, registered or not, or
/// an active handle: the registry tells it when it is destroyed (a link in the registry's list
/// instead of one QObject::destroyed connection per handler, which cost about 1,500 instructions
/// each way).
class QmlRegistryWatcher
{
public:
    /// The registry is being destroyed (from its destructor, while it is still whole).
    virtual void registryGone() = 0;

    QmlRegistryWatcher *previousWatcher = nullptr;
    QmlRegistryWatcher *nextWatcher = nullptr;

protected:
    ~QmlRegistryWatcher() = default;
};

/// The one registration bookkeeping of a QML registry, a QmlRegistry's and a typed registry's
/// alike: the reports its registrations get on its thread, the declarative handlers watching it,
/// its senders' anchor and its orderly end. It holds no handler and no table of registrations:
/// every handler, JavaScript or C++, is the facade's, every notify is the facade's dispatch, and
/// the facade's removal of a handler reaches its registration through the handler's delivery.
/// Shared with the registry's handles, senders and deliveries (a handler may destroy the
/// registry). The registry's thread, except where said.
struct QmlRegistryShared final : std::enable_shared_from_this<QmlRegistryShared>
{
    /// The bookkeeping of `registry`, whose senders reach it through `anchor`; the registry sets
    /// `facade`, `ops` and `emitFailed` before anything registers.
    explicit QmlRegistryShared(QObject *registry) noexcept
        : anchor(registry), registry(registry), thread(registry->thread())
    { }

    // Senders reach the registry in a frame of this anchor; close() detaches it, waiting for
    // other threads' frames only (a handler a sender's notify runs on the registry's own thread
    // may destroy it).
    OwnerAnchor anchor;
    QObject *registry;                    // null once the registry is going (local())
    QThread *const thread;                // the registry's (it does not move)
    QmlFacade *facade = nullptr;          // null once the registry is going
    QtRegistryBase *facadeBase = nullptr; // the same facade's QObject half; null once going
    QmlEventOps *ops = nullptr;           // null once the registry is going
    void (*emitFailed)(QObject *registry, HandlerId id, const QString &message) = nullptr;
    std::atomic<bool> warnedDead{false}; // a sender warned that the registry is gone

    // add(function, priority, options) of the registry called `name` in warnings: the handle, or
    // null after a QML warning at the caller's line (nothing registered).
    HandlerSubscription *addFunction(const QJSValue &handler, int priority, const QJSValue &options,
                                     const QString &name);

    // Attaches the QML position `file`:`line` to handler `id` for diagnostics (nothing when the
    // registry is going or the file is unknown).
    void noteOrigin(HandlerId id, const QString &file, int line) const;
    // True while the registry's diagnostics are on (by itself or process-wide).
    [[nodiscard]] bool diagnosticsOn() const noexcept;

    bool closing = false;

    // Our own removal of `id` (a handle's remove, a handler unregistering), which the caller
    // ended first (its delivery's word is then ignored). Returns its drops so far and whether the
    // facade had it.
    bool removeOwn(HandlerId id, quint64 *dropped = nullptr) const;
    // remove(id) from QML: the facade's removal tells the registration. False for unknown ids.
    [[nodiscard]] bool removeById(double id) const;
    // The registry is going (its destructor, while it is whole): watchers leave, every handler is
    // removed, which wakes notifiers waiting for room and ends every registration, then senders
    // on other threads finish. Idempotent.
    void close();

    // QmlDelivery::tell: the facade removed the delivery's handler (`left`, any thread: told here
    // at once, from another thread through the event loop, or by close()), or reports its drops
    // (here).
    static void tell(const QmlDelivery &delivery, bool left, quint64 count) noexcept;

    // --- failures ---
    // Reports what the JavaScript function of handler `id` threw: a QML warning at its file and
    // line (when it has them) at once, handlerFailed later (reportFailed), if the registry still
    // exists.
    void reportThrown(HandlerId id, const QJSValue &thrown);
    // Reports a failure the engine printed already (an onNotified handler threw): handlerFailed.
    void reportFailure(HandlerId id, const QString &message);
    // Records a failure of `id` (any thread) for handlerFailed, emitted by the queued flush on
    // the registry's thread, as a queued signal would be: from its event loop, in the order of
    // the failures.
    void reportFailed(HandlerId id, const QString &message) noexcept;

    // --- drops and removals reported on other threads ---
    // Recorded on the reporting thread, handed on by a flush on the registry's thread: the
    // largest total per id, at most one flush queued at a time, so a flood of drops never becomes
    // a flood of queued events.
    std::mutex reportMutex;
    QObject *reportTarget = nullptr;      // the registry until it is going (under reportMutex)
    QHash<quint64, quint64> pendingDrops; // id -> largest total reported (under reportMutex)
    QList<std::pair<QmlDelivery, quint64>>
        endedElsewhere; // removed on other threads, their drops (under reportMutex)
    QList<std::pair<quint64, QString>> pendingFailures; // for handlerFailed (under reportMutex)
    quint64 unsignalledFailures = 0; // over the bound of pendingFailures (under reportMutex)
    bool flushQueued = false;        // under reportMutex

    // Queues the flush unless one is queued (reportMutex held, reportTarget set). Throws.
    void queueFlushLocked();
    // Emits the pending failures one at a time, in their order (the registry's thread).
    void emitFailures();

    // Records a drop report (any thread); on the registry's thread it is handed on at once.
    static void reportDrop(const std::shared_ptr<QmlRegistryShared> &shared, quint64 id, quint64 total);
    // Hands the pending reports to their registrations (the registry's thread).
    void flushReports(bool queued);
    // Tells each registration of `left` that it ended (the registry's thread).
    static void endRegistrations(const QList<std::pair<QmlDelivery, quint64>> &left);
    // Connects the facade's drop and failure reports, under `self` (any thread: recorded here).
    static void connectReports(const std::shared_ptr<QmlRegistryShared> &self, QtRegistryBase &facade);

    // --- the declarative handlers watching the registry ---
    // A doubly linked list through the watchers (registry's thread). `watching` turns false
    // when the registry starts to go.
    QmlRegistryWatcher *watchers = nullptr;
    bool watching = true;

    // Links `watcher` (not linked anywhere; the registry is not going).
    void watch(QmlRegistryWatcher *watcher) noexcept
    {
        watcher->previousWatcher = nullptr;
        watcher->nextWatcher = watchers;
        if (watchers != nullptr)
            watchers->previousWatcher = watcher;
        watchers = watcher;
    }
    // Unlinks `watcher` (linked here).
    void unwatch(QmlRegistryWatcher *watcher) noexcept
    {
        if (watcher->previousWatcher != nullptr)
            watcher->previousWatcher->nextWatcher = watcher->nextWatcher;
        else
            watchers = watcher->nextWatcher;
        if (watcher->nextWatcher != nullptr)
            watcher->nextWatcher->previousWatcher = watcher->previousWatcher;
        watcher->previousWatcher = nullptr;
        watcher->nextWatcher = nullptr;
    }

    // The registry, or null. Only on the registry's thread, where it cannot change concurrently.
    [[nodiscard]] QObject *local() const noexcept { return registry; }
};

} // namespace rio::detail
