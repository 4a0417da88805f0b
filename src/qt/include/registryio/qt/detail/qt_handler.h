// SPDX-License-Identifier: MIT
#pragma once

// Internals of QtRegistry<E>: per-handler state, the per-notify envelope, queued deliveries and
// the async joins. Not part of the public API.

#include <registryio/exception_info.h>
#include <registryio/handler_id.h>
#include <registryio/qt/delivery.h>
#include <registryio/qt/detail/lazy_deque.h>
#include <registryio/qt/detail/qt_tsan.h>
#include <registryio/qt/qt_export.h>

#include <QFuture>
#include <QMetaObject>
#include <QObject>
#include <QPromise>
#include <QThread>
#include <QTimer>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace rio {
class QtRegistryBase;
}

namespace rio::detail {

// Keeps an async notify (or one step of a sequential one) open while referenced: the last
// reference to go completes it.
struct AsyncOp
{
    virtual ~AsyncOp() = default;
};
using AsyncToken = std::shared_ptr<AsyncOp>;

// notifyAsync's join: finishes the promise when the last piece of work lets go.
struct RIO_QT_EXPORT AsyncJoin final : AsyncOp
{
    AsyncJoin();
    ~AsyncJoin() override;
    QPromise<void> promise;
};

struct QtHandlerCore;

// A registry's mailboxes, one per receiving thread. Each handler with queued deliveries keeps
// them in its own bounded queue; a thread's mailbox lists the handlers with work and waits
// behind a single Qt event, whose drain delivers their events merged in notify order (then
// priority order), a few dozen at a time per lock. A busy notifier pays one handler lock and no
// allocation per delivery, instead of one Qt event (and wake-up) each.
class RIO_QT_EXPORT QtMailboxes : public std::enable_shared_from_this<QtMailboxes>
{
public:
    // Lists `handler` (just given work, not listed anywhere) for `thread`. When that mailbox
    // had no drain pending, posts one through `context`, which lives on `thread` (the caller
    // holds the handler's mutex, so the context is alive).
    void enqueue(QThread *thread, QObject *context, std::shared_ptr<QtHandlerCore> handler);
    // Delivers what the listed handlers have waiting (called on `thread` by the drain event).
    void drain(QThread *thread) noexcept;
    // The drain event for `thread` was discarded (its context died) or ran on the wrong thread
    // (its context moved): every listed handler is listed again where its context lives.
    void lost(QThread *thread) noexcept;
    // The order of a notify among all queued deliveries of this registry.
    std::uint64_t nextSequence() noexcept { return m_sequence.fetch_add(1, std::memory_order_relaxed); }
    // How many threads have a mailbox now (for tests: it must not grow with thread churn).
    std::size_t boxCount();

private:
    struct Box
    {
        std::vector<std::shared_ptr<QtHandlerCore>> incoming; // under m_mutex
        bool posted = false;                                  // a drain event is pending
        // Only the box's thread touches these, in drains (which nest in nested event loops).
        std::vector<std::shared_ptr<QtHandlerCore>> active;
        int depth = 0;
        unsigned epoch = 0;
    };
    void relist(const std::vector<std::shared_ptr<QtHandlerCore>> &handlers) noexcept;
    // Posts `box`'s drain event through `context` (m_mutex held) and marks it posted; throws,
    // with nothing changed, when Qt cannot allocate the event.
    void postDrainLocked(Box &box, QThread *thread, QObject *context);

    std::mutex m_mutex;
    std::unordered_map<QThread *, std::unique_ptr<Box>> m_boxes;
    std::atomic<std::uint64_t> m_sequence{1};
};

// Shared by a registry and everything that may outlive it. Reaches the registry only while it
// lives; the registry's destructor waits for calls in progress.
struct RIO_QT_EXPORT QtRegistryControl
{
    std::atomic<QtRegistryBase *> registry{nullptr};
    std::atomic<int> users{0};
    std::shared_ptr<QtMailboxes> mailboxes = std::make_shared<QtMailboxes>();

