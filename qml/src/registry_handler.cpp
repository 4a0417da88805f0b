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
    void deliverDirect(const QJSValue &value, const void * /*event*/) override
    {
        m_handler->deliverDirect(value);
    }

private:
    RegistryHandler *m_handler;
};

RegistryHandler::RegistryHandler(QObject *parent)
    : QmlHandlerBase(parent), m_registration(std::make_unique<Registration>(this))
{ }

RegistryHandler::~RegistryHandler()
{
    markDestroyed(); // a delivery to us is running (our handler destroyed us)
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

void RegistryHandler::registerNow()
{
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
        bool *const outerAlive = enterDelivery(alive);
        m_function.call({value});
        leaveDelivery(alive, outerAlive);
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

void RegistryHandler::emitNotified(detail::QmlRegistryShared &shared, QQmlEngine *engine, HandlerId id,
                                   const QJSValue &value, bool &alive)
{
    const QString failure = emitCollectingFailures(
        engine,
        [](QmlHandlerBase *self, const void *argument) {
            Q_EMIT static_cast<RegistryHandler *>(self)->notified(*static_cast<const QJSValue *>(argument));
        },
        &value, alive);
    // The engine printed the error with its file and line; the registry learns about it too.
    if (!failure.isEmpty()) {
        if (QmlRegistry *registry = shared.local())
            registry->reportScriptFailure(id, failure, QString(), 0, false);
    }
}

} // namespace rio
