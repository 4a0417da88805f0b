// SPDX-License-Identifier: MIT
// The three ways a delivery leaves the notifying thread: into the handler's bounded queue (and
// its receiving thread's mailbox), as the coalesced payload behind one Qt event, or as one
// blocking Qt event the notifier waits for. Every functor Qt holds is library code.
#include "qt_mailboxes.h"

#include <registryio/detail/diagnostics.h>
#include <registryio/qt/detail/frame_pacer.h>
#include <registryio/qt/detail/qt_tsan.h>

#include <QMetaObject>
#include <QTimer>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace rio::detail {

namespace {

void deliverLatest(const std::shared_ptr<QtHandlerState> &handler, bool paced = false);

// A coalesced delivery: the Qt event posted to its context (so it moves with it), or the timer of
// its interval wait, armed on the thread it ran on. Discarded unrun, the event leaves the next
// write to schedule one (Qt may hold its post-event lock), the timer (its thread ended) posts it.
struct LatestCall
{
    std::shared_ptr<QtHandlerState> handler;
    bool timer = false;
    bool ran = false;

    LatestCall(std::shared_ptr<QtHandlerState> h, bool t) noexcept : handler(std::move(h)), timer(t) { }
    LatestCall(LatestCall &&) noexcept = default;
    ~LatestCall(); // below
    void operator()()
    {
        ran = true;
        if (handler)
            deliverLatest(handler);
    }
};

// Posts `h`'s coalesced delivery to its context (under its mutex, the context alive); Qt may throw.
void postLatestCallLocked(QtHandlerState &h)
{
    [[maybe_unused]] const TsanPostScope posting;
    QMetaObject::invokeMethod(h.context, Handover(LatestCall(h.shared_from_this(), false)),
                              Qt::QueuedConnection);
}

// Nothing will deliver `h`'s pending payload (no memory to post it): counted as dropped (returned),
// and `h` can be scheduled again (under its mutex).
QtHandlerState::Drop dropPendingLocked(QtHandlerState &h, QtHandlerState::Garbage &garbage) noexcept
{
    h.scheduled = false;
    h.latest.owed.store(false, std::memory_order_release); // a write schedules one again
    garbage.pending.swap(h.pending);
    garbage.pendingToken.swap(h.pendingToken);
    h.onceDoneLocked(garbage);
    return h.countDrops(garbage.pending ? 1 : 0, QtRegistryControl::DropReason::NoMemory);
}

LatestCall::~LatestCall()
{
    if (ran || !handler)
        return;
    QtHandlerState &h = *handler;
    if (!timer) {
        h.latestLost.store(true, std::memory_order_release);
        h.latest.owed.store(false, std::memory_order_release); // a write schedules one again
        return;
    }
    QtHandlerState::Garbage garbage; // destroyed after the lock is released
    QtHandlerState::Drop drop;
    {
        std::lock_guard lock(h.mutex);
        if (h.context == nullptr || h.cancelled.load(std::memory_order_acquire) || !h.scheduled)
            return;
        try {
            postLatestCallLocked(h);
        } catch (...) {
            drop = dropPendingLocked(h, garbage);
        }
    }
    h.report(drop);
}

// The value a delivery of `handler` just ran waits for `pacer`'s frame: that frame makes the next
// delivery (unless a notify scheduled one meanwhile), so notifies until then post nothing and
// the thread is woken by its frames alone. Without memory for it, the next notify schedules it.
// `scheduled`: the delivery a notify scheduled, handed to the frame unrun (false: none is).
bool paceLatest(const std::shared_ptr<QtHandlerState> &handler, FramePacer &pacer, bool scheduled)
{
    QtHandlerState &h = *handler;
    if (h.minInterval.count() > 0 || h.once)
        return false;
    try {
        paceToFrame(pacer, handler, [](const std::shared_ptr<void> &paced) {
            deliverLatest(std::static_pointer_cast<QtHandlerState>(paced), true);
        });
    } catch (...) {
        return false;
    }
    std::lock_guard lock(h.mutex);
    // Only the pacer of the handler's own context (a latest value fed by it): a frame that a
    // handler's nested event loop ran offers to another pacer.
    if (h.context == nullptr || h.cancelled.load(std::memory_order_acquire) || h.scheduled != scheduled ||
        pacer.parent() != h.context || h.context->thread() != QThread::currentThread())
        return false; // the frame's delivery finds nothing owed
    h.pacer = &pacer;
    h.scheduled = true;
    h.framePaced = true;
    if (h.cellUsed)
        h.latest.owed.store(true, std::memory_order_release); // writers leave their events to the frame
    return true;
}

// True when a window's frames show the handler's values and it is flooded (more than one write
// since its last delivery): it is paced, the frame reads its newest event, writes post nothing.
bool paceFlooded(const std::shared_ptr<QtHandlerState> &handler)
{
    QtHandlerState &h = *handler;
    QPointer<FramePacer> pacer;
    {
        std::lock_guard lock(h.mutex);
        if (h.floodedLocked())
            pacer = h.pacer;
    }
    return pacer && pacer->thread() == QThread::currentThread() && pacer->pacing() &&
           paceLatest(handler, *pacer, true);
}

// Whether the handler's minimum interval since its last delivery passed (under its lock); else a
// timer on this thread delivers later, the handler scheduled meanwhile (notifies only replace).
bool intervalPassedLocked(const std::shared_ptr<QtHandlerState> &handler,
                          std::chrono::steady_clock::time_point now)
{
    QtHandlerState &h = *handler;
    if (h.minInterval.count() <= 0 || now >= h.lastDelivery + h.minInterval)
        return true;
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(h.lastDelivery + h.minInterval - now);
    try {
        QTimer::singleShot(wait, Qt::PreciseTimer, h.context, Handover(LatestCall(handler, true)));
        return false;
    } catch (...) {
        return true;
    }
}

struct LatestTaken // what a coalesced delivery takes under the handler's lock
{
    std::shared_ptr<const void> payload; // else the cell's event, read after the lock (`fromCell`)
    AsyncToken token;
    std::shared_ptr<QtTarget> target; // none: nothing runs
    std::uint64_t postedAt = 0;       // diagnostics
    bool fromCell = false;
    bool flooded = false; // more than one write since the last delivery
};

// Takes what the delivery runs (under the handler's lock, on its context's thread).
void takeLatestLocked(QtHandlerState &h, LatestTaken &t, QtHandlerState::Garbage &garbage,
                      std::chrono::steady_clock::time_point now)
{
    h.scheduled = false;
    h.lastDelivery = now;
    t.payload = std::move(h.pending);
    t.token = std::move(h.pendingToken);
    t.postedAt = std::exchange(h.pendingSince, 0);
    h.onceDoneLocked(garbage);
    // Taken before a cancellation's lock: it runs (a removeAndWait waits for this frame).
    t.target = h.target.lock();
    t.fromCell = h.cellUsed;
    if (t.fromCell && t.target)
        h.cellRead.store(QtHandlerState::cellReading, std::memory_order_relaxed);
    if (t.fromCell)
        h.latest.take(); // from here on a write schedules a delivery again
    const std::uint64_t coalesced = h.counts().coalesced.load(std::memory_order_relaxed);
    t.flooded = coalesced != std::exchange(h.coalescedDelivered, coalesced);
}

// Reads Latest's cell with no lock held (a writer stopped mid-write holds up no notify, removal
// nor snapshot, which take the lock, nor this thread) and runs the handler with its newest write,
// the writes since the last read coalesced. False when the delivery ends here: cancelled
// meanwhile, or a writer met (it schedules the next delivery, which carries the token).
bool runCell(QtHandlerState &h, LatestTaken &t)
{
    alignas(8) unsigned char value[NewestCell::size];
    std::uint64_t at = 0;
    const bool read = h.latest.read(value, at);
    const std::uint64_t writes = read ? (at - h.cellTaken.load(std::memory_order_relaxed)) / 2 : 0;
    if (writes != 0) { // in this order (see latestCountsLocked)
        h.cellDelivered.store(h.cellDelivered.load(std::memory_order_relaxed) + 1, std::memory_order_release);
        h.cellTaken.store(at, std::memory_order_release);
    }
    // Cancelled meanwhile: the write read, or one after the read, is the delivery owed, dropped
    // (the others coalesced), the cancellation having left it to this read.
    int reading = QtHandlerState::cellReading;
    if (!h.cellRead.compare_exchange_strong(reading, QtHandlerState::cellIdle, std::memory_order_acq_rel)) {
        if (writes != 0 || h.cellWritesLocked() != 0)
            h.report(h.countDrops(1, h.cancelledReason()));
        return false;
    }
    if (!read) {
        std::lock_guard lock(h.mutex);
        if (t.token && h.context != nullptr && !h.pendingToken)
            h.pendingToken = std::move(t.token);
        return false;
    }
    t.flooded = t.flooded || writes > 1;
    if (writes != 0)
        h.run(t.target, value, t.token, t.postedAt);
    return true;
}

// Latest: delivers the pending payload (or the cell's event) on the context's thread, once the
// handler's minimum interval since its last delivery has passed. Run where the context no longer
// lives (a timer armed before it moved), it posts the delivery to the context instead. `paced`:
// the delivery a frame owes (paceLatest), none when another ran meanwhile.
void deliverLatest(const std::shared_ptr<QtHandlerState> &handler, bool paced)
{
    QtHandlerState &h = *handler;
    const DeliveryFrame frame(h);
    if (!paced && paceFlooded(handler))
        return;
    LatestTaken t;
    QtHandlerState::Garbage garbage; // destroyed after the lock is released and the run
    QtHandlerState::Drop drop;
    {
        std::lock_guard lock(h.mutex);
        if (!std::exchange(h.framePaced, false) && paced)
            return;
        // Cancelled: its cancellation, which may not have taken this lock yet, drops the pending
        // payload and counts it (taken here, it would be neither run nor counted).
        if (h.context == nullptr || h.cancelled.load(std::memory_order_acquire))
            return;
        const auto now = std::chrono::steady_clock::now();
        if (h.context->thread() != QThread::currentThread()) {
            try {
                postLatestCallLocked(h);
                return;
            } catch (...) {
                drop = dropPendingLocked(h, garbage);
            }
        } else if (intervalPassedLocked(handler, now)) {
            takeLatestLocked(h, t, garbage, now);
        }
    }
    h.report(drop);
    if (!t.target)
        return;
    PacedDelivery delivery;
    if (t.payload)
        h.run(t.target, t.payload.get(), t.token, t.postedAt);
    else if (t.fromCell && !runCell(h, t))
        return;
    // Alive (the handler's user code may have deleted it), and under a flood: a single write costs
    // its frame alone, none more to find nothing new.
    if (delivery.pacer && t.flooded)
        paceLatest(handler, *delivery.pacer, false);
}

// What a BlockingQueued notifier waits for: its delivery ran or was discarded. A mutex and a
// condition variable, not std::latch, whose wait MinGW-w64's libstdc++ can leave asleep; the
// notifier and the delivery each hold it. The delivery hands back whether it was dropped and why,
// and every reference it held: the notifier counts and reports the drop and releases them with no
// lock held. Qt may destroy the event under its own post-event lock (at application exit), where
// no slot, log, continuation, payload or closure destructor may run.
struct BlockingDone
{
    std::mutex mutex;
    std::condition_variable changed;
    bool done = false;
    std::optional<QtRegistryControl::DropReason> dropped;
    std::shared_ptr<QtHandlerState> handler;
    std::shared_ptr<const void> payload;
    AsyncToken token;
};

// The Qt event of a BlockingQueued delivery: the notifier waits until it ran or was discarded.
struct BlockingCall
{
    std::shared_ptr<QtHandlerState> handler;
    std::shared_ptr<const void> payload;
    AsyncToken token;
    std::shared_ptr<BlockingDone> done;
    // Why it did not run, for its notifier to count (none once it ran): unrun, Qt discarded it,
    // for the handler's cancellation (its context died, say) or with the handler still listed.
    std::optional<QtRegistryControl::DropReason> dropped = QtRegistryControl::DropReason::Discarded;

