// SPDX-License-Identifier: MIT
#pragma once

// The non-template halves of RIO_QML_TYPED_REGISTRY's types: QmlTypedRegistry carries what every
// typed registry has (count, remove, handlerFailed), QmlTypedHandler every property of a typed
// handler. The macro adds only the typed `notify` and the typed `notified` signal.

#include <registryio/handler_id.h>
#include <registryio/qml/detail/delivery.h>
#include <registryio/qml/handler_subscription.h>
#include <registryio/qml/qml_export.h>
#include <registryio/qt/delivery.h>

#include <QHash>
#include <QJSManagedValue>
#include <QJSValue>
#include <QList>
#include <QMetaType>
#include <QObject>
#include <QPointer>
#include <QProperty>
#include <QQmlParserStatus>
#include <QString>
#include <QtQml/qqmlregistration.h>

#include <cstddef>
#include <memory>

class QJSEngine;

namespace rio {

class QtRegistryBase;
class QmlTypedHandler;

namespace detail {

/// What a typed registry's facade does for the non-template halves (implemented by
/// QmlTypedRegistryCore<E> in qml_typed_registry.h).
class QmlTypedRegistryOps
{
public:
    /// Registers `handler` with `options` (its deliver() runs on the registry's thread).
    virtual HandlerId add(QmlTypedHandler *handler, const HandlerOptions &options) = 0;
    /// Removes `id`; true the first time.
    virtual bool remove(HandlerId id) = 0;
    /// Registers the function of `handle` (delivered through QmlTypedRegistry on its thread).
    virtual HandlerId addFunction(HandlerSubscription *handle, const HandlerOptions &options) = 0;
    /// Drops of `id` so far.
    [[nodiscard]] virtual quint64 droppedCount(HandlerId id) const = 0;
    /// Notifies `event` (an E), from any thread.
    virtual void notifyEvent(const void *event) const = 0;
    /// The JavaScript value of `event` (an E): made once per notify on the registry's thread.
    virtual QJSValue scriptValue(const void *event, QJSEngine *engine) = 0;

protected:
    ~QmlTypedRegistryOps() = default;
};

template <typename E>
class QmlTypedRegistryCore;

struct QmlTypedSenderState;

} // namespace detail

/// The non-template half of QmlTypedSender<E>.
class RIO_QML_EXPORT QmlTypedSenderBase
{
public:
    /// True while the registry lives.
    [[nodiscard]] bool isAlive() const;

protected:
    /// An empty sender.
    QmlTypedSenderBase() noexcept = default;
    /// Notifies the registry with `event` (its E); false (and one warning) when it is gone.
    bool notifyErased(const void *event) const;

private:
    friend class QmlTypedRegistry;
    explicit QmlTypedSenderBase(std::shared_ptr<detail::QmlTypedSenderState> state) noexcept;

    std::shared_ptr<detail::QmlTypedSenderState> m_state;
};

/// A copyable, thread-safe reference to a typed registry of E events that may outlive it: C++
/// worker threads keep one instead of a raw pointer to a registry that QML owns.
template <typename E>
class QmlTypedSender : public QmlTypedSenderBase
{
public:
    /// An empty sender: notify() returns false.
    QmlTypedSender() noexcept = default;
    /// The sender a typed registry made (Name::sender() does this).
    explicit QmlTypedSender(const QmlTypedSenderBase &base) noexcept : QmlTypedSenderBase(base) { }

    /// Notifies the registry (see its notify) and returns true; when the registry was destroyed,
    /// drops the event, warns once in the `registryio` category and returns false. Do not destroy
    /// the registry from a C++ handler that this call runs directly.
    // NOLINTNEXTLINE(modernize-use-nodiscard): fire-and-forget is the common use
    bool notify(const E &event) const { return notifyErased(&event); }
};

/// The base of every typed registry (RIO_QML_TYPED_REGISTRY's `Name`): its handler count, remove
/// by id and failure reports. Not creatable from QML itself.
class RIO_QML_EXPORT QmlTypedRegistry : public QObject
{
    Q_OBJECT
    QML_ANONYMOUS
    /// Number of registered handlers (typed handlers and C++ ones).
    Q_PROPERTY(int count READ count NOTIFY countChanged FINAL)

public:
    /// Tells its handlers it is gone (done by the typed half first, while the facade exists).
    ~QmlTypedRegistry() override;

    /// Number of registered handlers.
    [[nodiscard]] int count() const noexcept;
    /// The event type this registry carries.
    [[nodiscard]] QMetaType eventType() const noexcept { return m_eventType; }
    /// Removes the handler with this id: true the first time, false for unknown ids and for
    /// anything that is not a positive integer. A typed handler removed so turns inactive.
    Q_INVOKABLE bool remove(double id);
    /// Registers the JavaScript function `handler` (higher priority first), called with each
    /// typed event; returns the handle, whose destruction or remove() removes it. A non-function:
    /// QML warning at the caller's line, null, nothing registered. Call it on the registry's thread.
    Q_INVOKABLE rio::HandlerSubscription *add(const QJSValue &handler, int priority = 0,
                                              const QJSValue &options = QJSValue());

Q_SIGNALS:
    /// The number of handlers changed.
    void countChanged();
    /// A typed handler's `handler` function threw (also printed as a QML warning with its file
    /// and line), or a C++ handler threw. Emitted on the registry's thread.
    void handlerFailed(double id, const QString &message);

protected:
    /// A registry of `eventType` events; the typed half attaches its facade.
    QmlTypedRegistry(QMetaType eventType, QObject *parent);
    /// A sender for this registry (the typed half wraps it in a QmlTypedSender).
    [[nodiscard]] QmlTypedSenderBase senderBase() const;

private:
    template <typename E>
    friend class detail::QmlTypedRegistryCore;
    friend class QmlTypedHandler;
    friend class HandlerSubscription;

