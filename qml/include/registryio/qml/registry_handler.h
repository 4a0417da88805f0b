// SPDX-License-Identifier: MIT
#pragma once

#include <registryio/handler_id.h>
#include <registryio/qml/detail/delivery.h>
#include <registryio/qml/qml_export.h>
#include <registryio/qml/qml_registry.h>

#include <QJSManagedValue>
#include <QJSValue>
#include <QMetaObject>
#include <QObject>
#include <QPointer>
#include <QProperty>
#include <QQmlParserStatus>
#include <QVariant>
#include <QtQml/qqmlregistration.h>

#include <memory>

class QQmlEngine;

namespace rio {

namespace detail {
class QmlRegistration;
struct QmlRegistryShared;
} // namespace detail

/// Declarative handler, like Connections with priority order and exception isolation:
/// `RegistryHandler { registry: r; priority: 10; onNotified: (event) => ... }`, or, without the
/// signal hop, `RegistryHandler { registry: r; handler: (event) => ... }`.
class RIO_QML_EXPORT RegistryHandler : public QObject, public QQmlParserStatus
{
    Q_OBJECT
    QML_ELEMENT
    Q_INTERFACES(QQmlParserStatus)
    /// The registry to listen to; changing it re-registers.
    Q_PROPERTY(rio::QmlRegistry *registry READ registry WRITE setRegistry NOTIFY registryChanged FINAL)
    /// Higher runs first; changing it re-registers.
    Q_PROPERTY(int priority READ priority WRITE setPriority NOTIFY priorityChanged FINAL)
    /// False unregisters; true registers again (and re-arms a `once` handler that fired).
    Q_PROPERTY(bool enabled READ isEnabled WRITE setEnabled NOTIFY enabledChanged FINAL)
    /// Runs for the first event only.
    Q_PROPERTY(bool once READ once WRITE setOnce NOTIFY onceChanged FINAL)
    /// Events from other threads are coalesced: at most one pending, the newest wins.
    Q_PROPERTY(bool coalesce READ coalesce WRITE setCoalesce NOTIFY coalesceChanged FINAL)
    /// Most events waiting for this handler at once (0: unbounded); changing it re-registers.
    Q_PROPERTY(int capacity READ capacity WRITE setCapacity NOTIFY capacityChanged FINAL)
    /// What a full queue does with the next event; changing it re-registers.
    Q_PROPERTY(Overflow overflow READ overflow WRITE setOverflow NOTIFY overflowChanged FINAL)
    /// Block: the longest (ms) a notifying thread waits for room; changing it re-registers.
    Q_PROPERTY(int blockTimeout READ blockTimeout WRITE setBlockTimeout NOTIFY blockTimeoutChanged FINAL)
    /// With coalesce: the shortest time (ms) between two deliveries; changing it re-registers.
    Q_PROPERTY(int minInterval READ minInterval WRITE setMinInterval NOTIFY minIntervalChanged FINAL)
    /// Events the overflow policy dropped so far, over every registration of this handler.
    Q_PROPERTY(double dropped READ dropped NOTIFY droppedChanged FINAL)
    /// True while registered.
    Q_PROPERTY(bool active READ isActive NOTIFY activeChanged BINDABLE bindableActive FINAL)
    /// The current registration's id, 0 when not registered.
    Q_PROPERTY(double handlerId READ handlerId NOTIFY activeChanged FINAL)
    /// A function called with each event instead of emitting `notified`: the registry calls it
    /// directly (with the registry's other JavaScript handlers in one call), no signal between.
    Q_PROPERTY(QJSValue handler READ handler WRITE setHandler NOTIFY handlerChanged FINAL)

public:
    /// What a full queue (`capacity` events waiting) does with the next event (rio::Overflow).
    enum Overflow : int { // fixed type: a bad value from QML is refused, not undefined behaviour
        /// The oldest waiting event is dropped: the handler sees the newest ones (the default).
        DropOldest,
        /// The new event is dropped: the waiting ones stay.
        DropNewest,
        /// The notifying thread waits up to `blockTimeout` for room, then drops the new event.
        Block,
    };
    Q_ENUM(Overflow)

    /// A handler with no registry yet.
    explicit RegistryHandler(QObject *parent = nullptr);
    /// Unregisters.
    ~RegistryHandler() override;

