// SPDX-License-Identifier: MIT
// Loads Tour.qml (the snippets of docs/QML.md), runs it, then notifies its registry from a
// C++ worker thread through QmlRegistry::sender(), and checks the log.
#include <registryio/qml/qml_registry.h>

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QQmlComponent>
#include <QQmlEngine>
#include <QStringList>

#include <cstdio>
#include <memory>
#include <thread>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QQmlEngine engine;
    engine.addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH));
    QQmlComponent component(&engine, QUrl::fromLocalFile(QStringLiteral(RIO_TOUR_QML)));
    std::unique_ptr<QObject> root(component.create());
    if (!root) {
        std::printf("api-tour-qml: %s\n", qPrintable(component.errorString()));
        return 1;
    }
    QMetaObject::invokeMethod(root.get(), "run");

    //! [sender]
    auto *registry = root->property("registry").value<rio::QmlRegistry *>();
    rio::QmlRegistrySender sender = registry->sender(); // copyable; safe to outlive the registry
    std::thread worker([sender] { sender.notify(QVariantMap{{"n", 4}}); });
    worker.join(); // the QML handlers run on the engine's thread, from its event loop
    //! [sender]

    auto log = [&] { return root->property("log").toStringList(); };
    auto shown = [&] { return root->property("shown").toString(); };
    QDeadlineTimer deadline(5000);
    const auto done = [&] {
        const QStringList l = log();
        return l.contains(QStringLiteral("declarative 4")) &&
               l.contains(QStringLiteral("failed: Error: bad handler")) &&
               shown() == QLatin1String("latest 4");
    };
    while (!done() && !deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);

    const QString joined = log().join(QStringLiteral(" | ")) + QStringLiteral(" | ") + shown();
    std::printf("log: %s\n", qPrintable(joined));
    const QString expected =
        QStringLiteral("function 1 | declarative 1 | js 1 | once | function 2 | declarative 2 | js 2 | "
                       "active false, priority 5 | function 3 | declarative 3 | refused true, count 3 | "
                       "failed: Error: bad handler | function 4 | declarative 4 | latest 4");
    std::printf("api-tour-qml: %s\n", joined == expected ? "ok" : "FAILED");
    return joined == expected ? 0 : 1;
}
