// SPDX-License-Identifier: MIT
#include "qml_registry_shared.h"

#include <registryio/qml/registry_handler.h>

#include <QJSEngine>
#include <QList>
#include <QQmlEngine>
#include <QQmlError>
#include <QQmlInfo>

#include <algorithm>
#include <utility>

namespace rio {

namespace {

// The QML enum is rio::Overflow by number: QmlDeliverySettings converts with a cast.
static_assert(int(RegistryHandler::DropOldest) == int(Overflow::DropOldest) &&
              int(RegistryHandler::DropNewest) == int(Overflow::DropNewest) &&
              int(RegistryHandler::Block) == int(Overflow::Block));

} // namespace

detail::QmlRunningHandler &detail::runningHandler() noexcept
{
    thread_local QmlRunningHandler running;
    return running;
}

// The handler as its registry's registrations see it.
class RegistryHandler::Registration final : public detail::QmlRegistration, public detail::QmlRegistryWatcher
{
public:
    explicit Registration(RegistryHandler *handler) : m_handler(handler) { }
    void registrationEnded() override { m_handler->registrationEnded(); }
    void registryGone() override
    {
        m_handler->m_watched = nullptr;
        m_handler->registryDestroyed();
    }
    void dropsReported(quint64 total) override { m_handler->dropsReported(total); }
    void deliverDirect(const QJSValue &value) override { m_handler->deliverDirect(value); }

private:
    RegistryHandler *m_handler;
};

RegistryHandler::RegistryHandler(QObject *parent)
    : QObject(parent), m_registration(std::make_unique<Registration>(this))
{ }

RegistryHandler::~RegistryHandler()
{
    if (m_alive != nullptr)
        *m_alive = false; // a delivery to us is running (our handler destroyed us)
    if (m_watched != nullptr)
        m_watched->unwatch(m_registration.get());
    // Unregistering changes the registry's count: a binding on it that sets one of our
    // properties meanwhile must not register us again.
    m_complete = false;
    unregister();
}

void RegistryHandler::setRegistry(QmlRegistry *registry)
{
    if (m_registry == registry)
        return;
    if (registry != nullptr && !registry->m_shared->watching) {
        qmlWarning(this) << "the registry is being destroyed; the registry is unchanged";
        return;
    }
    if (m_destroyedConnection)
        disconnect(m_destroyedConnection);
    if (detail::QmlRegistryShared *watched = std::exchange(m_watched, nullptr))
        watched->unwatch(m_registration.get());
    if (registry != nullptr && registry->thread() == thread()) {
        // Told by the registry's destructor: a link, not a connection (see QmlRegistryWatcher).
        registry->m_shared->watch(m_registration.get());
        m_watched = registry->m_shared.get();
    } else if (registry != nullptr) {
        m_destroyedConnection =
            connect(registry, &QObject::destroyed, this, &RegistryHandler::registryDestroyed);
    }
    m_registry = registry;
    reRegister();
    Q_EMIT registryChanged();
}

void RegistryHandler::setPriority(int priority)
{
    if (m_priority == priority)
        return;
    m_priority = priority;
    reRegister();
    Q_EMIT priorityChanged();
}

void RegistryHandler::setEnabled(bool enabled)
{
    if (m_enabled == enabled)
        return;
    m_enabled = enabled;
    if (enabled)
        m_fired = false;
    reRegister();
    Q_EMIT enabledChanged();
}

void RegistryHandler::setOnce(bool once)
{
    if (m_once == once)
        return;
    m_once = once;
    m_fired = false;
    reRegister();
    Q_EMIT onceChanged();
}

void RegistryHandler::setCoalesce(bool coalesce)
{
    if (m_coalesce == coalesce)
        return;
    m_coalesce = coalesce;
    reRegister();
    Q_EMIT coalesceChanged();
}

void RegistryHandler::setCapacity(int capacity)
{
    if (!m_delivery.setCapacity(this, capacity))
        return;
    reRegister();
    Q_EMIT capacityChanged();
}

void RegistryHandler::setOverflow(Overflow overflow)
{
    if (!m_delivery.setOverflow(this, int(overflow)))
        return;
    reRegister();
    Q_EMIT overflowChanged();
}

void RegistryHandler::setBlockTimeout(int milliseconds)
{
    if (!m_delivery.setBlockTimeout(this, milliseconds))
        return;
    reRegister();
    Q_EMIT blockTimeoutChanged();
}

void RegistryHandler::setMinInterval(int milliseconds)
{
    if (!m_delivery.setMinInterval(this, milliseconds))
        return;
    reRegister();
    Q_EMIT minIntervalChanged();
}

void RegistryHandler::setHandler(const QJSValue &handler)
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
    m_function = clear || engine == nullptr ? QJSManagedValue() : QJSManagedValue(m_handler, engine);
    reRegister();
    Q_EMIT handlerChanged();
}

void RegistryHandler::dropsReported(quint64 total)
{
    // Totals come from the current registration, possibly out of order (see QmlRegistryShared).
    const quint64 dropped = m_droppedBefore + total;
    if (dropped <= m_dropped)
        return;
    m_dropped = dropped;
    Q_EMIT droppedChanged();
}

double RegistryHandler::handlerId() const noexcept
{
    return m_active ? static_cast<double>(m_id.value()) : 0.0;
}

void RegistryHandler::componentComplete()
{
    m_complete = true;
    reRegister();
}

void RegistryHandler::unregister()
{
    if (m_registeredOn && m_active) {
        // Out of the registrations first, so the count change does not look like a C++ removal.
        m_registeredOn->m_shared->takeRegistration(m_id.value());
        // Drops not reported yet (a report still on its way from another thread) count too.
        m_dropped = std::max(m_dropped, m_droppedBefore + m_registeredOn->m_registry.droppedCount(m_id));
        m_registeredOn->m_registry.remove(m_id);
    }
    m_registeredOn.clear();
    m_id = HandlerId{};
    m_active = false;
}

