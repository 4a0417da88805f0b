// SPDX-License-Identifier: MIT
// Main.qml's three newest values, fed by worker threads: a registry's `latest`, a
// rio::LatestValue bound in QML, and a LatestModel declared in QML written through its writer.
// Prints what the window shows once every worker is done; the window then closes cleanly.
#include <registryio/qml/latest_model.h>
#include <registryio/qml/qml_registry.h>
#include <registryio/qt/latest_value.h>

#include <QDeadlineTimer>
#include <QGuiApplication>
#include <QQmlComponent>
#include <QQmlEngine>

#include <cstdio>
#include <map>
#include <memory>
#include <thread>
#include <vector>

// A sensor's reading: a gadget (its properties are the model's roles), small and trivially
// copyable (the model keeps it as its bytes; an int key's write takes no lock).
struct Level
{
    Q_GADGET
    Q_PROPERTY(int sensor MEMBER sensor FINAL)
    Q_PROPERTY(double level MEMBER level FINAL)

public:
    int sensor = 0;
    double level = 0;
};

int main(int argc, char *argv[])
{
    QGuiApplication app(argc, argv);
    QQmlEngine engine;
    engine.addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH)); // where the RegistryIO module is
    QQmlComponent component(&engine, QUrl::fromLocalFile(QStringLiteral(RIO_LATEST_QML)));
    // [value]
    auto *progress = new rio::LatestValue<int>; // the window's child: it goes with the window
    std::unique_ptr<QObject> window(
        component.createWithInitialProperties({{QStringLiteral("progress"), QVariant::fromValue(progress)}}));
    progress->setParent(window.get());
    // [value]
    if (!window) {
        delete progress;
        std::printf("latest-in-qml: %s\n", qPrintable(component.errorString()));
        return 1;
    }
    auto *ticks = window->property("ticks").value<rio::QmlRegistry *>();
    auto *levels = window->property("levels").value<rio::LatestModel *>();
    constexpr int kLast = 100'000;
    std::thread ticker([ticks] {
        for (int i = 1; i <= kLast; ++i)
            ticks->registry().notify(QVariant(i));
    });
    std::thread setter([progress] {
        for (int i = 1; i <= kLast; ++i)
            progress->set(i);
    });
    std::vector<std::thread> workers;
    // [writer]
    const rio::LatestModelWriter<Level> writer = levels->writer<Level>(); // on the model's thread
    for (int sensor = 0; sensor < 3; ++sensor) {
        workers.emplace_back([writer, sensor] { // copies write the same rows
            for (int i = 1; i <= kLast; ++i)
                writer.write(sensor, Level{sensor, double(i)});
        });
    }
    // [writer]
    for (std::thread &worker : workers)
        worker.join();
    ticker.join();
    setter.join();
    const auto shown = [&] {
        std::map<int, double> bySensor; // rows come in the order the writers first reached the model
        for (int row = 0; row < levels->rowCount(); ++row) {
            const Level l = levels->data(levels->index(row), rio::LatestModel::ValueRole).value<Level>();
            bySensor[l.sensor] = l.level;
        }
        QString rows;
        for (const auto &[sensor, level] : bySensor)
            rows += QStringLiteral("%1 %2; ").arg(sensor).arg(level);
        return QStringLiteral("tick %1, progress %2, levels %3")
            .arg(ticks->latest().toInt())
            .arg(progress->get())
            .arg(rows);
    };
    const QString wanted = QStringLiteral("tick %1, progress %1, levels 0 %1; 1 %1; 2 %1; ").arg(kLast);
    QDeadlineTimer deadline(10000);
    while (shown() != wanted && !deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    QStringList roles;
    for (const QByteArray &name : levels->roleNames())
        roles << QString::fromUtf8(name);
    roles.sort();
    std::printf("shown: %s\nroles: %s\n", qPrintable(shown()), qPrintable(roles.join(QLatin1Char(' '))));
    const bool ok = shown() == wanted;
    window.reset(); // with the LatestValue
    std::printf("latest-in-qml: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}

#include "main.moc"
