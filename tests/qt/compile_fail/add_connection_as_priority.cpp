// SPDX-License-Identifier: MIT
// A connection type where the priority goes, without a context: not an integer, so no add
// matches (a queued handler needs a context: add(context, f, {.connection = type})).
// expect: no matching function for call to 'rio::QtRegistry<int>::add(watch(rio::QtRegistry<int>&)::<lambda(const int&)>, Qt::ConnectionType)'
// expect: required for the satisfaction of 'integral<Priority>' [with Priority = Qt::ConnectionType]
#include <registryio/qt/qt_registry.h>

void watch(rio::QtRegistry<int> &registry)
{
    registry.add([](const int &) { }, Qt::QueuedConnection);
}