    BlockingCall(std::shared_ptr<QtHandlerState> h, std::shared_ptr<const void> p, AsyncToken t,
                 std::shared_ptr<BlockingDone> d) noexcept
        : handler(std::move(h)), payload(std::move(p)), token(std::move(t)), done(std::move(d))
    { }
    BlockingCall(BlockingCall &&) noexcept = default;
    ~BlockingCall()
    {
        if (!done)
            return; // moved from
        // Discarded for the handler's cancellation, or with the handler listed: decided now.
        if (dropped == QtRegistryControl::DropReason::Discarded && handler &&
            handler->cancelled.load(std::memory_order_acquire))
            dropped = handler->cancelledReason();
        const std::shared_ptr<BlockingDone> settled = std::move(done);
        RIO_TSAN_RELEASE(settled.get());
        std::lock_guard lock(settled->mutex);
        settled->dropped = dropped;
        settled->handler = std::move(handler);
        settled->payload = std::move(payload);
        settled->token = std::move(token);
        settled->done = true;
        settled->changed.notify_all();
    }

    void operator()()
    {
        if (!handler)
            return;
        dropped.reset();
        QtHandlerState &h = *handler;
        const DeliveryFrame frame(h);
        std::shared_ptr<QtTarget> target;
        QtRegistryControl::DropReason why = QtRegistryControl::DropReason::Removed;
        {
            std::lock_guard lock(h.mutex);
            if (!h.cancelled.load(std::memory_order_acquire))
                target = h.target.lock();
            else
                why = h.cancelledReason();
        }
        // A drop is counted and reported by its notifier.
        dropped = target ? h.run(target, payload.get(), token, 0, false) : why; // cancelled while it waited
    }
};

// Calls `f` with the member of `mail` its kind holds.
template <typename F>
void byKind(const QtMail &mail, F f) noexcept
{
    switch (mail.kind()) {
    case QtMail::Kind::Payload:
        return f(&QtMail::payload);
    case QtMail::Kind::Variant:
        return f(&QtMail::variant);
    case QtMail::Kind::ValueAsync:
        return f(&QtMail::valueAsync);
    case QtMail::Kind::SharedAsync:
        return f(&QtMail::sharedAsync);
    }
}

} // namespace

