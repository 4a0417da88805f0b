// SPDX-License-Identifier: MIT
// addScoped(receiver, &Class::method, delivery): the options of addScoped come in one rio::HandlerOptions.
// expect: rio::QtRegistry: the options of addScoped come in one rio::HandlerOptions
// expect: write addScoped(receiver, &Class::method, {.delivery = delivery})
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

rio::HandlerGuard watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    return registry.addScoped(gauge, &SlowGauge::take, rio::Delivery::Latest);
}
