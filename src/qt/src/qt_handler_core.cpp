// SPDX-License-Identifier: MIT
// A handler's library side: its settings and flags, its route, its context watch, cancellation,
// and the calls of its queued deliveries.
#include "qt_handler_state.h"
#include "qt_handler_testing_p.h"
#include "qt_trace.h"

#include <registryio/detail/diagnostics.h>
#include <registryio/qt/detail/qt_delivery.h>
#include <registryio/qt/detail/qt_tsan.h>

#include <QPointer>
#include <QThread>

#include <new>
#include <stdexcept>
#include <utility>

#if defined(__GLIBCXX__)
#include <cxxabi.h>
#endif

namespace rio::detail {

namespace {

// The calling thread's QThread as a weak reference to the object, never as its address alone: a
// QThread deleted while its thread still runs (an adopted thread's, which Qt deletes in the
// thread's TLS destructors; a QThread object deleted once wait() returned) reads as gone, even
// when a new QThread takes its address. Trivially destructible storage, so that reading it stays
// valid in any TLS destructor; the weak reference is released by a thread_local guard made with
// it, after which Qt is asked each time.
struct ThreadCache
{
    enum State : unsigned char { Empty, Held, Ending };
    alignas(QPointer<QThread>) unsigned char storage[sizeof(QPointer<QThread>)];
    State state;

