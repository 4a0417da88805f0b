// SPDX-License-Identifier: MIT
// Every RegistryIO logging category, and nowhere else (tests/qt/check_logging_categories.cmake
// compares them with registryio.categories).
#include <registryio/qt/logging.h>

namespace rio {

Q_LOGGING_CATEGORY(lcRegistryIO, "registryio")
Q_LOGGING_CATEGORY(lcRegistryIOQml, "registryio.qml")
Q_LOGGING_CATEGORY(lcRegistryIORemote, "registryio.remote")
Q_LOGGING_CATEGORY(lcDiagnostics, "registryio.diagnostics", QtWarningMsg)

} // namespace rio
