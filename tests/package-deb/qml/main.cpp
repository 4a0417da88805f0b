// SPDX-License-Identifier: MIT
// Loads Main.qml, which imports RegistryIO from the installed QML module, then notifies its
// registry from a C++ worker thread through a QmlRegistry::sender(): the QML handler adds it up
// on the engine's thread.
#include <registryio/qml/qml_registry.h>
#include <registryio/qml/qml_registry_sender.h>

#include <QDeadlineTimer>
#include <QGuiApplication>
#include <QQmlApplicationEngine>
#include <QThread>
#include <QVariantMap>

#include <cstdio>
#include <memory>

int main(int argc, char *argv[])
{
    QGuiApplication app(argc, argv);
    QQmlApplicationEngine engine;
    engine.load(QUrl::fromLocalFile(QStringLiteral(RIO_MAIN_QML)));
    if (engine.rootObjects().isEmpty()) {
        std::printf("consumer_qml: Main.qml did not load\n");
        return 1;
    }
    QObject *root = engine.rootObjects().constFirst();
    auto *orders = root->property("orders").value<rio::QmlRegistry *>();
    if (!orders) {
        std::printf("consumer_qml: no QmlRegistry\n");
        return 1;
    }
    std::unique_ptr<QThread> worker(QThread::create(
        [sender = orders->sender()] { sender.notify(QVariantMap{{QStringLiteral("amount"), 37}}); }));
    worker->start();
    worker->wait();
    QDeadlineTimer deadline(30000);
    while (root->property("total").toInt() != 42 && !deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    const int total = root->property("total").toInt();
    std::printf("consumer_qml: platform=%s import RegistryIO ok, total=%d\n",
                qPrintable(QGuiApplication::platformName()), total);
    return total == 42 ? 0 : 1;
}
