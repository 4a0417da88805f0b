// SPDX-License-Identifier: MIT
// A plugin that registers queued handlers on a host's QtRegistry<int> (every event, and
// coalesced) and later follows the unload rule: removeAndWait(id), synchronize(), then the host
// unloads it. Built -fno-gnu-unique so that dlclose really unmaps it.
#include <registryio/qt/qt_registry.h>

#include <atomic>

extern "C" {

// Registers the plugin's handlers on `context`'s thread; they count their calls in `calls`.
__attribute__((visibility("default"))) void rio_qt_plugin_attach(rio::QtRegistry<int> *registry,
                                                                 QObject *context, std::atomic<int> *calls,
                                                                 rio::HandlerId *ids)
{
    ids[0] = registry->add(context, [calls](const int &) { calls->fetch_add(1); },
                           {.connection = Qt::QueuedConnection});
    ids[1] = registry->add(context, [calls](const int &) { calls->fetch_add(1); },
                           {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
}

// The unload rule.
__attribute__((visibility("default"))) void rio_qt_plugin_detach(rio::QtRegistry<int> *registry,
                                                                 const rio::HandlerId *ids)
{
    registry->removeAndWait(ids[0]);
    registry->removeAndWait(ids[1]);
    registry->synchronize();
}
}
