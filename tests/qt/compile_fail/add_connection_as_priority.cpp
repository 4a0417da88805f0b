// SPDX-License-Identifier: MIT
// A connection type where the priority goes, without a context: not an integer, so no add
// matches (a queued handler needs a context: add(context, f, {.connection = type})).
// expect: no matching function for call to 'rio::QtRegistry<int>::add(watch(
// expect: [with Priority = Qt::ConnectionType]
#include <registryio/qt/qt_registry.h>

void watch(rio::QtRegistry<int> &registry)
{
    registry.add([](const int &) { }, Qt::QueuedConnection);
}