void QtMail::moveOther(QtMail &other) noexcept
{
    byKind(*this, [&](auto member) { std::construct_at(&(this->*member), std::move(other.*member)); });
}

void QtMail::destroyOther() noexcept
{
    byKind(*this, [this](auto member) { std::destroy_at(&(this->*member)); });
}

void QtHandlerCore::postMail(QtQueued &&payload, std::uint64_t &sequence, const AsyncToken &token)
{
    static_cast<void>(routeAndPostMail(std::move(payload), sequence, token, nullptr));
}

namespace {

// Overflow::Block, the queue full or older notifiers waiting (under `lock`, the handler's mutex):
// waits for room in notify order, up to the handler's timeout; false when there is none, or the
// handler was cancelled meanwhile. `thread`: the context's thread, read again after the wait.
bool waitForRoomLocked(QtHandlerState &h, std::unique_lock<WriterLock> &lock, std::uint64_t sequence,
                       QThread *&thread)
{
    // In line by sequence (may throw, nothing changed yet), and counted before the wait tests the
    // queue under the drain lock, so a drain that delivers after that test sees a notifier to wake.
    h.blockedOrder.insert(std::lower_bound(h.blockedOrder.begin(), h.blockedOrder.end(), sequence), sequence);
    h.blockedProducers.fetch_add(1, std::memory_order_seq_cst);
    const bool room = h.room.wait_for(lock, h.blockTimeout, [&] {
        return h.context == nullptr ||
               (h.blockedOrder.front() == sequence && h.waitingLocked(h.capacity) < h.capacity);
    });
    h.blockedProducers.fetch_sub(1, std::memory_order_relaxed);
    h.blockedOrder.erase(std::lower_bound(h.blockedOrder.begin(), h.blockedOrder.end(), sequence));
    if (!h.blockedOrder.empty())
        h.room.notify_all(); // the next in line may have room now
    thread = h.threadLocked();
    return room && h.context != nullptr;
}

// Queues `mail` in notify order (under both locks when it goes into the drain's segment, which
// `drainLock` then holds) and lists the handler on `thread`'s mailbox. What may fail to allocate
// comes first, each step undone if a later one fails (throws, the queue as it was).
void placeMailLocked(QtHandlerState &h, QtMail &mail, QThread *thread,
                     std::unique_lock<WriterLock> &drainLock, bool once)
{
    if (h.layerTiming()) [[unlikely]]
        mail.postedAt = diag::ticks(); // diagnostics: its queueing delay
    // The queue stays sorted by notify sequence, so a drain's merge of the handlers' oldest
    // deliveries is exact (priority order within a notify). A delivery older than one the drain
    // took goes into the drain's segment.
    const std::uint64_t sequence = mail.order();
    bool inTaken = false;
    if (sequence < h.takenLast && (h.mail.empty() || h.mail.front().order() > sequence)) {
        if (!drainLock.owns_lock())
            drainLock.lock();
        inTaken = !h.taken.empty() && h.taken.back().order() > sequence;
    }
    // A notifier that took its place in the order before another one, then waited for room or
    // was preempted, queues ahead of the newer deliveries, not behind them.
    QtMailQueue &queue = inTaken ? h.taken : h.mail;
    const std::size_t at = queue.insertSorted(std::move(mail), notifyOrder);
    try {
        if (!h.listed && thread != nullptr) {
            h.mailboxes->enqueue(thread, h.shared_from_this());
            h.listed = true;
        }
    } catch (...) {
        mail = queue.erase(at); // destroyed after the locks are released
        throw;
    }
    h.takenBound += inTaken ? 1 : 0;
    if ((inTaken || at != queue.size() - 1) && h.listed)
        h.mailboxes->noteReorder();
    if (once)
        h.onceQueued = true; // its registry keeps it until this delivery ran or was dropped
}

} // namespace

