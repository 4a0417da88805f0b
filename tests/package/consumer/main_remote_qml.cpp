// SPDX-License-Identifier: MIT
// Uses RegistryIO::RemoteQml: the installed QML module RegistryIO.Remote loads from the package's
// QML import path, and a RemoteRegistry with no source yet reports itself not connected while its
// local handlers work.
#include <QCoreApplication>
#include <QQmlComponent>
#include <QQmlEngine>

#include <cstdio>
#include <memory>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QQmlEngine engine;
    engine.addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH));
    QQmlComponent component(&engine);
    component.setData(R"(
import QtQml
import RegistryIO
import RegistryIO.Remote
QtObject {
    id: root
    property int total: 0
    property RemoteRegistry registry: RemoteRegistry {
        url: "local:rio-package-consumer-no-source"
        name: "orders"
    }
    property RegistryHandler handler: RegistryHandler {
        registry: root.registry
        handler: (event) => root.total += event
    }
    Component.onCompleted: registry.notify(5)
}
)",
                      QUrl());
    std::unique_ptr<QObject> object(component.create());
    if (!object) {
        std::printf("consumer_remote_qml: %s\n", qPrintable(component.errorString()));
        return 1;
    }
    auto *registry = object->property("registry").value<QObject *>();
    const bool connected = registry && registry->property("connected").toBool();
    const int total = object->property("total").toInt();
    std::printf("consumer_remote_qml: import RegistryIO.Remote ok, connected=%d total=%d\n", int(connected),
                total);
    return !connected && total == 5 ? 0 : 1;
}
