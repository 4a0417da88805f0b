// SPDX-License-Identifier: MIT
#pragma once

// Typed registries for QML: RIO_QML_TYPED_REGISTRY(Name, EventType) declares, in the user's own
// QML module, a registry type `Name` and a declarative handler type `Name##Handler` whose
// `notified(EventType event)` signal is typed, so qmllint and the QML compiler know the event's
// properties (a Q_GADGET with QML_VALUE_TYPE, or int, double, QString...). Every other property
// comes from the library's QmlTypedRegistry and QmlTypedHandler (qml_typed_handler.h).

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/handler_id.h>
#include <registryio/qml/detail/qml_facade.h>
#include <registryio/qml/handler_subscription.h>
#include <registryio/qml/qml_typed_handler.h>
#include <registryio/qt/delivery.h>
#include <registryio/qt/qt_registry.h>

#include <QJSEngine>
#include <QJSValue>
#include <QList>
#include <QMetaProperty>
#include <QObject>
#include <QPointer>
#include <QThread>
#include <QVariant>
#include <QVariantMap>
#include <QtQml/qqmlregistration.h>

#include <memory>
#include <type_traits>
#include <utility>

namespace rio::detail {

template <typename E>
concept QmlGadget = requires { E::staticMetaObject; } && !std::is_base_of_v<QObject, E>;

/// True for a plain JavaScript object (not an array, function, QObject, wrapped value, date,
/// regular expression or error): what a gadget event may be written as.
inline bool qmlIsPlainObject(const QJSValue &value)
{
    if (!value.isObject() || value.isArray() || value.isCallable() || value.isQObject() || value.isDate() ||
        value.isRegExp() || value.isError() || value.isQMetaObject())
        return false;
#if QT_VERSION >= QT_VERSION_CHECK(6, 8, 0)
    // isVariant() is deprecated from Qt 6.8's headers on. A value wrapping a C++ value (a
    // QVariant, a value type) converts to that value; a plain object, kept, to a QJSValue.
    return value.toVariant(QJSValue::RetainJSObjects).metaType() == QMetaType::fromType<QJSValue>();
#else
    return !value.isVariant();
#endif
}

/// Writes each own enumerable property of the plain object `object` to the gadget `out` (of
/// meta-object `mo`): false if there is none, or one names no property of the gadget, or its value
/// does not convert.
RIO_QML_EXPORT bool qmlGadgetFromObject(const QJSValue &object, const QMetaObject &mo, void *out);

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
        const QMetaObject &mo = E::staticMetaObject;
        QVariantMap map;
        if (value.metaType() == QMetaType::fromType<QJSValue>()) {
            const auto *script = static_cast<const QJSValue *>(value.constData());
            if (qmlIsPlainObject(*script)) {
                // A plain JavaScript object: its keys are matched to E's properties as they come,
                // without the QVariantMap copy of the whole object (same keys, same values).
                return qmlGadgetFromObject(*script, mo, &out);
            }
            map = script->toVariant().toMap();
        } else if (value.canConvert<QVariantMap>())
            map = value.toMap();
        else
            return false;
        if (map.isEmpty())
            return false;
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

/// The typed half of a typed registry: its QtRegistry<E>, the typed notify, and the JavaScript
/// value of the event being delivered, made once per notify on the registry's thread.
template <typename E>
class QmlTypedRegistryCore final : public QmlTypedRegistryOps
{
public:
    explicit QmlTypedRegistryCore(QmlTypedRegistry *owner)
        : m_owner(owner), m_registry(std::make_shared<QmlHeldRegistry<E>>(owner))
    {
        owner->attach(this, m_registry.get(), m_registry.get());
    }
    ~QmlTypedRegistryCore()
    {
        m_owner->detach(); // its handlers go while the facade exists
    }
    QmlTypedRegistryCore(const QmlTypedRegistryCore &) = delete;
    QmlTypedRegistryCore &operator=(const QmlTypedRegistryCore &) = delete;

    /// The facade, for C++ code: the one table and dispatch of every handler.
    QtRegistry<E> &registry() noexcept { return *m_registry; }
    const QtRegistry<E> &registry() const noexcept { return *m_registry; }

    void notify(const E &event) const
    {
        if (currentQThread() != m_owner->thread()) {
            m_registry->notify(event);
            return;
        }
        // The handlers of this notify share one JavaScript value; a nested notify has its own
        // and gives this one back. A handler may destroy the registry, and us with it: the
        // facade (whose notify must not outlive it) lives on until this notify ends.
        const QmlNotifyValue::Scope scope(m_value, &event, nullptr);
        const std::shared_ptr<QmlHeldRegistry<E>> facade = m_registry;
        facade->notifyOnHolderThread(event);
    }

    bool notifyFromQml(const QVariant &event, const char *name, const char *typeName) const
    {
        E value{};
        if (!qmlEventFromVariant(event, value)) {
            m_owner->warnAtCaller(QStringLiteral("%1.notify: the event is not a %2; nothing was delivered")
                                      .arg(QLatin1String(name), QLatin1String(typeName)));
            return false;
        }
        notify(value);
        return true;
    }

