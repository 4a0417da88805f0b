// SPDX-License-Identifier: MIT
#pragma once

namespace rio::detail {

/// The node property that holds a node's TLS configuration (setRemoteTlsConfiguration).
inline constexpr const char *RemoteTlsConfigurationProperty = "_rio_remote_tls";

} // namespace rio::detail
