// SPDX-License-Identifier: MIT
#pragma once

// The library's side of one handler: its queue of type-erased deliveries, its coalesced payload,
// its context and the typed part it calls, all under one mutex.

#include "qt_control.h"
#include "qt_trace.h"
#include <registryio/qt/detail/delivery_queue.h>

#include <registryio/detail/diagnostics_hooks.h>
#include <registryio/detail/writer_lock.h>
#include <registryio/qt/detail/frame_pacer.h>
#include <registryio/qt/detail/qt_handler.h>

#include <QMetaObject>
#include <QObject>
#include <QString>
#include <QThread>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace rio::detail {

// One waiting delivery: its notify's place in the delivery order (its top two bits: what the
// union holds), the event, and while timed when it was queued (diagnostics' queueing delay). 48
// bytes, an async notify's token and a QVariant event's included: the token takes the half of
// the payload that its event leaves unused (a by-value event's shared slot, a shared event's
// bytes), so an async delivery allocates nothing more than a plain one (a QVariant event's waits as
// the notify's shared copy, as a larger event). A QVariant event is copied as Qt copies it: its data
// shared with the notifier's when Qt keeps it shared, else by its type's copy constructor, user
// code, so a mail is made before the handler's lock is taken, which then only moves it.
struct QtMail
{
    enum class Kind : std::uint8_t { Payload, Variant, ValueAsync, SharedAsync };
    // A by-value event and its async notify's token.
    struct ValueAsyncEvent
    {
        AsyncToken token;
        alignas(8) unsigned char bytes[QtPayload::inlineSize];
    };
    // A shared event and its async notify's token.
    struct SharedAsyncEvent
    {
        std::shared_ptr<const void> shared;
        AsyncToken token;
    };
    static constexpr int kindShift = 62;
    std::uint64_t sequence = 0;
    union {
        QtPayload payload; // Kind::Payload
        QVariant variant;  // Kind::Variant
        ValueAsyncEvent valueAsync;
        SharedAsyncEvent sharedAsync;
    };
    std::uint64_t postedAt = 0; // ticks; 0: not timed

    QtMail() noexcept : payload() { }
    // With an async notify's `token` (or none; a QVariant event comes with none). Throws what
    // copying the QVariant throws, changing nothing.
    QtMail(std::uint64_t s, QtQueued &&q, const AsyncToken &token = noAsyncToken) : sequence(s)
    {
        if (token) [[unlikely]] {
            if (q.payload.shared) {
                new (&sharedAsync) SharedAsyncEvent{std::move(q.payload.shared), token};
                sequence |= tag(Kind::SharedAsync);
            } else {
                new (&valueAsync) ValueAsyncEvent{token, {}};
                std::memcpy(valueAsync.bytes, q.payload.bytes, sizeof(valueAsync.bytes));
                sequence |= tag(Kind::ValueAsync);
            }
        } else if (q.variant != nullptr) {
            new (&variant) QVariant(*q.variant);
            sequence |= tag(Kind::Variant);
        } else {
            new (&payload) QtPayload(std::move(q.payload));
        }
    }
    QtMail(QtMail &&other) noexcept : sequence(other.sequence), postedAt(other.postedAt)
    {
        if (kind() == Kind::Payload) [[likely]]
            new (&payload) QtPayload(std::move(other.payload));
        else
            moveOther(other);
    }
    QtMail &operator=(QtMail &&other) noexcept
    {
        if (this != &other) {
            this->~QtMail();
            new (this) QtMail(std::move(other));
        }
        return *this;
    }
    QtMail(const QtMail &) = delete;
    QtMail &operator=(const QtMail &) = delete;
    ~QtMail()
    {
        if (kind() == Kind::Payload) [[likely]]
            payload.~QtPayload();
        else
            destroyOther();
    }

