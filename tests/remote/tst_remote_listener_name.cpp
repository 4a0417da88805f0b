// SPDX-License-Identifier: MIT
// The listener's promises tried from the outside, with real processes: a `local:` name is held by
// one live listener only (many racers, racers while the holder is destroyed or killed, a holder
// whose backlog is full because it is at its open-file limit), and listen() never removes or
// leaves a file that is not its own (symbolic links, FIFOs, another user's files, files with data,
// names too long); and what a sender can make a source hold while a lossless share stops reading
// it. Every wait is on an observable line or state, with a deadline.
#include "tst_remote_common.h"

#include <QDir>
#include <QRegularExpression>
#include <QScopeGuard>
#include <QSocketNotifier>
#include <QTextStream>
#include <QThread>

#include <fcntl.h>
#include <link.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

namespace {

QString pathOf(const QString &url)
{
    const QString path = QUrl(url).path();
    return path.startsWith(QLatin1Char('/')) ? path
                                             : QDir::cleanPath(QDir::tempPath()) + QLatin1Char('/') + path;
}

// An AF_UNIX socket bound at `path` and closed: what a killed server leaves.
bool bindStale(const QString &path)
{
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const QByteArray bytes = QFile::encodeName(path);
    if (fd < 0 || size_t(bytes.size()) >= sizeof(address.sun_path))
        return false;
    std::memcpy(address.sun_path, bytes.constData(), size_t(bytes.size()));
    const bool ok = ::bind(fd, reinterpret_cast<const sockaddr *>(&address), sizeof(address)) == 0;
    ::close(fd);
    return ok;
}

// What a folder holds: each entry's name, type, inode and bytes (for regular files).
QStringList snapshot(const QString &folder)
{
    QStringList out;
    for (const QString &name :
         QDir(folder).entryList(QDir::AllEntries | QDir::Hidden | QDir::System | QDir::NoDotAndDotDot)) {
        const QByteArray path = QFile::encodeName(folder + QLatin1Char('/') + name);
        struct stat st{};
        if (::lstat(path.constData(), &st) != 0)
            continue;
        QByteArray bytes;
        if (S_ISREG(st.st_mode)) {
            QFile file(QFile::decodeName(path));
            if (file.open(QIODevice::ReadOnly))
                bytes = file.readAll();
        }
        out << QStringLiteral("%1 mode=%2 ino=%3 uid=%4 bytes=%5")
                   .arg(name)
                   .arg(st.st_mode, 0, 8)
                   .arg(st.st_ino)
                   .arg(st.st_uid)
                   .arg(QString::fromLatin1(bytes.toHex()));
    }
    return out;
}

bool connects(const QString &path)
{
    QLocalSocket probe;
    probe.connectToServer(path);
    return probe.waitForConnected(Deadline);
}

// Child process: `--hold URL` listens with a RemoteListener and prints "listening" or
// "refused <why>"; then, one command a line on stdin: "close" destroys the listener and prints
// "closed"; "failures" prints "failures <acceptFailures()> connections <connectionCount()>". It
// exits when stdin closes.
int holdChild(const QString &url)
{
    QRemoteObjectHost host;
    auto listener = std::make_unique<rio::RemoteListener>(&host);
    const bool ok = listener->listen(QUrl(url));
    QTextStream out(stdout);
    if (!ok) {
        out << "refused " << listener->errorString() << Qt::endl;
        return 0;
    }
    out << "listening" << Qt::endl;
    QByteArray input;
    QSocketNotifier stdinNotifier(STDIN_FILENO, QSocketNotifier::Read);
    QObject::connect(&stdinNotifier, &QSocketNotifier::activated, [&] {
        char buffer[256];
        const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
        if (n <= 0) {
            QCoreApplication::exit(0);
            return;
        }
        input.append(buffer, n);
        for (qsizetype eol; (eol = input.indexOf('\n')) >= 0; input.remove(0, eol + 1)) {
            const QByteArray command = input.left(eol).trimmed();
            if (command == "close") {
                listener.reset();
                out << "closed" << Qt::endl;
            } else if (command == "failures" && listener) {
                out << "failures " << listener->acceptFailures() << " connections "
                    << listener->connectionCount() << Qt::endl;
            }
        }
    });
    return QCoreApplication::exec();
}

// Whether every user may read `path`: each folder above it searchable by others, the file
// readable by them.
bool othersMayRead(const QString &path)
{
    QString at = QFileInfo(path).canonicalFilePath();
    for (mode_t need = S_IROTH; !at.isEmpty(); need = S_IXOTH) {
        struct stat st{};
        if (::stat(QFile::encodeName(at).constData(), &st) != 0 || (st.st_mode & need) == 0)
            return false;
        if (at == QLatin1String("/"))
            break;
        at = QFileInfo(at).path();
    }
    return true;
}

// How another user starts this binary, when it may not read it where it is (a build tree in a
// clone under /root, mode 700): this binary, each library it loaded and each sanitizer
// suppression file its environment names, those the others may not read, copied into a folder
// they may; the child runs there, with that folder first on its library path.
class AsAnotherUser
{
public:
    AsAnotherUser()
    {
        const QString dir = m_dir.path();
        ::chmod(QFile::encodeName(dir).constData(), 0755);
        QStringList libraries;
        dl_iterate_phdr(
            [](dl_phdr_info *info, size_t, void *out) {
                if (info->dlpi_name != nullptr && info->dlpi_name[0] == '/') // as the loader found it
                    static_cast<QStringList *>(out)->append(QFile::decodeName(info->dlpi_name));
                return 0;
            },
            &libraries);
        for (const QString &library : std::as_const(libraries))
            (void)readable(library);
        m_command = {QStandardPaths::findExecutable(QStringLiteral("env")), QStringLiteral("-C"), dir,
                     QStringLiteral("LD_LIBRARY_PATH=") + dir};
        static const QRegularExpression suppressions(QStringLiteral("(suppressions=)([^: ]+)"));
        for (const char *name : {"ASAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS", "UBSAN_OPTIONS"}) {
            QString options = qEnvironmentVariable(name);
            const QRegularExpressionMatch match = suppressions.match(options);
            if (match.hasMatch())
                options.replace(match.capturedStart(2), match.capturedLength(2), readable(match.captured(2)));
            if (!options.isEmpty())
                m_command << QLatin1String(name) + QLatin1Char('=') + options;
        }
        m_command << readable(QCoreApplication::applicationFilePath());
    }
    // What runs the binary (setpriv's program and arguments follow the user's options).
    [[nodiscard]] const QStringList &command() const { return m_command; }

private:
    // `path`, or its copy the others may read.
    QString readable(const QString &path)
    {
        if (othersMayRead(path))
            return path;
        const QString copy = m_dir.filePath(QFileInfo(path).fileName());
        if (!QFile::exists(copy) && QFile::copy(path, copy))
            ::chmod(QFile::encodeName(copy).constData(), 0755);
        return copy;
    }

