// SPDX-License-Identifier: MIT
#pragma once

// One library-owned QObject per receiving thread carries the Qt events of every registry's
// mailbox for that thread. Its life is the thread's, not any user object's: a context that dies
// takes no drain request with it. A carrier is retired when its thread finishes or its QThread
// is deleted; its pending events are then discarded (each lists its handlers again where their
// contexts live).

#include <QObject>
#include <QThread>

#include <mutex>

namespace rio::detail {

class ThreadCarriers
{
public:
    // The carrier of `thread`, created and moved there on first use, valid while `lock` (taken
    // here, on the process-wide carrier mutex) is held: post through it before unlocking. Null
    // when `thread` has finished (or is finishing) and has none: none is made for it, since
    // nothing would retire it before the QThread is deleted. Throws std::bad_alloc with nothing
    // changed.
    static QObject *acquire(QThread *thread, std::unique_lock<std::mutex> &lock);
};

} // namespace rio::detail
