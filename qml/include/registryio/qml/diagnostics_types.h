// SPDX-License-Identifier: MIT
#pragma once

// rio::DiagnosticsModel as the QML type DiagnosticsModel of the RegistryIO module (the model
// lives in RegistryIO::Qt, for widget applications too).

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/qt/diagnostics_model.h>

#include <QObject>
#include <QtQml/qqml.h>
#include <QtQml/qqmlregistration.h>

namespace rio::detail {

/// Registers rio::DiagnosticsModel as `DiagnosticsModel` (refreshInterval, sortColumn,
/// descending, registryFilter, count, refresh(), formatDuration()).
struct DiagnosticsModelForeign
{
    Q_GADGET
    QML_FOREIGN(rio::DiagnosticsModel)
    QML_NAMED_ELEMENT(DiagnosticsModel)
};

} // namespace rio::detail
