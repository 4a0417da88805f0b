// Uses RegistryIO::Qml: the installed QML module loads from the package's QML import path.
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
    component.setData("import QtQml\nimport RegistryIO\nQtObject {}\n", QUrl());
    std::unique_ptr<QObject> object(component.create());
    if (!object) {
        std::printf("consumer_qml: %s\n", qPrintable(component.errorString()));
        return 1;
    }
    std::printf("consumer_qml: import RegistryIO ok\n");
    return 0;
}
