// SPDX-License-Identifier: MIT
// addScoped(context, f, priority) was removed: the priority is an option.
// expect: rio::QtRegistry: addScoped(context, f, priority) was removed
// expect: write addScoped(context, f, {.priority = priority})
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

rio::HandlerGuard watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    return registry.addScoped(gauge, [](const int &) { }, 10);
}
