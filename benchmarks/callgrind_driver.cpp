// SPDX-License-Identifier: MIT
// Fixed-iteration driver for instruction counts:
//   rio_callgrind_driver <library> <handlers> <iterations> [notify|add_remove|bulk|bulk_mixed]
// notifies <iterations> times (or adds and removes one handler <iterations> times; or, <iterations>
// times, adds <handlers> handlers to a new registry and removes them in registration order,
// bulk_mixed with seven interleaved priorities, RegistryIO only). callgrind.py runs it
// twice with different iteration counts under valgrind --tool=callgrind; the difference of the totals divided
// by the difference of the iterations is the cost of one notify, free of start-up and set-up.
// Writer shapes (library rio or mutex_vector, the reference of common/writer_shapes.h):
//   scoped       <handlers> objects take a scoped connection, one emit, the objects go
//   conndisc     as scoped without the emit: the harness's connect + disconnect pairs
//   guard_drop   one scoped connection's destruction (16 others registered); only the drop is
//                collected (run with --collect-atstart=no: callgrind.py does)
//   construct    construct and destroy an empty registry
// Clock reads (what diagnostics' timing pays per read; library and handlers ignored):
//   steady_clock  std::chrono::steady_clock::now() (clock_gettime through the vDSO)
//   ticks         the clock diagnostics time runs with (the TSC where it is invariant)
// qt_registry_queued: one handler per <handlers> on a context on the driver's own thread with
// Qt::QueuedConnection; a notify queues a delivery to each and the posted events are then sent,
// so one iteration is a whole queued delivery (post, drain, run).
// qt_registry_latest: one Delivery::Latest handler per <handlers>, queued to a context on the
// driver's own thread whose events are never sent: one iteration is a writer's update of the
// newest value (the first one schedules the delivery, the others only replace the event).
// latest_value: a LatestValue<Event> whose events are never sent: one iteration is a set() (the
// first one schedules the delivery, the others only write the newest value).
// latest_model: a LatestModel following a QtRegistry of a 16-byte trivially copyable event by
// its int key, <handlers> keys with rows: one iteration is a writer's update of the next key
// (the model never applies meanwhile: what every write between two frames costs).
// latest_model_writer: the same model and keys written by its LatestModelWriter, no registry.
// remote_fanout: a Remote share's outbox (Every, capacity 16, DropNewest) with <handlers> ready
// subscribers' backlogs, filled first and never drained: one iteration is one event's push into
// every backlog, each dropping it (the policy's check and count, per backlog).

#include "common/peers.h"
#include "common/writer_shapes.h"
#if RIO_BENCH_HAVE_QT_REGISTRY
#include "common/qt_registry_peer.h"

#include <registryio/qt/latest_value.h>

#include <QCoreApplication>
#include <QObject>
#endif
#if RIO_BENCH_HAVE_LATEST_MODEL
#include <registryio/qml/latest_model.h>
#endif
#if RIO_BENCH_HAVE_REMOTE
#include "remote_outbox_p.h"
#endif
// The clock operations need diagnostics (this file also builds against older sources, for a
// baseline of the other operations).
#if __has_include(<registryio/detail/diagnostics.h>)
#include <registryio/detail/diagnostics.h>
#define RIO_BENCH_HAVE_DIAGNOSTICS 1
#else
#define RIO_BENCH_HAVE_DIAGNOSTICS 0
#endif

#include <chrono>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
// A tree without valgrind (the qt68 stage builds the benchmarks, never runs them under it): the
// toggles do nothing there, and guard_drop is only counted under callgrind, which brings them.
#define CALLGRIND_TOGGLE_COLLECT static_cast<void>(0)
#endif

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using namespace rio::bench;

// Keeps an object the optimiser could otherwise drop.
inline void benchmark_escape(void *p)
{
    asm volatile("" : : "g"(p) : "memory");
}

template <typename Peer>
[[gnu::noinline]] void notifyLoop(Peer &peer, long iterations)
{
    for (long i = 0; i < iterations; ++i)
        peer.notify(static_cast<Event>(i));
}