    QTemporaryDir m_dir;
    QStringList m_command;
};

// A child of this test binary, with its stdout lines.
class Child
{
public:
    // `asUser`: setpriv options that run the child as another user (empty: as this one).
    explicit Child(const QStringList &args, const QStringList &asUser = {})
    {
        m_process.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        const auto readLines = [this] {
            m_partial += m_process.readAllStandardOutput();
            for (qsizetype eol; (eol = m_partial.indexOf('\n')) >= 0; m_partial.remove(0, eol + 1))
                m_lines.append(m_partial.left(eol).trimmed());
        };
#ifdef RIO_REMOTE_SPAWN
        m_process.setReadyRead(readLines);
#else
        QObject::connect(&m_process, &QProcess::readyReadStandardOutput, readLines);
#endif
        if (asUser.isEmpty())
            m_process.start(QCoreApplication::applicationFilePath(), args);
        else
            m_process.start(QStandardPaths::findExecutable(QStringLiteral("setpriv")),
                            asUser + m_asAnotherUser.emplace().command() + args);
    }
    ~Child() { kill(); }
    Child(const Child &) = delete;
    Child &operator=(const Child &) = delete;

    // The next line (waiting up to the deadline), or empty when the child ends without one.
    QByteArray line()
    {
        (void)QTest::qWaitFor([&] { return !m_lines.isEmpty() || m_process.state() == QProcess::NotRunning; },
                              Deadline);
        return m_lines.isEmpty() ? QByteArray() : m_lines.takeFirst();
    }
    void send(const QByteArray &command) { m_process.write(command + '\n'); }
    void kill()
    {
        if (m_process.state() == QProcess::NotRunning)
            return;
        m_process.kill();
        m_process.waitForFinished(Deadline);
    }
    [[nodiscard]] pid_t pid() const { return pid_t(m_process.processId()); }
    [[nodiscard]] bool running() { return m_process.state() == QProcess::Running; }

private:
    std::optional<AsAnotherUser> m_asAnotherUser; // outlives the child (declared before it)
    Process m_process;
    QByteArray m_partial;
    QList<QByteArray> m_lines;
};

// Listeners racing for `url`: each child's answer.
std::vector<std::unique_ptr<Child>> startRacers(const QString &url, int count)
{
    std::vector<std::unique_ptr<Child>> racers;
    for (int i = 0; i < count; ++i)
        racers.push_back(std::make_unique<Child>(QStringList{QStringLiteral("--hold"), url}));
    return racers;
}

// How many of `racers` listen (-1: one did not answer).
int listening(std::vector<std::unique_ptr<Child>> &racers)
{
    int count = 0;
    for (const auto &racer : racers) {
        const QByteArray answer = racer->line();
        if (answer.isEmpty())
            return -1;
        count += answer == "listening" ? 1 : 0;
    }
    return count;
}

int rounds(const char *variable, int fallback)
{
    const int n = qEnvironmentVariableIntValue(variable);
    return n > 0 ? n : fallback;
}

// The lowest descriptor number process `pid` does not use: an open-file limit of it makes every
// accept() there fail with EMFILE.
rlim_t lowestFreeDescriptor(pid_t pid)
{
    std::vector<bool> used;
    for (const QString &entry :
         QDir(QStringLiteral("/proc/%1/fd").arg(pid)).entryList(QDir::Files | QDir::System)) {
        const auto fd = std::size_t(entry.toUInt());
        if (fd >= used.size())
            used.resize(fd + 1);
        used[fd] = true;
    }
    rlim_t lowest = 0;
    while (lowest < used.size() && used[lowest])
        ++lowest;
    return lowest;
}

// Eight threads of this process listen on `url` at once: how many did (-1: one never ended).
int threadsListening(const QString &url)
{
    constexpr int Threads = 8;
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::atomic<int> listened{0};
    std::atomic<int> tried{0};
    std::vector<std::unique_ptr<QThread>> threads;
    for (int i = 0; i < Threads; ++i) {
        threads.emplace_back(QThread::create([&] {
            QRemoteObjectHost host;
            rio::RemoteListener listener(&host);
            ready.fetch_add(1);
            while (!go.load()) // bounded: set once every thread is here
                QThread::yieldCurrentThread();
            listened.fetch_add(listener.listen(QUrl(url)) ? 1 : 0);
            tried.fetch_add(1);
            while (tried.load() < Threads) // every listener lives until all have tried
                QThread::yieldCurrentThread();
        }));
        threads.back()->start();
    }
    const bool allReady = QTest::qWaitFor([&] { return ready.load() == Threads; }, Deadline);
    go.store(true);
    bool ended = allReady;
    for (const auto &thread : threads)
        ended = thread->wait(Deadline) && ended;
    return ended ? listened.load() : -1;
}

} // namespace

class tst_remote_listener_name : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void lockFileThatIsNotALockIsLeftAlone_data();
    void lockFileThatIsNotALockIsLeftAlone();
    void failedListenLeavesNothingBehind_data();
    void failedListenLeavesNothingBehind();
    void lockHeldForeverFailsListenAndDestroyInTime();
    void killedWhileWaitingForTheNameLeavesNothing();
    void destroyedListenerStaysLiveUntilItsNameIsGone();
    void staleNameAtTheFileLimitSaysWhy();
    void staleSocketOfAnotherUserIsLeftAlone();
    void listenerOfAnotherUserChangesNothing_data();
    void listenerOfAnotherUserChangesNothing();
    void absoluteNamesAndNamesTooLong();
    void longestNameThatFitsListens();
    void descriptorsAreCloseOnExec();
    void childLineWrittenBeforeItEndsIsRead();
    void sixteenRacersListenOnce();
    void racersWhileTheHolderIsDestroyedOrKilled_data();
    void racersWhileTheHolderIsDestroyedOrKilled();
    void holderAtItsFileLimitWithAFullBacklogKeepsItsName();
    void threadsOfOneProcessListenOnce();
    void threadsFailingTogetherLeaveNothing();
    void sourceSurvivesBurstsOfShortConnectionsAtItsFileLimit();
    void unfinishedTlsHandshakesAreBoundedAndFreed();
    void blockedRelayHoldsOneReadOfTheSender_data();
    void blockedRelayHoldsOneReadOfTheSender();
};

void tst_remote_listener_name::init()
{
    // Every case but those of threads of one process (and two that run none) starts processes.
    const QByteArray test = QTest::currentTestFunction();
    if (UnderThreadSanitizer && !test.startsWith("threads"))
        QSKIP("Qt 6.4's QProcess cannot start a child under ThreadSanitizer");
}

