// SPDX-License-Identifier: MIT
#include "remote_listener_p.h"
#include "remote_outbox_p.h"

#include <QLocalSocket>
#include <QSignalBlocker>

#include <utility>

#ifdef Q_OS_LINUX
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#endif

namespace rio {

using namespace detail; // remote_listener_p.h

namespace {

// Whether the peer of a paused connection (never read to its end) closed its end, asked without a read.
bool hungUp([[maybe_unused]] const QIODevice *socket)
{
#if defined(Q_OS_LINUX) && defined(POLLRDHUP)
    const auto *s = qobject_cast<const QAbstractSocket *>(socket);
    if (s == nullptr || s->socketDescriptor() < 0)
        return false;
    pollfd p{int(s->socketDescriptor()), POLLRDHUP, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
#else
    return false;
#endif
}

// The level that holdings of `sizes` are cut down to so that they lose `excess` in all: the
// largest lose the most, none is cut below the next largest (0: all of them are not enough).
qint64 waterLevel(std::vector<qint64> sizes, qint64 excess)
{
    std::sort(sizes.begin(), sizes.end(), std::greater<>());
    qint64 above = 0; // what the holdings larger than the next one hold above it
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        const qint64 next = i + 1 < sizes.size() ? sizes[i + 1] : 0;
        above += qint64(i + 1) * (sizes[i] - next);
        if (above >= excess)
            return next + (above - excess) / qint64(i + 1);
    }
    return 0;
}

} // namespace

qint64 detail::systemQueued([[maybe_unused]] const QIODevice *socket)
{
#if defined(Q_OS_LINUX) && defined(SIOCOUTQ)
    const auto *s = qobject_cast<const QAbstractSocket *>(socket);
    int bytes = 0;
    if (s == nullptr || s->socketDescriptor() < 0 ||
        ::ioctl(int(s->socketDescriptor()), SIOCOUTQ, &bytes) != 0)
        return 0;
    return bytes;
#else
    return 0;
#endif
}

void Ledger::open(RemoteListener *listener, quint64 id, const QString &address, const QString &name,
                  qint64 backlogBudget, qint64 highWater, qint64 stallMs)
{
    const std::lock_guard lock(m_mutex);
    m_rows.emplace(id, Row{.listener = listener,
                           .id = id,
                           .address = address,
                           .name = name,
                           .backlogBudget = backlogBudget,
                           .highWater = highWater,
                           .stallMs = stallMs});
}

void Ledger::close(quint64 id)
{
    leave(id); // (a leaving row is skipped by every other thread, as a gone one)
    const std::lock_guard lock(m_mutex);
    m_rows.erase(id);
}

std::vector<std::pair<quint64, QString>> Ledger::hold(const RemoteListener *self, quint64 id, Budget budget,
                                                      qint64 amount, qint64 limit, qint64 since)
{
    const std::lock_guard lock(m_mutex);
    Row *row = findLocked(id);
    if (row == nullptr)
        return {};
    if (!row->leaving)
        m_totals[budget] += amount - row->amount[budget];
    row->amount[budget] = amount;
    if (budget != QueuedBytes)
        row->since[budget] = since;
    return m_totals[budget] > limit ? shedLocked(self, budget, limit)
                                    : std::vector<std::pair<quint64, QString>>{};
}

void Ledger::measureQueued(quint64 id, qint64 queued, qint64 untaken, qint64 taken)
{
    const std::lock_guard lock(m_mutex);
    Row *row = findLocked(id);
    if (row == nullptr)
        return;
    // Past its high-water mark, its wait starts as it goes past and whenever its peer took bytes. TCP
    // shows a slow reader a window at a time: a peer that held bytes untaken, then took more, is granted
    // twice its longest such wait (up to stallMs) before it counts as taking nothing.
    const qint64 now = nowMs();
    if (taken > row->taken) {
        if (std::exchange(row->waiting, false))
            row->grace = std::max(row->grace, std::min(2 * (now - row->takenAt), row->stallMs));
        row->taken = taken;
        row->takenAt = now;
    } else if (untaken > 0 && row->takenAt != 0) {
        row->waiting = true;
    }
    qint64 &since = row->since[QueuedBytes];
    since = queued <= row->highWater ? 0 : since == 0 || untaken < row->untaken ? now : since;
    row->stalled = since != 0 && now - std::max(since, row->claimedAt) >= row->stallMs;
    row->untaken = untaken;
}

void Ledger::tookClaimed(quint64 id)
{
    const std::lock_guard lock(m_mutex);
    Row *row = findLocked(id);
    const qint64 now = nowMs();
    // Its wait starts again (since[QueuedBytes] stays its system's), to end within ClaimedStalls
    // stall waits of its system's last taking.
    if (row == nullptr || row->takenAt == 0 || now - row->takenAt > (ClaimedStalls - 1) * row->stallMs)
        return;
    row->claimedAt = now;
    row->stalled = false;
}

QString Ledger::untakenLocked(const Row &row, qint64 now)
{
    const QString untaken =
        row.takenAt == 0 ? QStringLiteral("nothing taken by its peer since it connected")
                         : QStringLiteral("nothing taken by its peer for %1 ms").arg(now - row.takenAt);
    return row.claimedAt == 0 ? untaken
                              : QStringLiteral("%1, though it claimed %2 ms ago to have read more")
                                    .arg(untaken)
                                    .arg(now - row.claimedAt);
}

bool Ledger::holdBacklog(quint64 id, quint64 share, qint64 change, qint64 since)
{
    const std::lock_guard lock(m_mutex);
    Row *const it = findLocked(id);
    if (it == nullptr || it->leaving)
        return true;
    it->amount[BacklogBytes] += change;
    m_totals[BacklogBytes] += change;
    if (it->amount[BacklogBytes] <= 0)
        it->thinned = false; // it caught up
    std::erase_if(it->waits, [share](const auto &wait) { return wait.first == share; });
    if (since != 0)
        it->waits.emplace_back(share, since);
    const auto oldest = std::min_element(it->waits.begin(), it->waits.end(),
                                         [](const auto &a, const auto &b) { return a.second < b.second; });
    it->since[BacklogBytes] = oldest == it->waits.end() ? 0 : oldest->second;
    // Posting only (no self): each drop runs on its listener's thread.
    const qint64 budget = it->backlogBudget;
    if (m_totals[BacklogBytes] <= budget)
        return it->leaving;
    // A connection that does not read, or holds unready subscriptions, holds its backlogs for good.
    shedLocked(nullptr, BacklogBytes, budget,
               [](const Row &row) { return !readsLocked(row) || row.amount[UnreadySubscriptions] > 0; });
    if (m_totals[BacklogBytes] <= budget)
        return it->leaving;
    // Flow control before disconnection: lossy backlogs lose their oldest, to 15/16 of the budget.
    const auto thinnable = thinLocked(budget - budget / 16);
    // Only what may not be dropped (Block, Latest, retained events) makes the oldest holders go.
    if (m_totals[BacklogBytes] > budget) {
        shedLocked(nullptr, BacklogBytes, budget, [&thinnable](const Row &row) {
            const auto one = thinnable.find(row.id);
            return one == thinnable.end() || one->second < row.amount[BacklogBytes];
        });
    }
    return it->leaving;
}

void Ledger::thinFirst(const std::weak_ptr<RemoteOutbox> &box)
{
    const std::lock_guard lock(m_mutex);
    std::erase_if(m_thinnable, [](const auto &one) { return one.expired(); });
    m_thinnable.push_back(box);
}

std::unordered_map<quint64, qint64> Ledger::thinLocked(qint64 limit)
{
    // Lock order: the ledger's, then one share's at a time.
    std::vector<std::shared_ptr<RemoteOutbox>> boxes;
    std::erase_if(m_thinnable, [&boxes](const auto &one) {
        auto box = one.lock();
        if (!box)
            return true;
        boxes.push_back(std::move(box));
        return false;
    });
    const auto counted = [this](quint64 id) {
        const Row *row = findLocked(id);
        return row != nullptr && !row->leaving;
    };
    // Water filling over the connections' holdings (a peer's many subscriptions are cut before a
    // lone reader's), then over each connection's backlogs.
    std::vector<std::pair<quint64, qint64>> held; // per backlog: its connection, its bytes
    for (const auto &box : boxes)
        box->holdings(counted, held);
    struct Holder
    {
        qint64 total = 0;
        std::vector<qint64> sizes{};
        qint64 level = INT64_MAX; // what each of its backlogs is cut down to
    };
    std::unordered_map<quint64, Holder> holders; // by connection
    for (const auto &[id, bytes] : held) {
        Holder &h = holders[id];
        h.total += bytes;
        h.sizes.push_back(bytes);
    }
    std::vector<qint64> totals;
    totals.reserve(holders.size());
    for (const auto &[id, h] : holders)
        totals.push_back(h.total);
    const qint64 level = waterLevel(std::move(totals), m_totals[BacklogBytes] - limit);
    for (auto &[id, h] : holders) {
        if (h.total <= level)
            continue;
        h.level = waterLevel(std::move(h.sizes), h.total - level);
        findLocked(id)->thinned = true;
    }
    const auto levelOf = [&holders](quint64 id) {
        const auto it = holders.find(id);
        return it == holders.end() ? INT64_MAX : it->second.level;
    };
    held.clear();
    for (const auto &box : boxes) {
        box->thin(levelOf, counted, [this](quint64 id, qint64 change) {
            Row *row = findLocked(id);
            row->amount[BacklogBytes] += change;
            m_totals[BacklogBytes] += change;
        });
        box->holdings(counted, held);
    }
    std::unordered_map<quint64, qint64> left; // per connection, what it still holds in them
    for (const auto &[id, bytes] : held)
        left[id] += bytes;
    return left;
}

void Ledger::leave(quint64 id)
{
    const std::lock_guard lock(m_mutex);
    Row *const it = findLocked(id);
    if (it == nullptr || std::exchange(it->leaving, true))
        return;
    for (std::size_t b = 0; b < Budgets; ++b)
        m_totals[b] -= it->amount[b];
}

qint64 Ledger::total(Budget budget) const
{
    const std::lock_guard lock(m_mutex);
    return m_totals[budget];
}

QString Ledger::whyLocked(const Row &row, Budget budget, qint64 now)
{
    const qint64 amount = row.amount[budget];
    if (budget == IncompleteBytes)
        return QStringLiteral("whose packet has been incomplete longest (%1 bytes for %2 ms)")
            .arg(amount)
            .arg(now - row.since[budget]);
    if (budget == BacklogBytes && !readsLocked(row))
        return QStringLiteral("which does not read what it is sent (%1 bytes unwritten, past its high-water "
                              "mark with %2; its subscriptions' backlogs hold %3 bytes)")
            .arg(row.amount[QueuedBytes])
            .arg(untakenLocked(row, now))
            .arg(amount);
    if (budget == BacklogBytes)
        return QStringLiteral(
                   "whose subscriptions have been sent nothing longest (%1 bytes waiting, for %2 ms)")
            .arg(amount)
            .arg(row.since[budget] != 0 ? now - row.since[budget] : 0);
    if (budget == QueuedBytes)
        return QStringLiteral("whose peer has taken nothing for longest (%1 bytes waiting, %2)")
            .arg(amount)
            .arg(untakenLocked(row, now));
    return QStringLiteral("with the most (%1)").arg(amount);
}

std::vector<std::pair<quint64, QString>> Ledger::shedLocked(const RemoteListener *self, Budget budget,
                                                            qint64 limit,
                                                            const std::function<bool(const Row &)> &eligible)
{
    static constexpr std::array<const char *, Budgets> What = {
        "bytes of packets not yet whole", "bytes waiting to be written",
        "subscriptions that did not acquire their channel", "bytes in subscriptions' backlogs"};
    const qint64 now = nowMs();
    std::vector<std::pair<quint64, QString>> own;
    std::vector<Row *> holders;
    for (auto &[id, row] : m_rows) {
        if (!row.leaving && row.amount[budget] > 0 && (!eligible || eligible(row)))
            holders.push_back(&row);
    }
    // Incomplete packets and backlogs: held longest first (the one that passed the budget is usually
    // a sender or a reader's burst); a connection that does not read holds its backlogs for good: the
    // oldest. Bytes to write: peers that took nothing for longest first (a flooded reader holds as
    // much as a hoarder, but takes bytes all along; one that took nothing has no grace). Then the
    // most first; then the oldest connection.
    const bool byAge = budget == IncompleteBytes || budget == BacklogBytes;
    std::sort(holders.begin(), holders.end(), [budget, byAge](const Row *a, const Row *b) {
        if (budget == QueuedBytes && a->takenAt + a->grace != b->takenAt + b->grace)
            return a->takenAt + a->grace < b->takenAt + b->grace;
        const auto age = [budget](const Row *r) {
            return budget == BacklogBytes && !readsLocked(*r) ? 1
                   : r->since[budget] != 0                    ? r->since[budget]
                                                              : INT64_MAX;
        };
        if (byAge && age(a) != age(b))
            return age(a) < age(b);
        const qint64 x = a->amount[budget];
        const qint64 y = b->amount[budget];
        return x != y ? x > y : a->id < b->id;
    });
    for (Row *row : holders) {
        if (m_totals[budget] <= limit)
            break;
        QString reason =
            QStringLiteral("rio::RemoteListener %1: this process holds %2 %3 (the budget is %4); "
                           "connection %5 (%6), %7, is dropped")
                .arg(row->address)
                .arg(m_totals[budget])
                .arg(QLatin1String(What[budget]))
                .arg(limit)
                .arg(row->id)
                .arg(row->name, whyLocked(*row, budget, now));
        leaveLocked(*row, std::move(reason), self, own);
    }
    return own;
}

void Ledger::leaveLocked(Row &row, QString reason, const RemoteListener *self,
                         std::vector<std::pair<quint64, QString>> &own)
{
    row.leaving = true;
    for (std::size_t b = 0; b < Budgets; ++b)
        m_totals[b] -= row.amount[b];
    if (row.listener == self) {
        own.emplace_back(row.id, std::move(reason));
    } else {
        // Its listener drops it on its own thread (posting runs nobody's code).
        row.drop = std::move(reason);
        QMetaObject::invokeMethod(row.listener, "dropShed", Qt::QueuedConnection);
    }
}

std::vector<std::pair<quint64, QString>> Ledger::shedThinnedStalled(const RemoteListener *self)
{
    std::vector<std::pair<quint64, QString>> own;
    const std::lock_guard lock(m_mutex);
    const qint64 now = nowMs();
    for (auto &[id, row] : m_rows) {
        if (row.listener != self || row.leaving || !row.thinned || row.amount[BacklogBytes] <= 0 ||
            readsLocked(row))
            continue;
        leaveLocked(row,
                    QStringLiteral("rio::RemoteListener %1: the process's backlogs passed backlogBytesBudget "
                                   "and lost events of connection %2 (%3), %4; it is dropped")
                        .arg(row.address)
                        .arg(row.id)
                        .arg(row.name, whyLocked(row, BacklogBytes, now)),
                    self, own);
    }
    return own;
}

std::vector<std::pair<quint64, QString>> Ledger::takeDrops(const RemoteListener *self)
{
    std::vector<std::pair<quint64, QString>> drops;
    const std::lock_guard lock(m_mutex);
    for (auto &[id, row] : m_rows) {
        if (row.listener == self && !row.drop.isEmpty())
            drops.emplace_back(row.id, std::exchange(row.drop, {}));
    }
    return drops;
}

void RemoteListener::dropShed()
{
    dropAll(g_ledger.takeDrops(this));
}

void RemoteListener::dropAll(const std::vector<std::pair<quint64, QString>> &drops, bool later)
{
    for (const auto &[id, reason] : drops)
        drop(id, reason, later);
}

qint64 RemoteListener::write(quint64 id, const char *data, qint64 size)
{
    Private::Peer *peer = d->find(id);
    if (peer == nullptr || !peer->socket)
        return -1;
    Private::observe(*peer, data, size);
    // A connection past its limit takes no more; the process holds at most its budget. (Closed later:
    // Qt Remote Objects is in the middle of a write.)
    const qint64 queued = queuedBytes(peer->socket);
    if (queued > d->options.maxQueuedBytes) {
        drop(id,
             d->dropping(*peer, QStringLiteral("has %1 bytes waiting to be written (the limit per connection "
                                               "is %2): it does not read what it is sent")
                                    .arg(queued)
                                    .arg(d->options.maxQueuedBytes)),
             true);
        return -1;
    }
    dropAll(g_ledger.hold(this, id, QueuedBytes, queued + size, d->options.queuedBytesBudget), true);
    if (peer->rejected()) // the budget dropped it (or it was already)
        return -1;
    // To an idle plain socket, what the system takes goes straight to it: a buffered write toggles
    // the socket's notifier, which Qt's glib event loop does with a walk over every socket.
    qint64 sent = 0;
#ifdef Q_OS_LINUX
    if (auto *tcp = qobject_cast<QAbstractSocket *>(peer->socket);
        queued == 0 && tcp && !qobject_cast<QSslSocket *>(tcp) && systemQueued(tcp) == 0)
        sent = std::max<qint64>(
            ::send(int(tcp->socketDescriptor()), data, std::size_t(size), MSG_NOSIGNAL | MSG_DONTWAIT), 0);
#endif
    peer->handed += sent;
    if (sent == size || peer->socket->write(data + sent, size - sent) == size - sent) {
        if (sent > 0) // what it holds is counted
            dropAll(
                g_ledger.hold(this, id, QueuedBytes, queuedBytes(peer->socket), d->options.queuedBytesBudget),
                true);
        return size;
    }
    return sent;
}

bool RemoteListener::holdUnready(quint64 id)
{
    Private::Peer *peer = d->find(id);
    if (!peer || peer->rejected())
        return false;
    dropAll(g_ledger.hold(this, id, UnreadySubscriptions, ++peer->unready, UnreadyBudget));
    peer = d->find(id); // shedding may have closed it
    if (peer && !peer->rejected())
        return true;
    if (peer)
        releaseUnready(id);
    return false;
}

void RemoteListener::releaseUnready(quint64 id)
{
    Private::Peer *peer = d->find(id);
    if (peer && peer->unready > 0)
        dropAll(g_ledger.hold(this, id, UnreadySubscriptions, --peer->unready, UnreadyBudget));
}

bool RemoteListener::dropConnection(quint64 id, const QString &reason)
{
    const Private::Peer *peer = d->find(id);
    if (!peer || !peer->socket)
        return false;
    drop(id, reason);
    return true;
}

bool RemoteListener::pauseReading(quint64 id)
{
    Private::Peer *peer = d->find(id);
    if (!peer || !peer->socket || !d->host)
        return false;
    if (peer->pauses++ == 0 && peer->pipe) // Qt Remote Objects reads no further packet, pump() none
        peer->pipe->hold(true);
    return true;
}

void RemoteListener::resumeReading(quint64 id)
{
    Private::Peer *peer = d->find(id);
    if (!peer || peer->pauses == 0 || --peer->pauses > 0)
        return;
    if (peer->pipe)
        peer->pipe->hold(false);
    peer->pendingSince = nowMs();
    // What the pipe and the socket hold is read on the next turn, as if it had just arrived.
    QMetaObject::invokeMethod(this, [this, id] { pump(id); }, Qt::QueuedConnection);
}

QString RemoteListener::noteReceived(quint64 id, quint64 bytes)
{
    Private::Peer *peer = d->find(id);
    if (peer == nullptr || !peer->pipe)
        return {};
    const qint64 written = peer->pipe->written();
    if (bytes > quint64(written))
        return QStringLiteral("a claim to have read %1 bytes of the %2 written to it")
            .arg(bytes)
            .arg(written);
    if (qint64(bytes) < peer->claimed)
        return QStringLiteral("a claim to have read %1 bytes after one of %2").arg(bytes).arg(peer->claimed);
    if (qint64(bytes) > std::exchange(peer->claimed, qint64(bytes)))
        g_ledger.tookClaimed(id);
    return {};
}

void RemoteListener::checkDeadlines()
{
    const qint64 now = nowMs();
    std::vector<std::pair<quint64, QString>> late;
    std::vector<QPointer<QIODevice>> gone;
    const qint64 handshake = d->options.handshakeTimeout.count();
    const qint64 progress = d->options.progressTimeout.count();
    const auto lateBy = [now, handshake, progress](const Private::Peer &peer) -> QString {
        if (!peer.handshaken && now - peer.connectedAt > handshake)
            return QStringLiteral("sent no whole packet within %1 ms of connecting").arg(handshake);
        if (!peer.partial.isEmpty() && now - peer.pendingSince > progress)
            return QStringLiteral("held %1 bytes of a packet for %2 ms without completing it")
                .arg(peer.partial.size())
                .arg(progress);
        if (!peer.foreign.empty() && now - peer.foreign.front().second > handshake)
            return QStringLiteral("acquired \"%1\", a channel of another connection's subscription, and did "
                                  "not take that subscription over within %2 ms")
                .arg(peer.foreign.front().first)
                .arg(handshake);
        return {};
    };
    for (auto &[id, peer] : d->peers) {
        if (peer.socket && peer.pauses > 0 && hungUp(peer.socket))
            gone.emplace_back(peer.socket); // what it sent and was not read goes with it
        if (!peer.socket || peer.rejected() || peer.pauses > 0)
            continue;
        if (const QString why = lateBy(peer); !why.isEmpty())
            late.emplace_back(id, d->dropping(peer, why));
        // Measured every pass (unless all it was handed was taken): who takes nothing, who reads.
        if (const qint64 queued = queuedBytes(peer.socket); queued > 0 || peer.settled != peer.handed)
            d->measure(peer, queued);
    }
    dropAll(late); // not while iterating d->peers: dropping closes the socket, which leaves them
    for (const QPointer<QIODevice> &socket : gone) {
        if (socket)
            abortSocket(socket);
    }
    checkHandshakes(now);
    dropAll(g_ledger.shedThinnedStalled(this)); // one the backlog budget thinned that does not read
    if (d->peers.empty() && d->handshakes.empty())
        d->deadlines->stop();
}

void RemoteListener::checkHandshakes(qint64 now)
{
    std::vector<quint64> unfinished;
    for (const auto &[key, handshake] : d->handshakes) {
        if (!handshake.socket || now - handshake.connectedAt > d->options.handshakeTimeout.count())
            unfinished.push_back(key);
    }
    for (const quint64 key : unfinished) {
        QSslSocket *socket = d->settleHandshake(key).value_or(Private::Handshake{}).socket;
        if (socket == nullptr) // gone (it leaves), or settled meanwhile
            continue;
        const QString peer = peerAt(socket); // before abort(), which forgets the address
        socket->disconnect(this);
        socket->abort();
        socket->deleteLater();
        rejectHandshake(QStringLiteral("rio::RemoteListener %1: the peer at %2 did not complete the TLS "
                                       "handshake within %3 ms of connecting; its connection is dropped")
                            .arg(d->address.toString(), peer)
                            .arg(d->options.handshakeTimeout.count()));
    }
}

void RemoteListener::drop(quint64 id, const QString &reason, bool later)
{
    Private::Peer *peer = d->find(id);
    if (peer == nullptr || peer->rejected())
        return;
    qCWarning(lcRegistryIORemote, "%s", qPrintable(reason));
    peer->pipe->discard(); // Qt Remote Objects reads none of what it held, and writes nothing more
    g_ledger.leave(id);    // its holdings no longer count
    ++d->rejected;
    if (later && peer->socket) {
        // Inside a write of Qt Remote Objects, which goes on after it: what the connection holds goes
        // now, without a signal; its close is told once that write is over.
        const QSignalBlocker silent(peer->socket);
        abortSocket(peer->socket);
        QMetaObject::invokeMethod(
            this,
            [this, id, reason] {
                const QPointer<RemoteListener> alive(this);
                Q_EMIT peerRejected(reason);
                if (alive && d->find(id) != nullptr)
                    closed(id);
            },
            Qt::QueuedConnection);
        return;
    }
    const bool reading = peer->reading; // pump() closes it once it left its reader
    const QPointer<QIODevice> socket = peer->socket;
    Q_EMIT peerRejected(reason); // (a slot destroys this listener only with deleteLater())
    if (!reading && socket)
        abortSocket(socket);
}

bool RemoteListener::rejectCurrentPeer(const QString &reason)
{
    const CurrentPeer &current = t_current;
    if (!current.listener || !current.pipe)
        return false;
    current.listener->drop(current.id, reason);
    return true;
}

bool RemoteListener::isCurrentPeerRejected()
{
    return t_current.pipe && t_current.pipe->refused();
}

quint64 RemoteListener::currentConnection()
{
    return t_current.pipe ? t_current.id : 0;
}

} // namespace rio
