// SPDX-License-Identifier: MIT
// LatestModel, the newest value per key: a writer's cost and the GUI thread's cost per frame.
//   qml_keyed/write/<form>/<keys>   a writer's update (a batch of kBatch notifies per iteration,
//                                   cycling over <keys> keys, the model never applying: what every
//                                   write between two frames costs). Forms: cpp (QtRegistry<Quote>
//                                   of a 16-byte gadget, follow() by a key function), qml (a
//                                   QmlRegistry's QVariantMap events keyed by the field "id"), and
//                                   core (rio::Registry<Quote> notifying one handler that stores
//                                   the event: the reference the targets count against).
// RIO_BENCH_ITERATIONS=N runs every case exactly N iterations (instruction counts: callgrind at
// two values of N, as benchmarks/callgrind.py measure_qml does).
//
//   bench_latest_model --frames [seconds] [keys] [rate]
// shows a LatestModel of <keys> keys (default 10,000) in a ListView of a real Qt Quick window,
// then 4 writer threads write <rate> updates per second in total (default 1,000,000) to random
// keys for <seconds> (default 5): it prints frames per second and the GUI thread's time per frame
// from a frame's update request to its afterAnimating (the model's apply and the view's polish),
// without and with the flood. Run it under Xvfb (QT_QPA_PLATFORM=xcb) for vsync-paced frames.

#include "common/run_main.h"

#include <registryio/qml/latest_model.h>
#include <registryio/qml/qml_registry.h>
#include <registryio/qt/qt_registry.h>
#include <registryio/registry.h>

#include <benchmark/benchmark.h>

#include <QElapsedTimer>
#include <QEvent>
#include <QGuiApplication>
#include <QQmlComponent>
#include <QQmlEngine>
#include <QQuickWindow>
#include <QVariantMap>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

/// The event: 16 bytes, trivially copyable, a gadget (its fields are the model's roles).
struct Quote
{
    Q_GADGET
    Q_PROPERTY(int id MEMBER id FINAL)
    Q_PROPERTY(double v MEMBER v FINAL)

public:
    int id = 0;
    double v = 0;
};

namespace {

constexpr int kBatch = 100; // notifies per benchmark iteration

void writeCpp(benchmark::State &state, int keys)
{
    rio::QtRegistry<Quote> registry;
    rio::LatestModel model;
    model.follow(registry, [](const Quote &q) { return q.id; });
    for (int k = 0; k < keys; ++k)
        registry.notify(Quote{k, 0});
    QCoreApplication::processEvents(); // the rows exist: writes update them
    int next = 0;
    for (auto _ : state) {
        for (int i = 0; i < kBatch; ++i) {
            registry.notify(Quote{next, double(i)});
            next = next + 1 == keys ? 0 : next + 1;
        }
    }
}

void writeQml(benchmark::State &state, int keys)
{
    rio::QmlRegistry registry;
    rio::LatestModel model;
    model.setKey(QStringLiteral("id"));
    model.setRegistry(&registry);
    std::vector<QVariant> events;
    for (int k = 0; k < keys; ++k)
        events.emplace_back(QVariantMap{{QStringLiteral("id"), k}, {QStringLiteral("v"), 0.5}});
    for (const QVariant &e : events)
        registry.notify(e);
    QCoreApplication::processEvents();
    const rio::QtRegistry<QVariant> &facade = registry.registry();
    int next = 0;
    for (auto _ : state) {
        for (int i = 0; i < kBatch; ++i) {
            facade.notify(events[static_cast<std::size_t>(next)]);
            next = next + 1 == keys ? 0 : next + 1;
        }
    }
}

Quote g_sink; // the reference handler's store

void writeCore(benchmark::State &state)
{
    rio::Registry<Quote> registry;
    registry.add([](const Quote &q) { g_sink = q; });
    int n = 0;
    for (auto _ : state) {
        for (int i = 0; i < kBatch; ++i)
            registry.notify(Quote{n++, double(i)});
    }
    benchmark::DoNotOptimize(g_sink);
}

void registerAll()
{
    const int fixedIterations = qEnvironmentVariableIntValue("RIO_BENCH_ITERATIONS");
    const auto fixed = [&](benchmark::internal::Benchmark *b) {
        if (fixedIterations > 0)
            b->Iterations(fixedIterations);
    };
    for (int keys : {100, 10000}) {
        fixed(benchmark::RegisterBenchmark(("qml_keyed/write/cpp/" + std::to_string(keys)).c_str(),
                                           [=](benchmark::State &s) { writeCpp(s, keys); }));
        fixed(benchmark::RegisterBenchmark(("qml_keyed/write/qml/" + std::to_string(keys)).c_str(),
                                           [=](benchmark::State &s) { writeQml(s, keys); }));
    }
    fixed(benchmark::RegisterBenchmark("qml_keyed/write/core/1", writeCore));
}

qint64 threadCpuNs()
{
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return qint64(now.tv_sec) * 1000000000 + now.tv_nsec;
}

// Times each frame of `window` on the GUI thread: from its update request (before the model's
// pacer applies the writes: filters installed later run first) to its afterAnimating.
struct FrameTimer : QObject
{
    QElapsedTimer clock;
    qint64 started = -1;
    qint64 startedCpu = -1; // the GUI thread's CPU time then
    std::vector<double> cpuMs;
    qint64 changed = -1;    // the frame's dataChanged: the model's apply before the view's polish
    std::vector<double> ms; // per frame
    std::vector<double> applyMs;
    int swapped = 0;

