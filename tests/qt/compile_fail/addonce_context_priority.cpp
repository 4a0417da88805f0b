// SPDX-License-Identifier: MIT
// addOnce(context, f, priority) was removed: `once` and the priority are options of add.
// expect: addOnce(context, f, priority) was removed
// expect: write add(context, f, {.priority = priority, .once = true})
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    registry.addOnce(gauge, [](const int &) { }, 5);
}
