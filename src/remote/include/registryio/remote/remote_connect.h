// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/remote/remote_export.h>

#include <QtGlobal>

QT_BEGIN_NAMESPACE
class QRemoteObjectNode;
class QUrl;
QT_END_NAMESPACE

namespace rio {

/// Connects `node` to the source listening at `url` (`local:name`, `tcp://address:port`, or
/// `tls://address:port` after setRemoteTlsConfiguration()) through RegistryIO's own transports,
/// which reconnect every 250 ms after a loss, screen what the source sends (the node acquires
/// dynamic replicas only), and leave Qt's own `local:` and `tcp:` as they are. Call it on the
/// node's thread; false, with a warning, for a null node or another URL.
RIO_REMOTE_EXPORT bool connectToSource(QRemoteObjectNode *node, const QUrl &url);

} // namespace rio
