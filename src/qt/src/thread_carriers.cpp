// SPDX-License-Identifier: MIT
#include "thread_carriers.h"

#include "qt_mailboxes.h"

#include <QPointer>

#include <memory>
#include <new>
#include <unordered_map>
#include <utility>

namespace rio::detail {

namespace {

struct Carrier
{
    QPointer<QThread> thread; // null once the QThread is deleted (its address may come back)
    QObject *object = nullptr;
    QMetaObject::Connection finished;
    QMetaObject::Connection destroyed;
};

struct Carriers
{
    std::mutex mutex;
    std::unordered_map<QThread *, Carrier> map;
};

// Never destroyed: Qt may discard posted events (and so call into the mailboxes) while the
// process exits.
Carriers &carriers()
{
    static auto *all = new Carriers;
    return *all;
}

// The thread of `thread`'s carrier finished, or its QThread is being deleted: the carrier goes,
// and with it its pending events, whose destruction lists their handlers again. Runs on the
// finishing thread (the carrier's own) or where the QThread is deleted (it no longer runs).
void retire(QThread *thread, const QObject *expected) noexcept
{
    Carrier gone;
    {
        std::lock_guard lock(carriers().mutex);
        auto it = carriers().map.find(thread);
        if (it == carriers().map.end() || it->second.object != expected)
            return;
        gone = std::move(it->second);
        carriers().map.erase(it);
    }
    QObject::disconnect(gone.finished);
    QObject::disconnect(gone.destroyed);
    // Outside our lock; the discarded drain events are relisted once the carrier is gone.
    const QtMailboxes::OwedDrains relisting;
    delete gone.object;
}

} // namespace

QObject *ThreadCarriers::find(QThread *thread, std::unique_lock<std::mutex> &lock, bool &finished)
{
    Carriers &all = carriers();
    lock = std::unique_lock(all.mutex);
    auto it = all.map.find(thread);
    if (it != all.map.end() && it->second.thread.isNull()) {
        // A deleted QThread whose destroyed() did not retire its carrier (it always does first:
        // defence only): not the thread now at its address. The entry goes; the old carrier is
        // left undeleted, since deleting it would discard its events under our caller's locks.
        QObject::disconnect(it->second.finished);
        QObject::disconnect(it->second.destroyed);
        all.map.erase(it);
        it = all.map.end();
    }
    if (it != all.map.end())
        return it->second.object;
    finished = thread->isFinished();
    return nullptr;
}

bool ThreadCarriers::make(QThread *thread)
{
    bool finished = false;
    {
        std::unique_lock<std::mutex> lock;
        if (find(thread, lock, finished) != nullptr)
            return true;
        if (finished)
            return false;
    }
    auto object = std::make_unique<QObject>();
    object->setObjectName(QStringLiteral("rio::ThreadCarrier"));
    // With no lock of ours held: the move sends QEvent::ThreadChange through the application's
    // event filters, which may notify.
    if (thread != QThread::currentThread())
        object->moveToThread(thread);
    std::unique_lock<std::mutex> lock;
    if (find(thread, lock, finished) != nullptr)
        return true; // made meanwhile by another thread (or by a notify from a filter): ours goes
    if (finished)
        return false;
    Carriers &all = carriers();
    Carrier carrier;
    carrier.thread = thread;
    carrier.object = object.get();
    auto it = all.map.emplace(thread, std::move(carrier)).first;
    // Connected under the lock: a finish in between waits for it and then finds the carrier.
    const QObject *key = object.get();
    try {
        it->second.finished =
            QObject::connect(thread, &QThread::finished, [thread, key] { retire(thread, key); });
        it->second.destroyed =
            QObject::connect(thread, &QObject::destroyed, [thread, key] { retire(thread, key); });
        if (!it->second.finished || !it->second.destroyed)
            throw std::bad_alloc();
    } catch (...) {
        QObject::disconnect(it->second.finished);
        QObject::disconnect(it->second.destroyed);
        all.map.erase(it);
        throw;
    }
    // Tested after finished() is connected: a thread that is not finishing yet will retire it.
    if (thread->isFinished()) {
        QObject::disconnect(it->second.finished);
        QObject::disconnect(it->second.destroyed);
        all.map.erase(it);
        return false;
    }
    static_cast<void>(object.release());
    return true;
}

} // namespace rio::detail
