// SPDX-License-Identifier: MIT
#pragma once

#include <registryio/drop_reason.h>
#include <registryio/qt/delivery.h>
#include <registryio/qt/detail/delivery_queue.h>
#include <registryio/remote/detail/remote_outbox.h>
#include <registryio/remote/remote_share_options.h>

#include <QByteArray>
#include <QByteArrayView>
#include <QObject>
#include <QString>
#include <QThread>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

namespace rio::detail {

// Frames a pump (share or subscriber) sends per turn before the thread's other work runs.
inline constexpr int RemoteFramesPerTurn = 8;

// The most events a subscriber's backlog holds before it acquired its channel (ready): a
// subscription that never becomes ready costs little, and no sender waits for it.
inline constexpr std::size_t RemoteUnreadyCapacity = 1024;

/// What a backlog's entry weighs beyond its payload (its slot and the payload's header).
inline constexpr qint64 RemoteEntryBytes = 48;
/// Backlogs' net change in bytes that the notifying thread tells the ledger at once (smaller
/// changes wait for the share's next turn).
inline constexpr qint64 RemoteLedgerStep = 64 * 1024;

/// One event waiting for the wire.
struct RemoteOutgoing
{
    quint64 origin = 0;
    quint64 sequence = 0;
    QByteArray payload;
};

/// An entry's weight (RemoteEntryBytes and its payload's whole buffer); drops use the core's reasons.
struct RemoteAccounting
{
    using Reason = DropReason;
    static constexpr std::size_t reasons = dropReasonCount;
    static qint64 cost(const RemoteOutgoing &item) noexcept
    {
        return RemoteEntryBytes + std::max(item.payload.capacity(), item.payload.size());
    }
};
/// The events waiting for one receiver on the wire, under the share's (or subscriber's) policy.
using RemoteQueue = DeliveryQueue<RemoteOutgoing, RemoteAccounting>;

struct RemoteBacklog;

/// Drops not yet signalled for one backlog (all, and by reason), and its drops so far.
struct RemoteDrops
{
    std::shared_ptr<RemoteBacklog> backlog;
    quint64 count = 0;
    RemoteQueue::Counts byReason{};
    quint64 total = 0;
};

/// One subscriber's backlog at the source: its events, as references to bytes shared with every
/// other backlog. Guarded by its outbox's mutex.
struct RemoteBacklog
{
    quint64 id = 0;         // the share's serial number for it (never reused by the share)
    quint64 key = 0;        // its origin on the wire
    quint64 connection = 0; // the listener's connection it came through (0: none)
    QString peer;           // the connection's peer address, for people
    RemoteQueue queue;      // the retained event first until sent
    /// The subscriber acquired its channel: its backlog holds `capacity` and senders wait for it.
    bool ready = false;
    /// Taken over by a connection that has not acquired the channel yet: nothing is sent until it
    /// does (setReady()).
    bool moved = false;
    qint64 subscribedAt = 0; // it must be ready within the share's deadline of this
    quint64 sent = 0;
    qint64 ledgered = 0; // what of its bytes the ledger was last told
    /// Its connection is being dropped by the process's budget: it holds and is given nothing
    /// (unless a takeover moves it).
    bool shed = false;
    qint64 addedAt = 0;
    /// Since when it holds events without sending any (0: empty).
    qint64 waitingSince = 0;
    QObject *channel = nullptr; // owned and used on the share's thread only
    std::size_t slot = 0;       // in the outbox's list of every backlog
    std::size_t connectionSlot = 0;

