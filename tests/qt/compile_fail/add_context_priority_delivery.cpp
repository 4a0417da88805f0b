// SPDX-License-Identifier: MIT
// add(context, f, priority, delivery) was removed.
// expect: add(context, f, priority, delivery) was removed
// expect: write add(context, f, {.priority = priority, .delivery = delivery})
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    registry.add(gauge, [](const int &) { }, 0, rio::Delivery::Latest);
}
