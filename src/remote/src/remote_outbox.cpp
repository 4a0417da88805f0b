// SPDX-License-Identifier: MIT
#include "remote_outbox_p.h"

#include "remote_listener_p.h"

#include <registryio/qt/detail/qt_tsan.h>
#include <registryio/remote/remote_listener.h>

#include <QCryptographicHash>
#include <QMetaObject>
#include <QRandomGenerator>
#include <QVarLengthArray>
#include <QtEndian>

#include <algorithm>
#include <new>
#include <tuple>
#include <utility>

namespace rio::detail {

namespace {

// The event this thread notifies because it came from the wire: into whose outbox (its key), from
// which origin. Consumed by that outbox's forwarding handler, cleared by the scope.
struct InboundMark
{
    quint64 key = 0;
    quint64 origin = 0;
};
thread_local InboundMark t_inbound;

std::vector<RemoteOutgoing> takeFrom(RemoteQueue &queue, std::size_t max, qsizetype maxBytes)
{
    std::vector<RemoteOutgoing> out;
    out.reserve(std::min(max, queue.size()));
    qsizetype bytes = 0;
    while (out.size() < max && !queue.empty() &&
           (out.empty() || bytes + queue.front().payload.size() <= maxBytes)) {
        bytes += queue.front().payload.size();
        out.push_back(queue.pop());
    }
    return out;
}

// A backlog's drops not yet signalled; none are after it.
RemoteDrops unreportedOf(const std::shared_ptr<RemoteBacklog> &backlog)
{
    const auto counts = backlog->queue.takeUnreported();
    return {backlog, RemoteQueue::total(counts), counts, backlog->queue.dropped()};
}

} // namespace

quint64 randomRemoteId()
{
    quint64 id = 0;
    while (id == 0)
        id = QRandomGenerator::system()->generate64();
    return id;
}

QByteArray randomRemoteSecret()
{
    QByteArray secret(RemoteSecretBytes, Qt::Uninitialized);
    do {
        QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(secret.data()),
                                              RemoteSecretBytes / qsizetype(sizeof(quint32)));
    } while (remoteKeyOf(secret) == 0);
    return secret;
}

quint64 remoteKeyOf(QByteArrayView secret)
{
    return qFromBigEndian<quint64>(QCryptographicHash::hash(secret, QCryptographicHash::Sha256).constData());
}

RemoteOutbox::RemoteOutbox(quint64 subscriberKey, Delivery d, std::size_t cap)
    : key(subscriberKey), subscriberSide(true), delivery(d), capacity(cap), m_queue(d, Overflow::DropOldest)
{ }

RemoteOutbox::RemoteOutbox(const RemoteShareOptions &options)
    : key(randomRemoteId()), subscriberSide(false), delivery(options.delivery), capacity(options.capacity),
      overflow(options.overflow), blockTimeout(std::max(options.blockTimeout, std::chrono::milliseconds(0))),
      retainLatest(options.retainLatest)
{ }

RemoteOutbox::~RemoteOutbox() = default;

void RemoteOutbox::attachFanoutDirect(std::function<bool(quint64)> isIdle,
                                      std::function<void(RemoteBacklog &, RemoteOutgoing &)> sendNow)
{
    std::lock_guard lock(m_mutex);
    m_isConnectionIdle = std::move(isIdle);
    m_sendToNow = std::move(sendNow);
    m_pumpThread.store(m_pump ? m_pump->thread() : nullptr, std::memory_order_release);
}

void RemoteOutbox::attachHoldPoster(std::function<void()> hold)
{
    std::lock_guard lock(m_mutex);
    m_holdPoster = std::move(hold);
}

void RemoteOutbox::setRelayDropping(bool dropping)
{
    std::lock_guard lock(m_mutex);
    m_relayDropping = dropping;
}

bool RemoteOutbox::relayDropping() noexcept
{
    std::lock_guard lock(m_mutex);
    return m_relayDropping;
}

bool RemoteOutbox::anyReadyFull() noexcept
{
    std::lock_guard lock(m_mutex);
    return anyReadyFullLocked();
}

