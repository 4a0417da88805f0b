// SPDX-License-Identifier: MIT
// Loads README.md's QML quick start (Main.qml, shown there verbatim: tst_doc_snippets checks it)
// and prints what its handlers logged.
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
    engine.addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH)); // where the RegistryIO module is
    QQmlComponent component(&engine, QUrl::fromLocalFile(QStringLiteral(RIO_QUICKSTART_QML)));
    std::unique_ptr<QObject> root(component.create());
    if (!root) {
        std::printf("quickstart-qml: %s\n", qPrintable(component.errorString()));
        return 1;
    }
    const QString expected = QStringLiteral("audit 42; mail 9.99; audit 43; ");
    QDeadlineTimer deadline(5000);
    while (root->property("log").toString() != expected && !deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    const QString log = root->property("log").toString();
    std::printf("log: %s\nquickstart-qml: %s\n", qPrintable(log), log == expected ? "ok" : "FAILED");
    return log == expected ? 0 : 1;
}
