// SPDX-License-Identifier: MIT
// Uses RegistryIO::Qml: the installed QML module loads from the package's QML import path, and
// its types work (a QmlRegistry notifies a declarative RegistryHandler), from QML and through the
// C++ API of <registryio/qml/...>.
#include <registryio/qml/qml_registry.h>

#include <QCoreApplication>
#include <QDeadlineTimer>
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
QtObject {
    id: root
    property int total: 0
    property QmlRegistry registry: QmlRegistry { }
    property RegistryHandler handler: RegistryHandler {
        registry: root.registry
        onNotified: (event) => root.total += event
    }
    Component.onCompleted: registry.notify(5)
}
)",
                      QUrl());
    std::unique_ptr<QObject> object(component.create());
    if (!object) {
        std::printf("consumer_qml: %s\n", qPrintable(component.errorString()));
        return 1;
    }
    // The registry QML created, notified from C++.
    auto *registry = object->property("registry").value<rio::QmlRegistry *>();
    if (!registry) {
        std::printf("consumer_qml: no QmlRegistry\n");
        return 1;
    }
    registry->notify(QVariant(7));
    QDeadlineTimer deadline(5000);
    while (object->property("total").toInt() != 12 && !deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    const int total = object->property("total").toInt();
    std::printf("consumer_qml: import RegistryIO ok, total=%d\n", total);
    return total == 12 ? 0 : 1;
}
