// SPDX-License-Identifier: MIT
#pragma once

// The library's side of one handler: its queue of type-erased deliveries, its coalesced payload,
// its context and the typed part it calls, all under one mutex.

#include "lazy_deque.h"
#include "qt_control.h"
#include "qt_trace.h"

#include <registryio/detail/writer_lock.h>
#include <registryio/qt/detail/qt_handler.h>

#include <QMetaObject>
#include <QObject>
#include <QString>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

namespace rio::detail {

// One waiting delivery: its notify's place in the delivery order (top bit: a token waits in the
// token queue) and the event.
struct QtMail
{
    static constexpr std::uint64_t hasToken = std::uint64_t(1) << 63;
    std::uint64_t sequence;
    QtPayload payload;
    [[nodiscard]] std::uint64_t order() const noexcept { return sequence & ~hasToken; }
};

class QtHandlerState final : public QtHandlerCore, public std::enable_shared_from_this<QtHandlerState>
{
public:
    QtHandlerState(std::shared_ptr<QtRegistryControl> c, const Settings &settings);
    ~QtHandlerState();

    // What a cleared queue held, destroyed by the caller once `mutex` is released (tokens finish
    // async notifies, whose continuations are user code).
    struct Garbage
    {
        LazyDeque<QtMail> mail;
        LazyDeque<AsyncToken> tokens;
        std::shared_ptr<const void> pending;
        AsyncToken pendingToken;
        std::shared_ptr<QtTarget> keep;
    };
    // Moves every waiting delivery into `out` and counts them as dropped: the new total when
    // any waited, else 0 (under `mutex`).
    [[nodiscard]] std::uint64_t dropQueueLocked(Garbage &out) noexcept;
    // As dropQueueLocked, and a fired once-handler's typed part goes too (under `mutex`).
    [[nodiscard]] std::uint64_t clearLocked(Garbage &out) noexcept;
    // Counts one delivery dropped and returns the new total (under `mutex`).
    std::uint64_t countDropLocked() noexcept;
    // The thread of the context, or null when the context is gone or has no thread (its
    // QThread was deleted) (under `mutex`).
    [[nodiscard]] QThread *threadLocked() const noexcept;
    // The context's destroyed(): cancel and remove from the registry.
    void contextDestroyed() noexcept;
    // Stops every delivery that has not started and counts what waited as dropped for `reason`.
    void cancelFor(QtRegistryControl::DropReason reason) noexcept;
    // Calls the typed part with `event` on this thread (inside a DeliveryFrame): skips a
    // suspended handler, reports failures, lets thread cancellation pass.
    // `postedAt`: when its notify queued it (ticks, 0: unknown), for the queueing delay.
    void run(const std::shared_ptr<QtTarget> &target, const void *event, const AsyncToken &token,
             std::uint64_t postedAt = 0);
    // When the notify that took `sequence` queued it, while timed (else 0).
    [[nodiscard]] std::uint64_t postedAt(std::uint64_t sequence) const noexcept
    {
        return runStats.load(std::memory_order_relaxed) != nullptr ? control->postedAt(sequence) : 0;
    }

    const std::shared_ptr<QtRegistryControl> control;
    const std::size_t capacity; // Every: 0 = unbounded
    const Overflow overflow;
    const std::chrono::milliseconds blockTimeout;
    const std::chrono::milliseconds minInterval;
    std::atomic<long> running{0}; // queued deliveries of this handler running now, all threads

    // Guards the fields below: the core's futex lock (one compare-and-swap to lock, one exchange
    // to unlock), which a producer and a drain take once per delivery each.
    WriterLock mutex;
    QObject *context = nullptr; // null once the context died or the handler was cancelled
    QMetaObject::Connection contextConnection;
    std::weak_ptr<QtTarget> target;
    std::shared_ptr<QtTarget> keep; // a fired once-handler's typed part, until its delivery ran
    bool scheduled = false;         // Latest: a delivery is queued
    // Every: listed in a mailbox (while set, exactly one mailbox holds this handler, and only
    // its thread takes the queue).
    bool listed = false;
    int blockedProducers = 0; // Overflow::Block: notifiers waiting for room
    std::uint64_t droppedReported = 0;
    std::condition_variable_any room; // Overflow::Block: signalled when room is made
    std::atomic<std::uint64_t> dropped{0};
    std::chrono::steady_clock::time_point lastDelivery{}; // Latest with minInterval
    std::shared_ptr<const void> pending;                  // Latest: the newest undelivered payload
    AsyncToken pendingToken;
    LazyDeque<QtMail> mail; // Every: every waiting delivery (capacity counts exactly these)
    LazyDeque<AsyncToken> mailTokens;

    // Diagnostics (diagnostics.cpp). Counters of queued deliveries, always on: relaxed atomics
    // on the receiving side, plain fields under `mutex` on the posting side.
    std::atomic<std::uint64_t> runs{0};                      // queued deliveries run
    std::atomic<std::uint64_t> failures{0};                  // ... that threw
    std::atomic<std::uint64_t> dropsBy[5] = {0, 0, 0, 0, 0}; // non-overflow drops, by reason
    std::uint64_t maxWaiting = 0;                            // under `mutex`
    std::uint64_t lastDropBatch = 0; // what dropQueueLocked last dropped, under `mutex`
    std::uint64_t coalesced = 0;     // Latest: payloads replaced, under `mutex`
    std::uint64_t pendingSince = 0;  // Latest, while timed: when `pending` was set (ticks)
    // What diagnostics show, recorded at add (the context may change thread or die later).
    struct Origin
    {
        std::uint64_t thread = 0; // the adding thread's number
        QString contextClass;
        QString contextName;
        QString contextThreadName;
        QString file; // setOrigin (QML)
        int line = 0;
    };
    Origin origin; // under `mutex` once published
    // The statistics runStats points to while timed (kept until the handler is destroyed).
    struct FreeStats
    {
        void operator()(diag::HandlerStats *s) const noexcept { diag::freeStats(s); }
    };
    std::unique_ptr<diag::HandlerStats, FreeStats> ownedStats; // under `mutex`
    // Counts `n` dropped deliveries for `reason` (overflow drops are the total's remainder).
    void countDropsFor(QtRegistryControl::DropReason reason, std::uint64_t n) noexcept
    {
        if (n != 0)
            traceDrop(*this, n, reason);
        if (reason != QtRegistryControl::DropReason::Overflow)
            dropsBy[static_cast<int>(reason)].fetch_add(n, std::memory_order_relaxed);
    }
};

} // namespace rio::detail