template <typename Peer>
[[gnu::noinline]] void addRemoveLoop(Peer &peer, long iterations)
{
    for (long i = 0; i < iterations; ++i) {
        auto id = peer.add();
        peer.remove(id);
    }
}

// The bulk benchmark's work (bench_slow_path), counted: a window's widgets connect, then close.
template <typename Peer>
[[gnu::noinline]] void bulkLoop(int n, long iterations, bool mixed)
{
    using Id = decltype(std::declval<Peer &>().add());
    std::vector<Id> ids;
    ids.reserve(static_cast<std::size_t>(n));
    for (long it = 0; it < iterations; ++it)
        bulkWindow<Peer>(n, mixed, ids);
}

template <typename Peer>
int run(int handlers, long iterations, bool addRemove)
{
    Peer peer;
    for (int i = 0; i < handlers; ++i)
        peer.add();
    if (addRemove) {
        addRemoveLoop(peer, iterations);
        return 0;
    }
    const std::uint64_t before = threadCount.load(std::memory_order_relaxed);
    if constexpr (requires { peer.prepare(); }) {
        peer.prepare();
        notifyLoop(peer, iterations);
        return 0; // its handler counts nothing
    }
    notifyLoop(peer, iterations);
    std::uint64_t expected = static_cast<std::uint64_t>(handlers) * static_cast<std::uint64_t>(iterations);
    if constexpr (requires { peer.deliverNewest(); }) {
        peer.deliverNewest(); // coalesced: each handler runs once, with the newest event
        expected = static_cast<std::uint64_t>(handlers);
    }
    const std::uint64_t calls = threadCount.load(std::memory_order_relaxed) - before;
    if (calls != expected) {
        std::fprintf(stderr, "wrong number of handler calls: %llu\n", static_cast<unsigned long long>(calls));
        return 1;
    }
    return 0;
}

template <typename Shapes>
[[gnu::noinline]] void writerShapeLoop(std::string_view op, int handlers, long iterations)
{
    typename Shapes::Signal signal;
    if (op == "scoped" || op == "conndisc") {
        std::vector<typename Shapes::Scoped> objects;
        objects.reserve(static_cast<std::size_t>(handlers));
        for (long i = 0; i < iterations; ++i)
            scopedRound<Shapes>(signal, handlers, objects, op == "scoped");
    } else if (op == "guard_drop") {
        std::vector<typename Shapes::Scoped> others;
        for (int i = 0; i < 16; ++i)
            others.push_back(Shapes::scoped(signal));
        for (long i = 0; i < iterations; ++i) {
            auto scoped = Shapes::scoped(signal);
            CALLGRIND_TOGGLE_COLLECT;
            {
                auto dropped = std::move(scoped);
            }
            CALLGRIND_TOGGLE_COLLECT;
        }
    } else {
        for (long i = 0; i < iterations; ++i) {
            typename Shapes::Signal fresh;
            benchmark_escape(&fresh);
        }
    }
}

#if RIO_BENCH_HAVE_QT_REGISTRY
// The Qt facade with queued handlers on this thread (see the header comment).
struct QtRegistryQueuedPeer
{
    static constexpr std::string_view key = "qt_registry_queued";
    static QCoreApplication &app()
    {
        static int argc = 1;
        static char name[] = "rio_callgrind_driver";
        static char *argv[] = {name, nullptr};
        static QCoreApplication instance(argc, argv);
        return instance;
    }
    QObject *context = (app(), new QObject);
    rio::QtRegistry<Event> registry;
    QtRegistryQueuedPeer() = default;
    QtRegistryQueuedPeer(const QtRegistryQueuedPeer &) = delete;
    QtRegistryQueuedPeer &operator=(const QtRegistryQueuedPeer &) = delete;
    ~QtRegistryQueuedPeer() { delete context; }
    rio::HandlerId add()
    {
        return registry.add(context, [](const Event &) noexcept { handlerBody(); },
                            {.connection = Qt::QueuedConnection});
    }
    void remove(rio::HandlerId id) { registry.remove(id); }
    void notify(const Event &e)
    {
        registry.notify(e);
        QCoreApplication::sendPostedEvents();
    }
};
#endif

