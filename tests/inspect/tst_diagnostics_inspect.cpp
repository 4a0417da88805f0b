// SPDX-License-Identifier: MIT
// Attaching to a real running application: only local: (the same user) is served; without RIO_INSPECT it
// serves nothing and loads no RegistryIO::Remote; with RIO_INSPECT=1 it serves, registryio-inspect lists it,
// prints its live handler table (where each handler was added, its calls) and writes its frame timeline as a
// trace that names its stall by file, line and frame; the inspector detaches and the application goes on and
// ends normally.
#include <registryio/qt/diagnostics.h>

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include <cstring>
#include <memory>
#include <vector>

#include <csignal>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

constexpr int waitMs = 30'000; // bounds every wait on a loaded machine

struct Target
{
    QProcess process;
    QString file;
    int countLine = 0;
    int stallLine = 0;

    qint64 snapshotBytes = 0; // with `--handlers N`

    // Starts the target with `inspect` as RIO_INSPECT (unset when empty) and `args`, and reads its
    // handlers; `temp` is its temporary folder (TMPDIR), where it serves, when given.
    bool start(const QString &inspect, const QStringList &args = {}, const QString &temp = {})
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove(QStringLiteral("RIO_INSPECT"));
        if (!temp.isEmpty())
            env.insert(QStringLiteral("TMPDIR"), temp);
        if (!inspect.isEmpty())
            env.insert(QStringLiteral("RIO_INSPECT"), inspect);
        process.setProcessEnvironment(env);
        process.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        process.start(QStringLiteral(RIO_INSPECT_TARGET), args);
        if (!process.waitForStarted(waitMs))
            return false;
        QList<QByteArray> words = readLine().split(' ');
        if (words.size() == 3 && words[0] == "snapshot") {
            snapshotBytes = words[1].toLongLong();
            words = readLine().split(' ');
        }
        if (words.size() != 4 || words[0] != "handlers")
            return false;
        file = QString::fromUtf8(words[1]);
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
    [[nodiscard]] bool hasLoaded(const char *library) const
    {
        QFile maps(QStringLiteral("/proc/%1/maps").arg(process.processId()));
        return maps.open(QIODevice::ReadOnly) && maps.readAll().contains(library);
    }
};

// Runs registryio-inspect with `args` (and `temp` as its temporary folder, when given); its
// standard output, or the reason it failed.
bool inspect(const QStringList &args, QByteArray &output, const QString &temp = {})
{
    QProcess tool;
    tool.setProcessChannelMode(QProcess::MergedChannels);
    if (!temp.isEmpty()) {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("TMPDIR"), temp);
        tool.setProcessEnvironment(env);
    }
    tool.start(QStringLiteral(RIO_INSPECT_TOOL), args);
    const bool ok =
        tool.waitForFinished(waitMs) && tool.exitStatus() == QProcess::NormalExit && tool.exitCode() == 0;
    output = tool.readAll();
    return ok;
}

} // namespace

