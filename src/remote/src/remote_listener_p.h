// SPDX-License-Identifier: MIT
#pragma once
// What RemoteListener's files share: remote_listener.cpp (servers, connections), _packets.cpp
// (screening), _limits.cpp (budgets, deadlines), remote_local_server.cpp (accepting).
#include <registryio/remote/remote_listener.h>

#include "remote_transport_p.h"

#include <registryio/qt/detail/drop_warning.h> // nowMs(): the one clock

#include <QAbstractSocket>
#include <QHash>
#include <QHostAddress>
#include <QIODevice>
#include <QLoggingCategory>
#include <QPointer>
#include <QRemoteObjectHost>
#include <QSocketNotifier>
#include <QSslSocket>
#include <QTcpServer>
#include <QTimer>
#include <QtRemoteObjects/qconnectionfactories.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

namespace rio::detail {

struct RemoteOutbox;

/// The listening side of `local:` URLs: a user-only socket file that stays open through failed
/// accept() calls (QLocalServer closes at the first EMFILE), retried every RetryMs. On Unix a
/// connection is a QTcpSocket on its descriptor (one bounded read buffer); elsewhere a QLocalSocket.
class RemoteLocalServer final : public QObject
{
public:
    static constexpr int RetryMs = 100;

    /// `accepted` gets each new connection (a child of this server); `failed` each failed accept()'s errno.
    RemoteLocalServer(std::function<void(QIODevice *)> accepted, std::function<void(int error)> failed,
                      QObject *parent);
    ~RemoteLocalServer() override;

    RemoteLocalServer(const RemoteLocalServer &) = delete;
    RemoteLocalServer &operator=(const RemoteLocalServer &) = delete;

    /// Listens on `name` (a path, or in QDir::tempPath()), user-only, replacing only this user's socket
    /// nobody listens on (once among racing listeners). False, with `error`, creating nothing.
    bool listen(const QString &name, QString *error);
    /// Accepts for `server` (TCP or TLS; QTcpServer retries a failed accept() at once, for ever): each
    /// descriptor to `incoming` (none: a QTcpSocket to `accepted`). False off Unix: `server` accepts itself.
    bool acceptFor(QTcpServer *server, std::function<void(qintptr)> incoming = {});
    /// The path QLocalSocket connects to for `name`.
    static QString pathFor(const QString &name);

private:
    void acceptPending();
    void startAccepting();

