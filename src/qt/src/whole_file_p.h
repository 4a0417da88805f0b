// SPDX-License-Identifier: MIT
#pragma once

#include <registryio/qt/logging.h>

#include <QByteArray>
#include <QFile>
#include <QSaveFile>
#include <QString>

#include <algorithm>

#ifdef Q_OS_UNIX
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace rio::detail {

#ifdef Q_OS_UNIX
// While it lives, SIGPIPE is blocked in the calling thread, so a write into a pipe whose reader
// has gone fails with EPIPE instead of killing the process; a SIGPIPE that the write made pending
// (and was not pending before) is taken at the end, and the thread's mask restored.
// Hidden: a helper of the library's own files, never part of its ABI.
class Q_DECL_HIDDEN PipeSignalBlocked
{
public:
    PipeSignalBlocked()
    {
        sigemptyset(&m_pipe);
        sigaddset(&m_pipe, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &m_pipe, &m_saved);
        m_wasPending = pending();
    }
    ~PipeSignalBlocked()
    {
        if (!m_wasPending && pending()) {
            const timespec zero{};
            sigtimedwait(&m_pipe, nullptr, &zero);
        }
        pthread_sigmask(SIG_SETMASK, &m_saved, nullptr);
    }
    PipeSignalBlocked(const PipeSignalBlocked &) = delete;
    PipeSignalBlocked &operator=(const PipeSignalBlocked &) = delete;

private:
    static bool pending()
    {
        sigset_t set;
        sigemptyset(&set);
        return sigpending(&set) == 0 && sigismember(&set, SIGPIPE) == 1;
    }
    sigset_t m_pipe{};
    sigset_t m_saved{};
    bool m_wasPending = false;
};

// The bytes written whole into `fd`; false with errno.
Q_DECL_HIDDEN inline bool writeAll(int fd, const QByteArray &bytes)
{
    for (qsizetype at = 0; at < bytes.size();) {
        const ssize_t n = ::write(fd, bytes.constData() + at, static_cast<std::size_t>(bytes.size() - at));
        if (n < 0 && errno != EINTR)
            return false;
        at += std::max<ssize_t>(n, 0);
    }
    return true;
}

// What writing `bytes` to `name` failed for (empty: written). See writeWholeFile.
Q_DECL_HIDDEN inline QString writeOrReplace(const QByteArray &name, const QByteArray &bytes)
{
    const auto trusted = [](const struct stat &st) { return st.st_uid == ::geteuid() || st.st_uid == 0; };
    struct stat st{};
    struct stat target{};
    const bool special = ::lstat(name.constData(), &st) == 0 && !S_ISREG(st.st_mode);
    const bool linked = special && S_ISLNK(st.st_mode);
    if (special && (!linked || (::stat(name.constData(), &target) == 0 && !S_ISREG(target.st_mode)))) {
        // A pipe, terminal or device (or a link to one): written into, if this user's or root's.
        if (!trusted(st) || (linked && !trusted(target)))
            return QStringLiteral("it is another user's link, pipe or device");
        const PipeSignalBlocked blocked;
        const int fd = ::open(name.constData(), O_WRONLY | O_CLOEXEC | O_NOCTTY | (linked ? 0 : O_NOFOLLOW));
        struct stat opened{};
        QString failure;
        if (fd < 0)
            return qt_error_string(errno);
        if (::fstat(fd, &opened) != 0 || S_ISREG(opened.st_mode) || !trusted(opened))
            failure = QStringLiteral("it is another user's link, pipe or device"); // swapped meanwhile
        else if (!writeAll(fd, bytes))
            failure = qt_error_string(errno);
        ::close(fd);
        return failure;
    }
    // A new file, a regular one or a link to one (or to nothing): replaced by a new file, made
    // beside it with O_EXCL (mkostemp: mode 0600), so that the rename never crosses a file system.
    QByteArray temp = name + ".XXXXXX";
    const int fd = ::mkostemp(temp.data(), O_CLOEXEC);
    if (fd < 0)
        return qt_error_string(errno);
    const bool written = writeAll(fd, bytes) && ::fsync(fd) == 0;
    const int error = errno;
    if (::close(fd) == 0 && written && ::rename(temp.constData(), name.constData()) == 0)
        return {};
    const QString failure = qt_error_string(written ? errno : error);
    ::unlink(temp.constData());
    return failure;
}
#endif

// Writes `bytes` to `path`; false, with a warning, if it cannot. Never through another user's
// link, pipe or device (one placed in a shared folder such as /tmp): a new or regular file, or a
// link to one, is replaced as a whole by a file of this user's alone (mode 0600, synced under a
// new name beside it, then renamed over the path: a link is replaced itself, never its target);
// a pipe, terminal or device of this user's or root's (a FIFO of one's own, /dev/null,
// /dev/stdout) is written into as it is, and a pipe whose reader has gone fails the write rather
// than the process. Hidden, as the guard above: when a build does not inline it, it is not exported.
Q_DECL_HIDDEN inline bool writeWholeFile(const QString &path, const QByteArray &bytes)
{
#ifdef Q_OS_UNIX
    const QString failure = writeOrReplace(QFile::encodeName(path), bytes);
    if (failure.isEmpty())
        return true;
#else
    QSaveFile file(path);
    if (file.open(QIODevice::WriteOnly) && file.write(bytes) == bytes.size() && file.commit())
        return true;
    const QString failure = file.errorString();
#endif
    qCWarning(lcDiagnostics, "cannot write %s: %s", qUtf8Printable(path), qUtf8Printable(failure));
    return false;
}

} // namespace rio::detail
