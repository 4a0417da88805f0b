// SPDX-License-Identifier: MIT
// The frame timeline and its export as Chrome's trace-event JSON: nothing is recorded while
// diagnostics are off; a handler that stalls once in 2,000 runs on the GUI thread, among trivial
// ones and a queued delivery, eight notifies a turn, is named in the exported trace by its file,
// line and the frame it stalled, inside a frame the trace holds, and by that same frame once the
// ring no longer holds it; the trace parses back as trace-event JSON (every event's phase, time,
// process and thread; spans with a duration; async waits paired); the ring keeps only its newest
// entries; a handler slow many times in a row is in the trace once per run, as slow while its
// report is kept and as a run after; a QCoreApplication gets nothing to watch windows with; a
// trace written to a path that is not a regular file (a pipe) is written into it, and the path
// stays what it was; one at another user's link or pipe is not written, and a link of one's own is
// replaced by a file of its user's alone.
#include <registryio/qt/diagnostics.h>
#include <registryio/qt/qt_registry.h>

#include <QCoreApplication>
#include <QEventLoop>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMap>
#include <QRegularExpression>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <ctime>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;

constexpr int stallEvery = 2000;   // runs of the stalling handler per stall
constexpr int notifiesPerTurn = 8; // a turn holds many runs, as a busy frame does

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

// A trace read back, checked as trace-event JSON on the way: every event has its phase, process,
// thread and name; every event but metadata its time; spans a duration; async waits pair.
struct Trace
{
    QMap<qint64, QJsonObject> frames; // the main thread's turns, by number
    QList<QJsonObject> slow;
    QList<QJsonObject> handlerRuns;
    int runs = 0;
    int waits = 0;

    // The slow runs added at `line` of this file, oldest first, each named by that place.
    [[nodiscard]] QList<QJsonObject> stalls(int line) const
    {
        QList<QJsonObject> out;
        for (const QJsonObject &s : slow) {
            const QJsonObject args = s[QStringLiteral("args")].toObject();
            if (!args[QStringLiteral("file")].toString().endsWith(
                    QLatin1String("tst_diagnostics_timeline.cpp")) ||
                args[QStringLiteral("line")].toInt() != line)
                continue; // another handler held off the processor for a while
            if (args[QStringLiteral("registryName")].toString() != QLatin1String("timeline") ||
                args[QStringLiteral("elapsedNs")].toInteger() < 30'000'000 ||
                !s[QStringLiteral("name")].toString().contains(
                    QStringLiteral("tst_diagnostics_timeline.cpp:%1").arg(line))) {
                qWarning() << "misnamed slow run" << s;
                continue;
            }
            out.append(s);
        }
        return out;
    }

    // The frame a slow run names, checked to hold its end: 0 when it does not.
    [[nodiscard]] qint64 frameOf(const QJsonObject &s) const
    {
        const qint64 frame = s[QStringLiteral("args")][QStringLiteral("frame")].toInteger();
        if (!frames.contains(frame)) {
            qWarning() << "frame" << frame << "not in the trace";
            return 0;
        }
        const QJsonObject f = frames.value(frame);
        const double begin = f[QStringLiteral("ts")].toDouble();
        const double end = begin + f[QStringLiteral("dur")].toDouble();
        const double stallEnd = s[QStringLiteral("ts")].toDouble() + s[QStringLiteral("dur")].toDouble();
        // 1 ms: a slow run's end is read with steady_clock. Its start is not bounded: a sampled
        // run's start may be the coarse clock's, which lags when the watchdog thread waits for a
        // core; the frame is named by the run's end.
        if (stallEnd < begin || stallEnd > end + 1000) {
            qWarning() << "slow run ending at" << stallEnd << "outside frame" << frame << begin << end;
            return 0;
        }
        return frame;
    }
};

