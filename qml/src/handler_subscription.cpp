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
    if (m_alive != nullptr)
        *m_alive = false; // its own call destroyed it
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
    if (m_alive == nullptr)       // else when its call returns
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
    // `shared` lives as long as the facade's handler that calls us, a handler that may destroy
    // the registry, or this handle.
    auto *handle = static_cast<HandlerSubscription *>(target);
    QJSEngine *engine = handle->m_engine.data();
    // A `once` handle's delivery comes after the facade removed it (which may have told it).
    if (shared.ops == nullptr || engine == nullptr || (!handle->m_active && !handle->m_once))
        return; // the registry is going or gone: nothing of it is read
    const HandlerId id = handle->m_id;
    // Until the call returns, the handle keeps its wrapper (see deactivate), and learns through
    // `alive` whether the function destroyed it.
    const detail::ScriptRunFrame run; // its failures count when its call did
    bool alive = true;
    bool *const outer = std::exchange(handle->m_alive, &alive);
    if (handle->m_once)
        handle->deactivate(); // the registry removed it before this delivery
    if (alive && shared.ops != nullptr)
        handle->m_function.call(shared.ops->scriptArguments(event, engine));
    if (alive) {
        handle->m_alive = outer;
        if (outer == nullptr && !handle->m_active)
            handle->m_keepAlive = QJSValue(); // collectable from now on
    } else if (outer != nullptr) {
        *outer = false;
    }
    if (engine->hasError())
        shared.reportThrown(id, engine->catchError());
}

} // namespace rio
