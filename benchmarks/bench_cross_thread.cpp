// SPDX-License-Identifier: MIT
// cross_thread: a producer thread sends events to a receiver living in another thread's event
// loop. Names:
//   cross_thread/<library>/throughput   time per event, from the first send until the receiver has
//                                       handled the last one (items_per_second: events per second)
//   cross_thread/<library>/blocked_rss  the receiver is blocked until the producer is done; counter
//                                       rss_growth_MiB is the resident-memory growth at that point
// Libraries: rio_queued (QtRegistry, Qt::QueuedConnection, default options: capacity 1,000,000,
// DropOldest), rio_coalesced (Delivery::Latest), rio_paced (Latest with a 16 ms minimum interval),
// rio_drop_oldest / rio_drop_newest / rio_block (Overflow policies with a capacity of a tenth of
// the events; rio_block only in throughput), qt_queued (a queued signal to a member slot),
// invoke_method (QMetaObject::invokeMethod with a functor). Counter `dropped`: events the policy
// dropped. same_thread/<library>/throughput: the producer is the receiver's own thread, which
// sends every event, then runs its event loop until the last delivery (rio_coalesced: Queued +
// Latest; rio_queued; qt_queued). --events=N sets the events per run (default 1,000,000).

#include "common/handler_body.h"
#include "common/qt_peer.h"

#include <registryio/qt/qt_registry.h>

#include <benchmark/benchmark.h>

#include <QCoreApplication>
#include <QEventLoop>
#include <QThread>

#include <algorithm>
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
// marker: the end is a Qt event posted after the last send (a policy may drop the last event;
// a delivery is never later than a Qt event posted after its notify). dropped() counts drops.
template <typename Send, typename Dropped>
void crossThread(benchmark::State &state, ReceiverThread &receiver, Sink &sink, Send send, bool blocked,
                 bool marker, Dropped dropped)
{
    double growth = 0;
    const double droppedBefore = dropped();
    for (auto _ : state) {
        sink.reset(marker ? -1 : eventCount - 1);
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
        if (marker) {
            QMetaObject::invokeMethod(
                &receiver.context,
                [&sink] {
                    sink.done.store(true, std::memory_order_release);
                    sink.done.notify_all();
                },
                Qt::QueuedConnection);
        }
        sink.wait();
        const auto end = std::chrono::steady_clock::now();
        state.SetIterationTime(std::chrono::duration<double>(end - start).count());
    }
    state.SetItemsProcessed(state.iterations() * eventCount);
    state.counters["handled"] = static_cast<double>(sink.handled.load());
    state.counters["dropped"] = (dropped() - droppedBefore) / static_cast<double>(state.iterations());
    if (blocked)
        state.counters["rss_growth_MiB"] = growth;
}

// The producer is the receiver's thread: it sends every event, then runs its event loop until
// the last delivery.
template <typename Send>
void sameThread(benchmark::State &state, Sink &sink, Send send)
{
    for (auto _ : state) {
        sink.reset(eventCount - 1);
        const auto start = std::chrono::steady_clock::now();
        for (long i = 0; i < eventCount; ++i)
            send(static_cast<int>(i));
        while (!sink.done.load(std::memory_order_acquire))
            QCoreApplication::processEvents(QEventLoop::AllEvents);
        const auto end = std::chrono::steady_clock::now();
        state.SetIterationTime(std::chrono::duration<double>(end - start).count());
    }
    state.SetItemsProcessed(state.iterations() * eventCount);
    state.counters["handled"] = static_cast<double>(sink.handled.load());
}

// A QtRegistry with one handler on the receiver, and its sink.
struct RioTarget
{
    rio::QtRegistry<int> registry;
    rio::HandlerId id;
    Sink sink;
    RioTarget(QObject *context, Qt::ConnectionType type, rio::HandlerOptions options)
    {
        options.connection = type;
        id = registry.add(context, [this](const int &e) { sink.handle(e); }, options);
    }
    double dropped() const { return static_cast<double>(registry.droppedCount(id)); }
};

