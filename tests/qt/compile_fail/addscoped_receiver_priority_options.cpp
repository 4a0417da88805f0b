// SPDX-License-Identifier: MIT
// addScoped(receiver, &Class::method, priority, options) was removed.
// expect: addScoped(receiver, &Class::method, priority, options) was removed
// expect: write addScoped(receiver, &Class::method, options) with a
// expect: rio::HandlerOptions that also sets .priority
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

rio::HandlerGuard watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    rio::HandlerOptions options;
    options.capacity = 64;
    return registry.addScoped(gauge, &SlowGauge::take, 3, options);
}