    // Reports the exception being handled as a failure of `id`.
    void reportCurrentException(HandlerId id) noexcept;
    // Reports a failure of `id` with `message` (no exception object is thrown).
    void reportMessage(HandlerId id, const char *message) noexcept;
    // Reports `total` deliveries of `id` dropped so far (signal and, at most once a second, the
    // log).
    // Logs (rate-limited) and, when `signal`, emits deliveriesDropped.
    void reportDropped(HandlerId id, std::uint64_t total, bool signal) noexcept;
    // Removes `id` from the registry, if it still lives.
    bool remove(HandlerId id, bool cancel) noexcept;
    // Called by the registry's destructor: no call reaches it afterwards.
    void detach() noexcept;

private:
    QtRegistryBase *enter() noexcept;
    void leave() noexcept;
};

// Watches a handler's QFuture: reports its failure and holds `token` until it finishes.
RIO_QT_EXPORT void trackFuture(const QFuture<void> &future, HandlerId id,
                               std::shared_ptr<QtRegistryControl> control, AsyncToken token);

// The untyped part of a handler's state.
struct RIO_QT_EXPORT QtHandlerCore
{
    enum class Route { Skip, Here, Post, Block, Refuse };

    QtHandlerCore() = default;
    QtHandlerCore(const QtHandlerCore &) = delete;
    QtHandlerCore &operator=(const QtHandlerCore &) = delete;
    virtual ~QtHandlerCore();

    // Queued deliveries of this handler running now (removeAndWait waits for them to end).
    struct RunningMark
    {
        explicit RunningMark(QtHandlerCore &h) noexcept;
        ~RunningMark();
        RunningMark(const RunningMark &) = delete;
        RunningMark &operator=(const RunningMark &) = delete;
        QtHandlerCore &handler;
    };
    std::atomic<int> runningQueued{0};
    std::atomic<const void *> runningThread{nullptr}; // the thread of the running deliveries
    // Returns once no queued delivery runs on another thread (on the context's own thread the
    // caller is that delivery, or none runs).
    void waitForQueuedRuns() const noexcept;

    HandlerId id;
    int priority = 0;
    Qt::ConnectionType type = Qt::DirectConnection;
    Delivery delivery = Delivery::Every;
    std::size_t capacity = DeliveryOptions::DefaultCapacity; // Every: 0 = unbounded
    Overflow overflow = Overflow::DropOldest;
    std::chrono::milliseconds blockTimeout{1000};
    std::chrono::milliseconds minInterval{0};             // Latest
    std::chrono::steady_clock::time_point lastDelivery{}; // Latest with minInterval (under mutex)
    bool once = false;
    bool hasContext = false;
    std::atomic<bool> armed{false};     // set once `id` is assigned
    std::atomic<bool> cancelled{false}; // removed, context dead or registry gone
    std::atomic<bool> fired{false};     // once-handlers
    std::atomic<bool> suspended{false}; // setSuspended: notifies and queued deliveries skip it
    std::shared_ptr<QtRegistryControl> control;

    std::mutex mutex;           // guards the fields below
    QObject *context = nullptr; // null once the context died
    QMetaObject::Connection contextConnection;
    bool scheduled = false; // Latest: a delivery is queued
    // Every: listed in a mailbox (set and cleared under `mutex`; while set, exactly one mailbox
    // holds this handler, and only its thread takes the queue).
    bool listed = false;
    int resends = 0;                       // drains lost in a row (a bound on bouncing)
    int blockedProducers = 0;              // Overflow::Block: notifiers waiting for room
    std::uint64_t droppedReported = 0;     // the last total reported
    std::condition_variable room;          // Overflow::Block: signalled when room is made
    std::atomic<std::uint64_t> dropped{0}; // deliveries dropped by the overflow policy