bool RemoteOutbox::anyReadyFullLocked() noexcept
{
    return capacity != 0 && delivery == Delivery::Every &&
           std::ranges::any_of(everyLocked(), [this](const auto &backlog) {
               return backlog->ready && backlog->queue.size() >= capacity;
           });
}

void RemoteOutbox::attachReport(std::function<void()> report)
{
    std::lock_guard lock(m_mutex);
    m_report = std::make_shared<std::function<void()>>(std::move(report));
}

void RemoteOutbox::addBacklog(const std::shared_ptr<RemoteBacklog> &backlog)
{
    std::lock_guard lock(m_mutex);
    backlog->addedAt = nowMs();
    backlog->queue = RemoteQueue(delivery, overflow);
    retainLocked(*backlog);
    backlog->slot = m_backlogs.size();
    m_backlogs.push_back(backlog);
    m_byKey.emplace(backlog->key, backlog);
    fileLocked(backlog);
}

void RemoteOutbox::fileLocked(const std::shared_ptr<RemoteBacklog> &backlog)
{
    OnConnection &on = m_onConnection[backlog->connection];
    backlog->connectionSlot = on.backlogs.size();
    on.backlogs.push_back(backlog);
    on.unready += backlog->acquired() ? 0 : 1;
}

void RemoteOutbox::unfileLocked(const RemoteBacklog &backlog)
{
    const auto on = m_onConnection.find(backlog.connection);
    auto &list = on->second.backlogs;
    list[backlog.connectionSlot] = std::move(list.back());
    list[backlog.connectionSlot]->connectionSlot = backlog.connectionSlot;
    list.pop_back();
    on->second.unready -= backlog.acquired() ? 0 : 1;
    if (list.empty())
        m_onConnection.erase(on);
}

bool RemoteOutbox::holdsLocked(const RemoteBacklog &backlog) const noexcept
{
    return backlog.slot < m_backlogs.size() && m_backlogs[backlog.slot].get() == &backlog;
}

const std::vector<std::shared_ptr<RemoteBacklog>> &RemoteOutbox::everyLocked() noexcept
{
    m_walked += m_backlogs.size();
    return m_backlogs;
}

void RemoteOutbox::retainLocked(RemoteBacklog &backlog)
{
    if (!m_retained || backlog.size() != 0)
        return;
    backlog.queue.retain(*m_retained); // shares the bytes
    driftLocked(backlog.queue.bytes());
    reportLocked(); // the ledger hears of it on the share's next turn
}

void RemoteOutbox::removeBacklog(const std::shared_ptr<RemoteBacklog> &backlog)
{
    RemoteQueue::Items queue; // released after the lock
    std::lock_guard lock(m_mutex);
    if (!holdsLocked(*backlog))
        return;
    unfileLocked(*backlog);
    m_byKey.erase(backlog->key);
    m_backlogs[backlog->slot] = std::move(m_backlogs.back());
    m_backlogs[backlog->slot]->slot = backlog->slot;
    m_backlogs.pop_back();
    if (backlog->queue.unreported() > 0) { // still signalled, once
        m_goneUnreported.push_back(unreportedOf(backlog));
        reportLocked();
    }
    m_goneDropped += backlog->queue.dropped();
    queue = backlog->queue.release();
    backlog->ready = false;
    backlog->waitingSince = 0;
    if (backlog->connection != 0 && backlog->ledgered != 0) { // given back, once
        m_goneBytes.push_back({backlog->connection, -std::exchange(backlog->ledgered, 0), 0});
        reportLocked();
    }
    m_room.notify_all(); // a sender waiting for its room waits no more
}

std::vector<std::shared_ptr<RemoteBacklog>> RemoteOutbox::backlogs()
{
    std::lock_guard lock(m_mutex);
    return everyLocked();
}

