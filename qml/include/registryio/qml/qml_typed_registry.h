// SPDX-License-Identifier: MIT
#pragma once

// Typed registries for QML: RIO_QML_TYPED_REGISTRY(Name, EventType) declares, in the user's own
// QML module, a registry type `Name` and a declarative handler type `Name##Handler` whose
// `notified(EventType event)` signal is typed, so qmllint and the QML compiler know the event's
// properties (a Q_GADGET with QML_VALUE_TYPE, or int, double, QString...).

#include <registryio/handler_id.h>
#include <registryio/qml/detail/delivery.h>
#include <registryio/qt/delivery.h>
#include <registryio/qt/qt_registry.h>

#include <QJSValue>
#include <QMetaProperty>
#include <QObject>
#include <QPointer>
#include <QQmlParserStatus>
#include <QVariant>
#include <QVariantMap>
#include <QtQml/qqmlregistration.h>

#include <exception>
#include <type_traits>
#include <utility>

namespace rio::detail {

template <typename E>
concept QmlGadget = requires { E::staticMetaObject; } && !std::is_base_of_v<QObject, E>;

/// The event `value` holds, converted to E: E itself, anything QVariant converts to E, or (for a
/// Q_GADGET) a JavaScript object / QVariantMap whose keys name E's properties. False otherwise.
template <typename E>
bool qmlEventFromVariant(const QVariant &value, E &out)
{
    if (value.metaType() == QMetaType::fromType<E>()) {
        out = *static_cast<const E *>(value.constData());
        return true;
    }
    if constexpr (QmlGadget<E>) {
        QVariantMap map;
        if (value.metaType() == QMetaType::fromType<QJSValue>())
            map = value.value<QJSValue>().toVariant().toMap();
        else if (value.canConvert<QVariantMap>())
            map = value.toMap();
        else
            return false;
        if (map.isEmpty())
            return false;
        const QMetaObject &mo = E::staticMetaObject;
        for (auto it = map.cbegin(); it != map.cend(); ++it) {
            const int index = mo.indexOfProperty(it.key().toUtf8().constData());
            if (index < 0 || !mo.property(index).writeOnGadget(&out, it.value()))
                return false;
        }
        return true;
    } else {
        if (!value.canConvert<E>())
            return false;
        out = value.value<E>();
        return true;
    }
}

/// The state of one typed handler (Name##Handler): registers on the registry, follows its
/// properties, and delivers through the owner's `notified` signal.
template <typename E>
class QmlTypedHandlerState
{
public:
    QPointer<QObject> registry;      // what the `registry` property says (a typed registry)
    QtRegistry<E> *target = nullptr; // its QtRegistry, while `registry` is set
    QPointer<QObject> registeredOn;  // where the handler is registered
    QtRegistry<E> *registeredTarget = nullptr;
    QMetaObject::Connection destroyedConnection;
    HandlerId id;
    int priority = 0;
    bool enabled = true;
    bool coalesce = false;
    QmlDeliverySettings delivery; // capacity and overflow, as RegistryHandler has them
    bool complete = false;
    bool active = false;

    // Re-registers; `emitActive` when `active` changed. `deliver` is called with each event.
    template <typename Owner, typename Deliver>
    bool reRegister(Owner *owner, Deliver deliver)
    {
        if (!complete)
            return false;
        const bool was = active;
        unregister();
        if (enabled && registry && target != nullptr && registry->thread() == owner->thread()) {
            id = target->add(
                registry.data(),
                [self = QPointer<Owner>(owner), deliver](const E &event) {
                    if (self)
                        deliver(self.data(), event);
                },
                delivery.options(coalesce, priority));
            registeredOn = registry;
            registeredTarget = target;
            active = true;
        }
        return was != active;
    }

    void unregister()
    {
        if (registeredOn && registeredTarget != nullptr)
            registeredTarget->remove(id);
        registeredOn.clear();
        registeredTarget = nullptr;
        id = HandlerId{};
        active = false;
    }
};

} // namespace rio::detail

// NOLINTBEGIN(cppcoreguidelines-macro-usage,bugprone-macro-parentheses)

