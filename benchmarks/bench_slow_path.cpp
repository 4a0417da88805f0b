// SPDX-License-Identifier: MIT
// slow_path: the writer side. Names:
//   add_remove/<library>/<existing>         add one handler and remove it again, with 0, 16, 100
//                                           or 1000 handlers already registered
//   guard/<library>/<existing>              create an RAII guard and drop it (RegistryIO addScoped,
//                                           Boost.Signals2 scoped_connection)
//   add_remove/rio_parked/<existing>        add_remove/rio while another thread is parked inside
//                                           a handler of an unrelated registry (counter
//                                           pending_max: the churned registry's most pending)
//   add_remove_and_wait/rio/<existing>      add, then removeAndWait with no notify in flight
//   add/<library>/<existing>, remove/<library>/<existing>
//                                           one add (or one remove) alone, timed by hand over a
//                                           batch of objects prepared outside the timing
//   scoped/<rio|mutex_vector>/<n>           n objects take a scoped connection, one emit, the
//                                           objects go (per round); mutex_vector is the reference
//                                           of common/writer_shapes.h
//   guard_drop/<rio|mutex_vector>/16        one scoped connection's destruction alone (16 others
//                                           registered), timed by hand over a batch
//   construct/<rio|mutex_vector>            construct and destroy an empty registry (signal)

#include "common/peers.h"
#include "common/run_main.h"
#include "common/writer_shapes.h"

#include <benchmark/benchmark.h>

#include <boost/signals2/connection.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace {

using namespace rio::bench;

constexpr int existingCounts[] = {0, 16, 100, 1000};

template <typename Peer>
void addRemoveBenchmark(benchmark::State &state, int existing)
{
    Peer peer;
    for (int i = 0; i < existing; ++i)
        peer.add();
    for (auto _ : state) {
        auto id = peer.add();
        peer.remove(id);
    }
    peer.notify(0); // a library that defers clean-up does it here, outside the timing
}

void rioRemoveAndWaitBenchmark(benchmark::State &state, int existing)
{
    RioPeer peer;
    for (int i = 0; i < existing; ++i)
        peer.add();
    for (auto _ : state) {
        rio::HandlerId id = peer.add();
        if (!peer.registry.removeAndWait(id))
            state.SkipWithError("removeAndWait returned false");
    }
}

// As add_remove/rio while another thread stays parked inside a handler of an unrelated registry
// for the whole run (a modal dialog or blocking I/O inside a handler). Counter pending_max: the
// most removed handlers the churned registry ever had waiting for reclamation.
void rioParkedBenchmark(benchmark::State &state, int existing)
{
    rio::Registry<Event> parkedOn;
    std::atomic<bool> inside{false};
    std::atomic<bool> release{false};
    parkedOn.add([&] {
        inside.store(true);
        inside.notify_all();
        release.wait(false);
    });
    std::thread reader([&] { parkedOn.notify(Event{}); });
    inside.wait(false);
    RioPeer peer;
    for (int i = 0; i < existing; ++i)
        peer.add();
    std::size_t pendingMax = 0;
    for (auto _ : state) {
        auto id = peer.add();
        peer.remove(id);
        pendingMax = std::max(pendingMax, peer.registry.pendingCount());
    }
    release.store(true);
    release.notify_all();
    reader.join();
    state.counters["pending_max"] = static_cast<double>(pendingMax);
}

void rioGuardBenchmark(benchmark::State &state, int existing)
{
    RioPeer peer;
    for (int i = 0; i < existing; ++i)
        peer.add();
    for (auto _ : state) {
        rio::HandlerGuard guard = peer.registry.addScoped([](const Event &) noexcept { handlerBody(); });
        benchmark::DoNotOptimize(guard);
    }
    if (peer.registry.size() != static_cast<std::size_t>(existing))
        state.SkipWithError("a guard did not remove its handler");
}

void boostGuardBenchmark(benchmark::State &state, int existing)
{
    BoostPeer peer;
    for (int i = 0; i < existing; ++i)
        peer.add();
    for (auto _ : state) {
        boost::signals2::scoped_connection guard = peer.signal.connect([](const Event &) { handlerBody(); });
        benchmark::DoNotOptimize(guard);
    }
}

constexpr int batch = 32; // objects per timed batch

// Times one add (or, with `remove`, one remove) on each of `batch` objects that already hold
// `existing` handlers; preparing and destroying the objects is outside the timing.
template <typename Peer>
void singleOpBenchmark(benchmark::State &state, int existing, bool remove)
{
    using Id = decltype(std::declval<Peer &>().add());
    for (auto _ : state) {
        std::array<std::unique_ptr<Peer>, batch> peers;
        std::array<Id, batch> ids{};
        for (int b = 0; b < batch; ++b) {
            peers[b] = std::make_unique<Peer>();
            for (int i = 0; i < existing; ++i)
                peers[b]->add();
            if (remove)
                ids[b] = peers[b]->add();
        }
        const auto start = std::chrono::steady_clock::now();
        for (int b = 0; b < batch; ++b) {
            if (remove)
                peers[b]->remove(ids[b]);
            else
                ids[b] = peers[b]->add();
        }
        const auto end = std::chrono::steady_clock::now();
        benchmark::DoNotOptimize(ids);
        state.SetIterationTime(std::chrono::duration<double>(end - start).count() / batch);
    }
}

