// SPDX-License-Identifier: MIT
// add(receiver, &Class::method, priority, type) was removed.
// expect: add(receiver, &Class::method, priority, type) was removed
// expect: write add(receiver, &Class::method, {.priority = priority, .connection = type})
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    registry.add(gauge, &SlowGauge::take, 2, Qt::QueuedConnection);
}