void tst_remote_listener_name::lockFileThatIsNotALockIsLeftAlone_data()
{
    QTest::addColumn<QString>("kind");
    for (const char *kind : {"data", "user-only data", "readable by others", "fifo", "directory",
                             "symlink to a file", "dangling symlink", "another user's"})
        QTest::newRow(kind) << QString::fromLatin1(kind);
}

// REMOTE.md: listeners "take turns through a user-only lock file beside the socket (<name>.lock)";
// nothing else is ever removed. A file at <name>.lock that a listener would not have made is left
// as it was (type, inode, bytes), and listen() fails with an error naming it, also once the
// listener is destroyed (which removes a lock file of its own).
void tst_remote_listener_name::lockFileThatIsNotALockIsLeftAlone()
{
    QFETCH(QString, kind);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString target = dir.filePath(QStringLiteral("name"));
    const QString lockPath = target + QStringLiteral(".lock");
    const QByteArray lockBytes = QFile::encodeName(lockPath);
    const auto write = [&](const QByteArray &bytes, QFile::Permissions permissions) {
        QFile file(lockPath);
        return file.open(QIODevice::WriteOnly) && file.write(bytes) == bytes.size() &&
               file.setPermissions(permissions);
    };
    const QFile::Permissions userOnly = QFile::ReadOwner | QFile::WriteOwner;
    if (kind == QLatin1String("data")) {
        QVERIFY(write("the user's own data\n", userOnly | QFile::ReadGroup | QFile::ReadOther));
    } else if (kind == QLatin1String("user-only data")) {
        QVERIFY(write("the user's own data\n", userOnly));
    } else if (kind == QLatin1String("readable by others")) {
        QVERIFY(write({}, userOnly | QFile::ReadGroup | QFile::ReadOther));
    } else if (kind == QLatin1String("fifo")) {
        QCOMPARE(::mkfifo(lockBytes.constData(), 0600), 0);
    } else if (kind == QLatin1String("directory")) {
        QVERIFY(QDir(dir.path()).mkdir(QStringLiteral("name.lock")));
    } else if (kind == QLatin1String("symlink to a file")) {
        QFile victim(dir.filePath(QStringLiteral("victim")));
        QVERIFY(victim.open(QIODevice::WriteOnly) && victim.write("kept") == 4);
        victim.close();
        QVERIFY(QFile::link(victim.fileName(), lockPath));
    } else if (kind == QLatin1String("dangling symlink")) {
        QVERIFY(QFile::link(dir.filePath(QStringLiteral("created-through-the-link")), lockPath));
    } else if (kind == QLatin1String("another user's")) {
        if (::geteuid() != 0)
            QSKIP("making a file of another user needs root");
        QVERIFY(write({}, userOnly));
        QCOMPARE(::chown(lockBytes.constData(), 65534, 65534), 0);
    }
    const QStringList before = snapshot(dir.path());
    {
        QRemoteObjectHost host;
        rio::RemoteListener listener(&host);
        const QString url = QStringLiteral("local:") + target;
        QVERIFY2(!listener.listen(QUrl(url)), qPrintable(kind));
        QVERIFY2(listener.errorString().contains(QStringLiteral("lock")), qPrintable(listener.errorString()));
        QVERIFY(listener.address().isEmpty());
    }
    QCOMPARE(snapshot(dir.path()), before);
}

void tst_remote_listener_name::failedListenLeavesNothingBehind_data()
{
    QTest::addColumn<QString>("kind");
    for (const char *kind : {"file", "symlink to a file", "dangling symlink", "symlink to a stale socket",
                             "live server", "folder"})
        QTest::newRow(kind) << QString::fromLatin1(kind);
}

// "a holder that never lets go (a process of the same user) fails listen()": while something holds
// <name>.lock, a second listener fails in bounded time with an error naming the lock, the holder's
// destructor returns in bounded time (leaving its socket, which a later listener replaces), and
// once the lock is let go the name is taken again.
void tst_remote_listener_name::lockHeldForeverFailsListenAndDestroyInTime()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString target = dir.filePath(QStringLiteral("name"));
    const QString url = QStringLiteral("local:") + target;
    auto first = std::make_unique<LocalSource>(url);
    QVERIFY(first->share);
    const int held =
        ::open(QFile::encodeName(target + QStringLiteral(".lock")).constData(), O_RDWR | O_CLOEXEC);
    QVERIFY(held >= 0);
    const auto closeHeld = qScopeGuard([&] { ::close(held); });
    QCOMPARE(::flock(held, LOCK_EX | LOCK_NB), 0);
    {
        QRemoteObjectHost host;
        rio::RemoteListener second(&host);
        QVERIFY(!second.listen(QUrl(url)));
        QVERIFY2(second.errorString().contains(QStringLiteral(".lock")), qPrintable(second.errorString()));
    }
    QVERIFY(connects(target)); // the first still serves
    first.reset();
    QVERIFY(QFile::exists(target)); // its socket, stale now
    ::flock(held, LOCK_UN);
    LocalSource third(url);
    QVERIFY2(third.share, qPrintable(third.listener->errorString()));
    QVERIFY(connects(target));
}