void registerAll()
{
    static ReceiverThread receiver;
    static Sink invokeSink, qtSink;
    slotSink = &qtSink;
    using Options = rio::HandlerOptions;
    const auto bounded = [](rio::Overflow overflow) {
        Options o;
        o.capacity = static_cast<std::size_t>(std::max(1L, eventCount / 10));
        o.overflow = overflow;
        return o;
    };
    Options paced;
    paced.delivery = rio::Delivery::Latest;
    paced.minInterval = std::chrono::milliseconds(16);
    static RioTarget queued(&receiver.context, Qt::QueuedConnection, Options{});
    static RioTarget coalesced(&receiver.context, Qt::QueuedConnection,
                               Options{.delivery = rio::Delivery::Latest});
    static RioTarget pacedTarget(&receiver.context, Qt::QueuedConnection, paced);
    static RioTarget dropOldest(&receiver.context, Qt::QueuedConnection, bounded(rio::Overflow::DropOldest));
    static RioTarget dropNewest(&receiver.context, Qt::QueuedConnection, bounded(rio::Overflow::DropNewest));
    static RioTarget block(&receiver.context, Qt::QueuedConnection, bounded(rio::Overflow::Block));
    static QtSender sender;
    QObject::connect(
        &sender, &QtSender::fired, &receiver.context, [](int e) { slotSink->handle(e); },
        Qt::QueuedConnection);

    const auto none = [] { return 0.0; };
    for (bool blocked : {false, true}) {
        const std::string what = blocked ? "/blocked_rss" : "/throughput";
        auto reg = [&](const char *lib, Sink &sink, auto send, bool marker, auto dropped) {
            benchmark::RegisterBenchmark(("cross_thread/" + std::string(lib) + what).c_str(),
                                         [&sink, send, blocked, marker, dropped](benchmark::State &state) {
                                             crossThread(state, receiver, sink, send, blocked, marker,
                                                         dropped);
                                         })
                ->UseManualTime()
                ->Iterations(1)
                ->Unit(benchmark::kMillisecond);
        };
        const auto rio = [&](const char *lib, RioTarget &t) {
            reg(lib, t.sink, [&t](int e) { t.registry.notify(e); }, true, [&t] { return t.dropped(); });
        };
        rio("rio_queued", queued);
        rio("rio_coalesced", coalesced);
        rio("rio_paced", pacedTarget);
        rio("rio_drop_oldest", dropOldest);
        rio("rio_drop_newest", dropNewest);
        if (!blocked) // a blocked receiver would hold the producer for the timeout at every event
            rio("rio_block", block);
        reg("qt_queued", qtSink, [](int e) { Q_EMIT sender.fired(e); }, false, none);
        reg(
            "invoke_method", invokeSink,
            [](int e) {
                QMetaObject::invokeMethod(
                    &receiver.context, [e] { invokeSink.handle(e); }, Qt::QueuedConnection);
            },
            false, none);
    }

    // Same thread: the receiving objects live on the benchmark's (main) thread.
    static QObject here;
    static RioTarget sameCoalesced(&here, Qt::QueuedConnection, Options{.delivery = rio::Delivery::Latest});
    static RioTarget sameQueued(&here, Qt::QueuedConnection, Options{});
    static Sink sameQtSink;
    static QtSender sameSender;
    QObject::connect(
        &sameSender, &QtSender::fired, &here, [](int e) { sameQtSink.handle(e); }, Qt::QueuedConnection);
    auto same = [](const char *lib, Sink &sink, auto send) {
        benchmark::RegisterBenchmark(
            ("same_thread/" + std::string(lib) + "/throughput").c_str(),
            [&sink, send](benchmark::State &state) { sameThread(state, sink, send); })
            ->UseManualTime()
            ->Iterations(1)
            ->Unit(benchmark::kMillisecond);
    };
    same("rio_coalesced", sameCoalesced.sink, [](int e) { sameCoalesced.registry.notify(e); });
    same("rio_queued", sameQueued.sink, [](int e) { sameQueued.registry.notify(e); });
    same("qt_queued", sameQtSink, [](int e) { Q_EMIT sameSender.fired(e); });
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
