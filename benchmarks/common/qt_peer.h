// SPDX-License-Identifier: MIT
#pragma once

#include "handler_body.h"

#include <QObject>

namespace rio::bench {

/// The Qt peer's sender: one signal carrying the event.
class QtSender : public QObject
{
    Q_OBJECT
Q_SIGNALS:
    /// Emitted once per notify.
    void fired(int event);
};

/// The Qt peer's receiver: the member slot runs the shared handler body.
class QtReceiver : public QObject
{
    Q_OBJECT
public Q_SLOTS:
    /// The member slot.
    void onFired(int event);
};

} // namespace rio::bench