// A listener killed while it waits for its name's lock (a watchdog restarting a crash loop) leaves
// nothing in the folder: what it makes there, it makes under the lock.
void tst_remote_listener_name::killedWhileWaitingForTheNameLeavesNothing()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString target = dir.filePath(QStringLiteral("name"));
    const QString lockPath = target + QStringLiteral(".lock");
    const int held = ::open(QFile::encodeName(lockPath).constData(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    QVERIFY(held >= 0);
    const auto closeHeld = qScopeGuard([&] { ::close(held); });
    QCOMPARE(::flock(held, LOCK_EX | LOCK_NB), 0);
    const QStringList before = snapshot(dir.path());
    const int opens = ::inotify_init1(IN_CLOEXEC);
    QVERIFY(opens >= 0);
    const auto closeOpens = qScopeGuard([&] { ::close(opens); });
    QVERIFY(::inotify_add_watch(opens, QFile::encodeName(lockPath).constData(), IN_OPEN) >= 0);
    Child child({QStringLiteral("--hold"), QStringLiteral("local:") + target});
    pollfd tried{opens, POLLIN, 0};
    QCOMPARE(::poll(&tried, 1, Deadline), 1); // it has tried the lock
    child.kill();
    QCOMPARE(snapshot(dir.path()), before);
}

// A listener being destroyed keeps its socket open until it has removed its name under the lock,
// so no racer judges the name stale meanwhile and no socket that reuses its inode number is removed
// in its place.
void tst_remote_listener_name::destroyedListenerStaysLiveUntilItsNameIsGone()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString target = dir.filePath(QStringLiteral("name"));
    Child holder({QStringLiteral("--hold"), QStringLiteral("local:") + target});
    QCOMPARE(holder.line(), QByteArray("listening"));
    const QString lockPath = target + QStringLiteral(".lock");
    const int held = ::open(QFile::encodeName(lockPath).constData(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    QVERIFY(held >= 0);
    const auto closeHeld = qScopeGuard([&] { ::close(held); });
    QCOMPARE(::flock(held, LOCK_EX | LOCK_NB), 0);
    const int opens = ::inotify_init1(IN_CLOEXEC);
    QVERIFY(opens >= 0);
    const auto closeOpens = qScopeGuard([&] { ::close(opens); });
    QVERIFY(::inotify_add_watch(opens, QFile::encodeName(lockPath).constData(), IN_OPEN) >= 0);
    holder.send("close");    // written by this event loop
    QVERIFY(QTest::qWaitFor( // until its destructor has tried the lock
        [&] {
            pollfd tried{opens, POLLIN, 0};
            return ::poll(&tried, 1, 0) == 1;
        },
        Deadline));
    QVERIFY(connects(target));
    ::flock(held, LOCK_UN);
    QCOMPARE(holder.line(), QByteArray("closed"));
    QVERIFY(!QFile::exists(target));
}

// With descriptors for the lock and its socket but not for the probe of a stale socket at the
// name, listen() fails saying so, never that a server runs there, and changes nothing.
void tst_remote_listener_name::staleNameAtTheFileLimitSaysWhy()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString target = dir.filePath(QStringLiteral("name"));
    QVERIFY(bindStale(target));
    QRemoteObjectHost host;
    rio::RemoteListener listener(&host);
    const QStringList before = snapshot(dir.path());
    rlimit saved{};
    QCOMPARE(::getrlimit(RLIMIT_NOFILE, &saved), 0);
    rlimit low = saved;
    low.rlim_cur = lowestFreeDescriptor(::getpid()) + 2; // the next two numbers are free: see below
    QCOMPARE(::fcntl(int(low.rlim_cur) - 1, F_GETFD), -1);
    QCOMPARE(::setrlimit(RLIMIT_NOFILE, &low), 0);
    const bool listened = listener.listen(QUrl(QStringLiteral("local:") + target));
    ::setrlimit(RLIMIT_NOFILE, &saved);
    QVERIFY(!listened);
    QVERIFY2(
        listener.errorString().contains(QStringLiteral("socket(), to tell whether a server has the name")),
        qPrintable(listener.errorString()));
    QCOMPARE(snapshot(dir.path()), before);
}

// "Bad input: a clear error, changes nothing": a name held by something listen() must not replace
// fails with an error, and the folder holds what it held (no lock file, no private folder left).
void tst_remote_listener_name::failedListenLeavesNothingBehind()
{
    QFETCH(QString, kind);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString target = dir.filePath(QStringLiteral("name"));
    QFile victim(dir.filePath(QStringLiteral("victim")));
    QVERIFY(victim.open(QIODevice::WriteOnly) && victim.write("kept") == 4);
    victim.close();
    QLocalServer foreign;
    if (kind == QLatin1String("file")) {
        QVERIFY(QFile::copy(victim.fileName(), target));
    } else if (kind == QLatin1String("symlink to a file")) {
        QVERIFY(QFile::link(victim.fileName(), target));
    } else if (kind == QLatin1String("dangling symlink")) {
        QVERIFY(QFile::link(dir.filePath(QStringLiteral("nothing")), target));
    } else if (kind == QLatin1String("symlink to a stale socket")) {
        QVERIFY(bindStale(dir.filePath(QStringLiteral("stale"))));
        QVERIFY(QFile::link(dir.filePath(QStringLiteral("stale")), target));
    } else if (kind == QLatin1String("live server")) {
        foreign.setSocketOptions(QLocalServer::UserAccessOption);
        QVERIFY(foreign.listen(target));
    } else if (kind == QLatin1String("folder")) {
        QVERIFY(QDir(dir.path()).mkdir(QStringLiteral("name")));
    }
    const QStringList before = snapshot(dir.path());
    {
        QRemoteObjectHost host;
        rio::RemoteListener listener(&host);
        QVERIFY(!listener.listen(QUrl(QStringLiteral("local:") + target)));
        QVERIFY(!listener.errorString().isEmpty());
    }
    QCOMPARE(snapshot(dir.path()), before);
    if (kind == QLatin1String("live server"))
        QVERIFY(connects(target));
}

// "A socket file left by a killed process of the same user is replaced": another user's socket,
// live or not, is never removed (as root, the kernel would let listen() remove it).
void tst_remote_listener_name::staleSocketOfAnotherUserIsLeftAlone()
{
    if (::geteuid() != 0)
        QSKIP("making a socket of another user needs root (without it, the sticky temporary folder "
              "keeps it anyway)");
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString target = dir.filePath(QStringLiteral("name"));
    QVERIFY(bindStale(target));
    QCOMPARE(::chown(QFile::encodeName(target).constData(), 65534, 65534), 0);
    const QStringList before = snapshot(dir.path());
    {
        QRemoteObjectHost host;
        rio::RemoteListener listener(&host);
        QVERIFY(!listener.listen(QUrl(QStringLiteral("local:") + target)));
        QVERIFY2(listener.errorString().contains(QStringLiteral("another user")),
                 qPrintable(listener.errorString()));
    }
    QCOMPARE(snapshot(dir.path()), before);
}

void tst_remote_listener_name::listenerOfAnotherUserChangesNothing_data()
{
    QTest::addColumn<QString>("kind");
    for (const char *kind : {"folder not writable", "stale socket", "live server", "lock file"})
        QTest::newRow(kind) << QString::fromLatin1(kind);
}

// A listener of another user (nobody, started with setpriv) on a name where it may not create
// files, or whose socket or lock file is this user's, live or not: a clear error, and the folder
// holds what it held (the live server still serves).
void tst_remote_listener_name::listenerOfAnotherUserChangesNothing()
{
    QFETCH(QString, kind);
    if (::geteuid() != 0 || QStandardPaths::findExecutable(QStringLiteral("setpriv")).isEmpty())
        QSKIP("starting a listener of another user needs root and setpriv");
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString folder = dir.filePath(QStringLiteral("names"));
    QVERIFY(QDir().mkpath(folder));
    // The other user may reach the folder; only with the sticky bit (as in /tmp) may it write there.
    QCOMPARE(::chmod(QFile::encodeName(dir.path()).constData(), 0755), 0);
    const bool writable = kind != QLatin1String("folder not writable");
    QCOMPARE(::chmod(QFile::encodeName(folder).constData(), writable ? 01777 : 0755), 0);
    const QString target = folder + QStringLiteral("/name");
    QLocalServer live;
    if (kind == QLatin1String("stale socket")) {
        QVERIFY(bindStale(target));
    } else if (kind == QLatin1String("live server")) {
        live.setSocketOptions(QLocalServer::WorldAccessOption); // it could connect: still not its own
        QVERIFY(live.listen(target));
    } else if (kind == QLatin1String("lock file")) {
        LocalSource source(QStringLiteral("local:") + target); // leaves its lock file, killed
        QVERIFY(source.share);
        QFile lock(target + QStringLiteral(".lock"));
        QVERIFY(lock.exists());
        QVERIFY(QFile::remove(target)); // as a source killed and its socket cleaned up by hand
    }
    const QStringList before = snapshot(folder);
    Child other(
        {QStringLiteral("--hold"), QStringLiteral("local:") + target},
        {QStringLiteral("--reuid=65534"), QStringLiteral("--regid=65534"), QStringLiteral("--clear-groups")});
    const QByteArray answer = other.line();
    QVERIFY2(answer.startsWith("refused "), answer.constData());
    qInfo("%s", answer.constData());
    other.kill();
    QCOMPARE(snapshot(folder), before);
    if (kind == QLatin1String("live server"))
        QVERIFY(connects(target));
}

// A name given as an absolute path listens there (user-only) and a subscriber of the same URL gets
// its events; a path longer than a socket address holds is a clear error that creates nothing.
void tst_remote_listener_name::absoluteNamesAndNamesTooLong()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    {
        const QString url = QStringLiteral("local:") + dir.filePath(QStringLiteral("orders"));
        LocalSource source(url);
        QVERIFY2(source.share, qPrintable(source.listener->errorString()));
        struct stat st{};
        QCOMPARE(::lstat(QFile::encodeName(dir.filePath(QStringLiteral("orders"))).constData(), &st), 0);
        QVERIFY(S_ISSOCK(st.st_mode));
        QCOMPARE(st.st_mode & (S_IRWXG | S_IRWXO), mode_t(0));
        QRemoteObjectNode node;
        QVERIFY(rio::connectToSource(&node, QUrl(url)));
        rio::RemoteRegistry<Payload> remote(&node, QStringLiteral("orders"));
        QList<qint64> received;
        remote.add(&node, [&](const Payload &p) { received.append(p.seq); },
                   {.connection = Qt::DirectConnection});
        QVERIFY(QTest::qWaitFor(
            [&] {
                source.registry.notify(Payload{1, {}});
                return QTest::qWaitFor([&] { return received.contains(1); }, 200);
            },
            Deadline));
    }
    QCOMPARE(snapshot(dir.path()), QStringList());

    // sun_path holds 107 bytes and a NUL: 108 bytes of path are refused, before anything is made.
    const QString folder = dir.path() + QLatin1Char('/');
    const QString tooLong = folder + QString(108 - int(QFile::encodeName(folder).size()), QLatin1Char('n'));
    QCOMPARE(QFile::encodeName(tooLong).size(), qsizetype(108));
    QRemoteObjectHost host;
    rio::RemoteListener listener(&host);
    QVERIFY(!listener.listen(QUrl(QStringLiteral("local:") + tooLong)));
    QVERIFY2(listener.errorString().contains(QStringLiteral("too long")), qPrintable(listener.errorString()));
    QVERIFY(!listener.listen(QUrl(QStringLiteral("local:") + QString(300, QLatin1Char('n')))));
    QVERIFY2(listener.errorString().contains(QStringLiteral("too long")), qPrintable(listener.errorString()));
    QCOMPARE(snapshot(dir.path()), QStringList());
}

