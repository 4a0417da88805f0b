// SPDX-License-Identifier: MIT
// addScoped(context, f, type): the removed addScoped(context, f, priority) read a connection type as a
// priority.
// expect: addScoped(context, f, priority) was removed, and it read a connection type as a priority
// expect: write addScoped(context, f, {.connection = type})
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

rio::HandlerGuard watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    return registry.addScoped(gauge, [](const int &) { }, Qt::QueuedConnection);
}
