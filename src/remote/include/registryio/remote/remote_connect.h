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

/// Connects `node` to the source that RemoteListener::listen() listens on at `url`
/// (`local:name`, `tcp://address:port`, or `tls://address:port` after setRemoteTlsConfiguration()),
/// through transports of RegistryIO's own that reconnect every 250 ms after a loss, also when the
/// source died in the middle of a packet. Plain Qt Remote Objects' `local:` and `tcp:` stay as
/// they are. False, with a warning, for a null node or another URL. Call it on the node's thread.
RIO_REMOTE_EXPORT bool connectToSource(QRemoteObjectNode *node, const QUrl &url);

} // namespace rio
