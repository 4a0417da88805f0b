// SPDX-License-Identifier: MIT
// The Qt Quick inspector (registryio-inspect-gui's window, offscreen) against a real running
// application (inspect_target, RegistryIO::Qt only, started with RIO_INSPECT=1): it lists it,
// attaches, shows its handler rows in the in-app inspector's table (registry, file:line), shows its
// frame timeline with the planted stall, detaches (the application goes on) and attaches again;
// the application killed while attached is said to have ended, the last table kept; an
// application that does not serve, and a socket that does not answer, are said so. A hostile peer
// (this process serving the two shares) sends snapshots and timelines cut, changed and of other
// shapes: each is refused or read, said so, and the last good table stays.
#include "../replaced_operator_new.h"
#include "inspect_protocol.h"
#include "inspector_session.h"

#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_share.h>

#include <registryio/qt/diagnostics_model.h>

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLocalServer>
#include <QProcess>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QRandomGenerator>
#include <QRemoteObjectHost>
#include <QScopeGuard>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <thread>

#include <sys/stat.h>
#include <unistd.h>

// Allocations of at least 256 KiB off the main thread are refused while set (the model's worker
// making the rows of a large snapshot; the session and the window stay on the main thread), and
// on the main thread too while g_refuseOnMain is.
std::atomic<bool> g_refuseLarge{false};
std::atomic<bool> g_refuseOnMain{false};
const std::thread::id g_mainThread = std::this_thread::get_id();
// 1: the next refusal waits, 2 meanwhile, until the test sets 3 (and notifies).
std::atomic<int> g_hold{0};

void rioBeforeAllocation()
{
    if (g_refuseLarge.load(std::memory_order_relaxed) && riotest::replaced::requested >= 256 * 1024 &&
        (g_refuseOnMain.load(std::memory_order_relaxed) || std::this_thread::get_id() != g_mainThread)) {
        if (int armed = 1; g_hold.compare_exchange_strong(armed, 2))
            g_hold.wait(2);
        throw std::bad_alloc();
    }
}

namespace {

using rio::inspect::InspectorSession;

constexpr int waitMs = 30'000; // bounds every wait on a loaded machine

struct Target
{
    QProcess process;
    int countLine = 0;
    int stallLine = 0;

    // Starts the target, serving when `serve`, and reads where its handlers were added.
    bool start(bool serve)
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove(QStringLiteral("RIO_INSPECT"));
        if (serve)
            env.insert(QStringLiteral("RIO_INSPECT"), QStringLiteral("1"));
        process.setProcessEnvironment(env);
        process.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        process.start(QStringLiteral(RIO_INSPECT_TARGET), {});
        if (!process.waitForStarted(waitMs))
            return false;
        const QList<QByteArray> words = readLine().split(' ');
        if (words.size() != 4 || words[0] != "handlers")
            return false;
        countLine = words[2].toInt();
        stallLine = words[3].toInt();
        return true;
    }
    QByteArray readLine()
    {
        while (!process.canReadLine())
            if (!process.waitForReadyRead(waitMs))
                return {};
        return process.readLine().trimmed();
    }
    [[nodiscard]] QString name() const
    {
        return QStringLiteral("rio-inspect-inspect_target-%1").arg(process.processId());
    }
    // Closes its input: it ends normally.
    bool stop()
    {
        process.closeWriteChannel();
        return process.waitForFinished(waitMs) && process.exitStatus() == QProcess::NormalExit &&
               process.exitCode() == 0;
    }
};

// The inspector's window, loaded as registryio-inspect-gui loads it.
struct Inspector
{
    QQmlApplicationEngine engine;
    InspectorSession *session = nullptr;
    rio::DiagnosticsModel *model = nullptr;
    QQuickWindow *window = nullptr;

    bool load()
    {
        engine.addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH));
        engine.load(QUrl(QStringLiteral("qrc:/registryio/inspector/InspectorWindow.qml")));
        if (engine.rootObjects().isEmpty())
            return false;
        window = qobject_cast<QQuickWindow *>(engine.rootObjects().constFirst());
        session = qobject_cast<InspectorSession *>(window->property("session").value<QObject *>());
        model = session != nullptr ? qobject_cast<rio::DiagnosticsModel *>(session->model()) : nullptr;
        return model != nullptr;
    }
    [[nodiscard]] bool lists(const QString &name) const
    {
        for (const QVariant &a : session->applications())
            if (a.toMap().value(QStringLiteral("name")).toString() == name)
                return true;
        return false;
    }
    // The row of the handler added at `where` (file name:line) in `registry`, -1 if none.
    [[nodiscard]] int rowOf(const QString &registry, const QString &where) const
    {
        for (int row = 0; row < model->rowCount(); ++row) {
            const QModelIndex i = model->index(row, 0);
            if (i.data(rio::DiagnosticsModel::RegistryNameRole).toString() == registry &&
                i.data(rio::DiagnosticsModel::WhereRole).toString() == where)
                return row;
        }
        return -1;
    }
    // The texts of the items under `item` that would be read as markup (not Text.PlainText).
    static void markup(const QQuickItem *item, QStringList &texts)
    {
        if (item->inherits("QQuickText") && item->property("textFormat").toInt() != 0 /* PlainText */)
            texts.append(item->property("text").toString());
        for (const QQuickItem *c : item->childItems())
            markup(c, texts);
    }
    // Whether an item of the window shows `text` (a delegate of the table, the message...).
    [[nodiscard]] bool shows(const QString &text) const { return shows(window->contentItem(), text); }
    static bool shows(const QQuickItem *item, const QString &text)
    {
        if (item->isVisible() && item->property("text").toString() == text)
            return true;
        const QList<QQuickItem *> children = item->childItems();
        return std::any_of(children.begin(), children.end(),
                           [&](const QQuickItem *c) { return shows(c, text); });
    }
};

QString place(int line)
{
    return QStringLiteral("inspect_target.cpp:%1").arg(line);
}

