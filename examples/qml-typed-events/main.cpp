// SPDX-License-Identifier: MIT
// Typed events in QML: C++ notifies a QuoteRegistry (RIO_QML_TYPED_REGISTRY in quote.h) from
// the engine thread and from a worker thread; Main.qml's handlers read event.price as a double.
// Then four workers flood a second registry, whose newest quote per symbol a LatestModel in
// Main.qml and one in C++ keep (one row per symbol, whatever the rate), and four more feed a
// third LatestModel through its writer, without a registry.
#include "quote.h"

#include <registryio/qml/latest_model.h>

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QQmlComponent>
#include <QQmlEngine>

#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

namespace {
// A sensor's reading: small and trivially copyable, so a LatestModel keeps it as its bytes and an
// int key's write takes no lock.
struct Level
{
    int sensor = 0;
    double value = 0;
};
} // namespace

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

    //! [follow]
    auto *feed = root->property("feed").value<QuoteRegistry *>();      // Main.qml's registry
    auto *board = root->property("board").value<rio::LatestModel *>(); // and its LatestModel
    rio::LatestModel cppBoard; // the C++ form: a key function on the facade's events
    cppBoard.follow(feed->registry(), [](const Quote &quote) { return quote.symbol; });
    std::vector<std::thread> workers;
    for (const char *symbol : {"ACME", "BOLT", "CRUX", "DYNE"}) {
        workers.emplace_back([sender = feed->sender(), symbol] {
            for (int i = 1; i <= 10000; ++i) // merged per symbol: one row update per frame
                sender.notify(Quote{QString::fromLatin1(symbol), double(i)});
        });
    }
    //! [follow]
    //! [writer]
    rio::LatestModel levels; // fed by workers without a registry, its writer taken on its thread
    const rio::LatestModelWriter<Level> writer = levels.writer<Level>();
    for (int sensor = 0; sensor < 4; ++sensor) {
        workers.emplace_back([writer, sensor] { // copies write the same rows
            for (int i = 1; i <= 10000; ++i)    // merged per key: one row update per frame
                writer.write(sensor, Level{sensor, double(i)});
        });
    }
    //! [writer]
    for (std::thread &worker : workers)
        worker.join();
    const auto rows = [](const rio::LatestModel &model) {
        QString shown;
        for (int row = 0; row < model.rowCount(); ++row) {
            const auto quote = model.data(model.index(row), rio::LatestModel::ValueRole).value<Quote>();
            shown += quote.symbol + QLatin1Char(' ') + QString::number(quote.price) + QStringLiteral("; ");
        }
        return shown;
    };
    const QString wanted = QStringLiteral("ACME 10000; BOLT 10000; CRUX 10000; DYNE 10000; ");
    const auto sorted = [&rows](const rio::LatestModel &model) { // rows come in first-write order
        QStringList parts = rows(model).split(QStringLiteral("; "), Qt::SkipEmptyParts);
        parts.sort();
        return parts.join(QStringLiteral("; ")) + QStringLiteral("; ");
    };
    const auto levelsShown = [&levels] {
        QString shown;
        for (int sensor = 0; sensor < 4; ++sensor)
            shown += QStringLiteral("%1 %2; ").arg(sensor).arg(levels.valueOf(sensor).value<Level>().value);
        return shown;
    };
    const QString wantedLevels = QStringLiteral("0 10000; 1 10000; 2 10000; 3 10000; ");
    deadline = QDeadlineTimer(10000);
    while ((sorted(*board) != wanted || sorted(cppBoard) != wanted || levelsShown() != wantedLevels) &&
           !deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    const bool ok = log == expected && total == 41.75 && sorted(*board) == wanted &&
                    sorted(cppBoard) == wanted && levelsShown() == wantedLevels && levels.rowCount() == 4;
    std::printf("log: %s\ntotal: %g\nboard: %s\nlevels: %s\nqml-typed-events: %s\n", qPrintable(log), total,
                qPrintable(sorted(*board)), qPrintable(levelsShown()), ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
