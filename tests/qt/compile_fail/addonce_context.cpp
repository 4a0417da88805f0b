// SPDX-License-Identifier: MIT
// addOnce(context, f) was removed: `once` is an option of add.
// expect: rio::QtRegistry: addOnce(context, f) was removed; write add(context, f, {.once = true})
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    registry.addOnce(gauge, [](const int &) { });
}
