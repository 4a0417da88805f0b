// SPDX-License-Identifier: MIT
// addScoped(context, f, priority, options) was removed.
// expect: addScoped(context, f, priority, options) was removed
// expect: write addScoped(context, f, options) with a rio::HandlerOptions that also sets .priority
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
    return registry.addScoped(gauge, [](const int &) { }, 3, options);
}
