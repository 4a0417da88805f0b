// SPDX-License-Identifier: MIT
#include "qml_registry_shared.h"

#include <registryio/qml/handler_subscription.h>
#include <registryio/qml/qml_registry.h>
#include <registryio/qml/qml_typed_handler.h>

#include <QJSEngine>

#include <utility>

namespace rio {

// The handle as its registry's registrations see it.
class HandlerSubscription::Registration final : public detail::QmlRegistration
{
public:
    explicit Registration(HandlerSubscription *handle) : m_handle(handle) { }
    void registrationEnded() override { m_handle->deactivate(); }
    void dropsReported(quint64 total) override { m_handle->dropsReported(total); }
    void deliverDirect(const QJSValue & /*value*/, const void *event) override
    {
        m_handle->deliverTyped(event);
    }

private:
    HandlerSubscription *m_handle;
};

HandlerSubscription::HandlerSubscription(std::shared_ptr<detail::QmlRegistryShared> shared, QJSEngine *engine,
                                         const QJSValue &handler, int priority, bool once, QObject *parent)
    : QObject(parent), m_shared(std::move(shared)), m_registration(std::make_unique<Registration>(this)),
      m_engine(engine), m_function(handler, engine), m_priority(priority), m_once(once)
{ }

HandlerSubscription::HandlerSubscription(QmlTypedRegistry *typed, QJSEngine *engine, const QJSValue &handler,
                                         int priority, bool once, QObject *parent)
    : QObject(parent), m_registration(std::make_unique<Registration>(this)), m_typed(typed), m_engine(engine),
      m_function(handler, engine), m_priority(priority), m_once(once)
{ }

HandlerSubscription::~HandlerSubscription()
{
    if (m_active && !m_shared) {
        if (m_typed != nullptr)
            m_typed->unsubscribe(m_id);
    } else if (m_active) {
        m_shared->takeRegistration(m_id.value()); // first: see remove()
        if (QmlRegistry *registry = m_shared->local())
            registry->m_registry.remove(m_id);
    }
}

void HandlerSubscription::activate(HandlerId id)
{
    m_id = id;
    m_active = true;
    m_registration->id = id.value();
    m_registration->priority = m_priority;
    // A `once` handler leaves the registry when it fires: the registry's own dispatch does that.
    if (!m_once && m_function.isFunction())
        m_registration->function = &m_function;
    m_shared->addRegistration(m_registration.get());
}

void HandlerSubscription::activateTyped(detail::QmlDispatchState &dispatch)
{
    m_active = true;
    m_registration->id = m_id.value();
    m_registration->priority = m_priority;
    // The registry's own dispatch runs it (a `once` one keeps the facade's, which removes it).
    m_registration->direct = !m_once;
    dispatch.addRegistration(m_registration.get());
}

void HandlerSubscription::deactivate()
{
    if (!m_active)
        return;
    m_active = false;
    m_keepAlive = QJSValue(); // collectable from now on, unless JavaScript or an owner keeps us
    if (m_shared)
        m_shared->takeRegistration(m_id.value());
    else if (QmlTypedRegistry *typed = std::exchange(m_typed, nullptr))
        typed->unsubscribe(m_id);
    emitActiveChanged();
}

void HandlerSubscription::deliverTyped(const void *event)
{
    if (m_typed != nullptr)
        m_typed->deliverToSubscription(this, event);
}

void HandlerSubscription::dropsReported(quint64 total)
{
    if (total <= m_dropped)
        return;
    m_dropped = total;
    Q_EMIT droppedChanged();
}

bool HandlerSubscription::remove()
{
    if (!m_active)
        return false;
    if (!m_shared) {
        const bool removed = m_typed != nullptr && m_typed->unsubscribe(m_id);
        deactivate();
        return removed;
    }
    // Out of the registrations first: the registry's count change must not look like a removal
    // behind our back.
    m_shared->takeRegistration(m_id.value());
    QmlRegistry *registry = m_shared->local();
    const bool removed = registry != nullptr && registry->m_registry.remove(m_id);
    deactivate();
    return removed;
}

void HandlerSubscription::deliver(const QVariant &event)
{
    QJSEngine *engine = m_engine.data();
    if (engine == nullptr)
        return;
    if (m_once)
        deactivate(); // the registry removed it before this delivery
    const std::shared_ptr<detail::QmlRegistryShared> shared = m_shared; // the handler may destroy us
    const HandlerId id = m_id;
    m_function.call({shared->events.get(event, engine)});
    if (engine->hasError())
        QmlRegistry::reportThrown(*shared, id.value(), engine->catchError());
}

} // namespace rio
