// A Qt Quick dashboard: two C++ worker threads publish metrics through QmlRegistry objects, and
// QML panels subscribe with different priorities and coalescing (see Main.qml).
//   rio_qml_dashboard               a window, until it is closed
//   rio_qml_dashboard --seconds N   runs N seconds, prints what the panels received, exits
//                                   (with QT_QPA_PLATFORM=offscreen: no display needed)

#include <registryio/qml_registry.h>

#include <QCommandLineParser>
#include <QDir>
#include <QGuiApplication>
#include <QQmlApplicationEngine>
#include <QQuickWindow>
#include <QTimer>
#include <QVariantMap>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <stop_token>
#include <thread>
#include <vector>

namespace {

// One worker: publishes {seq, value} in bursts of ten, about once a millisecond, until stopped.
struct Publisher
{
    rio::QmlRegistrySender sender;
    double (*sample)(int seq);
    int published = 0; // read after join()

    void run(std::stop_token stop)
    {
        for (int seq = 1; !stop.stop_requested();) {
            for (const int end = seq + 10; seq < end; ++seq)
                sender.notify(
                    QVariantMap{{QStringLiteral("seq"), seq}, {QStringLiteral("value"), sample(seq)}});
            published = seq - 1;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
};

double cpuSample(int seq)
{
    return 50.0 + 45.0 * std::sin(seq / 400.0) + 4.0 * std::sin(seq * 1.7);
}

double networkSample(int seq)
{
    return 100.0 * std::fabs(std::sin(seq / 900.0));
}

int property(QObject *root, const char *name)
{
    return root->property(name).toInt();
}

} // namespace

int main(int argc, char *argv[])
{
    // Qt Quick's software renderer needs no GPU: the headless run works on any machine.
    if (qgetenv("QT_QPA_PLATFORM") == "offscreen")
        QQuickWindow::setGraphicsApi(QSGRendererInterface::Software);
    QGuiApplication app(argc, argv);

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("RegistryIO QML dashboard"));
    parser.addHelpOption();
    const QCommandLineOption secondsOption(QStringLiteral("seconds"),
                                           QStringLiteral("Run N seconds, print a summary, exit."),
                                           QStringLiteral("N"));
    parser.addOption(secondsOption);
    parser.process(app);
    bool ok = true;
    const int seconds = parser.isSet(secondsOption) ? parser.value(secondsOption).toInt(&ok) : 0;
    if (!ok || seconds < 0) {
        std::fprintf(stderr, "rio_qml_dashboard: --seconds needs a positive number\n");
        return 2;
    }

    rio::QmlRegistry cpu;
    rio::QmlRegistry network;

    QQmlApplicationEngine engine;
    if (QDir(QStringLiteral(RIO_QML_IMPORT_PATH)).exists())
        engine.addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH)); // the build tree's module
    engine.setInitialProperties({{QStringLiteral("cpu"), QVariant::fromValue(&cpu)},
                                 {QStringLiteral("network"), QVariant::fromValue(&network)}});
    engine.load(QUrl(QStringLiteral("qrc:/dashboard/Main.qml")));
    if (engine.rootObjects().isEmpty())
        return 1;
    QObject *root = engine.rootObjects().constFirst();

    std::vector<Publisher> publishers{{cpu.sender(), &cpuSample}, {network.sender(), &networkSample}};
    std::vector<std::jthread> workers;
    for (Publisher &p : publishers)
        workers.emplace_back([&p](std::stop_token stop) { p.run(stop); });
    auto stopWorkers = [&workers] {
        for (std::jthread &w : workers)
            w.request_stop();
        workers.clear(); // joins
    };

    if (seconds == 0) {
        const int status = app.exec();
        stopWorkers();
        return status;
    }

    int status = 1;
    QTimer::singleShot(std::chrono::seconds(seconds), &app, [&] {
        stopWorkers();
        // Queued behind every delivery the workers posted: runs once the panels have them all.
        QMetaObject::invokeMethod(
            &app,
            [&] {
                const int cpuSent = publishers[0].published;
                const int netSent = publishers[1].published;
                const bool logComplete = property(root, "logCpu") == cpuSent &&
                                         property(root, "logNetwork") == netSent &&
                                         root->property("inOrder").toBool();
                const bool gaugesLatest = property(root, "gaugeCpuSeq") == cpuSent &&
                                          property(root, "gaugeNetworkSeq") == netSent &&
                                          property(root, "gaugeCpuUpdates") <= cpuSent &&
                                          property(root, "gaugeNetworkUpdates") <= netSent;
                const bool alertsOrdered = root->property("alertsAfterLog").toBool();
                std::printf(
                    "rio_qml_dashboard: 2 worker threads published cpu=%d network=%d events in %d s\n",
                    cpuSent, netSent, seconds);
                std::printf("log (priority 10, every event): cpu=%d network=%d, in order: %s\n",
                            property(root, "logCpu"), property(root, "logNetwork"),
                            root->property("inOrder").toBool() ? "yes" : "no");
                std::printf("gauges (priority 5, coalesced): cpu=%d updates (last seq %d), network=%d "
                            "updates (last seq %d)\n",
                            property(root, "gaugeCpuUpdates"), property(root, "gaugeCpuSeq"),
                            property(root, "gaugeNetworkUpdates"), property(root, "gaugeNetworkSeq"));
                std::printf("alerts (priority 1, added from JavaScript): %d cpu samples over 90%%, after "
                            "the log every time: %s\n",
                            property(root, "alerts"), alertsOrdered ? "yes" : "no");
                status = logComplete && gaugesLatest && alertsOrdered ? 0 : 1;
                std::printf("rio_qml_dashboard: %s\n", status == 0 ? "ok" : "FAILED");
                std::fflush(stdout);
                app.exit(status);
            },
            Qt::QueuedConnection);
    });
    app.exec();
    return status;
}
