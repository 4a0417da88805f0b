// SPDX-License-Identifier: MIT
#pragma once

#include <QtGlobal>

namespace rio::detail {

/// Bytes a post adds to the event's own (version, origin).
inline constexpr qint64 RemotePostHeaderBytes = 9;

} // namespace rio::detail
