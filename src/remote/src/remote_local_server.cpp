// SPDX-License-Identifier: MIT
#include "remote_listener_p.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLocalServer>
#include <QLocalSocket>
#include <QSocketNotifier>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>

#ifdef Q_OS_UNIX
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#endif

#include <utility>

namespace rio::detail {

RemoteLocalServer::RemoteLocalServer(std::function<void(QIODevice *)> accepted,
                                     std::function<void(int)> failed, QObject *parent)
    : QObject(parent), m_accepted(std::move(accepted)), m_failed(std::move(failed))
{ }

QString RemoteLocalServer::pathFor(const QString &name)
{
    if (name.startsWith(QLatin1Char('/')))
        return name;
    return QDir::cleanPath(QDir::tempPath()) + QLatin1Char('/') + name;
}

#ifdef Q_OS_UNIX

namespace {

// Local sockets, close-on-exec (and non-blocking, but for accepted ones) from the moment they exist,
// by flag where the system has them: no child another thread starts inherits one.
#if defined(SOCK_CLOEXEC) && defined(SOCK_NONBLOCK)
int localSocket()
{
    return ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
}
int acceptCloseOnExec(int server)
{
    return ::accept4(server, nullptr, nullptr, SOCK_CLOEXEC);
}
#else // macOS: neither flag nor accept4(); set just after (a child started between may inherit it)
int localSocket()
{
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd >= 0 && (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || ::fcntl(fd, F_SETFL, O_NONBLOCK) != 0)) {
        const int error = errno;
        ::close(fd);
        errno = error;
        return -1;
    }
    return fd;
}
int acceptCloseOnExec(int server)
{
    const int fd = ::accept(server, nullptr, nullptr);
    if (fd >= 0)
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
}
#endif

// Listeners of one name take turns through a user-only lock file `<name>.lock`, from making their
// socket to linking it under the name (or removing theirs): a killed process's socket is replaced by
// one listener only. Whoever leaves the name, or fails after creating the lock file, removes it while
// holding it (a holder whose file was replaced starts again). Only a regular, empty, user-only file
// is used; a holder that never lets go fails listen() after LockWaitMs.
class NameLock
{
public:
    static constexpr int LockWaitMs = 2000;

    explicit NameLock(const QByteArray &target) : m_path(target + ".lock")
    {
        for (int waited = 0; m_error == 0 && !tryTake(); ++waited) {
            if (waited >= LockWaitMs)
                m_error = EWOULDBLOCK;
            else
                ::poll(nullptr, 0, 1);
        }
    }
    ~NameLock()
    {
        if (m_fd >= 0)
            ::close(m_fd); // releases the lock
    }
    NameLock(const NameLock &) = delete;
    NameLock &operator=(const NameLock &) = delete;

    static constexpr int NotALockFile = -1;             // error(): the file under its name is not a lock file
    [[nodiscard]] int error() const { return m_error; } // 0 when held, else errno or NotALockFile
    [[nodiscard]] QString errorString() const
    {
        if (m_error == EWOULDBLOCK)
            return QStringLiteral("another process has held %1 for %2 ms")
                .arg(QFile::decodeName(m_path))
                .arg(LockWaitMs);
        if (m_error != NotALockFile)
            return qt_error_string(m_error);
        return QStringLiteral("%1 is not a lock file of this user's listeners (a regular, empty, "
                              "user-only file); it is left as it is")
            .arg(QFile::decodeName(m_path));
    }
    // Removes the lock file (held): the next listener creates its own.
    void removeFile() const
    {
        if (m_fd >= 0)
            ::unlink(m_path.constData());
    }
    // If this lock created it: a listen() that fails leaves nothing.
    void removeIfCreated() const
    {
        if (m_created)
            removeFile();
    }

private:
    // One try: true when held; false with m_error set when it cannot be.
    bool tryTake()
    {
        // O_NONBLOCK: a FIFO or a device under the name never blocks the open.
        constexpr int Flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
        m_fd = ::open(m_path.constData(), Flags | O_CREAT | O_EXCL, 0600);
        m_created = m_created || m_fd >= 0; // at any try (another may have locked it first)
        if (m_fd < 0 && errno == EEXIST)
            m_fd = ::open(m_path.constData(), Flags);
        if (m_fd < 0) {
            if (errno != ENOENT) // ENOENT: removed between the two opens; the next try creates it
                m_error = errno;
            return false;
        }
        struct stat held{};
        struct stat named{};
        if (::fstat(m_fd, &held) != 0) {
            m_error = errno;
        } else if (!S_ISREG(held.st_mode) || held.st_uid != ::geteuid() ||
                   (held.st_mode & (S_IRWXG | S_IRWXO)) != 0 || held.st_size != 0) {
            m_error = NotALockFile;
        } else if (::flock(m_fd, LOCK_EX | LOCK_NB) != 0) {
            if (errno != EWOULDBLOCK && errno != EINTR)
                m_error = errno;
        } else if (::lstat(m_path.constData(), &named) == 0 && held.st_ino == named.st_ino &&
                   held.st_dev == named.st_dev) {
            return true; // the file still under its name: the lock is held
        }
        ::close(m_fd);
        m_fd = -1;
        return false;
    }

