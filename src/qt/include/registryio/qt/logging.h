// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/qt/qt_export.h>

#include <QLoggingCategory>

// RegistryIO's logging categories, one tree under `registryio` (QT_LOGGING_RULES="registryio*=false"
// silences them all). Declared here and defined in src/qt/src/logging.cpp only; the installed
// share/qlogging-categories6/registryio.categories lists them for Qt's and KDE's logging tools.
// Each is what Q_DECLARE_LOGGING_CATEGORY declares, exported (Qt 6.4 has no exported variant).

namespace rio {

/// `registryio`: handler failures, refused input and dropped deliveries of the Qt facade.
RIO_QT_EXPORT const QLoggingCategory &lcRegistryIO();

/// `registryio.qml`: what the QML layer drops or refuses outside a QML call (a call from QML
/// reports through the QML engine's warnings, with the file and line).
RIO_QT_EXPORT const QLoggingCategory &lcRegistryIOQml();

/// `registryio.remote`: peers a RemoteListener drops, and why; refused shares and subscriptions.
RIO_QT_EXPORT const QLoggingCategory &lcRegistryIORemote();

/// `registryio.diagnostics`: slow and stalled handlers (warnings, on by default); enabling its
/// debug output enables diagnostics process-wide.
RIO_QT_EXPORT const QLoggingCategory &lcDiagnostics();

} // namespace rio