QtHandlerCore::Route QtHandlerCore::routeAndPostMail(QtQueued &&payload, std::uint64_t &sequence,
                                                     const AsyncToken &token, QThread **here)
{
    QtHandlerState &h = state(*this);
    const QtMailboxes::OwedDrains owed; // ends after the handler's locks are released
    if (sequence == 0)
        sequence = h.mailboxes->nextSequence();
    // Made here, so that a QVariant event's copy (user code) runs under no lock of ours; the
    // locks only move it. Destroyed after they are released unless queued.
    QtMail mail{sequence, std::move(payload), token};
    QtHandlerState::Drop drop;
    QtMail droppedMail{}; // destroyed after the locks are released
    {
        std::unique_lock lock(h.mutex);
        if (h.context == nullptr)
            return Route::Skip; // removed before this notify reached it (as a notify skips it)
        // Null when the context's QThread was deleted: the delivery waits, unlisted, until the
        // context has a thread again (Qt keeps an object's posted events the same way).
        QThread *thread = h.context->thread();
        if (here != nullptr && type == Qt::AutoConnection && isHere(thread, *here))
            return Route::Here;
        // Held, once taken, until the delivery is queued: the drain delivers nothing meanwhile,
        // so a queue found full stays full until the queue's policy is applied.
        std::unique_lock<WriterLock> drainLock(h.drainMutex, std::defer_lock);
        // The room the queue's push applies its policy with, across both segments, under the drain
        // lock; 0 while the bound on what waits shows room (the push then reads no drain segment).
        std::size_t room = 0;
        bool refused = false; // Block: no room for it within the timeout, or cancelled meanwhile
        // Every delivery waiting counts, in both segments, until it starts. Block admits waiting
        // notifiers in notify order: a newer one waits behind an older one even when there is room.
        if (h.capacity != 0 && (h.waitingLocked(h.capacity) >= h.capacity ||
                                (h.blockedProducers.load(std::memory_order_relaxed) != 0 &&
                                 h.blockedOrder.front() < sequence))) {
            // Block waits before the push (never on the receiver's own thread, where the push drops
            // the new one as DropNewest does).
            if (h.overflow == Overflow::Block && thread != QThread::currentThread())
                refused = !waitForRoomLocked(h, lock, sequence, thread);
            drainLock.lock();
            h.takenBound = h.taken.size();
            room = h.capacity;
        }
        if (refused) {
            // The new one, as Block drops it once its wait is over; cancelled meanwhile, counted as
            // the cancellation would have counted it.
            drop = h.mail.drop(
                h.context != nullptr ? QtRegistryControl::DropReason::Overflow : h.cancelledReason(), 1);
        } else {
            // The oldest is dropped only once the new one is placed: a refused allocation leaves
            // the queue as it was (and the core reports the failure).
            const auto place = [&] { placeMailLocked(h, mail, thread, drainLock, once); };
            drop = h.mail.push(h.taken, room, droppedMail, place).report; // reported below
        }
        // Diagnostics: the most ever waiting, as `waiting` counts them (a delivery that started no
        // longer waits). The drain's segment by its bound, which a drain's deliveries since it was
        // set may exceed: a new most is checked against the segment itself.
        if (h.mail.size() + h.takenBound > h.counts().maxWaiting.load(std::memory_order_relaxed)) {
            if (!drainLock.owns_lock())
                drainLock.lock(); // after `mutex`, as above
            h.takenBound = h.taken.size();
            h.noteWaiting(h.mail.size() + h.takenBound);
        }
    }
    h.report(drop);
    return Route::Post;
}

