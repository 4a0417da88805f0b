// SPDX-License-Identifier: MIT
// addScoped(receiver, &Class::method, priority, type, options) was removed.
// expect: addScoped(receiver, &Class::method, priority, type, options) was removed
// expect: write addScoped(receiver, &Class::method, options) with a
// expect: rio::HandlerOptions that also sets .priority and .connection
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

rio::HandlerGuard watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    const rio::HandlerOptions options{.overflow = rio::Overflow::Block};
    return registry.addScoped(gauge, &SlowGauge::take, 3, Qt::QueuedConnection, options);
}
