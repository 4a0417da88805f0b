#pragma once

#include <QLoggingCategory>

/// The logging category `registryio`: handler failures and refused input are reported here.
Q_DECLARE_LOGGING_CATEGORY(lcRegistryIO)
