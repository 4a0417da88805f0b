// SPDX-License-Identifier: MIT
// LatestModel, the newest value per key: a writer's cost and the GUI thread's cost per frame.
//   qml_keyed/write/<form>/<keys>   a writer's update (a batch of kBatch notifies per iteration,
//                                   cycling over <keys> keys, the model never applying: what every
//                                   write between two frames costs). Forms: cpp (QtRegistry<Quote>
//                                   of a 16-byte gadget, follow() by a key function), qml (a
//                                   QmlRegistry's QVariantMap events keyed by the field "id"),
//                                   writer (the cpp model written by its LatestModelWriter, no
//                                   registry), and core (rio::Registry<Quote> notifying one handler
//                                   that stores the event: the reference the targets count against).
// RIO_BENCH_ITERATIONS=N runs every case exactly N iterations (instruction counts: callgrind at
// two values of N, as benchmarks/callgrind.py measure_qml does).
//
//   bench_latest_model --frames [seconds] [keys] [rate]
// shows a LatestModel of <keys> keys (default 10,000) in a ListView of a real Qt Quick window,
// then 4 writer threads write <rate> updates per second in total (default 1,000,000) to random
// keys for <seconds> (default 5): it prints frames per second and the GUI thread's time per frame
// from a frame's update request to its afterAnimating (the model's apply and the view's polish),
// without and with the flood. Run it under Xvfb (QT_QPA_PLATFORM=xcb) for vsync-paced frames.
//
//   bench_latest_model --bound [seconds] [items] [rate] [form]
// shows <items> Text items (default 1,000) in a real Qt Quick window, each bound to its own value,
// while 4 writer threads write <rate> updates per second in total (default 1,000,000) to random
// items for <seconds> (default 5), once per form (default all of them), each in a new window:
//   latest   a rio::LatestValue<double> per item (ours: shown once per frame of the window)
//   queued   a Qt queued signal per update to the item's setter (what users write today; the
//            waiting signals are capped at 1,000,000, the rest skipped and counted)
//   handler  a QtRegistry<double> per item, a Delivery::Latest handler setting the item's property
//   poll     a shared std::atomic<double> per item, copied to the items by a 16 ms QTimer
//   floor    no RegistryIO and nothing written: every item set to a new value at each frame (its
//            afterAnimating), what Qt Quick costs to show 1,000 changing items
// It prints frames per second, the GUI thread's CPU time per frame (all of it, not only inside
// frames), a writer's CPU time per update, the resident memory the flood added, and the Qt events
// that deliveries posted to the bound objects per frame.
//   latest/write/<form>   a writer's update of one of 1,000 items in each form but `queued` (a batch
//                         of kBatch per iteration, nothing delivered meanwhile; callgrind as above)

#include "common/run_main.h"

#include <registryio/qml/latest_model.h>
#include <registryio/qml/qml_registry.h>
#include <registryio/qt/latest_value.h>
#include <registryio/qt/qt_registry.h>
#include <registryio/registry.h>

#include <benchmark/benchmark.h>

#include <QElapsedTimer>
#include <QEvent>
#include <QGuiApplication>
#include <QQmlComponent>
#include <QQmlEngine>
#include <QQuickWindow>
#include <QTimer>
#include <QVariantMap>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
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

