// SPDX-License-Identifier: MIT
#include "qt_peer.h"

namespace rio::bench {

void QtReceiver::onFired(int)
{
    handlerBody();
}

} // namespace rio::bench
