// SPDX-License-Identifier: MIT
#include "qml_registry_shared.h"

#include <registryio/qml/handler_subscription.h>
#include <registryio/qt/detail/qml_hooks.h>

#include <QJSEngine>
#include <QPointer>

#include <utility>

namespace rio {

// The handle as its registry's bookkeeping sees it, and one of the registry's watchers until
// it is inactive.
class HandlerSubscription::Registration final : public detail::QmlRegistration,
                                                public detail::QmlRegistryWatcher
{
public:
    explicit Registration(HandlerSubscription *handle) : m_handle(handle) { }
    // A handle has one registration: its delivery's token is 0.
    void registrationEnded(quint64 /*token*/, quint64 dropped) override
    {
        m_handle->registrationEnded(dropped);
    }
    void dropsReported(quint64 /*token*/, quint64 total) override { m_handle->dropsReported(total); }
    // The registry's end, which unlinked us: the handle ends itself, since a removal on another
    // thread may have taken its handler with the word of it still on its way (which the end,
    // keeping no table of registrations, would not find).
    void registryGone() override
    {
        m_linked = false;
        m_handle->remove();
    }
    void link(detail::QmlRegistryShared &shared) noexcept
    {
        shared.watch(this);
        m_linked = true;
    }
    void unlink(detail::QmlRegistryShared &shared) noexcept
    {
        if (std::exchange(m_linked, false))
            shared.unwatch(this);
    }

private:
    HandlerSubscription *m_handle;
    bool m_linked = false;
};

HandlerSubscription::HandlerSubscription(std::shared_ptr<detail::QmlRegistryShared> shared, QJSEngine *engine,
                                         const QJSValue &handler, int priority, bool once, QObject *parent)
    : QObject(parent), m_shared(std::move(shared)), m_registration(std::make_unique<Registration>(this)),
      m_engine(engine), m_function(handler, engine), m_priority(priority), m_once(once)
{
    m_registration->link(*m_shared); // made only while the registry is not going
}

HandlerSubscription::~HandlerSubscription()
{
    if (m_alive != nullptr)
        *m_alive = false; // its own call destroyed it
    m_registration->unlink(*m_shared);
    if (std::exchange(m_active, false))
        m_shared->removeOwn(m_id); // its delivery's word finds us inactive
}

detail::QmlDelivery HandlerSubscription::delivery()
{
    return {this,
            &HandlerSubscription::deliverTo,
            m_shared,
            0,
            m_registration.get(),
            &detail::QmlRegistryShared::tell};
}

void HandlerSubscription::deactivate()
{
    if (!m_active)
        return;
    m_active = false;
    m_registration->unlink(*m_shared);
    if (m_alive == nullptr)       // else when its call returns
        m_keepAlive = QJSValue(); // collectable from now on, unless JavaScript or an owner keeps us
    emitActiveChanged();
}

void HandlerSubscription::registrationEnded(quint64 dropped)
{
    if (!m_active)
        return; // ended already (a `once` handle's delivery ran, our own removal)
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
    // The removal ends the registration through its delivery (registrationEnded), whose slots
    // may destroy us; a handler the facade no longer has (a `once` one fired on another thread,
    // its delivery on its way, which this cancels; removed on another thread, its word on its
    // way) ends here. Either way this is the handle's first removal.
    const QPointer<HandlerSubscription> self(this);
    m_shared->removeOwn(m_id);
    if (self)
        deactivate();
    return true;
}

void HandlerSubscription::deliverTo(QObject *target, detail::QmlRegistryShared &shared, quint64 /*token*/,
                                    const void *event)
{
    // `shared` lives as long as the facade's handler that calls us, a handler that may destroy
    // the registry, or this handle.
    auto *handle = static_cast<HandlerSubscription *>(target);
    QJSEngine *engine = handle->m_engine.data();
    // A `once` handle's delivery comes after the facade removed it (which may have told it).
    if (shared.ops == nullptr || (!handle->m_active && !handle->m_once))
        return;              // the registry is going or gone: nothing of it is read
    if (engine == nullptr) { // nothing of the dead engine is called; a `once` handle ends
        if (handle->m_once)
            handle->deactivate();
        return;
    }
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