    [[nodiscard]] Kind kind() const noexcept { return Kind(sequence >> kindShift); }
    [[nodiscard]] std::uint64_t order() const noexcept { return sequence & ~tag(Kind(3)); }
    // The event, for the handler's call.
    [[nodiscard]] const void *data() const noexcept
    {
        switch (kind()) {
        case Kind::Payload:
            [[likely]] return payload.data();
        case Kind::Variant:
            return &variant;
        case Kind::ValueAsync:
            return valueAsync.bytes;
        case Kind::SharedAsync:
            return sharedAsync.shared.get();
        }
        return nullptr;
    }
    // Its async notify's token (empty: none).
    [[nodiscard]] const AsyncToken &token() const noexcept
    {
        if (kind() < Kind::ValueAsync) [[likely]]
            return noAsyncToken;
        return kind() == Kind::ValueAsync ? valueAsync.token : sharedAsync.token;
    }

private:
    static constexpr std::uint64_t tag(Kind k) noexcept { return std::uint64_t(k) << kindShift; }
    // The other kinds' move and destruction (qt_post.cpp).
    RIO_COLD Q_DECL_HIDDEN void moveOther(QtMail &other) noexcept;
    RIO_COLD Q_DECL_HIDDEN void destroyOther() noexcept;
};
static_assert(sizeof(QtMail) == 48);

// The order a facade handler's queue keeps (DeliveryQueue::insertSorted).
inline std::uint64_t notifyOrder(const QtMail &mail) noexcept
{
    return mail.order();
}
class QtHandlerState;
// A drop counted under a lock, to report once every lock of ours is released.
struct [[nodiscard]] QtDrop
{
    std::uint64_t total = 0; // the handler's drops so far (0: nothing to report)
    QtRegistryControl::DropReason reason = QtRegistryControl::DropReason::Overflow;
    bool signal = true;
    std::uint64_t n = 0; // of them, counted by this drop (0: reported again)
};
// A facade queue's: weighs nothing; a drop is counted by its handler (countDrops), whose report
// the queue hands back to the notifier that dropped it.
struct QtAccounting
{
    using Reason = QtRegistryControl::DropReason;
    static constexpr std::size_t reasons = 0;
    // Built for its handler only: no facade queue counts for no handler.
    QtAccounting(QtHandlerState *h) noexcept : handler(h) { }
    Q_DECL_HIDDEN QtDrop drop(Reason reason, std::uint64_t n) const noexcept; // qt_handler_core.cpp
    QtHandlerState *handler;
};
using QtMailQueue = DeliveryQueue<QtMail, QtAccounting>;
static_assert(!std::is_default_constructible_v<QtMailQueue>); // each is built for its handler

class QtMailboxes;

