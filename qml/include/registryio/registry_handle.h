#pragma once

#include <registryio/handler_id.h>
#include <registryio/qml_export.h>

#include <QJSValue>
#include <QObject>
#include <QPointer>
#include <QVariant>
#include <QtQml/qqmlregistration.h>

#include <memory>

class QJSEngine;

namespace rio {

namespace detail {
struct QmlRegistryShared;
} // namespace detail

/// What QmlRegistry.add() returns: destroying it (or its owner) removes the handler.
class RIO_QML_EXPORT RegistryHandle : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("RegistryHandle is returned by QmlRegistry.add()")
    /// The handler's id (a positive integer, never reused within its registry).
    Q_PROPERTY(double id READ id CONSTANT)
    /// The handler's priority.
    Q_PROPERTY(int priority READ priority CONSTANT)
    /// True while the handler is registered.
    Q_PROPERTY(bool active READ isActive NOTIFY activeChanged)

public:
    /// Removes the handler, if it is still registered.
    ~RegistryHandle() override;

    /// The handler's id as a JavaScript number.
    [[nodiscard]] double id() const noexcept { return static_cast<double>(m_id.value()); }
    /// The handler's id.
    [[nodiscard]] HandlerId handlerId() const noexcept { return m_id; }
    /// The handler's priority.
    [[nodiscard]] int priority() const noexcept { return m_priority; }
    /// True while the handler is registered.
    [[nodiscard]] bool isActive() const;

    /// Removes the handler (the handle stays, inactive): true the first time.
    Q_INVOKABLE bool remove();

Q_SIGNALS:
    /// The handler was removed (or, for `once`, fired).
    void activeChanged();

private:
    friend class QmlRegistry;
    RegistryHandle(std::shared_ptr<detail::QmlRegistryShared> shared, QJSEngine *engine, QJSValue handler,
                   int priority, QObject *parent);

    // Calls the JavaScript function on this thread and reports what it throws.
    void deliver(const QVariant &event);

    std::shared_ptr<detail::QmlRegistryShared> m_shared;
    QPointer<QJSEngine> m_engine;
    QJSValue m_handler;
    QJSValue m_trampoline; // calls the handler inside try/catch, so any thrown value is seen
    HandlerId m_id;
    int m_priority = 0;
    bool m_wasActive = false;
};

} // namespace rio
