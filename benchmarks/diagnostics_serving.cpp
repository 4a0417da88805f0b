// SPDX-License-Identifier: MIT
// What serving attached inspectors costs an application (docs/DIAGNOSTICS.md, "Attaching"): 1,000
// trivial direct handlers on ten registries, each notified once per 16.7 ms frame on the main
// thread, diagnostics on, serving (Diagnostics::serve). Blocks of `--block-ms` alternate between
// no inspector and two attached (registryio-inspect table, every snapshot, and one trace per
// block unless --no-trace); per block, the main thread's CPU time per frame and the serving thread's CPU time
// per frame (its schedstat). Prints the medians of each.
//
//   rio_diagnostics_serving [--blocks N] [--block-ms MS] [--no-trace]

#include "../src/inspect/inspect_protocol.h"
#include "../src/qt/src/diagnostics_trace_p.h"

#include <registryio/qt/diagnostics.h>
#include <registryio/qt/qt_registry.h>

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTimer>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <vector>

namespace {

constexpr int registries = 10;
constexpr int handlersEach = 100;
constexpr int frameMs = 16; // 16.7 ms: the timer's resolution

double threadCpuNs()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// The serving thread's CPU time so far (ns), from its schedstat; 0 if it is not found.
double servingCpuNs()
{
    const QDir tasks(QStringLiteral("/proc/self/task"));
    for (const QString &tid : tasks.entryList(QDir::Dirs | QDir::NoDotAndDotDot)) {
        QFile comm(tasks.filePath(tid + QStringLiteral("/comm")));
        if (!comm.open(QIODevice::ReadOnly) || comm.readAll().trimmed() != "rio-inspect")
            continue;
        QFile stat(tasks.filePath(tid + QStringLiteral("/schedstat")));
        if (stat.open(QIODevice::ReadOnly))
            return stat.readAll().split(' ').value(0).toDouble();
    }
    return 0;
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = QCoreApplication::arguments();
    const auto option = [&](const char *name, int fallback) {
        const qsizetype at = args.indexOf(QLatin1String(name));
        return at > 0 && at + 1 < args.size() ? args[at + 1].toInt() : fallback;
    };
    const int blocks = option("--blocks", 10);
    const int blockMs = option("--block-ms", 3000);
    const QString name = QStringLiteral("rio-inspect-bench-%1").arg(QCoreApplication::applicationPid());
    if (!rio::Diagnostics::serve(QStringLiteral("local:") + name))
        return 1;

    std::vector<std::unique_ptr<rio::QtRegistry<int>>> regs;
    for (int r = 0; r < registries; ++r) {
        regs.push_back(std::make_unique<rio::QtRegistry<int>>());
        regs.back()->setObjectName(QStringLiteral("r%1").arg(r));
        for (int h = 0; h < handlersEach; ++h)
            regs.back()->add([](int) { });
    }
    int frame = 0;
    QTimer frames;
    frames.setTimerType(Qt::PreciseTimer);
    QObject::connect(&frames, &QTimer::timeout, &app, [&] {
        for (auto &r : regs)
            r->notify(frame);
        ++frame;
    });
    frames.start(frameMs);

    std::vector<double> mainIdle, mainAttached, servingIdle, servingAttached;
    QProcess table;
    QProcess trace;
    // Another build's (RIO_INSPECT_TOOL, with RIO_INSPECT_SERVER): its serving against this one's.
    const QString tool = qEnvironmentVariable("RIO_INSPECT_TOOL", QStringLiteral(RIO_INSPECT_TOOL));
    bool attached = false;
    int block = 0;
    double mainAt = threadCpuNs();
    double servingAt = servingCpuNs();
    int frameAt = frame;
    QTimer blockTimer;
    QObject::connect(&blockTimer, &QTimer::timeout, &app, [&] {
        const double mainNow = threadCpuNs();
        const double servingNow = servingCpuNs();
        const double frames = std::max(1, frame - frameAt);
        if (qEnvironmentVariableIsSet("RIO_BENCH_VERBOSE"))
            std::printf("block %d %s: main %.1f us, serving %.1f us per frame\n", block,
                        attached ? "attached" : "idle", (mainNow - mainAt) / frames / 1e3,
                        (servingNow - servingAt) / frames / 1e3);
        if (block > 0) { // the first block warms up
            (attached ? mainAttached : mainIdle).push_back((mainNow - mainAt) / frames);
            (attached ? servingAttached : servingIdle).push_back((servingNow - servingAt) / frames);
        }
        if (attached) {
            table.kill();
            table.waitForFinished();
        } else {
            table.start(tool,
                        {QStringLiteral("table"), name, QStringLiteral("--count"), QStringLiteral("100000")});
        }
        attached = !attached;
        if (++block > 2 * blocks) {
            trace.waitForFinished();
            QCoreApplication::quit();
        }
        mainAt = threadCpuNs();
        servingAt = servingCpuNs();
        frameAt = frame;
    });
    // Attached, the timeline too: once per block (each trace subscribes, gets one, detaches).
    const bool traces = !args.contains(QStringLiteral("--no-trace"));
    QObject::connect(&table, &QProcess::started, &app, [&] {
        if (traces && trace.state() == QProcess::NotRunning)
            trace.start(
                tool, {QStringLiteral("trace"), name, QDir::temp().filePath(name + QStringLiteral(".json"))});
    });
    table.setStandardOutputFile(QProcess::nullDevice());
    trace.setStandardOutputFile(QProcess::nullDevice());
    blockTimer.start(blockMs);
    QCoreApplication::exec();
    for (QProcess *p : {&table, &trace}) {
        QObject::disconnect(p, nullptr, nullptr, nullptr);
        p->kill();
        p->waitForFinished();
    }
    QFile::remove(QDir::temp().filePath(name + QStringLiteral(".json")));
    // What each document costs to make (the serving thread's work per send), on this thread.
    const auto cost = [](auto make) {
        std::vector<double> ns;
        for (int i = 0; i < 5; ++i) {
            const double at = threadCpuNs();
            const QByteArray packed = qCompress(make().toJson(QJsonDocument::Compact));
            ns.push_back(threadCpuNs() - at);
            if (packed.isEmpty())
                std::abort();
        }
        return median(ns);
    };
    {
        std::vector<double> ns, encoded;
        qsizetype bytes = 0, pages = 0;
        for (int i = 0; i < 5; ++i) {
            const double at = threadCpuNs();
            const QList<rio::RegistryInfo> snap = rio::Diagnostics::snapshot();
            const double taken = threadCpuNs();
            const QByteArray encodedBytes = rio::inspect::encodeSnapshot(snap);
            pages = rio::inspect::pages(1, encodedBytes).size();
            bytes = encodedBytes.size();
            ns.push_back(taken - at);
            encoded.push_back(threadCpuNs() - taken);
            if (snap.isEmpty())
                std::abort();
        }
        std::printf("one snapshot (Diagnostics::snapshot): %.2f ms; its bytes in pages %.3f ms (%lld bytes, "
                    "%lld pages)\n",
                    median(ns) / 1e6, median(encoded) / 1e6, static_cast<long long>(bytes),
                    static_cast<long long>(pages));
    }
    std::printf(
        "one snapshot document (toJson, compact, qCompress): %.2f ms; one timeline (toTrace): %.2f ms\n",
        cost([] { return rio::Diagnostics::toJson(); }) / 1e6,
        cost([] { return rio::Diagnostics::toTrace(); }) / 1e6);
    {
        // What the serving thread does per timeline sent (inspect_server.cpp): its text, sent as it is.
        std::vector<double> text;
        qsizetype bytes = 0;
        for (int i = 0; i < 5; ++i) {
            const double at = threadCpuNs();
            bytes = rio::detail::traceJson(std::chrono::seconds(10)).size();
            text.push_back(threadCpuNs() - at);
        }
        std::printf("one timeline sent: its text %.2f ms (%lld bytes)\n", median(text) / 1e6,
                    static_cast<long long>(bytes));
    }
    const double frameNs = 1e9 / 60;
    std::printf("frames of 16.7 ms, %d handlers, %d blocks of %d ms each way\n", registries * handlersEach,
                blocks, blockMs);
    std::printf("main thread CPU per frame: no inspector %.1f us, attached %.1f us (+%.3f%% of a frame)\n",
                median(mainIdle) / 1e3, median(mainAttached) / 1e3,
                100.0 * (median(mainAttached) - median(mainIdle)) / frameNs);
    std::printf("serving thread CPU per frame: no inspector %.1f us, attached %.1f us (%.3f%% of a frame)\n",
                median(servingIdle) / 1e3, median(servingAttached) / 1e3,
                100.0 * median(servingAttached) / frameNs);
    return 0;
}
