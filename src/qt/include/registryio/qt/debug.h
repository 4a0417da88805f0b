// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/exception_info.h>
#include <registryio/handler_id.h>
#include <registryio/qt/qt_export.h>

#include <QDebug>
#include <QMetaType>

namespace rio {

/// Writes `rio::HandlerId(42)` (or `rio::HandlerId(invalid)`).
RIO_QT_EXPORT QDebug operator<<(QDebug debug, HandlerId id);

/// Writes the handler id and the message of a handler failure.
RIO_QT_EXPORT QDebug operator<<(QDebug debug, const ExceptionInfo &info);

} // namespace rio

/// HandlerId travels in QVariant and queued signals.
Q_DECLARE_METATYPE(rio::HandlerId)