// Through the registry's notify, or (Direct) through the model's writer.
template <bool Direct>
void writeCpp(benchmark::State &state, int keys)
{
    rio::QtRegistry<Quote> registry;
    rio::LatestModel model;
    model.follow(registry, [](const Quote &q) { return q.id; });
    const rio::LatestModelWriter<Quote> writer = model.writer<Quote>();
    const auto write = [&](const Quote &q) {
        if constexpr (Direct)
            writer.write(q.id, q);
        else
            registry.notify(q);
    };
    for (int k = 0; k < keys; ++k)
        write(Quote{k, 0});
    QCoreApplication::processEvents(); // the rows exist: writes update them
    int next = 0;
    for (auto _ : state) {
        for (int i = 0; i < kBatch; ++i) {
            write(Quote{next, double(i)});
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

constexpr int kItems = 1000; // the bound items of --bound and of the latest/write cases

void writeLatestValue(benchmark::State &state)
{
    std::vector<std::unique_ptr<rio::LatestValue<double>>> values;
    for (int i = 0; i < kItems; ++i)
        values.push_back(std::make_unique<rio::LatestValue<double>>());
    int next = 0;
    double v = 0;
    for (auto _ : state) {
        for (int i = 0; i < kBatch; ++i) {
            values[static_cast<std::size_t>(next)]->set(v += 1);
            next = next + 1 == kItems ? 0 : next + 1;
        }
    }
}

void writeLatestHandler(benchmark::State &state)
{
    QObject receiver;
    std::vector<std::unique_ptr<rio::QtRegistry<double>>> registries;
    for (int i = 0; i < kItems; ++i) {
        registries.push_back(std::make_unique<rio::QtRegistry<double>>());
        registries.back()->add(&receiver, [](const double &x) { benchmark::DoNotOptimize(x); },
                               {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
    }
    int next = 0;
    double v = 0;
    for (auto _ : state) {
        for (int i = 0; i < kBatch; ++i) {
            registries[static_cast<std::size_t>(next)]->notify(v += 1);
            next = next + 1 == kItems ? 0 : next + 1;
        }
    }
}

void writePoll(benchmark::State &state)
{
    std::vector<std::atomic<double>> shared(kItems);
    int next = 0;
    double v = 0;
    for (auto _ : state) {
        for (int i = 0; i < kBatch; ++i) {
            shared[static_cast<std::size_t>(next)].store(v += 1, std::memory_order_relaxed);
            next = next + 1 == kItems ? 0 : next + 1;
        }
    }
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
                                           [=](benchmark::State &s) { writeCpp<false>(s, keys); }));
        fixed(benchmark::RegisterBenchmark(("qml_keyed/write/writer/" + std::to_string(keys)).c_str(),
                                           [=](benchmark::State &s) { writeCpp<true>(s, keys); }));
        fixed(benchmark::RegisterBenchmark(("qml_keyed/write/qml/" + std::to_string(keys)).c_str(),
                                           [=](benchmark::State &s) { writeQml(s, keys); }));
    }
    fixed(benchmark::RegisterBenchmark("qml_keyed/write/core/1", writeCore));
    fixed(benchmark::RegisterBenchmark("latest/write/latest", writeLatestValue));
    fixed(benchmark::RegisterBenchmark("latest/write/handler", writeLatestHandler));
    fixed(benchmark::RegisterBenchmark("latest/write/poll", writePoll));
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
    double cpuMeanMs = 0;        // the GUI thread's CPU time in those frames
    double applyMeanMs = 0;      // to the model's dataChanged, frames that had one
    double guiCpuPerFrameMs = 0; // all of the GUI thread's CPU time over the run, per frame swapped
    double writerNs = 0;         // a writer's CPU time per update
    double rssAddedMb = 0;       // resident memory at the flood's end less at its start
    double perSecond = 0;        // updates written per second of the run
    int frames = 0;              // frames swapped
    long long written = 0;
};

long long residentKiB()
{
    std::ifstream statm("/proc/self/statm");
    long long size = 0, resident = 0;
    statm >> size >> resident;
    return resident * 4; // 4 KiB pages
}

// One update from a writer thread: item or key `key` gets `value`.
using Write = std::function<void(int key, double value)>;

Figures measure(QQuickWindow *window, QAbstractItemModel *model, int keys, double seconds, long long rate,
                const Write &write)
{
    FrameTimer timer;
    timer.clock.start();
    window->installEventFilter(&timer); // after the pacer's: runs first
    const auto a = QObject::connect(
        window, &QQuickWindow::afterAnimating, &timer, [&] { timer.afterAnimating(); }, Qt::DirectConnection);
    QMetaObject::Connection c;
    if (model != nullptr)
        c = QObject::connect(
            model, &QAbstractItemModel::dataChanged, &timer,
            [&] { timer.changed = timer.clock.nsecsElapsed(); }, Qt::DirectConnection);
    const auto f = QObject::connect(
        window, &QQuickWindow::frameSwapped, &timer, [&] { ++timer.swapped; }, Qt::DirectConnection);
    std::atomic<bool> stop{false};
    std::atomic<long long> written{0};
    std::atomic<long long> writerCpuNs{0};
    const long long rssBefore = residentKiB();
    const qint64 guiCpuBefore = threadCpuNs();
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
            long long cpu = 0;
            while (!stop.load(std::memory_order_relaxed)) {
                const qint64 before = threadCpuNs();
                for (long long i = 0; i < perMs; ++i)
                    write(key(random), double(mine++));
                cpu += threadCpuNs() - before;
                next += std::chrono::milliseconds(1);
                std::this_thread::sleep_until(next); // pacing the load, not synchronisation
            }
            written += mine;
            writerCpuNs += cpu;
        });
    }
    QElapsedTimer wall;
    wall.start();
    window->update();
    while (wall.elapsed() < qint64(seconds * 1000)) {
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
        window->update(); // frames keep coming whether or not anything changed
    }
    const double elapsed = double(wall.nsecsElapsed()) / 1e9;
    const qint64 guiCpu = threadCpuNs() - guiCpuBefore;
    const long long rssAfter = residentKiB();
    stop = true;
    for (std::thread &t : writers)
        t.join();
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
    out.perSecond = double(out.written) / elapsed; // a run may end late: a turn may take long
    out.frames = timer.swapped;
    out.guiCpuPerFrameMs = timer.swapped > 0 ? double(guiCpu) / 1e6 / timer.swapped : 0;
    out.writerNs = out.written > 0 ? double(writerCpuNs.load()) / double(out.written) : 0;
    out.rssAddedMb = double(rssAfter - rssBefore) / 1024.0;
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
    const Write write = [&registry](int key, double value) { registry.notify(Quote{key, value}); };
    const Figures idle = measure(window, model, keys, 1.0, 0, write);
    const Figures flood = measure(window, model, keys, seconds, rate, write);
    std::printf("LatestModel, %d keys in a ListView, platform %s, render loop %s\n", keys,
                qPrintable(QGuiApplication::platformName()), qgetenv("QSG_RENDER_LOOP").constData());
    std::printf("idle : %6.1f frames/s, GUI per frame mean %.3f ms, p99 %.3f ms, max %.3f ms\n", idle.fps,
                idle.meanMs, idle.p99Ms, idle.maxMs);
    std::printf("flood: %6.1f frames/s, GUI per frame mean %.3f ms (CPU %.3f ms; to the model's dataChanged "
                "%.3f ms), p99 %.3f ms, "
                "max %.3f ms; %lld updates in %.1f s (%.0f/s) from 4 threads\n",
                flood.fps, flood.meanMs, flood.cpuMeanMs, flood.applyMeanMs, flood.p99Ms, flood.maxMs,
                flood.written, seconds, double(flood.written) / seconds);
    std::printf("flood: GUI thread CPU %.3f ms per frame swapped (idle %.3f), writer %.1f ns per update, "
                "resident memory %+.1f MB\n",
                flood.guiCpuPerFrameMs, idle.guiCpuPerFrameMs, flood.writerNs, flood.rssAddedMb);
    window->hide();
    return 0;
}

