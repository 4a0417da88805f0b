// SPDX-License-Identifier: MIT
#include "remote_local_server_p.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLocalServer>
#include <QLocalSocket>
#include <QSocketNotifier>
#include <QTimer>

#ifdef Q_OS_UNIX
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#endif

#include <utility>

namespace rio::detail {

RemoteLocalServer::RemoteLocalServer(std::function<void(QLocalSocket *)> accepted,
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

QString errnoString(int error)
{
    return qt_error_string(error);
}

bool setCloseOnExec(int fd)
{
    const int flags = ::fcntl(fd, F_GETFD);
    return flags >= 0 && ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0;
}

} // namespace

RemoteLocalServer::~RemoteLocalServer()
{
    if (m_fd < 0)
        return;
    ::close(m_fd);
    // The name is removed only while it is still this server's socket (a stale-socket cleanup by
    // another process may have put its own there).
    struct stat st{};
    const QByteArray path = QFile::encodeName(m_path);
    if (::lstat(path.constData(), &st) == 0 && quint64(st.st_ino) == m_inode)
        ::unlink(path.constData());
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
    // Bound in a private folder beside the target, made user-only there, then linked under its
    // name: it is never reachable by others, and link() never replaces a file that is there.
    QByteArray folder = QFile::encodeName(QFileInfo(target).absolutePath()) + "/.rio-XXXXXX";
    if (::mkdtemp(folder.data()) == nullptr) {
        *error = QStringLiteral("local:%1: cannot create a folder beside %2: %3")
                     .arg(name, target, errnoString(errno));
        return false;
    }
    const QByteArray bound = folder + "/s";
    const auto cleanUp = [&] {
        ::unlink(bound.constData());
        ::rmdir(folder.constData());
    };
    sockaddr_un boundAddress{};
    boundAddress.sun_family = AF_UNIX;
    if (bound.size() + 1 > qsizetype(sizeof(boundAddress.sun_path))) {
        ::rmdir(folder.constData());
        *error = QStringLiteral("local:%1: the socket path %2 is too long").arg(name, target);
        return false;
    }
    std::memcpy(boundAddress.sun_path, bound.constData(), size_t(bound.size()) + 1);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        ::rmdir(folder.constData());
        *error = QStringLiteral("local:%1: socket(): %2").arg(name, errnoString(errno));
        return false;
    }
    const auto fail = [&](const char *what) {
        const int saved = errno;
        ::close(fd);
        cleanUp();
        *error = QStringLiteral("local:%1: %2: %3").arg(name, QLatin1String(what), errnoString(saved));
        return false;
    };
    if (!setCloseOnExec(fd) || ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
        return fail("fcntl()");
    if (::bind(fd, reinterpret_cast<const sockaddr *>(&boundAddress), sizeof(boundAddress)) != 0)
        return fail("bind()");
    if (::chmod(bound.constData(), S_IRUSR | S_IWUSR) != 0)
        return fail("chmod()");
    if (::listen(fd, SOMAXCONN) != 0)
        return fail("listen()");
    if (::link(bound.constData(), targetBytes.constData()) != 0)
        return fail(errno == EEXIST ? "the name is taken" : "link()");
    struct stat st{};
    if (::lstat(targetBytes.constData(), &st) != 0)
        return fail("stat()");
    cleanUp();
    m_fd = fd;
    m_inode = quint64(st.st_ino);
    m_path = target;
    m_notifier = new QSocketNotifier(qintptr(fd), QSocketNotifier::Read, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &RemoteLocalServer::acceptPending);
    m_retry = new QTimer(this);
    m_retry->setSingleShot(true);
    m_retry->setInterval(RetryMs);
    connect(m_retry, &QTimer::timeout, this, [this] {
        m_notifier->setEnabled(true);
        acceptPending();
    });
    return true;
}

void RemoteLocalServer::acceptPending()
{
    // A bounded number per turn: the notifier fires again while more wait.
    for (int i = 0; i < 64; ++i) {
        const int fd = ::accept(m_fd, nullptr, nullptr);
        if (fd < 0) {
            const int error = errno;
            if (error == EINTR || error == ECONNABORTED || error == EPROTO)
                continue; // this connection is gone; the next may be there
            if (error == EAGAIN || error == EWOULDBLOCK)
                return;
            // EMFILE, ENFILE, ENOBUFS, ENOMEM...: the connection stays in the backlog. The socket
            // stays open and listening; accepting resumes after a pause (the notifier would fire
            // at once again).
            m_notifier->setEnabled(false);
            m_retry->start();
            m_failed(error);
            return;
        }
        auto *socket = new QLocalSocket(this);
        if (!setCloseOnExec(fd) || !socket->setSocketDescriptor(qintptr(fd))) {
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

#endif

} // namespace rio::detail
