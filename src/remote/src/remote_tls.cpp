// SPDX-License-Identifier: MIT
#include <registryio/remote/remote_tls.h>

#include "remote_transport_p.h"

#include <QRemoteObjectNode>
#include <QSslConfiguration>
#include <QVariant>

namespace rio {

void setRemoteTlsConfiguration(QRemoteObjectNode *node, const QSslConfiguration &configuration)
{
    // connectToSource() reads it from the node when it connects to a tls: URL.
    if (node)
        node->setProperty(detail::RemoteTlsConfigurationProperty, QVariant::fromValue(configuration));
}

} // namespace rio
