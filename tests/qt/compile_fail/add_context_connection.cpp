// SPDX-License-Identifier: MIT
// add(context, f, type): the removed add(context, f, priority) read a connection type as a priority.
// expect: read a connection type as a priority
// expect: write add(context, f, {.connection = type})
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    registry.add(gauge, [](const int &) { }, Qt::QueuedConnection);
}
