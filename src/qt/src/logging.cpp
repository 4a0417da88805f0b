#include <registryio/logging.h>

Q_LOGGING_CATEGORY(lcRegistryIO, "registryio")