    std::function<void(QIODevice *)> m_accepted;
    std::function<void(int)> m_failed;
    std::function<void(qintptr)> m_incoming; // accepting for a QTcpServer: its descriptor, not ours
    QString m_path;
    int m_fd = -1;
    quint64 m_inode = 0;
    QSocketNotifier *m_notifier = nullptr;
    QTimer *m_retry = nullptr;
};

// The process's budgets, held by the connections of every listener.
enum Budget : std::size_t { IncompleteBytes, QueuedBytes, UnreadySubscriptions, BacklogBytes, Budgets };
// The most subscriptions without their channel the process holds; past it, the connections with the most go.
inline constexpr qint64 UnreadyBudget = 256;
// Deadline passes past its high-water mark with nothing taken by its peer after which a connection
// does not read: a slow TCP reader takes nothing for seconds (up to 4.2 s on loopback at 100 KB/s).
inline constexpr int StallPasses = 4;
// A peer's claims to have read (tookClaimed()) keep it a reader at most this many stall waits (20 s)
// after its system last took bytes (at four, a 30 KB/s reader went on a loaded machine).
inline constexpr int ClaimedStalls = 5;

// Every open connection of every live listener and what it holds of the budgets: the listener that
// finds a budget passed drops holders on any listener (and thread). A row's listener is alive while
// the row is here; a row whose drop is on its way no longer counts.
class Ledger
{
public:
    // `stallMs`: StallPasses of its listener's deadline passes.
    void open(RemoteListener *listener, quint64 id, const QString &address, const QString &name,
              qint64 backlogBudget, qint64 highWater, qint64 stallMs);
    void close(quint64 id); // the connection went: its holdings leave the totals
    // Connection `id` of `self` now holds `amount` of `budget` (since `since`; QueuedBytes keeps its
    // measure's); past `limit`, holders go in `budget`'s order. `self`'s return with warnings, dropped
    // outside the lock (`id` too for QueuedBytes: its write is not queued); other listeners drop theirs.
    std::vector<std::pair<quint64, QString>> hold(const RemoteListener *self, quint64 id, Budget budget,
                                                  qint64 amount, qint64 limit, qint64 since = 0);
    // Connection `id` has `queued` bytes to write, `untaken` (with the system's) not taken by its peer,
    // `taken` taken since it connected: whether it reads (readsLocked()).
    void measureQueued(quint64 id, qint64 queued, qint64 untaken, qint64 taken);
    // Its peer claimed to have read more (noteReceived()): its stall wait starts again if that is
    // within ClaimedStalls stall waits of its system's last taking.
    void tookClaimed(quint64 id);
    // Connection `id`'s backlogs in `share` hold `change` bytes more and have sent nothing since
    // `since` (0: none waits). Any thread, never under a share's lock. Past the budget: connections
    // that do not read (or hold unready subscriptions) go; then lossy backlogs lose their oldest, to
    // 15/16 of it; then holders go by age. True when the connection is going or gone.
    bool holdBacklog(quint64 id, quint64 share, qint64 change, qint64 since);
    // A share whose events the budget may drop: thinned before any connection that reads is dropped.
    void thinFirst(const std::weak_ptr<RemoteOutbox> &box);
    // `self`'s connections the backlog budget thinned that still hold backlogs and do not read, to drop.
    std::vector<std::pair<quint64, QString>> shedThinnedStalled(const RemoteListener *self);
    void leave(quint64 id); // being dropped: it no longer counts
    [[nodiscard]] qint64 total(Budget budget) const;
    // The drops other listeners left for `self`'s connections, with their warnings.
    std::vector<std::pair<quint64, QString>> takeDrops(const RemoteListener *self);

private:
    struct Row
    {
        RemoteListener *listener = nullptr;
        quint64 id = 0;
        QString address; // the listener's
        QString name;    // who is at the other end
        std::array<qint64, Budgets> amount{};
        // ms: since when it holds it (QueuedBytes: past highWater with nothing taken by its peer)
        std::array<qint64, Budgets> since{};
        std::vector<std::pair<quint64, qint64>> waits{}; // per share: its backlogs' oldest wait
        qint64 backlogBudget = 0;                        // its listener's backlogBytesBudget
        qint64 highWater = 0;                            // its listener's highWaterBytes
        qint64 stallMs = 0;
        qint64 untaken = 0;   // not taken by its peer at the last measure
        qint64 taken = 0;     // taken by its peer at the last measure
        qint64 takenAt = 0;   // ms: when it was last found to have taken more (0: never)
        qint64 claimedAt = 0; // ms: its peer's last claim that counted
        qint64 grace = 0; // ms: twice the longest its peer held bytes untaken, then took more (<= stallMs)
        bool waiting = false; // measured holding bytes untaken, nothing taken since the measure before
        bool stalled = false; // it does not read
        bool leaving = false;
        bool thinned = false; // the budget dropped events of its backlogs, not emptied since
        QString drop{};       // the warning of a drop left for its listener's thread
    };
    std::vector<std::pair<quint64, QString>>
    shedLocked(const RemoteListener *self, Budget budget, qint64 limit,
               const std::function<bool(const Row &)> &eligible = {});
    // Drops the oldest events of thinnable backlogs until they hold `limit` bytes (the largest holders,
    // and their largest backlogs, lose the most); what each connection still holds in them.
    std::unordered_map<quint64, qint64> thinLocked(qint64 limit);
    Row *findLocked(quint64 id)
    {
        const auto it = m_rows.find(id);
        return it == m_rows.end() ? nullptr : &it->second;
    }
    // The one measure of whether a connection reads: not past its high-water mark with nothing taken
    // for StallPasses deadline passes.
    static bool readsLocked(const Row &row) { return !row.stalled; }
    // For warnings: how long its peer's system has taken nothing, and its last claim to have read.
    static QString untakenLocked(const Row &row, qint64 now);
    static QString whyLocked(const Row &row, Budget budget, qint64 now); // why it goes first
    // `row` goes and no longer counts; its warning is returned if it is `self`'s, else its listener
    // drops it on its own thread.
    void leaveLocked(Row &row, QString reason, const RemoteListener *self,
                     std::vector<std::pair<quint64, QString>> &own);
    mutable std::mutex m_mutex;
    std::unordered_map<quint64, Row> m_rows; // by connection id: found without a walk
    std::vector<std::weak_ptr<RemoteOutbox>> m_thinnable;
    std::array<qint64, Budgets> m_totals{};
};
inline Ledger g_ledger;

inline std::atomic<quint64> g_nextConnection{1}; // connection ids: unique in the process, never reused

inline constexpr const char *ListenerProperty = "_rio_remote_listener";

// The most channels of other connections' subscriptions one connection may hold at once (each until
// it takes that subscription over, within handshakeTimeout).
inline constexpr std::size_t MaxForeignChannels = 64;

// What Qt Remote Objects reads and writes in place of a connection's socket (its parent): the whole
// packets the screen passed, and writes through `write` (the listener's one check of what a
// connection may hold: the bytes written, or -1, refused). Once discarded, nothing more goes.
class ScreenedPipe final : public QIODevice
{
public:
    ScreenedPipe(QIODevice *socket, std::function<qint64(const char *, qint64)> write)
        : QIODevice(socket), m_write(std::move(write))
    {
        QIODevice::open(QIODevice::ReadWrite | QIODevice::Unbuffered);
    }
    [[nodiscard]] bool isSequential() const override { return true; }
    [[nodiscard]] qint64 bytesAvailable() const override // none while held: no further packet is read
    {
        return m_held ? 0 : pending() + QIODevice::bytesAvailable();
    }
    [[nodiscard]] qint64 pending() const { return m_in.size() - m_read; } // not read yet, held or not
    void append(const char *packet, qint64 size)
    {
        m_in.remove(0, std::exchange(m_read, 0)); // keeps its capacity
        m_in.append(packet, size);
    }
    void hold(bool held) { m_held = held; }
    // Refused, or its listener going: nothing more is read or written.
    void discard()
    {
        m_read = m_in.size();
        m_refused = true;
    }
    [[nodiscard]] bool refused() const { return m_refused; }
    [[nodiscard]] qint64 written() const { return m_written; } // the most its peer can have received

protected:
    qint64 readData(char *data, qint64 maxSize) override
    {
        const qint64 n = std::min(maxSize, m_held ? 0 : pending());
        std::memcpy(data, m_in.constData() + m_read, std::size_t(n));
        m_read += n;
        if (m_read == m_in.size() && m_in.capacity() > ReleasedAbove) { // a large packet's room goes back
            m_in = QByteArray();
            m_read = 0;
        }
        return n;
    }
    qint64 writeData(const char *data, qint64 size) override
    {
        // What is refused goes nowhere, as to a closed socket (without a warning).
        const qint64 n =
            m_refused || !static_cast<QIODevice *>(parent())->isOpen() ? -1 : m_write(data, size);
        m_written += std::max<qint64>(n, 0);
        return n < 0 ? size : n;
    }

private:
    std::function<qint64(const char *, qint64)> m_write;
    qint64 m_written = 0;
    QByteArray m_in;   // screened packets, whole
    qint64 m_read = 0; // Qt Remote Objects read up to here
    bool m_held = false;
    bool m_refused = false;
};

// An object the host remotes (addSource()), and the connection whose channel it is (0: none).
struct Remoted
{
    QPointer<const QObject> object;
    quint64 owner = 0;
};

// The connection Qt Remote Objects is reading on this thread (set around RemoteListener::read()),
// so that a share's slot can name the peer it is serving.
struct CurrentPeer
{
    QPointer<RemoteListener> listener;
    QPointer<ScreenedPipe> pipe;
    quint64 id = 0;
};
inline thread_local CurrentPeer t_current;

inline QString peerAt(const QAbstractSocket *socket)
{
    return QStringLiteral("%1:%2").arg(socket->peerAddress().toString()).arg(socket->peerPort());
}

// Bytes waiting to be written; over TLS also those encrypted, not yet sent (bytesToWrite() omits them).
inline qint64 queuedBytes(const QIODevice *socket)
{
    const auto *ssl = qobject_cast<const QSslSocket *>(socket);
    return socket->bytesToWrite() + (ssl ? ssl->encryptedBytesToWrite() : 0);
}

// Bytes the system holds of a socket's writes, unsent or unacknowledged (0 where it does not tell).
qint64 systemQueued(const QIODevice *socket);

// Closes a connection so that it emits disconnected(): Qt Remote Objects forgets it only then.
void abortSocket(QIODevice *socket);

} // namespace rio::detail

