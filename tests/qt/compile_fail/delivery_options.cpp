// SPDX-License-Identifier: MIT
// rio::DeliveryOptions was removed: rio::HandlerOptions has its fields. The name is deprecated and
// its uses fail to compile; the add that took it was removed too, and names the form to write.
// expect: is deprecated: rio::DeliveryOptions was removed; write rio::HandlerOptions
// expect: rio::DeliveryOptions was removed; write rio::HandlerOptions (the same fields
// expect: add(context, f, priority, type, options) was removed
#include <registryio/qt/qt_registry.h>

class SlowGauge : public QObject
{
public:
    void take(const int &) { }
};

void watch(rio::QtRegistry<int> &registry, SlowGauge *gauge)
{
    const rio::DeliveryOptions options{.capacity = rio::DeliveryOptions::DefaultCapacity / 2,
                                       .overflow = rio::Overflow::DropNewest};
    registry.add(gauge, [](const int &) { }, 0, Qt::QueuedConnection, options);
}
