// SPDX-License-Identifier: MIT
// A worker thread feeds a UI-thread object through a coalesced handler: the worker fires one
// million progress events as fast as it can; the UI thread's queue never holds more than one
// delivery for the handler, and the last event (100%) always arrives.
#include <registryio/qt/qt_registry.h>

#include <QCoreApplication>
#include <QThread>
#include <QTimer>

#include <cstdio>
#include <memory>

namespace {

// What the worker reports.
struct Progress
{
    int done = 0;
    int total = 0;
};

// Stands in for a progress bar on the UI thread.
class ProgressView : public QObject
{
public:
    void show(const Progress &p)
    {
        ++m_updates;
        if (p.done == p.total) {
            std::printf("worker-feed: last event %d of %d delivered on the UI thread: %s\n", p.done, p.total,
                        QThread::currentThread() == thread() ? "yes" : "no");
            std::printf("worker-feed: %d notifies became %d UI updates\n", p.total, m_updates);
            QCoreApplication::quit();
        }
    }

private:
    int m_updates = 0;
};

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    constexpr int total = 1000000;

    rio::QtRegistry<Progress> progress;
    ProgressView view; // lives on the main ("UI") thread
    // Delivery::Latest: at most one pending delivery; a newer event replaces its payload.
    progress.add(&view, [&view](const Progress &p) { view.show(p); }, {.delivery = rio::Delivery::Latest});

    std::unique_ptr<QThread> worker(QThread::create([&progress] {
        for (int i = 1; i <= total; ++i)
            progress.notify(Progress{i, total});
    }));
    QTimer::singleShot(0, worker.get(), [&worker] { worker->start(); }); // start inside the event loop

    const int rc = QCoreApplication::exec();
    worker->wait(); // no notify may run while the registry is destroyed
    return rc;
}
