// SPDX-License-Identifier: MIT
// async: QtRegistry's notifyAsync and notifySequential with 0, 1, 4 and 16 direct handlers (they
// run on the notifying thread), each waited for, beside QtRegistry::notify, the core Registry and a
// Qt direct signal in the same binary. Names: async/<variant>/<handlers>.

#include "common/peers.h"

#include <registryio/qt/qt_registry.h>

#include <benchmark/benchmark.h>

#include <QCoreApplication>
#include <QFuture>

#include <string>

namespace {

using namespace rio::bench;

enum class Variant { Notify, NotifyAsync, NotifySequential };

void qtRegistryBenchmark(benchmark::State &state, Variant variant, int handlers)
{
    rio::QtRegistry<Event> registry;
    for (int i = 0; i < handlers; ++i)
        registry.add([](const Event &) noexcept { handlerBody(); });
    const std::uint64_t before = threadCount.load(std::memory_order_relaxed);
    Event event = 0;
    for (auto _ : state) {
        switch (variant) {
        case Variant::Notify:
            registry.notify(event);
            break;
        case Variant::NotifyAsync: {
            QFuture<void> f = registry.notifyAsync(event);
            f.waitForFinished();
            break;
        }
        case Variant::NotifySequential: {
            QFuture<void> f = registry.notifySequential(event);
            f.waitForFinished();
            break;
        }
        }
        ++event;
    }
    const std::uint64_t calls = threadCount.load(std::memory_order_relaxed) - before;
    if (calls != static_cast<std::uint64_t>(state.iterations() * handlers))
        state.SkipWithError("wrong number of handler calls");
}

template <typename Peer>
void peerBenchmark(benchmark::State &state, int handlers)
{
    Peer peer;
    for (int i = 0; i < handlers; ++i)
        peer.add();
    Event event = 0;
    for (auto _ : state)
        peer.notify(event++);
}

// "async/<variant>/<handlers>" (built by appending: GCC 12 warns falsely on operator+ here).
std::string benchName(const char *variant, int handlers)
{
    std::string name = "async/";
    name += variant;
    name += '/';
    name += std::to_string(handlers);
    return name;
}

} // namespace

int main(int argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    QCoreApplication app(argc, argv);
    for (int handlers : {0, 1, 4, 16}) {
        benchmark::RegisterBenchmark(
            benchName("notify_async", handlers).c_str(),
            [handlers](benchmark::State &s) { qtRegistryBenchmark(s, Variant::NotifyAsync, handlers); });
        benchmark::RegisterBenchmark(
            benchName("notify_sequential", handlers).c_str(),
            [handlers](benchmark::State &s) { qtRegistryBenchmark(s, Variant::NotifySequential, handlers); });
        benchmark::RegisterBenchmark(
            benchName("qt_registry_notify", handlers).c_str(),
            [handlers](benchmark::State &s) { qtRegistryBenchmark(s, Variant::Notify, handlers); });
        benchmark::RegisterBenchmark(benchName("rio", handlers).c_str(), [handlers](benchmark::State &s) {
            peerBenchmark<RioPeer>(s, handlers);
        });
        benchmark::RegisterBenchmark(
            benchName("qt_lambda", handlers).c_str(),
            [handlers](benchmark::State &s) { peerBenchmark<QtLambdaPeer>(s, handlers); });
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
