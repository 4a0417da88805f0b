// SPDX-License-Identifier: MIT
// The async joins: notifyAsync's promise, and the watch of a future a handler returned.
#include "qt_control.h"

#include <registryio/qt/detail/qt_async.h>
#include <registryio/qt/detail/qt_tsan.h>

#include <QFutureWatcher>
#include <QMetaObject>
#include <QThread>

#include <utility>

#if defined(__GLIBCXX__)
#include <cxxabi.h>
#endif

namespace rio::detail {

AsyncJoin::AsyncJoin()
{
    promise.start();
}

AsyncJoin::~AsyncJoin()
{
    promise.finish();
}

namespace {
// The thread that owns every QFutureWatcher of trackFuture(): started on first use,
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
#if defined(__GLIBCXX__)
            } catch (const abi::__forced_unwind &) {
                throw; // thread cancellation passes
#endif
            } catch (...) {
                if (control)
                    control->reportCurrentException(id);
            }
            token.reset();
            RIO_TSAN_RELEASE(this); // Qt may destroy this functor on another thread
        }
    };
    // A continuation attached while another thread finishes the future races in Qt 6.4 (it runs
    // twice; a crash in QFutureInterfaceBase::reportStarted), and a storm of them crashed on Qt 6.8
    // too (tst_qt_async's futureReturningHandlersSurviveAStorm, in the qt68 stage). A
    // QFutureWatcher has no such race: one per tracked future, created, fed and destroyed on a
    // watch thread of our own (the notifying thread may have no event loop), on every version.
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
}

} // namespace rio::detail
