// SPDX-License-Identifier: MIT
// add(context, f, priority, type) was removed.
// expect: add(context, f, priority, type) was removed
// expect: write add(context, f, {.priority = priority, .connection = type})
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    registry.add(gauge, [](const int &) { }, 0, Qt::BlockingQueuedConnection);
}
