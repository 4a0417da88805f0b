// SPDX-License-Identifier: MIT
// Qt Quick windows' frames on the frame timeline, with real windows rendering an animation
// offscreen (the basic render loop; QSG_RENDER_LOOP=threaded runs it with the threaded one): each window's
// frames are numbered spans on a track of its own, named by its title (or objectName); a handler planted slow
// inside one frame is named in that frame of that window, and a run just after a frame (microseconds, in a
// turn of its own) in none; a window destroyed while diagnostics are on ends
// its track and a window made after it (at the same address, perhaps) gets its own; while off nothing is
// recorded and the windows' scene-graph signals lose their connections; a slow run stays in its
// window frame while runs fill the ring.
#include <registryio/qt/diagnostics.h>
#include <registryio/qt/qt_registry.h>

#include <QEventLoop>
#include <QGuiApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMap>
#include <QMetaMethod>
#include <QQmlComponent>
#include <QQmlEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QTest>
#include <QTimer>

#include <chrono>
#include <memory>
#include <thread>

namespace {

using namespace std::chrono_literals;

constexpr int kFrames = 24;   // frames each window shows (bounded)
constexpr int kSlowFrame = 8; // the frame (counted by the test) the planted handler stalls in

// A window whose frames the test counts; isSignalConnected tells whether the timeline still
// listens to its scene graph.
class Window : public QQuickWindow
{
public:
    Window()
    {
        resize(40, 40);
        connect(this, &QQuickWindow::afterAnimating, this, [this] { ++frames; });
    }
    [[nodiscard]] bool listened(const char *signal) const
    {
        return isSignalConnected(metaObject()->method(metaObject()->indexOfSignal(signal)));
    }
    int frames = 0;
};

// Shows `window` with an endless animation in it, until `frames` more frames have been prepared.
bool animate(QQmlEngine &engine, Window &window, int frames)
{
    QQmlComponent component(&engine);
    component.setData(
        "import QtQuick\n"
        "Rectangle { width: 20; height: 20; color: 'red'\n"
        "  NumberAnimation on rotation { from: 0; to: 360; duration: 500; loops: Animation.Infinite } }",
        QUrl());
    std::unique_ptr<QQuickItem> item(qobject_cast<QQuickItem *>(component.create()));
    if (!item)
        return false;
    item->setParentItem(window.contentItem());
    window.show();
    const int until = window.frames + frames;
    return QTest::qWaitFor([&] { return window.frames >= until; }, 20'000);
}

QJsonArray traceEvents()
{
    return rio::Diagnostics::toTrace(1h).object().value(QStringLiteral("traceEvents")).toArray();
}

// The trace's track named `name` (a thread_name record), -1 if none.
qint64 track(const QJsonArray &events, const QString &name)
{
    for (const QJsonValue &e : events)
        if (e[QStringLiteral("ph")].toString() == QLatin1String("M") &&
            e[QStringLiteral("name")].toString() == QLatin1String("thread_name") &&
            e[QStringLiteral("args")][QStringLiteral("name")].toString() == name)
            return e[QStringLiteral("tid")].toInteger();
    return -1;
}

// The window frames on track `tid`, by number.
QMap<qint64, QJsonObject> windowFrames(const QJsonArray &events, qint64 tid)
{
    QMap<qint64, QJsonObject> frames;
    for (const QJsonValue &v : events) {
        const QJsonObject e = v.toObject();
        if (e[QStringLiteral("cat")].toString() == QLatin1String("window") &&
            e[QStringLiteral("tid")].toInteger() == tid)
            frames.insert(e[QStringLiteral("args")][QStringLiteral("frame")].toInteger(), e);
    }
    return frames;
}

} // namespace

class tst_DiagnosticsWindowFrames : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup()
    {
        rio::Diagnostics::setEnabled(false);
        rio::Diagnostics::setEveryRunPrecise(false);
    }