// A bound item of the forms other than `latest`: a property set on the GUI thread.
class Item : public QObject
{
    Q_OBJECT
    Q_PROPERTY(double value READ value NOTIFY valueChanged FINAL)

public:
    [[nodiscard]] double value() const { return m_value; }
    void setValue(double value)
    {
        if (value == m_value)
            return;
        m_value = value;
        Q_EMIT valueChanged();
    }

Q_SIGNALS:
    void valueChanged();

private:
    double m_value = 0;
};

// The queued-signal form: one signal per update, emitted on the writer's thread, queued to the
// GUI thread's receiver, which sets the item.
class Source : public QObject
{
    Q_OBJECT

Q_SIGNALS:
    void changed(int item, double value);
};

constexpr long long kQueuedCap = 1000000; // signals waiting at most (the rest skipped, counted)

// Counts the Qt events that deliveries post to the bound objects.
struct PostedCounter : QObject
{
    long long posted = 0;
    bool eventFilter(QObject *, QEvent *event) override
    {
        posted += event->type() == QEvent::MetaCall ? 1 : 0;
        return false;
    }
};

int bound(int argc, char **argv)
{
    const double seconds = argc > 2 ? std::atof(argv[2]) : 5.0;
    const int items = argc > 3 ? std::atoi(argv[3]) : kItems;
    const long long rate = argc > 4 ? std::atoll(argv[4]) : 1000000;
    const std::string only = argc > 5 ? argv[5] : "all";
    QQmlEngine engine;
    std::printf(
        "%d bound Text items, 4 writers at %lld updates/s in total, %.0f s per form, platform %s, render "
        "loop %s\n",
        items, rate, seconds, qPrintable(QGuiApplication::platformName()),
        qgetenv("QSG_RENDER_LOOP").constData());
    for (const std::string form : {"latest", "queued", "handler", "poll", "floor"}) {
        if (only != "all" && only != form)
            continue;
        QQmlComponent component(&engine);
        component.setData(R"(
            import QtQuick
            Window {
                property var items: []
                width: 800; height: 600; visible: true
                Grid {
                    columns: 40
                    Repeater {
                        model: items
                        Text {
                            required property var modelData
                            width: 20; height: 24; font.pixelSize: 8
                            text: Number(modelData.value).toFixed(0)
                        }
                    }
                }
            })",
                          QUrl());
        std::unique_ptr<QObject> root(component.create());
        auto *window = qobject_cast<QQuickWindow *>(root.get());
        if (window == nullptr) {
            std::printf("bound: %s\n", qPrintable(component.errorString()));
            return 1;
        }
        std::vector<std::unique_ptr<rio::LatestValue<double>>> values;
        std::vector<std::unique_ptr<Item>> plain;
        std::vector<std::unique_ptr<rio::QtRegistry<double>>> registries;
        std::vector<std::atomic<double>> shared(static_cast<std::size_t>(items));
        Source source;
        std::atomic<long long> waiting{0};
        std::atomic<long long> skipped{0};
        long long maxWaiting = 0;
        QTimer poll;
        QObjectList list;
        for (int i = 0; i < items; ++i) {
            if (form == "latest") {
                // Parented to the window (deleted first, below): shown once per frame of it.
                values.push_back(std::make_unique<rio::LatestValue<double>>(window));
                list.append(values.back().get());
            } else {
                plain.push_back(std::make_unique<Item>());
                list.append(plain.back().get());
            }
        }
        Write write;
        if (form == "latest") {
            write = [&values](int i, double v) { values[static_cast<std::size_t>(i)]->set(v); };
        } else if (form == "queued") {
            QObject::connect(
                &source, &Source::changed, window,
                [&](int i, double v) {
                    plain[static_cast<std::size_t>(i)]->setValue(v);
                    maxWaiting = std::max(maxWaiting, waiting.fetch_sub(1, std::memory_order_relaxed));
                },
                Qt::QueuedConnection);
            write = [&](int i, double v) {
                if (waiting.fetch_add(1, std::memory_order_relaxed) >= kQueuedCap) {
                    waiting.fetch_sub(1, std::memory_order_relaxed);
                    skipped.fetch_add(1, std::memory_order_relaxed);
                    return;
                }
                Q_EMIT source.changed(i, v);
            };
        } else if (form == "handler") {
            for (int i = 0; i < items; ++i) {
                registries.push_back(std::make_unique<rio::QtRegistry<double>>());
                registries.back()->add(
                    plain[static_cast<std::size_t>(i)].get(),
                    [item = plain[static_cast<std::size_t>(i)].get()](const double &v) { item->setValue(v); },
                    {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
            }
            write = [&registries](int i, double v) { registries[static_cast<std::size_t>(i)]->notify(v); };
        } else if (form == "floor") {
            QObject::connect(
                window, &QQuickWindow::afterAnimating, window,
                [&plain, frame = 0.0]() mutable {
                    frame += 1;
                    for (std::size_t i = 0; i < plain.size(); ++i)
                        plain[i]->setValue(frame + double(i));
                },
                Qt::DirectConnection);
            write = [](int, double) { };
        } else {
            QObject::connect(&poll, &QTimer::timeout, window, [&] {
                for (std::size_t i = 0; i < plain.size(); ++i)
                    plain[i]->setValue(shared[i].load(std::memory_order_relaxed));
            });
            poll.start(16);
            write = [&shared](int i, double v) {
                shared[static_cast<std::size_t>(i)].store(v, std::memory_order_relaxed);
            };
        }
        window->setProperty("items", QVariant::fromValue(list));
        PostedCounter posted;
        for (QObject *object : std::as_const(list))
            object->installEventFilter(&posted);
        QElapsedTimer settle; // the delegates exist and have drawn (glyphs cached): a second of frames
        settle.start();
        while (settle.elapsed() < 1000) {
            QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
            window->update();
        }
        const Figures idle = measure(window, nullptr, items, 1.0, 0, write);
        posted.posted = 0;
        const Figures flood = measure(window, nullptr, items, seconds, rate, write);
        const long long postedInFlood = posted.posted;
        // What still waits when the writers stop (the queued form's backlog) is drained, bounded.
        QElapsedTimer drain;
        drain.start();
        const long long backlog = waiting.load();
        while (waiting.load() > 0 && drain.elapsed() < 60000)
            QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
        std::printf(
            "%-8s: %6.1f frames/s (idle %.1f), GUI CPU %.3f ms per frame (idle %.3f; in frames %.3f), "
            "writer %.1f ns per update, resident %+.1f MB, %.0f updates/s, %.1f events posted per frame",
            form.c_str(), flood.fps, idle.fps, flood.guiCpuPerFrameMs, idle.guiCpuPerFrameMs, flood.cpuMeanMs,
            flood.writerNs, flood.rssAddedMb, flood.perSecond,
            flood.frames > 0 ? double(postedInFlood) / flood.frames : 0.0);
        if (form == "queued")
            std::printf(
                "; %lld waiting at most, %lld at the end (drained in %.1f s), %lld skipped at the cap",
                maxWaiting, backlog, double(drain.elapsed()) / 1000.0, skipped.load());
        std::printf("\n");
        std::fflush(stdout);
        poll.stop();
        window->setProperty("items", QVariant());
        registries.clear();
        values.clear();
        window->hide();
    }
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc > 1 && std::strcmp(argv[1], "--frames") == 0) {
        QGuiApplication app(argc, argv);
        return frames(argc, argv);
    }
    if (argc > 1 && std::strcmp(argv[1], "--bound") == 0) {
        QGuiApplication app(argc, argv);
        return bound(argc, argv);
    }
    qputenv("QT_QPA_PLATFORM", "offscreen");
    QGuiApplication app(argc, argv);
    registerAll();
    return rio::bench::runBenchmarks(argc, argv);
}

#include "bench_latest_model.moc"
