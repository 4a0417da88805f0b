// SPDX-License-Identifier: MIT
// The consumer's own QML module (RioConsumerApp): App.qml imports RegistryIO and uses a typed
// registry declared with RIO_QML_TYPED_REGISTRY in tick.h.
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
    QQmlComponent component(&engine, QUrl(QStringLiteral("qrc:/RioConsumerApp/App.qml")));
    std::unique_ptr<QObject> root(component.isReady() ? component.create() : nullptr);
    if (!root) {
        std::printf("consumer_qml_app: %s\n", qPrintable(component.errorString()));
        return 1;
    }
    std::printf("consumer_qml_app: total=%d ticks=%d\n", root->property("total").toInt(),
                root->property("ticks").toInt());
    return 0;
}
