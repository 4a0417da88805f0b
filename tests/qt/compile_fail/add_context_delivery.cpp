// SPDX-License-Identifier: MIT
// add(context, f, delivery): the options of add come in one rio::HandlerOptions.
// expect: rio::QtRegistry: the options of add come in one rio::HandlerOptions
// expect: write add(context, f, {.delivery = delivery})
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    registry.add(gauge, [](const int &) { }, rio::Delivery::Latest);
}