    /// The registry listened to.
    [[nodiscard]] QmlRegistry *registry() const noexcept { return m_registry; }
    /// Sets the registry (re-registers).
    void setRegistry(QmlRegistry *registry);
    /// The priority.
    [[nodiscard]] int priority() const noexcept { return m_priority; }
    /// Sets the priority (re-registers).
    void setPriority(int priority);
    /// True when it should be registered.
    [[nodiscard]] bool isEnabled() const noexcept { return m_enabled; }
    /// Registers or unregisters.
    void setEnabled(bool enabled);
    /// True for a one-shot handler.
    [[nodiscard]] bool once() const noexcept { return m_once; }
    /// Makes it one-shot (re-registers).
    void setOnce(bool once);
    /// True when cross-thread events are coalesced.
    [[nodiscard]] bool coalesce() const noexcept { return m_coalesce; }
    /// Turns coalescing on or off (re-registers).
    void setCoalesce(bool coalesce);
    /// Most events waiting at once, 0 for unbounded.
    [[nodiscard]] int capacity() const noexcept { return m_delivery.capacity; }
    /// Sets the capacity (re-registers); a negative one warns and changes nothing.
    void setCapacity(int capacity);
    /// The overflow policy.
    [[nodiscard]] Overflow overflow() const noexcept { return Overflow(m_delivery.overflow); }
    /// Sets the overflow policy (re-registers); an unknown value warns and changes nothing.
    void setOverflow(Overflow overflow);
    /// Block: the longest wait for room, in milliseconds.
    [[nodiscard]] int blockTimeout() const noexcept { return m_delivery.blockTimeout; }
    /// Sets the block timeout (re-registers); a negative one warns and changes nothing.
    void setBlockTimeout(int milliseconds);
    /// With coalesce: the shortest time between two deliveries, in milliseconds.
    [[nodiscard]] int minInterval() const noexcept { return m_delivery.minInterval; }
    /// Sets the minimum interval (re-registers); a negative one warns and changes nothing.
    void setMinInterval(int milliseconds);
    /// Events dropped so far by the overflow policy, over every registration.
    [[nodiscard]] double dropped() const noexcept { return static_cast<double>(m_dropped); }
    /// True while registered.
    [[nodiscard]] bool isActive() const noexcept { return m_active; }
    /// `active` as a bindable property.
    [[nodiscard]] QBindable<bool> bindableActive() const { return &m_activeProperty; }
    /// The registration's id, 0 when not registered.
    [[nodiscard]] double handlerId() const noexcept;
    /// The function that takes each event instead of `notified` (undefined: the signal does).
    [[nodiscard]] QJSValue handler() const { return m_handler; }
    /// Sets it: a function, or undefined/null for the signal again; anything else is refused with
    /// a QML warning and changes nothing. Re-registers.
    void setHandler(const QJSValue &handler);

    /// QQmlParserStatus: nothing before the component is complete.
    void classBegin() override { }
    /// QQmlParserStatus: registers.
    void componentComplete() override;

Q_SIGNALS:
    /// An event arrived (on this object's thread), as one JavaScript value per notify; not
    /// emitted while `handler` is set.
    void notified(const QJSValue &event);
    /// The registry property changed.
    void registryChanged();
    /// The priority property changed.
    void priorityChanged();
    /// The enabled property changed.
    void enabledChanged();
    /// The once property changed.
    void onceChanged();
    /// The coalesce property changed.
    void coalesceChanged();
    /// The capacity property changed.
    void capacityChanged();
    /// The overflow property changed.
    void overflowChanged();
    /// The blockTimeout property changed.
    void blockTimeoutChanged();
    /// The minInterval property changed.
    void minIntervalChanged();
    /// More events were dropped (`dropped` grew); emitted on this object's thread.
    void droppedChanged();
    /// Registered or unregistered.
    void activeChanged();
    /// The handler property changed.
    void handlerChanged();

private:
    class Registration;
    void reRegister();
    void reRegisterOnce();
    void unregister();
    void deliver(const QVariant &event);
    void deliverDirect(const QJSValue &value);
    bool *enter(bool &alive);
    void leave(const bool &alive, bool *outerAlive);
    void emitNotified(detail::QmlRegistryShared &shared, QQmlEngine *engine, HandlerId id,
                      const QJSValue &value, bool &alive);
    void registryDestroyed();
    void registrationEnded();
    void dropsReported(quint64 total);

    QPointer<QmlRegistry> m_registry;
    QPointer<QmlRegistry> m_registeredOn;
    QMetaObject::Connection m_destroyedConnection;  // a registry on another thread
    detail::QmlRegistryShared *m_watched = nullptr; // the registry watched on this thread
    QMetaObject::Connection m_warningTap;           // the engine's warnings, while one of ours runs
    std::unique_ptr<Registration> m_registration;
    QJSValue m_handler;         // `handler`
    QJSManagedValue m_function; // m_handler, to call with what it throws left in the engine
    bool *m_alive = nullptr;    // set to false by the destructor (a delivery in progress)
    HandlerId m_id;
    detail::QmlDeliverySettings m_delivery;
    quint64 m_dropped = 0;       // `dropped`
    quint64 m_droppedBefore = 0; // dropped by the registrations before the current one
    int m_priority = 0;
    bool m_enabled = true;
    bool m_once = false;
    bool m_coalesce = false;
    bool m_complete = false;
    bool m_fired = false;
    bool m_active = false;
    bool m_reRegistering = false;   // in reRegister()
    bool m_reRegisterAgain = false; // a property changed meanwhile
    // Emits activeChanged and tells the bindings on `active`.
    void emitActiveChanged()
    {
        m_activeProperty.notify();
        Q_EMIT activeChanged();
    }
    Q_OBJECT_COMPUTED_PROPERTY(RegistryHandler, bool, m_activeProperty, &RegistryHandler::isActive)
};

} // namespace rio
