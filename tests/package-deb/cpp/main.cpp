// SPDX-License-Identifier: MIT
// Against the installed packages: a Core registry notified on this thread, and a Qt facade
// registry notified from a worker thread whose handler runs on the main thread's QObject.
#include <registryio/qt/qt_registry.h>
#include <registryio/registry.h>

#include <QCoreApplication>
#include <QThread>
#include <QTimer>

#include <cstdio>
#include <memory>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);

    rio::Registry<int> core;
    int total = 0;
    core.add([&total](int n) { total += n; });
    core.notify(5);
    core.notify(7);

    rio::QtRegistry<int> queued;
    QObject receiver; // lives on the main thread
    bool onMainThread = false;
    queued.add(&receiver, [&](int n) {
        onMainThread = QThread::currentThread() == receiver.thread();
        total += n;
        QCoreApplication::quit();
    });
    std::unique_ptr<QThread> worker(QThread::create([&queued] { queued.notify(30); }));
    QTimer::singleShot(0, worker.get(), [&worker] { worker->start(); });
    QTimer::singleShot(30000, &app, [] { QCoreApplication::exit(2); }); // never hang the stage
    const int rc = QCoreApplication::exec();
    worker->wait();

    std::printf("consumer: total=%d delivered on the main thread: %s\n", total, onMainThread ? "yes" : "no");
    return rc == 0 && total == 42 && onMainThread ? 0 : 1;
}
