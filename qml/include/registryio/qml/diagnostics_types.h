// SPDX-License-Identifier: MIT
#pragma once

// Types of RegistryIO::Qt (for widget applications too) as QML types of the RegistryIO module:
// rio::DiagnosticsModel, and rio::LatestValue<T> as the type of a property that holds one.

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/qt/diagnostics_model.h>
#include <registryio/qt/latest_value.h>

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

/// Registers rio::LatestValueBase as `LatestValue` (its `value`), made in C++ only: a property of
/// that type holds a rio::LatestValue<T> given from C++.
struct LatestValueForeign
{
    Q_GADGET
    QML_FOREIGN(rio::LatestValueBase)
    QML_NAMED_ELEMENT(LatestValue)
    QML_UNCREATABLE("a rio::LatestValue<T> is made in C++")
};

} // namespace rio::detail