/// Declares the QML types `Name` (a registry of `EventType` events) and `Name##Handler` (its
/// declarative handler with a typed `notified(EventType event)` signal). Put it in a header of
/// the user's QML module (qt_add_qml_module SOURCES) and add RIO_QML_TYPED_REGISTRY to the
/// target's AUTOMOC_MACRO_NAMES (rio_qml_module_dependencies() does).
#define RIO_QML_TYPED_REGISTRY(Name, EventType)                                                              \
    class Name : public QObject                                                                              \
    {                                                                                                        \
        Q_OBJECT                                                                                             \
        QML_ELEMENT                                                                                          \
        Q_PROPERTY(int count READ count NOTIFY countChanged FINAL)                                           \
    public:                                                                                                  \
        explicit Name(QObject *parent = nullptr) : QObject(parent), m_registry(this)                         \
        {                                                                                                    \
            QObject::connect(&m_registry, &::rio::QtRegistryBase::countChanged, this, &Name::countChanged);  \
        }                                                                                                    \
        ~Name() override                                                                                     \
        {                                                                                                    \
            m_registry.clear();                                                                              \
        }                                                                                                    \
        /* Delivers the event to every handler in priority order (any thread). */                            \
        void notify(const EventType &event) const                                                            \
        {                                                                                                    \
            m_registry.notify(event);                                                                        \
        }                                                                                                    \
        /* From QML: an EventType value, or an object whose keys name its properties. */                     \
        Q_INVOKABLE bool notify(const QVariant &event) const                                                 \
        {                                                                                                    \
            EventType value{};                                                                               \
            if (!::rio::detail::qmlEventFromVariant(event, value)) {                                         \
                qWarning("%s.notify: the event is not a %s; nothing was delivered", #Name, #EventType);      \
                return false;                                                                                \
            }                                                                                                \
            m_registry.notify(value);                                                                        \
            return true;                                                                                     \
        }                                                                                                    \
        int count() const noexcept                                                                           \
        {                                                                                                    \
            return m_registry.count();                                                                       \
        }                                                                                                    \
        ::rio::QtRegistry<EventType> &registry() noexcept                                                    \
        {                                                                                                    \
            return m_registry;                                                                               \
        }                                                                                                    \
        const ::rio::QtRegistry<EventType> &registry() const noexcept                                        \
        {                                                                                                    \
            return m_registry;                                                                               \
        }                                                                                                    \
    Q_SIGNALS:                                                                                               \
        void countChanged();                                                                                 \
                                                                                                             \
    private:                                                                                                 \
        ::rio::detail::HeldQtRegistry<EventType> m_registry;                                                 \
    };                                                                                                       \
    class Name##Handler : public QObject, public QQmlParserStatus                                            \
    {                                                                                                        \
        Q_OBJECT                                                                                             \
        QML_ELEMENT                                                                                          \
        Q_INTERFACES(QQmlParserStatus)                                                                       \
        Q_PROPERTY(Name *registry READ registry WRITE setRegistry NOTIFY registryChanged FINAL)              \
        Q_PROPERTY(int priority READ priority WRITE setPriority NOTIFY priorityChanged FINAL)                \
        Q_PROPERTY(bool enabled READ isEnabled WRITE setEnabled NOTIFY enabledChanged FINAL)                 \
        Q_PROPERTY(bool coalesce READ coalesce WRITE setCoalesce NOTIFY coalesceChanged FINAL)               \
        Q_PROPERTY(int capacity READ capacity WRITE setCapacity NOTIFY capacityChanged FINAL)                \
        Q_PROPERTY(Overflow overflow READ overflow WRITE setOverflow NOTIFY overflowChanged FINAL)           \
        Q_PROPERTY(bool active READ isActive NOTIFY activeChanged FINAL)                                     \
    public:                                                                                                  \
        explicit Name##Handler(QObject *parent = nullptr) : QObject(parent) { }                              \
        /* As RegistryHandler.Overflow, under this type: Name##Handler.DropNewest... */                      \
        enum Overflow : int { DropOldest, DropNewest, Block };                                               \
        Q_ENUM(Overflow)                                                                                     \
        static_assert(int(DropNewest) == int(::rio::Overflow::DropNewest));                                  \
        ~Name##Handler() override                                                                            \
        {                                                                                                    \
            m_state.unregister();                                                                            \
        }                                                                                                    \
        Name *registry() const                                                                               \
        {                                                                                                    \
            return static_cast<Name *>(m_state.registry.data());                                             \
        }                                                                                                    \
        void setRegistry(Name *registry)                                                                     \
        {                                                                                                    \
            if (m_state.registry == registry)                                                                \
                return;                                                                                      \
            QObject::disconnect(m_state.destroyedConnection);                                                \
            m_state.registry = registry;                                                                     \
            m_state.target = registry != nullptr ? &registry->registry() : nullptr;                          \
            if (registry != nullptr)                                                                         \
                m_state.destroyedConnection = QObject::connect(registry, &QObject::destroyed, this, [this] { \
                    m_state.registeredOn.clear();                                                            \
                    m_state.registeredTarget = nullptr;                                                      \
                    m_state.target = nullptr;                                                                \
                    m_state.active = false;                                                                  \
                    Q_EMIT registryChanged();                                                                \
                    Q_EMIT activeChanged();                                                                  \
                });                                                                                          \
            update();                                                                                        \
            Q_EMIT registryChanged();                                                                        \
        }                                                                                                    \
        int priority() const noexcept                                                                        \
        {                                                                                                    \
            return m_state.priority;                                                                         \
        }                                                                                                    \
        void setPriority(int priority)                                                                       \
        {                                                                                                    \
            if (std::exchange(m_state.priority, priority) != priority) {                                     \
                update();                                                                                    \
                Q_EMIT priorityChanged();                                                                    \
            }                                                                                                \
        }                                                                                                    \
        bool isEnabled() const noexcept                                                                      \
        {                                                                                                    \
            return m_state.enabled;                                                                          \
        }                                                                                                    \
        void setEnabled(bool enabled)                                                                        \
        {                                                                                                    \
            if (std::exchange(m_state.enabled, enabled) != enabled) {                                        \
                update();                                                                                    \
                Q_EMIT enabledChanged();                                                                     \
            }                                                                                                \
        }                                                                                                    \
        bool coalesce() const noexcept                                                                       \
        {                                                                                                    \
            return m_state.coalesce;                                                                         \
        }                                                                                                    \
        void setCoalesce(bool coalesce)                                                                      \
        {                                                                                                    \
            if (std::exchange(m_state.coalesce, coalesce) != coalesce) {                                     \
                update();                                                                                    \
                Q_EMIT coalesceChanged();                                                                    \
            }                                                                                                \
        }                                                                                                    \
        int capacity() const noexcept                                                                        \
        {                                                                                                    \
            return m_state.delivery.capacity;                                                                \
        }                                                                                                    \
        void setCapacity(int capacity)                                                                       \
        {                                                                                                    \
            if (m_state.delivery.setCapacity(this, capacity)) {                                              \
                update();                                                                                    \
                Q_EMIT capacityChanged();                                                                    \
            }                                                                                                \
        }                                                                                                    \
        Overflow overflow() const noexcept                                                                   \
        {                                                                                                    \
            return Overflow(m_state.delivery.overflow);                                                      \
        }                                                                                                    \
        void setOverflow(Overflow overflow)                                                                  \
        {                                                                                                    \
            if (m_state.delivery.setOverflow(this, int(overflow))) {                                         \
                update();                                                                                    \
                Q_EMIT overflowChanged();                                                                    \
            }                                                                                                \
        }                                                                                                    \
        bool isActive() const noexcept                                                                       \
        {                                                                                                    \
            return m_state.active;                                                                           \
        }                                                                                                    \
        void classBegin() override { }                                                                       \
        void componentComplete() override                                                                    \
        {                                                                                                    \
            m_state.complete = true;                                                                         \
            update();                                                                                        \
        }                                                                                                    \
    Q_SIGNALS:                                                                                               \
        void notified(const EventType &event);                                                               \
        void registryChanged();                                                                              \
        void priorityChanged();                                                                              \
        void enabledChanged();                                                                               \
        void coalesceChanged();                                                                              \
        void capacityChanged();                                                                              \
        void overflowChanged();                                                                              \
        void activeChanged();                                                                                \
                                                                                                             \
    private:                                                                                                 \
        void update()                                                                                        \
        {                                                                                                    \
            if (m_state.reRegister(this, [](Name##Handler *self, const EventType &event) {                   \
                    Q_EMIT self->notified(event);                                                            \
                }))                                                                                          \
                Q_EMIT activeChanged();                                                                      \
        }                                                                                                    \
        ::rio::detail::QmlTypedHandlerState<EventType> m_state;                                              \
    };

// NOLINTEND(cppcoreguidelines-macro-usage,bugprone-macro-parentheses)
