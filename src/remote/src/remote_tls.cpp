// SPDX-License-Identifier: MIT
#include <registryio/remote/remote_tls.h>

#include "remote_transport_p.h"

#include <QRemoteObjectNode>
#include <QSslConfiguration>
#include <QVariant>

namespace rio {

void setRemoteTlsConfiguration(QRemoteObjectNode *node, const QSslConfiguration &configuration)
{
    // The tls: connection type (remote_transport.cpp) reads it from the node that creates it.
    detail::registerRemoteClientTransports();
    if (node)
        node->setProperty(detail::RemoteTlsConfigurationProperty, QVariant::fromValue(configuration));
}

} // namespace rio