class tst_DiagnosticsInspect : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void onlyTheSameUserIsServed()
    {
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("only local:<name>")));
        QVERIFY(!rio::Diagnostics::serve(QStringLiteral("tcp://127.0.0.1:0")));
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("only local:<name>")));
        QVERIFY(!rio::Diagnostics::serve(QStringLiteral("local:")));
        QVERIFY(!rio::Diagnostics::isEnabled()); // nothing changed
    }

    void servingFollowsTheApplicationObjectAndAForkedChildEnds()
    {
        QProcess target;
        target.setProcessChannelMode(QProcess::MergedChannels);
        target.start(QStringLiteral(RIO_INSPECT_TARGET),
                     {QStringLiteral("--lifecycle"),
                      QStringLiteral("rio-inspect-lifecycle-%1").arg(QCoreApplication::applicationPid())});
        QVERIFY(
            target.waitForFinished(waitMs)); // a forked child that waits for its parent's server never ends
        const QByteArray output = target.readAll();
        QVERIFY2(output.contains("lifecycle ok"), output.constData());
        QCOMPARE(target.exitCode(), 0);
    }

    void theInspectorAttachesToSocketsOfItsUserOnly()
    {
        // A file that is not a socket, and (as root, which may give one away) another user's
        // socket open to all, at the name: another user could put either there before the
        // application listens or after it ended, and answer for it.
        QTemporaryDir dir;
        const QString file = dir.filePath(QStringLiteral("not-a-socket"));
        QFile plain(file);
        QVERIFY(plain.open(QIODevice::WriteOnly));
        plain.close();
        QByteArray output;
        QVERIFY(!inspect({QStringLiteral("table"), QStringLiteral("local:") + file}, output));
        QVERIFY2(output.contains("is not a socket of this user"), output.constData());

        if (geteuid() != 0)
            QSKIP("giving a socket to another user needs root");
        const QByteArray path = QFile::encodeName(dir.filePath(QStringLiteral("s")));
        const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        QVERIFY(fd >= 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        QVERIFY(std::size_t(path.size()) < sizeof address.sun_path);
        std::memcpy(address.sun_path, path.constData(), std::size_t(path.size()));
        QCOMPARE(bind(fd, reinterpret_cast<const sockaddr *>(&address), sizeof address), 0);
        QCOMPARE(listen(fd, 4), 0);
        QCOMPARE(chmod(path.constData(), 0777), 0);
        QCOMPARE(chmod(QFile::encodeName(dir.path()).constData(), 0755), 0);
        QCOMPARE(chown(path.constData(), 65534, 65534), 0); // nobody's
        const bool refused = !inspect(
            {QStringLiteral("table"), QStringLiteral("local:") + QString::fromLocal8Bit(path)}, output);
        close(fd);
        QVERIFY(refused);
        QVERIFY2(output.contains("is not a socket of this user"), output.constData());
    }

    // `list` prints the names it finds with their control characters escaped: a name's escape
    // sequence neither drives the terminal nor does its line break forge a row.
    void listedNamesAreText()
    {
        QTemporaryDir dir;
        const QByteArray path =
            QFile::encodeName(dir.filePath(QStringLiteral("rio-inspect-evil\x1b[2J\nlocal:forged\tpid 1-%1")
                                               .arg(QCoreApplication::applicationPid())));
        const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        QVERIFY(fd >= 0 && std::size_t(path.size()) < sizeof address.sun_path);
        std::memcpy(address.sun_path, path.constData(), std::size_t(path.size()));
        QCOMPARE(bind(fd, reinterpret_cast<const sockaddr *>(&address), sizeof address), 0);
        QByteArray listed;
        const bool ok = inspect({QStringLiteral("list")}, listed, dir.path());
        close(fd);
        QVERIFY2(ok, listed.constData());
        QCOMPARE(listed.count('\n'), 1);
        QVERIFY2(!listed.contains('\x1b') && listed.contains("evil\\x1b[2J\\nlocal:forged"),
                 listed.constData());
    }

    // `table` without a name attaches to the only application that serves; with several, it
    // names them and attaches to none.
    void aTableWithoutANameIsTheOnlyApplications()
    {
        QTemporaryDir dir;
        Target first;
        QVERIFY(first.start(QStringLiteral("1"), {}, dir.path()));
        QByteArray table;
        QVERIFY2(inspect({QStringLiteral("table")}, table, dir.path()), table.constData());
        QVERIFY2(table.contains(QStringLiteral("inspect_target.cpp:%1").arg(first.stallLine).toUtf8()),
                 table.constData());
        Target second;
        QVERIFY(second.start(QStringLiteral("1"), {}, dir.path()));
        QVERIFY(QTest::qWaitFor([&] { // once it listens
            QByteArray listed;
            return inspect({QStringLiteral("list")}, listed, dir.path()) && listed.count('\n') == 2;
        }));
        QByteArray several;
        QVERIFY(!inspect({QStringLiteral("table")}, several, dir.path()));
        QVERIFY2(several.contains("several applications serve") && several.contains(first.name().toUtf8()) &&
                     several.contains(second.name().toUtf8()),
                 several.constData());
        QVERIFY(first.stop());
        QVERIFY(second.stop());
    }

    // --help says what each command shows, on standard output, and succeeds.
    void helpSaysWhatEachCommandShows()
    {
        QByteArray help;
        QVERIFY2(inspect({QStringLiteral("--help")}, help), help.constData());
        for (const char *command :
             {"registryio-inspect list\n", "registryio-inspect table ", "registryio-inspect trace "}) {
            const qsizetype at = help.indexOf(command);
            QVERIFY2(at >= 0, command);
            const QByteArray next = help.mid(help.indexOf('\n', at) + 1).split('\n').front();
            QVERIFY2(next.startsWith("      ") && next.trimmed().size() > 20, next.constData()); // its line
        }
        QVERIFY(help.contains("p99"));
    }

    void nothingIsServedWithoutTheOptIn()
    {
        Target target;
        QVERIFY(target.start({}));
        QVERIFY(!target.readLine().isEmpty()); // it ran its first stall: well under way
        QVERIFY(!QFile::exists(QDir(QDir::tempPath()).filePath(target.name())));
        QVERIFY(!target.hasLoaded("libRegistryIORemote"));
        QByteArray listed;
        QVERIFY2(inspect({QStringLiteral("list")}, listed), listed.constData());
        QVERIFY(!listed.contains(target.name().toUtf8()));
        QVERIFY(target.stop());
    }

    void attachListPrintTraceAndDetach()
    {
        Target target;
        QVERIFY(target.start(QStringLiteral("1")));
        QVERIFY(target.readLine().startsWith("stalled")); // the timeline holds a stall now
        QVERIFY(target.hasLoaded("libRegistryIORemote")); // loaded at run time, for serving

        QByteArray listed;
        QVERIFY2(inspect({QStringLiteral("list")}, listed), listed.constData());
        QVERIFY2(listed.contains(("local:" + target.name()).toUtf8()), listed.constData());

        QByteArray table;
        QVERIFY2(inspect({QStringLiteral("table"), target.name()}, table), table.constData());
        QVERIFY2(table.contains(QStringLiteral("inspect_target.cpp:%1").arg(target.countLine).toUtf8()),
                 table.constData());
        QVERIFY2(table.contains(QStringLiteral("inspect_target.cpp:%1").arg(target.stallLine).toUtf8()),
                 table.constData());
        QVERIFY2(table.contains("orders"), table.constData());
        QVERIFY2(table.contains("overflow 2"), table.constData()); // the backlog's drops, by reason
        // The thread column says what the in-app inspector says: a direct handler runs on the
        // notifier, a queued one on its context's thread, "unnamed" when nobody named it.
        const auto row = [&](const char *registry) {
            const qsizetype at = table.indexOf(QByteArray("\n") + registry);
            return at < 0 ? QByteArray() : table.mid(at + 1, table.indexOf('\n', at + 1) - at - 1);
        };
        QVERIFY2(row("workers").contains(" unnamed "), table.constData());
        QVERIFY2(row("backlog").contains(" main "), table.constData());
        QVERIFY2(!table.contains("remote_share.h"), table.constData()); // the application's alone

        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("trace.json"));
        QByteArray wrote;
        QVERIFY2(inspect({QStringLiteral("trace"), QStringLiteral("local:") + target.name(), path}, wrote),
                 wrote.constData());
        struct stat written{};
        QCOMPARE(::stat(QFile::encodeName(path).constData(), &written), 0);
        QCOMPARE(written.st_mode & 0777, mode_t(0600)); // the user's alone, whatever the umask
        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadOnly));
        QJsonParseError error{};
        const QJsonDocument doc = QJsonDocument::fromJson(file.readAll(), &error);
        QCOMPARE(error.error, QJsonParseError::NoError);
        bool named = false;
        for (const QJsonValue &e : doc[QStringLiteral("traceEvents")].toArray()) {
            if (e[QStringLiteral("cat")].toString() != QLatin1String("slow"))
                continue;
            const QJsonValue args = e[QStringLiteral("args")];
            named = named || (args[QStringLiteral("file")].toString() == target.file &&
                              args[QStringLiteral("line")].toInt() == target.stallLine &&
                              args[QStringLiteral("frame")].toInteger() > 0);
        }
        QVERIFY2(named, "the trace names the stall by file, line and frame");

        // Refreshes for longer than the wait for an answer: the wait is for each one.
        QByteArray tables;
        QVERIFY2(inspect({QStringLiteral("table"), target.name(), QStringLiteral("--count"),
                          QStringLiteral("10"), QStringLiteral("--timeout"), QStringLiteral("3")},
                         tables),
                 tables.constData());
        QCOMPARE(tables.count(" handlers\n"), 10);

        // Detached: the application goes on (it stalls again), and ends normally.
        QVERIFY(target.readLine().startsWith("stalled"));
        QVERIFY(target.stop());
    }

    // A snapshot larger than what the server's listener lets wait for one inspector
    // (RemoteListener's maxQueuedBytes, 8 MiB, which protects the application from inspectors
    // that do not read) reaches it whole, refresh after refresh.
    // An inspector whose output is read slowly (piped into a pager) waits for its own output,
    // not for the application: it does not say the application sent nothing.
    void anInspectorsSlowOutputIsNotTheApplicationsSilence()
    {
        Target target;
        QVERIFY(target.start(QStringLiteral("1"), {QStringLiteral("--handlers"), QStringLiteral("2000")}));
        QProcess tool;
        tool.start(QStringLiteral(RIO_INSPECT_TOOL),
                   {QStringLiteral("table"), target.name(), QStringLiteral("--timeout"), QStringLiteral("3"),
                    QStringLiteral("--count"), QStringLiteral("2")});
        QVERIFY(tool.waitForStarted(waitMs));
        // The table (about 200 kB) is more than a pipe holds: the tool waits to write it while
        // nothing reads it, for longer than its timeout.
        QVERIFY2(tool.waitForReadyRead(waitMs), tool.readAllStandardError().constData());
        QThread::sleep(7);
        tool.waitForFinished(waitMs); // reads it all, whether it ended before or ends now
        QCOMPARE(tool.state(), QProcess::NotRunning);
        const QByteArray output = tool.readAllStandardOutput();
        const QByteArray errors = tool.readAllStandardError();
        QVERIFY2(tool.exitStatus() == QProcess::NormalExit && tool.exitCode() == 0, errors.constData());
        QCOMPARE(output.count("\n2004 handlers\n"), 2);
        QVERIFY(target.stop());
    }

    void aSnapshotOverTheListenersLimitsReachesTheInspector()
    {
        constexpr int many = 25'000;
        Target target;
        QVERIFY(target.start(QStringLiteral("1"), {QStringLiteral("--handlers"), QString::number(many)}));
        QVERIFY2(target.snapshotBytes > (qint64(8) << 20), QByteArray::number(target.snapshotBytes));
        QByteArray tables;
        QVERIFY2(
            inspect({QStringLiteral("table"), target.name(), QStringLiteral("--count"), QStringLiteral("2")},
                    tables),
            tables.right(2000).constData());
        QCOMPARE(tables.count(QStringLiteral("\n%1 handlers\n").arg(many + 4).toUtf8()), 2);
        QVERIFY(tables.count("\nmany ") >= 2 * many);
        QVERIFY2(tables.contains(QStringLiteral("inspect_target.cpp:%1").arg(target.stallLine).toUtf8()),
                 tables.left(2000).constData());

        // An inspector that stops reading (stopped by SIGSTOP after its first table) does not
        // hold back another one's refreshes.
        QProcess stopped;
        stopped.start(QStringLiteral(RIO_INSPECT_TOOL), {QStringLiteral("table"), target.name(),
                                                         QStringLiteral("--count"), QStringLiteral("1000")});
        QVERIFY(stopped.waitForStarted(waitMs));
        QByteArray first;
        while (!first.contains(" handlers\n") && stopped.waitForReadyRead(waitMs))
            first += stopped.readAllStandardOutput();
        QVERIFY(first.contains(" handlers\n"));
        QVERIFY(::kill(static_cast<pid_t>(stopped.processId()), SIGSTOP) == 0);
        QByteArray others;
        const bool read = inspect(
            {QStringLiteral("table"), target.name(), QStringLiteral("--count"), QStringLiteral("3")}, others);
        ::kill(static_cast<pid_t>(stopped.processId()), SIGCONT);
        stopped.kill();
        stopped.waitForFinished(waitMs);
        QVERIFY2(read, others.right(2000).constData());
        QCOMPARE(others.count(QStringLiteral("\n%1 handlers\n").arg(many + 4).toUtf8()), 3);
        QVERIFY(target.stop());
    }

    // Inspectors attaching at once to an application whose snapshot is about 12 MB each get their
    // tables: an arrival's snapshot and a fast reader's next one are not piled onto every slower
    // reader's backlog until the process's backlog budget (128 MiB) drops them.
    void inspectorsAttachingAtOnceAllGetTheirTables()
    {
        constexpr int many = 25'000;
        constexpr int inspectors = 6;
        Target target;
        QVERIFY(target.start(QStringLiteral("1"), {QStringLiteral("--handlers"), QString::number(many)}));
        QTemporaryDir dir;
        std::vector<std::unique_ptr<QProcess>> tools;
        for (int i = 0; i < inspectors; ++i) {
            auto &tool = tools.emplace_back(std::make_unique<QProcess>());
            // Into a file: an inspector whose output nobody reads meanwhile would read no pages.
            tool->setStandardOutputFile(dir.filePath(QString::number(i)));
            tool->start(QStringLiteral(RIO_INSPECT_TOOL), {QStringLiteral("table"), target.name(),
                                                           QStringLiteral("--count"), QStringLiteral("2")});
        }
        for (int i = 0; i < inspectors; ++i) {
            QProcess &tool = *tools[static_cast<std::size_t>(i)];
            QVERIFY(tool.waitForFinished(waitMs));
            QFile out(dir.filePath(QString::number(i)));
            QVERIFY(out.open(QIODevice::ReadOnly));
            const QByteArray tables = out.readAll();
            QVERIFY2(tool.exitStatus() == QProcess::NormalExit && tool.exitCode() == 0,
                     tool.readAllStandardError().constData());
            QCOMPARE(tables.count(QStringLiteral("\n%1 handlers\n").arg(many + 4).toUtf8()), 2);
        }
        QVERIFY(target.stop());
    }
};

QTEST_GUILESS_MAIN(tst_DiagnosticsInspect)
#include "tst_diagnostics_inspect.moc"