    QPointer<QThread> &pointer() noexcept
    {
        return *std::launder(reinterpret_cast<QPointer<QThread> *>(storage));
    }
};

RIO_TLS_INITIAL_EXEC thread_local constinit ThreadCache threadCache{};

std::atomic<QtCancelTestHook> cancelTestHook{nullptr};

struct ThreadCacheGuard
{
    ThreadCacheGuard() = default;
    ThreadCacheGuard(const ThreadCacheGuard &) = delete;
    ThreadCacheGuard &operator=(const ThreadCacheGuard &) = delete;
    ~ThreadCacheGuard()
    {
        threadCache.pointer().~QPointer<QThread>();
        threadCache.state = ThreadCache::Ending;
    }
};

RIO_COLD QThread *currentQThreadSlow()
{
    QThread *const thread = QThread::currentThread();
    if (thread == nullptr || threadCache.state == ThreadCache::Ending)
        return thread;
    // Each needs Qt's weak reference block: without memory for it, Qt is asked again next time.
    try {
        if (threadCache.state == ThreadCache::Held) {
            threadCache.pointer() = thread; // Qt made the thread a new QThread
            return thread;
        }
        new (threadCache.storage) QPointer<QThread>(thread);
    } catch (...) {
        return thread;
    }
    threadCache.state = ThreadCache::Held;
    static thread_local const ThreadCacheGuard guard; // destroyed at the thread's end
    return thread;
}

} // namespace

void setQtCancelTestHook(QtCancelTestHook hook) noexcept
{
    cancelTestHook.store(hook, std::memory_order_release);
}

QThread *currentQThread()
{
    if (threadCache.state == ThreadCache::Held) [[likely]] {
        if (QThread *thread = threadCache.pointer().data())
            return thread;
    }
    return currentQThreadSlow();
}

std::shared_ptr<QtHandlerCore> QtHandlerCore::create(const std::shared_ptr<QtRegistryControl> &control,
                                                     const Settings &settings)
{
    return std::make_shared<QtHandlerState>(control, settings);
}

QtHandlerCore::QtHandlerCore(const Settings &settings) noexcept
    : priority(settings.options.priority), type(settings.options.connection),
      delivery(settings.options.delivery), once(settings.options.once),
      intervalled(settings.options.minInterval.count() > 0), hasContext(settings.context != nullptr),
      holderAuto(settings.heldContext && type == Qt::AutoConnection && delivery == Delivery::Every &&
                 settings.options.minInterval.count() == 0),
      layer(settings.layer)
{ }

QtHandlerState::QtHandlerState(std::shared_ptr<QtRegistryControl> c, const Settings &settings)
    : QtHandlerCore(settings), control(std::move(c)), mailboxes(control->mailboxes.get()),
      capacity(settings.options.capacity), overflow(settings.options.overflow),
      blockTimeout(settings.options.blockTimeout), minInterval(settings.options.minInterval),
      context(settings.context), mail(Delivery::Every, overflow, {this}),
      taken(Delivery::Every, overflow, {this})
{ }

QtHandlerState::~QtHandlerState()
{
    // A once-handler leaves the registry without being cancelled: drop its watch on the context.
    if (contextConnection)
        QObject::disconnect(contextConnection);
}

QtHandlerState::Drop QtHandlerState::countDrops(std::uint64_t n,
                                                QtRegistryControl::DropReason reason) noexcept
{
    if (n == 0)
        return {};
    // Not `fetch_add(n) + n`: g++ 12.2 at -O1 and above compiles that, where `n` is used again,
    // into the old value added to itself.
    std::uint64_t before = dropped.load(std::memory_order_relaxed);
    while (!dropped.compare_exchange_weak(before, before + n, std::memory_order_relaxed)) {
    }
    const std::uint64_t total = before + n;
    traceDrop(*this, n, reason);
    if (diag::HandlerStats *s = stats.load(std::memory_order_acquire)) // by reason (the core's record)
        s->countDrops(n, reason);
    if (reason == QtRegistryControl::DropReason::Overflow)
        return {total, reason, total == droppedReported.load(std::memory_order_relaxed) + 1, n};
    // Reported at once, with every drop before it: no drain reports this total again.
    std::uint64_t reported = droppedReported.load(std::memory_order_relaxed);
    while (reported < total &&
           !droppedReported.compare_exchange_weak(reported, total, std::memory_order_relaxed)) {
    }
    return {total, reason, true, n};
}

QtDrop QtAccounting::drop(Reason reason, std::uint64_t n) const noexcept
{
    return handler->countDrops(n, reason);
}

QtHandlerState::Drop QtHandlerState::dropQueueLocked(Garbage &out, QtRegistryControl::DropReason reason,
                                                     bool counted) noexcept
{
    if (blockedProducers.load(std::memory_order_relaxed) != 0)
        room.notify_all();
    const std::lock_guard drain(drainMutex);
    std::size_t waiting = mail.size() + taken.size() + (pending ? 1 : 0);
    // Latest's cell, cancelled: a write not read is a delivery owed (the others coalesced), unless
    // a read is under way, which counts one after the writes it read (deliverLatest).
    if (cellUsed && cancelled.load(std::memory_order_acquire) &&
        cellRead.exchange(cellSettled, std::memory_order_acq_rel) == cellIdle && cellWritesLocked() != 0)
        ++waiting;
    out.mail = mail.release();
    out.taken = taken.release();
    out.pending.swap(pending);
    out.pendingToken.swap(pendingToken);
    onceDoneLocked(out);
    takenBound = 0;
    return counted ? countDrops(waiting, reason) : Drop{};
}

QThread *QtHandlerState::threadLocked() const noexcept
{
    return context != nullptr ? context->thread() : nullptr;
}

std::size_t QtHandlerState::waitingLocked(std::size_t limit) noexcept
{
    // `taken` only grows under `mutex`, so the bound holds until the drain delivers some.
    if (mail.size() + takenBound < limit)
        return mail.size() + takenBound;
    const std::lock_guard drain(drainMutex);
    takenBound = taken.size();
    return mail.size() + takenBound;
}

std::optional<QtRegistryControl::DropReason> QtHandlerState::run(const std::shared_ptr<QtTarget> &target,
                                                                 const void *event, const AsyncToken &token,
                                                                 std::uint64_t postedAt, bool countDrop)
{
    // Marked as starting from its last look at `cancelled` (taken before a removal that returned
    // meanwhile) until the call, through steps that throw nothing (see `starting`).
    starting.fetch_add(1, std::memory_order_seq_cst);
    if (const bool gone = cancelled.load(std::memory_order_seq_cst);
        gone || suspended.load(std::memory_order_acquire)) {
        starting.fetch_sub(1, std::memory_order_release);
        const auto why = gone ? cancelledReason() : QtRegistryControl::DropReason::Suspended;
        if (countDrop)
            report(countDrops(1, why));
        return why;
    }
    diag::HandlerStats &s = counts();
    s.calls.fetch_add(1, std::memory_order_relaxed); // every queued run, timed or not
    traceDeliveryBegin(*this, postedAt);
    try {
        if (s.timingNow() != nullptr) [[unlikely]] {
            const diag::RunScope scope(&s); // diagnostics on: timed
            diag::recordQueueDelay(&s, postedAt, scope.start());
            starting.fetch_sub(1, std::memory_order_release);
            target->invoke(event, token);
        } else {
            starting.fetch_sub(1, std::memory_order_release);
            target->invoke(event, token);
        }
#if defined(__GLIBCXX__)
    } catch (const abi::__forced_unwind &) {
        traceDeliveryEnd(*this, true);
        throw; // thread cancellation passes, as through a Qt slot
#endif
    } catch (...) {
        s.failures.fetch_add(1, std::memory_order_relaxed);
        traceDeliveryEnd(*this, true);
        control->reportCurrentException(id);
        return std::nullopt;
    }
    traceDeliveryEnd(*this, false);
    return std::nullopt;
}

void QtHandlerState::contextDestroyed() noexcept
{
    cancelFor(QtRegistryControl::DropReason::ContextDestroyed);
    control->remove(id, true);
}

void QtHandlerCore::bind(std::weak_ptr<QtTarget> target) noexcept
{
    QtHandlerState &h = state(*this);
    const std::lock_guard lock(h.mutex);
    const std::lock_guard drain(h.drainMutex);
    h.target.swap(target);
}

void QtHandlerCore::watchContext()
{
    QtHandlerState &h = state(*this);
    std::weak_ptr<QtHandlerState> weak = h.shared_from_this();
    QObject *context = nullptr;
    {
        std::lock_guard lock(h.mutex);
        context = h.context;
    }
    if (context == nullptr)
        return;
    // Library code: the connection's slot object is destroyed by Qt whenever it likes, possibly
    // after the module that added the handler was unloaded.
    auto connection = QObject::connect(context, &QObject::destroyed, Handover([weak] {
                                           if (auto alive = weak.lock())
                                               alive->contextDestroyed();
                                       }));
    std::lock_guard lock(h.mutex);
    h.contextConnection = connection;
}

QtHandlerCore::Route QtHandlerCore::route(QThread *&here) noexcept
{
    QtHandlerState &h = state(*this);
    std::lock_guard lock(h.mutex);
    if (h.context == nullptr)
        return Route::Skip;
    // Null when the context's QThread was deleted: queued deliveries wait for it to have one.
    QThread *thread = h.context->thread();
    switch (type) {
    case Qt::DirectConnection:
        return Route::Here;
    case Qt::QueuedConnection:
        return Route::Post;
    case Qt::BlockingQueuedConnection:
        return thread == nullptr || isHere(thread, here) ? Route::Refuse : Route::Block;
    default:
        // Auto: here, as a Qt direct call, ahead of what waits; but a Latest delivery scheduled
        // takes the newer event instead, so the newest is always delivered last, and a Latest
        // handler with a minimum interval is always posted, which keeps to the interval.
        return !h.scheduled && h.minInterval.count() == 0 && isHere(thread, here) ? Route::Here : Route::Post;
    }
}

void QtHandlerCore::cancel(bool counted) noexcept
{
    state(*this).cancelFor(QtRegistryControl::DropReason::Removed, counted);
}

void QtHandlerState::cancelFor(QtRegistryControl::DropReason reason, bool counted) noexcept
{
    markCancelled(reason); // before the queue is counted: the total reported below is the highest
    if (const QtCancelTestHook hook = cancelTestHook.load(std::memory_order_acquire)) [[unlikely]]
        hook(id);
    QMetaObject::Connection connection;
    Garbage garbage; // destroyed after the lock is released: tokens, payloads
    std::weak_ptr<QtTarget> typed;
    Drop drop;
    {
        std::lock_guard lock(mutex);
        connection = std::exchange(contextConnection, QMetaObject::Connection());
        drop = dropQueueLocked(garbage, cancelledReason(), counted); // the first cancellation's reason
        // Disconnected, we would not learn of the context's death: forget it now, so no
        // pending delivery or relisting ever touches it again.
        const std::lock_guard drain(drainMutex);
        context = nullptr;
        typed.swap(target);
    }
    if (connection)
        QObject::disconnect(connection);
    report(drop);
}

void QtHandlerCore::spend() noexcept
{
    state(*this).control->remove(id, false);
}

void QtHandlerCore::settleUnlessQueued() noexcept
{
    QtHandlerState &h = state(*this);
    {
        std::lock_guard lock(h.mutex);
        if (h.onceQueued)
            return; // its delivery settles it
    }
    h.control->settle(id);
}

void QtHandlerCore::reportCurrentException() noexcept
{
    state(*this).control->reportCurrentException(id);
}

void QtHandlerCore::trackFuture(const QFuture<void> &future, AsyncToken token)
{
    detail::trackFuture(future, id, state(*this).control, std::move(token));
}

void QtHandlerCore::runStep(QtTarget &target, const void *event, const AsyncToken &token)
{
    // Counted before the test: a removeAndWait that cancelled first sees this frame or this
    // frame sees its cancellation (both sequentially consistent).
    DeliveryFrame frame(state(*this));
    frame.counted = false; // unless timed (a JavaScript failure counts with its run)
    if (cancelled.load(std::memory_order_seq_cst) || suspended.load(std::memory_order_acquire))
        return;
    // Outside any notify: counted and timed here, on the thread that runs it.
    if (stats.load(std::memory_order_relaxed) == nullptr && diag::globalEnabled()) [[unlikely]]
        state(*this).control->takeStats(*this); // switched on process-wide since its add
    if (diag::HandlerStats *s = state(*this).timedStats()) [[unlikely]] {
        const diag::RunScope scope(s, true);
        frame.counted = true;
        target.invoke(event, token);
    } else {
        target.invoke(event, token);
    }
}

static_assert(std::is_standard_layout_v<diag::HandlerStats> &&
              offsetof(diag::HandlerStats, timing) == 0); // mayTime

bool QtHandlerCore::layerTiming() const noexcept
{
    return state(*this).layerTiming();
}

void QtHandlerCore::runTimed(QtTarget &target, const void *event, const AsyncToken &token)
{
    const diag::RunScope scope(&state(*this).counts(), true);
    const CountedRunFrame counted(*this);
    target.invoke(event, token);
}

void QtHandlerCore::waitForRuns() const noexcept
{
    const QtHandlerState &h = state(*this);
    const long own =
        ThreadFrame::count<DeliveryFrame>([&h](const DeliveryFrame &f) { return &f.handler == &h; });
    waitUntil([&] { return h.running.load(std::memory_order_seq_cst) <= own; });
}

std::uint64_t QtHandlerCore::droppedCount() const noexcept
{
    return state(*this).dropped.load(std::memory_order_relaxed);
}

void throwBlockingOnOwnThread()
{
    throw std::logic_error(
        "rio::QtRegistry: Qt::BlockingQueuedConnection to a context on the notifying thread "
        "would deadlock; the delivery was refused");
}

} // namespace rio::detail
