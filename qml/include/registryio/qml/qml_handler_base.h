// SPDX-License-Identifier: MIT
#pragma once

// The properties every declarative QML handler shares (RegistryHandler and the typed
// Name##Handler of RIO_QML_TYPED_REGISTRY): each class adds its `registry`, its `notified` signal
// and how it registers.

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/handler_id.h>
#include <registryio/qml/detail/delivery.h>
#include <registryio/qml/qml_export.h>

#include <QJSManagedValue>
#include <QJSValue>
#include <QMetaObject>
#include <QObject>
#include <QProperty>
#include <QQmlParserStatus>
#include <QString>
#include <QtQml/qqmlregistration.h>

#include <memory>
#include <utility>

class QQmlEngine;

namespace rio {

namespace detail {
struct QmlRegistryShared;
} // namespace detail

/// The base of RegistryHandler and of every typed handler: priority, enabled, once, the bounded
/// delivery settings, `handler`, what a registration reports (active, handlerId, dropped), and the
/// registration itself. Not creatable from QML itself.
class RIO_QML_EXPORT QmlHandlerBase : public QObject, public QQmlParserStatus
{
    Q_OBJECT
    QML_ANONYMOUS
    Q_INTERFACES(QQmlParserStatus)
    /// Higher runs first; changing it re-registers.
    Q_PROPERTY(int priority READ priority WRITE setPriority NOTIFY priorityChanged FINAL)
    /// False unregisters; true registers again (and re-arms a `once` handler that fired).
    Q_PROPERTY(bool enabled READ isEnabled WRITE setEnabled NOTIFY enabledChanged FINAL)
    /// Runs for the first event only.
    Q_PROPERTY(bool once READ once WRITE setOnce NOTIFY onceChanged FINAL)
    /// How events from other threads are delivered: Every one, or the Latest only (coalesced: at
    /// most one pending, the newest wins).
    Q_PROPERTY(Delivery delivery READ delivery WRITE setDelivery NOTIFY deliveryChanged FINAL)
    /// delivery: Latest, as a bool (the same property under its older name).
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
    /// A function called with each event instead of emitting `notified`, no signal between (the
    /// event's JavaScript value is made once per notify and shared by the handlers of it).
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
    /// How events from other threads reach the handler (rio::Delivery).
    enum Delivery : int {
        /// Each event gets its delivery, queued up to `capacity` (the default).
        Every,
        /// Coalesced: at most one delivery waits, with the newest event; the last one always arrives.
        Latest,
    };
    Q_ENUM(Delivery)

    /// Nothing to undo here: each handler class unregisters in its own destructor (leaveRegistry).
    ~QmlHandlerBase() override;

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
    /// How events from other threads are delivered.
    [[nodiscard]] Delivery delivery() const noexcept { return m_coalesce ? Latest : Every; }
    /// Sets the delivery mode (re-registers); an unknown value warns and changes nothing.
    void setDelivery(Delivery delivery);
    /// True when cross-thread events are coalesced (delivery is Latest).
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
    [[nodiscard]] double handlerId() const noexcept
    {
        return m_active ? static_cast<double>(m_id.value()) : 0.0;
    }
    /// The function that takes each event instead of `notified` (undefined: the signal does).
    [[nodiscard]] QJSValue handler() const { return m_handler; }
    /// Sets it: a function, or undefined/null for the signal again; anything else is refused with
    /// a QML warning and changes nothing.
    void setHandler(const QJSValue &handler);

    /// QQmlParserStatus: nothing before the component is complete.
    void classBegin() override { }
    /// QQmlParserStatus: registers.
    void componentComplete() override;

Q_SIGNALS:
    /// The priority property changed.
    void priorityChanged();
    /// The enabled property changed.
    void enabledChanged();
    /// The once property changed.
    void onceChanged();
    /// The delivery property changed.
    void deliveryChanged();
    /// The coalesce property changed (with delivery).
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

protected:
    /// \cond RIO_INTERNAL
    // The interface of the two handler classes, not of the public API: hidden from the reference.

    /// A handler with default properties.
    explicit QmlHandlerBase(QObject *parent);

    /// Registers with the current properties, if it can (enabled and not a fired `once`): calls
    /// registerWith() for a registry on this thread.
    virtual void registerNow() = 0;
    /// `handler` was replaced (m_handler and m_function set): re-registers by default.
    virtual void handlerReplaced() { reRegister(); }
    /// Emits the `notified` signal with `event` (the registry's event type), this object's
    /// engine being `engine`.
    virtual void emitNotified(const void *event, QJSEngine *engine) = 0;
    /// The registry is gone: `registry` turns null (registryChanged).
    virtual void forgetRegistry() = 0;

