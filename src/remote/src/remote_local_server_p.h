// SPDX-License-Identifier: MIT
#pragma once

#include <QObject>
#include <QString>

#include <functional>

QT_BEGIN_NAMESPACE
class QIODevice;
class QSocketNotifier;
class QTcpServer;
class QTimer;
QT_END_NAMESPACE

namespace rio::detail {

/// The listening side of `local:` URLs: a socket file reachable by its user only, whose listening
/// socket stays open whatever accept() says (QLocalServer closes itself and removes its file at the
/// first failed accept(), EMFILE say); a failed accept() is retried every RetryMs. On Unix a
/// connection is a QTcpSocket on its descriptor (one bounded read buffer); elsewhere a QLocalSocket.
class RemoteLocalServer final : public QObject
{
public:
    static constexpr int RetryMs = 100;

    /// `accepted` gets each new connection (its parent is this server); `failed` each failed
    /// accept(), with errno, on this server's thread.
    RemoteLocalServer(std::function<void(QIODevice *)> accepted, std::function<void(int error)> failed,
                      QObject *parent);
    ~RemoteLocalServer() override;

    RemoteLocalServer(const RemoteLocalServer &) = delete;
    RemoteLocalServer &operator=(const RemoteLocalServer &) = delete;

    /// Listens on `name` (a path, or a name in QDir::tempPath()), user-only. A live server keeps its
    /// name; a socket of this user nobody listens on is replaced (by one of racing listeners);
    /// nothing else is removed. False, with `error`, having created nothing.
    bool listen(const QString &name, QString *error);
    /// Accepts instead of `server` (TCP or TLS) from its descriptor, in the same way (QTcpServer
    /// retries a failed accept() at once, for ever): each descriptor goes to `incoming` (none: a
    /// QTcpSocket on it to `accepted`). False where not done (not Unix): `server` accepts itself.
    bool acceptFor(QTcpServer *server, std::function<void(qintptr)> incoming = {});
    /// The socket file's path (empty until listening).
    [[nodiscard]] QString path() const { return m_path; }
    /// The path QLocalSocket connects to for `name`.
    static QString pathFor(const QString &name);

private:
    void acceptPending();
    void startAccepting();

    std::function<void(QIODevice *)> m_accepted;
    std::function<void(int)> m_failed;
    std::function<void(qintptr)> m_incoming; // accepting for a QTcpServer: its descriptor, not ours
    bool m_forServer = false;
    QString m_path;
    int m_fd = -1;
    quint64 m_inode = 0;
    QSocketNotifier *m_notifier = nullptr;
    QTimer *m_retry = nullptr;
};

} // namespace rio::detail
