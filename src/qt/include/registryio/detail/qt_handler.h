#pragma once

// Internals of QtRegistry<E>: per-handler state, the per-notify envelope, queued deliveries and
// the async joins. Not part of the public API.

#include <registryio/delivery.h>
#include <registryio/detail/qt_tsan.h>
#include <registryio/exception_info.h>
#include <registryio/handler_id.h>
#include <registryio/qt_export.h>

#include <QFuture>
#include <QMetaObject>
#include <QObject>
#include <QPromise>
#include <QThread>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <latch>
#include <memory>
#include <mutex>
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

// One queued delivery waiting in a thread's mailbox.
struct MailItem
{
    MailItem() = default;
    MailItem(const MailItem &) = delete;
    MailItem &operator=(const MailItem &) = delete;
    virtual ~MailItem() = default;
    // On the mailbox's thread: runs, drops (cancelled handler, dead context) or resends (the
    // context moved to another thread).
    virtual void deliver(std::unique_ptr<MailItem> self) noexcept = 0;
    // Queues the item again for its context's current thread; drops it if the context died.
    virtual void resend(std::unique_ptr<MailItem> self) noexcept = 0;

    MailItem *next = nullptr;
    int resends = 0;
};

// A registry's mailboxes, one per receiving thread: queued deliveries to one thread wait in
// notify and priority order behind a single Qt event, so a busy notifier pays one lock and one
// allocation per delivery instead of one Qt event (and wake-up) each.
class RIO_QT_EXPORT QtMailboxes : public std::enable_shared_from_this<QtMailboxes>
{
public:
    // Appends `item` for `thread`. When that mailbox was idle, posts its drain through
    // `context`, which lives on `thread` (the caller holds the context's handler mutex).
    void enqueue(QThread *thread, QObject *context, std::unique_ptr<MailItem> item);
    // Runs everything queued for `thread` (called on it by the drain event).
    void drain(QThread *thread) noexcept;
    // The drain event for `thread` was discarded (its context died) or ran on the wrong
    // thread (its context moved): every waiting item is sent again.
    void lost(QThread *thread) noexcept;

private:
    struct Box
    {
        MailItem *head = nullptr;
        MailItem *tail = nullptr;
    };
    MailItem *take(QThread *thread) noexcept;

    std::mutex m_mutex;
    std::unordered_map<QThread *, Box> m_boxes; // an entry exists while its drain is pending
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
    std::chrono::milliseconds minInterval{0}; // Latest
    bool once = false;
    bool hasContext = false;
    std::atomic<bool> armed{false};     // set once `id` is assigned
    std::atomic<bool> cancelled{false}; // removed, context dead or registry gone
    std::atomic<bool> fired{false};     // once-handlers
    std::shared_ptr<QtRegistryControl> control;

    std::mutex mutex;           // guards the fields below
    QObject *context = nullptr; // null once the context died
    QMetaObject::Connection contextConnection;
    bool scheduled = false; // Latest: a delivery is queued

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
        if (cancelled.load(std::memory_order_acquire))
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
        {
            std::lock_guard lock(mutex);
            payload = std::move(pending);
            token = std::move(pendingToken);
        }
    }

    std::shared_ptr<const E> pending; // Latest: the newest undelivered payload (under mutex)
    AsyncToken pendingToken;          // Latest: keeps its async notify open
};

template <typename E, typename F>
struct QtHandlerImpl final : QtHandler<E>
{
    // The tag keeps this from competing with the copy and move constructors.
    template <typename G>
    QtHandlerImpl(std::in_place_t, G &&g) : fn(std::forward<G>(g))
    { }

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

// What one notify hands to every dispatcher: the event, its shared copy (made on first need,
// so one allocation per notify serves every queued handler) and the async join, if any.
template <typename E>
struct QtEnvelope
{
    const E *event = nullptr;
    mutable std::shared_ptr<const E> shared;
    AsyncToken token;
    std::vector<std::shared_ptr<QtHandler<E>>> *collect = nullptr; // notifySequential gathers

    const std::shared_ptr<const E> &payload() const
    {
        if (!shared)
            shared = std::make_shared<const E>(*event);
        return shared;
    }
};

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
        std::shared_ptr<const E> latest;
        AsyncToken latestToken;
        {
            std::lock_guard lock(handler->mutex);
            handler->scheduled = false;
            latest = std::move(handler->pending);
            latestToken = std::move(handler->pendingToken);
        }
        if (latest)
            handler->run(*latest, latestToken);
    }
};

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

// A queued delivery of one event to one handler, waiting in a mailbox.
template <typename E>
struct QtMailItem final : MailItem
{
    QtMailItem(std::shared_ptr<QtHandler<E>> h, std::shared_ptr<const E> p, AsyncToken t) noexcept
        : handler(std::move(h)), payload(std::move(p)), token(std::move(t))
    { }

    void deliver(std::unique_ptr<MailItem> self) noexcept override
    {
        if (handler->cancelled.load(std::memory_order_acquire))
            return;
        QObject *context = nullptr;
        bool here = false;
        {
            std::lock_guard lock(handler->mutex);
            context = handler->context;
            here = context != nullptr && context->thread() == QThread::currentThread();
        }
        if (context == nullptr)
            return;
        if (!here) {
            resend(std::move(self));
            return;
        }
        handler->run(*payload, token);
    }

    void resend(std::unique_ptr<MailItem> self) noexcept override
    {
        std::shared_ptr<QtHandler<E>> h = handler; // `self` may go away in enqueue
        std::unique_ptr<MailItem> dropped;         // destroyed after the lock is released
        std::lock_guard lock(h->mutex);
        if (h->context == nullptr || h->cancelled.load(std::memory_order_acquire)) {
            dropped = std::move(self);
            return;
        }
        try {
            h->control->mailboxes->enqueue(h->context->thread(), h->context, std::move(self));
        } catch (...) {
        }
    }

    std::shared_ptr<QtHandler<E>> handler;
    std::shared_ptr<const E> payload;
    AsyncToken token;
};

// Queues one delivery in the mailbox of the context's thread.
template <typename E>
void postMail(const std::shared_ptr<QtHandler<E>> &h, std::shared_ptr<const E> payload, AsyncToken token)
{
    auto item = std::make_unique<QtMailItem<E>>(h, std::move(payload), std::move(token));
    std::lock_guard lock(h->mutex);
    if (h->context == nullptr)
        return;
    h->control->mailboxes->enqueue(h->context->thread(), h->context, std::move(item));
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
    h->scheduled = true;
    [[maybe_unused]] const TsanPostScope posting;
    QMetaObject::invokeMethod(h->context, QtPosted<E>(h, nullptr, nullptr, nullptr), Qt::QueuedConnection);
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
            postMail(h, env.payload(), token);
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
        if (!h.armed.load(std::memory_order_acquire) || h.cancelled.load(std::memory_order_acquire))
            return;
        if (h.once) {
            if (h.fired.exchange(true, std::memory_order_acq_rel))
                return;
            h.control->remove(h.id, /*cancel=*/false);
        }
        if (env.collect != nullptr) {
            env.collect->push_back(handler);
            return;
        }
        deliver(handler, env, env.token);
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
