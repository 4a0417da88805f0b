// SPDX-License-Identifier: MIT
// addOnce(receiver, &Class::method, priority, delivery): addOnce takes no receiver; the options come in one
// braced list.
// expect: rio::QtRegistry: addOnce takes no receiver
// expect: write add(receiver, &Class::method, {.once = true, ...}) with the other options in the braces
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    registry.addOnce(gauge, &SlowGauge::take, 0, rio::Delivery::Latest);
}
