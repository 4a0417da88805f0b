// SPDX-License-Identifier: MIT
// What Diagnostics::snapshot() costs (docs/DIAGNOSTICS.md, "The Qt part of a record"): 1,000
// handlers with a context on ten registries, queued, each run three times while timed (so each
// has both histograms), then `--reps` snapshots on the main thread, or with --thread on a thread
// of its own as the attached inspector's serving takes them. Prints the median, p10, p90 and
// minimum in microseconds. --off: diagnostics never on (no histograms).
//
//   rio_diagnostics_snapshot [--reps N] [--thread] [--off]

#include <registryio/qt/diagnostics.h>
#include <registryio/qt/qt_registry.h>

#include <QCoreApplication>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = QCoreApplication::arguments();
    const qsizetype at = args.indexOf(QStringLiteral("--reps"));
    const int reps = at > 0 && at + 1 < args.size() ? args[at + 1].toInt() : 300;
    const bool on = !args.contains(QStringLiteral("--off"));
    if (on)
        rio::Diagnostics::setEnabled(true);
    QObject context;
    std::vector<std::unique_ptr<rio::QtRegistry<int>>> registries;
    for (int r = 0; r < 10; ++r) {
        registries.push_back(std::make_unique<rio::QtRegistry<int>>());
        for (int h = 0; h < 100; ++h)
            registries.back()->add(&context, [](int) { }, {.connection = Qt::QueuedConnection});
    }
    for (int k = 0; k < 3; ++k) {
        for (auto &r : registries)
            r->notify(k);
        QCoreApplication::processEvents();
    }
    std::vector<double> us;
    const auto take = [&] {
        for (int i = 0; i < reps; ++i) {
            const auto start = std::chrono::steady_clock::now();
            const QList<rio::RegistryInfo> snapshot = rio::Diagnostics::snapshot();
            us.push_back(
                std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
            if (snapshot.size() < 10)
                std::abort();
        }
    };
    if (args.contains(QStringLiteral("--thread")))
        std::thread(take).join();
    else
        take();
    std::sort(us.begin(), us.end());
    std::printf("%s, %s: median %.0f us, p10 %.0f, p90 %.0f, min %.0f\n", on ? "timed" : "diagnostics off",
                args.contains(QStringLiteral("--thread")) ? "own thread" : "main thread", us[us.size() / 2],
                us[us.size() / 10], us[us.size() * 9 / 10], us.front());
}
