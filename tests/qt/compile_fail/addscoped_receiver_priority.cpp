// SPDX-License-Identifier: MIT
// addScoped(receiver, &Class::method, priority) was removed.
// expect: addScoped(receiver, &Class::method, priority) was removed
// expect: write addScoped(receiver, &Class::method, {.priority = priority})
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    rio::HandlerGuard guard = registry.addScoped(gauge, &SlowGauge::take, 2);
    guard.release();
}