// A socket address holds 107 bytes of path (Qt 6.4's QLocalSocket connects to 106 at most): a name
// whose path fits listens and is reached, also deep in a folder where the private folder it is
// bound in first (beside it) would not fit.
void tst_remote_listener_name::longestNameThatFitsListens()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    for (const int length : {100, 106}) {
        // A folder whose path leaves room for "/n" and no more.
        const QString folder =
            dir.path() + QLatin1Char('/') +
            QString(length - 3 - int(QFile::encodeName(dir.path()).size()), QLatin1Char('d'));
        QVERIFY(QDir().mkpath(folder));
        const QString target = folder + QStringLiteral("/n");
        QCOMPARE(QFile::encodeName(target).size(), qsizetype(length));
        {
            LocalSource source(QStringLiteral("local:") + target);
            QVERIFY2(source.share, qPrintable(source.listener->errorString()));
            QVERIFY(connects(target));
        }
        QCOMPARE(snapshot(folder), QStringList());
    }
}

// A process the source's process starts inherits none of the listener's descriptors: the
// listening socket and each accepted connection are close-on-exec from the moment they exist.
void tst_remote_listener_name::descriptorsAreCloseOnExec()
{
    const auto open = [] {
        QSet<int> out;
        for (const QString &name : QDir(QStringLiteral("/proc/self/fd")).entryList(QDir::System))
            out.insert(name.toInt());
        return out;
    };
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString target = dir.filePath(QStringLiteral("n"));
    const QSet<int> before = open();
    LocalSource source(QStringLiteral("local:") + target);
    QVERIFY2(source.share, qPrintable(source.listener->errorString()));
    QLocalSocket client;
    client.connectToServer(target);
    QVERIFY(client.waitForConnected(Deadline));
    QTRY_COMPARE_WITH_TIMEOUT(source.listener->connectionCount(), 1, Deadline);
    int checked = 0;
    for (const int fd : open() - before) {
        const int flags = ::fcntl(fd, F_GETFD);
        if (flags < 0)
            continue; // the listing's own, closed since
        QVERIFY2(flags & FD_CLOEXEC, qPrintable(QStringLiteral("descriptor %1").arg(fd)));
        ++checked;
    }
    QVERIFY(checked >= 3); // the listening socket, the accepted connection, the client
}

// The harness the races below rely on: a child that printed its answer and ended before this
// process read it still gives that answer.
void tst_remote_listener_name::childLineWrittenBeforeItEndsIsRead()
{
    Child child({QStringLiteral("--hold"), QStringLiteral("local:")});
    siginfo_t info{};
    QCOMPARE(::waitid(P_PID, id_t(child.pid()), &info, WEXITED | WNOWAIT), 0);
    QVERIFY(child.line().startsWith("refused"));
}

