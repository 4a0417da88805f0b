// SPDX-License-Identifier: MIT
#pragma once
// What RemoteListener's files share: remote_listener.cpp (the local:, TCP and TLS servers, and the
// connections), _packets.cpp (screening, incomplete packets), _limits.cpp (budgets, deadlines).
#include <registryio/remote/remote_listener.h>

#include "remote_local_server_p.h"
#include "remote_transport_p.h"

#include <registryio/qt/detail/drop_warning.h> // nowMs(): the one clock

#include <QAbstractSocket>
#include <QHash>
#include <QHostAddress>
#include <QIODevice>
#include <QLoggingCategory>
#include <QPointer>
#include <QRemoteObjectHost>
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

// The process's budgets: what the connections of every listener hold of each.
enum Budget : std::size_t { IncompleteBytes, QueuedBytes, UnreadySubscriptions, BacklogBytes, Budgets };
// The most subscriptions that have not acquired their channel the process holds; past it, the
// connections with the most go.
inline constexpr qint64 UnreadyBudget = 256;
// The deadline passes for which a connection past its high-water mark has had nothing taken by its
// peer when it counts as one that does not read: a slow TCP reader's connection takes nothing for
// seconds at a time (gaps of up to 4.2 s measured on loopback at 100 KB/s).
inline constexpr int StallPasses = 4;
// A peer's claims that it read (tookClaimed()) keep it a reader at most this many stall waits (20 s)
// after its system last took bytes (at four, a 30 KB/s reader went on a loaded machine).
inline constexpr int ClaimedStalls = 5;