    [[nodiscard]] std::size_t size() const noexcept { return queue.size(); }
    /// Its connection acquired the channel: the pump may send to it.
    [[nodiscard]] bool acquired() const noexcept { return ready && !moved; }
    /// The most events it holds with the share's `capacity` (0: unbounded): fewer until ready.
    [[nodiscard]] std::size_t room(std::size_t capacity) const noexcept
    {
        return ready           ? capacity
               : capacity == 0 ? RemoteUnreadyCapacity
                               : std::min(capacity, RemoteUnreadyCapacity);
    }
};

struct RemoteOutbox : std::enable_shared_from_this<RemoteOutbox>
{
    /// A random id: the subscriber's origin on the wire, and the inbound mark's key.
    const quint64 key;
    /// Subscriber side: sends as `key`, drops while disconnected, never echoes inbound events.
    const bool subscriberSide;
    const Delivery delivery;
    const std::size_t capacity;

    std::atomic<bool> connected{false};
    std::atomic<quint64> droppedDisconnected{0};

    /// A subscriber-side outbox that sends as `subscriberKey`.
    RemoteOutbox(quint64 subscriberKey, Delivery d, std::size_t cap);
    /// A source-side outbox: one backlog per subscriber, with `options`' overflow policy.
    explicit RemoteOutbox(const RemoteShareOptions &options);
    ~RemoteOutbox(); // out of line: the 0.3 ABI lists it

    const Overflow overflow = Overflow::DropOldest;
    const std::chrono::milliseconds blockTimeout{0};
    const bool retainLatest = false;

