// SPDX-License-Identifier: MIT
// add(receiver, &Class::method, priority, options) was removed.
// expect: add(receiver, &Class::method, priority, options) was removed
// expect: write add(receiver, &Class::method, options) with a rio::HandlerOptions that also sets .priority
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    rio::HandlerOptions options;
    options.capacity = 64;
    registry.add(gauge, &SlowGauge::take, 3, options);
}
