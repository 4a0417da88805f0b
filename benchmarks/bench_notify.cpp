// SPDX-License-Identifier: MIT
// notify: one thread fires one event to 0, 1, 4, 16 and 64 handlers, for every library.
// Names: notify/<library>/<handlers>.

#include "common/peers.h"
#include "common/run_main.h"

#include <benchmark/benchmark.h>

#include <string>

namespace {

using namespace rio::bench;

template <typename Peer>
void notifyBenchmark(benchmark::State &state, int handlers)
{
    Peer peer;
    for (int i = 0; i < handlers; ++i)
        peer.add();
    benchmark::DoNotOptimize(&peer); // the handler set is opaque to the optimiser
    const std::uint64_t before = threadCount.load(std::memory_order_relaxed);
    Event event = 0;
    for (auto _ : state) {
        peer.notify(event);
        ++event;
    }
    const std::uint64_t calls = threadCount.load(std::memory_order_relaxed) - before;
    if (calls != static_cast<std::uint64_t>(state.iterations() * handlers))
        state.SkipWithError("wrong number of handler calls");
}

} // namespace

int main(int argc, char **argv)
{
    forEachPeer([]<typename Peer>() {
        for (int handlers : {0, 1, 4, 16, 64})
            benchmark::RegisterBenchmark(
                ("notify/" + std::string(Peer::key) + "/" + std::to_string(handlers)).c_str(),
                [handlers](benchmark::State &state) { notifyBenchmark<Peer>(state, handlers); });
    });
    return rio::bench::runBenchmarks(argc, argv);
}
