// SPDX-License-Identifier: MIT
#include <registryio/qt/logging.h>

Q_LOGGING_CATEGORY(lcRegistryIO, "registryio")