    // Takes up to `max` waiting deliveries into the batch of the draining thread (under
    // `mutex`); the number taken.
    virtual std::size_t takeBatch(std::size_t max) = 0;
    // What a cleared queue held, destroyed by the caller after releasing `mutex` (the tokens
    // finish async notifies, whose continuations may run user code).
    struct Garbage
    {
        virtual ~Garbage() = default;
    };
    // Drops the queue and the batch (under `mutex`).
    [[nodiscard]] virtual std::unique_ptr<Garbage> clearQueue() noexcept = 0;
    // Puts the batch back in front of the queue (under `mutex`; the context moved).
    virtual void returnBatch() noexcept = 0;
    // The draining thread's batch: whether it is empty, its first notify's sequence, and
    // delivering its first event.
    [[nodiscard]] virtual bool batchEmpty() const noexcept = 0;
    // Deliveries waiting, queued or in the batch (under `mutex`).
    [[nodiscard]] virtual std::size_t waitingCount() const noexcept = 0;
    [[nodiscard]] virtual std::uint64_t batchFront() const noexcept = 0;
    virtual void deliverBatchFront() noexcept = 0;

    // Where a delivery requested on the calling thread goes now.
    Route route() noexcept;
    // Stops every delivery that has not started yet. Idempotent.
    void cancel() noexcept;
    // The context's destroyed() signal: cancel and remove from the registry.
    void contextDestroyed() noexcept;
    // Drops the coalesced payload (typed part).
    virtual void dropPending() noexcept = 0;
};

// The typed state of one handler; shared by the registry's dispatcher and queued deliveries.
template <typename E>
struct QtHandler : QtHandlerCore
{
    // Calls the handler on this thread (throws what it throws). A returned QFuture<void> is
    // tracked with `token`.
    virtual void invoke(const E &event, const AsyncToken &token) = 0;

    // A queued delivery running on the context's thread: skips cancelled handlers, reports
    // failures, never throws into Qt's event loop. Inside a read section, so removeAndWait()
    // waits for it.
    void run(const E &event, const AsyncToken &token) noexcept
    {
        RunningMark mark(*this);
        if (cancelled.load(std::memory_order_acquire) || suspended.load(std::memory_order_acquire))
            return;
        try {
            invoke(event, token);
        } catch (...) {
            control->reportCurrentException(id);
        }
    }

    void dropPending() noexcept override
    {
        std::shared_ptr<const E> payload;
        AsyncToken token;
        LazyDeque<Mail> queue;
        LazyDeque<AsyncToken> tokens;
        {
            std::lock_guard lock(mutex);
            payload = std::move(pending);
            token = std::move(pendingToken);
            queue.swap(mail);
            tokens.swap(mailTokens);
            if (blockedProducers != 0)
                room.notify_all();
        }
    }

    // A small trivially copyable event waits by value; others share one copy per notify.
    static constexpr bool storesByValue = std::is_trivially_copyable_v<E> && sizeof(E) <= 16;
    using Payload = std::conditional_t<storesByValue, E, std::shared_ptr<const E>>;
    static constexpr std::uint64_t hasToken = std::uint64_t(1) << 63;
    // One waiting delivery: the notify's sequence (top bit: a token waits in the token queue)
    // and the event.
    struct Mail
    {
        std::uint64_t sequence;
        Payload payload;
    };

    std::size_t takeBatch(std::size_t max) override
    {
        std::size_t n = 0;
        for (; n < max && !mail.empty(); ++n) {
            Mail &m = mail.front();
            if ((m.sequence & hasToken) != 0) {
                batchTokens.push_back(std::move(mailTokens.front()));
                mailTokens.pop_front();
            }
            batch.push_back(std::move(m));
            mail.pop_front();
        }
        return n;
    }

    struct Cleared final : QtHandlerCore::Garbage
    {
        LazyDeque<Mail> mail, batch;
        LazyDeque<AsyncToken> mailTokens, batchTokens;
    };

    std::unique_ptr<QtHandlerCore::Garbage> clearQueue() noexcept override
    {
        if (blockedProducers != 0)
            room.notify_all();
        std::unique_ptr<Cleared> cleared;
        try {
            cleared = std::make_unique<Cleared>();
        } catch (...) {
            // Without memory for the move, clear here (tokens then finish under the lock).
            mail.clear();
            mailTokens.clear();
            batch.clear();
            batchTokens.clear();
            return nullptr;
        }
        cleared->mail.swap(mail);
        cleared->batch.swap(batch);
        cleared->mailTokens.swap(mailTokens);
        cleared->batchTokens.swap(batchTokens);
        return cleared;
    }

