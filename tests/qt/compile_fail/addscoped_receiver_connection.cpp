// SPDX-License-Identifier: MIT
// addScoped(receiver, &Class::method, type): the removed form read a connection type as a priority.
// expect: addScoped(receiver, &Class::method, priority) was removed,
// expect: and it read a connection type as a priority
// expect: write addScoped(receiver, &Class::method, {.connection = type})
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

rio::HandlerGuard watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    return registry.addScoped(gauge, &SlowGauge::take, Qt::QueuedConnection);
}
