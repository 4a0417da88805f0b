// SPDX-License-Identifier: MIT
// Uses RegistryIO::Qml: the installed QML module loads from the package's QML import path, and
// its types work (a QmlRegistry notifies a declarative RegistryHandler).
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
    Component.onCompleted: { registry.notify(5); registry.notify(7) }
}
)",
                      QUrl());
    std::unique_ptr<QObject> object(component.create());
    if (!object) {
        std::printf("consumer_qml: %s\n", qPrintable(component.errorString()));
        return 1;
    }
    QDeadlineTimer deadline(5000);
    while (object->property("total").toInt() != 12 && !deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    const int total = object->property("total").toInt();
    std::printf("consumer_qml: import RegistryIO ok, total=%d\n", total);
    return total == 12 ? 0 : 1;
}
