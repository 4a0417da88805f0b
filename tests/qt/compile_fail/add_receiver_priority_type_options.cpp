// SPDX-License-Identifier: MIT
// add(receiver, &Class::method, priority, type, options) was removed.
// expect: add(receiver, &Class::method, priority, type, options) was removed
// expect: write add(receiver, &Class::method, options) with a
// expect: rio::HandlerOptions that also sets .priority and .connection
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    const rio::HandlerOptions options{.overflow = rio::Overflow::Block};
    registry.add(gauge, &SlowGauge::take, 3, Qt::QueuedConnection, options);
}
