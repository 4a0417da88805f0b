// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/remote/remote_export.h>

#include <QString>

QT_BEGIN_NAMESPACE
class QRemoteObjectNode;
class QSslConfiguration;
QT_END_NAMESPACE

namespace rio {

/// The URL scheme of TLS: a source listens with RemoteListener::listen(QUrl("tls://127.0.0.1:port"),
/// configuration), a subscriber connects with rio::connectToSource() after setRemoteTlsConfiguration().
inline constexpr const char *RemoteTlsScheme = "tls";

/// Makes `node` connect to `tls://host:port` URLs with `configuration` (the CA the source must chain
/// to, and this side's certificate and key when asked); a source failing the check is refused with a
/// warning and tried again. Call it on the node's thread before connectToSource().
RIO_REMOTE_EXPORT void setRemoteTlsConfiguration(QRemoteObjectNode *node,
                                                 const QSslConfiguration &configuration);

} // namespace rio
