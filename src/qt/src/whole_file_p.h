// SPDX-License-Identifier: MIT
#pragma once

#include <registryio/qt/logging.h>

#include <QByteArray>
#include <QFile>
#include <QFileInfo>
#include <QSaveFile>
#include <QString>

#ifdef Q_OS_UNIX
#include <csignal>
#include <ctime>
#include <pthread.h>
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
#endif

// Writes `bytes` to `path`; false, with a warning, if it cannot. A regular file (or a new one) is
// replaced as a whole, so a reader never sees half of it; a path that names something else
// (/dev/null, /dev/stdout, a pipe, a terminal) is written to as it is, never replaced by a
// regular file, and a pipe whose reader has gone fails the write rather than the process.
// Hidden, as the guard above: when a build does not inline it, it is not exported.
Q_DECL_HIDDEN inline bool writeWholeFile(const QString &path, const QByteArray &bytes)
{
    const QFileInfo info(path);
    if (info.exists() && !info.isFile()) {
#ifdef Q_OS_UNIX
        const PipeSignalBlocked blocked; // outlives the file, whose close may write too
#endif
        QFile file(path);
        if (file.open(QIODevice::WriteOnly | QIODevice::Unbuffered) && file.write(bytes) == bytes.size())
            return true;
        qCWarning(lcDiagnostics, "cannot write %s: %s", qUtf8Printable(path),
                  qUtf8Printable(file.errorString()));
        return false;
    }
    QSaveFile file(path);
    if (file.open(QIODevice::WriteOnly) && file.write(bytes) == bytes.size() && file.commit())
        return true;
    qCWarning(lcDiagnostics, "cannot write %s: %s", qUtf8Printable(path), qUtf8Printable(file.errorString()));
    return false;
}

} // namespace rio::detail
