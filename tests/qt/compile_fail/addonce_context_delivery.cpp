// SPDX-License-Identifier: MIT
// addOnce(context, f, delivery): addOnce takes no context; the options come in one braced list.
// expect: rio::QtRegistry: addOnce takes no context
// expect: write add(context, f, {.once = true, ...}) with the other options in the braces
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    registry.addOnce(gauge, [](const int &) { }, rio::Delivery::Latest);
}
