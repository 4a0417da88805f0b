// SPDX-License-Identifier: MIT
// add(context, f, priority, options) was removed (here with the options already renamed).
// expect: add(context, f, priority, options) was removed
// expect: write add(context, f, options) with a rio::HandlerOptions that also sets .priority
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
    registry.add(gauge, [](const int &) { }, 3, options);
}