    void returnBatch() noexcept override
    {
        while (!batch.empty()) {
            if ((batch.back().sequence & hasToken) != 0) {
                mailTokens.push_front(std::move(batchTokens.back()));
                batchTokens.pop_back();
            }
            mail.push_front(std::move(batch.back()));
            batch.pop_back();
        }
    }

    [[nodiscard]] bool batchEmpty() const noexcept override { return batch.empty(); }
    [[nodiscard]] std::size_t waitingCount() const noexcept override { return mail.size() + batch.size(); }
    [[nodiscard]] std::uint64_t batchFront() const noexcept override
    {
        return batch.front().sequence & ~hasToken;
    }

    void deliverBatchFront() noexcept override
    {
        Mail m = std::move(batch.front());
        batch.pop_front();
        AsyncToken token;
        if ((m.sequence & hasToken) != 0) {
            token = std::move(batchTokens.front());
            batchTokens.pop_front();
        }
        if constexpr (storesByValue)
            run(m.payload, token);
        else
            run(*m.payload, token);
    }

    std::shared_ptr<const E> pending; // Latest: the newest undelivered payload (under mutex)
    AsyncToken pendingToken;          // Latest: keeps its async notify open
    LazyDeque<Mail> mail;             // Every: the waiting deliveries (under mutex)
    LazyDeque<AsyncToken> mailTokens;
    LazyDeque<Mail> batch; // taken by the draining thread, delivered without the lock
    LazyDeque<AsyncToken> batchTokens;
};

template <typename E, typename F>
struct QtHandlerImpl final : QtHandler<E>
{
    // The tag keeps this from competing with the copy and move constructors.
    template <typename G>
    QtHandlerImpl(std::in_place_t, G &&g) : fn(std::forward<G>(g))
    { }

    // Whether the handler returns a QFuture<void> (tracked, its failure reported later).
    static constexpr bool returnsFuture =
        std::is_convertible_v<decltype(std::declval<QtHandlerImpl &>().call(std::declval<const E &>())),
                              QFuture<void>>;

    void invoke(const E &event, const AsyncToken &token) override
    {
        using R = decltype(call(event));
        if constexpr (std::is_convertible_v<R, QFuture<void>>)
            trackFuture(QFuture<void>(call(event)), this->id, this->control, token);
        else
            call(event);
    }

    F fn;

private:
    decltype(auto) call(const E &event)
    {
        if constexpr (std::is_invocable_v<F &, const E &>)
            return std::invoke(fn, event);
        else
            return std::invoke(fn);
    }
};

// The token of a notify that nobody joins.
inline const AsyncToken noAsyncToken{};

// What one notify hands to every dispatcher: the event, its shared copy (made on first need,
// so one allocation per notify serves every queued handler) and the async join, if any. The
// join is borrowed from notifyAsync's frame (a queued delivery copies it), so a plain notify
// destroys nothing for it.
template <typename E>
struct QtEnvelope
{
    const E *event = nullptr;
    mutable std::shared_ptr<const E> shared;
    mutable std::uint64_t sequence = 0; // queued deliveries' order, taken on first need
    const AsyncToken *token = &noAsyncToken;

    const std::shared_ptr<const E> &payload() const
    {
        if (!shared)
            shared = std::make_shared<const E>(*event);
        return shared;
    }
};

template <typename E>
void deliverLatest(const std::shared_ptr<QtHandler<E>> &handler);

// The functor Qt queues to the context: moved into Qt's slot object, run on the context's
// thread, destroyed unrun when the context dies. A null payload means "take the coalesced one".
template <typename E>
struct QtPosted : TsanHandover
{
    std::shared_ptr<QtHandler<E>> handler;
    std::shared_ptr<const E> payload;
    AsyncToken token;
    std::shared_ptr<std::latch> done; // BlockingQueued: the notifier waits for it

