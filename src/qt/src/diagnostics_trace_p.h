// SPDX-License-Identifier: MIT
#pragma once

// The frame timeline's trace as text, for the serving module (src/inspect), which sends it as it
// is. Not installed, not API.

#include <registryio/qt/qt_export.h>

#include <QByteArray>

#include <chrono>

namespace rio::detail {

/// Diagnostics::toTrace(last) as compact JSON text, written at once (without a QJsonDocument).
RIO_QT_EXPORT QByteArray traceJson(std::chrono::nanoseconds last);

} // namespace rio::detail
