// SPDX-License-Identifier: MIT
// contention: 1, 2, 4 and 8 threads notify one shared object with 1, 4 and 16 handlers.
// Names: contention/<library>/<handlers>/threads:<n>. Google Benchmark reports real time per
// iteration summed over threads (wall time / all notifies); benchmarks/run derives ns per notify
// per thread (time x threads) and throughput (1e9 / time).
// churn/<rio|mutex_vector>/threads:<n>: 2 and 4 threads each connect (scoped), emit and disconnect
// on one shared registry; mutex_vector is the reference of common/writer_shapes.h.

#include "common/peers.h"
#include "common/run_main.h"
#include "common/writer_shapes.h"

#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>

namespace {

using namespace rio::bench;

// One shared object per library and handler count, built on the main thread before any run.
template <typename Peer>
Peer &sharedPeer(int handlers)
{
    static std::map<int, std::unique_ptr<Peer>> peers;
    auto &peer = peers[handlers];
    if (!peer) {
        peer = std::make_unique<Peer>();
        for (int i = 0; i < handlers; ++i)
            peer->add();
    }
    return *peer;
}

template <typename Peer>
void contentionBenchmark(benchmark::State &state, Peer *peer, int handlers)
{
    benchmark::DoNotOptimize(peer);
    const std::uint64_t before = threadCount.load(std::memory_order_relaxed);
    Event event = 0;
    for (auto _ : state) {
        peer->notify(event);
        ++event;
    }
    const std::uint64_t calls = threadCount.load(std::memory_order_relaxed) - before;
    if (calls != static_cast<std::uint64_t>(state.iterations() * handlers))
        state.SkipWithError("wrong number of handler calls");
}

// Libraries whose notify is safe from several threads at once (libsigc++ and std::vector are not).
template <typename Peer>
void registerPeer()
{
    for (int handlers : {1, 4, 16}) {
        Peer *peer = &sharedPeer<Peer>(handlers);
        benchmark::RegisterBenchmark(
            ("contention/" + std::string(Peer::key) + "/" + std::to_string(handlers)).c_str(),
            [peer, handlers](benchmark::State &state) { contentionBenchmark(state, peer, handlers); })
            ->ThreadRange(1, 8)
            ->UseRealTime();
    }
}

template <typename Shapes>
void churnBenchmark(benchmark::State &state, typename Shapes::Signal *signal)
{
    for (auto _ : state)
        churnStep<Shapes>(*signal);
}

template <typename Shapes>
void registerChurn()
{
    static typename Shapes::Signal signal; // shared by the threads of every run
    benchmark::RegisterBenchmark(("churn/" + std::string(Shapes::key)).c_str(),
                                 [](benchmark::State &state) { churnBenchmark<Shapes>(state, &signal); })
        ->Threads(2)
        ->Threads(4)
        ->UseRealTime();
}

} // namespace

int main(int argc, char **argv)
{
    registerChurn<RioShapes>();
    registerChurn<ReferenceShapes>();
    registerPeer<RioPeer>();
    registerPeer<QtLambdaPeer>();
    registerPeer<BoostPeer>();
    registerPeer<FloorPeer>(); // read-only after set-up, so safe to share: the ideal scaling
    return rio::bench::runBenchmarks(argc, argv);
}