    QByteArray m_path;
    int m_fd = -1;
    int m_error = 0;
    bool m_created = false;
};

// What holds a path: a server that accepts connections, a socket nobody listens on, or not ours.
enum class Holder { Live, Stale, Gone, NotASocket, AnotherUsers, Unknown };

Holder holderOf(const QByteArray &path, const sockaddr_un &address)
{
    struct stat st{};
    if (::lstat(path.constData(), &st) != 0)
        return Holder::Gone;
    if (!S_ISSOCK(st.st_mode))
        return Holder::NotASocket;
    if (st.st_uid != ::geteuid())
        return Holder::AnotherUsers; // never ours to replace, live or not
    const int probe = localSocket();
    if (probe < 0)
        return Holder::Unknown; // never replaced; errno says why
    const int result = ::connect(probe, reinterpret_cast<const sockaddr *>(&address), sizeof(address));
    const int error = errno;
    ::close(probe);
    if (result == 0 || error == EAGAIN || error == EINPROGRESS)
        return Holder::Live; // accepted, or its backlog is full
    return error == ECONNREFUSED ? Holder::Stale : error == ENOENT ? Holder::Gone : Holder::Live;
}

// A listening socket bound and made user-only in a private folder beside its target (so others
// never reach it before it is linked under its name); the folder goes with it.
class PrivateSocket
{
public:
    PrivateSocket() = default;
    PrivateSocket(const PrivateSocket &) = delete;
    PrivateSocket &operator=(const PrivateSocket &) = delete;
    ~PrivateSocket()
    {
        if (m_fd >= 0)
            ::close(m_fd);
        if (m_folderFd >= 0)
            ::close(m_folderFd);
        if (!m_bound.isEmpty()) {
            ::unlink(m_bound.constData());
            ::rmdir(m_bound.chopped(2).constData()); // its folder
        }
    }

