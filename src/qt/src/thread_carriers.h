// SPDX-License-Identifier: MIT
#pragma once

// One library-owned QObject per receiving thread carries the Qt events of every registry's
// mailbox for that thread. Its life is the thread's, not any user object's: a context that dies
// takes no drain request with it. A carrier is retired when its thread finishes or its QThread
// is deleted; its pending events are then discarded (each lists its handlers again where their
// contexts live). It is made by the first thread that lists a handler for its thread, once that
// thread holds none of the library's locks (QtMailboxes::OwedDrains).

#include <QObject>
#include <QThread>

#include <mutex>

namespace rio::detail {

class ThreadCarriers
{
public:
    // The carrier of `thread`, valid while `lock` (taken here, on the process-wide carrier
    // mutex) is held: post through it before unlocking. Null when it has none; `finished` then
    // tells whether the thread has finished (or is finishing): none is made for such a thread,
    // since nothing would retire it before its QThread is deleted.
    static QObject *find(QThread *thread, std::unique_lock<std::mutex> &lock, bool &finished);
    // Makes the carrier of `thread` if it has none; false when the thread has finished (none is
    // made). Called with no lock of the library held: moving the new carrier to its thread sends
    // QEvent::ThreadChange through the application's event filters, which are user code. Throws
    // std::bad_alloc with nothing changed.
    static bool make(QThread *thread);
};

} // namespace rio::detail
