// SPDX-License-Identifier: MIT
#include <registryio/detail/registry_core.h>
#include <registryio/detail/registry_link.h>
#include <registryio/qt/detail/qt_handler.h>
#include <registryio/qt/logging.h>
#include <registryio/qt/qt_registry_base.h>

#include <QCoreApplication>
#include <QDateTime>
#include <QFutureWatcher>
#include <QThread>
#include <QtGlobal>

#include <algorithm>
#include <climits>
#include <exception>
#include <functional>
#include <mutex>
#include <new>
#include <stdexcept>
#include <utility>

namespace rio {

namespace {

// Runs once per process: HandlerId is known to QMetaType by name for queued connections.
const int handlerIdMetaType = qRegisterMetaType<rio::HandlerId>("rio::HandlerId");

} // namespace

QtRegistryBase::QtRegistryBase(QObject *parent)
    : QObject(parent), m_control(std::make_shared<detail::QtRegistryControl>()),
      m_link(std::make_shared<detail::RegistryLink>())
{
    static_cast<void>(handlerIdMetaType);
    m_control->registry.store(this, std::memory_order_release);
    m_link->registry = this;
    m_link->removeFn = &QtRegistryBase::removeThroughLink;
    m_link->containsFn = &QtRegistryBase::containsThroughLink;
}

QtRegistryBase::~QtRegistryBase()
{
    detachShared();
}

int QtRegistryBase::count() const noexcept
{
    const std::size_t n = handlerCount();
    return n > static_cast<std::size_t>(INT_MAX) ? INT_MAX : static_cast<int>(n);
}

void QtRegistryBase::setExceptionHandler(std::function<void(const ExceptionInfo &)> callback)
{
    if (!callback)
        throw std::invalid_argument("rio::QtRegistry::setExceptionHandler: the callback is empty");
    auto next = std::make_shared<const std::function<void(const ExceptionInfo &)>>(std::move(callback));
    std::lock_guard lock(m_callbackMutex);
    m_callback.swap(next);
}

void QtRegistryBase::shareDeliveryOrderWith(QtRegistryBase &other) noexcept
{
    m_control->mailboxes = other.m_control->mailboxes;
}

void QtRegistryBase::clearExceptionHandler()
{
    std::shared_ptr<const std::function<void(const ExceptionInfo &)>> old;
    std::lock_guard lock(m_callbackMutex);
    m_callback.swap(old);
}

void QtRegistryBase::reportFailure(const ExceptionInfo &info) noexcept
{
    try {
        std::shared_ptr<const std::function<void(const ExceptionInfo &)>> callback;
        {
            std::lock_guard lock(m_callbackMutex);
            callback = m_callback;
        }
        if (callback)
            (*callback)(info);
    } catch (...) {
    }
    const QString message = QString::fromStdString(info.message);
    try {
        Q_EMIT handlerFailed(info.handlerId, message);
    } catch (...) {
    }
    try {
        qCWarning(lcRegistryIO).nospace().noquote()
            << "handler " << info.handlerId.value() << " failed: " << message;
    } catch (...) {
    }
}

void QtRegistryBase::reportDropped(HandlerId id, quint64 total, bool signal) noexcept
{
    if (signal) {
        try {
            Q_EMIT deliveriesDropped(id, total);
        } catch (...) {
        }
    }
    // The log at most once a second per registry: a flood must not become a flood of warnings.
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    qint64 last = m_lastDropLog.load(std::memory_order_relaxed);
    if (now - last < 1000 || !m_lastDropLog.compare_exchange_strong(last, now))
        return;
    try {
        qCWarning(lcRegistryIO).nospace() << "handler " << id.value() << ": " << total
                                          << " queued deliveries dropped so far (its queue is full)";
    } catch (...) {
    }
}

void QtRegistryBase::detachShared() noexcept
{
    if (m_link)
        m_link->detach();
    if (m_control)
        m_control->detach();
}

bool QtRegistryBase::removeThroughLink(void *registry, HandlerId id) noexcept
{
    return static_cast<QtRegistryBase *>(registry)->removeHandler(id, true);
}

bool QtRegistryBase::containsThroughLink(void *registry, HandlerId id) noexcept
{
    return static_cast<const QtRegistryBase *>(registry)->containsHandler(id);
}

void detail::releaseHandler(std::shared_ptr<QtHandlerCore> &handler) noexcept
{
    // A guard's removal runs without the link's lock (RegistryLink::remove), so the caller can
    // drop the last reference itself, whatever its closure's destructor does.
    (void)handler;
}

namespace detail {

AsyncJoin::AsyncJoin()
{
    promise.start();
}

AsyncJoin::~AsyncJoin()
{
    promise.finish();
}

QtRegistryBase *QtRegistryControl::enter() noexcept
{
    users.fetch_add(1, std::memory_order_seq_cst);
    QtRegistryBase *r = registry.load(std::memory_order_seq_cst);
    if (r == nullptr)
        leave();
    return r;
}

void QtRegistryControl::leave() noexcept
{
    if (users.fetch_sub(1, std::memory_order_acq_rel) == 1)
        users.notify_all();
}

void QtRegistryControl::detach() noexcept
{
    registry.store(nullptr, std::memory_order_seq_cst);
    for (int n = users.load(std::memory_order_acquire); n != 0; n = users.load(std::memory_order_acquire))
        users.wait(n, std::memory_order_acquire);
}

void QtRegistryControl::reportCurrentException(HandlerId id) noexcept
{
    QtRegistryBase *r = enter();
    if (r == nullptr)
        return;
    ExceptionInfo info{id, {}, std::current_exception()};
    try {
        std::rethrow_exception(info.exception);
    } catch (const std::exception &e) {
        try {
            info.message = e.what();
        } catch (...) {
        }
    } catch (...) {
    }
    r->reportFailure(info);
    leave();
}

void QtRegistryControl::reportMessage(HandlerId id, const char *message) noexcept
{
    try {
        throw std::runtime_error(message);
    } catch (...) {
        reportCurrentException(id);
    }
}

void QtRegistryControl::reportDropped(HandlerId id, std::uint64_t total, bool signal) noexcept
{
    QtRegistryBase *r = enter();
    if (r == nullptr)
        return;
    r->reportDropped(id, total, signal);
    leave();
}

bool QtRegistryControl::remove(HandlerId id, bool cancel) noexcept
{
    QtRegistryBase *r = enter();
    if (r == nullptr)
        return false;
    const bool removed = r->removeHandler(id, cancel);
    leave();
    return removed;
}

#if QT_VERSION < QT_VERSION_CHECK(6, 5, 0)
namespace {
// The thread that owns every QFutureWatcher of trackFuture() on Qt < 6.5: started on first use,
// never destroyed (watchers may finish during static destruction); it ends with the process.
QObject *futureWatchHome()
{
    static QObject *home = [] {
        auto *thread = new QThread;
        thread->setObjectName(QStringLiteral("rio future watch"));
        thread->start();
        auto *object = new QObject;
        object->moveToThread(thread);
        return object;
    }();
    return home;
}
} // namespace
#endif

void trackFuture(const QFuture<void> &future, HandlerId id, std::shared_ptr<QtRegistryControl> control,
                 AsyncToken token)
{
    // Our functor, so that its handover to the thread finishing the future is visible to TSan.
    struct Watch : TsanHandover
    {
        HandlerId id;
        std::shared_ptr<QtRegistryControl> control;
        AsyncToken token;

        Watch(HandlerId i, std::shared_ptr<QtRegistryControl> c, AsyncToken t) noexcept
            : id(i), control(std::move(c)), token(std::move(t))
        {
            RIO_TSAN_RELEASE(this);
        }
        Watch(Watch &&other) noexcept
            : TsanHandover(std::move(other)), id(other.id), control(std::move(other.control)),
              token(std::move(other.token))
        {
            RIO_TSAN_RELEASE(this);
            // The moved-from one may be destroyed on another thread (Qt drops its last reference
            // to a queued functor wherever that happens): its destructor acquires this.
            RIO_TSAN_RELEASE(&other); // NOLINT(bugprone-use-after-move): its address only
        }
        Watch(const Watch &other) noexcept
            : TsanHandover(other), id(other.id), control(other.control), token(other.token)
        {
            RIO_TSAN_RELEASE(this);
        }
        Watch &operator=(const Watch &) = delete;
        Watch &operator=(Watch &&) = delete;
        ~Watch() { RIO_TSAN_ACQUIRE(this); }

        void operator()(QFuture<void> finished)
        {
            RIO_TSAN_ACQUIRE(this);
            try {
                finished.waitForFinished(); // rethrows the handler future's exception
            } catch (...) {
                if (control)
                    control->reportCurrentException(id);
            }
            token.reset();
            RIO_TSAN_RELEASE(this); // Qt may destroy this functor on another thread
        }
    };
#if QT_VERSION >= QT_VERSION_CHECK(6, 5, 0)
    QFuture<void>(future).then(QtFuture::Launch::Sync, Watch(id, std::move(control), std::move(token)));
#else
    // Qt 6.4 races when a continuation is attached while another thread finishes the future (the
    // continuation runs twice; a crash in QFutureInterfaceBase::reportStarted). A QFutureWatcher
    // has no such race: one per tracked future, created, fed and destroyed on a watch thread of
    // our own (the notifying thread may have no event loop).
    QObject *home = futureWatchHome();
    QMetaObject::invokeMethod(
        home,
        [future = QFuture<void>(future), watch = Watch(id, std::move(control), std::move(token))]() mutable {
            auto *watcher = new QFutureWatcher<void>;
            QObject::connect(watcher, &QFutureWatcher<void>::finished, watcher,
                             [watcher, watch = std::move(watch)]() mutable {
                                 watch(watcher->future());
                                 watcher->deleteLater();
                             });
            watcher->setFuture(future);
        },
        Qt::QueuedConnection);
#endif
}

namespace {

// The mailbox whose drain event this thread is posting: a drain destroyed unrun meanwhile is
// that one, refused by a failed allocation inside Qt's post (its poster undoes the listing).
thread_local const QtMailboxes *t_posting = nullptr;

// Marks the post of a drain event of `boxes` on this thread while alive.
struct PostingDrain
{
    explicit PostingDrain(const QtMailboxes *boxes) noexcept : previous(std::exchange(t_posting, boxes)) { }
    ~PostingDrain() { t_posting = previous; }
    PostingDrain(const PostingDrain &) = delete;
    PostingDrain &operator=(const PostingDrain &) = delete;
    const QtMailboxes *previous;
};

// The one Qt event a mailbox waits behind. Discarded unrun (its context died), it sends the
// items again, so they find a live context or are dropped.
struct MailboxDrain : TsanHandover
{
    std::shared_ptr<QtMailboxes> boxes;
    QThread *thread;
    bool ran = false;

