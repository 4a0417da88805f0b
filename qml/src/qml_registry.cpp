// SPDX-License-Identifier: MIT
#include "qml_registry_shared.h"

#include <registryio/qml/detail/delivery.h>
#include <registryio/qml/handler_subscription.h>
#include <registryio/qml/qml_registry.h>
#include <registryio/qt/logging.h>

#include <QJSEngine>
#include <QPointer>
#include <QQmlEngine>
#include <QQmlError>
#include <QQmlInfo>
#include <QThread>
#include <QUrl>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <mutex>
#include <utility>
#include <vector>

namespace rio {

namespace {

// options[key] as a whole number from 0 to `max` into `out` (left alone when the key is absent);
// the complaint when it is something else.
QString readWholeOption(const QJSValue &options, const QString &key, double max, double &out)
{
    const QJSValue value = options.property(key);
    if (value.isUndefined())
        return {};
    const double number = value.isNumber() ? value.toNumber() : -1.0;
    if (!value.isNumber() || !(number >= 0.0 && number <= max) || std::floor(number) != number)
        return QStringLiteral("options.%1 must be a whole number from 0 to %2, got %3")
            .arg(key, QString::number(max, 'f', 0),
                 value.isNumber() ? value.toString() : detail::jsTypeName(value));
    out = number;
    return {};
}

// options.overflow: RegistryHandler.DropOldest/DropNewest/Block (numbers) or their names as
// strings, with a capital or a small first letter ("dropNewest", "DropNewest").
QString readOverflowOption(const QJSValue &options, Overflow &out)
{
    const QJSValue value = options.property(QStringLiteral("overflow"));
    if (value.isUndefined())
        return {};
    if (value.isNumber()) {
        const double number = value.toNumber();
        for (Overflow o : {Overflow::DropOldest, Overflow::DropNewest, Overflow::Block}) {
            if (number == double(int(o))) {
                out = o;
                return {};
            }
        }
    } else if (value.isString()) {
        const QString name = value.toString();
        for (Overflow o : {Overflow::DropOldest, Overflow::DropNewest, Overflow::Block}) {
            const QString known = QString::fromLatin1(detail::QmlDeliverySettings::overflowName(int(o)));
            if (name == known || (name.size() > 1 && name.front() == known.front().toLower() &&
                                  QStringView(name).mid(1) == QStringView(known).mid(1))) {
                out = o;
                return {};
            }
        }
    }
    return QStringLiteral("options.overflow must be RegistryHandler.DropOldest, RegistryHandler.DropNewest "
                          "or RegistryHandler.Block (or \"dropOldest\", \"dropNewest\", \"block\"), got %1")
        .arg(value.isString()   ? QStringLiteral("\"%1\"").arg(value.toString())
             : value.isNumber() ? value.toString()
                                : detail::jsTypeName(value));
}

// The JavaScript value of `event`: numbers, booleans and strings directly, the rest through the
// engine's conversion.
QJSValue scriptValue(QJSEngine *engine, const QVariant &event)
{
    switch (event.metaType().id()) {
    case QMetaType::Int:
        return {*static_cast<const int *>(event.constData())};
    case QMetaType::Double:
        return {*static_cast<const double *>(event.constData())};
    case QMetaType::Bool:
        return {*static_cast<const bool *>(event.constData())};
    case QMetaType::QString:
        return {*static_cast<const QString *>(event.constData())};
    default:
        return engine->toScriptValue(event);
    }
}

} // namespace

namespace detail {

QString readQmlAddOptions(const QJSValue &options, const QThread *thread, QmlAddOptions &out)
{
    out = QmlAddOptions{};
    if (options.isUndefined() || options.isNull())
        return {};
    if (!options.isObject() || options.isCallable() || options.isArray())
        return QStringLiteral(
                   "options must be an object like { coalesce: true, once: false, owner: item }, got %1")
            .arg(jsTypeName(options));
    HandlerOptions &delivery = out.handler;
    const bool coalesce = options.property(QStringLiteral("coalesce")).toBool();
    delivery.once = options.property(QStringLiteral("once")).toBool();
    auto capacity = double(delivery.capacity);
    auto blockTimeout = double(delivery.blockTimeout.count());
    double minInterval = 0;
    QString refused = readWholeOption(options, QStringLiteral("capacity"), 9007199254740992.0, capacity);
    if (refused.isEmpty())
        refused = readOverflowOption(options, delivery.overflow);
    if (refused.isEmpty())
        refused = readWholeOption(options, QStringLiteral("blockTimeout"), INT_MAX, blockTimeout);
    if (refused.isEmpty())
        refused = readWholeOption(options, QStringLiteral("minInterval"), INT_MAX, minInterval);
    if (refused.isEmpty() && minInterval > 0 && !coalesce)
        refused = QStringLiteral("options.minInterval needs coalesce: true");
    if (!refused.isEmpty())
        return refused;
    delivery.delivery = coalesce ? Delivery::Latest : Delivery::Every;
    delivery.capacity = std::size_t(capacity);
    delivery.blockTimeout = std::chrono::milliseconds(qint64(blockTimeout));
    delivery.minInterval = std::chrono::milliseconds(qint64(minInterval));
    const QJSValue ownerValue = options.property(QStringLiteral("owner"));
    if (!ownerValue.isUndefined() && !ownerValue.isNull()) {
        out.owner = ownerValue.toQObject();
        if (out.owner == nullptr || out.owner->thread() != thread)
            return QStringLiteral("options.owner must be a QML object on the registry's thread");
    }
    if (delivery.once)
        delivery =
            HandlerOptions{.once = true}; // one delivery: the default queue options (as a RegistryHandler's)
    return {};
}

std::vector<QmlRegistration *> QmlDispatchState::inRegistryOrder() const
{
    std::vector<QmlRegistration *> ordered(registrations.cbegin(), registrations.cend());
    std::sort(ordered.begin(), ordered.end(), [](const QmlRegistration *a, const QmlRegistration *b) {
        return a->priority != b->priority ? a->priority > b->priority : a->id < b->id;
    });
    return ordered;
}

} // namespace detail

QJSValue detail::QmlEventCache::get(const QVariant &event, QJSEngine *engine)
{
    if (!matches(event, engine)) {
        m_value = scriptValue(engine, event);
        m_copy = event;
        m_address = &event;
        m_engine = engine;
    }
    return m_value;
}

void detail::QmlEventCache::seed(const QVariant &event, QJSValue value, QJSEngine *engine)
{
    m_value = std::move(value);
    m_copy = event;
    m_address = &event;
    m_engine = engine;
}

void detail::QmlEventCache::clear()
{
    m_address = nullptr;
    m_engine = nullptr;
    m_copy = QVariant();
    m_value = QJSValue();
}

void detail::QmlRegistryShared::reportDrop(const std::shared_ptr<QmlRegistryShared> &shared, quint64 id,
                                           quint64 total)
{
    bool here = false;
    {
        std::lock_guard lock(shared->dropMutex);
        QObject *target = shared->dropTarget;
        if (target == nullptr)
            return;
        quint64 &pending = shared->pendingDrops[id];
        pending = std::max(pending, total);
        here = QThread::currentThread() == target->thread();
        if (!here && !shared->dropFlushQueued) {
            shared->dropFlushQueued = true;
            QMetaObject::invokeMethod(target, [shared] { shared->flushDrops(true); }, Qt::QueuedConnection);
        }
    }
    // On the registry's thread (the report before a delivery): `dropped` is current when the
    // handler runs.
    if (here)
        shared->flushDrops(false);
}

void detail::QmlRegistryShared::flushDrops(bool queued)
{
    QHash<quint64, quint64> pending;
    {
        std::lock_guard lock(dropMutex);
        pending.swap(pendingDrops);
        if (queued)
            dropFlushQueued = false;
    }
    // Looked up one by one: a registration's slot may remove others.
    for (auto it = pending.cbegin(); it != pending.cend(); ++it)
        if (QmlRegistration *registration = registrations.value(it.key()))
            registration->dropsReported(it.value());
}

QmlRegistry::QmlRegistry(QObject *parent)
    : QObject(parent), m_registry(this), m_shared(std::make_shared<detail::QmlRegistryShared>(this))
{
    m_shared->dropTarget = this;
    // Drops are reported on the notifying thread: recorded there, dispatched here by id.
    connect(
        &m_registry, &QtRegistryBase::deliveriesDropped, &m_registry,
        [shared = m_shared](HandlerId id, quint64 total) {
            detail::QmlRegistryShared::reportDrop(shared, id.value(), total);
        },
        Qt::DirectConnection);
    connect(&m_registry, &QtRegistryBase::countChanged, this, [this] {
        // Fewer handlers than JavaScript registrations: some were removed through registry()
        // from C++. Rare, so a scan is fine; the usual removals tell their registration directly.
        if (m_registry.size() < std::size_t(m_shared->registrations.size())) {
            const auto registrations = m_shared->registrations;
            for (auto it = registrations.cbegin(); it != registrations.cend(); ++it)
                if (!m_registry.contains(HandlerId{it.key()}))
                    it.value()->registrationEnded();
        }
        m_countProperty.notify();
        Q_EMIT countChanged();
    });
    // C++ handlers' failures, re-emitted on this thread with a JavaScript-friendly id.
    connect(&m_registry, &QtRegistryBase::handlerFailed, this, [this](HandlerId id, const QString &message) {
        Q_EMIT handlerFailed(static_cast<double>(id.value()), message);
    });
}

QmlRegistry::~QmlRegistry()
{
    // The RegistryHandlers set to this registry first, while it is whole: each unregisters and
    // lets go of it (its bindings may run; none can watch this registry again).
    m_shared->watching = false;
    while (detail::QmlRegistryWatcher *watcher = m_shared->watchers) {
        m_shared->unwatch(watcher);
        watcher->registryGone();
    }
    {
        std::lock_guard lock(m_shared->dropMutex);
        m_shared->dropTarget = nullptr;
        m_shared->pendingDrops.clear();
    }
    m_shared->anchor.detach(); // senders' notifies on other threads finish first
    m_shared->registry = nullptr;
    m_registry.clear();
    m_shared->events.clear();
    m_shared->single = nullptr;
    // Handles owned by other objects outlive the registry, inactive.
    const auto registrations = std::exchange(m_shared->registrations, {});
    for (detail::QmlRegistration *registration : registrations)
        registration->registrationEnded();
}

HandlerSubscription *QmlRegistry::add(const QJSValue &handler, int priority, const QJSValue &options)
{
    if (QThread::currentThread() != thread()) {
        qCWarning(lcRegistryIO, "QmlRegistry.add: called from a thread other than the registry's; "
                                "nothing was registered");
        return nullptr;
    }
    if (!handler.isCallable()) {
        warnAtCaller(QStringLiteral("QmlRegistry.add: the handler must be a function, got %1; nothing was "
                                    "registered")
                         .arg(detail::jsTypeName(handler)));
        return nullptr;
    }
    detail::QmlAddOptions read;
    if (const QString refused = detail::readQmlAddOptions(options, thread(), read); !refused.isEmpty()) {
        warnAtCaller(QStringLiteral("QmlRegistry.add: %1; nothing was registered").arg(refused));
        return nullptr;
    }
    HandlerOptions delivery = read.handler;
    delivery.priority = priority;
    QJSEngine *engine = qjsEngine(this);
    if (engine == nullptr) {
        qmlWarning(this) << "QmlRegistry.add: the registry is not used by a QML engine; nothing was "
                            "registered";
        return nullptr;
    }

    // No parent unless an owner was given: the handle keeps itself alive while registered.
    auto *handle = new HandlerSubscription(m_shared, engine, handler, priority, delivery.once, read.owner);
    // The registry is the delivery context (handles live on its thread): it outlives every
    // delivery it has queued, while a handle may die with deliveries pending. Its destructor
    // removes the handler, and the QPointer skips a delivery that would still race with that.
    auto deliver = [handle = QPointer<HandlerSubscription>(handle)](const QVariant &event) {
        if (handle)
            handle->deliver(event);
    };
    try {
        handle->m_id = m_registry.add(this, deliver, delivery);
    } catch (const std::exception &e) {
        qmlWarning(this) << "QmlRegistry.add: " << e.what();
        delete handle;
        return nullptr;
    }
    handle->activate(handle->m_id);
    // JavaScript's (destroy() works on it), collected only once it is inactive and unreferenced.
    QJSEngine::setObjectOwnership(handle, QJSEngine::JavaScriptOwnership);
    handle->m_keepAlive = engine->newQObject(handle);
    return handle;
}

bool QmlRegistry::prepareScript(QJSEngine *engine) const
{
    detail::QmlRegistryShared &shared = *m_shared;
    if (!shared.scriptRun.isUndefined())
        return true;
    // run(batch, event): calls the live entries in order and returns [id, thrown, ...] or null;
    // try/catch around the loop, not in it, so a throw resumes after the handler that threw.
    // entry(f, id): a batch entry (all made here, so all of one shape).
    // Made by the Function constructor, not evaluate(): evaluated code is compiled without the
    // engine's property lookup caches (it may see the caller's scope), which makes every
    // `e.live`, `e.f` and `batch[i]` a slow generic lookup.
    const QString code = QStringLiteral("    function run(batch, event) {\n"
                                        "        const n = batch.length;\n"
                                        "        let failed = null;\n"
                                        "        let i = 0;\n"
                                        "        for (;;) {\n"
                                        "            try {\n"
                                        "                for (; i < n; ++i) {\n"
                                        "                    const e = batch[i];\n"
                                        "                    if (e.live) e.f(event);\n"
                                        "                }\n"
                                        "                return failed;\n"
                                        "            } catch (x) {\n"
                                        "                if (failed === null) failed = [];\n"
                                        "                failed.push(batch[i].id, x);\n"
                                        "                ++i;\n"
                                        "            }\n"
                                        "        }\n"
                                        "    }\n"
                                        "    function entry(f, id) { return { f: f, id: id, live: true }; }\n"
                                        "    return [run, entry];\n");
    const QJSValue factory =
        engine->globalObject().property(QStringLiteral("Function")).callAsConstructor({code});
    const QJSValue script = factory.isCallable() ? factory.call() : QJSValue();
    if (!script.isArray())
        return false;
    shared.scriptRun = script.property(0);
    shared.scriptEntry = script.property(1);
    return shared.scriptRun.isCallable() && shared.scriptEntry.isCallable();
}

bool QmlRegistry::notifyInJavaScript(const QVariant &event, bool fromJavaScript) const
{
    // Every handler is a JavaScript registration of ours that the registry can run itself (a
    // function, or an onNotified RegistryHandler; no C++ handler, no `once`) and no C++ code holds
    // the facade: the event is converted once and the handlers run in priority order, the
    // functions alone in one call into JavaScript.
    detail::QmlRegistryShared &shared = *m_shared;
    if (!shared.mayDispatch(m_registry.size()))
        return false;
    QJSEngine *engine = qjsEngine(this);
    if (engine == nullptr || (shared.scriptRun.isUndefined() && !prepareScript(engine)) ||
        !shared.enterOwnDispatch())
        return false;
    // A handler may destroy us: `shared` lives on through `keep` until the dispatch ends.
    const std::shared_ptr<detail::QmlRegistryShared> keep = m_shared;
    QJSValue value =
        fromJavaScript ? *static_cast<const QJSValue *>(event.constData()) : scriptValue(engine, event);
    if (shared.unbatchable == 0)
        runFunctions(engine, shared, std::move(value));
    else
        runInOrder(engine, shared, value);
    shared.leaveOwnDispatch();
    return true;
}

void QmlRegistry::runInOrder(QJSEngine *engine, detail::QmlRegistryShared &shared, const QJSValue &value)
{
    QList<QJSValue> argument; // for functions, made on first use
    shared.runInOrder([&](detail::QmlRegistration &registration) {
        if (registration.function == nullptr) {
            registration.deliverDirect(value, nullptr);
            return;
        }
        const quint64 id = registration.id; // the function may end the registration
        if (argument.isEmpty())
            argument.append(value);
        registration.function->call(argument);
        if (engine->hasError())
            reportThrown(shared, id, engine->catchError());
    });
}

QtRegistry<QVariant> &QmlRegistry::registry()
{
    // From now on every function runs through the facade (see QmlDispatchState::shareFacade).
    m_shared->shareFacade(QThread::currentThread() == thread());
    return m_registry;
}

void QmlRegistry::runFunctions(QJSEngine *engine, detail::QmlRegistryShared &shared, QJSValue value)
{
    if (shared.batchDirty) {
        const std::vector<detail::QmlRegistration *> ordered = shared.inRegistryOrder();
        QJSValue batch = engine->newArray(); // filled in order: dense (a preset length makes it sparse)
        for (quint32 i = 0; i < ordered.size(); ++i) {
            detail::QmlRegistration *registration = ordered[i];
            if (registration->batchEntry.isUndefined()) // made on first use
                registration->batchEntry = shared.scriptEntry.call(
                    {registration->function->toJSValue(), static_cast<double>(registration->id)});
            batch.setProperty(i, registration->batchEntry);
        }
        shared.batch = batch;
        shared.runArguments = {batch, QJSValue()};
        shared.single =
            ordered.size() == 1 && ordered.front()->function != nullptr ? ordered.front() : nullptr;
        shared.batchDirty = false;
    }
    if (shared.single != nullptr) {
        // One function: called directly, without run()'s frame; what it throws stays in the
        // engine for us. The list is kept for it too (a nested notify may reuse it: call() has
        // copied the argument by then).
        const quint64 id = shared.single->id;
        shared.singleArgument[0] = std::move(value);
        shared.single->function->call(shared.singleArgument);
        shared.singleArgument[0] = QJSValue();
        if (engine->hasError())
            reportThrown(shared, id, engine->catchError());
        return;
    }
    // run(batch, event) with a list kept for it (no allocation per notify). A nested notify may
    // reuse it meanwhile: call() has copied the arguments by then.
    shared.runArguments[1] = std::move(value);
    const QJSValue failed = shared.scriptRun.call(shared.runArguments);
    shared.runArguments[1] = QJSValue(); // the event is not kept alive
    if (failed.isArray())
        reportBatchFailures(shared, failed);
}

void QmlRegistry::reportThrown(const detail::QmlRegistryShared &shared, quint64 id, const QJSValue &thrown)
{
    QString file;
    int line = 0;
    if (thrown.isError()) {
        file = thrown.property(QStringLiteral("fileName")).toString();
        line = thrown.property(QStringLiteral("lineNumber")).toInt();
    }
    if (QmlRegistry *registry = shared.local()) // a handler may have destroyed it
        registry->reportScriptFailure(HandlerId{id}, thrown.toString(), file, line, true);
}

void QmlRegistry::reportBatchFailures(const detail::QmlRegistryShared &shared, const QJSValue &failed)
{
    const int n = failed.property(QStringLiteral("length")).toInt();
    for (int i = 0; i + 1 < n; i += 2)
        reportThrown(shared, quint64(failed.property(quint32(i)).toNumber()),
                     failed.property(quint32(i + 1)));
}

void QmlRegistry::notify(const QVariant &event) const
{
    const bool fromJavaScript = event.metaType() == QMetaType::fromType<QJSValue>();
    if (QThread::currentThread() == thread()) {
        if (notifyInJavaScript(event, fromJavaScript))
            return;
    }
    if (fromJavaScript) {
        // A JavaScript value belongs to its engine's thread: make a plain copy there.
        if (QThread::currentThread() != thread()) {
            qCWarning(lcRegistryIO, "QmlRegistry.notify: a QJSValue event from another thread was dropped; "
                                    "send plain QVariant values from C++ threads");
            return;
        }
        // C++ handlers and queued deliveries get a plain copy; JavaScript handlers on this
        // thread get the caller's own value, as a signal's handlers do.
        const auto value = event.value<QJSValue>();
        QJSEngine *engine = qjsEngine(this);
        detail::QmlRegistryShared &shared = *m_shared;
        if (engine != nullptr && m_registry.size() == std::size_t(shared.registrations.size())) {
            // Every handler is a JavaScript registration of ours, delivered directly on this
            // thread: they all take the caller's value, and no plain copy is made for nobody.
            // Announced as the registry's own dispatch, so that a first registry() call from
            // another thread (which may add a C++ handler) waits for it.
            if (shared.enterOwnDispatch()) {
                const std::shared_ptr<detail::QmlRegistryShared> keep = m_shared; // a handler may destroy us
                shared.events.seed(event, value, engine);
                m_registry.notify(event);
                keep->events.clear();
                keep->leaveOwnDispatch();
                return;
            }
        }
        const QVariant plain = value.toVariant();
        if (engine != nullptr)
            m_shared->events.seed(plain, value, engine);
        m_registry.notify(plain);
        m_shared->events.clear();
        return;
    }
    m_registry.notify(event);
}

bool QmlRegistry::remove(double id)
{
    // Ids are integers from 1; JavaScript numbers hold them exactly up to 2^53.
    if (!(id >= 1.0 && id <= 9007199254740992.0) || std::floor(id) != id)
        return false;
    const HandlerId handlerId{static_cast<std::uint64_t>(id)};
    // Out of the registrations first, so the count change does not look like a C++ removal.
    detail::QmlRegistration *registration = m_shared->takeRegistration(handlerId.value());
    const bool removed = m_registry.remove(handlerId);
    if (registration != nullptr)
        registration->registrationEnded();
    return removed;
}

int QmlRegistry::count() const noexcept
{
    return m_registry.count();
}

QmlRegistrySender QmlRegistry::sender() const
{
    return QmlRegistrySender(m_shared);
}

void QmlRegistry::warnAtCaller(const QString &message) const
{
    detail::warnAtCaller(this, message);
}

void detail::warnAtCaller(const QObject *object, const QString &message)
{
    // The calling JavaScript line: an error made now carries it (and is taken back at once).
    QString file;
    int line = 0;
    if (QJSEngine *engine = qjsEngine(object)) {
        engine->throwError(message);
        const QJSValue error = engine->catchError();
        file = error.property(QStringLiteral("fileName")).toString();
        line = error.property(QStringLiteral("lineNumber")).toInt();
    }
    if (file.isEmpty() || line <= 0) {
        qmlWarning(object) << message;
        return;
    }
    QQmlError error;
    error.setMessageType(QtWarningMsg);
    error.setUrl(QUrl(file));
    error.setLine(line);
    error.setDescription(message);
    qmlWarning(object, error);
}

void QmlRegistry::reportScriptFailure(HandlerId id, const QString &message, const QString &file, int line,
                                      bool warn)
{
    if (warn) {
        QQmlError error;
        error.setMessageType(QtWarningMsg);
        if (!file.isEmpty())
            error.setUrl(QUrl(file));
        if (line > 0)
            error.setLine(line);
        error.setDescription(QStringLiteral("RegistryIO: handler %1 threw: %2").arg(id.value()).arg(message));
        qmlWarning(this, error);
    }
    Q_EMIT handlerFailed(static_cast<double>(id.value()), message);
}

QmlRegistrySender::QmlRegistrySender(std::shared_ptr<detail::QmlRegistryShared> shared) noexcept
    : m_shared(std::move(shared))
{ }

bool QmlRegistrySender::notify(const QVariant &event) const
{
    if (!m_shared)
        return false;
    {
        const detail::OwnerAnchor::Frame frame(m_shared->anchor);
        if (auto *registry = static_cast<QmlRegistry *>(frame.owner())) {
            registry->notify(event);
            return true;
        }
    }
    // Registries die in supported patterns (delegates, loaders): one warning per process says so,
    // not one per registry; isAlive() tells a worker to stop.
    static std::atomic<bool> warned{false};
    if (!m_shared->warnedDead.exchange(true) && !warned.exchange(true))
        qCWarning(lcRegistryIO, "QmlRegistrySender::notify: the QmlRegistry was destroyed; its events are "
                                "dropped (said once per process; QmlRegistrySender::isAlive() tells)");
    return false;
}

bool QmlRegistrySender::isAlive() const
{
    if (!m_shared)
        return false;
    const detail::OwnerAnchor::Frame frame(m_shared->anchor);
    return frame.owner() != nullptr;
}

} // namespace rio
