#include <registryio/detail/qt_handler.h>
#include <registryio/detail/registry_link.h>
#include <registryio/logging.h>
#include <registryio/qt_registry_base.h>

#include <QCoreApplication>
#include <QFutureWatcher>
#include <QThread>
#include <QtGlobal>

#include <climits>
#include <exception>
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
            RIO_TSAN_RELEASE(&other);
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
        if (!ran && boxes)
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

void QtMailboxes::enqueue(QThread *thread, QObject *context, std::unique_ptr<MailItem> item)
{
    bool idle = false;
    {
        std::lock_guard lock(m_mutex);
        auto [it, inserted] = m_boxes.try_emplace(thread);
        Box &box = it->second;
        MailItem *raw = item.release();
        if (box.tail != nullptr)
            box.tail->next = raw;
        else
            box.head = raw;
        box.tail = raw;
        idle = inserted;
    }
    if (idle) {
        [[maybe_unused]] const TsanPostScope posting;
        QMetaObject::invokeMethod(context, MailboxDrain(shared_from_this(), thread), Qt::QueuedConnection);
    }
}

MailItem *QtMailboxes::take(QThread *thread) noexcept
{
    std::lock_guard lock(m_mutex);
    auto it = m_boxes.find(thread);
    if (it == m_boxes.end())
        return nullptr;
    MailItem *head = it->second.head;
    m_boxes.erase(it);
    return head;
}

void QtMailboxes::drain(QThread *thread) noexcept
{
    for (MailItem *item = take(thread); item != nullptr;) {
        MailItem *next = std::exchange(item->next, nullptr);
        item->deliver(std::unique_ptr<MailItem>(item));
        item = next;
    }
}

void QtMailboxes::lost(QThread *thread) noexcept
{
    for (MailItem *item = take(thread); item != nullptr;) {
        MailItem *next = std::exchange(item->next, nullptr);
        // Bounded: a thread that died with live objects must not bounce items forever.
        if (++item->resends > 8)
            delete item;
        else
            item->resend(std::unique_ptr<MailItem>(item));
        item = next;
    }
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
    for (unsigned spins = 0; runningQueued.load(std::memory_order_acquire) != 0; ++spins) {
        if (spins < 64)
            QThread::yieldCurrentThread();
        else
            QThread::usleep(spins < 1024 ? 50 : 1000);
    }
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