// Every open connection of every live listener of the process and what it holds of the budgets:
// the listener that finds a budget passed drops holders on any listener (and thread). A row's
// listener is alive while the row is here; a row whose drop is on its way no longer counts.
class Ledger
{
public:
    // `backlogBudget` and `highWater`: its listener's backlogBytesBudget and highWaterBytes;
    // `stallMs`: StallPasses of its listener's deadline passes.
    void open(RemoteListener *listener, quint64 id, const QString &address, const QString &name,
              qint64 backlogBudget, qint64 highWater, qint64 stallMs);
    // The connection went: its holdings leave the totals.
    void close(quint64 id);
    // Connection `id` of `self` now holds `amount` of `budget` (since `since`; QueuedBytes keeps
    // its measure's): past `limit`, the process's holders go in `budget`'s order until it holds.
    // Those of `self` are returned with their warnings (the caller drops them, outside the lock;
    // `id` among them for QueuedBytes: its write is not queued); other listeners drop theirs.
    std::vector<std::pair<quint64, QString>> hold(const RemoteListener *self, quint64 id, Budget budget,
                                                  qint64 amount, qint64 limit, qint64 since = 0);
    // Connection `id` has `queued` bytes waiting to be written, its peer has not taken `untaken`
    // (those and what the system holds) and has taken `taken` since it connected: the measure of
    // whether it reads (readsLocked()), taken on its listener's thread.
    void measureQueued(quint64 id, qint64 queued, qint64 untaken, qint64 taken);
    // Connection `id`'s peer claimed to have read more (noteReceived()): its stall wait starts again
    // if it ends within ClaimedStalls stall waits of its system's last taking.
    void tookClaimed(quint64 id);
    // Connection `id`'s backlogs in share `share` hold `change` bytes more and have sent nothing
    // since `since` (0: none waits). Any thread, never under a share's lock. Past the budget: the
    // connections that do not read (or hold unready subscriptions) go; then the lossy shares' largest
    // backlogs lose their oldest events, down to 15/16 of it; then the holders left go by age. True
    // when the connection is being dropped or gone: its backlogs may let go of what they hold.
    bool holdBacklog(quint64 id, quint64 share, qint64 change, qint64 since);
    // A share whose events the budget may drop (thinnable()): the ledger thins its backlogs
    // before it drops any connection that reads. Forgotten once the share's outbox is.
    void thinFirst(const std::weak_ptr<RemoteOutbox> &box);
    // The connections of `self` that the backlog budget thinned, that still hold backlogs and do not
    // read (readsLocked()): they go, with their warnings (the caller drops them).
    std::vector<std::pair<quint64, QString>> shedThinnedStalled(const RemoteListener *self);
    // Connection `id` is being dropped: it no longer counts.
    void leave(quint64 id);
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
        std::array<qint64, Budgets> since{};             // ms: how long it has held it (where that is kept;
                                                         // QueuedBytes: since it is past highWater
                                                         // with nothing taken by its peer)
        std::vector<std::pair<quint64, qint64>> waits{}; // per share: its backlogs' oldest wait
        qint64 backlogBudget = 0;                        // its listener's backlogBytesBudget
        qint64 highWater = 0; // past it in QueuedBytes, nothing taken for stallMs: it does not read
        qint64 stallMs = 0;   // StallPasses of its listener's deadline passes
        qint64 untaken = 0;   // what its peer had not taken when last measured (setQueued())
        qint64 taken = 0;     // what its peer had taken when last measured (setQueued())
        qint64 takenAt = 0;   // ms: when it was last found to have taken more (0: it took nothing)
        qint64 claimedAt = 0; // ms: its peer's last claim that counted (tookClaimed())
        qint64 grace = 0; // ms: twice the longest its peer held bytes untaken, then took more (<= stallMs)
        bool waiting = false; // measured holding bytes untaken, nothing taken since the measure before
        bool stalled = false; // so measured: it does not read
        bool leaving = false;
        bool thinned = false; // the budget dropped events of its backlogs, which have not emptied since
        QString drop{};       // the warning of a drop left for its listener's thread
    };
    std::vector<std::pair<quint64, QString>>
    shedLocked(const RemoteListener *self, Budget budget, qint64 limit,
               const std::function<bool(const Row &)> &eligible = {});
    // Drops the oldest events of thinnable shares' backlogs until they hold `limit` bytes (the
    // largest holders, and their largest backlogs, lose the most); what each connection still holds.
    std::vector<std::pair<quint64, qint64>> thinLocked(qint64 limit);
    Row *findLocked(quint64 id)
    {
        const auto it = m_rows.find(id);
        return it == m_rows.end() ? nullptr : &it->second;
    }
    // The one measure of whether a connection reads what it is sent: its listener has not found it
    // past its high-water mark with nothing taken by its peer for StallPasses deadline passes.
    static bool readsLocked(const Row &row) { return !row.stalled; }
    // How long its peer's system has taken nothing, and its last claim to have read, for warnings.
    static QString untakenLocked(const Row &row, qint64 now);
    // Why `row` goes first for `budget`, for its warning.
    static QString whyLocked(const Row &row, Budget budget, qint64 now);
    // `row` goes: it no longer counts; its warning is returned when it is `self`'s, else its
    // listener drops it on its own thread.
    void leaveLocked(Row &row, QString reason, const RemoteListener *self,
                     std::vector<std::pair<quint64, QString>> &own);
    mutable std::mutex m_mutex;
    std::unordered_map<quint64, Row> m_rows; // by connection id: found without a walk
    std::vector<std::weak_ptr<RemoteOutbox>> m_thinnable;
    std::array<qint64, Budgets> m_totals{};
};
inline Ledger g_ledger;

// Connection ids: unique in the process, never reused.
inline std::atomic<quint64> g_nextConnection{1};

inline constexpr const char *ListenerProperty = "_rio_remote_listener";

// The most channels of other connections' subscriptions one connection may hold at once (each
// until it takes that subscription over, within its listener's handshakeTimeout).
inline constexpr std::size_t MaxForeignChannels = 64;

