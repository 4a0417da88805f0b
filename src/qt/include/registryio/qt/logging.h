// SPDX-License-Identifier: MIT
#pragma once

#include <registryio/qt/qt_export.h>

#include <QLoggingCategory>

// What Q_DECLARE_LOGGING_CATEGORY declares, exported (Qt 6.4 has no exported variant).
/// The logging category `registryio`: handler failures and refused input are reported here.
RIO_QT_EXPORT const QLoggingCategory &lcRegistryIO();
