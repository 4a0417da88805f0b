// SPDX-License-Identifier: MIT
// The main demo: the same worker flood reaches two identical receivers, one through a Qt queued
// signal and one through a coalesced registry handler, and a Qt Quick Controls window
// (Main.qml) shows both side by side. Below them the same flood, as a table of the newest value
// of 5,000 keys, reaches the window's own thread twice: through a LatestModel (once per frame)
// and through a Qt queued signal per update to a list model; the steady worker's newest event
// is bound in QML through a registry's `latest`. The window itself is fed through a QmlRegistry:
// ten snapshots a second, handled by QML handlers in priority order, one of which throws.
//   rio_qml_dashboard                      a window, until it is closed
//   rio_qml_dashboard --seconds N          runs N seconds (the Qt signals to the window's thread on
//                                          for the second half), prints the window's frames/s in
//                                          each half, checks what every part received, then
//                                          simulates a very long run and checks that no text
//                                          overflows its panel at 1280x960, 1280x800 and 800x600;
//                                          exits (with QT_QPA_PLATFORM=offscreen: no display needed)
//   --rate N         events per second per worker at the start (the window has a slider)
//   --ui-flood       also send every event to the window's own thread through a Qt queued
//                    signal, to the table beside the LatestModel (the window has a switch): its
//                    frame rate shows what that costs
//   --size WxH       window size (default 1280x960)
//   --screenshot F   with --seconds: grabs the window to the PNG file F after N seconds and
//                    checks that it is not blank
// Closing the window ends a timed run early: it exits 0 and says so, with what ran until then
// (RIO_DASHBOARD_CLOSE_AT_MS=N closes it after N ms, as a user would: its test does).

#include "flood.h"
#include "monitor.h"
#include "selfcheck.h"
#include "ticker_table.h"

#include <registryio/qml/latest_model.h>
#include <registryio/qml/qml_registry.h>
#include <registryio/qt/diagnostics.h>

#include <QCommandLineParser>
#include <QDir>
#include <QGuiApplication>
#include <QImage>
#include <QQmlApplicationEngine>
#include <QQmlError>
#include <QQuickWindow>
#include <QTimer>
#include <QVariantMap>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <limits>