// REMOTE.md: "of processes that race to listen on one name exactly one does": sixteen at once on a
// fresh name, then sixteen on the socket the winner left when it was killed.
void tst_remote_listener_name::sixteenRacersListenOnce()
{
    for (int round = 0, n = rounds("RIO_REMOTE_LISTEN_RACES", 2); round < n; ++round) {
        const QString url = uniqueLocalUrl();
        auto racers = startRacers(url, 16);
        QCOMPARE(listening(racers), 1);
        for (const auto &racer : racers)
            racer->kill();
        auto again = startRacers(url, 16);
        QCOMPARE(listening(again), 1);
        QVERIFY(connects(pathOf(url)));
        for (const auto &racer : again)
            racer->kill();
        QFile::remove(pathOf(url));
        QFile::remove(pathOf(url) + QStringLiteral(".lock"));
    }
}

void tst_remote_listener_name::racersWhileTheHolderIsDestroyedOrKilled_data()
{
    QTest::addColumn<bool>("kill");
    QTest::newRow("destroyed") << false;
    QTest::newRow("killed") << true;
}

// Eight listeners start while the holder of the name is being destroyed (its destructor removes
// its socket and lock file) or killed: at most one of them listens, and the name then leads to
// it (the holder's destructor never removes a winner's socket); if none did, the name is free.
// Never two live listeners on one name.
void tst_remote_listener_name::racersWhileTheHolderIsDestroyedOrKilled()
{
    QFETCH(bool, kill);
    for (int round = 0, n = rounds("RIO_REMOTE_LISTEN_RACES", 6); round < n; ++round) {
        const QString url = uniqueLocalUrl();
        Child holder({QStringLiteral("--hold"), url});
        QCOMPARE(holder.line(), QByteArray("listening"));
        auto racers = startRacers(url, 8);
        if (kill) {
            holder.kill();
        } else {
            holder.send("close");
            QCOMPARE(holder.line(), QByteArray("closed"));
        }
        const int winners = listening(racers);
        QVERIFY2(winners == 0 || winners == 1, qPrintable(QString::number(winners)));
        QRemoteObjectHost host;
        rio::RemoteListener contender(&host);
        const bool contenderListens = contender.listen(QUrl(url));
        if (winners == 1) {
            QVERIFY2(!contenderListens, "a second live listener took the name of the racer that won");
            QVERIFY(connects(pathOf(url)));
        } else {
            QVERIFY2(contenderListens, qPrintable(contender.errorString()));
        }
        for (const auto &racer : racers)
            racer->kill();
    }
}

// SECURITY.md: a peer cannot "take a live source's local: name, even after the source hit its
// open-file limit". The holder (another process) is held at its open-file limit, so accept() fails
// there, and its backlog is filled until connect() says EAGAIN: a second listener still finds the
// name live, and once the holder may open files again it accepts the connections that waited.
void tst_remote_listener_name::holderAtItsFileLimitWithAFullBacklogKeepsItsName()
{
    // The backlog holds SOMAXCONN (4096 here) connections: this process needs that many sockets.
    rlimit own{};
    QCOMPARE(::getrlimit(RLIMIT_NOFILE, &own), 0);
    const rlimit ownSaved = own;
    own.rlim_cur = std::min<rlim_t>(own.rlim_max, 12000);
    if (own.rlim_cur < 9000 || ::setrlimit(RLIMIT_NOFILE, &own) != 0)
        QSKIP("this process may not open the sockets it takes to fill a backlog");
    const auto restoreOwn = qScopeGuard([&] { ::setrlimit(RLIMIT_NOFILE, &ownSaved); });
    const QString url = uniqueLocalUrl();
    const QString path = pathOf(url);
    Child holder({QStringLiteral("--hold"), url});
    QCOMPARE(holder.line(), QByteArray("listening"));
    struct stat named{};
    QCOMPARE(::lstat(QFile::encodeName(path).constData(), &named), 0);
    rlimit saved{};
    QCOMPARE(::prlimit(holder.pid(), RLIMIT_NOFILE, nullptr, &saved), 0);
    rlimit low = saved;
    low.rlim_cur = lowestFreeDescriptor(holder.pid());
    QCOMPARE(::prlimit(holder.pid(), RLIMIT_NOFILE, &low, nullptr), 0);
    const auto restore = qScopeGuard([&] { ::prlimit(holder.pid(), RLIMIT_NOFILE, &saved, nullptr); });

    // Connections that wait in the holder's backlog, until it is full (bounded).
    std::vector<int> waiting;
    const auto closeAll = qScopeGuard([&] {
        for (const int fd : waiting)
            ::close(fd);
    });
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const QByteArray bytes = QFile::encodeName(path);
    std::memcpy(address.sun_path, bytes.constData(), size_t(bytes.size()));
    bool full = false;
    for (int i = 0; i < 10000 && !full; ++i) {
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        QVERIFY(fd >= 0);
        if (::connect(fd, reinterpret_cast<const sockaddr *>(&address), sizeof(address)) == 0) {
            waiting.push_back(fd);
            continue;
        }
        const int error = errno;
        ::close(fd);
        QVERIFY2(error == EAGAIN, qPrintable(qt_error_string(error)));
        full = true;
    }
    QVERIFY(full);
    holder.send("failures");
    const QByteArray failures = holder.line();
    QVERIFY2(failures.startsWith("failures ") && !failures.startsWith("failures 0 "), failures.constData());

    {
        QRemoteObjectHost host;
        rio::RemoteListener contender(&host);
        QVERIFY(!contender.listen(QUrl(url)));
        QVERIFY2(contender.errorString().contains(QStringLiteral("in use")),
                 qPrintable(contender.errorString()));
    }
    struct stat after{};
    QCOMPARE(::lstat(QFile::encodeName(path).constData(), &after), 0);
    QCOMPARE(after.st_ino, named.st_ino);
    QVERIFY(holder.running());

    // Free again, the holder accepts what waited (its backlog empties: a new connection gets in).
    ::prlimit(holder.pid(), RLIMIT_NOFILE, &saved, nullptr);
    QVERIFY(connects(path));
    for (const int fd : waiting)
        ::close(fd);
    waiting.clear();
}

// One process, eight threads, each with its own host and listener, listen on one fresh name at
// once: exactly one does (the lock is taken per open file, not per process); after each thread
// destroys its listener, the name is free again.
void tst_remote_listener_name::threadsOfOneProcessListenOnce()
{
    for (int round = 0, n = rounds("RIO_REMOTE_LISTEN_RACES", 10); round < n; ++round) {
        const QString url = uniqueLocalUrl();
        QCOMPARE(threadsListening(url), 1);
        QRemoteObjectHost host;
        rio::RemoteListener after(&host);
        QVERIFY2(after.listen(QUrl(url)), qPrintable(after.errorString()));
    }
}

