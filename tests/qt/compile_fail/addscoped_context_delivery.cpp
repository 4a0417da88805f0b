// SPDX-License-Identifier: MIT
// addScoped(context, f, delivery): the options of addScoped come in one rio::HandlerOptions.
// expect: rio::QtRegistry: the options of addScoped come in one rio::HandlerOptions
// expect: write addScoped(context, f, {.delivery = delivery})
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

rio::HandlerGuard watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    return registry.addScoped(gauge, [](const int &) { }, rio::Delivery::Latest);
}
