// SPDX-License-Identifier: MIT
// add(receiver, &Class::method, delivery): the options of add come in one rio::HandlerOptions.
// expect: rio::QtRegistry: the options of add come in one rio::HandlerOptions
// expect: write add(receiver, &Class::method, {.delivery = delivery})
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    registry.add(gauge, &SlowGauge::take, rio::Delivery::Latest);
}