// What Qt Remote Objects reads of a connection and writes to it, in place of its socket (a child):
// the whole packets the screen passed, and writes through `write` (the listener's one check of what
// a connection may hold: the bytes written, or -1, refused). Once discarded, nothing more goes.
class ScreenedPipe final : public QIODevice
{
public:
    ScreenedPipe(QIODevice *socket, std::function<qint64(const char *, qint64)> write)
        : QIODevice(socket), m_socket(socket), m_write(std::move(write))
    {
        QIODevice::open(QIODevice::ReadWrite | QIODevice::Unbuffered);
    }
    [[nodiscard]] bool isSequential() const override { return true; }
    // While held, none: Qt Remote Objects reads no further packet (it reads while some are).
    [[nodiscard]] qint64 bytesAvailable() const override
    {
        return m_held ? 0 : pending() + QIODevice::bytesAvailable();
    }
    // Bytes of screened packets Qt Remote Objects has not read yet, held or not.
    [[nodiscard]] qint64 pending() const { return m_in.size() - m_read; }
    void append(const char *packet, qint64 size)
    {
        m_in.remove(0, std::exchange(m_read, 0)); // keeps its capacity
        m_in.append(packet, size);
    }
    void hold(bool held) { m_held = held; }
    // A refused connection, or its listener going: nothing more is read or written.
    void discard()
    {
        m_read = m_in.size();
        m_refused = true;
    }
    [[nodiscard]] bool refused() const { return m_refused; }
    // The bytes written to the connection: the most its peer can have received.
    [[nodiscard]] qint64 written() const { return m_written; }

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
        // What is refused goes nowhere, as a closed socket's writes would (without a warning).
        const qint64 n = m_refused || !m_socket->isOpen() ? -1 : m_write(data, size);
        m_written += std::max<qint64>(n, 0);
        return n < 0 ? size : n;
    }

private:
    QIODevice *m_socket;
    std::function<qint64(const char *, qint64)> m_write;
    qint64 m_written = 0;
    QByteArray m_in;   // screened packets, whole
    qint64 m_read = 0; // Qt Remote Objects read up to here
    bool m_held = false;
    bool m_refused = false;
};

// An object a listener's host remotes (addSource()), and the connection whose channel it is (0: none).
struct Remoted
{
    QPointer<const QObject> object;
    quint64 owner = 0;
};

// The connection Qt Remote Objects is reading on this thread (RemoteListener::pump() sets it around
// the read), so that a share's slot can name the peer it is serving.
struct CurrentPeer
{
    QPointer<RemoteListener> listener;
    QPointer<ScreenedPipe> pipe;
    quint64 id = 0;
};
inline thread_local CurrentPeer t_current;

// A TCP peer's address and port, for people.
inline QString peerAt(const QAbstractSocket *socket)
{
    return QStringLiteral("%1:%2").arg(socket->peerAddress().toString()).arg(socket->peerPort());
}

// Bytes waiting to be written to a connection; over TLS, also those encrypted and not yet sent
// (QSslSocket::bytesToWrite() counts only those still to encrypt).
inline qint64 queuedBytes(const QIODevice *socket)
{
    const auto *ssl = qobject_cast<const QSslSocket *>(socket);
    return socket->bytesToWrite() + (ssl ? ssl->encryptedBytesToWrite() : 0);
}

// Bytes written to a connection's socket that the system holds, unsent or not yet acknowledged by
// its peer (on Linux; 0 where the system does not tell).
qint64 systemQueued(const QIODevice *socket);

// Closes a connection so that it emits disconnected(): Qt Remote Objects forgets it only then.
void abortSocket(QIODevice *socket);

} // namespace rio::detail