std::shared_ptr<RemoteBacklog> RemoteOutbox::backlogOf(quint64 key)
{
    std::lock_guard lock(m_mutex);
    const auto it = m_byKey.find(key);
    return it == m_byKey.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<RemoteBacklog>> RemoteOutbox::backlogsOn(quint64 connection)
{
    std::lock_guard lock(m_mutex);
    const auto on = m_onConnection.find(connection);
    return on == m_onConnection.end() ? std::vector<std::shared_ptr<RemoteBacklog>>() : on->second.backlogs;
}

std::vector<std::shared_ptr<RemoteBacklog>> RemoteOutbox::unreadyBacklogs()
{
    std::vector<std::shared_ptr<RemoteBacklog>> out;
    std::lock_guard lock(m_mutex);
    for (const auto &[connection, on] : m_onConnection) {
        if (on.unready == 0)
            continue;
        std::copy_if(on.backlogs.begin(), on.backlogs.end(), std::back_inserter(out),
                     [](const auto &backlog) { return !backlog->acquired(); });
    }
    return out;
}

RemoteOutbox::Held RemoteOutbox::heldBy(quint64 connection)
{
    std::lock_guard lock(m_mutex);
    const auto on = m_onConnection.find(connection);
    return on == m_onConnection.end() ? Held{} : Held{on->second.backlogs.size(), on->second.unready};
}

quint64 RemoteOutbox::walked() noexcept
{
    std::lock_guard lock(m_mutex);
    return m_walked;
}

QString RemoteOutbox::indexFault()
{
    std::lock_guard lock(m_mutex);
    std::unordered_map<quint64, Held> counted;
    for (std::size_t i = 0; i < m_backlogs.size(); ++i) {
        const auto &backlog = m_backlogs[i];
        const auto on = m_onConnection.find(backlog->connection);
        const auto byKey = m_byKey.find(backlog->key);
        if (backlog->slot != i || on == m_onConnection.end() || byKey == m_byKey.end() ||
            byKey->second != backlog || backlog->connectionSlot >= on->second.backlogs.size() ||
            on->second.backlogs[backlog->connectionSlot] != backlog)
            return QStringLiteral("backlog %1 is not where its outbox files it").arg(backlog->id);
        ++counted[backlog->connection].backlogs;
        counted[backlog->connection].unready += backlog->acquired() ? 0 : 1;
    }
    bool agree = m_byKey.size() == m_backlogs.size() && m_onConnection.size() == counted.size();
    for (const auto &[connection, on] : m_onConnection)
        agree = agree && on.backlogs.size() == counted[connection].backlogs &&
                on.unready == counted[connection].unready;
    return agree ? QString()
                 : QStringLiteral("the backlogs filed by key or by connection, or counted as not ready, are "
                                  "not those there are");
}

quint64 RemoteOutbox::droppedCount() noexcept
{
    std::lock_guard lock(m_mutex);
    quint64 total = m_goneDropped + m_queue.dropped();
    for (const auto &backlog : everyLocked())
        total += backlog->queue.dropped();
    return total;
}

std::size_t RemoteOutbox::mostPending() noexcept
{
    std::size_t most = 0;
    std::lock_guard lock(m_mutex);
    for (const auto &backlog : everyLocked())
        most = std::max(most, backlog->size());
    return most;
}

std::size_t RemoteOutbox::backlogCount() noexcept
{
    std::lock_guard lock(m_mutex);
    return m_backlogs.size();
}

void RemoteOutbox::setReady(const std::shared_ptr<RemoteBacklog> &backlog)
{
    std::lock_guard lock(m_mutex);
    if (!holdsLocked(*backlog))
        return;
    unfileLocked(*backlog);
    backlog->ready = true;
    backlog->moved = false;
    fileLocked(backlog);
    if (backlog->size() > 0)
        scheduleLocked();
}

void RemoteOutbox::moveBacklog(const std::shared_ptr<RemoteBacklog> &backlog, quint64 connection,
                               const QString &peer)
{
    std::lock_guard lock(m_mutex);
    if (!holdsLocked(*backlog))
        return;
    unfileLocked(*backlog);
    backlog->connection = connection;
    backlog->peer = peer;
    backlog->moved = backlog->ready;
    backlog->ledgered = 0; // its bytes count for the new connection from the next account()
    backlog->shed = false;
    fileLocked(backlog);
    retainLocked(*backlog); // what the dead link took may have been the newest state
}

void RemoteOutbox::close()
{
    std::lock_guard lock(m_mutex);
    m_closed = true;
    m_room.notify_all();
}

void RemoteOutbox::driftLocked(qint64 change)
{
    m_drift += change;
    if (m_drift >= RemoteLedgerStep || m_drift <= -RemoteLedgerStep) {
        m_drift = 0;
        m_accountDue = true;
        reportLocked();
    }
}

std::vector<RemoteDrops> RemoteOutbox::takeUnreported()
{
    std::vector<RemoteDrops> out;
    std::lock_guard lock(m_mutex);
    out.swap(m_goneUnreported);
    for (const auto &backlog : everyLocked()) {
        if (backlog->queue.unreported() > 0)
            out.push_back(unreportedOf(backlog));
    }
    return out;
}

void RemoteOutbox::account()
{
    std::vector<HeldBytes> held;
    {
        std::lock_guard lock(m_mutex);
        m_drift = 0; // every change is told below
        held.swap(m_goneBytes);
        m_walked += m_backlogs.size();
        for (const auto &[connection, on] : m_onConnection) {
            if (connection == 0)
                continue;
            HeldBytes one{connection};
            bool changed = false;
            for (const auto &backlog : on.backlogs) {
                const qint64 bytes = backlog->queue.bytes();
                changed = changed || bytes != backlog->ledgered;
                one.change += bytes - std::exchange(backlog->ledgered, bytes);
                // Its wait: the oldest of all its backlogs here, changed or not.
                if (backlog->waitingSince != 0 &&
                    (one.waitingSince == 0 || backlog->waitingSince < one.waitingSince))
                    one.waitingSince = backlog->waitingSince;
            }
            for (HeldBytes &entry : held) { // told with what its backlogs that went gave back
                if (entry.connection != connection)
                    continue;
                changed = false;
                entry.waitingSince = one.waitingSince;
                entry.change += std::exchange(one.change, 0);
            }
            if (changed)
                held.push_back(one);
        }
    }
    // Decreases first: a backlog that drained is subtracted before another one's growth is
    // added, so the ledger's total never counts both at once and sheds no reader for it.
    std::stable_partition(held.begin(), held.end(), [](const HeldBytes &one) { return one.change < 0; });
    std::erase_if(held, [this](const HeldBytes &one) {
        return !g_ledger.holdBacklog(one.connection, key, one.change, one.waitingSince); // true: it is going
    });
    if (held.empty())
        return;
    std::vector<RemoteQueue::Items> released; // after the lock
    std::lock_guard lock(m_mutex);
    for (const HeldBytes &one : held) {
        const auto on = m_onConnection.find(one.connection);
        if (on == m_onConnection.end())
            continue;
        for (const auto &backlog : on->second.backlogs) {
            if (backlog->shed)
                continue;
            backlog->shed = true;
            released.push_back(backlog->queue.release());
            backlog->ledgered = 0; // the ledger no longer counts the connection
            backlog->waitingSince = 0;
        }
    }
    m_room.notify_all(); // a sender waiting for its room waits no more
}

std::vector<RemoteOutgoing> RemoteOutbox::take(RemoteBacklog &backlog, std::size_t max, qsizetype maxBytes)
{
    std::lock_guard lock(m_mutex);
    if (!backlog.acquired())
        return {};
    const qint64 before = backlog.queue.bytes();
    auto out = takeFrom(backlog.queue, max, maxBytes);
    driftLocked(backlog.queue.bytes() - before);
    if (!out.empty()) // progress: what still waits waits from now
        backlog.waitingSince = backlog.size() == 0 ? 0 : nowMs();
    backlog.sent += out.size();
    if (m_waiting > 0 && !out.empty())
        m_room.notify_all();
    return out;
}

template <typename Item>
bool RemoteOutbox::pushLocked(RemoteQueue &queue, Item &&item, std::size_t room, bool &droppedAny)
{
    const Pushed pushed = queue.push(std::forward<Item>(item), room).pushed;
    if (pushed == Pushed::Queued)
        return true;
    droppedAny = true; // counted by the queue
    return pushed == Pushed::DroppedOldest;
}

void RemoteOutbox::pushFanout(quint64 origin, QByteArray payload)
{
    QThread *const pumpThread = m_pumpThread.load(std::memory_order_acquire);
    const bool onPump = pumpThread && pumpThread == QThread::currentThread();
    const bool bounded = delivery == Delivery::Every && capacity != 0;
    // Relayed on the share's thread, which cannot wait: lossless makes the poster's connection
    // wait (not read) instead.
    const bool relayed = onPump && origin != 0 && RemoteListener::currentConnection() != 0;
    // The backlogs this event goes to at once, held (sending may close a connection).
    QVarLengthArray<std::shared_ptr<RemoteBacklog>, 4> direct;
    std::unique_lock lock(m_mutex);
    if (m_closed)
        return;
    // Lossless: wait at most blockTimeout for room in every acquired backlog (one never acquired
    // would hold senders for ever), never on the pump's thread (its event loop makes room).
    if (bounded && overflow == Overflow::Block && !onPump && anyReadyFullLocked()) {
        ++m_waiting;
        m_room.wait_for(lock, blockTimeout, [&] { return m_closed || !anyReadyFullLocked(); });
        --m_waiting;
        if (m_closed)
            return;
    }
    RemoteOutgoing item{origin, m_nextSequence++, std::move(payload)};
    bool queued = false;
    bool droppedAny = false;
    bool hold = false;
    qint64 now = 0; // the clock, once read
    for (const auto &backlog : everyLocked()) {
        if (backlog->shed)
            continue;
        try {
            if (delivery == Delivery::Every && onPump && m_sendToNow && backlog->acquired() &&
                backlog->size() == 0 && m_isConnectionIdle(backlog->connection)) {
                direct.append(backlog);
                ++backlog->sent;
                continue;
            }
            std::size_t room = backlog->room(capacity);
            if (relayed && bounded && overflow == Overflow::Block && backlog->ready && m_holdPoster &&
                !m_relayDropping && backlog->queue.size() >= room) {
                hold = true; // beyond capacity by what the poster sent before it is paused
                room = 0;
            }
            const qint64 before = backlog->queue.bytes();
            // Shares the bytes. DropNewest, or Block that found no room in time, drops this event.
            if (!pushLocked(backlog->queue, item, room, droppedAny))
                continue;
            if (const qint64 change = backlog->queue.bytes() - before; change != 0) // Latest's: often none
                driftLocked(change);
        } catch (const std::bad_alloc &) {
            // This subscriber misses the event (its drop, counted and signalled); the others not.
            backlog->queue.drop(DropReason::NoMemory, 1);
            droppedAny = true;
            continue;
        }
        if (backlog->waitingSince == 0) // not acquired: it waits since it was added
            backlog->waitingSince = !backlog->acquired() ? backlog->addedAt
                                    : now != 0           ? now
                                                         : (now = nowMs());
        queued = true;
    }
    if (retainLatest)
        m_retained = item;
    if (droppedAny)
        reportLocked();
    if (queued)
        scheduleLocked();
    const bool accountNow = std::exchange(m_accountDue, false);
    lock.unlock();
    for (const auto &backlog : direct)
        m_sendToNow(*backlog, item);
    if (hold)
        m_holdPoster();
    if (accountNow)
        account();
}

void RemoteOutbox::attach(QObject *pump, std::function<void()> send)
{
    std::lock_guard lock(m_mutex);
    m_pump = pump;
    m_send = std::make_shared<std::function<void()>>(std::move(send));
}

void RemoteOutbox::attachDirect(std::function<bool()> isIdle, std::function<void(RemoteOutgoing &)> sendNow)
{
    attachFanoutDirect(
        [isIdle = std::move(isIdle)](quint64) { return isIdle(); },
        [sendNow = std::move(sendNow)](RemoteBacklog &, RemoteOutgoing &item) { sendNow(item); });
}

void RemoteOutbox::detach()
{
    std::unique_lock lock(m_mutex);
    m_pump = nullptr;
    m_pumpThread.store(nullptr, std::memory_order_release);
    m_closed = true;
    m_room.notify_all();
    // Our own closures and the index, destroyed after the lock (no user code).
    const auto gone = std::make_tuple(std::exchange(m_send, {}), std::exchange(m_report, {}),
                                      std::exchange(m_isConnectionIdle, {}), std::exchange(m_sendToNow, {}),
                                      std::exchange(m_holdPoster, {}), std::exchange(m_backlogs, {}),
                                      std::exchange(m_byKey, {}), std::exchange(m_onConnection, {}));
    lock.unlock();
}

void RemoteOutbox::scheduleLocked()
{
    postLocked(&RemoteOutbox::m_scheduled, m_send);
}

void RemoteOutbox::reportLocked()
{
    postLocked(&RemoteOutbox::m_reportScheduled, m_report);
}

void RemoteOutbox::postLocked(bool RemoteOutbox::*posted, const std::shared_ptr<std::function<void()>> &fn)
{
    if (this->*posted || !m_pump || !fn)
        return;
    this->*posted = true;
    // Posting takes only Qt's event-queue lock and runs no user code. The pump object's destructor
    // runs detach() first, and Qt discards events posted to a dead receiver. Handover: Qt's event
    // queue hands the functor to the pump's thread where TSan cannot see it.
    [[maybe_unused]] const TsanPostScope posting;
    QMetaObject::invokeMethod(
        m_pump, Handover([self = weak_from_this(), posted, weak = std::weak_ptr<std::function<void()>>(fn)] {
            const auto box = self.lock();
            if (!box)
                return;
            {
                // From here on the next one is posted anew: a send may stop early (no room on the
                // wire, or a full batch) and count on drained() or schedule().
                std::lock_guard lock(box->m_mutex);
                (*box).*posted = false;
            }
            if (auto fn = weak.lock())
                (*fn)();
        }),
        Qt::QueuedConnection);
}

void RemoteOutbox::schedule()
{
    std::lock_guard lock(m_mutex);
    if (!m_queue.empty() || m_left)
        scheduleLocked();
}

void RemoteOutbox::leave(bool left)
{
    std::lock_guard lock(m_mutex);
    m_left = left;
}

void RemoteOutbox::push(quint64 origin, QByteArray payload) noexcept
{
    try {
        if (!subscriberSide) {
            pushFanout(origin, std::move(payload));
            return;
        }
        std::lock_guard lock(m_mutex);
        bool droppedAny = false;
        pushLocked(m_queue, RemoteOutgoing{origin, m_nextSequence++, std::move(payload)}, capacity,
                   droppedAny);
        scheduleLocked();
    } catch (...) {
        // Allocation failure: the event is lost for the wire, and counted.
        std::lock_guard lock(m_mutex);
        m_queue.drop(DropReason::NoMemory, 1);
    }
}

std::vector<RemoteOutgoing> RemoteOutbox::take(std::size_t max, qsizetype maxBytes)
{
    std::lock_guard lock(m_mutex);
    return takeFrom(m_queue, max, maxBytes);
}

std::size_t RemoteOutbox::discard()
{
    RemoteQueue::Items queue; // released after the lock
    std::lock_guard lock(m_mutex);
    queue = m_queue.release();
    return queue.size();
}

std::optional<quint64> remoteOutboxWants(RemoteOutbox &box) noexcept
{
    if (t_inbound.key == box.key) {
        const quint64 origin = t_inbound.origin;
        t_inbound = {};
        if (box.subscriberSide)
            return std::nullopt; // it came from the source: no echo
        return origin;           // the share forwards it to the others, tagged with its sender
    }
    if (box.subscriberSide) {
        if (!box.connected.load(std::memory_order_acquire)) {
            box.droppedDisconnected.fetch_add(1, std::memory_order_relaxed);
            return std::nullopt;
        }
        return box.key;
    }
    return 0;
}

void remoteOutboxPush(RemoteOutbox &box, quint64 origin, QByteArray payload) noexcept
{
    box.push(origin, std::move(payload));
}

RemoteInboundScope::RemoteInboundScope(const RemoteOutbox &box, quint64 origin) noexcept
    : m_previousKey(t_inbound.key), m_previousOrigin(t_inbound.origin)
{
    t_inbound = {box.key, origin};
}

RemoteInboundScope::~RemoteInboundScope()
{
    t_inbound = {m_previousKey, m_previousOrigin};
}

} // namespace rio::detail
