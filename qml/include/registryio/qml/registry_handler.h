// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/handler_id.h>
#include <registryio/qml/qml_export.h>
#include <registryio/qml/qml_handler_base.h>
#include <registryio/qml/qml_registry.h>

#include <QJSValue>
#include <QJsonObject>
#include <QObject>
#include <QPointer>
#include <QtQml/qqmlregistration.h>

namespace rio {

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
    /// This registration's counts and times as rio::Diagnostics records them (rio::toJson of its
    /// HandlerInfo: calls, failures, totalDrops, drops by reason, waiting, runTime...); calls and
    /// run times while diagnostics are on. An empty object while not registered.
    [[nodiscard]] Q_INVOKABLE QJsonObject diagnostics() const;

Q_SIGNALS:
    /// An event arrived (on this object's thread), as one JavaScript value per notify, shared by
    /// every handler of that notify; not emitted while `handler` is set.
    void notified(const QJSValue &event);
    /// The registry property changed.
    void registryChanged();

private:
    void registerNow() override;
    void emitNotified(const void *event, QJSEngine *engine) override;
    void forgetRegistry() override;

    QPointer<QmlRegistry> m_registry;
};

} // namespace rio
