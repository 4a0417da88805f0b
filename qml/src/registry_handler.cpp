// SPDX-License-Identifier: MIT
#include "qml_registry_shared.h"

#include <registryio/qml/registry_handler.h>
#include <registryio/qt/diagnostics.h>

#include <QQmlInfo>
#include <QThread>

namespace rio {

RegistryHandler::RegistryHandler(QObject *parent) : QmlHandlerBase(parent) { }

RegistryHandler::~RegistryHandler()
{
    leaveRegistry();
}

void RegistryHandler::setRegistry(QmlRegistry *registry)
{
    if (m_registry == registry)
        return;
    if (registry != nullptr && !registry->m_shared->watching) {
        qmlWarning(this) << "the registry is being destroyed; the registry is unchanged";
        return;
    }
    watchRegistry(registry, registry != nullptr ? registry->m_shared : nullptr);
    m_registry = registry;
    reRegister();
    Q_EMIT registryChanged();
}

QJsonObject RegistryHandler::diagnostics() const
{
    const auto id = static_cast<quint64>(handlerId());
    if (id == 0 || !m_registry)
        return {};
    const RegistryInfo registry = Diagnostics::snapshot(m_registry->registry().registryId());
    for (const HandlerInfo &h : registry.handlers)
        if (h.id.value() == id)
            return toJson(h);
    return {};
}

void RegistryHandler::registerNow()
{
    if (!m_registry) { // NOLINT(bugprone-branch-clone): each empty branch is its own case
        // Silent, like Connections with a null target: a binding may set it later.
    } else if (m_registry->thread() != thread()) {
        qmlWarning(this) << "the registry lives on another thread; nothing is registered";
    } else {
        registerWith(m_registry->m_shared);
    }
}

void RegistryHandler::emitNotified(const void *event, QJSEngine *engine)
{
    Q_EMIT notified(eventValue(event, engine));
}

void RegistryHandler::forgetRegistry()
{
    m_registry.clear();
    Q_EMIT registryChanged();
}

} // namespace rio
