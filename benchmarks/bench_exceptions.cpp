// SPDX-License-Identifier: MIT
// exceptions: a notify to 4 handlers where the last one throws std::runtime_error. RegistryIO
// isolates it by design; the peers propagate it to the caller, so their notify is wrapped in
// try/catch and the thrower is last (every sibling still runs). The loops over function pointers
// and std::function catch per handler, as RegistryIO does. Names: exceptions/<library>/<variant>.

#include "common/peers.h"
#include "common/run_main.h"

#include <benchmark/benchmark.h>

#include <stdexcept>
#include <string>

namespace {

using namespace rio::bench;

constexpr int handlers = 4;

[[noreturn, gnu::noinline]] void throwingBody()
{
    throw std::runtime_error("handler failed");
}

void throwingFloorHandler(const Event &)
{
    throwingBody();
}

void checkCalls(benchmark::State &state, std::uint64_t before, int normalHandlers)
{
    const std::uint64_t calls = threadCount.load(std::memory_order_relaxed) - before;
    if (calls != static_cast<std::uint64_t>(state.iterations() * normalHandlers))
        state.SkipWithError("a sibling of the throwing handler did not run");
}

void rioBenchmark(benchmark::State &state, bool throwing, bool callback)
{
    rio::Registry<Event> registry;
    for (int i = 0; i < handlers - 1; ++i)
        registry.add([](const Event &) noexcept { handlerBody(); });
    if (throwing)
        registry.add([](const Event &) { throwingBody(); });
    else
        registry.add([](const Event &) noexcept { handlerBody(); });
    std::uint64_t failures = 0;
    if (callback)
        registry.setExceptionHandler([&failures](const rio::ExceptionInfo &) { ++failures; });
    const std::uint64_t before = threadCount.load(std::memory_order_relaxed);
    for (auto _ : state)
        registry.notify(0);
    checkCalls(state, before, throwing ? handlers - 1 : handlers);
    if (callback && failures != static_cast<std::uint64_t>(state.iterations()))
        state.SkipWithError("the exception callback missed failures");
}

// A peer without isolation: the caller catches what escapes notify.
template <typename Peer, typename AddThrower>
void propagatingBenchmark(benchmark::State &state, AddThrower addThrower)
{
    Peer peer;
    for (int i = 0; i < handlers - 1; ++i)
        peer.add();
    addThrower(peer);
    const std::uint64_t before = threadCount.load(std::memory_order_relaxed);
    for (auto _ : state) {
        try {
            peer.notify(0);
        } catch (const std::exception &e) {
            benchmark::DoNotOptimize(e.what());
        }
    }
    checkCalls(state, before, handlers - 1);
}

// A loop that isolates each call, as RegistryIO does.
template <typename Fn>
void isolatingLoopBenchmark(benchmark::State &state, Fn thrower, Fn normal)
{
    std::vector<Fn> fns(handlers - 1, normal);
    fns.push_back(thrower);
    benchmark::DoNotOptimize(fns.data());
    std::uint64_t failures = 0;
    const std::uint64_t before = threadCount.load(std::memory_order_relaxed);
    for (auto _ : state) {
        for (const Fn &fn : fns) {
            try {
                fn(0);
            } catch (...) {
                ++failures;
            }
        }
    }
    benchmark::DoNotOptimize(failures);
    checkCalls(state, before, handlers - 1);
}

} // namespace

int main(int argc, char **argv)
{
    benchmark::RegisterBenchmark("exceptions/rio/no_throw",
                                 [](benchmark::State &s) { rioBenchmark(s, false, false); });
    benchmark::RegisterBenchmark("exceptions/rio/throw_no_callback",
                                 [](benchmark::State &s) { rioBenchmark(s, true, false); });
    benchmark::RegisterBenchmark("exceptions/rio/throw_with_callback",
                                 [](benchmark::State &s) { rioBenchmark(s, true, true); });
    benchmark::RegisterBenchmark("exceptions/fnptr/throw", [](benchmark::State &s) {
        using Fn = void (*)(const Event &);
        isolatingLoopBenchmark<Fn>(s, &throwingFloorHandler, &floorHandler);
    });
    benchmark::RegisterBenchmark("exceptions/std_function/throw", [](benchmark::State &s) {
        using Fn = std::function<void(const Event &)>;
        isolatingLoopBenchmark<Fn>(s, Fn([](const Event &) { throwingBody(); }),
                                   Fn([](const Event &) { handlerBody(); }));
    });
    benchmark::RegisterBenchmark("exceptions/qt_lambda/throw", [](benchmark::State &s) {
        propagatingBenchmark<QtLambdaPeer>(s, [](QtLambdaPeer &p) {
            QObject::connect(
                &p.sender, &QtSender::fired, &p.receiver, [](int) { throwingBody(); }, Qt::DirectConnection);
        });
    });
    benchmark::RegisterBenchmark("exceptions/boost_signals2/throw", [](benchmark::State &s) {
        propagatingBenchmark<BoostPeer>(
            s, [](BoostPeer &p) { p.signal.connect([](const Event &) { throwingBody(); }); });
    });
    benchmark::RegisterBenchmark("exceptions/sigcpp/throw", [](benchmark::State &s) {
        propagatingBenchmark<SigcPeer>(
            s, [](SigcPeer &p) { p.signal.connect([](const Event &) { throwingBody(); }); });
    });
    return rio::bench::runBenchmarks(argc, argv);
}