// "A listen() that fails removes the lock file it created", also when eight threads fail together
// on a name a file holds, whichever of them took the lock first.
void tst_remote_listener_name::threadsFailingTogetherLeaveNothing()
{
    for (int round = 0, n = rounds("RIO_REMOTE_LISTEN_RACES", 40); round < n; ++round) {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString target = dir.filePath(QStringLiteral("name"));
        QFile file(target);
        QVERIFY(file.open(QIODevice::WriteOnly) && file.write("kept") == 4);
        file.close();
        const QStringList before = snapshot(dir.path());
        QCOMPARE(threadsListening(QStringLiteral("local:") + target), 0);
        QCOMPARE(snapshot(dir.path()), before);
    }
}

// SECURITY.md: "the listener survives reaching [the open-file limit]". Bursts of connections that
// close at once (before or after the source accepts them, some while it is at its open-file
// limit): the source keeps its name and its single instance, forgets every one of them, and
// serves a subscriber.
void tst_remote_listener_name::sourceSurvivesBurstsOfShortConnectionsAtItsFileLimit()
{
    const QString url = uniqueLocalUrl();
    auto started = startSource(url, {QStringLiteral("--handlers"), QStringLiteral("none")});
    const std::unique_ptr<Peer> &source = started.first;
    const QString address = started.second;
    QVERIFY(!address.isEmpty());
    const pid_t pid = pid_t(source->process().processId());
    rlimit saved{};
    QCOMPARE(::prlimit(pid, RLIMIT_NOFILE, nullptr, &saved), 0);
    const auto restore = qScopeGuard([&] { ::prlimit(pid, RLIMIT_NOFILE, &saved, nullptr); });
    sockaddr_un socketAddress{};
    socketAddress.sun_family = AF_UNIX;
    const QByteArray bytes = QFile::encodeName(pathOf(url));
    std::memcpy(socketAddress.sun_path, bytes.constData(), size_t(bytes.size()));
    const auto burst = [&](int count) {
        int connected = 0;
        for (int i = 0; i < count; ++i) {
            const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
            if (fd < 0)
                return -1;
            // Beyond the backlog, EAGAIN: the burst goes on.
            connected +=
                ::connect(fd, reinterpret_cast<const sockaddr *>(&socketAddress), sizeof(socketAddress)) == 0;
            if (i % 2 == 0)
                (void)::write(fd, "\x10\0", 2); // a packet's first bytes, then gone
            ::close(fd);
        }
        return connected;
    };
    for (int round = 0; round < 3; ++round) {
        QVERIFY(burst(1000) > 0);
        // Every connection of the burst accepted and forgotten before the limit (the backlog is
        // first in, first out: a probe that hears from the source was accepted after all of them),
        // so that only accept() runs at the limit (UBSan's vptr check cannot run there).
        {
            const std::unique_ptr<QIODevice> probe = rawConnection(address);
            QVERIFY(probe);
            probe->write(roPing(QStringLiteral("probe")));
            QVERIFY(QTest::qWaitFor([&] { return probe->bytesAvailable() > 0; }, Deadline));
            QVERIFY(source->waitStats([](const auto &s) { return s.value("connections") == 1; }));
        }
        QVERIFY(source->waitStats([](const auto &s) { return s.value("connections") == 0; }));
        rlimit low = saved;
        low.rlim_cur = lowestFreeDescriptor(pid);
        QCOMPARE(::prlimit(pid, RLIMIT_NOFILE, &low, nullptr), 0);
        QVERIFY(burst(1000) >= 0); // what the backlog has room for waits there
        QRemoteObjectHost host;
        rio::RemoteListener contender(&host);
        QVERIFY(!contender.listen(QUrl(url)));
        QCOMPARE(::prlimit(pid, RLIMIT_NOFILE, &saved, nullptr), 0);
    }
    QVERIFY(source->waitStats([](const auto &s) { return s.value("connections") == 0; }));
    auto subscriber = startSubscriber(address, {QStringLiteral("--quiet")});
    QVERIFY(subscriber->waitLine("state connected"));
    bool served = false;
    for (qint64 seq = 1; seq < 200 && !served; ++seq) {
        const QByteArray number = QByteArray::number(seq);
        subscriber->send("expect " + number);
        source->send("notify " + number + ' ' + number);
        served = subscriber->waitLine("reached " + number, 0, 2000).has_value();
    }
    QVERIFY(served);
    QCOMPARE(source->process().state(), QProcess::Running);
}

