// SPDX-License-Identifier: MIT
// Typed events in QML: C++ notifies a QuoteRegistry (RIO_QML_TYPED_REGISTRY in quote.h) from
// the engine thread and from a worker thread; Main.qml's handlers read event.price as a double.
#include "quote.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QQmlComponent>
#include <QQmlEngine>

#include <cstdio>
#include <memory>
#include <thread>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QQmlEngine engine;
    engine.addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH)); // RegistryIO and TypedQuotes
    QuoteRegistry quotes;
    QQmlComponent component(&engine, QUrl(QStringLiteral("qrc:/TypedQuotes/Main.qml")));
    std::unique_ptr<QObject> root;
    if (component.isReady())
        root.reset(component.createWithInitialProperties(
            {{QStringLiteral("quotes"), QVariant::fromValue(&quotes)}}));
    if (!root) {
        std::printf("qml-typed-events: %s\n", qPrintable(component.errorString()));
        return 1;
    }
    quotes.notify(Quote{QStringLiteral("ACME"), 14.25});                                   // engine thread
    std::thread([&quotes] { quotes.notify(Quote{QStringLiteral("ACME"), 15.0}); }).join(); // queued
    const QString expected = QStringLiteral("ACME 12.5 (cheap); ACME 14.25; ACME 15; ");
    QDeadlineTimer deadline(5000);
    while (root->property("log").toString() != expected && !deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    const QString log = root->property("log").toString();
    const double total = root->property("total").toDouble();
    const bool ok = log == expected && total == 41.75;
    std::printf("log: %s\ntotal: %g\nqml-typed-events: %s\n", qPrintable(log), total, ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
