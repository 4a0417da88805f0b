// SPDX-License-Identifier: MIT
// add(receiver, &Class::method, priority, delivery) was removed.
// expect: add(receiver, &Class::method, priority, delivery) was removed
// expect: write add(receiver, &Class::method, {.priority = priority, .delivery = delivery})
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    registry.add(gauge, &SlowGauge::take, 2, rio::Delivery::Latest);
}