    QtPosted(std::shared_ptr<QtHandler<E>> h, std::shared_ptr<const E> p, AsyncToken t,
             std::shared_ptr<std::latch> d) noexcept
        : handler(std::move(h)), payload(std::move(p)), token(std::move(t)), done(std::move(d))
    {
        RIO_TSAN_RELEASE(this);
    }
    QtPosted(QtPosted &&other) noexcept
        : TsanHandover(std::move(other)), handler(std::move(other.handler)),
          payload(std::move(other.payload)), token(std::move(other.token)), done(std::move(other.done))
    {
        RIO_TSAN_RELEASE(this);
    }
    QtPosted(const QtPosted &) = delete;
    QtPosted &operator=(const QtPosted &) = delete;
    QtPosted &operator=(QtPosted &&) = delete;

    ~QtPosted()
    {
        RIO_TSAN_ACQUIRE(this);
        tsanSyncWithPosters();
        token.reset();
        if (done) {
            RIO_TSAN_RELEASE(done.get());
            done->count_down();
        }
    }

    void operator()()
    {
        RIO_TSAN_ACQUIRE(this);
        tsanSyncWithPosters();
        deliver();
        // Qt may destroy this functor on the posting thread (its reference counts are invisible
        // to TSan): publish what the delivery did to whoever runs the destructor.
        RIO_TSAN_RELEASE(this);
    }

private:
    void deliver()
    {
        if (!handler)
            return;
        if (payload) {
            handler->run(*payload, token);
            return;
        }
        deliverLatest(handler);
    }
};

// Latest: delivers the pending payload on the context's thread, or, when the handler's minimum
// interval has not passed since its last delivery, retries when it has (the handler stays
// scheduled meanwhile, so notifies only replace the payload).
template <typename E>
void deliverLatest(const std::shared_ptr<QtHandler<E>> &handler)
{
    std::shared_ptr<const E> latest;
    AsyncToken latestToken;
    {
        std::lock_guard lock(handler->mutex);
        const auto now = std::chrono::steady_clock::now();
        if (handler->minInterval.count() > 0 && handler->context != nullptr &&
            !handler->cancelled.load(std::memory_order_acquire) &&
            now < handler->lastDelivery + handler->minInterval) {
            const auto wait = std::chrono::ceil<std::chrono::milliseconds>(handler->lastDelivery +
                                                                           handler->minInterval - now);
            QTimer::singleShot(wait, Qt::PreciseTimer, handler->context,
                               [handler] { deliverLatest(handler); });
            return;
        }
        handler->scheduled = false;
        handler->lastDelivery = now;
        latest = std::move(handler->pending);
        latestToken = std::move(handler->pendingToken);
    }
    if (latest)
        handler->run(*latest, latestToken);
}

// Queues one delivery to the handler's context; false when the context is gone.
template <typename E>
bool post(const std::shared_ptr<QtHandler<E>> &h, std::shared_ptr<const E> payload, AsyncToken token,
          std::shared_ptr<std::latch> done)
{
    std::unique_lock lock(h->mutex);
    if (h->context == nullptr)
        return false;
    [[maybe_unused]] const TsanPostScope posting;
    return QMetaObject::invokeMethod(h->context,
                                     QtPosted<E>(h, std::move(payload), std::move(token), std::move(done)),
                                     Qt::QueuedConnection);
}

// Called with a removed handler's last registry reference. Inside a guard's removal (which
// holds the guard link's lock) the reference is retired to the reclamation domain, so a closure
// whose destructor resets guards of the same registry runs after that lock is released.
RIO_QT_EXPORT void releaseHandler(std::shared_ptr<QtHandlerCore> &handler) noexcept;

// Queues one delivery in the handler's bounded queue, applying its overflow policy, and lists
// the handler in the mailbox of its context's thread.
template <typename E>
void postMail(const std::shared_ptr<QtHandler<E>> &h, const QtEnvelope<E> &env, const AsyncToken &token)
{
    using Handler = QtHandler<E>;
    typename Handler::Payload payload;
    if constexpr (Handler::storesByValue)
        payload = *env.event;
    else
        payload = env.payload();
    QtMailboxes &boxes = *h->control->mailboxes;
    if (env.sequence == 0)
        env.sequence = boxes.nextSequence();
    std::uint64_t droppedTotal = 0;
    bool signalDrop = false;
    std::optional<typename Handler::Mail> droppedMail; // destroyed after the lock is released
    AsyncToken droppedToken;
    {
        std::unique_lock lock(h->mutex);
        if (h->context == nullptr)
            return;
        bool dropOldest = false;
        if (h->capacity != 0 && h->mail.size() >= h->capacity) {
            Overflow policy = h->overflow;
            if (policy == Overflow::Block) {
                policy = Overflow::DropNewest; // on the receiver's own thread, or after the timeout
                if (h->context->thread() != QThread::currentThread()) {
                    ++h->blockedProducers;
                    h->room.wait_for(lock, h->blockTimeout,
                                     [&] { return h->context == nullptr || h->mail.size() < h->capacity; });
                    --h->blockedProducers;
                    if (h->context == nullptr)
                        return;
                }
            }
            if (h->mail.size() >= h->capacity) {
                if (policy == Overflow::DropNewest) {
                    droppedTotal = h->dropped.fetch_add(1, std::memory_order_relaxed) + 1;
                    signalDrop = droppedTotal == h->droppedReported + 1;
                    lock.unlock();
                    h->control->reportDropped(h->id, droppedTotal, signalDrop);
                    return;
                }
                dropOldest = true;
            }
        }
        // What may fail to allocate comes first, each step undone if a later one fails: a
        // refused allocation leaves the queue as it was (and the core reports the failure).
        std::uint64_t sequence = env.sequence;
        if (token)
            sequence |= Handler::hasToken;
        h->mail.push_back({sequence, std::move(payload)});
        bool tokenQueued = false;
        try {
            if (token) {
                h->mailTokens.push_back(token);
                tokenQueued = true;
            }
            if (!h->listed) {
                boxes.enqueue(h->context->thread(), h->context, h);
                h->listed = true;
            }
        } catch (...) {
            if (tokenQueued)
                h->mailTokens.pop_back();
            h->mail.pop_back();
            throw;
        }
        if (dropOldest) {
            droppedTotal = h->dropped.fetch_add(1, std::memory_order_relaxed) + 1;
            // The signal for the first drop since the receiver last reported; the receiver
            // reports the total at its next drain (so a flood signals about once per drain).
            signalDrop = droppedTotal == h->droppedReported + 1;
            if ((h->mail.front().sequence & Handler::hasToken) != 0) {
                droppedToken = std::move(h->mailTokens.front());
                h->mailTokens.pop_front();
            }
            droppedMail.emplace(std::move(h->mail.front()));
            h->mail.pop_front();
        }
    }
    if (droppedTotal != 0)
        h->control->reportDropped(h->id, droppedTotal, signalDrop);
}

// Coalesced: replaces the pending payload; queues a delivery only when none is pending.
template <typename E>
void postLatest(const std::shared_ptr<QtHandler<E>> &h, std::shared_ptr<const E> payload, AsyncToken token)
{
    std::shared_ptr<const E> replaced;
    AsyncToken replacedToken;
    std::unique_lock lock(h->mutex);
    if (h->context == nullptr)
        return;
    replaced = std::exchange(h->pending, std::move(payload));
    replacedToken = std::exchange(h->pendingToken, std::move(token));
    if (h->scheduled)
        return;
    [[maybe_unused]] const TsanPostScope posting;
    try {
        QMetaObject::invokeMethod(h->context, QtPosted<E>(h, nullptr, nullptr, nullptr),
                                  Qt::QueuedConnection);
    } catch (...) {
        // Nothing will take the payload: as it was (the core reports the failure).
        h->pending = std::move(replaced);
        h->pendingToken = std::move(replacedToken);
        throw;
    }
    h->scheduled = true; // under the mutex, which the delivery takes first
}

[[noreturn]] void throwBlockingOnOwnThread();

// Delivers one event to one handler as its connection type says. Throws what a handler run on
// this thread throws, and std::logic_error for a refused BlockingQueued delivery.
template <typename E>
void deliver(const std::shared_ptr<QtHandler<E>> &h, const QtEnvelope<E> &env, const AsyncToken &token)
{
    if (h->cancelled.load(std::memory_order_acquire))
        return;
    if (!h->hasContext) {
        h->invoke(*env.event, token);
        return;
    }
    switch (h->route()) {
    case QtHandlerCore::Route::Skip:
        return;
    case QtHandlerCore::Route::Here:
        h->invoke(*env.event, token);
        return;
    case QtHandlerCore::Route::Refuse:
        throwBlockingOnOwnThread();
    case QtHandlerCore::Route::Post:
        if (h->delivery == Delivery::Latest)
            postLatest(h, env.payload(), token);
        else
            postMail(h, env, token);
        return;
    case QtHandlerCore::Route::Block: {
        auto done = std::make_shared<std::latch>(1);
        if (post(h, env.payload(), token, done)) {
            done->wait();
            RIO_TSAN_ACQUIRE(done.get());
        }
        return;
    }
    }
}

// The callable stored in the core registry for each handler.
template <typename E>
struct QtDispatcher
{
    std::shared_ptr<QtHandler<E>> handler;

