// SPDX-License-Identifier: MIT
#include <registryio/remote/detail/remote_bridge.h>
#include <registryio/remote/remote_connect.h>
#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_qml_registry.h>

#include <QLoggingCategory>

namespace rio {

RemoteQmlRegistry::RemoteQmlRegistry(QObject *parent) : QmlRegistry(parent)
{
    // `name` (QmlRegistry's) is the shared name: a new one subscribes anew.
    connect(this, &QmlRegistry::nameChanged, this, &RemoteQmlRegistry::resubscribe);
}

RemoteQmlRegistry::~RemoteQmlRegistry()
{
    m_link.reset(); // its forwarding handler goes with it
    m_ownNode.reset();
}

void RemoteQmlRegistry::classBegin()
{
    m_complete = false;
}

void RemoteQmlRegistry::componentComplete()
{
    m_complete = true;
    resubscribe();
}

void RemoteQmlRegistry::setNode(QRemoteObjectNode *node)
{
    if (m_node == node)
        return;
    m_node = node;
    Q_EMIT nodeChanged();
    resubscribe();
}

void RemoteQmlRegistry::setUrl(const QUrl &url)
{
    if (m_url == url)
        return;
    m_url = url;
    Q_EMIT urlChanged();
    resubscribe();
}

RemoteQmlRegistry::State RemoteQmlRegistry::state() const noexcept
{
    return m_link ? State(int(m_link->state())) : Disconnected;
}

void RemoteQmlRegistry::resubscribe()
{
    if (!m_complete)
        return;
    const State before = state();
    m_link.reset(); // removes the forwarding handler (its context)
    if (m_ownNode)  // later: this may run in a handler, inside the node's own read
        m_ownNode.release()->deleteLater();
    QRemoteObjectNode *node = m_node;
    if (!node && m_url.isValid() && !m_url.isEmpty() && !name().isEmpty()) {
        m_ownNode = std::make_unique<QRemoteObjectNode>();
        if (!connectToSource(m_ownNode.get(), m_url))
            qCWarning(lcRegistryIORemote(), "RemoteRegistry: cannot connect to %s",
                      qPrintable(m_url.toString()));
        node = m_ownNode.get();
    }
    if (node && !name().isEmpty()) {
        // A handler may replace the link (a new name or node) or destroy this object: the rest of
        // a frame then goes to neither.
        using Bridge = detail::RemoteBridge<QVariant>;
        m_link = std::make_unique<RemoteSubscriber>(
            node, name(), Bridge::deliver(registry(), [this] { return m_link.get(); }));
        connect(m_link.get(), &RemoteSubscriber::stateChanged, this, &RemoteQmlRegistry::stateChanged);
        Bridge::forward(registry(), m_link.get());
    }
    if (state() != before)
        Q_EMIT stateChanged();
}

} // namespace rio