template <typename Peer>
void registerSingleOps()
{
    for (int existing : {0, 16, 100})
        for (bool remove : {false, true})
            benchmark::RegisterBenchmark(
                ((remove ? "remove/" : "add/") + std::string(Peer::key) + "/" + std::to_string(existing))
                    .c_str(),
                [existing, remove](benchmark::State &state) {
                    singleOpBenchmark<Peer>(state, existing, remove);
                })
                ->UseManualTime()
                ->Iterations(existing > 16 ? 100 : 300); // fixed: each iteration also prepares a batch
}

template <typename Peer>
void registerAddRemove()
{
    for (int existing : existingCounts)
        benchmark::RegisterBenchmark(
            ("add_remove/" + std::string(Peer::key) + "/" + std::to_string(existing)).c_str(),
            [existing](benchmark::State &state) { addRemoveBenchmark<Peer>(state, existing); });
}

// n adds, then n removes in registration order, on one registry (a window with many widgets
// connecting, then closing): bulkWindow, with `mixed` priorities for RegistryIO.
template <typename Peer>
void bulkBenchmark(benchmark::State &state, int n, bool mixed)
{
    using Id = decltype(std::declval<Peer &>().add());
    std::vector<Id> ids;
    ids.reserve(static_cast<std::size_t>(n));
    for (auto _ : state)
        bulkWindow<Peer>(n, mixed, ids);
    state.SetItemsProcessed(state.iterations() * n);
}

template <typename Peer>
void registerBulk()
{
    for (int n : {1000, 10000, 40000})
        benchmark::RegisterBenchmark(("bulk/" + std::string(Peer::key) + "/" + std::to_string(n)).c_str(),
                                     [n](benchmark::State &s) { bulkBenchmark<Peer>(s, n, false); })
            ->Unit(benchmark::kMillisecond);
}

template <typename Shapes>
void scopedBenchmark(benchmark::State &state, int n)
{
    typename Shapes::Signal signal;
    std::vector<typename Shapes::Scoped> objects;
    objects.reserve(static_cast<std::size_t>(n));
    for (auto _ : state)
        scopedRound<Shapes>(signal, n, objects);
    state.SetItemsProcessed(state.iterations() * n);
}

// Drops `batch` scoped connections, each made outside the timing, with 16 others registered.
template <typename Shapes>
void guardDropBenchmark(benchmark::State &state)
{
    typename Shapes::Signal signal;
    std::vector<typename Shapes::Scoped> others;
    for (int i = 0; i < 16; ++i)
        others.push_back(Shapes::scoped(signal));
    std::vector<typename Shapes::Scoped> objects;
    objects.reserve(batch);
    for (auto _ : state) {
        for (int b = 0; b < batch; ++b)
            objects.push_back(Shapes::scoped(signal));
        const auto start = std::chrono::steady_clock::now();
        while (!objects.empty())
            objects.pop_back();
        const auto end = std::chrono::steady_clock::now();
        state.SetIterationTime(std::chrono::duration<double>(end - start).count() / batch);
    }
}

template <typename Shapes>
void constructBenchmark(benchmark::State &state)
{
    for (auto _ : state) {
        typename Shapes::Signal signal;
        benchmark::DoNotOptimize(&signal);
    }
}

template <typename Shapes>
void registerWriterShapes()
{
    const std::string key(Shapes::key);
    for (int n : {16, 64})
        benchmark::RegisterBenchmark(("scoped/" + key + "/" + std::to_string(n)).c_str(),
                                     [n](benchmark::State &s) { scopedBenchmark<Shapes>(s, n); });
    benchmark::RegisterBenchmark(("guard_drop/" + key + "/16").c_str(), &guardDropBenchmark<Shapes>)
        ->UseManualTime();
    benchmark::RegisterBenchmark(("construct/" + key).c_str(), &constructBenchmark<Shapes>);
}

} // namespace

int main(int argc, char **argv)
{
    registerWriterShapes<RioShapes>();
    registerWriterShapes<ReferenceShapes>();
    registerBulk<RioPeer>();
    registerBulk<QtLambdaPeer>();
    registerBulk<BoostPeer>();
    registerBulk<SigcPeer>();
    for (int n : {1000, 10000, 40000})
        benchmark::RegisterBenchmark(("bulk_mixed/rio/" + std::to_string(n)).c_str(),
                                     [n](benchmark::State &s) { bulkBenchmark<RioPeer>(s, n, true); })
            ->Unit(benchmark::kMillisecond);
    registerAddRemove<RioPeer>();
    registerAddRemove<QtLambdaPeer>();
    registerAddRemove<BoostPeer>();
    registerAddRemove<SigcPeer>();
    for (int existing : existingCounts) {
        benchmark::RegisterBenchmark(("guard/rio/" + std::to_string(existing)).c_str(),
                                     [existing](benchmark::State &s) { rioGuardBenchmark(s, existing); });
        benchmark::RegisterBenchmark(("guard/boost_signals2/" + std::to_string(existing)).c_str(),
                                     [existing](benchmark::State &s) { boostGuardBenchmark(s, existing); });
    }
    for (int existing : existingCounts)
        benchmark::RegisterBenchmark(("add_remove/rio_parked/" + std::to_string(existing)).c_str(),
                                     [existing](benchmark::State &s) { rioParkedBenchmark(s, existing); });
    for (int existing : existingCounts)
        benchmark::RegisterBenchmark(
            ("add_remove_and_wait/rio/" + std::to_string(existing)).c_str(),
            [existing](benchmark::State &s) { rioRemoveAndWaitBenchmark(s, existing); });
    registerSingleOps<RioPeer>();
    registerSingleOps<QtLambdaPeer>();
    registerSingleOps<BoostPeer>();
    registerSingleOps<SigcPeer>();
    return rio::bench::runBenchmarks(argc, argv);
}
