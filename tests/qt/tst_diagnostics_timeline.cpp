// SPDX-License-Identifier: MIT
// The frame timeline and its export as Chrome's trace-event JSON: nothing is recorded while
// diagnostics are off; a handler that stalls once in 200 runs on the GUI thread, among trivial
// ones and a queued delivery, is named in the exported trace by its file, line and the frame it
// stalled, inside a frame the trace holds; the trace parses back as trace-event JSON (every
// event's phase, time, process and thread; spans with a duration; async waits paired); the ring
// keeps only its newest entries; a QCoreApplication gets nothing to watch windows with.
#include <registryio/qt/diagnostics.h>
#include <registryio/qt/qt_registry.h>

#include <QCoreApplication>
#include <QEventLoop>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMap>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <chrono>
#include <thread>

namespace {

using namespace std::chrono_literals;

constexpr int stallEvery = 200;

// Runs `turns` turns of the main event loop, each a 1 ms timer's, which calls `step(i)`: the loop
// waits between two (a turn ends where it is about to wait).
template <typename Step>
void runTurns(int turns, Step step)
{
    QEventLoop loop;
    QTimer timer;
    timer.setInterval(1);
    int i = 0;
    QObject::connect(&timer, &QTimer::timeout, &loop, [&] {
        step(i);
        if (++i == turns)
            loop.quit();
    });
    timer.start();
    loop.exec();
}

QJsonArray traceEvents(const QJsonDocument &doc)
{
    return doc.object().value(QStringLiteral("traceEvents")).toArray();
}

} // namespace

