// SPDX-License-Identifier: MIT
// The Remote quick start's UI: loads Main.qml (README.md shows it), which subscribes to the
// daemon's "orders", prints three and quits. Its argument, if any, is the daemon's URL.
#include <QCoreApplication>
#include <QQmlComponent>
#include <QQmlEngine>
#include <QTimer>
#include <QUrl>

#include <cstdio>
#include <memory>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QQmlEngine engine;
    engine.addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH)); // RegistryIO and RegistryIO.Remote
    QObject::connect(&engine, &QQmlEngine::quit, &app, &QCoreApplication::quit, Qt::QueuedConnection);
    QQmlComponent component(&engine, QUrl::fromLocalFile(QStringLiteral(RIO_QUICKSTART_REMOTE_QML)));
    QVariantMap properties;
    if (argc > 1)
        properties.insert(QStringLiteral("source"), QUrl(QString::fromLocal8Bit(argv[1])));
    std::unique_ptr<QObject> root(component.createWithInitialProperties(properties));
    if (!root) {
        std::fprintf(stderr, "ui: %s\n", qPrintable(component.errorString()));
        return 1;
    }
    QTimer::singleShot(30000, &app, [] {
        std::fprintf(stderr, "ui: no three orders within 30 s (is the daemon running?)\n");
        QCoreApplication::exit(1);
    });
    const int rc = app.exec();
    std::printf("ui: %d orders received\n", root->property("received").toInt());
    return rc;
}
