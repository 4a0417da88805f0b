// SPDX-License-Identifier: MIT
// addScoped(context, f, priority, type, delivery) was removed.
// expect: addScoped(context, f, priority, type, delivery) was removed
// expect: write addScoped(context, f, {.priority = priority, .connection = type, .delivery = delivery})
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

rio::HandlerGuard watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    return registry.addScoped(gauge, [](const int &) { }, 0, Qt::QueuedConnection, rio::Delivery::Latest);
}
