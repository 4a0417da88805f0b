// SPDX-License-Identifier: MIT
// What the frame timeline costs a timed run (docs/DIAGNOSTICS.md, "Frame timeline"): 16 trivial
// direct handlers, diagnostics on with every run precise, so that every run of the main thread is
// an entry; a worker thread's runs, timed alike, are not. Batches of 1,000 notifies alternate
// between the main thread's registry and a worker's own (each thread owns its counters);
// prints the medians of `rounds` batches (default 201).
//
//   rio_diagnostics_timeline [rounds]

#include <registryio/qt/diagnostics.h>
#include <registryio/registry.h>

#include <QCoreApplication>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

double batch(rio::Registry<int> &registry, int notifies)
{
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < notifies; ++i)
        registry.notify(i);
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() /
           notifies;
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace

int main(int argc, char **argv)
{
    const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 201;
    QCoreApplication app(argc, argv);
    rio::Diagnostics::setEveryRunPrecise(true);
    rio::Diagnostics::setEnabled(true);
    rio::Registry<int> onMain;
    rio::Registry<int> onWorker;
    for (int h = 0; h < 16; ++h) {
        onMain.add([](int) { });
        onWorker.add([](int) { });
    }
    std::vector<double> mainNs;
    std::vector<double> workerNs;
    for (int round = 0; round < rounds; ++round) {
        mainNs.push_back(batch(onMain, 1000));
        double worker = 0;
        std::thread([&] { worker = batch(onWorker, 1000); }).join();
        workerNs.push_back(worker);
    }
    const double m = median(mainNs);
    const double w = median(workerNs);
    std::printf("16 handlers, every run precise: main thread (timeline) %.1f ns a notify, worker %.1f ns: "
                "%.1f ns a recorded run\n",
                m, w, (m - w) / 16);
    return 0;
}