void QtHandlerCore::postLatest(std::shared_ptr<const void> payload, const AsyncToken &token,
                               std::uint64_t owedAt)
{
    QtHandlerState &h = state(*this);
    const bool cell = !payload;           // the cell's write (writeLatestCell): it keeps a token only
    std::shared_ptr<const void> replaced; // destroyed after the lock is released
    AsyncToken replacedToken;
    std::unique_lock lock(h.mutex);
    if (h.context == nullptr)
        return; // removed before this notify reached it (as a notify skips a removed handler)
    if (h.latestLost.exchange(false, std::memory_order_acquire))
        h.scheduled = false; // its event was discarded: the newest is sent again
    h.cellUsed = h.cellUsed || cell;
    replaced = cell ? nullptr : std::exchange(h.pending, std::move(payload));
    if (!cell || token)
        replacedToken = std::exchange(h.pendingToken, token);
    if (replaced) // diagnostics
        h.counts().coalesced.store(h.counts().coalesced.load(std::memory_order_relaxed) + 1,
                                   std::memory_order_relaxed);
    if (h.layerTiming()) [[unlikely]]
        h.pendingSince = diag::ticks();
    if (!h.scheduled) {
        try {
            postLatestCallLocked(h);
        } catch (...) {
            // Nothing will take the payload or read the cell: as it was, and the next write
            // schedules a delivery (the core reports the failure).
            if (!cell)
                h.pending = std::move(replaced);
            if (!cell || token)
                h.pendingToken = std::move(replacedToken);
            if (owedAt != 0) {
                h.latest.take(); // the next write schedules one; a write since left it to this one:
                if (h.latest.seq.load(std::memory_order_relaxed) != owedAt && h.latest.owe()) {
                    try {
                        postLatestCallLocked(h); // ... one more try for it
                        h.scheduled = true;
                    } catch (...) {
                        h.latest.take();
                    }
                }
            }
            throw;
        }
        h.scheduled = true; // under the mutex, which the delivery takes first
        if (once)
            h.onceQueued = true;
    }
    h.noteWaiting(1); // diagnostics: the newest event waits
}

