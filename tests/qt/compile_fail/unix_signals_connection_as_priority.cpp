// SPDX-License-Identifier: MIT
// A connection type where a Unix signal handler's priority goes: not an integer, so no add
// matches (the handler runs on the object's thread whatever the connection would say).
// expect: no matching function for call to 'rio::UnixSignals::add(int, watch(
// expect: [with Priority = Qt::ConnectionType]
#include <registryio/qt/unix_signals.h>

void watch(rio::UnixSignals &source)
{
    source.add(SIGTERM, [] { }, Qt::QueuedConnection);
}