    // Called by the typed half once its facade exists, and before it goes.
    void attach(detail::QmlTypedRegistryOps *ops, QtRegistryBase *facade);
    void detach() noexcept;
    // A QML warning at the JavaScript line that called us (the registry's declaration if none).
    void warnAtCaller(const QString &message) const;
    // Reports what the function of handler `id` threw.
    void reportThrown(HandlerId id, const QJSValue &thrown);
    // Emits handlerFailed for what an onNotified handler threw (the engine printed it).
    void reportFailure(HandlerId id, const QString &message);
    // Calls the function of `handle` with `event` (an E); this thread.
    void deliverToSubscription(HandlerSubscription *handle, const void *event);
    // Removes the registration of `handle` (`id`): true if it was registered.
    bool unsubscribe(HandlerId id);

    QMetaType m_eventType;
    detail::QmlTypedRegistryOps *m_ops = nullptr; // null once the registry is going
    QtRegistryBase *m_facade = nullptr;
    QHash<quint64, QmlTypedHandler *> m_registered;        // typed handlers registered here, by id
    QList<QmlTypedHandler *> m_watchers;                   // typed handlers whose `registry` is this one
    QHash<quint64, HandlerSubscription *> m_subscriptions; // add(fn)'s handles registered here, by id
    std::shared_ptr<detail::QmlTypedSenderState> m_senderState;
};

/// The base of every typed handler (RIO_QML_TYPED_REGISTRY's `Name##Handler`): every property of
/// RegistryHandler. The typed half adds the `notified(EventType event)` signal.
class RIO_QML_EXPORT QmlTypedHandler : public QObject, public QQmlParserStatus
{
    Q_OBJECT
    QML_ANONYMOUS
    Q_INTERFACES(QQmlParserStatus)
    /// The typed registry to listen to (of the same event type); changing it re-registers.
    Q_PROPERTY(rio::QmlTypedRegistry *registry READ registry WRITE setRegistry NOTIFY registryChanged FINAL)
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
    /// A function called with each event instead of emitting `notified` (no signal between; the
    /// event's JavaScript value is made once per notify and shared by the handlers of it).
    Q_PROPERTY(QJSValue handler READ handler WRITE setHandler NOTIFY handlerChanged FINAL)

public:
    /// What a full queue (`capacity` events waiting) does with the next event (rio::Overflow).
    enum Overflow : int {
        /// The oldest waiting event is dropped: the handler sees the newest ones (the default).
        DropOldest,
        /// The new event is dropped: the waiting ones stay.
        DropNewest,
        /// The notifying thread waits up to `blockTimeout` for room, then drops the new event.
        Block,
    };
    Q_ENUM(Overflow)

    /// Unregisters.
    ~QmlTypedHandler() override;

    /// The registry listened to.
    [[nodiscard]] QmlTypedRegistry *registry() const noexcept { return m_registry; }
    /// Sets the registry (re-registers); one of another event type warns and changes nothing.
    void setRegistry(QmlTypedRegistry *registry);
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
    [[nodiscard]] double handlerId() const noexcept
    {
        return m_active ? static_cast<double>(m_id.value()) : 0.0;
    }
    /// The function that takes each event instead of `notified` (undefined: the signal does).
    [[nodiscard]] QJSValue handler() const { return m_handler; }
    /// Sets it: a function, or undefined/null for the signal again; anything else warns and
    /// changes nothing. Re-registers.
    void setHandler(const QJSValue &handler);

    /// QQmlParserStatus: nothing before the component is complete.
    void classBegin() override { }
    /// QQmlParserStatus: registers.
    void componentComplete() override;

Q_SIGNALS:
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

protected:
    /// A handler of `eventType` events.
    QmlTypedHandler(QMetaType eventType, QObject *parent);
    /// Emits the typed `notified` signal with `event` (an EventType).
    virtual void emitNotified(const void *event) = 0;

private:
    template <typename E>
    friend class detail::QmlTypedRegistryCore;
    friend class QmlTypedRegistry;

    // Runs the handler for `event` (an EventType) on this object's thread.
    void deliver(const void *event);
    void reRegister();
    void reRegisterOnce();
    void unregister();
    void registryGone();
    void registrationEnded();
    void dropsReported(quint64 total);
    // Emits activeChanged and tells the bindings on `active`.
    void emitActiveChanged()
    {
        m_activeProperty.notify();
        Q_EMIT activeChanged();
    }

    QMetaType m_eventType;
    QPointer<QmlTypedRegistry> m_registry;
    QmlTypedRegistry *m_watched = nullptr;         // the registry whose watcher list has us
    QmlTypedRegistry *m_registeredOn = nullptr;    // where we are registered (it tells us when it goes)
    QMetaObject::Connection m_destroyedConnection; // a registry on another thread
    QMetaObject::Connection m_warningTap;          // the engine's warnings, while onNotified runs
    QJSValue m_handler;
    QJSManagedValue m_function;
    bool *m_alive = nullptr; // set to false by the destructor (a delivery in progress)
    HandlerId m_id;
    detail::QmlDeliverySettings m_delivery;
    quint64 m_dropped = 0;
    quint64 m_droppedBefore = 0;
    int m_priority = 0;
    bool m_enabled = true;
    bool m_once = false;
    bool m_coalesce = false;
    bool m_complete = false;
    bool m_fired = false;
    bool m_active = false;
    bool m_reRegistering = false;
    bool m_reRegisterAgain = false;
    Q_OBJECT_COMPUTED_PROPERTY(QmlTypedHandler, bool, m_activeProperty, &QmlTypedHandler::isActive)
};

} // namespace rio
