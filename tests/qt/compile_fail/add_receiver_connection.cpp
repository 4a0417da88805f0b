// SPDX-License-Identifier: MIT
// add(receiver, &Class::method, type): the removed form read a connection type as a priority.
// expect: add(receiver, &Class::method, priority) was removed, and it read a connection type as a priority
// expect: write add(receiver, &Class::method, {.connection = type})
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    registry.add(gauge, &SlowGauge::take, Qt::QueuedConnection);
}
