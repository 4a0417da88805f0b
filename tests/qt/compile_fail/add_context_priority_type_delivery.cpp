// SPDX-License-Identifier: MIT
// add(context, f, priority, type, delivery) was removed.
// expect: add(context, f, priority, type, delivery) was removed
// expect: write add(context, f, {.priority = priority, .connection = type, .delivery = delivery})
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    registry.add(gauge, [](const int &) { }, 0, Qt::QueuedConnection, rio::Delivery::Latest);
}
