// SPDX-License-Identifier: MIT
#pragma once

// Shared between a QmlRegistry, its handles and its senders (private to the QML module).

#include <registryio/handler_id.h>
#include <registryio/qt/detail/owner_anchor.h>
#include <registryio/qt/qt_registry.h>

#include <QHash>
#include <QJSManagedValue>
#include <QJSValue>
#include <QList>
#include <QVariant>

#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

class QJSEngine;
class QQmlError;

namespace rio {
class QmlRegistry;
} // namespace rio

namespace rio::detail {

/// A JavaScript registration (a HandlerSubscription or a RegistryHandler) that the registry tells
/// when its handler was removed behind its back (remove(id), the registry's death).
class QmlRegistration
{
public:
    virtual void registrationEnded() = 0;
    /// The overflow policy dropped `total` events of this registration so far (a total may
    /// arrive more than once, or after a larger one).
    virtual void dropsReported(quint64 /*total*/) { }

    quint64 id = 0;
    int priority = 0;
    // The JavaScript function the registry may call itself (owned by the registration's
    // object): in its one-call dispatch (see QmlRegistry::notifyInJavaScript), or directly when
    // it is the only handler. Null when this registration cannot take part (a `once` handler,
    // an onNotified one).
    const QJSManagedValue *function = nullptr;
    // { f: function, id: number, live: bool }: its entry in the dispatch, made when the
    // registry first builds a batch with it (undefined until then).
    QJSValue batchEntry;
    // Without a function: true when the registry's own dispatch may run it through
    // deliverDirect() (an onNotified RegistryHandler of the registry's engine, not `once`).
    bool direct = false;

    /// Runs the handler in the registry's own dispatch (its thread; `direct` registrations only)
    /// with `value`, the event's JavaScript value made once for the notify (a QmlRegistry's), or
    /// `event`, the typed event (a typed registry's; `value` is undefined then).
    virtual void deliverDirect(const QJSValue & /*value*/, const void * /*event*/) { }

protected:
    ~QmlRegistration() = default;
};

/// A RegistryHandler whose `registry` is a registry on its own thread, registered or not: the
/// registry tells it when it is destroyed (a link in the registry's list instead of one
/// QObject::destroyed connection per handler, which cost about 1,500 instructions each way).
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

/// The JavaScript value of the event being delivered on the engine thread: made once per notify
/// and handed to every JavaScript handler of it. An event is recognised by its address (the
/// notifier's QVariant, or the one shared copy queued deliveries carry) and its data, which the
/// cache keeps alive with a copy, so a later event at the same address is never mistaken for it.
class QmlEventCache
{
public:
    QJSValue get(const QVariant &event, QJSEngine *engine);
    /// The next get(event) returns `value` (notify() from JavaScript: the caller's own value).
    void seed(const QVariant &event, QJSValue value, QJSEngine *engine);
    void clear();

private:
    bool matches(const QVariant &event, const QJSEngine *engine) const noexcept
    {
        if (&event != m_address || engine != m_engine || event.metaType() != m_copy.metaType())
            return false;
        const void *data = event.constData();
        const auto *self = reinterpret_cast<const char *>(&event);
        const auto *bytes = static_cast<const char *>(data);
        if (bytes < self || bytes >= self + sizeof(QVariant))
            return data == m_copy.constData(); // shared data, kept alive by m_copy
        const qsizetype size = event.metaType().sizeOf();
        return size > 0 && std::memcmp(data, m_copy.constData(), std::size_t(size)) == 0;
    }

