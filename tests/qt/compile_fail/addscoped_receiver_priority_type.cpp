// SPDX-License-Identifier: MIT
// addScoped(receiver, &Class::method, priority, type) was removed.
// expect: addScoped(receiver, &Class::method, priority, type) was removed
// expect: write addScoped(receiver, &Class::method, {.priority = priority, .connection = type})
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

rio::HandlerGuard watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    return registry.addScoped(gauge, &SlowGauge::take, 1, Qt::DirectConnection);
}