// The queue of a handler with Delivery::Every is two segments in notify order: `taken`, the
// oldest deliveries, which the draining thread took in one go and delivers one at a time under
// `drainMutex`, then `mail`, where notifiers queue under `mutex`. Every delivery in `taken` is
// older than every one in `mail`; both count as waiting until their delivery starts (the
// capacity counts exactly `taken.size() + mail.size()`). A notifier and the drain thus take
// different locks per delivery, on different cache lines: the drain takes `mutex` once per run
// of deliveries, and a notifier takes `drainMutex` only when the queue may be full, to drop the
// oldest delivery, or to queue behind an older notify that is already taken. Lock order:
// `mutex`, then `drainMutex`, then the mailboxes' lock.
class alignas(64) QtHandlerState final : public QtHandlerCore,
                                         public std::enable_shared_from_this<QtHandlerState>
{
public:
    QtHandlerState(std::shared_ptr<QtRegistryControl> c, const Settings &settings);
    ~QtHandlerState();

    // Its statistics, which a handler with a context has from its add (set before it is armed).
    [[nodiscard]] diag::HandlerStats &counts() const noexcept
    {
        return *stats.load(std::memory_order_relaxed);
    }
    // QtHandlerCore::layerTiming, inline for the library's own paths.
    [[nodiscard]] bool layerTiming() const noexcept { return counts().timingNow() != nullptr; }
    // Its statistics while its registry's diagnostics are on (the runs it makes itself are timed
    // in their timing block), else null.
    [[nodiscard]] diag::HandlerStats *timedStats() const noexcept
    {
        diag::HandlerStats *s = stats.load(std::memory_order_acquire);
        return s != nullptr && s->timingNow() != nullptr ? s : nullptr;
    }

    // Marks it cancelled for `reason` (the first reason stays) and waits for the deliveries past
    // their last look (run), steps that take no lock and run no user code: no delivery starts once
    // this returns, also under the handlers' table lock. cancelFor() finishes the cancellation.
    void markCancelled(QtRegistryControl::DropReason reason) noexcept
    {
        int none = -1;
        cancelledFor.compare_exchange_strong(none, static_cast<int>(reason), std::memory_order_acq_rel);
        cancelled.store(true, std::memory_order_seq_cst);
        waitUntil([this] { return starting.load(std::memory_order_seq_cst) == 0; });
    }

    // What a cleared queue held, destroyed by the caller once its locks are released (tokens
    // finish async notifies, whose continuations are user code), and a fired once-handler whose
    // delivery is done, which then leaves its registry's table (settled; its typed part may go).
    struct Garbage
    {
        QtMailQueue::Items mail;
        QtMailQueue::Items taken;
        std::shared_ptr<const void> pending;
        AsyncToken pendingToken;
        QtHandlerState *settled = nullptr; // alive while the garbage is (its caller holds it)

        Garbage() = default;
        Garbage(const Garbage &) = delete;
        Garbage &operator=(const Garbage &) = delete;
        ~Garbage()
        {
            if (settled != nullptr)
                settled->control->settle(settled->id);
        }
    };
    using Drop = QtDrop;
    // The one place a delivery is dropped: counts `n` deliveries of this handler dropped for
    // `reason` (its total, its drops by reason, the trace) and says what to report. Lock-free.
    // An overflow drop is signalled when it is the first since the receiver last reported (the
    // receiver reports the rest: unreportedLocked); any other drop is signalled at once.
    [[nodiscard]] Drop countDrops(std::uint64_t n, QtRegistryControl::DropReason reason) noexcept;
    // Reports `drop` (signal, log). No lock of ours may be held: slots and the log are user code.
    void report(const Drop &drop) noexcept
    {
        if (drop.total != 0)
            control->reportDropped(*this, drop.n, drop.total, drop.signal, drop.reason);
    }
    // Overflow drops no report has covered yet, now counted as reported (under `drainMutex`;
    // once per delivery, so inline).
    [[nodiscard]] Drop unreportedLocked() noexcept
    {
        const std::uint64_t total = dropped.load(std::memory_order_relaxed);
        if (total <= droppedReported.load(std::memory_order_relaxed)) [[likely]]
            return {};
        droppedReported.store(total, std::memory_order_relaxed);
        return {total, QtRegistryControl::DropReason::Overflow, true};
    }
    // Moves every waiting delivery into `out` and counts them as dropped for `reason` (under
    // `mutex`; takes `drainMutex`). A fired once-handler's delivery is done then.
    [[nodiscard]] Drop dropQueueLocked(Garbage &out, QtRegistryControl::DropReason reason,
                                       bool counted = true) noexcept;
    // A fired once-handler's delivery ran or was dropped: `out` settles it (under `mutex`).
    void onceDoneLocked(Garbage &out) noexcept
    {
        if (std::exchange(onceQueued, false))
            out.settled = this;
    }
    // The thread of the context, or null when the context is gone or has no thread (its
    // QThread was deleted) (under `mutex` or `drainMutex`).
    [[nodiscard]] QThread *threadLocked() const noexcept;
    // Deliveries waiting, exactly (under `mutex`; takes `drainMutex` only when `mail` and the
    // bound on `taken` reach `limit`, and then refreshes the bound). Returns a count >= limit
    // only when the exact count is.
    [[nodiscard]] std::size_t waitingLocked(std::size_t limit) noexcept;
    // The context's destroyed(): cancel and remove from the registry.
    void contextDestroyed() noexcept;
    // Stops every delivery that has not started and counts what waited as dropped for `reason`.
    void cancelFor(QtRegistryControl::DropReason reason, bool counted = true) noexcept;
    // Calls the typed part with `event` on this thread (inside a DeliveryFrame), unless the
    // handler is cancelled or suspended by then: returns why it did not run (its drop counted and
    // reported unless `countDrop` is false). Reports failures, lets thread cancellation pass.
    // `postedAt`: when it was queued (ticks, 0: unknown), for the queueing delay.
    std::optional<QtRegistryControl::DropReason> run(const std::shared_ptr<QtTarget> &target,
                                                     const void *event, const AsyncToken &token,
                                                     std::uint64_t postedAt = 0, bool countDrop = true);
    // Read by notifiers and the drain alike, written rarely: one cache line group that neither
    // side's per-delivery writes touch.
    const std::shared_ptr<QtRegistryControl> control;
    QtMailboxes *const mailboxes; // control->mailboxes, without reading `control`'s block
    const std::size_t capacity;   // Every: 0 = unbounded
    const Overflow overflow;
    const std::chrono::milliseconds blockTimeout;
    const std::chrono::milliseconds minInterval;
    QObject *context = nullptr; // null once the context died or the handler was cancelled (both locks)
    // Why it was first cancelled (a DropReason, -1: not cancelled), set before `cancelled`.
    std::atomic<int> cancelledFor{-1};
    // The reason for a delivery of a cancelled handler (its first cancellation's).
    [[nodiscard]] QtRegistryControl::DropReason cancelledReason() const noexcept
    {
        const int r = cancelledFor.load(std::memory_order_acquire);
        return r < 0 ? QtRegistryControl::DropReason::Removed : QtRegistryControl::DropReason(r);
    }
    std::weak_ptr<QtTarget> target;        // both locks to change, either to read
    std::atomic<std::uint64_t> dropped{0}; // deliveries dropped so far
    std::atomic<int> blockedProducers{0};  // Overflow::Block: notifiers waiting for room (under `mutex`)
    std::condition_variable_any room;      // Overflow::Block: signalled when room is made
    // Overflow::Block: the sequences of the notifiers waiting for room, ascending (under
    // `mutex`). Room goes to the oldest waiting notify first, never to a newer notifier.
    std::vector<std::uint64_t> blockedOrder;
    QMetaObject::Connection contextConnection; // under `mutex`
    // A fired once-handler's delivery is queued: its registry keeps it until that delivery ran
    // or was dropped (onceDoneLocked), so that removals still reach it (under `mutex`).
    bool onceQueued = false;

    // The notifiers' side: the core's futex lock (one compare-and-swap to lock, one exchange to
    // unlock), taken once per delivery by a notifier, and once per run of deliveries by the drain.
    alignas(64) WriterLock mutex;
    // Every: listed in a mailbox (while set, exactly one mailbox holds this handler, and only
    // its thread takes the queue).
    bool listed = false;
    bool scheduled = false;  // Latest: a delivery is queued
    bool framePaced = false; // Latest: ... or owed by its value's window's next frame (paceToFrame)
    // Latest: the pacer its last value went to (its context's thread only), whose window's frames
    // then read its newest event.
    QPointer<FramePacer> pacer;
    std::size_t takenBound = 0;  // >= taken.size(): the drain sets it, a notifier refreshes it
    std::uint64_t takenLast = 0; // >= the order of taken.back()
    QtMailQueue mail;            // Every: the newer waiting deliveries, in notify order
    std::chrono::steady_clock::time_point lastDelivery{}; // Latest with minInterval
    std::shared_ptr<const void> pending;                  // Latest: the newest undelivered payload
    bool cellUsed = false;                                // Latest: its events go to `latest`
    AsyncToken pendingToken;
    // Diagnostics written by notifiers under `mutex`, beside stats->maxWaiting and ->coalesced
    // (Latest: payloads replaced; a cell's: latestCountsLocked).
    std::uint64_t coalescedDelivered = 0; // Latest: the coalesced count at its last delivery
    std::uint64_t pendingSince = 0;       // Latest, while timed: when `pending` was set (ticks)

    // The drain's side, under `drainMutex`, which a notifier takes only near the capacity, to
    // drop the oldest, or to queue behind a taken delivery.
    alignas(64) WriterLock drainMutex;
    // Delivery::Latest: Qt discarded the scheduled delivery's event unrun (its next notify
    // schedules one again, with the newest event). Beside the lock, in its padding: the drain's
    // side then stays one cache line.
    std::atomic<bool> latestLost{false};
    QtMailQueue taken;                             // Every: the oldest waiting deliveries, in notify order
    std::atomic<std::uint64_t> droppedReported{0}; // the drop total reported so far (countDrops)
    std::atomic<long> running{0}; // queued deliveries of this handler running now, all threads
    // Deliveries between their last look at `cancelled` and the handler's call (run): steps that
    // run no user code and take no lock, which a cancellation waits for (markCancelled).
    std::atomic<int> starting{0};

    // Latest's cell (`latest`), its reader's side (runCell, no lock held; diagnostics read it): the
    // count it last read, so an event is never delivered twice (half the count is the writes, each
    // delivered, coalesced or waiting), and the reads that found a write.
    alignas(64) std::atomic<std::uint64_t> cellTaken{0};
    std::atomic<std::uint64_t> cellDelivered{0};
    mutable std::uint64_t cellCoalescedShown = 0; // under `mutex`: the most coalesced shown
    // Who counts a write left unread at the handler's cancellation as a dropped delivery: the
    // cancellation (dropQueueLocked), or a read under way then, against the writes it read.
    enum : int { cellIdle, cellReading, cellSettled };
    std::atomic<int> cellRead{cellIdle};
    [[nodiscard]] std::uint64_t cellWritesLocked() const noexcept
    {
        // The sequence after the read (acquire): never behind it.
        const std::uint64_t taken = cellTaken.load(std::memory_order_acquire);
        return (latest.seq.load(std::memory_order_relaxed) - taken) / 2;
    }
    // Diagnostics (under `mutex`): Latest's waiting event (0 or 1) and the events a newer one
    // replaced. A read stores `cellDelivered` before `cellTaken`; this loads them in the other
    // order, then `latest.seq`: between the read's stores it sees one coalesced fewer than before,
    // and the most shown stands, so coalesced never goes down and the sum is the writes'.
    struct LatestCounts
    {
        std::size_t waiting = 0;
        std::uint64_t coalesced = 0;
    };
    [[nodiscard]] LatestCounts latestCountsLocked() const noexcept
    {
        const std::uint64_t taken = cellTaken.load(std::memory_order_acquire);
        const std::uint64_t delivered = cellDelivered.load(std::memory_order_acquire);
        const std::uint64_t seq = latest.seq.load(std::memory_order_relaxed);
        const bool unread = seq - taken >= 2;
        const std::uint64_t replaced = seq / 2 - delivered; // the writes not delivered
        cellCoalescedShown = std::max(cellCoalescedShown, unread && replaced != 0 ? replaced - 1 : replaced);
        return {pending || (cellUsed && latest.owed.load(std::memory_order_acquire)) || unread ? 1U : 0U,
                counts().coalesced.load(std::memory_order_relaxed) + cellCoalescedShown +
                    latestLeft.load(std::memory_order_relaxed)};
    }
    // Latest: more than one write since its last delivery (a frame then reads its newest).
    [[nodiscard]] bool floodedLocked() const noexcept
    {
        return counts().coalesced.load(std::memory_order_relaxed) != coalescedDelivered ||
               cellWritesLocked() > 1;
    }
    // Raises stats->maxWaiting to `n` (under `mutex`, its one writer at a time).
    void noteWaiting(std::uint64_t n) noexcept
    {
        std::atomic<std::uint64_t> &most = counts().maxWaiting;
        if (n > most.load(std::memory_order_relaxed))
            most.store(n, std::memory_order_relaxed);
    }
    // What diagnostics show, recorded at add (the context may change thread or die later).
    struct Origin
    {
        std::uint64_t thread = 0; // the adding thread's number
        QString contextClass;
        QString contextName;
        QString contextThreadName;
        QString file; // the QML layer's (setHandlerOrigin)
        int line = 0;
    };
    Origin origin; // under `mutex` once published
    // The reference to `stats` (kept until the handler is destroyed).
    std::unique_ptr<diag::HandlerStats, diag::FreeStats> ownedStats; // under `mutex`
    // The handler left its registry's table (removed, its context destroyed, fired once,
    // cleared): its drops so far, and every later one, count for the registry. Called once, by
    // whoever took it out.
    void leave() noexcept
    {
        if (diag::HandlerStats *s = stats.load(std::memory_order_acquire))
            s->leave();
    }
};

// True when `thread` is the calling thread's QThread, read into `here` on first need.
inline bool isHere(const QThread *thread, QThread *&here) noexcept
{
    if (here == nullptr)
        here = currentQThread();
    return thread == here;
}

// The state behind a QtHandlerCore (every QtHandlerCore is a QtHandlerState).
inline QtHandlerState &state(QtHandlerCore &core) noexcept
{
    return static_cast<QtHandlerState &>(core);
}
inline const QtHandlerState &state(const QtHandlerCore &core) noexcept
{
    return static_cast<const QtHandlerState &>(core);
}

} // namespace rio::detail
