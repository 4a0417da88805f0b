// SPDX-License-Identifier: MIT
// A priority where addScoped's options go: the compiler names rio::HandlerOptions.
// expect: no matching function for call to 'rio::QtRegistry<int>::addScoped(SlowGauge*&,
// expect: cannot convert '10' (type 'int') to type 'rio::HandlerOptions'
#include <registryio/qt/qt_registry.h>

#include <string>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    const rio::HandlerGuard guard = registry.addScoped(gauge, [](const int &) { }, 10);
}
