// SPDX-License-Identifier: MIT
#pragma once
// A child process for the cross-process tests under ThreadSanitizer. Qt 6.4's QProcess starts
// children with vforkfd (clone with CLONE_VM), which ThreadSanitizer's clone interceptor cannot
// follow (it aborts in the child: "CHECK failed: ... !thr->slot"); posix_spawn does not go
// through that interceptor. The subset of QProcess the tests use: stdin, stdout (stderr
// forwarded or merged), state, kill, waitForFinished.
#include <QByteArray>
#include <QDeadlineTimer>
#include <QProcess>
#include <QSocketNotifier>
#include <QStringList>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <functional>
#include <memory>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>
#include <vector>

extern char **environ;

class ChildProcess
{
public:
    ChildProcess() = default;
    ChildProcess(const ChildProcess &) = delete;
    ChildProcess &operator=(const ChildProcess &) = delete;
    ~ChildProcess()
    {
        m_readyRead = nullptr; // its owner's members may be gone already
        if (state() == QProcess::Running) {
            kill();
            waitForFinished(10000);
        }
        closeFd(m_in);
        closeFd(m_out);
        closeFd(m_pidfd);
    }

    void setProcessChannelMode(QProcess::ProcessChannelMode mode)
    {
        m_merged = mode == QProcess::MergedChannels;
    }
    // Called when stdout has bytes (on this thread's event loop).
    void setReadyRead(std::function<void()> callback) { m_readyRead = std::move(callback); }

    void start(const QString &program, const QStringList &args)
    {
        int in[2];
        int out[2];
        if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0)
            return;
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
        if (m_merged)
            posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
        const QByteArray path = program.toLocal8Bit();
        std::vector<QByteArray> storage{path};
        for (const QString &arg : args)
            storage.push_back(arg.toLocal8Bit());
        std::vector<char *> argv;
        for (QByteArray &s : storage)
            argv.push_back(s.data());
        argv.push_back(nullptr);
        const int rc = ::posix_spawn(&m_pid, path.constData(), &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        ::close(in[0]);
        ::close(out[1]);
        m_in = in[1];
        m_out = out[0];
        if (rc != 0) {
            m_pid = 0;
            return;
        }
        m_pidfd = int(::syscall(SYS_pidfd_open, m_pid, 0));
        ::fcntl(m_out, F_SETFL, ::fcntl(m_out, F_GETFL) | O_NONBLOCK);
        m_notifier = std::make_unique<QSocketNotifier>(m_out, QSocketNotifier::Read);
        QObject::connect(m_notifier.get(), &QSocketNotifier::activated, [this] { readSome(); });
    }

    qint64 write(const QByteArray &bytes)
    {
        if (m_in < 0)
            return -1;
        qint64 done = 0;
        while (done < bytes.size()) {
            const ssize_t n = ::write(m_in, bytes.constData() + done, size_t(bytes.size() - done));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return -1;
            done += n;
        }
        return done;
    }

    QByteArray readAllStandardOutput() { return std::exchange(m_buffer, {}); }
    QByteArray readAll() { return readAllStandardOutput(); }

    QProcess::ProcessState state()
    {
        reap(false);
        return m_pid > 0 ? QProcess::Running : QProcess::NotRunning;
    }
    void kill()
    {
        if (m_pid > 0)
            ::kill(m_pid, SIGKILL);
    }
    bool waitForStarted() const { return m_pid > 0; }
    bool waitForFinished(int msecs)
    {
        const QDeadlineTimer deadline(msecs);
        while (m_pid > 0) {
            const int left = int(deadline.remainingTime());
            if (m_pidfd < 0) { // no pidfd_open (a kernel before 5.3, a seccomp filter): polled
                reap(false);
                if (m_pid > 0 && left == 0)
                    return false;
                if (m_pid > 0)
                    ::poll(nullptr, 0, left < 0 ? 10 : std::min(left, 10));
                continue;
            }
            pollfd fd{m_pidfd, POLLIN, 0};
            if (::poll(&fd, 1, left < 0 ? -1 : left) == 0)
                return false;
            reap(true);
        }
        readSome();
        return true;
    }
    qint64 processId() const { return m_pid; }
    QProcess::ExitStatus exitStatus() const { return m_crashed ? QProcess::CrashExit : QProcess::NormalExit; }
    int exitCode() const { return m_exitCode; }

private:
    static void closeFd(int &fd)
    {
        if (fd >= 0)
            ::close(fd);
        fd = -1;
    }
    void readSome()
    {
        if (m_out < 0)
            return;
        char chunk[4096];
        bool got = false;
        for (;;) {
            const ssize_t n = ::read(m_out, chunk, sizeof chunk);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                if (n == 0 && m_notifier)
                    m_notifier->setEnabled(false); // the child closed its end
                break;
            }
            m_buffer.append(chunk, n);
            got = true;
        }
        if (got && m_readyRead)
            m_readyRead();
    }
    void reap(bool wait)
    {
        if (m_pid <= 0)
            return;
        int status = 0;
        const pid_t r = ::waitpid(m_pid, &status, wait ? 0 : WNOHANG);
        if (r == m_pid) {
            m_pid = 0;
            m_crashed = WIFSIGNALED(status);
            m_exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            readSome(); // what the child wrote before it ended is read before it shows as ended
        }
    }

    pid_t m_pid = 0;
    int m_in = -1;
    int m_out = -1;
    int m_pidfd = -1;
    bool m_merged = false;
    bool m_crashed = false;
    int m_exitCode = 0;
    QByteArray m_buffer;
    std::unique_ptr<QSocketNotifier> m_notifier;
    std::function<void()> m_readyRead;
};
