// SPDX-License-Identifier: MIT
#include "qml_registry_shared.h"

#include <registryio/qml/handler_subscription.h>
#include <registryio/qml/qml_typed_handler.h>
#include <registryio/qml/qml_typed_registry.h>
#include <registryio/qt/logging.h>
#include <registryio/qt/qt_registry_base.h>

#include <QJSEngine>
#include <QJSValueIterator>
#include <QMetaProperty>
#include <QQmlEngine>
#include <QQmlError>
#include <QQmlInfo>
#include <QThread>
#include <QUrl>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <mutex>
#include <utility>

namespace rio {

/// What a typed registry's senders share with it: senders reach the typed half (`ops`) in a
/// frame of the anchor; the registry's going detaches it, waiting for other threads' frames only
/// (a handler a sender's notify runs on the registry's own thread may destroy it).
struct detail::QmlTypedSenderState
{
    explicit QmlTypedSenderState(QmlTypedRegistryOps *ops) noexcept : anchor(ops) { }
    OwnerAnchor anchor;
    std::atomic<bool> warnedDead{false};
};

// A typed handler as its registry's own dispatch sees it (its registry tells it itself when its
// registration ends).
class QmlTypedHandler::Registration final : public detail::QmlRegistration
{
public:
    explicit Registration(QmlTypedHandler *handler) : m_handler(handler) { }
    void registrationEnded() override { }
    void deliverDirect(const QJSValue & /*value*/, const void *event) override
    {
        m_handler->deliverDirect(event);
    }

private:
    QmlTypedHandler *m_handler;
};

QmlTypedRegistry::QmlTypedRegistry(QMetaType eventType, QObject *parent)
    : QObject(parent), m_eventType(eventType), m_dispatch(std::make_shared<detail::QmlDispatchState>())
{ }

QmlTypedRegistry::~QmlTypedRegistry()
{
    detach(); // done already by the typed half; harmless again
}

void QmlTypedRegistry::attach(detail::QmlTypedRegistryOps *ops, QtRegistryBase *facade)
{
    m_ops = ops;
    m_facade = facade;
    m_senderState = std::make_shared<detail::QmlTypedSenderState>(ops); // sender() is reached from here on
    connect(facade, &QtRegistryBase::countChanged, this, &QmlTypedRegistry::countChanged);
    connect(facade, &QtRegistryBase::handlerFailed, this, [this](HandlerId id, const QString &message) {
        Q_EMIT handlerFailed(static_cast<double>(id.value()), message);
    });
    // Emitted on the notifying thread (queued to us) and on ours before the next delivery
    // (direct: `dropped` is current when the handler runs). An id no longer registered here (a
    // handler registered again since) is ignored; its last total was read when it unregistered.
    connect(facade, &QtRegistryBase::deliveriesDropped, this, [this](HandlerId id, quint64 total) {
        if (QmlTypedHandler *handler = m_registered.value(id.value()))
            handler->dropsReported(total);
        else if (HandlerSubscription *handle = m_subscriptions.value(id.value()))
            handle->dropsReported(total);
    });
}

void QmlTypedRegistry::detach() noexcept
{
    // Senders' notifies in progress on other threads finish first; later ones see the registry gone.
    if (m_senderState)
        m_senderState->anchor.detach();
    // Each watcher unregisters (while the facade exists) and forgets us; one may destroy others
    // from a slot, which unlinks them: take them one at a time.
    while (!m_watchers.isEmpty()) {
        QmlTypedHandler *watcher = m_watchers.takeLast();
        watcher->m_watched = nullptr;
        watcher->registryGone();
    }
    m_registered.clear();
    // add(fn)'s handles that outlive us turn inactive (one may destroy others from a slot).
    while (!m_subscriptions.isEmpty()) {
        HandlerSubscription *handle = m_subscriptions.take(m_subscriptions.cbegin().key());
        m_dispatch->takeRegistration(handle->handlerId().value());
        if (m_ops != nullptr)
            m_ops->remove(handle->handlerId());
        handle->m_typed = nullptr;
        handle->deactivate();
    }
    m_ops = nullptr;
}

HandlerSubscription *QmlTypedRegistry::add(const QJSValue &handler, int priority, const QJSValue &options)
{
    const char *const name = metaObject()->className();
    if (QThread::currentThread() != thread()) {
        qCWarning(lcRegistryIO,
                  "%s.add: called from a thread other than the registry's; nothing was registered", name);
        return nullptr;
    }
    if (!handler.isCallable()) {
        warnAtCaller(QStringLiteral("%1.add: the handler must be a function, got %2; nothing was registered")
                         .arg(QLatin1String(name), detail::jsTypeName(handler)));
        return nullptr;
    }
    detail::QmlAddOptions read;
    if (const QString refused = detail::readQmlAddOptions(options, thread(), read); !refused.isEmpty()) {
        warnAtCaller(QStringLiteral("%1.add: %2; nothing was registered").arg(QLatin1String(name), refused));
        return nullptr;
    }
    QJSEngine *engine = qjsEngine(this);
    if (engine == nullptr || m_ops == nullptr) {
        qmlWarning(this) << name << ".add: the registry is not used by a QML engine; nothing was registered";
        return nullptr;
    }
    // No parent unless an owner was given: the handle keeps itself alive while registered (see
    // QmlRegistry::add).
    auto *handle = new HandlerSubscription(this, engine, handler, priority, read.handler.once, read.owner);
    try {
        read.handler.priority = priority;
        handle->m_id = m_ops->addFunction(handle, read.handler);
    } catch (const std::exception &e) {
        qmlWarning(this) << name << ".add: " << e.what();
        delete handle;
        return nullptr;
    }
    handle->activateTyped(*m_dispatch);
    m_subscriptions.insert(handle->m_id.value(), handle);
    QJSEngine::setObjectOwnership(handle, QJSEngine::JavaScriptOwnership);
    handle->m_keepAlive = engine->newQObject(handle);
    return handle;
}

bool QmlTypedRegistry::unsubscribe(HandlerId id)
{
    if (m_subscriptions.take(id.value()) == nullptr)
        return false;
    m_dispatch->takeRegistration(id.value());
    return m_ops != nullptr && m_ops->remove(id);
}

bool QmlTypedRegistry::notifyOwn(const void *event, std::size_t facadeSize)
{
    // Every handler is a typed handler or a handle of ours that the registry can run itself (no
    // C++ handler, no `once`) and no C++ code holds the facade: they run in priority order
    // without the facade's dispatch, the event's JavaScript value made once for those that take it.
    detail::QmlDispatchState &state = *m_dispatch;
    if (!state.mayDispatch(facadeSize) || !state.enterOwnDispatch())
        return false;
    const std::shared_ptr<detail::QmlDispatchState> keep = m_dispatch; // a handler may destroy us
    const QJSValue none;
    state.runInOrder([&](detail::QmlRegistration &registration) { registration.deliverDirect(none, event); });
    state.leaveOwnDispatch();
    return true;
}

void QmlTypedRegistry::shareFacade() noexcept
{
    m_dispatch->shareFacade(QThread::currentThread() == thread());
}

void QmlTypedRegistry::deliverToSubscription(HandlerSubscription *handle, const void *event)
{
    QJSEngine *engine = handle->m_engine.data();
    if (m_ops == nullptr || !handle->m_active || engine == nullptr)
        return;
    const HandlerId id = handle->m_id;
    const QPointer<QmlTypedRegistry> guard(this); // the function may destroy us
    // A shared copy of the notify's list (no allocation): deactivate() below runs user code.
    const QList<QJSValue> arguments = m_ops->scriptArguments(event, engine);
    const QJSValue self = handle->m_keepAlive; // not collected during its own call
    if (handle->m_once)
        handle->deactivate(); // the registry removed it when it fired
    handle->m_function.call(arguments);
    if (engine->hasError()) {
        const QJSValue thrown = engine->catchError();
        if (guard)
            guard->reportThrown(id, thrown);
    }
}

QmlTypedSenderBase QmlTypedRegistry::senderBase() const
{
    return QmlTypedSenderBase(m_senderState);
}

QmlTypedSenderBase::QmlTypedSenderBase(std::shared_ptr<detail::QmlTypedSenderState> state) noexcept
    : m_state(std::move(state))
{ }

bool QmlTypedSenderBase::notifyErased(const void *event) const
{
    if (!m_state)
        return false;
    {
        const detail::OwnerAnchor::Frame frame(m_state->anchor);
        if (auto *ops = static_cast<detail::QmlTypedRegistryOps *>(frame.owner())) {
            ops->notifyEvent(event);
            return true;
        }
    }
    // One warning per process (see QmlRegistrySender::notify); isAlive() tells a worker to stop.
    static std::atomic<bool> warned{false};
    if (!m_state->warnedDead.exchange(true) && !warned.exchange(true))
        qCWarning(lcRegistryIO, "QmlTypedSender::notify: the typed registry was destroyed; its events are "
                                "dropped (said once per process; QmlTypedSender::isAlive() tells)");
    return false;
}

bool QmlTypedSenderBase::isAlive() const
{
    if (!m_state)
        return false;
    const detail::OwnerAnchor::Frame frame(m_state->anchor);
    return frame.owner() != nullptr;
}

int QmlTypedRegistry::count() const noexcept
{
    return m_facade != nullptr ? m_facade->count() : 0;
}

bool QmlTypedRegistry::remove(double id)
{
    // Ids are integers from 1; JavaScript numbers hold them exactly up to 2^53.
    if (m_ops == nullptr || !(id >= 1.0 && id <= 9007199254740992.0) || std::floor(id) != id)
        return false;
    const HandlerId handlerId{static_cast<std::uint64_t>(id)};
    if (HandlerSubscription *handle = m_subscriptions.take(handlerId.value())) {
        m_dispatch->takeRegistration(handlerId.value());
        const bool removed = m_ops->remove(handlerId);
        handle->m_typed = nullptr;
        handle->deactivate();
        return removed;
    }
    QmlTypedHandler *handler = m_registered.take(handlerId.value());
    if (handler != nullptr) // its drops so far stay counted
        handler->m_dropped =
            std::max(handler->m_dropped, handler->m_droppedBefore + m_ops->droppedCount(handlerId));
    const bool removed = m_ops->remove(handlerId);
    if (handler != nullptr)
        handler->registrationEnded();
    return removed;
}

void QmlTypedRegistry::warnAtCaller(const QString &message) const
{
    detail::warnAtCaller(this, message);
}

void QmlTypedRegistry::reportThrown(HandlerId id, const QJSValue &thrown)
{
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
    qmlWarning(this, error);
    Q_EMIT handlerFailed(static_cast<double>(id.value()), message);
}

bool detail::qmlGadgetFromObject(const QJSValue &object, const QMetaObject &mo, void *out)
{
    bool any = false;
    for (QJSValueIterator it(object); it.hasNext();) {
        it.next();
        const QString key = it.name();
        // The most derived property of that name first, as QMetaObject::indexOfProperty finds it.
        int index = mo.propertyCount() - 1;
        for (; index >= 0; --index)
            if (key == QLatin1StringView(mo.property(index).name()))
                break;
        if (index < 0 || !mo.property(index).writeOnGadget(out, it.value().toVariant()))
            return false;
        any = true;
    }
    return any;
}

void QmlTypedRegistry::reportFailure(HandlerId id, const QString &message)
{
    Q_EMIT handlerFailed(static_cast<double>(id.value()), message);
}

QmlTypedHandler::QmlTypedHandler(QMetaType eventType, QObject *parent)
    : QmlHandlerBase(parent), m_eventType(eventType), m_registration(std::make_unique<Registration>(this))
{ }

QmlTypedHandler::~QmlTypedHandler()
{
    markDestroyed(); // a delivery to us is running (our handler destroyed us)
    if (m_watched != nullptr)
        m_watched->m_watchers.removeOne(this);
    m_watched = nullptr;
    // Unregistering changes the registry's count: a binding on it that sets one of our
    // properties meanwhile must not register us again.
    m_complete = false;
    unregister();
}

void QmlTypedHandler::setRegistry(QmlTypedRegistry *registry)
{
    if (m_registry == registry)
        return;
    if (registry != nullptr && registry->eventType() != m_eventType) {
        qmlWarning(this) << "the registry carries " << registry->eventType().name()
                         << " events, this handler takes " << m_eventType.name()
                         << "; the registry is unchanged";
        return;
    }
    if (registry != nullptr && registry->m_ops == nullptr) {
        qmlWarning(this) << "the registry is being destroyed; the registry is unchanged";
        return;
    }
    if (m_destroyedConnection)
        disconnect(m_destroyedConnection);
    if (QmlTypedRegistry *watched = std::exchange(m_watched, nullptr))
        watched->m_watchers.removeOne(this);
    if (registry != nullptr && registry->thread() == thread()) {
        registry->m_watchers.append(this); // told by its destructor while its facade exists
        m_watched = registry;
    } else if (registry != nullptr) {
        m_destroyedConnection = connect(registry, &QObject::destroyed, this, [this] {
            m_registry.clear();
            Q_EMIT registryChanged();
        });
    }
    m_registry = registry;
    reRegister();
    Q_EMIT registryChanged();
}

void QmlTypedHandler::unregister()
{
    if (m_registeredOn != nullptr) {
        m_registeredOn->m_dispatch->takeRegistration(m_id.value());
        if (m_registeredOn->m_ops != nullptr) {
            m_registeredOn->m_registered.remove(m_id.value());
            // Drops not reported yet (a report still on its way from another thread) count too.
            m_dropped = std::max(m_dropped, m_droppedBefore + m_registeredOn->m_ops->droppedCount(m_id));
            m_registeredOn->m_ops->remove(m_id);
        }
    }
    m_registeredOn = nullptr;
    m_id = HandlerId{};
    m_active = false;
}

void QmlTypedHandler::registrationEnded()
{
    // Removed by the registry's remove(id), or a `once` handler fired.
    if (m_registeredOn != nullptr) {
        m_registeredOn->m_registered.remove(m_id.value());
        m_registeredOn->m_dispatch->takeRegistration(m_id.value());
    }
    m_registeredOn = nullptr;
    if (std::exchange(m_active, false))
        emitActiveChanged();
}

void QmlTypedHandler::registryGone()
{
    // From the registry's destructor, while its facade exists.
    const bool wasActive = m_active;
    unregister();
    m_registry.clear();
    Q_EMIT registryChanged();
    if (wasActive)
        emitActiveChanged();
}

void QmlTypedHandler::registerNow()
{
    if (!m_registry)
        return;
    if (m_registry->thread() != thread()) {
        qmlWarning(this) << "the registry lives on another thread; nothing is registered";
    } else if (m_registry->m_ops != nullptr) {
        if (!m_once)
            m_delivery.warnIfIgnored(this, m_coalesce);
        m_id = m_registry->m_ops->add(this, m_delivery.options(m_coalesce, m_priority, m_once));
        m_registeredOn = m_registry.data();
        m_registeredOn->m_registered.insert(m_id.value(), this);
        m_active = true;
        // The registry's own dispatch runs it, `handler` or onNotified, when it is of the
        // registry's engine (a `once` one keeps the facade's, which removes it when it fires).
        QQmlEngine *engine = qmlEngine(this);
        m_registration->id = m_id.value();
        m_registration->priority = m_priority;
        m_registration->direct = !m_once && engine != nullptr && engine == qjsEngine(m_registeredOn);
        m_registeredOn->m_dispatch->addRegistration(m_registration.get());
    }
}

void QmlTypedHandler::deliver(const void *event)
{
    QmlTypedRegistry *const registry = m_registeredOn;
    if (registry == nullptr || registry->m_ops == nullptr)
        return;
    const HandlerId id = m_id;
    bool ended = false;
    if (m_once) {
        m_fired = true;
        registry->m_registered.remove(id.value());
        registry->m_dispatch->takeRegistration(id.value());
        m_registeredOn = nullptr;
        ended = std::exchange(m_active, false);
    }
    bool alive = true;
    run(registry, id, event, alive);
    if (alive && ended)
        emitActiveChanged();
}

void QmlTypedHandler::deliverDirect(const void *event)
{
    bool alive = true;
    run(m_registeredOn, m_id, event, alive);
}

void QmlTypedHandler::run(QmlTypedRegistry *registry, HandlerId id, const void *event, bool &alive)
{
    if (m_function.isFunction()) {
        bool *const outerAlive = enterDelivery(alive);
        QJSEngine *engine = m_function.engine();
        const QPointer<QmlTypedRegistry> guard(registry); // the function may destroy it
        m_function.call(registry->m_ops->scriptArguments(event, engine));
        leaveDelivery(alive, outerAlive);
        if (engine->hasError()) {
            const QJSValue thrown = engine->catchError();
            if (guard)
                guard->reportThrown(id, thrown);
        }
    } else if (QQmlEngine *engine = qmlEngine(this)) {
        const QPointer<QmlTypedRegistry> guard(registry); // the handler may destroy it
        const QString failure = emitCollectingFailures(
            engine,
            [](QmlHandlerBase *self, const void *argument) {
                static_cast<QmlTypedHandler *>(self)->emitNotified(argument);
            },
            event, alive);
        // The engine printed the error with its file and line; the registry learns about it too.
        if (!failure.isEmpty() && guard)
            guard->reportFailure(id, failure);
    } else {
        bool *const outerAlive = enterDelivery(alive);
        emitNotified(event);
        leaveDelivery(alive, outerAlive);
    }
}

} // namespace rio