namespace rio {

struct RemoteListener::Private
{
    QPointer<QRemoteObjectHost> host;
    Options options;
    QUrl address; // empty until listening
    QString error;
    qint64 readLimit() const { return options.maxPacketBytes + 65536; }
    // One per connection: its packet not yet whole, its progress, and its conversation (judge()).
    struct Peer
    {
        QPointer<QIODevice> socket;
        quint64 id = 0; // never reused
        QString name;   // who is at the other end
        qint64 connectedAt = 0;
        qint64 pendingSince = 0; // ms: the packet being received began (or the last one completed)
        qint64 packetSince = 0;  // ms: the packet not yet whole began
        qint64 handed = 0;       // bytes handed to the system to send (over TLS, encrypted)
        qint64 unready = 0;      // subscriptions that have not acquired their channel
        qint64 claimed = 0;      // what its peer last said it has read (noteReceived())
        int pauses = 0;          // pauseReading() not yet resumed
        bool reading = false;    // Qt Remote Objects is reading its pipe (the socket waits)
        bool hungUp = false;     // it closed while Qt Remote Objects read it: closed once that ends
        bool handshaken = false; // a whole packet arrived
        QPointer<detail::ScreenedPipe> pipe{}; // what Qt Remote Objects reads (a child of the socket)
        QPointer<QtROIoDeviceBase> device{};   // Qt Remote Objects' device for the pipe
        QByteArray partial{};                  // the start of a packet not yet whole
        mutable bool congested = false;        // found without room: drained() tells when it has room
        mutable qint64 settled = -1; // `handed` when last measured holding nothing: measured the same since
        // The objects it listens to in Qt Remote Objects (true: from Init to RemoveObject), or asked
        // for in packets not read yet (false: forgotten once read unless attached).
        QHash<QString, bool> acquired{};
        std::vector<QString> asked{};
        // Other connections' channels it acquired and when it first did: each to be taken over within
        // handshakeTimeout (a release and a new acquisition do not start the clock again).
        std::vector<std::pair<QString, qint64>> foreign{};
        [[nodiscard]] bool rejected() const { return !pipe || pipe->refused(); }
    };
    std::unordered_map<quint64, Peer> peers; // by connection id: found without a walk
    // TLS handshakes not ended, by a connection id: each leaves once (encrypted, rejected, gone).
    struct Handshake
    {
        QPointer<QSslSocket> socket;
        qint64 connectedAt = 0; // ms
    };
    std::unordered_map<quint64, Handshake> handshakes;
    QTimer *deadlines = nullptr;
    quint64 rejected = 0;
    quint64 acceptFailures = 0;
    bool acceptFailing = false;              // since the last failed accept(), none succeeded
    QHash<QString, detail::Remoted> sources; // what the host remotes, by name (addSource())

