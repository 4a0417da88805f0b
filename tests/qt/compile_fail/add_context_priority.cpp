// SPDX-License-Identifier: MIT
// add(context, f, priority) was removed: the priority is an option.
// expect: rio::QtRegistry: add(context, f, priority) was removed
// expect: write add(context, f, {.priority = priority})
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    rio::HandlerId id = registry.add(gauge, [](const int &) { }, 10);
    registry.remove(id);
}