    const QVariant *m_address = nullptr;
    const QJSEngine *m_engine = nullptr;
    QVariant m_copy;
    QJSValue m_value;
};

// What a JavaScript value is, for warnings: "undefined", "null", "a boolean", "a number",
// "a string", "an array" or "an object".
inline QString jsTypeName(const QJSValue &value)
{
    if (value.isUndefined())
        return QStringLiteral("undefined");
    if (value.isNull())
        return QStringLiteral("null");
    if (value.isBool())
        return QStringLiteral("a boolean");
    if (value.isNumber())
        return QStringLiteral("a number");
    if (value.isString())
        return QStringLiteral("a string");
    if (value.isArray())
        return QStringLiteral("an array");
    return QStringLiteral("an object");
}

// A QML warning on `object` at the JavaScript line that called us (its declaration if none).
void warnAtCaller(const QObject *object, const QString &message);

// The handler (a RegistryHandler or a typed handler) whose onNotified is running on this thread:
// engine warnings raised meanwhile (a thrown exception, a TypeError) are its failures, not an
// outer handler's.
struct QmlRunningHandler
{
    const QObject *handler = nullptr;
    QList<QQmlError> *errors = nullptr;
};
// This thread's running handler (one thread-local object: one TLS lookup per delivery).
QmlRunningHandler &runningHandler() noexcept;

// The options object of QmlRegistry.add() and a typed registry's add(): { coalesce, once, owner,
// capacity, overflow, blockTimeout, minInterval }.
struct QmlAddOptions
{
    HandlerOptions handler; // delivery, capacity, overflow, blockTimeout, minInterval, once
    QObject *owner = nullptr;
};

// Reads `options` (undefined or null: the defaults) for a registry living on `thread`; returns
// the refusal, with no prefix, when something is wrong (then `out` is unspecified). A `once`
// handler keeps the default queue options, as a RegistryHandler's does.
QString readQmlAddOptions(const QJSValue &options, const QThread *thread, QmlAddOptions &out);

/// The registrations of a registry (a QmlRegistry or a typed registry) and its own dispatch of
/// them: while every handler is a JavaScript registration it can run itself and no C++ code holds
/// the facade, the registry runs them in its order without the facade's dispatch. Kept alive by
/// a dispatch in progress (a handler may destroy the registry). The registry's thread, except
/// the hand-over (shareFacade) and the count of own dispatches.
struct QmlDispatchState
{
    QHash<quint64, QmlRegistration *> registrations;
    int unbatchable = 0; // registrations without a function
    int indirect = 0;    // registrations with neither a function nor `direct`
    // The ids of the registrations in the registry's order (made again when `orderDirty`; a
    // dispatch keeps its copy).
    std::shared_ptr<const std::vector<quint64>> order;
    bool orderDirty = true;

    // The own dispatch bypasses the C++ facade, so it is used only while no C++ code holds the
    // facade: the registry's registry() calls shareFacade(), which turns it off for good, and from
    // then on every handler runs through the facade, which keeps setSuspended, removeAndWait and
    // drop counts true. `ownRunning` counts the own dispatches in progress (registry's thread):
    // every shareFacade() from another thread waits for them (none begins once the facade is
    // shared, so only those begun before), so a removeAndWait after it never returns while such
    // a dispatch still runs the handler, also when the registry's thread took the facade first.
    std::atomic<bool> facadeShared{false};
    std::atomic<int> ownRunning{0};

    void addRegistration(QmlRegistration *registration)
    {
        registrations.insert(registration->id, registration);
        if (registration->function == nullptr) {
            ++unbatchable;
            if (!registration->direct)
                ++indirect;
        }
        orderDirty = true;
    }

    // Forgets a registration (null if unknown); a dispatch in progress skips it from now on.
    QmlRegistration *takeRegistration(quint64 id)
    {
        QmlRegistration *registration = registrations.take(id);
        if (registration == nullptr)
            return nullptr;
        if (registration->function == nullptr) {
            --unbatchable;
            if (!registration->direct)
                --indirect;
        }
        orderDirty = true;
        return registration;
    }

    // True when the registry may run its handlers itself: it has some, every one is a JavaScript
    // registration it can run (`facadeSize`: the facade's handler count, so no C++ handler).
    [[nodiscard]] bool mayDispatch(std::size_t facadeSize) const noexcept
    {
        return !registrations.isEmpty() && indirect == 0 && facadeSize == std::size_t(registrations.size());
    }

    // Starts an own dispatch: false (nothing started) once the facade is shared. Announced before
    // the facade check, which shareFacade() makes after setting it (both sequentially
    // consistent): either shareFacade() sees this dispatch and waits for it, or this dispatch
    // sees the facade shared and goes through it.
    [[nodiscard]] bool enterOwnDispatch() noexcept
    {
        ownRunning.fetch_add(1, std::memory_order_seq_cst);
        if (!facadeShared.load(std::memory_order_seq_cst))
            return true;
        leaveOwnDispatch();
        return false;
    }
    // Ends an own dispatch.
    void leaveOwnDispatch() noexcept
    {
        ownRunning.fetch_sub(1, std::memory_order_seq_cst);
        if (facadeShared.load(std::memory_order_seq_cst))
            ownRunning.notify_all(); // a shareFacade() may wait for it
    }
    // C++ code takes the facade: no own dispatch from now on. A call from a thread other than
    // the registry's (`onRegistryThread` false) waits for own dispatches still running there
    // (never for our own thread's frames).
    void shareFacade(bool onRegistryThread) noexcept
    {
        if (!facadeShared.load(std::memory_order_relaxed))
            facadeShared.store(true, std::memory_order_seq_cst);
        if (onRegistryThread)
            return;
        for (int running; (running = ownRunning.load(std::memory_order_seq_cst)) != 0;)
            ownRunning.wait(running, std::memory_order_seq_cst);
    }

