// SPDX-License-Identifier: MIT
#include "qml_registry_shared.h"

#include <registryio/qml/handler_subscription.h>

#include <QJSEngine>
#include <QPointer>

#include <utility>

namespace rio {

// The handle as its registry's bookkeeping sees it.
class HandlerSubscription::Registration final : public detail::QmlRegistration
{
public:
    explicit Registration(HandlerSubscription *handle) : m_handle(handle) { }
    void registrationEnded(quint64 dropped) override { m_handle->registrationEnded(dropped); }
    void dropsReported(quint64 total) override { m_handle->dropsReported(total); }

private:
    HandlerSubscription *m_handle;
};

HandlerSubscription::HandlerSubscription(std::shared_ptr<detail::QmlRegistryShared> shared, QJSEngine *engine,
                                         const QJSValue &handler, int priority, bool once, QObject *parent)
    : QObject(parent), m_shared(std::move(shared)), m_registration(std::make_unique<Registration>(this)),
      m_engine(engine), m_function(handler, engine), m_priority(priority), m_once(once)
{ }

HandlerSubscription::~HandlerSubscription()
{
    if (m_active)
        m_shared->removeOwn(m_id);
}

void HandlerSubscription::activate()
{
    m_active = true;
    m_registration->id = m_id.value();
    m_shared->addRegistration(m_registration.get());
}

void HandlerSubscription::deactivate()
{
    if (!m_active)
        return;
    m_active = false;
    m_keepAlive = QJSValue(); // collectable from now on, unless JavaScript or an owner keeps us
    m_shared->takeRegistration(m_id.value());
    emitActiveChanged();
}

void HandlerSubscription::registrationEnded(quint64 dropped)
{
    const bool grew = dropped > m_dropped;
    if (grew)
        m_dropped = dropped;
    const QPointer<HandlerSubscription> self(this); // a slot may destroy us
    deactivate();
    if (grew && self)
        Q_EMIT droppedChanged();
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
    const bool removed = m_shared->removeOwn(m_id);
    deactivate();
    return removed;
}

void HandlerSubscription::deliverTo(QObject *target, detail::QmlRegistryShared &shared, quint64 /*token*/,
                                    const void *event)
{
    auto *handle = static_cast<HandlerSubscription *>(target);
    if (shared.ops == nullptr)
        return; // the registry is going or gone: nothing of it is read
    // A `once` handle's delivery comes after the facade removed it (which may have told it).
    if (!handle->m_active && !handle->m_once)
        return;
    const QJSValue self = handle->m_keepAlive; // not collected during its own call
    if (handle->m_once)
        handle->deactivate(); // the registry removed it before this delivery
    handle->call(event);
}

void HandlerSubscription::call(const void *event)
{
    QJSEngine *engine = m_engine.data();
    detail::QmlEventOps *ops = m_shared->ops;
    if (engine == nullptr || ops == nullptr)
        return;
    const std::shared_ptr<detail::QmlRegistryShared> shared = m_shared; // the function may destroy us
    const HandlerId id = m_id;
    m_function.call(ops->scriptArguments(event, engine));
    if (engine->hasError())
        shared->reportThrown(id, engine->catchError());
}

} // namespace rio