int main(int argc, char *argv[])
{
    // Qt Quick's software renderer needs no GPU: the headless run works on any machine.
    const bool offscreen = qgetenv("QT_QPA_PLATFORM") == "offscreen";
    if (offscreen)
        QQuickWindow::setGraphicsApi(QSGRendererInterface::Software);
    QGuiApplication app(argc, argv);
    // The watchdog's reports (category registryio.diagnostics) are part of what the demo shows:
    // each of its lines says what it means.
    static const QtMessageHandler logged =
        qInstallMessageHandler([](QtMsgType type, const QMessageLogContext &context, const QString &message) {
            const bool watchdog = qstrcmp(context.category, "registryio.diagnostics") == 0;
            logged(type, context,
                   watchdog ? message +
                                  QStringLiteral(" (the watchdog at work: a handler that runs longer than "
                                                 "a frame on the GUI thread is reported and drawn red in the "
                                                 "inspector; on a busy machine the demo's own are)")
                            : message);
        });

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("RegistryIO dashboard: a Qt signal and a registry, "
                                                    "side by side"));
    parser.addHelpOption();
    const QCommandLineOption secondsOption(QStringLiteral("seconds"),
                                           QStringLiteral("Run N seconds, check, print a summary, exit."),
                                           QStringLiteral("N"));
    const QCommandLineOption rateOption(QStringLiteral("rate"),
                                        QStringLiteral("Events per second per worker at the start."),
                                        QStringLiteral("N"), QStringLiteral("10000"));
    const QCommandLineOption sizeOption(QStringLiteral("size"), QStringLiteral("Window size."),
                                        QStringLiteral("WxH"), QStringLiteral("1280x960"));
    const QCommandLineOption shotOption(QStringLiteral("screenshot"),
                                        QStringLiteral("With --seconds: save the window to this PNG."),
                                        QStringLiteral("file"));
    const QCommandLineOption uiOption(QStringLiteral("ui-flood"),
                                      QStringLiteral("Start with Qt signals to the window's thread too."));
    parser.addOptions({secondsOption, rateOption, sizeOption, shotOption, uiOption});
    parser.process(app);
    bool secondsOk = true, rateOk = true, wOk = false, hOk = false;
    const int seconds = parser.isSet(secondsOption) ? parser.value(secondsOption).toInt(&secondsOk) : 0;
    const int rate = parser.value(rateOption).toInt(&rateOk);
    const QStringList size = parser.value(sizeOption).split(QLatin1Char('x'));
    const int width = size.value(0).toInt(&wOk), height = size.value(1).toInt(&hOk);
    const QString shot = parser.value(shotOption);
    // The timers count milliseconds in an int: a run of at most 24.8 days.
    constexpr int maxSeconds = std::numeric_limits<int>::max() / 1000;
    if (!secondsOk || seconds < 0 || seconds > maxSeconds || !rateOk || rate < 0 || rate > Flood::kMaxRate ||
        size.size() != 2 || !wOk || !hOk || width < 800 || height < 600 ||
        (!shot.isEmpty() && seconds == 0)) {
        std::fprintf(stderr,
                     "rio_qml_dashboard: bad arguments (--seconds 0..%d, --rate 0..%d, --size WxH "
                     "of at least 800x600, --screenshot needs --seconds)\n",
                     maxSeconds, Flood::kMaxRate);
        return 2;
    }

    const QueueCosts costs = measureQueueCosts();
    Receiver qtSide;
    Receiver registrySide;
    TickerTable qtTable; // the keyed table the Qt way, on the window's thread
    Receiver uiSide([&qtTable](const Sample &sample) { qtTable.take(sample); });
    // The inspector panel shows every handler's calls and run times: timed from the first add.
    rio::Diagnostics::setEnabled(true);
    Flood flood(&qtSide, &registrySide, &uiSide);
    flood.registry.setObjectName(QStringLiteral("flood"));
    rio::QmlRegistry stats; // what the window shows, ten snapshots a second
    stats.setName(QStringLiteral("stats"));

    QQmlApplicationEngine engine;
    // The exporter handler throws on purpose (its simulated sink goes offline every 3 s): the
    // window shows those failures and the summary line counts them, so they are not printed as
    // errors. Every other QML warning reaches the console as usual.
    engine.setOutputWarningsToStandardError(false);
    QObject::connect(&engine, &QQmlEngine::warnings, &app, [](const QList<QQmlError> &warnings) {
        for (const QQmlError &warning : warnings)
            if (!warning.description().contains(QLatin1String("export sink offline")))
                std::fprintf(stderr, "%s\n", qPrintable(warning.toString()));
    });
    if (QDir(QStringLiteral(RIO_QML_IMPORT_PATH)).exists())
        engine.addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH)); // the build tree's module
    engine.setInitialProperties({
        {QStringLiteral("stats"), QVariant::fromValue(&stats)},
        {QStringLiteral("floodRate"), rate},
        {QStringLiteral("floodUi"), parser.isSet(uiOption)},
        {QStringLiteral("maxRate"), Flood::kMaxRate},
        {QStringLiteral("qtCap"), qint64(Flood::kQtCap)},
        {QStringLiteral("qtTable"), QVariant::fromValue(static_cast<QObject *>(&qtTable))},
        {QStringLiteral("updateCostUs"), int(Receiver::kUpdateCost.count())},
        {QStringLiteral("width"), width},
        {QStringLiteral("height"), height},
    });
    engine.load(QUrl(QStringLiteral("qrc:/dashboard/Main.qml")));
    if (engine.rootObjects().isEmpty())
        return 1;
    auto *window = qobject_cast<QQuickWindow *>(engine.rootObjects().constFirst());
    if (window == nullptr)
        return 1;

    // The same flood through a LatestModel (declared in Main.qml, so it changes once per frame of
    // the window), its rows in key order as the Qt table's; and the steady worker's newest event
    // as the `latest` of a QmlRegistry, both fed on the workers' threads.
    auto *board = window->property("board").value<rio::LatestModel *>();
    auto *newest = window->property("newest").value<rio::QmlRegistry *>();
    if (board == nullptr || newest == nullptr)
        return 1;
    board->follow(flood.registry, tickerOf);
    for (int key = 0; key < kTickers; ++key)
        board->write(key, QVariant::fromValue(Sample{key % Receiver::kWorkers, 0, 0}));
    flood.registry.add([sender = newest->sender()](const Sample &sample) {
        if (sample.worker == 0)
            sender.notify(sample.seq);
    });
    qint64 newestChanges = 0;
    QObject::connect(newest, &rio::QmlRegistry::latestChanged, &app, [&newestChanges] { ++newestChanges; });

    const qint64 loadedRss = residentBytes();
    std::atomic<qint64> frames{0};
    QObject::connect(
        window, &QQuickWindow::frameSwapped, window, [&frames] { ++frames; }, Qt::DirectConnection);

    // Ten snapshots a second, notified on this thread: the QML handlers run now, in priority order.
    Monitor monitor(flood, qtSide, registrySide, uiSide, costs, qtTable, *board);
    int notified = 0;
    auto snapshot = [&] {
        flood.setRate(window->property("floodRate").toInt());
        flood.setUiFlood(window->property("floodUi").toBool());
        QVariantMap s = monitor.snapshot(frames.load());
        // Every 3 s the (simulated) export sink is down: the exporter's handler throws.
        const qint64 seq = s.value(QStringLiteral("seq")).toLongLong();
        if (seq % 30 == 5)
            s.insert(QStringLiteral("exportError"),
                     QStringLiteral("export sink offline (snapshot %1)").arg(seq));
        stats.notify(s);
        ++notified;
    };
    QTimer ticker;
    QObject::connect(&ticker, &QTimer::timeout, &app, snapshot);
    ticker.start(100);
    flood.setRate(rate);
    flood.start();

    // One labelled line for the deliberate failures: how often the exporter threw, and whether
    // every handler after it still ran for every snapshot.
    auto printIsolation = [&] {
        const int failures = window->property("exportFailures").toInt();
        const bool siblingsRan = window->property("panelUpdates").toInt() == notified &&
                                 window->property("snapshotsShown").toInt() == notified;
        std::printf("isolation (deliberate): the exporter handler threw %d times, as its simulated sink went "
                    "offline every 3 s; the handlers after it ran for all %d snapshots: %s\n",
                    failures, notified, siblingsRan ? "yes" : "no");
    };

    if (seconds == 0) {
        const int status = app.exec();
        flood.stop();
        printIsolation();
        return status;
    }

    // The window's frames/s in each half of the run: the first as started (the table fed through
    // the LatestModel; with --ui-flood, through the Qt signal too), from a fifth of the run on (the
    // first frames build the delegates), the second with the Qt signals to the window's thread on. Offscreen,
    // a frame is one the software renderer drew into memory; no display's vertical sync paces it: the
    // header's animation asks for the next frame each time and Qt grants it 5 ms later
    // (QPlatformWindow::requestUpdate), so an idle GUI thread draws some 150-200 frames/s, and fewer means
    // the GUI thread had other work.
    struct Half
    {
        bool qtSignals = false;
        qint64 frames = 0;
        std::chrono::steady_clock::time_point at;
        double fps = 0;
    };
    std::array<Half, 2> halves{};
    QTimer::singleShot(seconds * 200, &app, [&] {
        halves[0] = {parser.isSet(uiOption), frames.load(), std::chrono::steady_clock::now()};
    });
    auto endHalf = [&](Half &half) {
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - half.at).count();
        half.fps = double(frames.load() - half.frames) / std::max(1e-3, s);
    };
    QTimer::singleShot(seconds * 500, &app, [&] {
        endHalf(halves[0]);
        window->setProperty("floodUi", true);
        flood.setUiFlood(true);
        halves[1] = {true, frames.load(), std::chrono::steady_clock::now()};
    });

    int status = 1;
    bool shotOk = true;
    bool ended = false; // finish() or fail() ran: the run reached its end
    const auto started = std::chrono::steady_clock::now();
    if (const int closeAt = qEnvironmentVariableIntValue("RIO_DASHBOARD_CLOSE_AT_MS"); closeAt > 0)
        QTimer::singleShot(closeAt, window, &QWindow::close);
    auto fail = [&](const char *what) {
        ended = true;
        std::printf("rio_qml_dashboard: FAILED: %s\n", what);
        std::fflush(stdout);
        app.exit(1);
    };
    auto finish = [&] {
        ended = true;
        ticker.stop();
        snapshot(); // the final state, on screen
        const qint64 qtEmitted = flood.qtEmitted.load(), skipped = flood.qtSkipped.load();
        const qint64 published = flood.published[0].load() + flood.published[1].load();
        const bool qtComplete =
            qtSide.handled.load() == qtEmitted && qtEmitted + skipped == published && qtSide.inOrder.load();
        const bool registryLatest = registrySide.shownSeq[0].load() == flood.published[0].load() &&
                                    registrySide.handled.load() <= published && registrySide.inOrder.load();
        std::printf("rio_qml_dashboard: %d workers published %lld events in %d s\n", Receiver::kWorkers,
                    static_cast<long long>(published), seconds);
        std::printf("Qt queued signal: %lld emitted (%lld skipped at the cap), every one delivered in "
                    "order: %s\n",
                    static_cast<long long>(qtEmitted), static_cast<long long>(skipped),
                    qtComplete ? "yes" : "no");
        std::printf("registry, Delivery::Latest: %lld updates, the last event delivered, in order: %s\n",
                    static_cast<long long>(registrySide.handled.load()), registryLatest ? "yes" : "no");
        const bool uiComplete = uiSide.handled.load() == flood.uiEmitted.load() && uiSide.inOrder.load();
        std::printf("Qt queued signal to the window's thread: %lld emitted (%lld skipped at the cap), every "
                    "one delivered in order: %s\n",
                    static_cast<long long>(flood.uiEmitted.load()),
                    static_cast<long long>(flood.uiSkipped.load()), uiComplete ? "yes" : "no");
        std::printf("held per pending delivery: Qt queued signal %lld B each, coalesced %lld B in all\n",
                    static_cast<long long>(costs.perQueuedSignal),
                    static_cast<long long>(costs.perPendingLatest));
        std::printf("resident memory: %.0f MB once loaded, %.0f MB after %d s\n", double(loadedRss) / 1e6,
                    double(residentBytes()) / 1e6, seconds);
        for (const Half &half : halves)
            std::printf("window frames/s with the table fed through a LatestModel%s: %.1f (%s)\n",
                        half.qtSignals ? " and a Qt queued signal per update" : " only", half.fps,
                        offscreen
                            ? "offscreen: frames drawn into memory, no display's vsync; idle, some 150-200"
                            : "frames the window swapped");
        // What the two tables and `latest` show once the flood stopped and the window drained.
        const TableState latestTable = tableState(*board, flood), qtShown = tableState(qtTable, flood);
        const bool latestTableOk = latestTable.rows == kTickers && latestTable.current == kTickers;
        std::printf("LatestModel: %lld rows (one per key, whatever the rate), each showing its key's last "
                    "value: %s\n",
                    static_cast<long long>(latestTable.rows), latestTableOk ? "yes" : "no");
        std::printf(
            "Qt queued signal per update to a list model: %lld of %lld rows show their key's last value "
            "(updates emitted while the switch was on and under the cap of %lld queued)\n",
            static_cast<long long>(qtShown.current), static_cast<long long>(qtShown.rows),
            static_cast<long long>(Flood::kUiCap));
        const bool newestOk = newest->latest().toLongLong() == flood.published[0].load();
        std::printf("latest: shows the steady worker's last event: %s; changed %lld times in %lld frames\n",
                    newestOk ? "yes" : "no", static_cast<long long>(newestChanges),
                    static_cast<long long>(frames.load()));
        const int shown = window->property("snapshotsShown").toInt();
        // Every handler after the exporter ran for every snapshot, the ones it threw on included.
        const bool pipelineOk = window->property("orderOk").toBool() && shown == notified &&
                                window->property("panelUpdates").toInt() == notified &&
                                window->property("exportFailures").toInt() >= 1;
        std::printf("window: %d snapshots in priority order 10, 7, 5, 1 (%s): %s; exporter failures: %d, "
                    "its sibling updated %d times\n",
                    shown, qPrintable(window->property("trace").toStringList().join(QStringLiteral(", "))),
                    window->property("orderOk").toBool() ? "yes" : "no",
                    window->property("exportFailures").toInt(), window->property("panelUpdates").toInt());
        printIsolation();
        // The inspector shows the deliberately throwing exporter with its failures.
        const bool inspectorOk = inspectorListsFailing(window, QStringLiteral("stats"));
        for (int i = 0; i < 30; ++i) // a run of hours, compressed
            stats.notify(longRunSnapshot(9876543210LL + i, i % 5 == 0));
        const bool bounded = window->property("failuresListed").toInt() <= 3;
        std::printf("failure list bounded: %s\n", bounded ? "yes" : "no");
        const bool geometryOk = checkGeometry(window, &engine);
        if (!shot.isEmpty()) { // what hours of running look like, at the smallest size
            const QString base = shot.endsWith(QStringLiteral(".png")) ? shot.chopped(4) : shot;
            window->grabWindow().save(base + QStringLiteral("-long-run.png"));
        }
        status = qtComplete && registryLatest && uiComplete && latestTableOk && newestOk && pipelineOk &&
                         inspectorOk && bounded && geometryOk && shotOk
                     ? 0
                     : 1;
        std::printf("rio_qml_dashboard: %s\n", status == 0 ? "ok" : "FAILED");
        std::fflush(stdout);
        app.exit(status);
    };
    QTimer::singleShot(std::chrono::seconds(seconds), &app, [&] {
        if (!shot.isEmpty()) {
            const QImage image = window->grabWindow();
            int colours = 0;
            double spread = 0;
            const bool drawn = looksDrawn(image, &colours, &spread);
            shotOk = drawn && image.save(shot);
            std::printf("screenshot %s: %dx%d, %d colours, grey spread %.1f: %s\n", qPrintable(shot),
                        image.width(), image.height(), colours, spread,
                        !drawn   ? "BLANK"
                        : shotOk ? "not blank"
                                 : "not blank, but the file could not be written");
        }
        endHalf(halves[1]);
        flood.stop();
        // One last event, from this thread: both receivers must get it.
        const qint64 last = flood.published[0].load() + 1;
        flood.publish({0, last, nowNs()});
        flood.published[0].store(last);
        whenTrue(
            &app,
            [&] {
                return qtSide.handled.load() == flood.qtEmitted.load() &&
                       uiSide.handled.load() == flood.uiEmitted.load() &&
                       registrySide.shownSeq[0].load() == flood.published[0].load() &&
                       tableState(*board, flood).current == kTickers &&
                       newest->latest().toLongLong() == flood.published[0].load();
            },
            [&](bool drained) { drained ? finish() : fail("the receivers did not drain in 20 s"); });
    });
    app.exec();
    flood.stop();
    if (!ended) {
        // The window was closed first (the last window closed quits): the user ended the demo.
        const double ran = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        std::printf("rio_qml_dashboard: the window was closed after %.1f s of %d: the run ended early, so "
                    "the end-of-run checks (every delivery drained, the tables, the layout) did not run\n",
                    ran, seconds);
        std::printf(
            "so far: %d workers published %lld events; Qt queued signal %lld emitted, %lld handled; "
            "registry, Delivery::Latest: %lld updates; %lld window frames\n",
            Receiver::kWorkers, static_cast<long long>(flood.published[0].load() + flood.published[1].load()),
            static_cast<long long>(flood.qtEmitted.load()), static_cast<long long>(qtSide.handled.load()),
            static_cast<long long>(registrySide.handled.load()), static_cast<long long>(frames.load()));
        printIsolation();
        std::printf("rio_qml_dashboard: ended early by closing the window\n");
        return 0;
    }
    return status;
}
