// SPDX-License-Identifier: MIT
// addOnce(receiver, &Class::method, options): addOnce takes no receiver; `once` is one of the options.
// expect: rio::QtRegistry: addOnce takes no receiver
// expect: write add(receiver, &Class::method, options) with .once = true in options
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
    registry.addOnce(gauge, &SlowGauge::take, options);
}
