// SPDX-License-Identifier: MIT
// addOnce(receiver, &Class::method, priority, type) was removed.
// expect: addOnce(receiver, &Class::method, priority, type) was removed
// expect: write add(receiver, &Class::method, {.priority = priority, .connection = type, .once = true})
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    registry.addOnce(gauge, &SlowGauge::take, 5, Qt::QueuedConnection);
}
