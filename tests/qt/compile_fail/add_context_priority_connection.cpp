// SPDX-License-Identifier: MIT
// A priority and a connection type after the handler: the compiler names rio::HandlerOptions
// (write {.priority = 1, .connection = type}).
// expect: no matching function for call to 'rio::QtRegistry<int>::add(SlowGauge*&,
// expect: cannot convert '1' (type 'int') to type 'rio::HandlerOptions'
#include <registryio/qt/qt_registry.h>

#include <string>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    registry.add(gauge, [](const int &) { }, 1, Qt::QueuedConnection);
}
