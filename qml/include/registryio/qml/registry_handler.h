// SPDX-License-Identifier: MIT
#pragma once

#include <registryio/handler_id.h>
#include <registryio/qml/qml_export.h>
#include <registryio/qml/qml_handler_base.h>
#include <registryio/qml/qml_registry.h>

#include <QJSValue>
#include <QMetaObject>
#include <QObject>
#include <QPointer>
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
/// signal hop, `RegistryHandler { registry: r; handler: (event) => ... }`. Its other properties
/// (priority, enabled, once, coalesce, capacity, overflow, handler...) are QmlHandlerBase's.
class RIO_QML_EXPORT RegistryHandler : public rio::QmlHandlerBase
{
    Q_OBJECT
    QML_ELEMENT
    /// The registry to listen to; changing it re-registers.
    Q_PROPERTY(rio::QmlRegistry *registry READ registry WRITE setRegistry NOTIFY registryChanged FINAL)

public:
    /// A handler with no registry yet.
    explicit RegistryHandler(QObject *parent = nullptr);
    /// Unregisters.
    ~RegistryHandler() override;

    /// The registry listened to.
    [[nodiscard]] QmlRegistry *registry() const noexcept { return m_registry; }
    /// Sets the registry (re-registers).
    void setRegistry(QmlRegistry *registry);

Q_SIGNALS:
    /// An event arrived (on this object's thread), as one JavaScript value per notify, shared by
    /// every handler of that notify; not emitted while `handler` is set.
    void notified(const QJSValue &event);
    /// The registry property changed.
    void registryChanged();

private:
    class Registration;
    void unregister() override;
    void registerNow() override;
    void deliver(const QVariant &event);
    void deliverDirect(const QJSValue &value);
    void emitNotified(detail::QmlRegistryShared &shared, QQmlEngine *engine, HandlerId id,
                      const QJSValue &value, bool &alive);
    void registryDestroyed();
    void registrationEnded();

    QPointer<QmlRegistry> m_registry;
    QPointer<QmlRegistry> m_registeredOn;
    QMetaObject::Connection m_destroyedConnection;  // a registry on another thread
    detail::QmlRegistryShared *m_watched = nullptr; // the registry watched on this thread
    std::unique_ptr<Registration> m_registration;
};

} // namespace rio