    void operator()(const QtEnvelope<E> &env) const
    {
        QtHandler<E> &h = *handler;
        if (!h.armed.load(std::memory_order_acquire) || h.cancelled.load(std::memory_order_acquire) ||
            h.suspended.load(std::memory_order_acquire))
            return;
        if (h.once) {
            if (h.fired.exchange(true, std::memory_order_acq_rel))
                return;
            h.control->remove(h.id, /*cancel=*/false);
        }
        deliver(handler, env, *env.token);
    }
};

// The callable stored for a handler without context object that may run any number of times:
// the notifying thread runs it, so none of the routing above applies, and the handler's type is
// known here, so the call is not virtual.
template <typename E, typename F>
struct QtDirectDispatcher
{
    std::shared_ptr<QtHandlerImpl<E, F>> handler;

    // No flag is tested: the core calls no removed or suspended handler from a notify that
    // starts after the removal or suspension (a notify already under way may, with or without a
    // flag), and reports what the handler throws with the box's id. Handlers returning a future
    // take QtDispatcher (their failures are reported later, with the id `armed` publishes).
    void operator()(const QtEnvelope<E> &env) const
    {
        handler->invoke(*env.event, *env.token); // QtHandlerImpl is final: a direct call
    }
};

// notifySequential: runs the gathered handlers one after the other, each when the previous one
// (and its future, or its queued delivery) finished.
template <typename E>
struct QtSequence : std::enable_shared_from_this<QtSequence<E>>
{
    enum Phase : int { Starting, Waiting, Done };