    /// Adds a subscriber's backlog (not ready yet; its key is new), the retained event first in it.
    void addBacklog(const std::shared_ptr<RemoteBacklog> &backlog);
    /// With retainLatest, gives an empty backlog (a subscription starting or taken over) the
    /// retained event; the subscriber skips it if it ran there.
    void retainLocked(RemoteBacklog &backlog);
    /// Removes a backlog; wakes the senders that wait for its room.
    void removeBacklog(const std::shared_ptr<RemoteBacklog> &backlog);
    /// Copies of the index: every backlog, one key's (or null), one connection's, the unready ones.
    /// Read their fields under mutex() only.
    std::vector<std::shared_ptr<RemoteBacklog>> backlogs();
    std::shared_ptr<RemoteBacklog> backlogOf(quint64 key);
    std::vector<std::shared_ptr<RemoteBacklog>> backlogsOn(quint64 connection);
    std::vector<std::shared_ptr<RemoteBacklog>> unreadyBacklogs();
    /// How many backlogs one connection has, and how many of them are not acquired.
    struct Held
    {
        std::size_t backlogs = 0;
        std::size_t unready = 0;
    };
    Held heldBy(quint64 connection);
    /// Backlogs visited by walks over them all so far: what a packet other than an event never adds to.
    quint64 walked() noexcept;
    /// What the index (by key, by connection, unready counts) says that the backlogs do not; empty if none.
    QString indexFault();
    /// Marks a backlog acquired (by the connection it moved to, if it did) and schedules a send.
    void setReady(const std::shared_ptr<RemoteBacklog> &backlog);
    /// Moves a backlog to `connection` (a takeover): not sent to until that connection acquires
    /// the channel, and given the retained event if empty.
    void moveBacklog(const std::shared_ptr<RemoteBacklog> &backlog, quint64 connection, const QString &peer);
    /// take() from one acquired backlog; wakes blocked senders.
    std::vector<RemoteOutgoing> take(RemoteBacklog &backlog, std::size_t max, qsizetype maxBytes);
    /// No more pushes accepted, every blocked sender wakes (the share is going).
    void close();
    /// An event pushed on the pump's thread goes at once to each acquired, empty backlog whose
    /// connection `isIdle` (Every only).
    void attachFanoutDirect(std::function<bool(quint64 connection)> isIdle,
                            std::function<void(RemoteBacklog &, RemoteOutgoing &)> sendNow);
    /// Runs `report` on the pump's thread once drops wait to be signalled or the bytes moved by
    /// RemoteLedgerStep (at most one scheduled at a time).
    void attachReport(std::function<void()> report);
    /// Block only: an event relayed on the pump's thread that finds a ready backlog full is queued
    /// beyond `capacity`, and `hold` runs (after the push) to stop reading its connection.
    void attachHoldPoster(std::function<void()> hold);
    /// While set (a hold outlasted blockTimeout), relayed events drop for full backlogs as others do.
    void setRelayDropping(bool dropping);
    [[nodiscard]] bool relayDropping() noexcept;
    /// Whether an acquired backlog has `capacity` events or more waiting.
    bool anyReadyFull() noexcept;
    /// Drops not yet signalled, per backlog (removed ones too); resets them.
    std::vector<RemoteDrops> takeUnreported();
    /// Tells the ledger what the backlogs' bytes moved by since it was last told. The backlogs of a
    /// connection being dropped let go of what they hold and are sent nothing more.
    void account();
    /// Whether the process's backlog budget may drop this share's events (Every delivery, not Block).
    [[nodiscard]] bool thinnable() const noexcept
    {
        return !subscriberSide && delivery == Delivery::Every && overflow != Overflow::Block;
    }
    /// The ledger's side (under its lock; never calls back into it): the connection and bytes of
    /// each backlog on a connection that `counted` says the ledger counts (connection 0 never).
    template <typename Counted>
    void holdings(const Counted &counted, std::vector<std::pair<quint64, qint64>> &out)
    {
        std::lock_guard lock(m_mutex);
        for (const auto &backlog : everyLocked()) {
            if (backlog->connection != 0 && !backlog->shed && counted(backlog->connection))
                out.emplace_back(backlog->connection, backlog->queue.bytes());
        }
    }
    /// The ledger's side (under its lock): drops the oldest events of each backlog `counted` accepts
    /// down to `levelOf(connection)` bytes (the retained one stays), counted as Budget drops, and
    /// gives `settle(connection, change)` what its bytes moved by since the ledger was last told.
    template <typename LevelOf, typename Counted, typename Settle>
    void thin(const LevelOf &levelOf, const Counted &counted, const Settle &settle)
    {
        std::lock_guard lock(m_mutex);
        bool droppedAny = false;
        for (const auto &backlog : everyLocked()) {
            if (backlog->connection == 0 || backlog->shed || !counted(backlog->connection))
                continue;
            const qint64 level = levelOf(backlog->connection);
            const qint64 before = backlog->queue.bytes();
            while (backlog->queue.bytes() > level && backlog->queue.dropOldest(DropReason::Budget))
                droppedAny = true;
            driftLocked(backlog->queue.bytes() - before);
            const qint64 bytes = backlog->queue.bytes();
            if (bytes != backlog->ledgered)
                settle(backlog->connection, bytes - std::exchange(backlog->ledgered, bytes));
        }
        if (droppedAny)
            reportLocked();
    }
    /// Events dropped so far: the subscriber side's, or every backlog's (removed ones included).
    quint64 droppedCount() noexcept;
    /// The size of the fullest backlog now.
    std::size_t mostPending() noexcept;
    std::size_t backlogCount() noexcept;
    /// Guards the backlogs' fields.
    std::mutex &mutex() noexcept { return m_mutex; }

    /// Owner side, on its thread: `send` runs on `pump`'s thread.
    void attach(QObject *pump, std::function<void()> send);
    /// attachFanoutDirect() for an owner that has one wire.
    void attachDirect(std::function<bool()> isIdle, std::function<void(RemoteOutgoing &)> sendNow);
    /// Owner side, before it dies: no more sending scheduled.
    void detach();
    /// Takes up to `max` waiting events, oldest first, and no more after their payloads reach
    /// `maxBytes` (always at least one when any waits).
    std::vector<RemoteOutgoing> take(std::size_t max, qsizetype maxBytes);
    /// Schedules a send (at most one at a time) when the subscriber side's events wait or the
    /// share's last turn left some (leave()).
    void schedule();
    /// Source side: whether the pump's turn left events in an acquired backlog.
    void leave(bool left);
    /// Drops everything waiting (the connection went away).
    std::size_t discard();

