// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/handler_id.h>
#include <registryio/qml/qml_export.h>

#include <QJSManagedValue>
#include <QJSValue>
#include <QObject>
#include <QPointer>
#include <QProperty>
#include <QVariant>
#include <QtQml/qqmlregistration.h>

#include <memory>

class QJSEngine;

namespace rio {

namespace detail {
struct QmlRegistryShared;
struct QmlDelivery;
} // namespace detail

/// What QmlRegistry.add() and a typed registry's add() return: destroying it (or its owner)
/// removes the handler.
class RIO_QML_EXPORT HandlerSubscription : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("HandlerSubscription is returned by QmlRegistry.add()")
    /// The handler's id (a positive integer, never reused within its registry).
    Q_PROPERTY(double id READ id CONSTANT FINAL)
    /// The handler's priority.
    Q_PROPERTY(int priority READ priority CONSTANT FINAL)
    /// Events the overflow policy (options.capacity, options.overflow) dropped so far.
    Q_PROPERTY(double dropped READ dropped NOTIFY droppedChanged FINAL)
    /// True while the handler is registered.
    Q_PROPERTY(bool active READ isActive NOTIFY activeChanged BINDABLE bindableActive FINAL)

public:
    /// Removes the handler, if it is still registered.
    ~HandlerSubscription() override;

    /// The handler's id as a JavaScript number.
    [[nodiscard]] double id() const noexcept { return static_cast<double>(m_id.value()); }
    /// The handler's id.
    [[nodiscard]] HandlerId handlerId() const noexcept { return m_id; }
    /// The handler's priority.
    [[nodiscard]] int priority() const noexcept { return m_priority; }
    /// Events dropped so far by the overflow policy.
    [[nodiscard]] double dropped() const noexcept { return static_cast<double>(m_dropped); }
    /// True while the handler is registered.
    [[nodiscard]] bool isActive() const noexcept { return m_active; }
    /// `active` as a bindable property.
    [[nodiscard]] QBindable<bool> bindableActive() const { return &m_activeProperty; }

    /// Removes the handler (the handle stays, inactive): true the first time.
    Q_INVOKABLE bool remove();

Q_SIGNALS:
    /// The handler was removed (or, for `once`, fired).
    void activeChanged();
    /// More events were dropped (`dropped` grew); emitted on the registry's thread.
    void droppedChanged();

private:
    friend struct detail::QmlRegistryShared; // makes and registers handles
    class Registration;
    HandlerSubscription(std::shared_ptr<detail::QmlRegistryShared> shared, QJSEngine *engine,
                        const QJSValue &handler, int priority, bool once, QObject *parent);

    // What the facade's handler holds: our deliveries, and how its removal reaches us.
    [[nodiscard]] detail::QmlDelivery delivery();
    // The facade's delivery of `event` (the registry's event type) to the handle `target`.
    static void deliverTo(QObject *target, detail::QmlRegistryShared &shared, quint64 token,
                          const void *event);
    // The handler left the registry: inactive from now on.
    void deactivate();
    // The registry ended the registration behind our back, `dropped` drops so far.
    void registrationEnded(quint64 dropped);
    // The registry reported `total` drops of this handler.
    void dropsReported(quint64 total);

    std::shared_ptr<detail::QmlRegistryShared> m_shared; // the registry's bookkeeping (outlives it)
    std::unique_ptr<Registration> m_registration;
    QPointer<QJSEngine> m_engine;
    QJSManagedValue m_function; // called directly; what it throws stays in the engine for us
    // Our own JavaScript wrapper while registered: a persistent reference, so the garbage
    // collector leaves us alone without a parent (a registry's children list would make every
    // handle's destruction O(handles)).
    QJSValue m_keepAlive;
    HandlerId m_id;
    quint64 m_dropped = 0;
    int m_priority = 0;
    bool m_once = false;
    bool m_active = false;
    bool *m_alive = nullptr; // cleared by the destructor while a call to the function runs
    // Emits activeChanged and tells the bindings on `active`.
    void emitActiveChanged()
    {
        m_activeProperty.notify();
        Q_EMIT activeChanged();
    }
    Q_OBJECT_COMPUTED_PROPERTY(HandlerSubscription, bool, m_activeProperty, &HandlerSubscription::isActive)
};

} // namespace rio