#if RIO_BENCH_HAVE_QT_REGISTRY
// The Qt facade's coalesced delivery, as a writer pays it (see the header comment).
struct QtRegistryLatestPeer
{
    static constexpr std::string_view key = "qt_registry_latest";
    QObject *context = (QtRegistryQueuedPeer::app(), new QObject);
    rio::QtRegistry<Event> registry;
    QtRegistryLatestPeer() = default;
    QtRegistryLatestPeer(const QtRegistryLatestPeer &) = delete;
    QtRegistryLatestPeer &operator=(const QtRegistryLatestPeer &) = delete;
    ~QtRegistryLatestPeer() { delete context; }
    rio::HandlerId add()
    {
        return registry.add(context, [](const Event &) noexcept { handlerBody(); },
                            {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
    }
    void remove(rio::HandlerId id) { registry.remove(id); }
    void notify(const Event &e) { registry.notify(e); }
    // Runs the one delivery the iterations left scheduled (in both counts: it cancels out).
    static void deliverNewest() { QCoreApplication::sendPostedEvents(); }
};
#endif

#if RIO_BENCH_HAVE_QT_REGISTRY
// A latest value's writer (see the header comment).
struct LatestValuePeer
{
    static constexpr std::string_view key = "latest_value";
    rio::LatestValue<Event> value = (QtRegistryQueuedPeer::app(), rio::LatestValue<Event>());
    static int add() { return 0; }
    static void remove(int) { }
    static void prepare() { }
    void notify(const Event &e) const { value.set(e); }
};
#endif

#if RIO_BENCH_HAVE_REMOTE
// Remote's fan-out of one event to its subscribers' backlogs (see the header comment).
struct RemoteFanoutPeer
{
    static constexpr std::string_view key = "remote_fanout";
    static rio::RemoteShareOptions options()
    {
        rio::RemoteShareOptions o;
        o.capacity = 16;
        o.overflow = rio::Overflow::DropNewest;
        return o;
    }
    std::shared_ptr<rio::detail::RemoteOutbox> box =
        (QtRegistryQueuedPeer::app(), std::make_shared<rio::detail::RemoteOutbox>(options()));
    QByteArray bytes = QByteArray(64, 'x');
    quint64 backlogs = 0;
    RemoteFanoutPeer() = default;
    RemoteFanoutPeer(const RemoteFanoutPeer &) = delete;
    RemoteFanoutPeer &operator=(const RemoteFanoutPeer &) = delete;
    ~RemoteFanoutPeer() { box->close(); }
    int add()
    {
        auto backlog = std::make_shared<rio::detail::RemoteBacklog>();
        backlog->id = backlog->key = ++backlogs;
        box->addBacklog(backlog);
        box->setReady(backlog);
        return 0;
    }
    static void remove(int) { }
    void prepare() // every backlog full
    {
        for (std::size_t i = 0; i < box->capacity; ++i)
            notify({});
    }
    void notify(const Event &) { box->push(0, bytes); }
};
#endif

#if RIO_BENCH_HAVE_LATEST_MODEL
// A keyed model's writer (see the header comment).
struct LatestModelPeer
{
    struct Tick // 16 bytes, trivially copyable
    {
        int id = 0;
        double v = 0;
    };
    static constexpr std::string_view key = "latest_model";
    rio::QtRegistry<Tick> registry;
    rio::LatestModel model = (QtRegistryQueuedPeer::app(), rio::LatestModel());
    int keys = 0;
    int next = 0;
    LatestModelPeer()
    {
        model.follow(registry, [](const Tick &t) { return t.id; });
    }
    int add()
    {
        registry.notify(Tick{keys, 0});
        return keys++;
    }
    static void remove(int) { }
    void prepare() { QCoreApplication::processEvents(); } // the keys get their rows
    void notify(const Event &e)
    {
        registry.notify(Tick{next, static_cast<double>(e)});
        next = next + 1 == keys ? 0 : next + 1;
    }
};
#endif

#if RIO_BENCH_HAVE_LATEST_MODEL
// A keyed model's direct writer (see the header comment).
struct LatestModelWriterPeer
{
    using Tick = LatestModelPeer::Tick;
    static constexpr std::string_view key = "latest_model_writer";
    rio::LatestModel model = (QtRegistryQueuedPeer::app(), rio::LatestModel());
    rio::LatestModelWriter<Tick> writer = model.writer<Tick>();
    int keys = 0;
    int next = 0;
    int add()
    {
        writer.write(keys, Tick{keys, 0});
        return keys++;
    }
    static void remove(int) { }
    static void prepare() { QCoreApplication::processEvents(); } // the keys get their rows
    void notify(const Event &e)
    {
        writer.write(next, Tick{next, static_cast<double>(e)});
        next = next + 1 == keys ? 0 : next + 1;
    }
};
#endif

#if RIO_BENCH_HAVE_DIAGNOSTICS
[[gnu::noinline]] void clockLoop(bool steady, long iterations)
{
    std::uint64_t sum = 0;
    for (long i = 0; i < iterations; ++i)
        sum += steady
                   ? static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())
                   : rio::detail::diag::ticks();
    benchmark_escape(&sum);
}
#endif

} // namespace