    // The registrations in the registry's order: higher priority first, then registration (id)
    // order.
    [[nodiscard]] std::vector<QmlRegistration *> inRegistryOrder() const;

    // Calls `run(registration)` for each registration in the registry's order. A handler may
    // destroy the registry, add or remove registrations, or notify again: the ids of this
    // dispatch stay ours, and each is looked up before it runs (ids are never reused), so one
    // removed meanwhile is skipped and one added meanwhile waits for the next notify, as the
    // facade's own dispatch does. The caller keeps this state alive.
    template <typename Run>
    void runInOrder(Run &&run)
    {
        if (orderDirty) {
            std::vector<quint64> ids;
            ids.reserve(std::size_t(registrations.size()));
            for (const QmlRegistration *registration : inRegistryOrder())
                ids.push_back(registration->id);
            order = std::make_shared<const std::vector<quint64>>(std::move(ids));
            orderDirty = false;
        }
        const std::shared_ptr<const std::vector<quint64>> ids = order;
        for (const quint64 id : *ids)
            if (QmlRegistration *registration = registrations.value(id))
                run(*registration);
    }
};

struct QmlRegistryShared : QmlDispatchState
{
    explicit QmlRegistryShared(QmlRegistry *owner) noexcept : anchor(owner), registry(owner) { }

    // Senders reach the registry in a frame of this anchor; the registry's destructor detaches
    // it, waiting for other threads' frames only (a handler a sender's notify runs on the
    // registry's own thread may destroy it).
    OwnerAnchor anchor;
    QmlRegistry *registry; // null once the registry is being destroyed (its thread only: local())
    std::atomic<bool> warnedDead{false};

    // Engine-thread state: the event being delivered, and the dispatch of the functions in one call.
    QmlEventCache events;
    bool batchDirty = true;       // `batch` no longer lists the registrations
    QJSValue batch;               // the batch entries in priority order
    QList<QJSValue> runArguments; // { batch, event } for the script's run
    // The batch's only registration when it has one (its function is called directly), or null.
    QmlRegistration *single = nullptr;
    QList<QJSValue> singleArgument{QJSValue()}; // { event } for it
    // The registry's script, made on first use (QmlRegistry::prepareScript): run(batch, event)
    // calls the entries and returns [id, thrown, ...] or null; entry(f, id) makes an entry
    // ({ f, id, live }: all of one shape, which keeps the loop's property reads fast).
    QJSValue scriptRun;
    QJSValue scriptEntry;

    void addRegistration(QmlRegistration *registration)
    {
        QmlDispatchState::addRegistration(registration);
        batchDirty = true;
        single = nullptr;
    }

    // Forgets a registration (null if unknown); a dispatch in progress skips it from now on.
    QmlRegistration *takeRegistration(quint64 id)
    {
        QmlRegistration *registration = QmlDispatchState::takeRegistration(id);
        if (registration == nullptr)
            return nullptr;
        if (registration->function != nullptr && registration->batchEntry.isObject())
            registration->batchEntry.setProperty(QStringLiteral("live"), false);
        batchDirty = true;
        single = nullptr;
        return registration;
    }

    // Drops the registry reports on any thread (QtRegistryBase::deliveriesDropped), handed to
    // their registrations on the registry's thread: the largest total per id, at most one flush
    // queued at a time, so a flood of drops never becomes a flood of queued events.
    std::mutex dropMutex;
    QObject *dropTarget = nullptr;        // the registry until it is destroyed (under dropMutex)
    QHash<quint64, quint64> pendingDrops; // id -> largest total reported (under dropMutex)
    bool dropFlushQueued = false;         // under dropMutex

    // Records a drop report (any thread); on the registry's thread it is handed on at once.
    static void reportDrop(const std::shared_ptr<QmlRegistryShared> &shared, quint64 id, quint64 total);
    // Hands the pending drop totals to their registrations (the registry's thread).
    void flushDrops(bool queued);

    // The registry, or null. Only on the registry's thread (handles), where it cannot change
    // concurrently.
    QmlRegistry *local() const noexcept { return registry; }

    // The RegistryHandlers watching the registry (registry's thread): a doubly linked list
    // through the watchers. `watching` turns false when the registry starts to go.
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
};

} // namespace rio::detail
