// cross_thread: a producer thread sends events to a receiver living in another thread's event
// loop. Names:
//   cross_thread/<library>/throughput   time per event, from the first send until the receiver has
//                                       handled the last one (items_per_second: events per second)
//   cross_thread/<library>/blocked_rss  the receiver is blocked until the producer is done; counter
//                                       rss_growth_MiB is the resident-memory growth at that point
// Libraries: rio_queued (QtRegistry, Qt::QueuedConnection), rio_coalesced (Delivery::Latest),
// qt_queued (a queued signal to a member slot), invoke_method (QMetaObject::invokeMethod with a
// functor). --events=N sets the events per run (default 1,000,000).

#include "common/handler_body.h"
#include "common/qt_peer.h"

#include <registryio/qt_registry.h>

#include <benchmark/benchmark.h>

#include <QCoreApplication>
#include <QThread>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <malloc.h>
#include <string>

namespace {

using namespace rio::bench;

long eventCount = 1'000'000;

// The receiver's side: counts handled events and signals when the last one arrived.
struct Sink
{
    std::atomic<long> handled{0};
    std::atomic<bool> done{false};
    long last = 0;
    void handle(int event)
    {
        handlerBody();
        handled.fetch_add(1, std::memory_order_relaxed);
        if (event == last) {
            done.store(true, std::memory_order_release);
            done.notify_all();
        }
    }
    void reset(long lastEvent)
    {
        handled.store(0);
        done.store(false);
        last = lastEvent;
    }
    void wait() { done.wait(false, std::memory_order_acquire); }
};

/// A receiver whose member slot feeds the sink (for the Qt queued signal).
Sink *slotSink = nullptr;

double residentMiB()
{
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0)
            return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
    return 0;
}

// The receiver thread with its event loop, and a way to block it until released.
struct ReceiverThread
{
    QThread thread;
    QObject context;
    ReceiverThread()
    {
        context.moveToThread(&thread);
        thread.start();
    }
    ~ReceiverThread()
    {
        thread.quit();
        thread.wait();
    }
    // Queues a task that blocks the receiver until `release` becomes true; returns once it runs.
    void block(std::atomic<bool> &release)
    {
        std::atomic<bool> started{false};
        QMetaObject::invokeMethod(
            &context,
            [&release, &started] {
                started.store(true);
                started.notify_all();
                release.wait(false);
            },
            Qt::QueuedConnection);
        started.wait(false);
    }
};

// Sends `eventCount` events through `send`; blocked: measure RSS with the receiver held.
template <typename Send>
void crossThread(benchmark::State &state, ReceiverThread &receiver, Sink &sink, Send send, bool blocked)
{
    double growth = 0;
    for (auto _ : state) {
        sink.reset(eventCount - 1);
        std::atomic<bool> release{!blocked};
        if (blocked)
            receiver.block(release);
        if (blocked)
            malloc_trim(0); // hand earlier runs' freed heap back, so growth is this run's alone
        const double before = residentMiB();
        const auto start = std::chrono::steady_clock::now();
        for (long i = 0; i < eventCount; ++i)
            send(static_cast<int>(i));
        if (blocked) {
            growth = residentMiB() - before;
            release.store(true);
            release.notify_all();
        }
        sink.wait();
        const auto end = std::chrono::steady_clock::now();
        state.SetIterationTime(std::chrono::duration<double>(end - start).count());
    }
    state.SetItemsProcessed(state.iterations() * eventCount);
    state.counters["handled"] = static_cast<double>(sink.handled.load());
    if (blocked)
        state.counters["rss_growth_MiB"] = growth;
}

void registerAll()
{
    static ReceiverThread receiver;
    static Sink rioSink, coalescedSink, qtSink, invokeSink;
    slotSink = &qtSink;

    static rio::QtRegistry<int> queued;
    queued.add(
        &receiver.context, [](const int &e) { rioSink.handle(e); }, 0, Qt::QueuedConnection);
    static rio::QtRegistry<int> coalesced;
    coalesced.add(
        &receiver.context, [](const int &e) { coalescedSink.handle(e); }, 0, Qt::QueuedConnection,
        rio::Delivery::Latest);
    static QtSender sender;
    QObject::connect(
        &sender, &QtSender::fired, &receiver.context, [](int e) { slotSink->handle(e); },
        Qt::QueuedConnection);

    for (bool blocked : {false, true}) {
        const std::string what = blocked ? "/blocked_rss" : "/throughput";
        auto reg = [&](const char *lib, Sink &sink, auto send) {
            benchmark::RegisterBenchmark(("cross_thread/" + std::string(lib) + what).c_str(),
                                         [&sink, send, blocked](benchmark::State &state) {
                                             crossThread(state, receiver, sink, send, blocked);
                                         })
                ->UseManualTime()
                ->Iterations(1)
                ->Unit(benchmark::kMillisecond);
        };
        reg("rio_queued", rioSink, [](int e) { queued.notify(e); });
        reg("rio_coalesced", coalescedSink, [](int e) { coalesced.notify(e); });
        reg("qt_queued", qtSink, [](int e) { Q_EMIT sender.fired(e); });
        reg("invoke_method", invokeSink, [](int e) {
            QMetaObject::invokeMethod(
                &receiver.context, [e] { invokeSink.handle(e); }, Qt::QueuedConnection);
        });
    }
}

} // namespace

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; ++i) {
        if (std::strncmp(argv[i], "--events=", 9) == 0) {
            eventCount = std::atol(argv[i] + 9);
            for (int j = i; j < argc - 1; ++j)
                argv[j] = argv[j + 1];
            --argc;
            --i;
        }
    }
    if (eventCount < 1) {
        std::fprintf(stderr, "--events must be positive\n");
        return 2;
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    QCoreApplication app(argc, argv);
    registerAll();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
