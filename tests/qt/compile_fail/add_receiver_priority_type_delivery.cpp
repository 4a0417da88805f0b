// SPDX-License-Identifier: MIT
// add(receiver, &Class::method, priority, type, delivery) was removed.
// expect: add(receiver, &Class::method, priority, type, delivery) was removed
// expect: add(receiver, &Class::method, {.priority = priority, .connection = type, .delivery = delivery})
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    registry.add(gauge, &SlowGauge::take, 0, Qt::QueuedConnection, rio::Delivery::Latest);
}
