// SPDX-License-Identifier: MIT
// A priority where the options go: the compiler names rio::HandlerOptions (write {.priority = 10}).
// expect: no matching function for call to 'rio::QtRegistry<int>::add(SlowGauge*&,
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
    registry.add(gauge, [](const int &) { }, 10);
}