void RegistryHandler::registrationEnded()
{
    // Removed by the registry's remove(id), a `once` handler fired, or the registry is going:
    // registered no more. m_registeredOn and m_id stay for a `once` delivery still on its way.
    if (m_registeredOn)
        m_registeredOn->m_shared->takeRegistration(m_id.value());
    if (std::exchange(m_active, false))
        emitActiveChanged();
}

void RegistryHandler::reRegister()
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

void RegistryHandler::reRegisterOnce()
{
    if (m_handler.isCallable() && !m_function.isFunction()) {
        if (QJSEngine *engine = qjsEngine(this)) // set before the engine was known
            m_function = QJSManagedValue(m_handler, engine);
    }
    const bool wasActive = isActive();
    const quint64 dropped = m_dropped;
    unregister();
    m_droppedBefore = m_dropped; // the next registration counts from here
    if (m_enabled && !(m_once && m_fired)) {
        if (!m_registry) { // NOLINT(bugprone-branch-clone): each empty branch is its own case
            // Silent, like Connections with a null target: a binding may set it later.
        } else if (m_registry->thread() != thread()) {
            qmlWarning(this) << "the registry lives on another thread; nothing is "
                                "registered";
        } else if (!m_registry->m_shared->watching) {
            // The registry is being destroyed: a binding that runs meanwhile (on its count, say)
            // must not register on it again.
        } else {
            // The registry is the delivery context: it outlives the deliveries it queued, while
            // this object may die with some pending (its destructor removes the handler first).
            auto deliver = [self = QPointer<RegistryHandler>(this)](const QVariant &event) {
                if (self)
                    self->deliver(event);
            };
            QtRegistry<QVariant> &target = m_registry->m_registry;
            if (!m_once)
                m_delivery.warnIfIgnored(this, m_coalesce);
            m_id = target.add(m_registry.data(), deliver, m_delivery.options(m_coalesce, m_priority, m_once));
            m_registeredOn = m_registry;
            m_active = true;
            m_registration->id = m_id.value();
            m_registration->priority = m_priority;
            // A function handler joins the registry's one-call dispatch (a `once` one cannot:
            // the registry's own dispatch removes it when it fires).
            m_registration->batchEntry = QJSValue();
            m_registration->function = m_function.isFunction() && !m_once ? &m_function : nullptr;
            // An onNotified handler of the registry's engine joins the registry's own dispatch
            // too, with the event converted once per notify (a `once` one cannot, as above).
            m_registration->direct = !m_function.isFunction() && !m_once && qmlEngine(this) != nullptr &&
                                     qmlEngine(this) == qjsEngine(m_registry);
            m_registry->m_shared->addRegistration(m_registration.get());
        }
    }
    if (wasActive || isActive())
        emitActiveChanged();
    if (m_dropped != dropped)
        Q_EMIT droppedChanged();
}

void RegistryHandler::registryDestroyed()
{
    // From the registry's destructor, while it is whole (a registry on this thread), or after it
    // is gone (one on another thread, which cancelled our handler already).
    const bool wasActive = m_active;
    unregister();
    m_registry.clear();
    Q_EMIT registryChanged();
    if (wasActive)
        emitActiveChanged();
}

void RegistryHandler::deliver(const QVariant &event)
{
    const QPointer<QmlRegistry> registry = m_registeredOn;
    QQmlEngine *engine = qmlEngine(this);
    if (!registry || engine == nullptr)
        return;
    const HandlerId id = m_id;
    bool ended = false;
    if (m_once) {
        m_fired = true;
        registry->m_shared->takeRegistration(id.value());
        ended = std::exchange(m_active, false);
    }
    const std::shared_ptr<detail::QmlRegistryShared> shared = registry->m_shared; // may outlive it
    const QJSValue value = shared->events.get(event, engine);
    bool alive = true;
    if (m_function.isFunction()) {
        bool *const outerAlive = enter(alive);
        m_function.call({value});
        leave(alive, outerAlive);
        if (engine->hasError())
            QmlRegistry::reportThrown(*shared, id.value(), engine->catchError());
    } else {
        emitNotified(*shared, engine, id, value, alive);
    }
    if (alive && ended)
        emitActiveChanged();
}

void RegistryHandler::deliverDirect(const QJSValue &value)
{
    // The registry's own dispatch: registered (not `once`), on the registry's thread and engine,
    // which keeps its shared state alive meanwhile.
    bool alive = true;
    emitNotified(*m_registeredOn->m_shared, qmlEngine(this), m_id, value, alive);
}

bool *RegistryHandler::enter(bool &alive)
{
    // Our destructor clears `alive` if the handler destroys us; an outer delivery to us (the
    // handler notified our registry again) learns it from us.
    return std::exchange(m_alive, &alive);
}

void RegistryHandler::leave(const bool &alive, bool *outerAlive)
{
    if (alive)
        m_alive = outerAlive;
    else if (outerAlive != nullptr)
        *outerAlive = false;
}

void RegistryHandler::emitNotified(detail::QmlRegistryShared &shared, QQmlEngine *engine, HandlerId id,
                                   const QJSValue &value, bool &alive)
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
    bool *const outerAlive = enter(alive);
    Q_EMIT notified(value);
    leave(alive, outerAlive);
    running = outer;
    // The engine printed the error with its file and line; the registry learns about it too.
    if (!errors.isEmpty()) {
        if (QmlRegistry *registry = shared.local())
            registry->reportScriptFailure(id, errors.constFirst().description(), QString(), 0, false);
    }
}

} // namespace rio
