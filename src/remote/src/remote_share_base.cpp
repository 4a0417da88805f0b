// SPDX-License-Identifier: MIT
#include <registryio/qt/detail/drop_warning.h>
#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_share_base.h>

#include "remote_codec_p.h"
#include "remote_listener_p.h"
#include "remote_outbox_p.h"
#include "remote_source_p.h"

#include <QLoggingCategory>
#include <QPointer>
#include <QRemoteObjectHost>
#include <QTimer>
#include <QVarLengthArray>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <utility>

namespace rio {

namespace {

// What one connection may hold of one share (a peer that asks for more is dropped): subscriptions,
// and those whose channel it has not acquired, for at most ReadyTimeoutMs each.
constexpr int MaxSubscriptionsPerConnection = 256;
constexpr int MaxUnreadyPerConnection = 64;
constexpr qint64 ReadyTimeoutMs = 10000;

QString channelName(const QString &name, quint64 key)
{
    return name + QLatin1Char('#') + QString::number(key, 16);
}

} // namespace

struct RemoteShareBase::Private
{
    QPointer<QRemoteObjectHostBase> host;
    QString name;
    RemoteShareOptions options;
    Deliver deliver;
    std::shared_ptr<detail::RemoteOutbox> box;
    detail::RemoteSource *source = nullptr;
    QPointer<RemoteListener> listener;
    quint64 instance = detail::randomRemoteId();
    std::atomic<quint64> sent{0};
    quint64 nextSubscriber = 1;
    bool shared = false;
    detail::DropWarning dropWarning; // the share's: one line a second at most
    QTimer *readyTimer = nullptr;    // runs while a subscription is not ready
    // Block: connections not read (an event they posted found a backlog full), until blockTimeout.
    std::vector<quint64> held;
    QTimer *holdTimer = nullptr;
    QTimer *flushTimer = nullptr; // logs the drops the warning's rate limit left unlogged
};

RemoteShareBase::RemoteShareBase(QRemoteObjectHostBase *host, const QString &name, RemoteShareOptions options,
                                 Deliver deliver, QObject *parent)
    : QObject(parent), d(std::make_unique<Private>())
{
    d->host = host;
    d->name = name;
    d->options = options;
    d->deliver = std::move(deliver);
    d->box = std::make_shared<detail::RemoteOutbox>(options);
    d->readyTimer = new QTimer(this);
    d->readyTimer->setInterval(int(ReadyTimeoutMs / 10));
    connect(d->readyTimer, &QTimer::timeout, this, &RemoteShareBase::checkUnready);
    d->source = new detail::RemoteSource(
        [this](const QByteArray &frame) { onPost(frame); },
        [this](const QByteArray &secret) { onSubscribe(secret); },
        [this](quint64 key) { onUnsubscribe(key); },
        [this](quint64 bytes) {
            const quint64 connection = RemoteListener::currentConnection();
            if (!d->listener || connection == 0 || RemoteListener::isCurrentPeerRejected())
                return;
            if (const QString lie = d->listener->noteReceived(connection, bytes); !lie.isEmpty())
                reject(lie);
        },
        this);
    if (!host || name.isEmpty()) {
        qCWarning(lcRegistryIORemote(), "rio::RemoteShare: %s", !host ? "no host" : "empty name");
        return;
    }
    if (host->thread() != thread())
        qCWarning(lcRegistryIORemote(),
                  "rio::RemoteShare \"%s\": the host lives on another thread; create the share there",
                  qPrintable(name));
    d->listener = RemoteListener::of(qobject_cast<QRemoteObjectHost *>(host));
    if (!host->enableRemoting(d->source, name)) {
        qCWarning(lcRegistryIORemote(),
                  "rio::RemoteShare \"%s\": the host refused the name (already shared?)", qPrintable(name));
        return;
    }
    if (d->listener)
        d->listener->addSource(name, d->source);
    d->shared = true;
    d->box->connected.store(true, std::memory_order_release);
    d->box->attach(this, [this] { pump(); });
    d->box->attachReport([this] { report(); });
    d->flushTimer = new QTimer(this);
    d->flushTimer->setSingleShot(true);
    connect(d->flushTimer, &QTimer::timeout, this, [this] { // what a flood's suppressed lines said
        if (const qint64 again = d->dropWarning.flush(
                lcRegistryIORemote(), [&] { return QStringLiteral("rio::RemoteShare \"%1\"").arg(d->name); }))
            d->flushTimer->start(std::chrono::milliseconds(again));
    });
    if (d->listener && d->box->thinnable())
        detail::g_ledger.thinFirst(d->box); // past the budget, its backlogs lose events, not readers
    if (options.delivery == Delivery::Every)
        d->box->attachFanoutDirect(
            [this](quint64 connection) { return !d->listener || d->listener->isIdle(connection); },
            [this](detail::RemoteBacklog &backlog, detail::RemoteOutgoing &item) {
                send(backlog, {&item, 1});
            });
    if (d->listener && options.delivery == Delivery::Every && options.overflow == Overflow::Block &&
        options.capacity != 0) {
        d->holdTimer = new QTimer(this);
        d->holdTimer->setSingleShot(true);
        connect(d->holdTimer, &QTimer::timeout, this, [this] { // held for blockTimeout: drop until room
            d->box->setRelayDropping(true);
            releasePosters();
        });
        d->box->attachHoldPoster([this] { holdPoster(); });
    }
    if (d->listener) {
        connect(d->listener, &RemoteListener::drained, this, [this] { d->box->schedule(); });
        connect(d->listener, &RemoteListener::connectionClosed, this, [this](quint64 connection) {
            for (const auto &backlog : d->box->backlogsOn(connection))
                removeSubscriber(backlog);
        });
        // A listener closes its connections when it goes, without a connectionClosed() each.
        connect(d->listener, &QObject::destroyed, this, [this] {
            for (const auto &backlog : d->box->backlogs()) {
                if (backlog->connection != 0)
                    removeSubscriber(backlog);
            }
        });
    }
}

RemoteShareBase::~RemoteShareBase()
{
    // Senders blocked for room wake first; what the backlogs held leaves the ledger.
    d->box->close();
    const auto backlogs = d->box->backlogs();
    for (const auto &backlog : backlogs) {
        if (!backlog->acquired() && backlog->channel && d->listener)
            d->listener->releaseUnready(backlog->connection);
        d->box->removeBacklog(backlog);
    }
    d->box->account();
    d->box->detach();
    if (!d->host)
        return;
    for (const auto &backlog : backlogs) {
        if (backlog->channel)
            d->host->disableRemoting(backlog->channel);
    }
    if (d->shared)
        d->host->disableRemoting(d->source);
}

void RemoteShareBase::onSubscribe(const QByteArray &secret)
{
    if (!d->shared || !d->host)
        return;
    if (RemoteListener::isCurrentPeerRejected())
        return;
    const quint64 key = secret.size() == detail::RemoteSecretBytes ? detail::remoteKeyOf(secret) : 0;
    if (key == 0) {
        reject(QStringLiteral("a subscription with a secret of %1 bytes (not %2 random ones)")
                   .arg(secret.size())
                   .arg(detail::RemoteSecretBytes));
        return;
    }
    const quint64 connection = RemoteListener::currentConnection();
    std::shared_ptr<detail::RemoteBacklog> taken = d->box->backlogOf(key);
    if (taken && connection != 0 && taken->connection == connection)
        return; // the same subscriber again on its connection: it has its subscription already
    if (taken && mayControl(*taken, connection))
        removeSubscriber(std::exchange(taken, nullptr)); // the same subscriber again: starts over
    // A `taken` one is another live connection's: this one proved it is the subscriber (takeOver()).
    if (connection != 0 && d->box->heldBy(connection).backlogs >= MaxSubscriptionsPerConnection) {
        reject(QStringLiteral("more than %1 subscriptions").arg(MaxSubscriptionsPerConnection));
        return;
    }
    // Without a listener, every peer counts as one connection.
    if (unreadyOn(connection) >= MaxUnreadyPerConnection) {
        reject(QStringLiteral("more than %1 subscriptions that did not acquire their channel")
                   .arg(MaxUnreadyPerConnection));
        return;
    }
    // Past the process's budget the connections holding the most go (this one, if it does).
    if (d->listener && connection != 0 && !d->listener->holdUnready(connection))
        return;
    if (taken) {
        takeOver(taken, connection);
        return;
    }
    auto backlog = std::make_shared<detail::RemoteBacklog>();
    backlog->id = d->nextSubscriber++;
    backlog->key = key;
    backlog->connection = connection;
    backlog->subscribedAt = detail::nowMs();
    if (d->listener && connection != 0)
        backlog->peer = d->listener->peerName(connection);
    auto *channel = new detail::RemoteChannel(
        [this, weak = std::weak_ptr<detail::RemoteBacklog>(backlog)] {
            const auto backlog = weak.lock();
            if (!backlog || RemoteListener::isCurrentPeerRejected())
                return;
            // Judged now, not when the packet was screened: a takeover read before it moves it.
            if (!mayControl(*backlog, RemoteListener::currentConnection())) {
                reject(QStringLiteral("ready() on another connection's channel"));
                return;
            }
            if (!backlog->acquired() && d->listener)
                d->listener->releaseUnready(backlog->connection);
            d->box->setReady(backlog);
        },
        this);
    backlog->channel = channel;
    // In the backlog from now on (the retained event first), sent once its channel is acquired.
    d->box->addBacklog(backlog);
    if (!d->host->enableRemoting(channel, channelName(d->name, key))) {
        qCWarning(lcRegistryIORemote(), "rio::RemoteShare \"%s\": the host refused a subscriber's channel",
                  qPrintable(d->name));
        if (d->listener && connection != 0)
            d->listener->releaseUnready(connection);
        d->box->removeBacklog(backlog);
        delete channel;
        return;
    }
    if (d->listener)
        d->listener->addSource(channelName(d->name, key), channel, connection);
    if (!d->readyTimer->isActive())
        d->readyTimer->start();
    Q_EMIT subscriberCountChanged(subscriberCount());
}

void RemoteShareBase::takeOver(const std::shared_ptr<detail::RemoteBacklog> &backlog, quint64 connection)
{
    // Only the subscriber knows its secret: the subscription and its backlog move whole to the
    // connection that presents it, unready until it acquired the channel.
    const quint64 old = backlog->connection;
    if (!backlog->acquired() && d->listener)
        d->listener->releaseUnready(old);
    d->box->moveBacklog(backlog, connection, d->listener ? d->listener->peerName(connection) : QString());
    if (d->listener)
        d->listener->addSource(channelName(d->name, backlog->key), backlog->channel, connection);
    backlog->subscribedAt = detail::nowMs();
    if (!d->readyTimer->isActive())
        d->readyTimer->start();
    if (!d->listener)
        return;
    // The old connection can do nothing with the subscription any more: it goes.
    const QPointer<RemoteShareBase> self = this; // a peerRejected() slot may destroy the share
    d->listener->dropConnection(
        old, QStringLiteral("rio::RemoteShare \"%1\": subscriber %2 was taken over by %3 (it proved the "
                            "subscriber's secret); %4, which held it, is dropped")
                 .arg(d->name)
                 .arg(backlog->id)
                 .arg(d->listener->connectionName(connection), d->listener->connectionName(old)));
    if (self)
        d->box->account();
}

void RemoteShareBase::onUnsubscribe(quint64 key)
{
    if (RemoteListener::isCurrentPeerRejected())
        return;
    const auto backlog = d->box->backlogOf(key);
    if (!backlog)
        return;
    if (!mayControl(*backlog, RemoteListener::currentConnection()))
        reject(QStringLiteral("unsubscribe() for another connection's subscriber"));
    else
        removeSubscriber(backlog);
}

bool RemoteShareBase::mayControl(const detail::RemoteBacklog &backlog, quint64 connection) const
{
    // Without a listener (connection 0) connections are not told apart; one the listener no longer
    // knows is gone.
    return connection == 0 || backlog.connection == 0 || backlog.connection == connection || !d->listener ||
           d->listener->peerName(backlog.connection).isEmpty();
}

int RemoteShareBase::unreadyOn(quint64 connection) const
{
    return int(d->box->heldBy(connection).unready);
}

void RemoteShareBase::checkUnready()
{
    const qint64 now = detail::nowMs();
    bool waiting = false;
    std::vector<std::pair<quint64, quint64>> late; // connection, subscriber
    const auto unready = d->box->unreadyBacklogs();
    for (const auto &backlog : unready) {
        if (now - backlog->subscribedAt <= ReadyTimeoutMs)
            waiting = true;
        else if (std::none_of(late.begin(), late.end(),
                              [&](const auto &entry) { return entry.first == backlog->connection; }))
            late.emplace_back(backlog->connection, backlog->id);
    }
    if (!waiting)
        d->readyTimer->stop();
    for (const auto &[connection, id] : late) {
        const QString reason =
            QStringLiteral("rio::RemoteShare \"%1\": subscriber %2 of %3 did not acquire its "
                           "channel within %4 ms of subscribing; its connection is dropped")
                .arg(d->name)
                .arg(id)
                .arg(d->listener ? d->listener->connectionName(connection) : QStringLiteral("a peer"))
                .arg(ReadyTimeoutMs);
        if (connection != 0 && d->listener && d->listener->dropConnection(connection, reason))
            continue; // its subscriptions go with it (connectionClosed)
        // Not a listener's connection: only its subscriptions go.
        qCWarning(lcRegistryIORemote(), "%s", qPrintable(reason));
        for (const auto &backlog : unready) {
            if (!backlog->acquired() && backlog->connection == connection)
                removeSubscriber(backlog);
        }
    }
}

void RemoteShareBase::removeSubscriber(const std::shared_ptr<detail::RemoteBacklog> &backlog)
{
    if (!backlog->acquired() && backlog->channel && d->listener) // still counted as not ready
        d->listener->releaseUnready(backlog->connection);
    d->box->removeBacklog(backlog);
    if (QObject *channel = std::exchange(backlog->channel, nullptr)) {
        if (d->listener)
            d->listener->addSource(channelName(d->name, backlog->key), nullptr);
        if (d->host)
            d->host->disableRemoting(channel);
        channel->deleteLater(); // its slot may be running
    }
    checkRoom(); // the full one may have been this one
    Q_EMIT subscriberCountChanged(subscriberCount());
}

void RemoteShareBase::report()
{
    d->box->account();
    const auto drops = d->box->takeUnreported();
    const QPointer<RemoteShareBase> self = this;
    qint64 flushIn = 0;
    for (const detail::RemoteDrops &drop : drops) {
        const quint64 id = drop.backlog->id;
        flushIn = std::max(
            flushIn,
            d->dropWarning.warn(
                lcRegistryIORemote(), true, drop.count, drop.total,
                [&] {
                    return QStringLiteral("subscriber %1 of rio::RemoteShare \"%2\"").arg(id).arg(d->name);
                },
                [&] {
                    return detail::dropReasonsText(drop.byReason, drop.backlog->room(d->options.capacity));
                }));
        Q_EMIT eventsDropped(id, drop.count);
        if (!self)
            return; // a slot destroyed the share
    }
    if (flushIn != 0)
        d->flushTimer->start(std::chrono::milliseconds(flushIn));
}

void RemoteShareBase::holdPoster()
{
    const quint64 connection = RemoteListener::currentConnection();
    if (connection == 0 || !d->listener ||
        std::find(d->held.begin(), d->held.end(), connection) != d->held.end())
        return;
    if (!d->listener->pauseReading(connection))
        return;
    d->held.push_back(connection);
    if (!d->holdTimer->isActive())
        d->holdTimer->start(d->options.blockTimeout);
}

void RemoteShareBase::releasePosters()
{
    for (const quint64 connection : std::exchange(d->held, {})) {
        if (d->listener)
            d->listener->resumeReading(connection);
    }
}

void RemoteShareBase::checkRoom()
{
    // Only a held poster or relayed events dropping wait for room.
    if (!d->holdTimer || (d->held.empty() && !d->box->relayDropping()) || d->box->anyReadyFull())
        return;
    d->holdTimer->stop();
    d->box->setRelayDropping(false);
    releasePosters();
}

void RemoteShareBase::pump()
{
    // Each backlog goes out in frames (one emission of its channel each), a few per turn and only
    // while its own connection has room: a full one waits for drained(), the others go on.
    bool more = false; // a backlog sent the most a turn sends
    bool left = false; // or kept what its connection had no room for
    for (const auto &backlog : d->box->backlogs()) {
        for (int frame = 0; frame < detail::RemoteFramesPerTurn; ++frame) {
            if (d->listener && !d->listener->hasRoom(backlog->connection)) {
                left = true; // drained() schedules again
                break;
            }
            auto items = d->box->take(*backlog, detail::RemoteFrameMaxEvents, detail::RemoteFrameBatchBytes);
            if (items.empty())
                break;
            send(*backlog, items);
            if (frame + 1 == detail::RemoteFramesPerTurn)
                more = true;
        }
    }
    d->box->leave(more || left);
    if (more)
        d->box->schedule();
    d->box->account(); // what was sent, emptied backlogs' waits included, leaves the ledger now
    checkRoom();
}

void RemoteShareBase::send(detail::RemoteBacklog &backlog, std::span<detail::RemoteOutgoing> items)
{
    auto *channel = static_cast<detail::RemoteChannel *>(backlog.channel);
    if (!channel)
        return;
    const quint8 flags = d->options.delivery == Delivery::Latest ? detail::RemoteFrameLatest : 0;
    d->sent.fetch_add(items.size(), std::memory_order_relaxed);
    // Every connection that acquired the channel gets the frame: its subscriber's, and one taking
    // it over (each write checked against the listener's limits before it is queued).
    QVarLengthArray<detail::RemoteFrameEvent, 1> events; // one, the common case: no allocation
    for (const detail::RemoteOutgoing &item : items)
        events.append({item.sequence, item.origin, item.payload});
    Q_EMIT channel->delivered(detail::encodeRemoteFrame(d->instance, flags, events));
}

void RemoteShareBase::onPost(const QByteArray &frame)
{
    if (RemoteListener::isCurrentPeerRejected())
        return; // the rest of what a dropped peer sent before it was closed
    const auto post = detail::decodeRemotePost(frame);
    if (!post) {
        reject(QStringLiteral("a malformed frame of %1 bytes").arg(frame.size()));
        return;
    }
    // Every check passes before the first event is delivered. An event's origin (the subscriber it
    // runs as, which skips it) must be one of this connection's subscriptions.
    const quint64 connection = RemoteListener::currentConnection();
    for (const detail::RemoteFrameEvent &event : *post) {
        const auto origin = connection != 0 ? d->box->backlogOf(event.origin) : nullptr;
        if (connection != 0 && (!origin || origin->connection != connection)) {
            reject(QStringLiteral("an event as origin %1, which is not a subscription of its connection")
                       .arg(event.origin, 0, 16));
            return;
        }
        if (event.payload.size() > d->options.maxEventBytes) {
            reject(QStringLiteral("an event of %1 bytes (the share accepts %2)")
                       .arg(event.payload.size())
                       .arg(d->options.maxEventBytes));
            return;
        }
    }
    if (!d->deliver(*post, [] { }))
        reject(QStringLiteral("a frame of %1 events, one of them bytes that are not one event")
                   .arg(post->size()));
}

void RemoteShareBase::reject(const QString &what)
{
    const quint64 connection = RemoteListener::currentConnection();
    const QString reason = QStringLiteral("rio::RemoteShare \"%1\": %2 sent %3; its connection is dropped")
                               .arg(d->name,
                                    d->listener && connection != 0 ? d->listener->connectionName(connection)
                                                                   : QStringLiteral("a peer"),
                                    what);
    if (!RemoteListener::rejectCurrentPeer(reason))
        qCWarning(lcRegistryIORemote(),
                  "%s (not a rio::RemoteListener connection: only the event is dropped)", qPrintable(reason));
}

bool RemoteShareBase::isShared() const noexcept
{
    return d->shared;
}

QString RemoteShareBase::name() const
{
    return d->name;
}

quint64 RemoteShareBase::droppedCount() const noexcept
{
    return d->box->droppedCount();
}

quint64 RemoteShareBase::sentCount() const noexcept
{
    return d->sent.load(std::memory_order_relaxed);
}

std::size_t RemoteShareBase::pendingCount() const noexcept
{
    return d->box->mostPending();
}

QList<RemoteSubscriberInfo> RemoteShareBase::subscribers() const
{
    QList<RemoteSubscriberInfo> out;
    const auto backlogs = d->box->backlogs();
    std::lock_guard lock(d->box->mutex());
    for (const auto &backlog : backlogs)
        out.append({backlog->id, backlog->connection, backlog->peer, backlog->sent, backlog->queue.dropped(),
                    backlog->size(), backlog->acquired() && !backlog->shed, backlog->queue.bytes()});
    std::sort(out.begin(), out.end(), [](const auto &a, const auto &b) { return a.id < b.id; });
    return out;
}

int RemoteShareBase::subscriberCount() const
{
    return int(d->box->backlogCount());
}

std::shared_ptr<detail::RemoteOutbox> RemoteShareBase::outbox() const noexcept
{
    return d->box;
}

} // namespace rio