    struct Step final : AsyncOp
    {
        explicit Step(std::shared_ptr<QtSequence> s) : sequence(std::move(s)) { }
        ~Step() override
        {
            int expected = Starting;
            if (sequence->phase.compare_exchange_strong(expected, Done))
                return; // finished while being started: the starter goes on
            sequence->advance();
        }
        std::shared_ptr<QtSequence> sequence;
    };

    QtSequence(std::vector<std::shared_ptr<QtHandler<E>>> s, std::shared_ptr<const E> event)
        : steps(std::move(s))
    {
        env.shared = std::move(event);
        env.event = env.shared.get();
        promise.start();
    }

    void advance() noexcept
    {
        for (;;) {
            if (next == steps.size()) {
                promise.finish();
                return;
            }
            std::shared_ptr<QtHandler<E>> h = steps[next++];
            phase.store(Starting);
            {
                AsyncToken token = std::make_shared<Step>(this->shared_from_this());
                try {
                    deliver(h, env, token);
                } catch (...) {
                    h->control->reportCurrentException(h->id);
                }
            }
            int expected = Starting;
            if (phase.compare_exchange_strong(expected, Waiting))
                return; // the step's last reference advances
        }
    }

    std::vector<std::shared_ptr<QtHandler<E>>> steps;
    QtEnvelope<E> env;
    QPromise<void> promise;
    std::size_t next = 0;
    std::atomic<int> phase{Starting};
};

} // namespace rio::detail
