// SPDX-License-Identifier: MIT
// Async notify (Qt facade): notifyAsync() returns a QFuture<void> that finishes when every
// handler has finished — handlers on other threads, and the QFuture<void>s handlers return for
// work of their own. notifySequential() runs them one after the other, in priority order.
// A failing handler is reported (handlerFailed, the exception callback, the log), and never
// fails the future.
#include <registryio/qt/qt_registry.h>

#include <QCoreApplication>
#include <QFuture>
#include <QFutureWatcher>
#include <QMutex>
#include <QMutexLocker>
#include <QPromise>
#include <QStringList>
#include <QThread>
#include <QtConcurrent>

#include <atomic>
#include <cstdio>
#include <stdexcept>

struct Upload
{
    QString file;
};

// Runs `f` on `context`'s thread once `future` has finished. On Qt 6.4 prefer this to
// `future.then(context, f)`: attaching a continuation while another thread finishes the future
// can run it twice there (a Qt bug fixed in 6.5); a QFutureWatcher has no such race.
template <typename F>
void whenFinished(const QFuture<void> &future, QObject *context, F f)
{
    auto *watcher = new QFutureWatcher<void>(context);
    QObject::connect(watcher, &QFutureWatcher<void>::finished, context,
                     [watcher, f = std::move(f)]() mutable {
                         watcher->deleteLater();
                         f();
                     });
    watcher->setFuture(future);
}

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    rio::QtRegistry<Upload> uploads;

    QThread worker; // a thread with an event loop, like a UI or an I/O thread
    worker.start();
    QObject onWorker; // the context object: its handler runs on `worker`
    onWorker.moveToThread(&worker);

    QMutex mutex;
    QStringList finished; // which handlers finished, in order
    auto done = [&](const QString &what) {
        QMutexLocker lock(&mutex);
        finished << what;
    };

    //! [async-add]
    // Priorities set the order of notifySequential (higher first); notifyAsync runs them at once.
    uploads.add([&](const Upload &) { done(QStringLiteral("index")); }, 30); // on the notifying thread
    uploads.add(&onWorker, [&](const Upload &) { done(QStringLiteral("thumbnail")); },
                {.priority = 20}); // queued to `worker`
    uploads.add(
        [&](const Upload &) { // returns a future: its own work on the thread pool
            return QtConcurrent::run([&done] { done(QStringLiteral("scan")); });
        },
        10);
    uploads.add([](const Upload &) { throw std::runtime_error("quota service down"); }, 0);
    //! [async-add]

    int failures = 0;
    QObject::connect(&uploads, &rio::QtRegistryBase::handlerFailed, &app,
                     [&failures](rio::HandlerId, const QString &message) {
                         ++failures;
                         std::printf("reported: %s\n", qPrintable(message));
                     });

    bool ok = true;
    auto sequential = [&] {
        whenFinished(uploads.notifySequential({QStringLiteral("slides.odp")}), &app, [&] {
            std::printf("sequential: %s\n", qPrintable(finished.join(QStringLiteral(" > "))));
            ok = ok && finished == QStringList{"index", "thumbnail", "scan"};
            app.quit();
        });
    };
    // Start once the event loop runs: a continuation attached to a future that has already
    // finished may run at once, and quit() before exec() would be lost.
    QMetaObject::invokeMethod(
        &app,
        [&] {
            whenFinished(uploads.notifyAsync({QStringLiteral("report.pdf")}), &app, [&] {
                {
                    QMutexLocker lock(&mutex);
                    std::printf("async: %lld handlers finished before the future\n",
                                static_cast<long long>(finished.size()));
                    ok = ok && finished.size() == 3;
                    finished.clear();
                }
                sequential();
            });
        },
        Qt::QueuedConnection);
    app.exec();

    worker.quit();
    worker.wait();
    ok = ok && failures == 2;
    std::printf("async-notify: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