    bool eventFilter(QObject *, QEvent *event) override
    {
        if (event->type() == QEvent::UpdateRequest) {
            started = clock.nsecsElapsed();
            startedCpu = threadCpuNs();
        }
        return false;
    }
    void afterAnimating()
    {
        if (started >= 0) {
            ms.push_back(double(clock.nsecsElapsed() - started) / 1e6);
            cpuMs.push_back(double(threadCpuNs() - startedCpu) / 1e6);
        }
        if (started >= 0 && changed >= started)
            applyMs.push_back(double(changed - started) / 1e6);
        started = -1;
    }
};

struct Figures
{
    double fps = 0;
    double meanMs = 0;
    double p99Ms = 0;
    double maxMs = 0;
    double cpuMeanMs = 0;   // the GUI thread's CPU time in those frames
    double applyMeanMs = 0; // to the model's dataChanged, frames that had one
    long long written = 0;
};

Figures measure(QQuickWindow *window, rio::LatestModel *model, rio::QtRegistry<Quote> *registry, int keys,
                double seconds, long long rate)
{
    FrameTimer timer;
    timer.clock.start();
    window->installEventFilter(&timer); // after the pacer's: runs first
    const auto a = QObject::connect(
        window, &QQuickWindow::afterAnimating, &timer, [&] { timer.afterAnimating(); }, Qt::DirectConnection);
    const auto c = QObject::connect(
        model, &QAbstractItemModel::dataChanged, &timer, [&] { timer.changed = timer.clock.nsecsElapsed(); },
        Qt::DirectConnection);
    const auto f = QObject::connect(
        window, &QQuickWindow::frameSwapped, &timer, [&] { ++timer.swapped; }, Qt::DirectConnection);
    std::atomic<bool> stop{false};
    std::atomic<long long> written{0};
    std::vector<std::thread> writers;
    const int threads = rate > 0 ? 4 : 0;
    for (int w = 0; w < threads; ++w) {
        writers.emplace_back([&, w] {
            // Bounded: rate/4 updates a second in bursts of one millisecond's worth, until told.
            std::mt19937 random(static_cast<unsigned>(w) + 1);
            std::uniform_int_distribution<int> key(0, keys - 1);
            const long long perMs = std::max<long long>(1, rate / 4 / 1000);
            auto next = std::chrono::steady_clock::now();
            long long mine = 0;
            while (!stop.load(std::memory_order_relaxed)) {
                for (long long i = 0; i < perMs; ++i)
                    registry->notify(Quote{key(random), double(mine++)});
                next += std::chrono::milliseconds(1);
                std::this_thread::sleep_until(next); // pacing the load, not synchronisation
            }
            written += mine;
        });
    }
    QElapsedTimer wall;
    wall.start();
    window->update();
    while (wall.elapsed() < qint64(seconds * 1000)) {
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
        window->update(); // frames keep coming whether or not anything changed
    }
    stop = true;
    for (std::thread &t : writers)
        t.join();
    const double elapsed = double(wall.nsecsElapsed()) / 1e9;
    window->removeEventFilter(&timer);
    QObject::disconnect(a);
    QObject::disconnect(f);
    QObject::disconnect(c);
    double applied = 0;
    for (double v : timer.applyMs)
        applied += v;
    Figures out;
    double cpu = 0;
    for (double v : timer.cpuMs)
        cpu += v;
    out.cpuMeanMs = timer.cpuMs.empty() ? 0 : cpu / double(timer.cpuMs.size());
    out.applyMeanMs = timer.applyMs.empty() ? 0 : applied / double(timer.applyMs.size());
    out.fps = timer.swapped / elapsed;
    out.written = written.load();
    if (!timer.ms.empty()) {
        std::vector<double> sorted = timer.ms;
        std::sort(sorted.begin(), sorted.end());
        double sum = 0;
        for (double v : sorted)
            sum += v;
        out.meanMs = sum / double(sorted.size());
        out.p99Ms = sorted[std::min(sorted.size() - 1, sorted.size() * 99 / 100)];
        out.maxMs = sorted.back();
    }
    return out;
}

int frames(int argc, char **argv)
{
    const double seconds = argc > 2 ? std::atof(argv[2]) : 5.0;
    const int keys = argc > 3 ? std::atoi(argv[3]) : 10000;
    const long long rate = argc > 4 ? std::atoll(argv[4]) : 1000000;
    QQmlEngine engine;
    engine.addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH));
    QQmlComponent component(&engine);
    component.setData(R"(
        import QtQuick
        import RegistryIO
        Window {
            property alias model: board
            width: 400; height: 600; visible: true
            ListView {
                anchors.fill: parent
                model: LatestModel { id: board }
                delegate: Text { required property var key; required property var value; text: key + " " + value.v }
            }
        })",
                      QUrl());
    std::unique_ptr<QObject> root(component.create());
    auto *window = qobject_cast<QQuickWindow *>(root.get());
    if (window == nullptr) {
        std::printf("frames: %s\n", qPrintable(component.errorString()));
        return 1;
    }
    auto *model = root->property("model").value<rio::LatestModel *>();
    rio::QtRegistry<Quote> registry;
    model->follow(registry, [](const Quote &q) { return q.id; });
    for (int k = 0; k < keys; ++k)
        registry.notify(Quote{k, 0});
    QElapsedTimer settle;
    settle.start();
    while (model->rowCount() < keys && settle.elapsed() < 10000)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    const Figures idle = measure(window, model, &registry, keys, 1.0, 0);
    const Figures flood = measure(window, model, &registry, keys, seconds, rate);
    std::printf("LatestModel, %d keys in a ListView, platform %s, render loop %s\n", keys,
                qPrintable(QGuiApplication::platformName()), qgetenv("QSG_RENDER_LOOP").constData());
    std::printf("idle : %6.1f frames/s, GUI per frame mean %.3f ms, p99 %.3f ms, max %.3f ms\n", idle.fps,
                idle.meanMs, idle.p99Ms, idle.maxMs);
    std::printf("flood: %6.1f frames/s, GUI per frame mean %.3f ms (CPU %.3f ms; to the model's dataChanged "
                "%.3f ms), p99 %.3f ms, "
                "max %.3f ms; %lld updates in %.1f s (%.0f/s) from 4 threads\n",
                flood.fps, flood.meanMs, flood.cpuMeanMs, flood.applyMeanMs, flood.p99Ms, flood.maxMs,
                flood.written, seconds, double(flood.written) / seconds);
    window->hide();
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc > 1 && std::strcmp(argv[1], "--frames") == 0) {
        QGuiApplication app(argc, argv);
        return frames(argc, argv);
    }
    qputenv("QT_QPA_PLATFORM", "offscreen");
    QGuiApplication app(argc, argv);
    registerAll();
    return rio::bench::runBenchmarks(argc, argv);
}

#include "bench_latest_model.moc"