namespace rio {

struct RemoteListener::Private
{
    QPointer<QRemoteObjectHost> host;
    Options options;
    detail::RemoteLocalServer *local = nullptr;
    QTcpServer *tcp = nullptr;
    QUrl address;
    QString error;
    qint64 readLimit() const { return options.maxPacketBytes + 65536; }
    // One per connection: its packet not yet whole, its progress, and its conversation (judge()).
    struct Peer
    {
        QPointer<QIODevice> socket;
        quint64 id = 0;          // the connection's id (never reused)
        QString name;            // who is at the other end
        qint64 connectedAt = 0;  // ms
        qint64 pendingSince = 0; // ms: the packet being received began (or the last one completed)
        qint64 packetSince = 0;  // ms: the packet not yet whole began
        qint64 handed = 0;       // bytes handed to the system to send (over TLS, encrypted)
        qint64 unready = 0;      // subscriptions that have not acquired their channel
        qint64 claimed = 0;      // what its peer last said it has read (noteReceived())
        int pauses = 0;          // pauseReading() not yet resumed: Qt Remote Objects does not read
        bool reading = false;    // Qt Remote Objects is reading its pipe (the socket waits)
        bool hungUp = false;     // it closed while Qt Remote Objects read it: closed once that ends
        bool handshaken = false; // a whole packet arrived
        // What Qt Remote Objects reads (a child of the socket), and its device for it.
        QPointer<detail::ScreenedPipe> pipe{};
        QPointer<QtROIoDeviceBase> device{};
        QByteArray partial{}; // read from the socket: the start of a packet not yet whole
        // Found without room (hasRoom(), or a write past the high-water mark): drained() tells once
        // it has room again.
        mutable bool congested = false;
        mutable qint64 settled = -1; // `handed` when last measured holding nothing: measured the same since
        // The objects Qt Remote Objects has it as a listener of (true: from Init to RemoveObject), or
        // that it asked for in packets not read yet (false: forgotten once read unless attached).
        QHash<QString, bool> acquired{};
        std::vector<QString> asked{};
        // Other connections' channels it acquired, and when it first did: each to be taken over in
        // handshakeTimeout (a release and a new acquisition do not start the clock again).
        std::vector<std::pair<QString, qint64>> foreign{};
        [[nodiscard]] bool rejected() const { return !pipe || pipe->refused(); }
        void release(const QString &name) { acquired.remove(name); } // held no more
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
    bool acceptFailing = false; // since the last failed accept(), none succeeded
    // What the host remotes, by name (addSource()).
    QHash<QString, detail::Remoted> sources;

    // What is wrong with packet `type` for `name` from `peer` now; empty with `pass` false: swallowed.
    [[nodiscard]] QString judge(Peer &peer, quint16 type, const QString &name, bool &pass);
    // What Qt Remote Objects writes to `peer` tells what it is a listener of (Init, RemoveObject).
    static void observe(Peer &peer, const char *data, qint64 size);
    // Forgets what `peer` asked for that Qt Remote Objects read without attaching it (no such object).
    static void settleAsked(Peer &peer);
    // Tells the ledger what `peer`'s peer has not taken and has (`queued` waiting): whether it reads.
    void measure(const Peer &peer, qint64 queued) const
    {
        const qint64 system = detail::systemQueued(peer.socket);
        detail::g_ledger.measureQueued(peer.id, queued, queued + system, peer.handed - system);
        peer.settled = queued + system == 0 ? peer.handed : -1;
    }
    // Takes handshake `key` out; none when it was not there (already settled).
    std::optional<Handshake> settleHandshake(quint64 key)
    {
        auto node = handshakes.extract(key);
        return node ? std::optional(node.mapped()) : std::nullopt;
    }
    // Who a connection is, for the warning that drops it.
    static QString describe(const Peer &peer)
    {
        return QStringLiteral("connection %1 (%2)").arg(peer.id).arg(peer.name);
    }
    Peer *find(quint64 id)
    {
        const auto it = peers.find(id);
        return it == peers.end() ? nullptr : &it->second;
    }
    [[nodiscard]] const Peer *find(quint64 id) const { return const_cast<Private *>(this)->find(id); }
};

} // namespace rio
