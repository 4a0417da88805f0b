// SPDX-License-Identifier: MIT
// A handler that does not take the registry's event: the compiler names the concept it misses.
// expect: no matching function for call to 'rio::QtRegistry<int>::add(SlowGauge*&,
// expect: required for the satisfaction of 'QtHandlerFor<F, E>'
#include <registryio/qt/qt_registry.h>

#include <string>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    registry.add(gauge, [](const std::string &) { });
}
