// SPDX-License-Identifier: MIT
// The QML window of the producer daemon (producer.cpp): loads Main.qml, whose RemoteRegistry
// subscribes to the producer's "orders".
//   rio_example_remote_qml_window [--url local:rio-orders-qml]
//   rio_example_remote_qml_window --spawn-producer <path> --check
// --spawn-producer starts the producer on a name of its own; --check waits for 5 orders on the
// window, sends one back, waits for the producer to print it, then prints one line and exits.
#include <QGuiApplication>
#include <QProcess>
#include <QQmlApplicationEngine>
#include <QTimer>

#include <cstdio>

int main(int argc, char **argv)
{
    QGuiApplication app(argc, argv);
    const QStringList args = app.arguments();
    const auto option = [&](const char *name, const QString &fallback) {
        const int at = args.indexOf(QLatin1String(name));
        return at >= 0 && at + 1 < args.size() ? args.at(at + 1) : fallback;
    };
    QString url = option("--url", QStringLiteral("local:rio-orders-qml"));
    const QString producerPath = option("--spawn-producer", {});
    const bool check = args.contains(QStringLiteral("--check"));

    QProcess producer;
    bool producerSawIt = false;
    if (!producerPath.isEmpty()) {
        url = QStringLiteral("local:rio-orders-qml-%1").arg(QCoreApplication::applicationPid());
        QObject::connect(&producer, &QProcess::readyReadStandardOutput, &app, [&] {
            while (producer.canReadLine()) {
                if (producer.readLine().contains("order -1 "))
                    producerSawIt = true;
            }
        });
        producer.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        producer.start(producerPath, {QStringLiteral("--url"), url});
        if (!producer.waitForStarted() || !producer.waitForReadyRead(10000)) {
            std::fprintf(stderr, "window: the producer did not start\n");
            return 1;
        }
    }

    QQmlApplicationEngine engine;
    engine.addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH)); // RegistryIO and RegistryIO.Remote
    engine.setInitialProperties({{QStringLiteral("producerUrl"), QUrl(url)}});
    engine.load(QUrl::fromLocalFile(QStringLiteral(RIO_REMOTE_QML_MAIN)));
    if (engine.rootObjects().isEmpty())
        return 1;
    QObject *window = engine.rootObjects().constFirst();

    QTimer poll;
    bool sent = false;
    if (check) {
        QObject::connect(&poll, &QTimer::timeout, &app, [&] {
            const int shown = window->property("shown").toInt();
            if (shown >= 5 && !sent) {
                QMetaObject::invokeMethod(window, "sendRefund");
                sent = true;
            }
            if (sent && (producerSawIt || producerPath.isEmpty())) {
                std::printf(
                    "window: %s, %d orders shown, 1 sent back, the producer saw it: %s\n",
                    qPrintable(
                        window->findChild<QObject *>(QStringLiteral("status"))->property("text").toString()),
                    shown, producerSawIt ? "yes" : "unknown");
                app.exit(0);
            }
        });
        poll.start(50);
        QTimer::singleShot(30000, &app, [&] {
            std::printf("window: gave up after 30 s with %d orders\n", window->property("shown").toInt());
            app.exit(1);
        });
    }
    const int rc = app.exec();
    if (producer.state() != QProcess::NotRunning) {
        producer.terminate();
        if (!producer.waitForFinished(5000))
            producer.kill();
        producer.waitForFinished(5000);
    }
    return rc;
}