    HandlerId addTarget(QmlDelivery delivery, const HandlerOptions &options) override
    {
        QObject *const context = delivery.context(m_owner, options);
        return m_registry->addDelivery(context, std::move(delivery), options);
    }
    void notifyEvent(const void *event) const override { notify(*static_cast<const E *>(event)); }
    HandlerId addLatest() override
    {
        return m_registry->add(
            m_owner, [owner = m_owner](const E &event) { owner->offerLatest(QVariant::fromValue(event)); },
            {.connection = Qt::QueuedConnection, .delivery = Delivery::Latest});
    }
    Connection addKeyedRows(std::shared_ptr<LatestRows> rows, int keyProperty) override
    {
        if constexpr (QmlGadget<E>) {
            const QMetaProperty property = E::staticMetaObject.property(keyProperty);
            const HandlerId id = m_registry->add([rows = std::move(rows), property](const E &event) {
                latestRowsWrite(*rows, property.readOnGadget(&event), QVariant::fromValue(event));
            });
            return m_registry->connection(id);
        } else {
            static_cast<void>(rows);
            static_cast<void>(keyProperty);
            return {}; // no fields: the model warns
        }
    }
    const QList<QJSValue> &scriptArguments(const void *event, QJSEngine *engine) override
    {
        return m_value.arguments(event, engine);
    }

private:
    QmlTypedRegistry *m_owner;
    std::shared_ptr<QmlHeldRegistry<E>> m_registry; // held: its handlers' context is the owner
    mutable QmlNotifyValue m_value{[](QJSEngine *engine, const void *event) {
        return engine->toScriptValue(*static_cast<const E *>(event));
    }};
};

} // namespace rio::detail

// NOLINTBEGIN(cppcoreguidelines-macro-usage,bugprone-macro-parentheses)

// The base classes are named without a leading `::`: qmltyperegistrar finds a prototype by its
// plain qualified name.
/// Declares the QML types `Name` (a registry of `EventType` events) and `Name##Handler` (its
/// declarative handler, with a typed `notified(EventType event)`), in a header of the user's QML
/// module. Add RIO_QML_TYPED_REGISTRY to the target's AUTOMOC_MACRO_NAMES (rio_target_qml() does).
#define RIO_QML_TYPED_REGISTRY(Name, EventType)                                                              \
    class Name : public rio::QmlTypedRegistry                                                                \
    {                                                                                                        \
        Q_OBJECT                                                                                             \
        QML_ELEMENT                                                                                          \
    public:                                                                                                  \
        explicit Name(QObject *parent = nullptr)                                                             \
            : ::rio::QmlTypedRegistry(QMetaType::fromType<EventType>(), parent), m_typed(this)               \
        { }                                                                                                  \
        /* Delivers the event to every handler in priority order (any thread). */                            \
        void notify(const EventType &event) const                                                            \
        {                                                                                                    \
            m_typed.notify(event);                                                                           \
        }                                                                                                    \
        /* From QML: an EventType value, or an object whose keys name its properties. */                     \
        Q_INVOKABLE bool notify(const QVariant &event) const                                                 \
        {                                                                                                    \
            return m_typed.notifyFromQml(event, #Name, #EventType);                                          \
        }                                                                                                    \
        /* The C++ facade underneath (C++ handlers, setSuspended, droppedCount...). */                       \
        ::rio::QtRegistry<EventType> &registry() noexcept                                                    \
        {                                                                                                    \
            return m_typed.registry();                                                                       \
        }                                                                                                    \
        const ::rio::QtRegistry<EventType> &registry() const noexcept                                        \
        {                                                                                                    \
            return m_typed.registry();                                                                       \
        }                                                                                                    \
        /* A thread-safe reference for C++ workers that may outlive this registry. */                        \
        ::rio::QmlTypedSender<EventType> sender() const                                                      \
        {                                                                                                    \
            return ::rio::QmlTypedSender<EventType>(senderBase());                                           \
        }                                                                                                    \
                                                                                                             \
    private:                                                                                                 \
        ::rio::detail::QmlTypedRegistryCore<EventType> m_typed;                                              \
    };                                                                                                       \
    class Name##Handler : public rio::QmlTypedHandler                                                        \
    {                                                                                                        \
        Q_OBJECT                                                                                             \
        QML_ELEMENT                                                                                          \
    public:                                                                                                  \
        explicit Name##Handler(QObject *parent = nullptr)                                                    \
            : ::rio::QmlTypedHandler(QMetaType::fromType<EventType>(), parent)                               \
        { }                                                                                                  \
    Q_SIGNALS:                                                                                               \
        /* An event arrived (on this object's thread); not emitted while `handler` is set. */                \
        void notified(const EventType &event);                                                               \
                                                                                                             \
    private:                                                                                                 \
        void emitNotified(const void *event, QJSEngine *) override                                           \
        {                                                                                                    \
            Q_EMIT notified(*static_cast<const EventType *>(event));                                         \
        }                                                                                                    \
    };

// NOLINTEND(cppcoreguidelines-macro-usage,bugprone-macro-parentheses)