    MailboxDrain(std::shared_ptr<QtMailboxes> b, QThread *t) noexcept : boxes(std::move(b)), thread(t)
    {
        RIO_TSAN_RELEASE(this);
    }
    MailboxDrain(MailboxDrain &&other) noexcept
        : TsanHandover(std::move(other)), boxes(std::move(other.boxes)), thread(other.thread), ran(other.ran)
    {
        RIO_TSAN_RELEASE(this);
    }
    MailboxDrain(const MailboxDrain &) = delete;
    MailboxDrain &operator=(const MailboxDrain &) = delete;
    MailboxDrain &operator=(MailboxDrain &&) = delete;
    ~MailboxDrain()
    {
        RIO_TSAN_ACQUIRE(this);
        tsanSyncWithPosters();
        if (!ran && boxes && t_posting != boxes.get())
            boxes->lost(thread);
    }

    void operator()()
    {
        RIO_TSAN_ACQUIRE(this);
        tsanSyncWithPosters();
        ran = true;
        if (boxes) {
            if (QThread::currentThread() == thread)
                boxes->drain(thread);
            else
                boxes->lost(thread);
        }
        RIO_TSAN_RELEASE(this);
    }
};

} // namespace

void QtMailboxes::postDrainLocked(Box &box, QThread *thread, QObject *context)
{
    // Under m_mutex, so no handler can be listed behind a post that then fails (postEvent never
    // runs the drain or destroys it here: the callers keep the context alive).
    [[maybe_unused]] const TsanPostScope posting;
    const PostingDrain marked(this);
    QMetaObject::invokeMethod(context, MailboxDrain(shared_from_this(), thread), Qt::QueuedConnection);
    box.posted = true;
}

void QtMailboxes::enqueue(QThread *thread, QObject *context, std::shared_ptr<QtHandlerCore> handler)
{
    // A refused allocation throws and changes nothing.
    std::lock_guard lock(m_mutex);
    auto it = m_boxes.find(thread);
    if (it == m_boxes.end())
        it = m_boxes.emplace(thread, std::make_unique<Box>()).first;
    Box &box = *it->second;
    box.incoming.push_back(std::move(handler));
    if (box.posted)
        return;
    try {
        postDrainLocked(box, thread, context);
    } catch (...) {
        box.incoming.pop_back();
        throw;
    }
}

namespace {

// What the draining thread found for one listed handler.
enum class Batch { Ready, Done };

// On the draining thread: makes sure the handler's batch has an event, or says it is done here
// (no more work, cancelled, or its context moved and it was listed where it lives now).
Batch refill(QtMailboxes &boxes, const std::shared_ptr<QtHandlerCore> &h, QThread *here,
             std::uint64_t &report, std::size_t *waiting = nullptr) noexcept
{
    std::unique_ptr<QtHandlerCore::Garbage> garbage; // destroyed after the lock is released
    std::lock_guard lock(h->mutex);
    if (h->cancelled.load(std::memory_order_acquire) || h->context == nullptr) {
        garbage = h->clearQueue();
        h->listed = false;
        return Batch::Done;
    }
    if (h->context->thread() != here) {
        h->returnBatch();
        try {
            boxes.enqueue(h->context->thread(), h->context, h);
        } catch (...) {
            garbage = h->clearQueue();
            h->listed = false;
        }
        return Batch::Done;
    }
    h->resends = 0;
    if (waiting != nullptr)
        *waiting += h->waitingCount();
    const std::uint64_t dropped = h->dropped.load(std::memory_order_relaxed);
    if (dropped != h->droppedReported) {
        h->droppedReported = dropped;
        report = dropped;
    }
    if (!h->batchEmpty())
        return Batch::Ready;
    // A few dozen at a time: the notifiers wait for this lock, and a dropped-oldest event is
    // one that has not been taken yet.
    if (h->takeBatch(32) != 0 && h->blockedProducers != 0)
        h->room.notify_all();
    if (!h->batchEmpty())
        return Batch::Ready;
    h->listed = false;
    return Batch::Done;
}

} // namespace

void QtMailboxes::drain(QThread *thread) noexcept
{
    Box *box = nullptr;
    {
        std::lock_guard lock(m_mutex);
        auto it = m_boxes.find(thread);
        if (it == m_boxes.end())
            return;
        box = it->second.get();
        box->posted = false;
        for (auto &h : box->incoming)
            box->active.push_back(std::move(h));
        box->incoming.clear();
    }
    // A handler may run a nested event loop (a modal dialog) that waits for a later delivery:
    // one more drain event lets that loop go on with this box. Found empty later, it costs
    // one event per drain.
    for (const auto &h : box->active) {
        if (!h)
            continue;
        std::lock_guard handlerLock(h->mutex);
        if (h->context == nullptr || h->context->thread() != thread)
            continue;
        std::lock_guard lock(m_mutex);
        if (!box->posted) {
            // Only for a nested event loop: without memory for it, the drain goes on without.
            try {
                postDrainLocked(*box, thread, h->context);
            } catch (...) {
            }
        }
        break;
    }
    ++box->depth;
    ++box->epoch;
    // The deliveries of one drain: what waits when it starts (later ones may join in), so the
    // event loop gets a turn between two drains however fast the notifiers are. A delivery is
    // never later than a Qt event posted after its notify: what is left waits for the drain
    // event posted above, which is ahead of those.
    std::size_t budget = 0;
    bool counted = false;
    // Merged in notify order; within one notify, higher priority first, then listing order.
    struct Entry
    {
        std::uint64_t sequence;
        int priority;
        std::size_t index;
        bool operator>(const Entry &o) const noexcept
        {
            if (sequence != o.sequence)
                return sequence > o.sequence;
            if (priority != o.priority)
                return priority < o.priority;
            return index > o.index;
        }
    };
    std::vector<Entry> heap;
    const auto report = [](const std::shared_ptr<QtHandlerCore> &h, std::uint64_t total) {
        if (total != 0)
            h->control->reportDropped(h->id, total, true);
    };
    bool rebuild = true;
    while (rebuild && (!counted || budget > 0)) {
        rebuild = false;
        // Every active handler with an event waiting; the others leave the list (a null entry
        // is one that left it in an earlier round).
        heap.clear();
        std::size_t kept = 0;
        for (std::size_t i = 0; i < box->active.size(); ++i) {
            std::shared_ptr<QtHandlerCore> h = std::move(box->active[i]);
            if (!h)
                continue;
            std::uint64_t dropped = 0;
            const Batch b = refill(*this, h, thread, dropped, counted ? nullptr : &budget);
            report(h, dropped);
            if (b == Batch::Done)
                continue;
            heap.push_back({h->batchFront(), h->priority, kept});
            box->active[kept++] = std::move(h);
        }
        box->active.resize(kept);
        counted = true;
        std::make_heap(heap.begin(), heap.end(), std::greater<>());
        while (!heap.empty() && budget > 0) {
            std::pop_heap(heap.begin(), heap.end(), std::greater<>());
            const std::size_t index = heap.back().index;
            heap.pop_back();
            const std::shared_ptr<QtHandlerCore> h = box->active[index];
            const unsigned epoch = box->epoch;
            h->deliverBatchFront();
            --budget;
            if (box->epoch != epoch) {
                rebuild = true; // a nested event loop drained this box meanwhile
                break;
            }
            std::uint64_t dropped = 0;
            if (refill(*this, h, thread, dropped) == Batch::Ready) {
                heap.push_back({h->batchFront(), h->priority, index});
                std::push_heap(heap.begin(), heap.end(), std::greater<>());
            } else {
                box->active[index].reset(); // done here (or listed where its context moved)
            }
            report(h, dropped);
        }
    }
    if (--box->depth != 0)
        return; // the outer drain goes on with what is left
    std::vector<std::shared_ptr<QtHandlerCore>> left;
    for (auto &h : box->active)
        if (h)
            left.push_back(std::move(h));
    box->active.clear();
    {
        std::lock_guard lock(m_mutex);
        if (left.empty()) {
            if (box->incoming.empty() && !box->posted)
                m_boxes.erase(thread);
            return;
        }
        // The budget ran out: what is left goes to the pending drain event (posted when this
        // drain began, or by a notify since)...
        if (box->posted) {
            for (auto &h : left)
                box->incoming.push_back(std::move(h));
            return;
        }
    }
    // ... or, if a nested drain took that one, behind a new one.
    relist(left);
}

void QtMailboxes::relist(const std::vector<std::shared_ptr<QtHandlerCore>> &handlers) noexcept
{
    for (auto &h : handlers) {
        std::unique_ptr<QtHandlerCore::Garbage> garbage; // destroyed after the lock is released
        std::lock_guard lock(h->mutex);
        h->returnBatch();
        // Bounded: a thread that died with live objects must not bounce deliveries forever.
        if (h->context == nullptr || h->cancelled.load(std::memory_order_acquire) || ++h->resends > 8) {
            garbage = h->clearQueue();
            h->listed = false;
            continue;
        }
        try {
            enqueue(h->context->thread(), h->context, h);
        } catch (...) {
            garbage = h->clearQueue();
            h->listed = false;
        }
    }
}

std::size_t QtMailboxes::boxCount()
{
    std::lock_guard lock(m_mutex);
    return m_boxes.size();
}

void QtMailboxes::lost(QThread *thread) noexcept
{
    std::vector<std::shared_ptr<QtHandlerCore>> handlers;
    {
        std::lock_guard lock(m_mutex);
        auto it = m_boxes.find(thread);
        if (it == m_boxes.end())
            return;
        Box &box = *it->second;
        box.posted = false;
        handlers.swap(box.incoming);
        // On its own thread and outside a drain, the box goes: a thread that ends discards its
        // last drain event here, and boxes must not pile up as threads come and go. (From
        // another thread, the box's thread may be draining it.)
        if (QThread::currentThread() == thread && box.depth == 0 && box.active.empty())
            m_boxes.erase(it);
    }
    relist(handlers);
}

QtHandlerCore::~QtHandlerCore()
{
    // A once-handler leaves the registry without being cancelled: drop its watch on the context.
    if (contextConnection)
        QObject::disconnect(contextConnection);
}

QtHandlerCore::Route QtHandlerCore::route() noexcept
{
    std::lock_guard lock(mutex);
    if (context == nullptr)
        return Route::Skip;
    switch (type) {
    case Qt::DirectConnection:
        return Route::Here;
    case Qt::QueuedConnection:
        return Route::Post;
    case Qt::BlockingQueuedConnection:
        return context->thread() == QThread::currentThread() ? Route::Refuse : Route::Block;
    default:
        return context->thread() == QThread::currentThread() ? Route::Here : Route::Post;
    }
}

QtHandlerCore::RunningMark::RunningMark(QtHandlerCore &h) noexcept : handler(h)
{
    handler.runningThread.store(QThread::currentThread(), std::memory_order_relaxed);
    handler.runningQueued.fetch_add(1, std::memory_order_acq_rel);
}

QtHandlerCore::RunningMark::~RunningMark()
{
    handler.runningQueued.fetch_sub(1, std::memory_order_acq_rel);
}

void QtHandlerCore::waitForQueuedRuns() const noexcept
{
    // Queued deliveries run on one thread at a time: if it is ours, we are inside one.
    if (runningThread.load(std::memory_order_relaxed) == QThread::currentThread())
        return;
    for (unsigned spins = 0; runningQueued.load(std::memory_order_acquire) != 0; ++spins)
        rio::detail::backoff(spins);
}

void QtHandlerCore::cancel() noexcept
{
    cancelled.store(true, std::memory_order_release);
    QMetaObject::Connection connection;
    {
        std::lock_guard lock(mutex);
        connection = std::exchange(contextConnection, QMetaObject::Connection());
        // Disconnected, we would not learn of the context's death: forget it now, so no
        // pending delivery or resend ever touches it again.
        context = nullptr;
    }
    if (connection)
        QObject::disconnect(connection);
    dropPending();
}

void QtHandlerCore::contextDestroyed() noexcept
{
    {
        std::lock_guard lock(mutex);
        context = nullptr;
    }
    cancel();
    if (control)
        control->remove(id, true);
}

#if defined(RIO_TSAN)
namespace {
std::mutex tsanPostMutex;
thread_local bool tsanPosting = false;
} // namespace

TsanPostScope::TsanPostScope() noexcept : m_outer(!tsanPosting)
{
    if (m_outer) {
        tsanPostMutex.lock();
        tsanPosting = true;
    }
}

TsanPostScope::~TsanPostScope()
{
    if (m_outer) {
        tsanPosting = false;
        tsanPostMutex.unlock();
    }
}

void tsanSyncWithPosters() noexcept
{
    if (!tsanPosting) {
        tsanPostMutex.lock();
        tsanPostMutex.unlock();
    }
}
#endif

void throwBlockingOnOwnThread()
{
    throw std::logic_error(
        "rio::QtRegistry: Qt::BlockingQueuedConnection to a context on the notifying thread "
        "would deadlock; the delivery was refused");
}

} // namespace detail

} // namespace rio
