// SPDX-License-Identifier: MIT
#include "qml_registry_shared.h"

#include <registryio/qml/qml_handler_base.h>
#include <registryio/qt/detail/qml_hooks.h>

#include <QJSEngine>
#include <QList>
#include <QPointer>
#include <QQmlContext>
#include <QQmlEngine>
#include <QQmlError>
#include <QQmlInfo>

#include <algorithm>
#include <utility>

namespace rio {

// The handler as its registry's bookkeeping sees it.
class QmlHandlerBase::Registration final : public detail::QmlRegistration, public detail::QmlRegistryWatcher
{
public:
    explicit Registration(QmlHandlerBase *handler) : m_handler(handler) { }
    // Only the current registration's word counts: one replaced or left since is done with.
    void registrationEnded(quint64 token, quint64 dropped) override
    {
        if (token == m_handler->m_token && m_handler->m_active)
            m_handler->registrationEnded(dropped);
    }
    void registryGone() override
    {
        m_handler->m_watched = nullptr;
        m_handler->registryGone();
    }
    void dropsReported(quint64 token, quint64 total) override
    {
        if (token == m_handler->m_token && m_handler->m_active)
            m_handler->dropsReported(total);
    }

private:
    QmlHandlerBase *m_handler;
};

// The QML enum is rio::Overflow by number: QmlDeliverySettings converts with a cast.
static_assert(int(QmlHandlerBase::DropOldest) == int(Overflow::DropOldest) &&
              int(QmlHandlerBase::DropNewest) == int(Overflow::DropNewest) &&
              int(QmlHandlerBase::Block) == int(Overflow::Block));
static_assert(int(QmlHandlerBase::Every) == int(Delivery::Every) &&
              int(QmlHandlerBase::Latest) == int(Delivery::Latest));

detail::QmlRunningHandler &detail::runningHandler() noexcept
{
    thread_local QmlRunningHandler running;
    return running;
}

QmlHandlerBase::QmlHandlerBase(QObject *parent)
    : QObject(parent), m_registration(std::make_unique<Registration>(this))
{ }

QmlHandlerBase::~QmlHandlerBase() = default;

void QmlHandlerBase::setPriority(int priority)
{
    if (m_priority == priority)
        return;
    m_priority = priority;
    reRegister();
    Q_EMIT priorityChanged();
}

void QmlHandlerBase::setEnabled(bool enabled)
{
    if (m_enabled == enabled)
        return;
    m_enabled = enabled;
    if (enabled)
        rearm();
    reRegister();
    Q_EMIT enabledChanged();
}

void QmlHandlerBase::setOnce(bool once)
{
    if (m_once == once)
        return;
    m_once = once;
    rearm();
    reRegister();
    Q_EMIT onceChanged();
}

void QmlHandlerBase::setDelivery(Delivery delivery)
{
    if (delivery != Every && delivery != Latest) {
        qmlWarning(this) << "delivery must be Every or Latest, got " << int(delivery) << "; it stays "
                         << (m_coalesce ? "Latest" : "Every");
        return;
    }
    const quint8 declared = m_declared; // what setCoalesce records is coalesce's alone
    setCoalesce(delivery == Latest);
    if (!m_complete)
        m_declared = quint8((declared & ~4U) | 1U | (delivery == Latest ? 4U : 0U));
}

void QmlHandlerBase::setCoalesce(bool coalesce)
{
    if (!m_complete)
        m_declared = quint8((m_declared & ~8U) | 2U | (coalesce ? 8U : 0U));
    if (m_coalesce == coalesce)
        return;
    m_coalesce = coalesce;
    reRegister();
    Q_EMIT deliveryChanged();
    Q_EMIT coalesceChanged();
}

void QmlHandlerBase::setCapacity(int capacity)
{
    if (!m_delivery.setCapacity(this, capacity))
        return;
    reRegister();
    Q_EMIT capacityChanged();
}

void QmlHandlerBase::setOverflow(Overflow overflow)
{
    if (!m_delivery.setOverflow(this, int(overflow)))
        return;
    reRegister();
    Q_EMIT overflowChanged();
}

void QmlHandlerBase::setBlockTimeout(int milliseconds)
{
    if (!m_delivery.setBlockTimeout(this, milliseconds))
        return;
    reRegister();
    Q_EMIT blockTimeoutChanged();
}

void QmlHandlerBase::setMinInterval(int milliseconds)
{
    if (!m_delivery.setMinInterval(this, milliseconds))
        return;
    reRegister();
    Q_EMIT minIntervalChanged();
}

void QmlHandlerBase::setHandler(const QJSValue &handler)
{
    const bool clear = handler.isUndefined() || handler.isNull();
    if (!clear && !handler.isCallable()) {
        qmlWarning(this) << "handler must be a function (or null for the notified signal), got "
                         << detail::jsTypeName(handler) << "; the handler is unchanged";
        return;
    }
    if (clear && m_handler.isUndefined())
        return;
    if (!clear && handler.strictlyEquals(m_handler))
        return;
    m_handler = clear ? QJSValue() : handler;
    QJSEngine *engine = qjsEngine(this);
    setFunction(clear || engine == nullptr ? QJSManagedValue() : QJSManagedValue(m_handler, engine));
    handlerReplaced();
    Q_EMIT handlerChanged();
}

void QmlHandlerBase::rearm() noexcept
{
    m_fired = false;
    m_ran = false;
    m_armedSince = m_serial + 1; // deliveries queued before stay undelivered
}

void QmlHandlerBase::componentComplete()
{
    const bool latest = (m_declared & 4U) != 0;
    if ((m_declared & 3U) == 3U && latest != ((m_declared & 8U) != 0)) {
        qmlWarning(this) << "delivery: " << (latest ? "Latest" : "Every")
                         << " and coalesce: " << (latest ? "false" : "true") << " contradict; delivery wins";
        setCoalesce(latest);
    }
    m_declared = 0;
    m_complete = true;
    reRegister();
}

void QmlHandlerBase::dropsReported(quint64 total)
{
    // Totals come from the current registration, possibly out of order (see QmlRegistryShared).
    const quint64 dropped = m_droppedBefore + total;
    if (dropped <= m_dropped)
        return;
    m_dropped = dropped;
    Q_EMIT droppedChanged();
}

void QmlHandlerBase::reRegister()
{
    if (!m_complete)
        return;
    // Unregistering and registering change the registry's count: a binding on it may set one of
    // our properties meanwhile. That asks for one more pass once this one is done, never a
    // nested one (which would leave a registration behind); a binding that keeps changing with
    // every pass gets one more only.
    if (m_reRegistering) {
        m_reRegisterAgain = true;
        return;
    }
    m_reRegistering = true;
    for (int pass = 0; pass < 2; ++pass) {
        m_reRegisterAgain = false;
        reRegisterOnce();
        if (!m_reRegisterAgain)
            break;
    }
    m_reRegistering = false;
}

void QmlHandlerBase::setFunction(QJSManagedValue function)
{
    m_function = std::move(function);
    m_functionEngine = m_function.isFunction() ? m_function.engine() : nullptr;
}

void QmlHandlerBase::reRegisterOnce()
{
    if (m_handler.isCallable() && !m_function.isFunction()) {
        if (QJSEngine *engine = qjsEngine(this)) // set before the engine was known
            setFunction(QJSManagedValue(m_handler, engine));
    }
    // A `once` registration that fired (from another thread, its delivery on its way) keeps that
    // delivery, whatever property changed since: the handler runs once, for the event that fired
    // it, and stays spent. Disabling it or arming it again (`once` changed) cancels it instead.
    if (m_enabled && m_once && m_active && (m_token >> 1) >= m_armedSince && m_registeredOn &&
        m_registeredOn->facade != nullptr && m_registeredOn->facade->firedPending(m_id)) {
        m_fired = true;
        return;
    }
    const bool wasActive = m_active;
    const quint64 dropped = m_dropped;
    unregister();
    m_droppedBefore = m_dropped; // the next registration counts from here
    if (m_enabled && !(m_once && m_fired))
        registerNow();
    if (wasActive || m_active)
        emitActiveChanged();
    if (m_dropped != dropped)
        Q_EMIT droppedChanged();
}

QString QmlHandlerBase::emitCollectingFailures(QQmlEngine *engine, const void *event, bool &alive)
{
    // The engine reports what onNotified throws as a warning (with file and line) from inside
    // the emit: one connection per handler, made once, routes it to the running handler.
    if (!m_warningTap)
        m_warningTap = connect(
            engine, &QQmlEngine::warnings, this,
            [this](const QList<QQmlError> &warnings) {
                const detail::QmlRunningHandler &running = detail::runningHandler();
                if (running.handler == this && running.errors != nullptr)
                    *running.errors += warnings;
            },
            Qt::DirectConnection);
    QList<QQmlError> errors;
    detail::QmlRunningHandler &running = detail::runningHandler();
    const detail::QmlRunningHandler outer = running;
    running = {this, &errors};
    bool *const outerAlive = enterDelivery(alive);
    emitNotified(event, engine);
    leaveDelivery(this, alive, outerAlive);
    running = outer;
    return errors.isEmpty() ? QString() : errors.constFirst().description();
}

void QmlHandlerBase::watchRegistry(QObject *registry,
                                   const std::shared_ptr<detail::QmlRegistryShared> &shared)
{
    if (m_destroyedConnection)
        disconnect(m_destroyedConnection);
    if (detail::QmlRegistryShared *watched = std::exchange(m_watched, nullptr))
        watched->unwatch(m_registration.get());
    // While diagnostics are on, they show where the handler is declared: its declaration's file
    // and line as the engine recorded them; a handler not declared in QML, the JavaScript line
    // that set its registry (an error object), else the file alone. Off, nothing is recorded:
    // the file's URL as text alone costs about 1,700 instructions, 4% of a handler's creation
    // and destruction, which stays within that of a Connections.
    if (shared && shared->diagnosticsOn() &&
        !detail::declarationPosition(this, &m_originFile, &m_originLine) &&
        !detail::callerPosition(qjsEngine(this), &m_originFile, &m_originLine)) {
        if (const QQmlContext *context = qmlContext(this)) {
            m_originFile = context->baseUrl().toString();
            m_originLine = 0;
        }
    }
    if (registry != nullptr && registry->thread() == thread()) {
        // Told by the registry's destructor: a link, not a connection (see QmlRegistryWatcher).
        shared->watch(m_registration.get());
        m_watched = shared.get();
    } else if (registry != nullptr) {
        m_destroyedConnection = connect(registry, &QObject::destroyed, this, &QmlHandlerBase::registryGone);
    }
}

void QmlHandlerBase::registerWith(const std::shared_ptr<detail::QmlRegistryShared> &shared)
{
    // A registry being destroyed: a binding that runs meanwhile (on its count, say) must not
    // register on it again.
    if (!shared->watching || shared->ops == nullptr)
        return;
    if (!m_once)
        m_delivery.warnIfIgnored(this, m_coalesce);
    // The registry is the delivery context: it outlives the deliveries it queued, while this
    // object may die with some pending (its destructor removes the handler first).
    m_token = (++m_serial << 1) | (m_once ? 1 : 0);
    m_id = shared->ops->addTarget({this, &QmlHandlerBase::deliverTo, shared, m_token, m_registration.get(),
                                   &detail::QmlRegistryShared::tell},
                                  m_delivery.options(m_coalesce, m_priority, m_once));
    m_registeredOn = shared;
    m_active = true;
    if (!m_originFile.isEmpty())
        shared->noteOrigin(m_id, m_originFile, m_originLine);
}

void QmlHandlerBase::unregister()
{
    if (m_id.isValid()) {
        m_previousId = m_id; // a `once` delivery of it may still come
        m_previousToken = m_token;
    }
    if (m_registeredOn && std::exchange(m_active, false)) { // first: its delivery's word is ignored
        quint64 dropped = 0;
        // A `once` registration the facade no longer holds has fired (its delivery, on its way
        // from another thread, is cancelled by this removal, as any removal cancels it) or was
        // removed from C++: either way the handler is spent until it is armed again.
        if (!m_registeredOn->removeOwn(m_id, &dropped) && m_once && m_registeredOn->facade != nullptr)
            m_fired = true;
        m_dropped = std::max(m_dropped, m_droppedBefore + dropped);
    }
    m_registeredOn.reset();
    m_id = HandlerId{};
    m_active = false;
}

void QmlHandlerBase::leaveRegistry()
{
    if (m_alive != nullptr)
        *m_alive = false; // a delivery to us is running (our handler destroyed us)
    if (detail::QmlRegistryShared *watched = std::exchange(m_watched, nullptr))
        watched->unwatch(m_registration.get());
    // Unregistering changes the registry's count: a binding on it that sets one of our
    // properties meanwhile must not register us again.
    m_complete = false;
    unregister();
}

void QmlHandlerBase::registrationEnded(quint64 dropped)
{
    // Removed by the registry's remove(id) or its C++ facade: registered no more. m_registeredOn
    // and m_id stay for a `once` delivery still on its way.
    if (m_once)
        m_fired = true; // spent (fired, or removed from C++): registers again when re-armed
    const quint64 total = std::max(m_dropped, m_droppedBefore + dropped);
    const bool grew = total != m_dropped;
    m_dropped = total;
    const QPointer<QmlHandlerBase> self(this); // a slot may destroy us
    if (std::exchange(m_active, false))
        emitActiveChanged();
    if (grew && self)
        Q_EMIT droppedChanged();
}

void QmlHandlerBase::registryGone()
{
    // From the registry's destructor, while it is whole (a registry on this thread), or after it
    // is gone (one on another thread, which removed our handler already).
    const bool wasActive = m_active;
    unregister();
    forgetRegistry();
    if (wasActive)
        emitActiveChanged();
}

void QmlHandlerBase::deliverTo(QObject *target, detail::QmlRegistryShared &shared, quint64 token,
                               const void *event)
{
    // `shared` lives as long as the facade's handler that calls us, which may outlive the registry.
    auto *self = static_cast<QmlHandlerBase *>(target);
    if (shared.ops == nullptr)
        return; // the registry is going or gone: nothing of it is read
    const bool once = (token & 1) != 0;
    // Each delivery belongs to the registration that queued it. One queued before the handler was
    // re-armed (disabled, `once` changed) belongs to a registration removed since; of those
    // replaced since (a property changed), only a `once` one's fired delivery may still come.
    if ((token >> 1) < self->m_armedSince || (!once && (token != self->m_token || !self->m_active)))
        return;
    const HandlerId id = token == self->m_previousToken ? self->m_previousId : self->m_id;
    bool ended = false;
    if (once) {
        // The first `once` delivery of this arming runs; the handler has fired, and a registration
        // made since its delivery was queued is no revival of it.
        if (std::exchange(self->m_ran, true))
            return;
        self->m_fired = true;
        if (token == self->m_token && self->m_active) {
            self->m_active = false; // the facade removed it when it fired
            ended = true;
        } else if (self->m_once && self->m_active) {
            self->unregister();
            ended = true;
        }
    }
    // The handler runs, or `notified` is emitted; `shared` stays alive: it may destroy the
    // registry (and us).
    detail::QmlEventOps *ops = shared.ops;
    if (ops == nullptr)
        return;
    const detail::ScriptRunFrame run; // its failures count when its call did
    bool alive = true;
    if (self->m_functionEngine != nullptr) {
        // The function's engine as it is now: null once it is destroyed (an object that
        // QQmlComponent::create made belongs to its caller and may outlive it): nothing runs.
        if (QJSEngine *engine = self->m_function.engine()) {
            bool *const outerAlive = self->enterDelivery(alive);
            self->m_function.call(ops->scriptArguments(event, engine));
            leaveDelivery(self, alive, outerAlive);
            if (engine->hasError())
                shared.reportThrown(id, engine->catchError());
        }
    } else if (QQmlEngine *engine = qmlEngine(self)) {
        const QString failure = self->emitCollectingFailures(engine, event, alive);
        // The engine printed the error with its file and line; the registry learns about it too.
        if (!failure.isEmpty())
            shared.reportFailure(id, failure);
    } else {
        bool *const outerAlive = self->enterDelivery(alive);
        self->emitNotified(event, qjsEngine(self));
        leaveDelivery(self, alive, outerAlive);
    }
    if (alive && ended)
        self->emitActiveChanged();
}

QJSValue QmlHandlerBase::eventValue(const void *event, QJSEngine *engine) const
{
    detail::QmlEventOps *ops = m_registeredOn ? m_registeredOn->ops : nullptr;
    if (ops == nullptr || engine == nullptr)
        return {};
    return ops->scriptArguments(event, engine).constFirst();
}

} // namespace rio