// Registries as a serving application's snapshot has them: `count` registries of 5 handlers, timed.
QList<rio::RegistryInfo> registries(int count)
{
    QList<rio::RegistryInfo> list;
    for (int r = 0; r < count; ++r) {
        rio::RegistryInfo registry;
        registry.id = quint64(100 + r);
        registry.name = QStringLiteral("peer-%1").arg(r);
        registry.eventType = QStringLiteral("int");
        for (int h = 1; h <= 5; ++h) {
            rio::HandlerInfo handler;
            handler.id = rio::HandlerId(quint64(h));
            handler.file = QStringLiteral("/peer/peer.cpp");
            handler.line = h;
            handler.calls = quint64(h * 10);
            handler.timed = true;
            handler.runTime.count = 3;
            handler.runTime.maxNs = 5000;
            handler.runTime.nsPerTick = 1.0;
            handler.runTime.buckets[3] = 3;
            registry.handlers.append(handler);
        }
        list.append(registry);
    }
    return list;
}

// This process serving the two shares an application serves, with whatever bytes a test sends.
struct Peer
{
    QRemoteObjectHost host;
    rio::RemoteListener *listener = new rio::RemoteListener(&host); // owned by the host
    rio::QtRegistry<QByteArray> snapshots;
    rio::QtRegistry<QByteArray> timeline;
    std::unique_ptr<rio::RemoteShare<QByteArray>> snapshotShare;
    std::unique_ptr<rio::RemoteShare<QByteArray>> timelineShare;
    const QString name = QStringLiteral("rio-inspect-peer-%1").arg(QCoreApplication::applicationPid());

    // Sends `bytes` as snapshot `serial`'s pages.
    void send(quint64 serial, const QByteArray &bytes)
    {
        for (const QByteArray &page : rio::inspect::pages(serial, bytes))
            snapshots.notify(page);
    }
    bool listen()
    {
        if (!listener->listen(QUrl(QStringLiteral("local:") + name)))
            return false;
        snapshotShare =
            std::make_unique<rio::RemoteShare<QByteArray>>(&host, rio::inspect::snapshotShare, snapshots);
        timelineShare =
            std::make_unique<rio::RemoteShare<QByteArray>>(&host, rio::inspect::timelineShare, timeline);
        return true;
    }
};

// The inspector attached to a peer, its first snapshot shown: 2 registries, 10 rows.
struct Attached
{
    Peer peer;
    Inspector inspector;

    bool toPeer()
    {
        if (!peer.listen() || !inspector.load() || !inspector.session->attach(peer.name) ||
            !QTest::qWaitFor([this] { return peer.snapshotShare->base()->subscriberCount() > 0; }, waitMs))
            return false;
        peer.send(1, rio::inspect::encodeSnapshot(registries(2)));
        return QTest::qWaitFor(
            [this] {
                return inspector.session->state() == InspectorSession::Attached &&
                       inspector.model->rowCount() == 10;
            },
            waitMs);
    }
};

} // namespace