void QtHandlerCore::postBlocking(std::shared_ptr<const void> payload, const AsyncToken &token)
{
    QtHandlerState &h = state(*this);
    auto done = std::make_shared<BlockingDone>();
    // What the delivery handed back, taken once it is done: its drop counted and reported (unless
    // Qt could not take the event: the core reports that notify's failure), its references
    // released, here, where no lock is held.
    const auto settle = [&](bool countDrop) {
        std::optional<QtRegistryControl::DropReason> dropped;
        std::shared_ptr<QtHandlerState> heldHandler;
        std::shared_ptr<const void> heldPayload;
        AsyncToken heldToken;
        {
            std::unique_lock lock(done->mutex);
            done->changed.wait(lock, [&] { return done->done; });
            dropped = done->dropped;
            heldHandler = std::move(done->handler);
            heldPayload = std::move(done->payload);
            heldToken = std::move(done->token);
        }
        RIO_TSAN_ACQUIRE(done.get());
        if (dropped && countDrop)
            h.report(h.countDrops(1, *dropped));
    };
    bool made = false;
    try {
        std::lock_guard lock(h.mutex);
        if (h.context == nullptr)
            return; // removed before this notify reached it (as a notify skips a removed handler)
        [[maybe_unused]] const TsanPostScope posting;
        Handover call(BlockingCall(h.shared_from_this(), std::move(payload), token, done));
        made = true;
        QMetaObject::invokeMethod(h.context, std::move(call), Qt::QueuedConnection);
    } catch (...) {
        if (made)
            settle(false); // Qt could not take the event: it was destroyed unrun, on this thread
        throw;
    }
    settle(true);
}

} // namespace rio::detail
