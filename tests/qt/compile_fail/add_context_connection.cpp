// SPDX-License-Identifier: MIT
// A connection type where the options go: the compiler names rio::HandlerOptions (write
// {.connection = type}).
// expect: no matching function for call to 'rio::QtRegistry<int>::add(SlowGauge*&,
// expect: (type 'Qt::ConnectionType') to type 'rio::HandlerOptions'
#include <registryio/qt/qt_registry.h>

#include <string>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    registry.add(gauge, [](const int &) { }, Qt::QueuedConnection);
}