    void eachWindowsFramesOnItsTrackAndASlowRunInItsFrame()
    {
        rio::Diagnostics::setSlowThreshold(16ms);
        rio::Diagnostics::setEveryRunPrecise(true); // a slow run counted whatever the load
        rio::Diagnostics::setEnabled(true);
        QQmlEngine engine;
        rio::QtRegistry<int> registry;
        registry.setObjectName(QStringLiteral("frames"));
        // clang-format off
        const int slowLine = __LINE__ + 1;
        registry.add([](int frame) { if (frame == kSlowFrame) std::this_thread::sleep_for(30ms); });
        // clang-format on
        Window first;
        first.setTitle(QStringLiteral("first"));
        // The handler runs inside the frame, between its animations and its sync.
        connect(&first, &QQuickWindow::afterAnimating, &registry, [&] { registry.notify(first.frames); });
        Window second;
        second.setObjectName(QStringLiteral("second")); // no title: named by its objectName
        QVERIFY(animate(engine, first, kFrames));
        QVERIFY(animate(engine, second, kFrames));
        QTRY_VERIFY(first.frames >= kFrames); // both shown at once for a while

        const QJsonArray events = traceEvents();
        const qint64 firstTrack = track(events, QStringLiteral("first"));
        const qint64 secondTrack = track(events, QStringLiteral("second"));
        QVERIFY(firstTrack != -1);
        QVERIFY(secondTrack != -1);
        QVERIFY(firstTrack != secondTrack);
        const QMap<qint64, QJsonObject> firstFrames = windowFrames(events, firstTrack);
        const QMap<qint64, QJsonObject> secondFrames = windowFrames(events, secondTrack);
        QVERIFY2(firstFrames.size() >= kFrames / 2, qPrintable(QString::number(firstFrames.size())));
        QVERIFY2(secondFrames.size() >= kFrames / 2, qPrintable(QString::number(secondFrames.size())));
        // Spans, in order and apart on their track, each named by its window.
        for (const auto *frames : {&firstFrames, &secondFrames}) {
            double lastEnd = 0;
            for (const QJsonObject &f : *frames) {
                QCOMPARE(f[QStringLiteral("ph")].toString(), QStringLiteral("X"));
                QVERIFY(f[QStringLiteral("dur")].toDouble(-1) >= 0);
                QVERIFY(f[QStringLiteral("ts")].toDouble() >=
                        lastEnd - 0.001); // 1 ns: microseconds in doubles
                lastEnd = f[QStringLiteral("ts")].toDouble() + f[QStringLiteral("dur")].toDouble();
                QCOMPARE(f[QStringLiteral("args")][QStringLiteral("window")].toString(),
                         frames == &firstFrames ? QStringLiteral("first") : QStringLiteral("second"));
            }
        }

        // The planted slow run: named in first's frame that holds it.
        int named = 0;
        for (const QJsonValue &v : events) {
            const QJsonObject s = v.toObject();
            const QJsonObject args = s[QStringLiteral("args")].toObject();
            if (s[QStringLiteral("cat")].toString() != QLatin1String("slow") ||
                !args[QStringLiteral("file")].toString().endsWith(
                    QLatin1String("tst_diagnostics_window_frames.cpp")))
                continue;
            QCOMPARE(args[QStringLiteral("line")].toInt(), slowLine);
            QCOMPARE(args[QStringLiteral("window")].toString(), QStringLiteral("first"));
            const qint64 number = args[QStringLiteral("windowFrame")].toInteger();
            QVERIFY2(firstFrames.contains(number), qPrintable(QString::number(number)));
            const QJsonObject f = firstFrames.value(number);
            // Its span may begin after the frame did (threaded loop: when the one before ended).
            const double begin = f[QStringLiteral("args")][QStringLiteral("begun")].toDouble();
            const double end = f[QStringLiteral("ts")].toDouble() + f[QStringLiteral("dur")].toDouble();
            QVERIFY(begin <= f[QStringLiteral("ts")].toDouble());
            QVERIFY(end - begin >= 30'000); // the frame holds the stall
            const double slowEnd = s[QStringLiteral("ts")].toDouble() + s[QStringLiteral("dur")].toDouble();
            QVERIFY(slowEnd >= begin);
            QVERIFY(slowEnd <= end + 1000); // 1 ms: a slow run's end is read with steady_clock
            ++named;
        }
        QCOMPARE(named, 1);
        // The runs timed on the GUI thread in a window's frame name it too.
        int inFrame = 0;
        for (const QJsonValue &e : events)
            if (e[QStringLiteral("cat")].toString() == QLatin1String("handler") &&
                e[QStringLiteral("args")][QStringLiteral("window")].toString() == QLatin1String("first"))
                ++inFrame;
        QVERIFY(inFrame >= kFrames / 2);
    }

    // A main thread whose runs fill the ring many times over within a few frames: the windows'
    // frames are kept apart from them, so a slow run of an early frame is still named in it.
    void aSlowRunIsInItsWindowFrameThoughRunsFillTheRing()
    {
        rio::Diagnostics::setSlowThreshold(16ms);
        rio::Diagnostics::setEveryRunPrecise(true);
        rio::Diagnostics::setEnabled(true);
        QQmlEngine engine;
        rio::QtRegistry<int> registry;
        registry.setObjectName(QStringLiteral("busy"));
        registry.add([](int frame) {
            if (frame == kSlowFrame)
                std::this_thread::sleep_for(30ms);
        });
        Window window;
        window.setTitle(QStringLiteral("busy"));
        connect(&window, &QQuickWindow::afterAnimating, &registry, [&] {
            registry.notify(window.frames);
            for (int i = 0; i < 1000; ++i) // 24 frames of these: the ring's 8,192 entries thrice over
                registry.notify(-1);
        });
        QVERIFY(animate(engine, window, kFrames));
        const QJsonArray events = traceEvents();
        const QMap<qint64, QJsonObject> frames = windowFrames(events, track(events, QStringLiteral("busy")));
        QStringList slow;
        for (const QJsonValue &e : events)
            if (e[QStringLiteral("cat")].toString() == QLatin1String("slow") &&
                e[QStringLiteral("args")][QStringLiteral("registryName")].toString() == QLatin1String("busy"))
                slow << QString::fromUtf8(QJsonDocument(e.toObject()).toJson(QJsonDocument::Compact));
        QCOMPARE(slow.size(), 1);
        const QJsonObject args = QJsonDocument::fromJson(slow[0].toUtf8())[QStringLiteral("args")].toObject();
        QVERIFY2(args[QStringLiteral("window")].toString() == QLatin1String("busy"), qPrintable(slow[0]));
        QVERIFY(frames.contains(args[QStringLiteral("windowFrame")].toInteger()));
        QVERIFY(frames.size() >= kFrames / 2);
    }

    void aRunNamesOnlyTheWindowFrameThatHoldsIt()
    {
        rio::Diagnostics::setEveryRunPrecise(true);
        rio::Diagnostics::setEnabled(true);
        QQmlEngine engine;
        rio::QtRegistry<int> registry;
        registry.setObjectName(QStringLiteral("between"));
        registry.add([](int) { });
        Window window;
        window.setTitle(QStringLiteral("between"));
        // Inside a frame, and just after one: a delivery queued at its presentation, which the
        // basic loop runs in a turn of its own between two frames, microseconds after the first
        // (an event loop that runs on, unlike QTest::qWaitFor's, which sleeps between its turns).
        connect(&window, &QQuickWindow::afterAnimating, &registry, [&] { registry.notify(1); });
        connect(
            &window, &QQuickWindow::frameSwapped, &registry,
            [&] { QMetaObject::invokeMethod(&registry, [&] { registry.notify(2); }, Qt::QueuedConnection); },
            Qt::DirectConnection);
        QEventLoop loop;
        connect(&window, &QQuickWindow::afterAnimating, &loop, [&] {
            if (window.frames >= kFrames)
                loop.quit();
        });
        QTimer::singleShot(20s, &loop, &QEventLoop::quit); // a bound, not a wait
        QQmlComponent component(&engine);
        component.setData("import QtQuick\n"
                          "Rectangle { width: 20; height: 20; color: 'red'\n"
                          "  NumberAnimation on rotation { from: 0; to: 360; duration: 500; "
                          "loops: Animation.Infinite } }",
                          QUrl());
        const std::unique_ptr<QQuickItem> item(qobject_cast<QQuickItem *>(component.create()));
        QVERIFY(item);
        item->setParentItem(window.contentItem());
        window.show();
        loop.exec();
        QVERIFY(window.frames >= kFrames);

        const QJsonArray events = traceEvents();
        const auto frames = windowFrames(events, track(events, QStringLiteral("between")));
        QVERIFY(frames.size() >= kFrames / 2);
        int named = 0;
        int unnamed = 0;
        for (const QJsonValue &v : events) {
            const QJsonObject e = v.toObject();
            const QJsonObject args = e[QStringLiteral("args")].toObject();
            if (e[QStringLiteral("cat")].toString() != QLatin1String("handler") ||
                args[QStringLiteral("registryName")].toString() != QLatin1String("between"))
                continue;
            if (!args.contains(QStringLiteral("windowFrame"))) {
                ++unnamed;
                continue;
            }
            ++named;
            QCOMPARE(args[QStringLiteral("window")].toString(), QStringLiteral("between"));
            const QJsonObject f = frames.value(args[QStringLiteral("windowFrame")].toInteger());
            QVERIFY(!f.isEmpty());
            const double begun = f[QStringLiteral("args")][QStringLiteral("begun")].toDouble();
            const double end = f[QStringLiteral("ts")].toDouble() + f[QStringLiteral("dur")].toDouble();
            const double ts = e[QStringLiteral("ts")].toDouble();
            QVERIFY2(ts >= begun - 0.001 && ts <= end + 0.001,
                     qPrintable(QStringLiteral("run at %1 named in frame %2 (%3 to %4)")
                                    .arg(ts, 0, 'f', 3)
                                    .arg(args[QStringLiteral("windowFrame")].toInteger())
                                    .arg(begun, 0, 'f', 3)
                                    .arg(end, 0, 'f', 3)));
        }
        QVERIFY(named >= kFrames / 2);
        if (qEnvironmentVariable("QSG_RENDER_LOOP") != QLatin1String("threaded"))
            QVERIFY(unnamed >= kFrames / 2); // the deliveries between frames
    }

    void aWindowDestroyedWhileOnKeepsItsFramesAndItsName()
    {
        rio::Diagnostics::setEnabled(true);
        QQmlEngine engine;
        auto gone = std::make_unique<Window>();
        gone->setTitle(QStringLiteral("gone"));
        QVERIFY(animate(engine, *gone, kFrames / 2));
        gone.reset(); // while it animates, its frames watched
        QCoreApplication::processEvents();
        Window next; // may take the address of the one destroyed
        next.setTitle(QStringLiteral("next"));
        QVERIFY(animate(engine, next, kFrames / 2));

        const QJsonArray events = traceEvents();
        const qint64 goneTrack = track(events, QStringLiteral("gone"));
        const qint64 nextTrack = track(events, QStringLiteral("next"));
        QVERIFY(goneTrack != -1);
        QVERIFY(nextTrack != -1);
        QVERIFY(goneTrack != nextTrack);
        const auto goneFrames = windowFrames(events, goneTrack);
        const auto nextFrames = windowFrames(events, nextTrack);
        QVERIFY(goneFrames.size() >= kFrames / 4);
        QVERIFY(nextFrames.size() >= kFrames / 4);
        // The next window's frames all came after the first was gone.
        QVERIFY(nextFrames.first()[QStringLiteral("ts")].toDouble() >
                goneFrames.last()[QStringLiteral("ts")].toDouble());
    }

    void aLiveWindowKeepsItsNameThroughManyDestroyed()
    {
        rio::Diagnostics::setEnabled(true);
        QQmlEngine engine;
        Window lasting;
        lasting.setTitle(QStringLiteral("lasting"));
        QVERIFY(animate(engine, lasting, 2));
        for (int i = 0; i < 70; ++i) { // more than the destroyed windows' names kept
            Window popup;
            popup.setTitle(QStringLiteral("popup %1").arg(i));
            QVERIFY(animate(engine, popup, 1));
        }
        QVERIFY(animate(engine, lasting, 2));
        const QJsonArray events = traceEvents();
        QVERIFY(!windowFrames(events, track(events, QStringLiteral("lasting"))).isEmpty());
        QCOMPARE(track(events, QStringLiteral("popup 0")), -1); // the oldest destroyed: `window N`
        QVERIFY(track(events, QStringLiteral("popup 69")) != -1);
    }

    void nothingWhileOffAndNoListeningEither()
    {
        QQmlEngine engine;
        Window window;
        window.setTitle(QStringLiteral("switched"));
        const bool swappedBefore = window.listened("frameSwapped()");
        const bool syncBefore = window.listened("beforeSynchronizing()");
        rio::Diagnostics::setEnabled(true);
        QVERIFY(animate(engine, window, kFrames / 4));
        QVERIFY(window.listened("frameSwapped()")); // watched while on
        const auto onFrames = windowFrames(traceEvents(), track(traceEvents(), QStringLiteral("switched")));
        QVERIFY(!onFrames.isEmpty());

        rio::Diagnostics::setEnabled(false);
        QVERIFY(animate(engine, window, kFrames / 2));
        // The first frame after off lets the window go: the rest cost nothing.
        QCOMPARE(window.listened("frameSwapped()"), swappedBefore);
        QCOMPARE(window.listened("beforeSynchronizing()"), syncBefore);
        const auto offFrames = windowFrames(traceEvents(), track(traceEvents(), QStringLiteral("switched")));
        QCOMPARE(offFrames.size(), onFrames.size());

        // A window first shown while off is not watched at all.
        Window unseen;
        unseen.setTitle(QStringLiteral("unseen"));
        QVERIFY(animate(engine, unseen, kFrames / 4));
        QVERIFY(!unseen.listened("frameSwapped()") || swappedBefore);
        QCOMPARE(track(traceEvents(), QStringLiteral("unseen")), -1);

        // On again: the window's frames go on being numbered on its track.
        rio::Diagnostics::setEnabled(true);
        QVERIFY(animate(engine, window, kFrames / 4));
        const auto againFrames =
            windowFrames(traceEvents(), track(traceEvents(), QStringLiteral("switched")));
        QVERIFY(againFrames.size() > onFrames.size());
        QVERIFY(againFrames.lastKey() > onFrames.lastKey());
    }
};

QTEST_MAIN(tst_DiagnosticsWindowFrames)
#include "tst_diagnostics_window_frames.moc"
