// SPDX-License-Identifier: MIT
#pragma once

namespace rio::detail {

/// The node property that holds a node's TLS configuration (setRemoteTlsConfiguration).
inline constexpr const char *RemoteTlsConfigurationProperty = "_rio_remote_tls";

/// Makes Qt Remote Objects create RegistryIO's client connections for `local:`, `tcp:` and `tls:`
/// URLs (once per process; also done when the library is loaded, so that a node connected before
/// the first RemoteRegistry gets them too). They behave as Qt's own, except that every connection
/// starts reading at a packet boundary: Qt Remote Objects (6.4 to 6.8 at least) keeps the size of
/// a packet cut short by a dead connection and waits for that many bytes on the next one, so a
/// subscriber whose source died in the middle of a packet never saw the new source's handshake.
void registerRemoteClientTransports();

} // namespace rio::detail
