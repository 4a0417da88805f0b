// SPDX-License-Identifier: MIT
// What timing costs a notify, in wall time and in the thread's CPU time:
//   rio_diagnostics_timing [handlers] [rounds]
// A core Registry<int> and a QtRegistry<int> with `handlers` direct handlers (default 16), each
// running the suite's handler body, notified in batches with diagnostics off, on (the default:
// runs counted and measured with the coarse clock, one notify per thread per millisecond read
// with the precise clock) and on with every run read precisely. The three modes alternate batch by
// batch, so that a loaded machine slows each alike; the medians over `rounds` batches and their
// ratios to off are printed. Speed is reported, never asserted.

#include "common/handler_body.h"

#include <registryio/qt/diagnostics.h>
#include <registryio/qt/qt_registry.h>
#include <registryio/registry.h>

#include <QCoreApplication>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

namespace {

using rio::bench::Event;

std::int64_t threadNs()
{
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

std::int64_t wallNs()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

struct Sample
{
    double wall = 0;
    double cpu = 0;
};

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

template <typename Registry>
[[gnu::noinline]] Sample batch(Registry &registry, int notifies)
{
    const std::int64_t w0 = wallNs();
    const std::int64_t c0 = threadNs();
    for (int i = 0; i < notifies; ++i)
        registry.notify(Event{i});
    const std::int64_t c1 = threadNs();
    const std::int64_t w1 = wallNs();
    return {double(w1 - w0) / notifies, double(c1 - c0) / notifies};
}

enum Mode { Off, Coarse, Precise, modes };

template <typename Registry>
void measure(const char *name, Registry &registry, int rounds)
{
    constexpr int notifies = 1000;
    std::vector<double> wall[modes], cpu[modes];
    for (int round = 0; round < rounds; ++round) {
        for (int m = 0; m < modes; ++m) {
            registry.setDiagnosticsEnabled(m != Off);
            rio::Diagnostics::setEveryRunPrecise(m == Precise);
            const Sample s = batch(registry, notifies);
            wall[m].push_back(s.wall);
            cpu[m].push_back(s.cpu);
        }
    }
    registry.setDiagnosticsEnabled(false);
    rio::Diagnostics::setEveryRunPrecise(false);
    const double w0 = median(wall[Off]), c0 = median(cpu[Off]);
    std::printf(
        "%-10s off %7.1f ns wall %7.1f ns cpu | timing on %7.1f ns wall (%.2fx) %7.1f ns cpu (%.2fx) | "
        "every run precise %7.1f ns wall (%.2fx) %7.1f ns cpu (%.2fx)\n",
        name, w0, c0, median(wall[Coarse]), median(wall[Coarse]) / w0, median(cpu[Coarse]),
        median(cpu[Coarse]) / c0, median(wall[Precise]), median(wall[Precise]) / w0, median(cpu[Precise]),
        median(cpu[Precise]) / c0);
}

} // namespace

int main(int argc, char **argv)
{
    const int handlers = argc > 1 ? std::atoi(argv[1]) : 16;
    const int rounds = argc > 2 ? std::atoi(argv[2]) : 301;
    QCoreApplication app(argc, argv);
    rio::Registry<Event> core;
    core.setDiagnosticsName("bench-core");
    rio::QtRegistry<Event> facade;
    for (int i = 0; i < handlers; ++i) {
        core.add([](const Event &) noexcept { rio::bench::handlerBody(); });
        facade.add([](const Event &) noexcept { rio::bench::handlerBody(); });
    }
    std::printf("%d handlers, medians of %d batches of 1,000 notifies\n", handlers, rounds);
    measure("core", core, rounds);
    measure("facade", facade, rounds);
    return 0;
}