class tst_DiagnosticsTimeline : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup()
    {
        rio::Diagnostics::setEnabled(false);
        rio::Diagnostics::setEveryRunPrecise(false);
    }

    void anApplicationWithoutWindowsGetsNoWindowWatch()
    {
        // Windows' frames are watched through an event filter on the application object, which a
        // QCoreApplication, with no window to show, would pay for in each of its events.
        QObject *const app = QCoreApplication::instance();
        const QObjectList before = app->children();
        rio::Diagnostics::setEnabled(true);
        QCoreApplication::processEvents();
        for (QObject *child : app->children())
            QVERIFY2(before.contains(child), child->metaObject()->className());
    }

    void nothingIsRecordedWhileOff()
    {
        QVERIFY(!rio::Diagnostics::isEnabled());
        rio::QtRegistry<int> registry;
        registry.add([](int) { });
        runTurns(20, [&](int i) { registry.notify(i); });
        for (const QJsonValue &e : traceEvents(rio::Diagnostics::toTrace())) {
            const QString ph = e[QStringLiteral("ph")].toString();
            QVERIFY2(ph == QLatin1String("M"), qPrintable(e[QStringLiteral("name")].toString()));
        }
    }

    void plantedStallIsNamedByFileLineAndFrame()
    {
        rio::Diagnostics::setSlowThreshold(16ms);
        // Every run read with the precise clock: by default a run's length may be the coarse
        // clock's, which misses a slow run when a loaded machine holds the watchdog off near its
        // end (DIAGNOSTICS.md's limits); this test is about the trace, not that sample.
        rio::Diagnostics::setEveryRunPrecise(true);
        rio::Diagnostics::setEnabled(true);
        rio::QtRegistry<int> registry;
        registry.setObjectName(QStringLiteral("timeline"));
        QObject context;
        int queuedRuns = 0;
        for (int h = 0; h < 4; ++h)
            registry.add([](int) { });
        // clang-format off
        const int stallLine = __LINE__ + 1;
        registry.add([](int i) { if (i % stallEvery == stallEvery / 2) std::this_thread::sleep_for(30ms); });
        // clang-format on
        registry.add(&context, [&](int) { ++queuedRuns; }, {.connection = Qt::QueuedConnection});
        runTurns(2 * stallEvery, [&](int i) { registry.notify(i); });
        QCoreApplication::sendPostedEvents(); // the last notify's delivery
        QCOMPARE(queuedRuns, 2 * stallEvery);

        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("trace.json"));
        QVERIFY(rio::Diagnostics::writeTrace(path));
        rio::Diagnostics::setEnabled(false);
        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadOnly));
        QJsonParseError error{};
        const QJsonDocument doc = QJsonDocument::fromJson(file.readAll(), &error);
        QCOMPARE(error.error, QJsonParseError::NoError);
        const QJsonArray events = traceEvents(doc);
        QVERIFY(!events.isEmpty());

        QMap<qint64, QJsonObject> frames; // by number
        QMap<qint64, int> open;           // async waits begun, by id
        QList<QJsonObject> slow;
        int runs = 0;
        int waits = 0;
        for (const QJsonValue &v : events) {
            const QJsonObject e = v.toObject();
            const QString ph = e[QStringLiteral("ph")].toString();
            QVERIFY2(QStringList({"M", "X", "b", "e", "i"}).contains(ph), qPrintable(ph));
            QVERIFY(e[QStringLiteral("pid")].isDouble());
            QVERIFY(e[QStringLiteral("tid")].isDouble());
            QVERIFY(!e[QStringLiteral("name")].toString().isEmpty());
            if (ph == QLatin1String("M"))
                continue;
            QVERIFY(e[QStringLiteral("ts")].isDouble());
            const QString cat = e[QStringLiteral("cat")].toString();
            if (ph == QLatin1String("X")) {
                QVERIFY(e[QStringLiteral("dur")].toDouble(-1) >= 0);
                if (cat == QLatin1String("frame"))
                    frames.insert(e[QStringLiteral("args")][QStringLiteral("frame")].toInteger(), e);
                else if (cat == QLatin1String("slow"))
                    slow.append(e);
                else if (cat == QLatin1String("handler"))
                    ++runs;
            } else if (ph == QLatin1String("b")) {
                ++open[e[QStringLiteral("id")].toInteger()];
                ++waits;
            } else if (ph == QLatin1String("e")) {
                QCOMPARE(open.value(e[QStringLiteral("id")].toInteger()), 1);
                open.remove(e[QStringLiteral("id")].toInteger());
            }
        }
        QVERIFY(open.isEmpty());
        QVERIFY(runs > 0);  // the runs of the trivial handlers
        QVERIFY(waits > 0); // the queued delivery's waits
        // Both planted stalls, each named by file, line and the frame it ran in.
        int named = 0;
        for (const QJsonObject &s : std::as_const(slow)) {
            const QJsonObject args = s[QStringLiteral("args")].toObject();
            if (!args[QStringLiteral("file")].toString().endsWith(
                    QLatin1String("tst_diagnostics_timeline.cpp")))
                continue;
            QCOMPARE(args[QStringLiteral("line")].toInt(), stallLine);
            QCOMPARE(args[QStringLiteral("registryName")].toString(), QStringLiteral("timeline"));
            QVERIFY(args[QStringLiteral("elapsedNs")].toInteger() >= 30'000'000);
            const qint64 frame = args[QStringLiteral("frame")].toInteger();
            QVERIFY2(frames.contains(frame), qPrintable(QString::number(frame)));
            const QJsonObject f = frames.value(frame);
            const double begin = f[QStringLiteral("ts")].toDouble();
            const double end = begin + f[QStringLiteral("dur")].toDouble();
            const double stallEnd = s[QStringLiteral("ts")].toDouble() + s[QStringLiteral("dur")].toDouble();
            QVERIFY(stallEnd >= begin);
            QVERIFY(stallEnd <= end + 1000); // 1 ms: a slow run's end is read with steady_clock
            // Its start is not bounded: a sampled run's start may be the coarse clock's, which lags
            // when the watchdog thread waits for a core; the frame is named by the run's end.
            QVERIFY(s[QStringLiteral("name")].toString().contains(
                QStringLiteral("tst_diagnostics_timeline.cpp:%1").arg(stallLine)));
            ++named;
        }
        QCOMPARE(named, 2);
    }

    void theRingKeepsTheNewestEntries()
    {
        rio::Diagnostics::setEveryRunPrecise(true);
        rio::Diagnostics::setEnabled(true);
        rio::QtRegistry<int> registry;
        registry.add([](int) { });
        runTurns(2, [&](int i) {
            for (int n = 0; n < 6'000; ++n)
                registry.notify(i);
        });
        rio::Diagnostics::setEnabled(false);
        rio::Diagnostics::setEveryRunPrecise(false);
        int kept = 0;
        for (const QJsonValue &e : traceEvents(rio::Diagnostics::toTrace(1h)))
            kept += e[QStringLiteral("ph")].toString() != QLatin1String("M") ? 1 : 0;
        QVERIFY2(kept <= 8192 + 64 + 16, qPrintable(QString::number(kept))); // the ring, slow runs, stalls
        QVERIFY2(kept >= 8000, qPrintable(QString::number(kept)));
    }
};

QTEST_GUILESS_MAIN(tst_DiagnosticsTimeline)
#include "tst_diagnostics_timeline.moc"