// REMOTE.md: a peer that "does not complete the handshake within handshakeTimeout of its TCP
// connect is dropped ... Every failed or unfinished handshake is one warning, one peerRejected and
// one count in rejectedCount()". 300 connections each send the first bytes of a TLS record and
// stop: each is dropped once, what the source holds for them meanwhile stays within 256 KiB a
// connection, and it is given back once they are gone.
void tst_remote_listener_name::unfinishedTlsHandshakesAreBoundedAndFreed()
{
#ifdef RIO_REMOTE_ASAN
    QSKIP("under AddressSanitizer the allocator is not glibc's: mallinfo2() says nothing");
#endif
    constexpr int Connections = 300;
    const TestCertificates certs;
    QVERIFY2(certs.error().isEmpty(), qPrintable(certs.error()));
    const auto started =
        startSource(QStringLiteral("tls://127.0.0.1:0"),
                    certs.args(QStringLiteral("server"), QStringLiteral("a")) +
                        QStringList{QStringLiteral("--handshake-timeout"), QStringLiteral("3000"),
                                    QStringLiteral("--handlers"), QStringLiteral("none")});
    const std::unique_ptr<Peer> &source = started.first;
    QVERIFY(!started.second.isEmpty());
    const quint16 port = quint16(QUrl(started.second).port());
    const qint64 heapBefore = source->stats().value("heap");
    std::vector<int> sockets;
    const auto closeAll = qScopeGuard([&] {
        for (const int fd : sockets)
            ::close(fd);
    });
    for (int i = 0; i < Connections; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        QVERIFY(fd >= 0);
        sockets.push_back(fd);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        QCOMPARE(::connect(fd, reinterpret_cast<const sockaddr *>(&address), sizeof(address)), 0);
        // A handshake record's header announcing 512 bytes, and 4 of them.
        QCOMPARE(::write(fd, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc", 9), ssize_t(9));
    }
    QMap<QByteArray, qint64> after;
    QVERIFY(source->waitStats(
        [&](const auto &s) {
            after = s;
            return s.value("rejected") >= Connections;
        },
        4 * Deadline));
    QCOMPARE(after.value("rejected"), qint64(Connections));
    const qint64 peakKiB = after.value("heapPeak") - heapBefore;
    qInfo("%d unfinished TLS handshakes: the source held %lld KiB more at the first drop (%lld bytes "
          "each), %lld KiB more once all were dropped",
          Connections, peakKiB, peakKiB * 1024 / Connections, after.value("heap") - heapBefore);
    QVERIFY2(peakKiB <= Connections * 256 + 16 * 1024, qPrintable(QString::number(peakKiB)));
    QVERIFY2(after.value("heap") - heapBefore <= 8 * 1024,
             qPrintable(QString::number(after.value("heap") - heapBefore)));
}

void tst_remote_listener_name::blockedRelayHoldsOneReadOfTheSender_data()
{
    addTransportRows();
    QTest::newRow("tls") << QStringLiteral("tls://127.0.0.1:0");
}

// REMOTE.md (Flow control, Block): a relayed event that finds a backlog full "is queued beyond
// capacity (by at most what the sender's connection had buffered, one read of up to maxPacketBytes
// + 64 KiB), and the source stops reading the sender's connection". A sender that posts 125 MiB
// while the only other subscriber is frozen makes the source hold that subscriber's backlog
// (capacity events), its unsent bytes and one read, not the flood; every event arrives once the
// frozen one reads again.
void tst_remote_listener_name::blockedRelayHoldsOneReadOfTheSender()
{
#ifdef RIO_REMOTE_ASAN
    QSKIP("under AddressSanitizer the allocator is not glibc's: mallinfo2() says nothing");
#endif
    QFETCH(QString, url);
    constexpr int EventBytes = 64 * 1024;
    constexpr qint64 Events = 2000;
    constexpr qint64 Capacity = 64;
    const bool tls = url.startsWith(QLatin1String("tls:"));
    std::optional<TestCertificates> certs;
    if (tls) {
        certs.emplace();
        QVERIFY2(certs->error().isEmpty(), qPrintable(certs->error()));
    }
    const QStringList sourceTls =
        tls ? certs->args(QStringLiteral("server"), QStringLiteral("a")) : QStringList();
    const QStringList subscriberTls =
        tls ? certs->args(QStringLiteral("client-a"), QStringLiteral("a")) : QStringList();
    auto started =
        startSource(url, sourceTls + QStringList{QStringLiteral("--overflow"), QStringLiteral("block"),
                                                 QStringLiteral("--block-timeout"), QStringLiteral("120000"),
                                                 QStringLiteral("--capacity"), QString::number(Capacity),
                                                 QStringLiteral("--handlers"), QStringLiteral("none")});
    const std::unique_ptr<Peer> &source = started.first;
    const QString address = started.second;
    QVERIFY(!address.isEmpty());
    auto frozen = startSubscriber(address, subscriberTls + QStringList{QStringLiteral("--quiet")});
    auto sender = startSubscriber(address, subscriberTls + QStringList{QStringLiteral("--quiet")});
    QVERIFY(frozen->waitLine("state connected"));
    QVERIFY(sender->waitLine("state connected"));
    // Both ready at the source: each has received an event.
    bool bothReady = false;
    for (qint64 seq = 1; seq < 200 && !bothReady; ++seq) {
        const QByteArray number = QByteArray::number(seq);
        frozen->send("expect " + number);
        sender->send("expect " + number);
        source->send("notify " + number + ' ' + number);
        bothReady =
            frozen->waitLine("reached " + number, 0, 2000) && sender->waitLine("reached " + number, 0, 2000);
    }
    QVERIFY(bothReady);
    const qint64 heapBefore = source->stats().value("heap");
    QVERIFY(heapBefore > 0);
    const qint64 first = 10000;
    const qint64 last = first + Events - 1;
    frozen->send("expect " + QByteArray::number(last)); // reported once thawed
    frozen->send("freeze");
    QVERIFY(frozen->waitLine("frozen"));
    sender->send("notify " + QByteArray::number(first) + ' ' + QByteArray::number(last) + ' ' +
                 QByteArray::number(EventBytes));
    QVERIFY(sender->waitLine("notified " + QByteArray::number(last)));
    // The source holds the frozen subscriber's backlog full and stops reading the sender; each time
    // the backlog has room again, one read of the sender is relayed, and no more.
    qint64 heapPeak = 0;
    qint64 mostPending = 0;
    int fullSamples = 0;
    QVERIFY(QTest::qWaitFor(
        [&] {
            const auto stats = source->stats();
            heapPeak = std::max(heapPeak, stats.value("heap"));
            mostPending = std::max(mostPending, stats.value("pending"));
            fullSamples += stats.value("pending") >= Capacity ? 1 : 0;
            return fullSamples >= 200;
        },
        4 * Deadline));
    frozen->send("thaw");
    // While the frozen one catches up, the backlog dips below capacity again and again, and each
    // time the source relays one read of the sender.
    QVERIFY(QTest::qWaitFor(
        [&] {
            mostPending = std::max(mostPending, source->stats().value("pending"));
            return !frozen->lines("reached " + QByteArray::number(last)).isEmpty();
        },
        4 * Deadline));
    const auto stats = source->stats();
    // Bound: the backlog (capacity events), the connection's unsent bytes (high water, one frame),
    // one read of the sender (maxPacketBytes + 64 KiB), and 32 MiB for the rest (copies on the way, TLS's
    // buffers); the flood is 125 MiB.
    const qint64 boundKiB = (Capacity * EventBytes + (qint64(1) << 20) + (256 << 10) + (qint64(1) << 20) +
                             (128 << 10) + (qint64(32) << 20)) /
                            1024;
    qInfo("source heap while the sender waited: +%lld KiB (bound %lld KiB, flood %lld KiB); largest "
          "backlog %lld events",
          heapPeak - heapBefore, boundKiB, Events * EventBytes / 1024, mostPending);
    QCOMPARE(stats.value("dropped"), 0);
    // One read holds at most maxPacketBytes + 64 KiB (the listener's defaults), so that many bytes of
    // events beyond capacity. Over TLS, Qt decrypts all the encrypted bytes its socket buffered (up
    // to that size too) whenever its decrypted buffer has room: up to twice that.
    const qint64 oneRead = (rio::RemoteListener::Options{}.maxPacketBytes + 65536) * (tls ? 2 : 1);
    QVERIFY2(mostPending <= Capacity + oneRead / EventBytes,
             qPrintable(QStringLiteral("the backlog held %1 events (capacity %2, one read %3 events)")
                            .arg(mostPending)
                            .arg(Capacity)
                            .arg(oneRead / EventBytes)));
    QVERIFY2(heapPeak - heapBefore <= boundKiB,
             qPrintable(QStringLiteral("the source grew by %1 KiB while paused (bound %2 KiB)")
                            .arg(heapPeak - heapBefore)
                            .arg(boundKiB)));
}

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (argc == 3 && QByteArray(argv[1]) == "--hold")
        return holdChild(QString::fromLocal8Bit(argv[2]));
    tst_remote_listener_name test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}

#include "tst_remote_listener_name.moc"