Trace readTrace(const QJsonDocument &doc)
{
    Trace t;
    QMap<qint64, int> open; // async waits begun, by id
    const QJsonArray events = traceEvents(doc);
    [&] { QVERIFY(!events.isEmpty()); }();
    for (const QJsonValue &v : events) {
        const QJsonObject e = v.toObject();
        const QString ph = e[QStringLiteral("ph")].toString();
        [&] {
            QVERIFY2(QStringList({"M", "X", "b", "e", "i"}).contains(ph), qPrintable(ph));
            QVERIFY(e[QStringLiteral("pid")].isDouble());
            QVERIFY(e[QStringLiteral("tid")].isDouble());
            QVERIFY(!e[QStringLiteral("name")].toString().isEmpty());
            if (ph != QLatin1String("M"))
                QVERIFY(e[QStringLiteral("ts")].isDouble());
        }();
        const QString cat = e[QStringLiteral("cat")].toString();
        if (ph == QLatin1String("X")) {
            [&] { QVERIFY(e[QStringLiteral("dur")].toDouble(-1) >= 0); }();
            if (cat == QLatin1String("frame"))
                t.frames.insert(e[QStringLiteral("args")][QStringLiteral("frame")].toInteger(), e);
            else if (cat == QLatin1String("slow"))
                t.slow.append(e);
            else if (cat == QLatin1String("handler"))
                t.handlerRuns.append(e);
        } else if (ph == QLatin1String("b")) {
            ++open[e[QStringLiteral("id")].toInteger()];
            ++t.waits;
        } else if (ph == QLatin1String("e")) {
            const qint64 id = e[QStringLiteral("id")].toInteger();
            [&] { QCOMPARE(open.value(id), 1); }();
            open.remove(id);
        }
    }
    [&] { QVERIFY(open.isEmpty()); }();
    t.runs = int(t.handlerRuns.size());
    std::sort(t.slow.begin(), t.slow.end(), [](const QJsonObject &a, const QJsonObject &b) {
        return a[QStringLiteral("ts")].toDouble() < b[QStringLiteral("ts")].toDouble();
    });
    return t;
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
        rio::Diagnostics::setSlowThreshold(16ms); // the default
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
        // end (DIAGNOSTICS.md's limits); this test is about the trace, not that sample. It also
        // puts every run on the ring (57 entries a turn), so that the ring drops the first
        // stall's turn long before the end: that stall must keep its frame all the same.
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

        // The first stall's frame as a trace taken two turns after it names it, inside a frame
        // that trace holds.
        constexpr int turns = 2 * stallEvery / notifiesPerTurn;
        constexpr int firstStallTurn = stallEvery / 2 / notifiesPerTurn;
        qint64 firstFrame = 0;
        runTurns(turns, [&](int turn) {
            for (int n = 0; n < notifiesPerTurn; ++n)
                registry.notify((turn * notifiesPerTurn) + n);
            if (turn == firstStallTurn + 2) {
                const Trace early = readTrace(rio::Diagnostics::toTrace());
                QCOMPARE(early.stalls(stallLine).size(), 1);
                firstFrame = early.frameOf(early.stalls(stallLine).front());
            }
        });
        if (QTest::currentTestFailed())
            return;
        QVERIFY(firstFrame > 0);
        QCoreApplication::sendPostedEvents(); // the last notify's delivery
        QCOMPARE(queuedRuns, turns * notifiesPerTurn);

        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("trace.json"));
        QVERIFY(rio::Diagnostics::writeTrace(path));
        rio::Diagnostics::setEnabled(false);
        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadOnly));
        QJsonParseError error{};
        const QJsonDocument doc = QJsonDocument::fromJson(file.readAll(), &error);
        QCOMPARE(error.error, QJsonParseError::NoError);
        const Trace trace = readTrace(doc);
        if (QTest::currentTestFailed())
            return;
        QVERIFY(trace.runs > 0);  // the runs of the trivial handlers
        QVERIFY(trace.waits > 0); // the queued delivery's waits
        // Both planted stalls, by file, line and the frame each ran in: the first by the frame
        // the early trace found, though the ring dropped that frame since; the second inside a
        // frame this trace holds.
        const QList<QJsonObject> stalls = trace.stalls(stallLine);
        QCOMPARE(stalls.size(), 2);
        QCOMPARE(stalls[0][QStringLiteral("args")][QStringLiteral("frame")].toInteger(), firstFrame);
        QVERIFY2(!trace.frames.contains(firstFrame), "the ring still holds the first stall's frame");
        const qint64 secondFrame = trace.frameOf(stalls[1]);
        QVERIFY(secondFrame > firstFrame);
        // The stalling handler's other runs of that turn, microseconds after the stall, are runs:
        // its eight runs there are one slow run and seven others.
        qsizetype others = 0;
        for (const QJsonObject &run : trace.handlerRuns) {
            const QJsonObject args = run[QStringLiteral("args")].toObject();
            others += args[QStringLiteral("line")].toInt() == stallLine &&
                              args[QStringLiteral("frame")].toInteger() == secondFrame
                          ? 1
                          : 0;
        }
        QCOMPARE(others, qsizetype(notifiesPerTurn - 1));
        // The reports say the same, as JSON too.
        QList<qint64> reported;
        for (const rio::SlowHandlerReport &r : rio::Diagnostics::recentSlowRuns()) {
            if (r.handler.registryId == registry.registryId() && r.handler.line == stallLine) {
                QCOMPARE(rio::toJson(r)[QStringLiteral("frame")].toInteger(), qint64(r.frame));
                reported.append(qint64(r.frame));
            }
        }
        QCOMPARE(reported, QList<qint64>({firstFrame, secondFrame}));
    }

    void aSlowRunIsInTheTraceOnceAfterItsReportWasDropped()
    {
        // One handler slow 100 times in a row, runs 300 µs long and as far apart: the 64 newest
        // are slow runs, each exported once, and the 36 older ones, whose reports were dropped,
        // are runs of the ring, none lost beside a report that lasted as long. Five rounds.
        rio::Diagnostics::setSlowThreshold(200us);
        rio::Diagnostics::setEveryRunPrecise(true);
        rio::Diagnostics::setEnabled(true);
        rio::QtRegistry<int> registry;
        registry.setObjectName(QStringLiteral("repeated"));
        registry.add([](int) {
            const auto until = std::chrono::steady_clock::now() + 300us;
            while (std::chrono::steady_clock::now() < until) {
            }
        });
        constexpr int slowRuns = 100;
        for (int round = 0; round < 5; ++round) {
            runTurns(1, [&](int) {
                for (int n = 0; n < slowRuns; ++n)
                    registry.notify(n);
            });
            int slow = 0;
            int runs = 0;
            for (const QJsonValue &e : traceEvents(rio::Diagnostics::toTrace(1h))) {
                if (e[QStringLiteral("args")][QStringLiteral("registry")].toInteger() !=
                    qint64(registry.registryId()))
                    continue;
                const QString cat = e[QStringLiteral("cat")].toString();
                slow += cat == QLatin1String("slow") ? 1 : 0;
                runs += cat == QLatin1String("handler") ? 1 : 0;
            }
            const QByteArray counts = QByteArray::number(round) + ": " + QByteArray::number(slow) +
                                      " slow, " + QByteArray::number(runs) + " runs";
            QVERIFY2(slow == 64, counts.constData()); // the reports kept
            QVERIFY2(slow + runs == (round + 1) * slowRuns, counts.constData());
        }
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

    // Names are the user's text: quotes, backslashes, control and non-ASCII characters come
    // back from the trace's JSON as they were, in runs and in slow runs.
    void namesComeBackFromTheTraceAsTheyWere()
    {
        rio::Diagnostics::setSlowThreshold(200us);
        rio::Diagnostics::setEveryRunPrecise(true);
        rio::Diagnostics::setEnabled(true);
        const QString name = QStringLiteral("a \"quoted\" \\ name\n\t\x01 \u00e9\u4e2d");
        rio::QtRegistry<int> registry;
        registry.setObjectName(name);
        registry.add([](int slow) {
            const auto until = std::chrono::steady_clock::now() + (slow != 0 ? 300us : 0us);
            while (std::chrono::steady_clock::now() < until) {
            }
        });
        runTurns(1, [&](int) {
            registry.notify(0);
            registry.notify(1);
        });
        QSet<QString> named; // an unreadable text would be an empty document
        for (const QJsonValue &e : traceEvents(rio::Diagnostics::toTrace(1h)))
            if (e[QStringLiteral("args")][QStringLiteral("registryName")].toString() == name)
                named.insert(e[QStringLiteral("cat")].toString());
        QCOMPARE(named, (QSet<QString>{QStringLiteral("handler"), QStringLiteral("slow")}));
    }

    // A user who sends the trace to a pipe, /dev/stdout or /dev/null gets it written there: the
    // path is never replaced by a regular file (as a write-then-rename would, which as root
    // replaces /dev/null itself).
    void aTraceWrittenToAPipeLeavesThePipe()
    {
        QTemporaryDir dir;
        const QByteArray path = dir.filePath(QStringLiteral("trace.fifo")).toLocal8Bit();
        QCOMPARE(::mkfifo(path.constData(), 0600), 0);
        const int reader = ::open(path.constData(), O_RDONLY | O_NONBLOCK); // a writer may open now
        QVERIFY(reader >= 0);
        QByteArray received;
        std::thread drain([&] { // until the writer closes, or 30 s without a byte
            char buffer[4096];
            for (pollfd p{reader, POLLIN, 0}; ::poll(&p, 1, 30'000) > 0;) {
                const ssize_t n = ::read(reader, buffer, sizeof buffer);
                if (n > 0)
                    received.append(buffer, n);
                else if (n == 0 && !received.isEmpty())
                    break; // the writer closed
            }
        });
        rio::Diagnostics::setEnabled(true);
        rio::QtRegistry<int> registry;
        registry.add([](int) { });
        registry.notify(1);
        const bool written = rio::Diagnostics::writeTrace(QString::fromLocal8Bit(path));
        rio::Diagnostics::setEnabled(false);
        drain.join();
        ::close(reader);
        QVERIFY(written);
        struct stat st{};
        QCOMPARE(::stat(path.constData(), &st), 0);
        QVERIFY2(S_ISFIFO(st.st_mode), "the pipe was replaced");
        QJsonParseError error{};
        QJsonDocument::fromJson(received, &error);
        QCOMPARE(error.error, QJsonParseError::NoError);
    }

    // A trace is a file of its user's alone (mode 0600 whatever the umask), and a link at its
    // path is replaced itself: the file it pointed to is left as it was.
    void aTraceIsItsUsersAloneAndReplacesALinkNotItsTarget()
    {
        QTemporaryDir dir;
        const mode_t umaskWas = ::umask(022);
        const QByteArray path = QFile::encodeName(dir.filePath(QStringLiteral("trace.json")));
        const QByteArray victim = QFile::encodeName(dir.filePath(QStringLiteral("victim.txt")));
        QFile kept(QFile::decodeName(victim));
        QVERIFY(kept.open(QIODevice::WriteOnly) && kept.write("kept") == 4);
        kept.close();
        QCOMPARE(::symlink(victim.constData(), path.constData()), 0);
        const bool written = rio::Diagnostics::writeTrace(QFile::decodeName(path));
        ::umask(umaskWas);
        QVERIFY(written);
        struct stat st{};
        QCOMPARE(::lstat(path.constData(), &st), 0);
        QVERIFY2(S_ISREG(st.st_mode), "the link was followed");
        QCOMPARE(st.st_mode & 0777, mode_t(0600));
        QVERIFY(kept.open(QIODevice::ReadOnly));
        QCOMPARE(kept.readAll(), QByteArray("kept"));
    }

    // Another user's link or pipe at the path, in a folder all may write to (as /tmp): neither the
    // file the link points to nor the pipe's reader gets a byte (the pipe is refused, saying so;
    // the link is replaced, which only root may do there). A device of root's (/dev/null) is
    // written into.
    void aTraceNeverGoesThroughAnotherUsersLinkOrPipe()
    {
        if (::geteuid() != 0)
            QSKIP("giving a link or a pipe to another user needs root");
        QTemporaryDir dir;
        QCOMPARE(::chmod(QFile::encodeName(dir.path()).constData(), 01777), 0);
        const QByteArray link = QFile::encodeName(dir.filePath(QStringLiteral("trace.json")));
        const QByteArray fifo = QFile::encodeName(dir.filePath(QStringLiteral("trace.fifo")));
        const QByteArray victim = QFile::encodeName(dir.filePath(QStringLiteral("victim.txt")));
        QFile kept(QFile::decodeName(victim));
        QVERIFY(kept.open(QIODevice::WriteOnly) && kept.write("kept") == 4);
        kept.close();
        QCOMPARE(::symlink(victim.constData(), link.constData()), 0);
        QCOMPARE(::lchown(link.constData(), 65534, 65534), 0); // nobody's
        QCOMPARE(::mkfifo(fifo.constData(), 0666), 0);
        QCOMPARE(::chown(fifo.constData(), 65534, 65534), 0);
        const int reader = ::open(fifo.constData(), O_RDONLY | O_NONBLOCK); // a writer would not wait
        QVERIFY(reader >= 0);
        rio::Diagnostics::setEnabled(true);
        QTest::ignoreMessage(QtWarningMsg,
                             QRegularExpression(QStringLiteral("cannot write .*another user's")));
        QVERIFY(!rio::Diagnostics::writeTrace(QFile::decodeName(fifo)));
        const bool replaced = rio::Diagnostics::writeTrace(QFile::decodeName(link));
        const bool intoNull = rio::Diagnostics::writeTrace(QStringLiteral("/dev/null"));
        rio::Diagnostics::setEnabled(false);
        char byte = 0;
        const ssize_t read = ::read(reader, &byte, 1);
        ::close(reader);
        QVERIFY2(read <= 0, "the pipe's reader got the trace");
        QVERIFY(kept.open(QIODevice::ReadOnly));
        QCOMPARE(kept.readAll(), QByteArray("kept"));
        struct stat st{};
        QCOMPARE(::lstat(link.constData(), &st), 0);
        QVERIFY(replaced && S_ISREG(st.st_mode) && st.st_uid == 0 && (st.st_mode & 0777) == 0600);
        QVERIFY(intoNull);
    }

    // A trace written into a pipe whose reader goes (`| head`, an inspector closed) fails the
    // write, with a warning, and leaves the process alive (SIGPIPE's default action ends it); a
    // SIGPIPE that was pending before the write is left pending, and the thread's mask as it was.
    void aTraceIntoAPipeWhoseReaderWentFailsAndTheProcessLives()
    {
        rio::Diagnostics::setEnabled(true);
        rio::Diagnostics::setEveryRunPrecise(true);
        rio::QtRegistry<int> registry;
        registry.add([](int) { });
        for (int i = 0; i < 2000; ++i) // a trace over what a pipe holds (64 KiB)
            registry.notify(i);
        QTemporaryDir dir;
        const QByteArray path = dir.filePath(QStringLiteral("trace.fifo")).toLocal8Bit();
        QCOMPARE(::mkfifo(path.constData(), 0600), 0);
        const auto writeToGoneReader = [&] {
            // The reader opens (which waits for the writer's open) and closes at once, reading
            // nothing: the writer's first write, or the one after the pipe filled, meets no reader.
            std::thread reader([&] { ::close(::open(path.constData(), O_RDONLY)); });
            QTest::ignoreMessage(QtWarningMsg,
                                 QRegularExpression(QStringLiteral("cannot write .*trace\\.fifo")));
            const bool written = rio::Diagnostics::writeTrace(QString::fromLocal8Bit(path));
            reader.join();
            return written;
        };
        QVERIFY(rio::Diagnostics::toTrace().toJson(QJsonDocument::Compact).size() > 256 * 1024);
        QVERIFY(!writeToGoneReader());

        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        sigset_t saved;
        QCOMPARE(::pthread_sigmask(SIG_BLOCK, &pipe, &saved), 0);
        QCOMPARE(::pthread_kill(::pthread_self(), SIGPIPE), 0); // pending, blocked
        const bool written = writeToGoneReader();
        sigset_t pending;
        sigemptyset(&pending);
        ::sigpending(&pending);
        const bool stillPending = sigismember(&pending, SIGPIPE) == 1;
        sigset_t mask;
        ::pthread_sigmask(SIG_SETMASK, nullptr, &mask);
        const bool stillBlocked = sigismember(&mask, SIGPIPE) == 1;
        const timespec zero{};
        while (::sigtimedwait(&pipe, nullptr, &zero) == SIGPIPE) {
        } // taken here, not by the write
        ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
        rio::Diagnostics::setEveryRunPrecise(false);
        rio::Diagnostics::setEnabled(false);
        QVERIFY(!written);
        QVERIFY(stillPending);
        QVERIFY(stillBlocked);
    }
};

QTEST_GUILESS_MAIN(tst_DiagnosticsTimeline)
#include "tst_diagnostics_timeline.moc"