    void push(quint64 origin, QByteArray payload) noexcept;

private:
    void scheduleLocked();
    void pushFanout(quint64 origin, QByteArray payload);
    void reportLocked();
    // Runs `fn` on the pump's thread, once until it runs (`posted` says it is on its way).
    void postLocked(bool RemoteOutbox::*posted, const std::shared_ptr<std::function<void()>> &fn);
    // Pushes `item` under `queue`'s policy (at most `room` waiting, 0: no bound), `droppedAny` set
    // on a drop: whether `item` is queued.
    template <typename Item>
    RIO_ALWAYS_INLINE inline bool pushLocked(RemoteQueue &queue, Item &&item, std::size_t room,
                                             bool &droppedAny);
    // The ledger hears of a change at once past RemoteLedgerStep.
    void driftLocked(qint64 change);
    bool anyReadyFullLocked() noexcept;
    // Every backlog, counted in walked().
    const std::vector<std::shared_ptr<RemoteBacklog>> &everyLocked() noexcept;
    // The one place the per-connection index changes (unready counted unless acquired()).
    void fileLocked(const std::shared_ptr<RemoteBacklog> &backlog);
    void unfileLocked(const RemoteBacklog &backlog);
    [[nodiscard]] bool holdsLocked(const RemoteBacklog &backlog) const noexcept;

    std::condition_variable m_room;
    int m_waiting = 0;
    bool m_closed = false;
    std::vector<std::shared_ptr<RemoteBacklog>> m_backlogs; // each at its slot
    std::unordered_map<quint64, std::shared_ptr<RemoteBacklog>> m_byKey;
    struct OnConnection
    {
        std::vector<std::shared_ptr<RemoteBacklog>> backlogs; // each at its connectionSlot
        std::size_t unready = 0;
    };
    std::unordered_map<quint64, OnConnection> m_onConnection;
    quint64 m_walked = 0;
    std::optional<RemoteOutgoing> m_retained;
    std::vector<RemoteDrops> m_goneUnreported;
    quint64 m_goneDropped = 0; // removed backlogs' drops
    // One connection's bytes not yet told to the ledger, and its oldest backlog's wait (0: none).
    struct HeldBytes
    {
        quint64 connection = 0;
        qint64 change = 0;
        qint64 waitingSince = 0;
    };
    std::vector<HeldBytes> m_goneBytes; // removed backlogs' ledgered bytes
    qint64 m_drift = 0;                 // bytes' net change since the last report
    bool m_reportScheduled = false;
    std::shared_ptr<std::function<void()>> m_report;
    std::function<bool(quint64)> m_isConnectionIdle;                    // pump thread only
    std::function<void(RemoteBacklog &, RemoteOutgoing &)> m_sendToNow; // pump thread only
    std::function<void()> m_holdPoster;                                 // pump thread only
    bool m_accountDue = false;
    bool m_relayDropping = false;
    bool m_left = false; // the pump's turn left events (leave())

    std::mutex m_mutex;
    RemoteQueue m_queue; // subscriber side
    quint64 m_nextSequence = 1;
    bool m_scheduled = false;
    QObject *m_pump = nullptr;
    std::shared_ptr<std::function<void()>> m_send;
    std::atomic<QThread *> m_pumpThread{nullptr};
};

/// A random non-zero 64-bit id.
quint64 randomRemoteId();

/// The size of a subscriber's secret. The share names its channel by the secret's key
/// (remoteKeyOf()): the name every connection sees tells nothing that claims it.
inline constexpr qsizetype RemoteSecretBytes = 16;
/// A secret of RemoteSecretBytes random bytes whose key is not 0.
QByteArray randomRemoteSecret();
/// A secret's key: the first 64 bits (big-endian) of its SHA-256.
quint64 remoteKeyOf(QByteArrayView secret);

} // namespace rio::detail