// Every library this driver knows, RegistryIO's Qt facade included when it was built.
template <typename F>
void forEachDriverPeer(F &&f)
{
    forEachPeer(f);
#if RIO_BENCH_HAVE_QT_REGISTRY
    f.template operator()<QtRegistryPeer>();
    f.template operator()<RioCounterPeer>();
    f.template operator()<QtRegistryCounterPeer>();
    f.template operator()<QtRegistryQueuedPeer>();
    f.template operator()<QtRegistryLatestPeer>();
    f.template operator()<LatestValuePeer>();
#endif
#if RIO_BENCH_HAVE_REMOTE
    f.template operator()<RemoteFanoutPeer>();
#endif
#if RIO_BENCH_HAVE_LATEST_MODEL
    f.template operator()<LatestModelPeer>();
    f.template operator()<LatestModelWriterPeer>();
#endif
}

int main(int argc, char **argv)
{
    if (argc == 2 && std::string_view(argv[1]) == "--list") {
        forEachDriverPeer([]<typename Peer>() { std::printf("%s\n", Peer::key.data()); });
        return 0;
    }
    if (argc != 4 && argc != 5) {
        std::fprintf(stderr, "usage: %s <library> <handlers> <iterations> [notify|add_remove]\n", argv[0]);
        return 2;
    }
    const std::string_view library = argv[1];
    const int handlers = std::atoi(argv[2]);
    const long iterations = std::atol(argv[3]);
    const std::string_view op = argc == 5 ? argv[4] : "notify";
#if RIO_BENCH_HAVE_DIAGNOSTICS
    if (op == "steady_clock" || op == "ticks") {
        static_cast<void>(rio::detail::diag::ticksAreTsc()); // chooses and calibrates the clock
        clockLoop(op == "steady_clock", iterations);
        return 0;
    }
#endif
    if (op == "scoped" || op == "conndisc" || op == "guard_drop" || op == "construct") {
        if (library == RioShapes::key)
            writerShapeLoop<RioShapes>(op, handlers, iterations);
        else if (library == ReferenceShapes::key)
            writerShapeLoop<ReferenceShapes>(op, handlers, iterations);
        else
            return 2;
        return 0;
    }
    if (op != "notify" && op != "add_remove" && op != "bulk" && op != "bulk_mixed") {
        std::fprintf(stderr, "unknown operation: %s\n", argv[4]);
        return 2;
    }
    if (op == "bulk_mixed" && library != RioPeer::key) {
        std::fprintf(stderr, "bulk_mixed: RegistryIO only (the peers have no priorities)\n");
        return 2;
    }
    int status = -1;
    forEachDriverPeer([&]<typename Peer>() {
        if (library != Peer::key)
            return;
        if (op == "bulk" || op == "bulk_mixed") {
            bulkLoop<Peer>(handlers, iterations, op == "bulk_mixed");
            status = 0;
        } else {
            status = run<Peer>(handlers, iterations, op == "add_remove");
        }
    });
    if (status < 0) {
        std::fprintf(stderr, "unknown library: %.*s\n", static_cast<int>(library.size()), library.data());
        return 2;
    }
    return status;
}
