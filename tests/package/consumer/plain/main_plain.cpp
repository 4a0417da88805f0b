// SPDX-License-Identifier: MIT
// A QML module that imports RegistryIO with no RegistryIO set-up but linking RegistryIO::Qml.
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
    QQmlComponent component(&engine, QUrl(QStringLiteral("qrc:/RioConsumerPlain/Plain.qml")));
    std::unique_ptr<QObject> root(component.isReady() ? component.create() : nullptr);
    if (!root) {
        std::printf("consumer_qml_plain: %s\n", qPrintable(component.errorString()));
        return 1;
    }
    std::printf("consumer_qml_plain: handlers=%d watching=%d\n", root->property("handlers").toInt(),
                root->property("watching").toBool() ? 1 : 0);
    return 0;
}
