// SPDX-License-Identifier: MIT
#include "qml_registry_shared.h"

#include <registryio/qml/handler_subscription.h>
#include <registryio/qt/detail/qt_tsan.h>
#include <registryio/qt/logging.h>
#include <registryio/qt/qt_registry_base.h>

#include <QJSEngine>
#include <QQmlEngine>
#include <QQmlError>
#include <QQmlInfo>
#include <QThread>
#include <QUrl>

#include <algorithm>
#include <cmath>
#include <exception>
#include <mutex>
#include <utility>

namespace rio {

HandlerSubscription *detail::QmlRegistryShared::addFunction(const QJSValue &handler, int priority,
                                                            const QJSValue &options, const QString &name)
{
    QObject *const target = registry;
    if (target == nullptr || closing) // going: its end tells handles while `registry` is still set
        return nullptr;
    if (QThread::currentThread() != target->thread()) {
        qCWarning(lcRegistryIOQml,
                  "%s.add: called from a thread other than the registry's; nothing was registered",
                  qPrintable(name));
        return nullptr;
    }
    if (!handler.isCallable()) {
        warnAtCaller(target,
                     QStringLiteral("%1.add: the handler must be a function, got %2; nothing was registered")
                         .arg(name, jsTypeName(handler)));
        return nullptr;
    }
    QmlAddOptions read;
    if (const QString refused = readQmlAddOptions(options, target->thread(), read); !refused.isEmpty()) {
        warnAtCaller(target, QStringLiteral("%1.add: %2; nothing was registered").arg(name, refused));
        return nullptr;
    }
    QJSEngine *engine = qjsEngine(target);
    if (engine == nullptr || ops == nullptr) {
        qmlWarning(target).noquote() << name
                                     << ".add: the registry is not used by a QML engine; nothing was "
                                        "registered";
        return nullptr;
    }
    // No parent unless an owner was given: the handle keeps itself alive while registered.
    auto *handle =
        new HandlerSubscription(shared_from_this(), engine, handler, priority, read.handler.once, read.owner);
    // The registry is the delivery context (handles live on its thread): it outlives every
    // delivery it has queued, while a handle may die with deliveries pending; its destructor
    // removes the handler first.
    HandlerOptions delivery = read.handler;
    delivery.priority = priority;
    try {
        handle->m_id = ops->addTarget(handle->delivery(), delivery);
    } catch (const std::exception &e) {
        qmlWarning(target).noquote() << name << ".add: " << e.what();
        delete handle;
        return nullptr;
    }
    // Where in QML it was added (the C++ position of the add is this file's): the calling line,
    // while diagnostics are on (it costs a JavaScript error object per add).
    QString file;
    int line = 0;
    if (diagnosticsOn() && callerPosition(engine, &file, &line))
        noteOrigin(handle->m_id, file, line);
    handle->m_active = true;
    // JavaScript's (destroy() works on it), collected only once it is inactive and unreferenced.
    QJSEngine::setObjectOwnership(handle, QJSEngine::JavaScriptOwnership);
    handle->m_keepAlive = engine->newQObject(handle);
    return handle;
}

void detail::QmlRegistryShared::noteOrigin(HandlerId id, const QString &file, int line) const
{
    if (facadeBase != nullptr && !file.isEmpty())
        detail::setHandlerOrigin(*facadeBase, id, file, line);
}

bool detail::QmlRegistryShared::diagnosticsOn() const noexcept
{
    return facadeBase != nullptr && facadeBase->isDiagnosticsEnabled();
}

bool detail::QmlRegistryShared::removeOwn(HandlerId id, quint64 *dropped) const
{
    if (facade == nullptr)
        return false;
    // Drops not reported yet (a report still on its way from another thread) count too.
    if (dropped != nullptr)
        *dropped = facade->droppedOf(id);
    return facade->removeId(id);
}

bool detail::QmlRegistryShared::removeById(double id) const
{
    // Ids are integers from 1; JavaScript numbers hold them exactly up to 2^53.
    if (facade == nullptr || !(id >= 1.0 && id <= 9007199254740992.0) || std::floor(id) != id)
        return false;
    const HandlerId handler{static_cast<std::uint64_t>(id)};
    // A fired `once` handler whose delivery waits is held: its removal cancels that delivery.
    const bool held = facade->holds(handler);
    return facade->removeId(handler) || held; // tells the registration
}

void detail::QmlRegistryShared::tell(const QmlDelivery &delivery, bool left, quint64 count) noexcept
{
    QmlRegistryShared &shared = *delivery.shared;
    if (currentQThread() == shared.thread) {
        if (delivery.target.data() == nullptr)
            return;
        if (left)
            delivery.registration->registrationEnded(delivery.token, count);
        else
            delivery.registration->dropsReported(delivery.token, count);
        return;
    }
    // Removed on another thread (drops are handed on here only): recorded for the registry's
    // thread, with the drops it had (the facade forgets them). close() ends the registrations
    // whose word it finds waiting.
    std::lock_guard lock(shared.reportMutex);
    if (shared.reportTarget == nullptr)
        return; // the registry is going: its close() ended or ends every registration
    try {
        shared.endedElsewhere.append({delivery, count});
        shared.queueFlushLocked();
    } catch (...) {
        // Out of memory: the registration stays active until the registry goes.
    }
}

void detail::QmlRegistryShared::endRegistrations(const QList<std::pair<QmlDelivery, quint64>> &left)
{
    // One by one: a slot may destroy another registration (its delivery's target turns null).
    for (const auto &[delivery, dropped] : left)
        if (delivery.target.data() != nullptr)
            delivery.registration->registrationEnded(delivery.token, dropped);
}

void detail::QmlRegistryShared::close()
{
    if (closing)
        return;
    closing = true;
    // The declarative handlers set to this registry and the active handles first, while it is
    // whole: each unregisters and lets go of it (its bindings may run; none can watch this
    // registry again). Each ends itself whether the facade still had its handler or not: a
    // removal on another thread may have taken it, the word of it still on its way.
    watching = false;
    while (QmlRegistryWatcher *watcher = watchers) {
        unwatch(watcher);
        watcher->registryGone();
    }
    QList<std::pair<QmlDelivery, quint64>> left;
    {
        std::lock_guard lock(reportMutex);
        reportTarget = nullptr;
        pendingDrops.clear();
        left.swap(endedElsewhere);
        pendingFailures.clear();
    }
    // Every handler goes before the senders are waited for: that wakes a sender waiting for room
    // in one of their queues (Overflow::Block), which would otherwise hold the wait below (and
    // this thread) for its whole blockTimeout. Its event is dropped and counted. Each removal
    // ends its registration (handles owned by other objects outlive the registry, inactive),
    // as do the removals on other threads whose word had not come yet.
    if (facade != nullptr)
        facade->removeAll();
    endRegistrations(left);
    anchor.detach(); // senders' notifies on other threads finish first
    // A notify in progress (a handler destroyed the registry) runs no handler from now on: the
    // facade removed them, and their deliveries find `ops` null.
    registry = nullptr;
    facade = nullptr;
    facadeBase = nullptr;
    ops = nullptr;
    notifyValue = nullptr;
}

void detail::QmlRegistryShared::reportThrown(HandlerId id, const QJSValue &thrown)
{
    QObject *const target = local(); // a handler may have destroyed it
    if (target == nullptr)
        return;
    if (facadeBase != nullptr)
        detail::noteHandlerFailure(*facadeBase,
                                   id); // diagnostics count it: it never left the handler as an exception
    QQmlError error;
    error.setMessageType(QtWarningMsg);
    if (thrown.isError()) {
        const QString file = thrown.property(QStringLiteral("fileName")).toString();
        const int line = thrown.property(QStringLiteral("lineNumber")).toInt();
        if (!file.isEmpty())
            error.setUrl(QUrl(file));
        if (line > 0)
            error.setLine(line);
    }
    const QString message = thrown.toString();
    error.setDescription(QStringLiteral("RegistryIO: handler %1 threw: %2").arg(id.value()).arg(message));
    qmlWarning(target, error);
    reportFailed(id, message);
}

void detail::QmlRegistryShared::reportFailure(HandlerId id, const QString &message)
{
    QObject *const target = local(); // a handler may have destroyed it
    if (target == nullptr)
        return;
    if (facadeBase != nullptr)
        detail::noteHandlerFailure(*facadeBase,
                                   id); // as reportThrown: caught by the engine, never an exception
    reportFailed(id, message);
}

void detail::QmlRegistryShared::reportFailed(HandlerId id, const QString &message) noexcept
{
    // Bounded: a thread that notifies a failing handler in a loop without returning to the event
    // loop keeps the first ones; the rest are logged (as every failure is) and said once, after
    // the lock (a message handler is user code).
    constexpr qsizetype maxPendingFailures = 10000;
    {
        std::lock_guard lock(reportMutex);
        if (reportTarget == nullptr)
            return;
        if (pendingFailures.size() < maxPendingFailures) {
            try {
                pendingFailures.append({id.value(), message});
                queueFlushLocked();
            } catch (...) {
                // Out of memory: the failure is still logged and counted by diagnostics.
            }
            // Inside a frame here: the end of a notify there releases the failure, whether or not
            // a flush came meanwhile (notifyValue is this thread's).
            if (QThread::currentThread() == thread && notifyValue != nullptr && notifyValue->framesUnderWay())
                holdFailures(false);
            return;
        }
        if (unsignalledFailures++ != 0)
            return;
    }
    qCWarning(lcRegistryIOQml,
              "handlerFailed: %lld failures wait for the event loop; the next ones are logged only",
              static_cast<long long>(maxPendingFailures));
}

void detail::QmlRegistryShared::holdFailures(bool flush) noexcept
{
    flushHeld = flushHeld || flush;
    notifyValue->holdUntilOutermostEnds(
        [](void *self, bool notify) noexcept {
            static_cast<QmlRegistryShared *>(self)->queueFailures(notify);
        },
        this);
}

void detail::QmlRegistryShared::queueFailures(bool notifyEnded) noexcept
{
    std::lock_guard lock(reportMutex);
    // Their notifies ended with it: a flush emits them even inside a frame begun since. (The
    // end of a handler's run is not its notify's: registry().notify() goes on.)
    if (notifyEnded)
        releasedFailures = pendingFailures.size();
    if (!std::exchange(flushHeld, false) || reportTarget == nullptr || pendingFailures.isEmpty())
        return;
    // Two whole turns from now: a flush whose first turn came already takes none of them, and
    // queues itself afresh.
    failuresReady = 0;
    try {
        queueFlushLocked();
    } catch (...) {
        // Out of memory: the failures wait for a later flush.
    }
}

void detail::QmlRegistryShared::queueFlushLocked()
{
    if (flushQueued)
        return;
    // Two turns of the event loop: what the notify under way queues on this thread after the
    // report (a queued handler of it, `latest`'s delivery) is posted before the first turn
    // comes, so the flush, posted again then, comes after it.
    // From any thread: a post of ours, ordered for ThreadSanitizer (see qt_tsan.h).
    [[maybe_unused]] const TsanPostScope posting;
    QMetaObject::invokeMethod(reportTarget,
                              Handover([self = shared_from_this()] { self->queueFlushAgain(); }),
                              Qt::QueuedConnection);
    flushQueued = true;
}

void detail::QmlRegistryShared::queueFlushAgain() noexcept
{
    {
        std::lock_guard lock(reportMutex);
        if (reportTarget == nullptr)
            return;
        failuresReady = pendingFailures.size(); // the ones after wait for a flush of their own
        try {
            QMetaObject::invokeMethod(
                reportTarget, [self = shared_from_this()] { self->flushReports(true); },
                Qt::QueuedConnection);
            return;
        } catch (...) {
            // Out of memory: flushed now.
        }
    }
    flushReports(true);
}

void detail::QmlRegistryShared::connectReports(const std::shared_ptr<QmlRegistryShared> &self,
                                               QtRegistryBase &facade)
{
    {
        std::lock_guard lock(self->reportMutex);
        self->reportTarget = self->registry;
    }
    // Drops are reported on the notifying thread: recorded there, handed on here by id.
    QObject::connect(
        &facade, &QtRegistryBase::deliveriesDropped, &facade,
        [shared = self](HandlerId id, quint64 total) { reportDrop(shared, id.value(), total); },
        Qt::DirectConnection);
    // C++ handlers' failures: handlerFailed on the registry's thread, after the notify.
    QObject::connect(
        &facade, &QtRegistryBase::handlerFailed, &facade,
        [shared = self](HandlerId id, const QString &message) { shared->reportFailed(id, message); },
        Qt::DirectConnection);
}

void detail::QmlRegistryShared::reportDrop(const std::shared_ptr<QmlRegistryShared> &shared, quint64 id,
                                           quint64 total)
{
    bool here = false;
    {
        std::lock_guard lock(shared->reportMutex);
        QObject *target = shared->reportTarget;
        if (target == nullptr)
            return;
        quint64 &pending = shared->pendingDrops[id];
        pending = std::max(pending, total);
        here = QThread::currentThread() == target->thread();
        if (!here)
            shared->queueFlushLocked();
    }
    // On the registry's thread (the report before a delivery): `dropped` is current when the
    // handler runs.
    if (here)
        shared->flushReports(false);
}

void detail::QmlRegistryShared::flushReports(bool queued)
{
    QHash<quint64, quint64> drops;
    QList<std::pair<QmlDelivery, quint64>> left;
    QList<std::pair<quint64, QString>> failures;
    // One of the registry's frames is under way on this thread (a handler's nested event loop
    // runs this flush): the failures recorded since the outermost frame last ended wait for it.
    const bool held = queued && notifyValue != nullptr && notifyValue->framesUnderWay();
    {
        std::lock_guard lock(reportMutex);
        drops.swap(pendingDrops);
        if (queued) {
            left.swap(endedElsewhere);
            flushQueued = false;
            failures.swap(pendingFailures);
            // Held, only the failures recorded before the outermost frame last ended go.
            const qsizetype ready = std::min(failuresReady, held ? releasedFailures : failures.size());
            // A failure recorded after the first turn: its notify may have queued handlers
            // behind this turn, so it takes a fresh flush of two turns (a held one: when
            // released, at the outermost frame's end).
            if (failures.size() > ready) {
                try {
                    if (!held || releasedFailures > ready)
                        queueFlushLocked();
                    pendingFailures = failures.mid(ready);
                    failures.resize(ready);
                } catch (...) {
                    // Out of memory: emitted now, or when held, all wait for the outermost end.
                    if (held)
                        pendingFailures.swap(failures);
                }
            }
            releasedFailures = std::max<qsizetype>(releasedFailures - failures.size(), 0);
            if (!failures.isEmpty())
                unsignalledFailures = 0;
        }
    }
    if (held)
        holdFailures(true);
    // Looked up one by one in the facade: a registration's slot may remove others, or destroy
    // the registry (`self` keeps this alive meanwhile).
    for (auto it = drops.cbegin(); it != drops.cend() && facade != nullptr; ++it)
        facade->reportDrops(HandlerId{it.key()}, it.value());
    endRegistrations(left);
    // One by one: a slot may destroy the registry (`self` keeps this alive meanwhile).
    for (const auto &[id, message] : failures) {
        QObject *const target = local();
        if (target == nullptr)
            return;
        emitFailed(target, HandlerId{id}, message);
    }
}

} // namespace rio
