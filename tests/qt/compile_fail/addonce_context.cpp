// SPDX-License-Identifier: MIT
// addOnce takes no context (write add(context, f, {.once = true})): no addOnce matches, and the
// one candidate named takes a handler first.
// expect: no matching function for call to 'rio::QtRegistry<int>::addOnce(SlowGauge*&,
#include <registryio/qt/qt_registry.h>

#include <string>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    registry.addOnce(gauge, [](const int &) { });
}