    // What is wrong with packet `type` for `name` from `peer` now (empty with `pass` false: swallowed).
    [[nodiscard]] QString judge(Peer &peer, quint16 type, const QString &name, bool &pass);
    // What Qt Remote Objects writes to `peer` tells what it listens to (Init, RemoveObject).
    static void observe(Peer &peer, const char *data, qint64 size);
    // Forgets what `peer` asked for that Qt Remote Objects read without attaching it (no such object).
    static void settleAsked(Peer &peer);
    // Tells the ledger what `peer`'s peer has and has not taken (`queued` waiting): whether it reads.
    void measure(const Peer &peer, qint64 queued) const
    {
        const qint64 system = detail::systemQueued(peer.socket);
        detail::g_ledger.measureQueued(peer.id, queued, queued + system, peer.handed - system);
        peer.settled = queued + system == 0 ? peer.handed : -1;
    }
    // Takes handshake `key` out; none when already settled.
    std::optional<Handshake> settleHandshake(quint64 key)
    {
        auto node = handshakes.extract(key);
        return node ? std::optional(node.mapped()) : std::nullopt;
    }
    static QString describe(const Peer &peer)
    {
        return QStringLiteral("connection %1 (%2)").arg(peer.id).arg(peer.name);
    }
    // The warning that drops `peer` for `what` it did.
    [[nodiscard]] QString dropping(const Peer &peer, const QString &what) const
    {
        return QStringLiteral("rio::RemoteListener %1: %2 %3; its connection is dropped")
            .arg(address.toString(), describe(peer), what);
    }
    Peer *find(quint64 id)
    {
        const auto it = peers.find(id);
        return it == peers.end() ? nullptr : &it->second;
    }
    [[nodiscard]] const Peer *find(quint64 id) const { return const_cast<Private *>(this)->find(id); }
};

} // namespace rio
