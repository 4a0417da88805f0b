// SPDX-License-Identifier: MIT
// addOnce(context, f, options): addOnce takes no context; `once` is one of the options.
// expect: rio::QtRegistry: addOnce takes no context
// expect: write add(context, f, options) with .once = true in options
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
    registry.addOnce(gauge, [](const int &) { }, options);
}