    /// Follows `registry` (null: none), whose bookkeeping is `shared`: a registry on this thread
    /// tells us when it goes, one on another thread through its destroyed() signal.
    void watchRegistry(QObject *registry, const std::shared_ptr<detail::QmlRegistryShared> &shared);
    /// Registers with the registry whose bookkeeping is `shared` (on this thread), unless it is
    /// going.
    void registerWith(const std::shared_ptr<detail::QmlRegistryShared> &shared);
    /// Leaves the current registration (if any): m_id cleared, m_active false, its drops counted.
    void unregister();
    /// The handler class's destructor: tells a delivery in progress, stops watching, unregisters.
    void leaveRegistry();
    /// The JavaScript value of `event` (being delivered to us) in `engine`, made once per notify.
    [[nodiscard]] QJSValue eventValue(const void *event, QJSEngine *engine) const;
    /// Unregisters and registers again once complete; a change made meanwhile (a binding on the
    /// registry's count) asks for one more pass, never a nested one.
    void reRegister();
    /// The current registration's drops so far are `total`: `dropped` grows if they are more.
    void dropsReported(quint64 total);
    /// Emits activeChanged and tells the bindings on `active`.
    void emitActiveChanged()
    {
        m_activeProperty.notify();
        Q_EMIT activeChanged();
    }

    QJSValue m_handler;                     ///< `handler`
    QJSManagedValue m_function;             ///< m_handler, to call with what it throws left in the engine
    QJSEngine *m_functionEngine = nullptr;  ///< m_function's engine when set (may die: ask m_function)
    HandlerId m_id;                         ///< the current registration's id (null when not registered)
    detail::QmlDeliverySettings m_delivery; ///< capacity, overflow, blockTimeout and minInterval
    quint64 m_dropped = 0;                  ///< `dropped`
    quint64 m_droppedBefore = 0;            ///< dropped by the registrations before the current one
    int m_priority = 0;                     ///< `priority`
    bool m_enabled = true;                  ///< `enabled`
    bool m_once = false;                    ///< `once`
    bool m_coalesce = false;                ///< `coalesce`
    bool m_complete = false;                ///< componentComplete() ran (cleared by leaveRegistry() first)
    bool m_fired = false;  ///< a `once` registration of this arming fired: none is made again
    bool m_active = false; ///< `active`
    /// What the declaration set, before componentComplete(): bit 0 `delivery` was set, bit 1
    /// `coalesce` was, bit 2 delivery's Latest, bit 3 coalesce's true (both set and apart: a warning,
    /// `delivery` wins whatever the order QML set them in).
    quint8 m_declared = 0;
    /// \endcond

private:
    class Registration;

    void reRegisterOnce();
    // Sets m_function (and m_functionEngine).
    void setFunction(QJSManagedValue function);
    // Emits `notified` with `event` with the engine's warnings meanwhile taken as this
    // handler's failures, and `alive` cleared if the handler destroys this object (which the call
    // then no longer touches). Returns the first failure's description, or an empty string.
    QString emitCollectingFailures(QQmlEngine *engine, const void *event, bool &alive);
    // Starts a delivery: `alive` is cleared if the handler destroys this object; returns the outer
    // delivery's flag, for leaveDelivery().
    bool *enterDelivery(bool &alive) noexcept { return std::exchange(m_alive, &alive); }
    // Ends it: an outer delivery to `self` learns whether it is still alive. Static: `self`
    // may have been destroyed by the handler (then only `alive` says so).
    static void leaveDelivery(QmlHandlerBase *self, const bool &alive, bool *outerAlive) noexcept
    {
        if (alive)
            self->m_alive = outerAlive;
        else if (outerAlive != nullptr)
            *outerAlive = false;
    }
    // The facade's delivery of `event` to the handler `target`: runs `handler`, or emits
    // `notified`.
    static void deliverTo(QObject *target, detail::QmlRegistryShared &shared, quint64 token,
                          const void *event);
    // Arms it again (enabled, `once` changed): a `once` handler may fire once more, and deliveries
    // queued before are of registrations gone.
    void rearm() noexcept;
    // Removed behind our back (remove(id), the facade) with `dropped` drops so far.
    void registrationEnded(quint64 dropped);
    // The registry is going (from its destructor, while it is whole) or gone (another thread's).
    void registryGone();

    std::shared_ptr<detail::QmlRegistryShared> m_registeredOn; // where we are registered
    detail::QmlRegistryShared *m_watched = nullptr;            // the registry on this thread we follow
    QMetaObject::Connection m_destroyedConnection;             // a registry on another thread
    std::unique_ptr<Registration> m_registration;              // in the registry's bookkeeping

    QMetaObject::Connection m_warningTap; // the engine's warnings, while onNotified runs
    // Where this handler is declared, for diagnostics: the file and line of the binding that set
    // its registry (taken while the registry's diagnostics are on; empty otherwise).
    QString m_originFile;
    int m_originLine = 0;
    // The registrations' tokens: (serial << 1) | once, serials counted from 1 by this handler.
    quint64 m_serial = 0;        // registrations made so far
    quint64 m_token = 0;         // the current (or last) registration's
    quint64 m_armedSince = 1;    // the first serial of this arming
    quint64 m_previousToken = 0; // the registration left last, and its id
    HandlerId m_previousId;
    bool m_ran = false;             // a `once` delivery of this arming ran
    bool *m_alive = nullptr;        // cleared by leaveRegistry() (a delivery in progress)
    bool m_reRegistering = false;   // in reRegister()
    bool m_reRegisterAgain = false; // a property changed meanwhile
    Q_OBJECT_COMPUTED_PROPERTY(QmlHandlerBase, bool, m_activeProperty, &QmlHandlerBase::isActive)
};

} // namespace rio
