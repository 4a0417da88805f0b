// SPDX-License-Identifier: MIT
// Four worker threads set one rio::LatestValue as fast as they can; on the UI thread a QProperty
// binding follows it. The value changes once per event-loop turn (once per frame in a Qt Quick
// window), never from a worker's thread, and the last value set is the one shown.
#include <registryio/qt/latest_value.h>

#include <QCoreApplication>
#include <QProperty>
#include <QString>

#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

namespace {

// What each worker reports: how far it is (8 bytes, trivially copyable: set without a lock once a
// delivery is scheduled).
struct Progress
{
    int worker = 0;
    int done = 0;
    friend bool operator==(const Progress &, const Progress &) = default;
};

constexpr int kWorkers = 4;
constexpr int kPerWorker = 250'000;

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    //! [latest-value]
    rio::LatestValue<Progress> progress;
    // A binding on the UI thread, as a label's text would be.
    QProperty<QString> label;
    label.setBinding([&] {
        const auto p = progress.bindableValue().value().value<Progress>();
        return QStringLiteral("worker %1: %2").arg(p.worker).arg(p.done);
    });
    //! [latest-value]
    int changes = 0;
    int labelUpdates = 0;
    QObject::connect(&progress, &rio::LatestValueBase::valueChanged, [&] { ++changes; });
    const QPropertyNotifier onLabel = label.addNotifier([&] { ++labelUpdates; });

    std::atomic<int> finished{0};
    std::vector<std::thread> workers;
    for (int w = 0; w < kWorkers; ++w) {
        workers.emplace_back([&, w] {
            //! [latest-value-set]
            for (int i = 1; i <= kPerWorker; ++i)
                progress.set({w, i}); // any thread; shown once per turn (or frame)
            //! [latest-value-set]
            finished.fetch_add(1);
        });
    }
    while (finished.load() < kWorkers)
        QCoreApplication::processEvents(); // the UI thread's turns
    for (std::thread &t : workers)
        t.join();
    progress.set({kWorkers, kPerWorker}); // a last value after every worker is done
    QCoreApplication::processEvents();

    std::printf("shown: %d x %d of %d\n", progress.get().worker, progress.get().done, kPerWorker);
    std::printf("latest-value: %d sets became %d changes, each one binding update: %s\n",
                kWorkers * kPerWorker + 1, changes, changes == labelUpdates ? "yes" : "no");
    return progress.get().done == kPerWorker && changes == labelUpdates ? 0 : 1;
}