class tst_QuickInspector : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { rio::inspect::registerInspectorTypes(); }

    void attachShowsTheTableAndTimelineDetachesAndAttachesAgain()
    {
        Target target;
        QVERIFY(target.start(true));
        Inspector inspector;
        QVERIFY(inspector.load());
        QCOMPARE(inspector.model->rowCount(), 0); // never the inspector's own handlers
        QTRY_VERIFY_WITH_TIMEOUT(inspector.lists(target.name()), waitMs);

        QVERIFY(inspector.session->attach(target.name()));
        QTRY_COMPARE_WITH_TIMEOUT(inspector.session->state(), InspectorSession::Attached, waitMs);
        QTRY_VERIFY_WITH_TIMEOUT(inspector.rowOf(QStringLiteral("orders"), place(target.stallLine)) >= 0,
                                 waitMs);
        QVERIFY(inspector.rowOf(QStringLiteral("orders"), place(target.countLine)) >= 0);
        QVERIFY(!inspector.model->isLocal());
        QTRY_VERIFY_WITH_TIMEOUT(inspector.shows(place(target.stallLine)), waitMs); // a row of the table
        QVERIFY(inspector.session->message().contains(target.name()));

        // The timeline: the planted stall as a slow run, named by file and line, and frames.
        inspector.session->setTimelineShown(true);
        QVERIFY(target.readLine().startsWith("stalled")); // a stall in the timeline now
        QTRY_VERIFY_WITH_TIMEOUT(
            !inspector.session->frames().isEmpty() &&
                inspector.session->slowRuns().join(u'\n').contains(place(target.stallLine)),
            waitMs);
        QVERIFY(inspector.session->timelineSpan() > 0);

        inspector.session->detach();
        QCOMPARE(inspector.session->state(), InspectorSession::Detached);
        QTRY_COMPARE_WITH_TIMEOUT(inspector.model->rowCount(), 0, waitMs);
        QVERIFY(target.readLine().startsWith("stalled")); // it goes on

        QVERIFY(inspector.session->attach(QStringLiteral("local:") + target.name()));
        QTRY_COMPARE_WITH_TIMEOUT(inspector.session->state(), InspectorSession::Attached, waitMs);
        QTRY_VERIFY_WITH_TIMEOUT(inspector.rowOf(QStringLiteral("orders"), place(target.countLine)) >= 0,
                                 waitMs);
        QTRY_VERIFY_WITH_TIMEOUT(!inspector.session->frames().isEmpty(), waitMs);
        // Attaching elsewhere shows nothing of it, even where nothing serves.
        QVERIFY(!inspector.session->attach(QStringLiteral("rio-inspect-nobody-0")));
        QCOMPARE(inspector.session->state(), InspectorSession::Detached);
        QTRY_COMPARE_WITH_TIMEOUT(inspector.model->rowCount(), 0, waitMs);
        QVERIFY(inspector.session->frames().isEmpty());
        QVERIFY(target.stop());
    }

    void theApplicationKilledWhileAttachedIsSaidToHaveEnded()
    {
        Target target;
        QVERIFY(target.start(true));
        Inspector inspector;
        QVERIFY(inspector.load());
        QTRY_VERIFY_WITH_TIMEOUT(inspector.session->attach(target.name()), waitMs); // once it listens
        QTRY_COMPARE_WITH_TIMEOUT(inspector.session->state(), InspectorSession::Attached, waitMs);
        QTRY_VERIFY_WITH_TIMEOUT(inspector.model->rowCount() > 0, waitMs);
        const int rows = inspector.model->rowCount();
        const QString name = target.name(); // its process id is not known once it ended
        target.process.kill();
        QVERIFY(target.process.waitForFinished(waitMs));
        QTRY_COMPARE_WITH_TIMEOUT(inspector.session->state(), InspectorSession::Lost, waitMs);
        QVERIFY2(inspector.session->message().contains(QStringLiteral("ended")),
                 qPrintable(inspector.session->message()));
        QVERIFY(inspector.shows(inspector.session->message()));
        QCOMPARE(inspector.model->rowCount(), rows); // its last table
        inspector.session->rescan();
        QVERIFY(!inspector.lists(name));
        inspector.session->detach();
        const QDir temp(QDir::tempPath()); // what the killed process left
        QFile::remove(temp.filePath(name));
        QFile::remove(temp.filePath(name + QStringLiteral(".lock")));
        QTRY_COMPARE_WITH_TIMEOUT(inspector.model->rowCount(), 0, waitMs);
    }

    void anApplicationThatDoesNotServeIsSaidSo()
    {
        Target target;
        QVERIFY(target.start(false));
        Inspector inspector;
        QVERIFY(inspector.load());
        QVERIFY(!target.readLine().isEmpty()); // well under way
        inspector.session->rescan();
        QVERIFY(!inspector.lists(target.name()));
        QVERIFY(!inspector.session->attach(target.name()));
        QCOMPARE(inspector.session->state(), InspectorSession::Detached);
        QVERIFY2(inspector.session->message().contains(QStringLiteral("Nothing serves at")),
                 qPrintable(inspector.session->message()));
        QVERIFY(target.stop());

        // A socket of this user that never answers as an application serving does.
        QLocalServer silent;
        const QString name = QStringLiteral("rio-inspect-silent-%1").arg(QCoreApplication::applicationPid());
        QLocalServer::removeServer(name);
        QVERIFY(silent.listen(name));
        inspector.session->setTimeout(1000);
        QVERIFY(inspector.session->attach(name));
        QTRY_COMPARE_WITH_TIMEOUT(inspector.session->state(), InspectorSession::Detached, waitMs);
        QVERIFY2(inspector.session->message().contains(QStringLiteral("does not serve")),
                 qPrintable(inspector.session->message()));
        QCOMPARE(inspector.model->rowCount(), 0);
    }

    // A timeline is read as the bytes it is, up to maxTimelineBytes: one compressed to a 200th of
    // its size and saying it is 1 KiB (as qCompress's header does) is no timeline, for the window
    // and for `registryio-inspect trace`, which writes nothing; nor is one over the bound. The
    // next good one is shown.
    void aTimelineIsReadAsItsBytesUpToItsBound()
    {
        Peer peer;
        QVERIFY(peer.listen());
        Inspector inspector;
        QVERIFY(inspector.load());
        QVERIFY(inspector.session->attach(peer.name));
        inspector.session->setTimelineShown(true);
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("trace.json"));
        QProcess tool;
        tool.start(QStringLiteral(RIO_INSPECT_TOOL), {QStringLiteral("trace"), peer.name, path});
        QTRY_COMPARE_WITH_TIMEOUT(peer.timelineShare->base()->subscriberCount(), 2, waitMs);
        QSignalSpy read(inspector.session, &InspectorSession::timelineChanged);
        const auto document = [](qsizetype padding) {
            QJsonArray events;
            for (int i = 0; i < 5; ++i)
                events.append(
                    QJsonObject{{QStringLiteral("cat"), QStringLiteral("frame")},
                                {QStringLiteral("ts"), i * 10.0},
                                {QStringLiteral("dur"), 5.0},
                                {QStringLiteral("tid"), 1},
                                {QStringLiteral("args"), QJsonObject{{QStringLiteral("frame"), i}}}});
            return QJsonDocument(QJsonObject{{QStringLiteral("traceEvents"), events},
                                             {QStringLiteral("padding"), QString(padding, u' ')}})
                .toJson(QJsonDocument::Compact);
        };
        QByteArray bomb = qCompress(document(rio::inspect::maxTimelineBytes * 3 / 2), 9);
        QVERIFY(bomb.size() * 200 < rio::inspect::maxTimelineBytes);
        bomb.replace(0, 4, QByteArray::fromHex("00000400")); // "1 KiB"
        peer.timeline.notify(bomb);
        QTRY_COMPARE_WITH_TIMEOUT(tool.state(), QProcess::NotRunning, waitMs);
        QCOMPARE(tool.exitCode(), 1);
        QVERIFY(!QFile::exists(path));
        QTRY_COMPARE_WITH_TIMEOUT(read.size(), 1, waitMs);
        QVERIFY(inspector.session->frames().isEmpty());
        peer.timeline.notify(document(rio::inspect::maxTimelineBytes)); // over the bound, uncompressed
        QTRY_COMPARE_WITH_TIMEOUT(read.size(), 2, waitMs);
        QVERIFY(inspector.session->frames().isEmpty());
        peer.timeline.notify(document(0));
        QTRY_COMPARE_WITH_TIMEOUT(read.size(), 3, waitMs);
        QCOMPARE(inspector.session->frames().size(), 5);
        inspector.session->detach();
    }

    // The application attached to stops serving and another socket takes its name (the
    // application started again, or, as root shows, another user's socket open to all): the window
    // says so and keeps the last table, and registryio-inspect ends, saying so; neither ever
    // connects to the new socket.
    void aSocketThatTakesTheNameLaterIsNeverRead()
    {
        auto first = std::make_unique<Peer>();
        QVERIFY(first->listen());
        const QString name = first->name;
        Inspector inspector;
        QVERIFY(inspector.load());
        QVERIFY(inspector.session->attach(name));
        QProcess tool;
        tool.start(QStringLiteral(RIO_INSPECT_TOOL),
                   {QStringLiteral("table"), name, QStringLiteral("--count"), QStringLiteral("1000")});
        QTRY_COMPARE_WITH_TIMEOUT(first->snapshotShare->base()->subscriberCount(), 2, waitMs);
        first->send(1, rio::inspect::encodeSnapshot(registries(2)));
        QTRY_COMPARE_WITH_TIMEOUT(inspector.model->rowCount(), 10, waitMs);
        QByteArray printed;
        QTRY_VERIFY_WITH_TIMEOUT((printed += tool.readAllStandardOutput()).contains(" handlers\n"), waitMs);

        first.reset();
        Peer other;
        QVERIFY(other.listen());
        if (::geteuid() == 0) { // another user's socket, open to all
            const QByteArray path = QFile::encodeName(QDir(QDir::tempPath()).filePath(name));
            QCOMPARE(::chmod(path.constData(), 0777), 0);
            QCOMPARE(::chown(path.constData(), 65534, 65534), 0);
        }
        QList<rio::RegistryInfo> forged = registries(1);
        forged[0].name = QStringLiteral("forged");
        quint64 serial = 1;
        QVERIFY(QTest::qWaitFor(
            [&] {
                if (other.snapshotShare->base()->subscriberCount() > 0)
                    other.send(++serial, rio::inspect::encodeSnapshot(forged));
                return tool.state() == QProcess::NotRunning &&
                       inspector.session->message().contains(QStringLiteral("is another socket now"));
            },
            waitMs));
        QCOMPARE(tool.exitCode(), 1);
        QVERIFY(!(printed + tool.readAllStandardOutput()).contains("forged"));
        QVERIFY(tool.readAllStandardError().contains(name.toUtf8()));
        QCOMPARE(inspector.session->state(), InspectorSession::Lost);
        QCOMPARE(inspector.model->rowCount(), 10); // the last table of the one attached to
        QCOMPARE(other.snapshotShare->base()->subscriberCount(), 0);
        QCOMPARE(serial, quint64(1));
        inspector.session->detach();
    }

    // registryio-inspect-gui --help says how it is used, and needs no display.
    void theWindowsHelpIsPrinted()
    {
        QProcess gui;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove(QStringLiteral("QT_QPA_PLATFORM"));
        env.remove(QStringLiteral("DISPLAY"));
        env.remove(QStringLiteral("WAYLAND_DISPLAY"));
        gui.setProcessEnvironment(env);
        gui.start(QStringLiteral(RIO_INSPECT_GUI), {QStringLiteral("--help")});
        const bool ended = gui.waitForFinished(waitMs);
        if (!ended)
            gui.kill();
        QVERIFY(ended);
        QCOMPARE(gui.exitCode(), 0);
        QVERIFY(gui.readAllStandardOutput().startsWith("usage: registryio-inspect-gui"));
    }

    // A registry without a name keeps its row's values under their headings: its first cell is
    // blank, not gone.
    void anUnnamedRegistrysRowKeepsItsColumns()
    {
        Peer peer;
        QVERIFY(peer.listen());
        QList<rio::RegistryInfo> unnamed = registries(1);
        unnamed[0].name.clear();
        for (rio::HandlerInfo &h : unnamed[0].handlers)
            h.registryName.clear();
        QProcess tool;
        tool.start(QStringLiteral(RIO_INSPECT_TOOL), {QStringLiteral("table"), peer.name});
        QTRY_COMPARE_WITH_TIMEOUT(peer.snapshotShare->base()->subscriberCount(), 1, waitMs);
        peer.send(1, rio::inspect::encodeSnapshot(unnamed));
        QTRY_COMPARE_WITH_TIMEOUT(tool.state(), QProcess::NotRunning, waitMs);
        const QList<QByteArray> lines = tool.readAllStandardOutput().split('\n');
        QVERIFY(lines.size() > 2 && lines[0].startsWith("registry  id  where"));
        const qsizetype calls = lines[0].indexOf("calls") + 5;  // right-aligned: the column's end
        QCOMPARE(lines[1].left(10), QByteArray(8, ' ') + "  "); // the blank name, then the id
        QCOMPARE(lines[1].mid(calls - 2, 2), QByteArray("10")); // handler 1: 10 calls, under its heading
    }

    // What a peer sends is read by decodeSnapshot only if it is whole and of this version: every
    // cut is refused, and a changed byte anywhere is refused or read (the structure holds: counts,
    // lengths and histogram sizes are checked as read), never a crash or an allocation the bytes
    // do not carry.
    void snapshotBytesCutOrChangedAreRefusedOrRead()
    {
        const QByteArray bytes = rio::inspect::encodeSnapshot(registries(3));
        QList<rio::RegistryInfo> read;
        QVERIFY(rio::inspect::decodeSnapshot(bytes, read));
        QCOMPARE(read.size(), 3);
        QCOMPARE(read[2].handlers[4].line, 5);
        QCOMPARE(read[2].handlers[4].runTime.maxNs, quint64(5000));
        for (qsizetype cut = 0; cut < bytes.size(); ++cut) {
            QList<rio::RegistryInfo> partial;
            QVERIFY2(!rio::inspect::decodeSnapshot(bytes.left(cut), partial),
                     qPrintable(QString::number(cut)));
        }
        QVERIFY(!rio::inspect::decodeSnapshot(bytes + '\0', read)); // more than it made
        // Read back, it is written again byte for byte: every field, every string, as encoded.
        QCOMPARE(rio::inspect::encodeSnapshot(read), bytes);
        QCOMPARE(read[1].handlers[0].registryName, QStringLiteral("peer-1"));
        // An older peer's (QDataStream, version 1: big-endian, no registry) is another version.
        QList<rio::RegistryInfo> old;
        QVERIFY(!rio::inspect::decodeSnapshot(QByteArray::fromHex("0000000100000000"), old));

        // A connection that is no Qt::ConnectionType (its values fit in 9 bits): refused, as
        // reading it as one is undefined (the model's thread column compares it).
        QList<rio::RegistryInfo> marked = registries(1);
        marked[0].handlers[2].connection =
            Qt::ConnectionType(Qt::DirectConnection | Qt::UniqueConnection | Qt::SingleShotConnection);
        QByteArray typed = rio::inspect::encodeSnapshot(marked);
        const qsizetype field = typed.indexOf(QByteArray::fromHex("81010000")); // little-endian
        QVERIFY(field > 0);
        QList<rio::RegistryInfo> valid;
        QVERIFY(rio::inspect::decodeSnapshot(typed, valid));
        QCOMPARE(int(valid[0].handlers[2].connection), 0x181);
        for (const char *word : {"00020000", "ffffff7f", "ffffffff"}) {
            QList<rio::RegistryInfo> any;
            QVERIFY2(!rio::inspect::decodeSnapshot(typed.replace(field, 4, QByteArray::fromHex(word)), any),
                     word);
        }
        // Nor a Delivery, an Overflow or a flag that is none (the bytes after the connection).
        for (const qsizetype at : {field + 4, field + 13, field + 14}) {
            QByteArray other = rio::inspect::encodeSnapshot(marked);
            other[at] = char(0x10);
            QList<rio::RegistryInfo> any;
            QVERIFY2(!rio::inspect::decodeSnapshot(other, any), qPrintable(QString::number(at - field)));
        }
        QRandomGenerator random(20261128);
        int refused = 0;
        for (int round = 0; round < 4000; ++round) {
            QByteArray changed = bytes;
            const auto at = random.bounded(changed.size());
            // A byte at random, or a word of all ones (a count or length at its largest).
            if (round % 2 == 0) {
                changed[at] = char(random.bounded(256));
            } else {
                for (qsizetype k = at; k < std::min(changed.size(), at + 4); ++k)
                    changed[k] = char(0xff);
            }
            QList<rio::RegistryInfo> any;
            refused += rio::inspect::decodeSnapshot(changed, any) ? 0 : 1;
        }
        QVERIFY(refused > 0);
    }

    // What a decoded snapshot costs is bounded whatever its bytes say: a reader reads 64 MiB of
    // pages at most (what a server serves), and a snapshot of more handlers, registries or
    // strings than are read is refused before any is made (a handler's record of 241 bytes
    // would be a HandlerInfo of about 1.4 KB); so are values no field has (a clock tick that is
    // not a positive finite time, handler id 0).
    void aSnapshotCostsWhatItsBytesBound()
    {
        QCOMPARE(qsizetype(rio::inspect::maxPages) * rio::inspect::pageBytes, qsizetype(64) << 20);
        rio::inspect::PageReader reader;
        QByteArray whole;
        QByteArray over = rio::inspect::pages(1, QByteArray(rio::inspect::pageBytes, 'x'))[0];
        over.replace(16, 4, QByteArray::fromHex("00000101")); // the first of 257 pages
        QVERIFY(!reader.add(over, whole));
        QVERIFY(reader.corrupt());

        // One registry of 131,073 handlers of the least bytes (every name the empty string).
        QList<rio::RegistryInfo> one(1);
        one[0].handlers.resize(1);
        one[0].handlers[0].id = rio::HandlerId(quint64(1));
        const QByteArray least = rio::inspect::encodeSnapshot(one);
        constexpr qsizetype registryAt = 12, handlerAt = registryAt + 77;
        const auto tableAt = qFromLittleEndian<quint32>(least.constData() + 4);
        const QByteArray record = least.mid(handlerAt, tableAt - handlerAt);
        QCOMPARE(record.size(), 241);
        const auto amplified = [&](quint32 handlers) {
            QByteArray b = least.left(handlerAt);
            qToLittleEndian(handlers, b.data() + handlerAt - 4);
            b.reserve(b.size() + record.size() * handlers + 8);
            for (quint32 i = 0; i < handlers; ++i)
                b.append(record);
            qToLittleEndian(quint32(b.size()), b.data() + 4);
            return b + least.mid(tableAt);
        };
        QList<rio::RegistryInfo> read;
        QVERIFY(rio::inspect::decodeSnapshot(amplified(1000), read));
        QCOMPARE(read[0].handlers.size(), 1000);
        read.clear();
        QVERIFY(!rio::inspect::decodeSnapshot(amplified((1U << 17) + 1), read));
        // 65,537 registries; a table of 262,145 strings (and of 262,144, read).
        QVERIFY(!rio::inspect::decodeSnapshot(
            rio::inspect::encodeSnapshot(QList<rio::RegistryInfo>((1 << 16) + 1)), read));
        const auto table = [](quint32 strings) {
            QByteArray b = QByteArray::fromHex("030000000c00000000000000");
            b.append(QByteArray(4, '\0'));
            qToLittleEndian(strings, b.data() + 12);
            return b + QByteArray(qsizetype(strings) * 4, '\0');
        };
        QVERIFY(rio::inspect::decodeSnapshot(table(1U << 18), read));
        QVERIFY(!rio::inspect::decodeSnapshot(table((1U << 18) + 1), read));

        for (const double tick : {std::nan(""), HUGE_VAL, -HUGE_VAL, -1.0, 0.0}) {
            QList<rio::RegistryInfo> odd = registries(1);
            odd[0].handlers[2].queueDelay.nsPerTick = tick;
            QList<rio::RegistryInfo> any;
            QVERIFY2(!rio::inspect::decodeSnapshot(rio::inspect::encodeSnapshot(odd), any),
                     qPrintable(QString::number(tick)));
        }
        QList<rio::RegistryInfo> zero = registries(1);
        zero[0].handlers[3].id = rio::HandlerId();
        QVERIFY(!rio::inspect::decodeSnapshot(rio::inspect::encodeSnapshot(zero), read));
    }

    // An application's names are text: registryio-inspect prints their control characters as
    // escapes (an escape sequence neither clears the terminal nor colours it, a line break forges
    // no row), and every text of the window is plain (a name's `<img src=…>` is not shown as one).
    void anApplicationsNamesAreShownAsText()
    {
        Peer peer;
        QVERIFY(peer.listen());
        QList<rio::RegistryInfo> named = registries(1);
        named[0].name = QStringLiteral("evil\x1b[2J\nforged  99  x.cpp:1");
        for (rio::HandlerInfo &h : named[0].handlers) {
            h.registryName = named[0].name;
            h.hasContext = true;
            h.contextThreadName = QStringLiteral("<img src=\"file:///etc/passwd\">\u009b31m");
        }
        QProcess tool;
        tool.start(QStringLiteral(RIO_INSPECT_TOOL), {QStringLiteral("table"), peer.name});
        Inspector inspector;
        QVERIFY(inspector.load());
        QVERIFY(inspector.session->attach(peer.name));
        QTRY_COMPARE_WITH_TIMEOUT(peer.snapshotShare->base()->subscriberCount(), 2, waitMs);
        for (const QByteArray &page : rio::inspect::pages(1, rio::inspect::encodeSnapshot(named)))
            peer.snapshots.notify(page);
        QTRY_COMPARE_WITH_TIMEOUT(tool.state(), QProcess::NotRunning, waitMs);
        QCOMPARE(tool.exitCode(), 0);
        const QString out = QString::fromUtf8(tool.readAllStandardOutput());
        QVERIFY2(!out.contains(QChar(0x1b)) && !out.contains(QChar(0x9b)), qPrintable(out));
        QCOMPARE(out.count(QLatin1Char('\n')), 1 + 5 + 1); // the heading, 5 rows, the count
        QVERIFY2(out.contains(QStringLiteral("evil\\x1b[2J\\nforged")), qPrintable(out));

        QTRY_COMPARE_WITH_TIMEOUT(inspector.model->rowCount(), 5, waitMs);
        QStringList rich;
        Inspector::markup(inspector.window->contentItem(), rich);
        QVERIFY2(rich.isEmpty(), qPrintable(rich.join(QLatin1Char('|'))));
        inspector.session->detach();
    }

    // A snapshot comes in pages: read whole in order; one missing a page, or pages of two
    // snapshots mixed, give nothing of it; what is not a page is said so.
    void pagesAreReadWholeAndInOrderOnly()
    {
        QByteArray bytes(rio::inspect::pageBytes * 2 + 1000, Qt::Uninitialized);
        for (qsizetype i = 0; i < bytes.size(); ++i)
            bytes[i] = char(i * 7);
        const QList<QByteArray> first = rio::inspect::pages(1, bytes);
        const QList<QByteArray> second = rio::inspect::pages(2, bytes.left(100));
        QCOMPARE(first.size(), 3);
        QCOMPARE(second.size(), 1);
        rio::inspect::PageReader reader;
        QByteArray whole;
        QVERIFY(!reader.add(first[0], whole) && !reader.corrupt());
        QVERIFY(!reader.add(first[1], whole) && !reader.corrupt());
        QVERIFY(reader.add(first[2], whole));
        QCOMPARE(whole, bytes);
        // One missing: nothing of it, and the next is read whole.
        QVERIFY(!reader.add(first[0], whole));
        QVERIFY(!reader.add(first[2], whole));
        QVERIFY(!reader.corrupt());
        QVERIFY(reader.add(second[0], whole));
        QCOMPARE(whole, bytes.left(100));
        // Another snapshot's page in between: neither is read, the first begins again.
        QVERIFY(!reader.add(first[0], whole));
        QVERIFY(!reader.add(rio::inspect::pages(3, bytes)[1], whole));
        QVERIFY(!reader.add(first[1], whole));
        QVERIFY(!reader.add(first[2], whole));
        QVERIFY(!reader.add(first[0], whole));
        QVERIFY(!reader.add(first[1], whole));
        QVERIFY(reader.add(first[2], whole));
        QCOMPARE(whole, bytes);
        // Not pages: too short, no page count, an index past it, more pages than are read.
        for (const QByteArray &bad :
             {QByteArray("short"), first[0].left(16), first[0].left(16) + QByteArray::fromHex("00000000"),
              first[0].left(12) + QByteArray::fromHex("0000000300000003"),
              first[0].left(12) + QByteArray::fromHex("00000000ffffffff")}) {
            QVERIFY(!reader.add(bad, whole));
            QVERIFY2(reader.corrupt(), bad.toHex().constData());
        }
    }

    // A peer that begins snapshots and never finishes one (its first page again and again, or
    // the rest of one whose first never comes) is said to, within twice the pages announced; a
    // reader that lost the first pages of one and reads the next whole is not.
    void pagesWithoutAWholeSnapshotAreSaidSo()
    {
        const QList<QByteArray> two = rio::inspect::pages(1, QByteArray(rio::inspect::pageBytes + 10, 'x'));
        for (const QByteArray &again : {two[0], two[1]}) {
            rio::inspect::PageReader reader;
            QByteArray whole;
            int pages = 0;
            while (!reader.stalled() && pages < 100) {
                QVERIFY(!reader.add(again, whole) && !reader.corrupt());
                ++pages;
            }
            QCOMPARE(pages, 6);
            QVERIFY(!reader.add(again, whole) && !reader.stalled()); // said once per bound
        }
        rio::inspect::PageReader reader;
        QByteArray whole;
        const QList<QByteArray> next = rio::inspect::pages(2, QByteArray(rio::inspect::pageBytes + 10, 'y'));
        for (int round = 0; round < 50; ++round) {
            QVERIFY(!reader.add(two[1], whole)); // its first page went
            QVERIFY(!reader.add(next[0], whole));
            QVERIFY(reader.add(next[1], whole));
            QVERIFY(!reader.stalled());
        }
    }

    // A page holds what its place says and no more: a reader never holds more than a snapshot
    // of maxPages pages, and a snapshot whose pages disagree on their count is not one.
    void aPageHoldsItsSizeOnly()
    {
        const QByteArray bytes(rio::inspect::pageBytes * 2 + 10, 'x');
        const QList<QByteArray> good = rio::inspect::pages(1, bytes);
        rio::inspect::PageReader reader;
        QByteArray whole;
        // Larger than a page, a page short of its place, the last one over a page.
        for (const QByteArray &bad :
             {good[0] + 'z', good[1].chopped(1), good[2] + QByteArray(rio::inspect::pageBytes, 'z')}) {
            QVERIFY(!reader.add(bad, whole));
            QVERIFY2(reader.corrupt(), bad.left(rio::inspect::pageHeaderBytes).toHex().constData());
        }
        // Pages whose count changes on the way (fewer or more): not a snapshot, nor part of one.
        for (const char *count : {"00000002", "00000004"}) {
            QByteArray recounted = good[1];
            recounted.replace(16, 4, QByteArray::fromHex(count));
            QVERIFY(!reader.add(good[0], whole) && !reader.corrupt());
            QVERIFY(!reader.add(recounted, whole));
            QVERIFY(reader.corrupt());
            QVERIFY(!reader.add(good[2], whole));
        }
        // The next is read whole.
        QVERIFY(!reader.add(good[0], whole));
        QVERIFY(!reader.add(good[1], whole));
        QVERIFY(reader.add(good[2], whole));
        QCOMPARE(whole, bytes);
    }

    // The snapshots of a server that does not send pages (an older RegistryIO) are said to be
    // unreadable, whatever their first registry; and pages are unreadable to such an inspector.
    void anUnpagedSnapshotIsNotAPage()
    {
        for (const int count : {0, 1, 2, 3}) {
            QList<rio::RegistryInfo> list = registries(count);
            for (qsizetype r = 0; r < list.size(); ++r)
                list[r].id = quint64(r + 1); // a first registry 1, the second 2...
            std::reverse(list.begin(), list.end());
            rio::inspect::PageReader reader;
            QByteArray whole;
            // An unpaged snapshot: the version of its encoding, then its registries.
            const QByteArray unpaged = rio::inspect::encodeSnapshot(list);
            QVERIFY(!reader.add(unpaged, whole));
            QVERIFY2(reader.corrupt(), unpaged.left(rio::inspect::pageHeaderBytes).toHex().constData());
        }
        QDataStream page(rio::inspect::pages(1, rio::inspect::encodeSnapshot(registries(1)))[0]);
        quint32 first = 0;
        page >> first;
        QVERIFY(first != rio::inspect::snapshotVersion);
    }

    // The model runs out of memory making the rows of a snapshot (on its worker thread, which
    // catches it): the session says so, in its state and in the window's message, and the table
    // keeps the rows shown; once a snapshot's rows are made, it is attached again.
    void theModelOutOfMemoryIsSaidAndTheLastTableStays()
    {
        Attached attached;
        QVERIFY(attached.toPeer());
        Peer &peer = attached.peer;
        Inspector &inspector = attached.inspector;

        // 10,000 handlers: their rows' sort keys alone take 400 KB.
        const QByteArray large = rio::inspect::encodeSnapshot(registries(2000));
        g_refuseLarge = true;
        peer.send(2, large);
        QTRY_COMPARE_WITH_TIMEOUT(inspector.session->state(), InspectorSession::Lost, waitMs);
        g_refuseLarge = false;
        const QString said = inspector.session->message();
        QVERIFY2(said.contains(QStringLiteral("not the memory")), qPrintable(said));
        QVERIFY(inspector.shows(said));
        QCOMPARE(inspector.model->rowCount(), 10);
        QVERIFY(inspector.model->isOutOfMemory());

        peer.send(3, large);
        QTRY_COMPARE_WITH_TIMEOUT(inspector.session->state(), InspectorSession::Attached, waitMs);
        QTRY_COMPARE_WITH_TIMEOUT(inspector.model->rowCount(), 10'000, waitMs);
        QVERIFY(!inspector.model->isOutOfMemory());
        inspector.session->detach();
    }

    // The worker runs out of memory making the rows of a snapshot while a newer one arrives, of
    // the same attachment or of a new one: that is shown next, and the older one's want of memory
    // is not said of it (the session ends Attached, saying the newer one's count).
    void anOlderSnapshotsWantOfMemoryIsNotSaidOfANewerOne_data()
    {
        QTest::addColumn<bool>("reattach");
        QTest::newRow("same attachment") << false;
        QTest::newRow("attached again") << true;
    }
    void anOlderSnapshotsWantOfMemoryIsNotSaidOfANewerOne()
    {
        QFETCH(bool, reattach);
        Attached attached;
        QVERIFY(attached.toPeer());
        Peer &peer = attached.peer;
        Inspector &inspector = attached.inspector;
        const auto release = [] {
            g_refuseLarge = false;
            g_hold = 3;
            g_hold.notify_all();
        };
        const auto restore = qScopeGuard(release);
        g_hold = 1;
        g_refuseLarge = true;
        peer.send(2, rio::inspect::encodeSnapshot(registries(2000)));
        QTRY_COMPARE_WITH_TIMEOUT(g_hold.load(), 2, waitMs); // the worker is out of memory, not yet said
        g_refuseLarge = false;
        if (reattach) {
            inspector.session->detach();
            QTRY_COMPARE_WITH_TIMEOUT(peer.snapshotShare->base()->subscriberCount(), 0, waitMs);
            QVERIFY(inspector.session->attach(peer.name));
            QTRY_VERIFY_WITH_TIMEOUT(peer.snapshotShare->base()->subscriberCount() > 0 &&
                                         peer.snapshotShare->base()->subscribers().value(0).receiving,
                                     waitMs);
        }
        // The newer one is read once the older one's rows are done with (the model holds one
        // snapshot given at a time), whether it arrived before that or after.
        peer.send(3, rio::inspect::encodeSnapshot(registries(3)));
        QStringList said; // what the session says from now on
        connect(inspector.session, &InspectorSession::stateChanged, this,
                [&] { said.append(inspector.session->message()); });
        release();
        QTRY_VERIFY_WITH_TIMEOUT(inspector.model->rowCount() == 15 && !said.isEmpty() &&
                                     said.last().contains(QStringLiteral("15 handlers")),
                                 waitMs);
        QCOMPARE(inspector.session->state(), InspectorSession::Attached);
        QVERIFY(!inspector.model->isOutOfMemory());
        inspector.session->detach();
    }

    // The worker ran out of memory making a snapshot's rows, and the model's thread has not the
    // memory either as the filter is typed (a refresh there): said, not a crash; the table stays,
    // and the next filter with the memory shows the snapshot's rows.
    void aFilterTypedWithoutTheMemoryIsSaidNotACrash()
    {
        Attached attached;
        QVERIFY(attached.toPeer());
        Peer &peer = attached.peer;
        Inspector &inspector = attached.inspector;
        const auto restore = qScopeGuard([] { g_refuseLarge = g_refuseOnMain = false; });
        g_refuseLarge = true;
        peer.send(2, rio::inspect::encodeSnapshot(registries(2000)));
        QTRY_COMPARE_WITH_TIMEOUT(inspector.session->state(), InspectorSession::Lost, waitMs);

        QSignalSpy refreshed(inspector.model, &rio::DiagnosticsModel::refreshed);
        g_refuseOnMain = true;
        inspector.model->setRegistryFilter(QStringLiteral("peer")); // every registry: 10,000 rows
        g_refuseOnMain = g_refuseLarge = false;
        QCOMPARE(refreshed.size(), 1);
        QVERIFY(inspector.model->isOutOfMemory());
        QCOMPARE(inspector.model->rowCount(), 10);
        QCOMPARE(inspector.session->state(), InspectorSession::Lost);

        inspector.model->setRegistryFilter({});
        QCOMPARE(inspector.model->rowCount(), 10'000);
        QVERIFY(!inspector.model->isOutOfMemory());
        QCOMPARE(inspector.session->state(), InspectorSession::Attached);
        inspector.session->detach();
    }

    void aHostilePeerIsSaidSoAndTheLastGoodTableStays()
    {
        auto owned = std::make_unique<Peer>();
        Peer &peer = *owned;
        QVERIFY(peer.listen());
        Inspector inspector;
        QVERIFY(inspector.load());
        QVERIFY(inspector.session->attach(peer.name));
        QTRY_VERIFY_WITH_TIMEOUT(peer.snapshotShare->base()->subscriberCount() > 0, waitMs);

        peer.snapshots.notify(QByteArrayLiteral("not a page"));
        QTRY_COMPARE_WITH_TIMEOUT(inspector.session->state(), InspectorSession::Lost, waitMs);
        QVERIFY2(inspector.session->message().contains(QStringLiteral("cannot read")),
                 qPrintable(inspector.session->message()));

        const QByteArray good = rio::inspect::encodeSnapshot(registries(2));
        peer.send(1, good);
        QTRY_COMPARE_WITH_TIMEOUT(inspector.session->state(), InspectorSession::Attached, waitMs);
        QTRY_VERIFY_WITH_TIMEOUT(inspector.rowOf(QStringLiteral("peer-1"), QStringLiteral("peer.cpp:5")) >= 0,
                                 waitMs);
        QTRY_COMPARE_WITH_TIMEOUT(inspector.model->rowCount(), 10, waitMs);

        peer.send(2, good.left(good.size() / 2));
        QTRY_COMPARE_WITH_TIMEOUT(inspector.session->state(), InspectorSession::Lost, waitMs);
        QCOMPARE(inspector.model->rowCount(), 10); // the last good table

        // The first page of a snapshot of two, again and again: said, not waited on for ever.
        peer.send(3, good);
        QTRY_COMPARE_WITH_TIMEOUT(inspector.session->state(), InspectorSession::Attached, waitMs);
        const QByteArray first = rio::inspect::pages(4, QByteArray(rio::inspect::pageBytes + 1, 'x'))[0];
        for (int i = 0; i < 6; ++i)
            peer.snapshots.notify(first);
        QTRY_COMPARE_WITH_TIMEOUT(inspector.session->state(), InspectorSession::Lost, waitMs);
        QVERIFY2(inspector.session->message().contains(QStringLiteral("no whole one")),
                 qPrintable(inspector.session->message()));
        QCOMPARE(inspector.model->rowCount(), 10);

        // Timelines of every shape but the right one: read as far as they make sense.
        inspector.session->setTimelineShown(true);
        QTRY_VERIFY_WITH_TIMEOUT(peer.timelineShare->base()->subscriberCount() > 0, waitMs);
        QSignalSpy read(inspector.session, &InspectorSession::timelineChanged);
        const auto frame = [](qint64 number, double ts, double dur) {
            return QJsonObject{{QStringLiteral("cat"), QStringLiteral("frame")},
                               {QStringLiteral("ph"), QStringLiteral("X")},
                               {QStringLiteral("ts"), ts},
                               {QStringLiteral("dur"), dur},
                               {QStringLiteral("tid"), 1},
                               {QStringLiteral("args"), QJsonObject{{QStringLiteral("frame"), number}}}};
        };
        const auto run = [](const char *cat, qint64 frameNumber, qint64 tid) {
            return QJsonObject{
                {QStringLiteral("cat"), QLatin1String(cat)},
                {QStringLiteral("ts"), 5.0},
                {QStringLiteral("dur"), 2.0},
                {QStringLiteral("tid"), tid},
                {QStringLiteral("args"), QJsonObject{{QStringLiteral("frame"), frameNumber},
                                                     {QStringLiteral("file"), 7},
                                                     {QStringLiteral("line"), QStringLiteral("x")}}}};
        };
        QJsonArray many;
        for (int i = 0; i < 5000; ++i)
            many.append(frame(i, i * 10.0, i % 3 == 0 ? -1.0 : 5.0));
        many.append(run("handler", 4999, 1));
        many.append(run("slow", 123456, 1)); // a frame the timeline does not have
        many.append(run("stall", 1, 99));
        const auto document = [](const QJsonValue &events) {
            return QJsonDocument(QJsonObject{{QStringLiteral("traceEvents"), events}}).toJson();
        };
        const QList<QByteArray> hostile{
            QByteArrayLiteral("not JSON"),
            QByteArrayLiteral("[1, 2, 3]"),
            qCompress(document(QJsonArray{frame(1, 0.0, 1.0)})), // compressed: no document
            document(5),
            document(QJsonArray{1, QStringLiteral("x"), QJsonArray{}, QJsonObject{}}),
            document(QJsonArray{run("handler", 1, 1), run("slow", 1, 2)}), // runs without frames
            document(many),
        };
        for (qsizetype i = 0; i < hostile.size(); ++i) {
            peer.timeline.notify(hostile[i]);
            QTRY_COMPARE_WITH_TIMEOUT(read.size(), i + 1, waitMs);
            QVERIFY(inspector.session->frames().size() <= InspectorSession::framesShown);
        }
        QCOMPARE(inspector.session->frames().size(), InspectorSession::framesShown);
        QCOMPARE(inspector.session->slowRuns().size(), 2);
        QCOMPARE(inspector.model->rowCount(), 10);

        // One frame of 20,000 runs (a third of a megabyte compressed): each run would be an item
        // of the window; its slow run and longest ones are kept, the window stays responsive.
        QJsonArray crowded{frame(1, 0.0, 16'000.0)};
        for (int i = 0; i < 20'000; ++i) {
            QJsonObject r = run(i == 12'345 ? "slow" : "handler", 1, 1);
            r[QStringLiteral("ts")] = i * 0.5;
            r[QStringLiteral("dur")] = i == 777 ? 300.0 : 0.25;
            crowded.append(r);
        }
        peer.timeline.notify(document(crowded));
        QTRY_COMPARE_WITH_TIMEOUT(read.size(), hostile.size() + 1, waitMs);
        QCOMPARE(inspector.session->frames().size(), 1);
        const QVariantList runs = inspector.session->frames()[0].toMap()[QStringLiteral("runs")].toList();
        QCOMPARE(runs.size(), InspectorSession::runsShown);
        QVERIFY(runs[0].toMap()[QStringLiteral("start")].toDouble() <=
                runs[1].toMap()[QStringLiteral("start")].toDouble());
        QVERIFY(std::any_of(runs.begin(), runs.end(),
                            [](const QVariant &r) { return r.toMap()[QStringLiteral("slow")].toBool(); }));
        QVERIFY(std::any_of(runs.begin(), runs.end(), [](const QVariant &r) {
            return r.toMap()[QStringLiteral("duration")].toDouble() == 300.0;
        }));

        // The peer goes while its process runs on: it stopped serving (the table stays).
        owned.reset();
        QTRY_VERIFY_WITH_TIMEOUT(inspector.session->message().contains(QStringLiteral("stopped serving")),
                                 waitMs);
        QCOMPARE(inspector.model->rowCount(), 10);
        inspector.session->detach();
    }
};

QTEST_MAIN(tst_QuickInspector)
#include "tst_quick_inspector.moc"