    // Creates it beside `target` (of local:`name`); false with `error`.
    bool create(const QString &name, const QString &target, QString *error)
    {
        QByteArray folder = QFile::encodeName(QFileInfo(target).absolutePath()) + "/.rio-XXXXXX";
        if (::mkdtemp(folder.data()) == nullptr) {
            *error = QStringLiteral("local:%1: cannot create a folder beside %2: %3")
                         .arg(name, target, qt_error_string(errno));
            return false;
        }
        m_bound = folder + "/s";
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        // A path too long for a socket address (a target that fits, deep in a folder) is bound
        // through the folder's descriptor.
        QByteArray bindAt = m_bound;
#ifdef Q_OS_LINUX
        if (m_bound.size() + 1 > qsizetype(sizeof(address.sun_path))) {
            m_folderFd = ::open(folder.constData(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (m_folderFd < 0) {
                *error = QStringLiteral("local:%1: open(): %2").arg(name, qt_error_string(errno));
                return false;
            }
            bindAt = "/proc/self/fd/" + QByteArray::number(m_folderFd) + "/s";
        }
#endif
        if (bindAt.size() + 1 > qsizetype(sizeof(address.sun_path))) {
            *error = QStringLiteral("local:%1: the socket path %2 is too long").arg(name, target);
            return false;
        }
        std::memcpy(address.sun_path, bindAt.constData(), size_t(bindAt.size()) + 1);
        const char *failed = nullptr;
        if ((m_fd = localSocket()) < 0)
            failed = "socket()";
        else if (::bind(m_fd, reinterpret_cast<const sockaddr *>(&address), sizeof(address)) != 0)
            failed = "bind()";
        else if (::chmod(m_bound.constData(), S_IRUSR | S_IWUSR) != 0)
            failed = "chmod()";
        else if (::listen(m_fd, SOMAXCONN) != 0)
            failed = "listen()";
        if (failed != nullptr)
            *error =
                QStringLiteral("local:%1: %2: %3").arg(name, QLatin1String(failed), qt_error_string(errno));
        return failed == nullptr;
    }
    [[nodiscard]] const QByteArray &path() const { return m_bound; }
    // The socket, listening (its folder still goes).
    int take() { return std::exchange(m_fd, -1); }

private:
    QByteArray m_bound; // <folder>/s
    int m_fd = -1;
    int m_folderFd = -1;
};

// Links the socket at `bound` under `target` (whose lock is held), replacing only a socket left by
// a killed process of this user. Empty, or why not.
QString claimName(const QByteArray &bound, const QByteArray &target, const sockaddr_un &address)
{
    const auto failed = [](const char *what, int error) {
        return QStringLiteral("%1: %2").arg(QLatin1String(what), qt_error_string(error));
    };
    while (::link(bound.constData(), target.constData()) != 0) {
        if (errno != EEXIST)
            return failed("link()", errno);
        switch (holderOf(target, address)) {
        case Holder::Live:
            return QStringLiteral("in use by a running server");
        case Holder::Unknown:
            return failed("socket(), to tell whether a server has the name", errno);
        case Holder::NotASocket:
            return failed("a file that is not a socket has the name", EEXIST);
        case Holder::AnotherUsers:
            return failed("a socket of another user has the name", EEXIST);
        case Holder::Stale: // left by a killed process of this user: replaced
            if (::unlink(target.constData()) != 0 && errno != ENOENT)
                return failed("removing the socket left by a process that exited", errno);
            break;
        case Holder::Gone:
            break;
        }
    }
    return {};
}

} // namespace

RemoteLocalServer::~RemoteLocalServer()
{
    if (m_fd < 0 || m_path.isEmpty()) // (none: accepting for a QTcpServer, whose descriptor it is)
        return;
    // The name is removed only while it is still this server's socket, whose inode number no other
    // socket can take while this one is open (it is closed last). Without the lock the socket
    // stays: a later listener replaces it as stale.
    const QByteArray path = QFile::encodeName(m_path);
    const NameLock lock(path);
    struct stat st{};
    if (lock.error() == 0 && ::lstat(path.constData(), &st) == 0 && quint64(st.st_ino) == m_inode) {
        ::unlink(path.constData());
        lock.removeFile();
    } else {
        lock.removeIfCreated();
    }
    ::close(m_fd);
}

bool RemoteLocalServer::listen(const QString &name, QString *error)
{
    const QString target = pathFor(name);
    const QByteArray targetBytes = QFile::encodeName(target);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (targetBytes.size() + 1 > qsizetype(sizeof(address.sun_path))) {
        *error = QStringLiteral("local:%1: the socket path %2 is too long").arg(name, target);
        return false;
    }
    std::memcpy(address.sun_path, targetBytes.constData(), size_t(targetBytes.size()) + 1);
    // The private socket is made under the lock, so that a listener killed while it waits for
    // the lock leaves nothing.
    const NameLock lock(targetBytes);
    if (lock.error() != 0) {
        *error = QStringLiteral("local:%1: cannot lock the name: %2").arg(name, lock.errorString());
        return false;
    }
    PrivateSocket bound;
    if (!bound.create(name, target, error)) {
        lock.removeIfCreated();
        return false;
    }
    struct stat st{};
    QString why = claimName(bound.path(), targetBytes, address);
    if (why.isEmpty() && ::lstat(targetBytes.constData(), &st) != 0)
        why = QStringLiteral("stat(): %1").arg(qt_error_string(errno));
    if (!why.isEmpty()) {
        lock.removeIfCreated(); // a failure leaves nothing
        *error = why.startsWith(QLatin1String("in use")) ? QStringLiteral("local:%1 is %2").arg(name, why)
                                                         : QStringLiteral("local:%1: %2").arg(name, why);
        return false;
    }
    m_fd = bound.take();
    m_inode = quint64(st.st_ino);
    m_path = target;
    startAccepting();
    return true;
}

bool RemoteLocalServer::acceptFor(QTcpServer *server, std::function<void(qintptr)> incoming)
{
    server->pauseAccepting(); // for good: it is never resumed
    m_fd = int(server->socketDescriptor());
    m_incoming = std::move(incoming);
    startAccepting();
    return true;
}

void RemoteLocalServer::startAccepting()
{
    m_notifier = new QSocketNotifier(qintptr(m_fd), QSocketNotifier::Read, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &RemoteLocalServer::acceptPending);
    m_retry = new QTimer(this);
    m_retry->setSingleShot(true);
    m_retry->setInterval(RetryMs);
    connect(m_retry, &QTimer::timeout, this, [this] {
        m_notifier->setEnabled(true);
        acceptPending();
    });
}

void RemoteLocalServer::acceptPending()
{
    // A bounded number per turn: the notifier fires again while more wait.
    for (int i = 0; i < 64; ++i) {
        const int fd = acceptCloseOnExec(m_fd);
        if (fd < 0) {
            const int error = errno;
            if (error == EINTR || error == ECONNABORTED || error == EPROTO)
                continue; // this connection is gone; the next may be there
            if (error == EAGAIN || error == EWOULDBLOCK)
                return;
            // EMFILE, ENFILE, ENOBUFS, ENOMEM...: the connection stays in the backlog; accepting
            // resumes after a pause (the notifier would fire at once again).
            m_notifier->setEnabled(false);
            m_retry->start();
            m_failed(error);
            return;
        }
        // A QTcpSocket, as QLocalSocket has inside: setReadBufferSize() bounds its one buffer
        // (QLocalSocket buffers small reads on top of it without a bound).
        if (m_incoming) {
            m_incoming(qintptr(fd));
            continue;
        }
        auto *socket = new QTcpSocket(this);
        if (!socket->setSocketDescriptor(qintptr(fd), QAbstractSocket::ConnectedState,
                                         QIODevice::ReadWrite | QIODevice::Unbuffered)) {
            ::close(fd);
            delete socket;
            continue;
        }
        m_accepted(socket);
    }
}

#else // not Unix: QLocalServer, which stops at its first failed accept() there

RemoteLocalServer::~RemoteLocalServer() = default;

bool RemoteLocalServer::listen(const QString &name, QString *error)
{
    // A live server keeps its name; one left by a killed process is replaced.
    {
        QLocalSocket probe;
        probe.connectToServer(name);
        if (probe.waitForConnected(1000)) {
            probe.abort();
            *error = QStringLiteral("local:%1 is in use by a running server").arg(name);
            return false;
        }
    }
    QLocalServer::removeServer(name);
    auto *server = new QLocalServer(this);
    server->setSocketOptions(QLocalServer::UserAccessOption);
    if (!server->listen(name)) {
        *error = server->errorString();
        delete server;
        return false;
    }
    connect(server, &QLocalServer::newConnection, this, [this, server] {
        while (QLocalSocket *socket = server->nextPendingConnection())
            m_accepted(socket);
    });
    m_path = server->fullServerName();
    return true;
}

void RemoteLocalServer::acceptPending() { }

bool RemoteLocalServer::acceptFor(QTcpServer *, std::function<void(qintptr)>)
{
    return false;
}

#endif

} // namespace rio::detail
