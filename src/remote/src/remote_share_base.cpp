// SPDX-License-Identifier: MIT
#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_share_base.h>

#include "remote_outbox_p.h"
#include "remote_source_p.h"

#include <registryio/remote/remote_codec.h>

#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QPointer>
#include <QRemoteObjectHost>
#include <QTimer>

#include <algorithm>
#include <mutex>
#include <utility>

namespace rio {

namespace {

// The most subscriptions one connection may hold at once (a peer that asks for more is dropped).
constexpr int MaxSubscriptionsPerConnection = 256;

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
    // Drops not yet logged, per subscriber, and when the last line went.
    std::vector<std::pair<quint64, quint64>> unlogged;
    qint64 lastLog = -1;
    QTimer *logTimer = nullptr;
    QElapsedTimer clock;
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
    d->clock.start();
    d->logTimer = new QTimer(this);
    d->logTimer->setSingleShot(true);
    connect(d->logTimer, &QTimer::timeout, this, &RemoteShareBase::logDrops);
    d->source = new detail::RemoteSource([this](const QByteArray &frame) { onPost(frame); },
                                         [this](quint64 key) { onSubscribe(key); },
                                         [this](quint64 key) { onUnsubscribe(key); }, this);
    if (!host || name.isEmpty()) {
        qWarning("rio::RemoteShare: %s", !host ? "no host" : "empty name");
        return;
    }
    if (host->thread() != thread())
        qWarning("rio::RemoteShare \"%s\": the host lives on another thread; create the share there",
                 qPrintable(name));
    d->listener = RemoteListener::of(qobject_cast<QRemoteObjectHost *>(host));
    if (!host->enableRemoting(d->source, name)) {
        qWarning("rio::RemoteShare \"%s\": the host refused the name (already shared?)", qPrintable(name));
        return;
    }
    d->shared = true;
    d->box->connected.store(true, std::memory_order_release);
    d->box->attach(this, [this] { pump(); });
    d->box->attachReport([this] { report(); });
    if (options.delivery == Delivery::Every)
        d->box->attachFanoutDirect(
            [this](quint64 connection) { return !d->listener || d->listener->isIdle(connection); },
            [this](detail::RemoteBacklog &backlog, detail::RemoteOutgoing &item) {
                send(backlog, {&item, 1});
            });
    if (d->listener) {
        connect(d->listener, &RemoteListener::drained, this, [this] { d->box->schedule(); });
        connect(d->listener, &RemoteListener::connectionClosed, this, [this](quint64 connection) {
            for (const auto &backlog : d->box->backlogs()) {
                if (backlog->connection == connection)
                    removeSubscriber(backlog);
            }
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
    // Senders blocked for room wake first, then nothing more is sent.
    d->box->close();
    const auto backlogs = d->box->backlogs();
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

void RemoteShareBase::onSubscribe(quint64 key)
{
    if (!d->shared || !d->host)
        return;
    if (RemoteListener::isCurrentPeerRejected())
        return;
    const quint64 connection = RemoteListener::currentConnection();
    int onConnection = 0;
    for (const auto &backlog : d->box->backlogs()) {
        if (backlog->key == key)
            removeSubscriber(backlog); // the same subscriber again (a new connection): starts over
        else if (connection != 0 && backlog->connection == connection)
            ++onConnection;
    }
    if (key == 0 || onConnection >= MaxSubscriptionsPerConnection) {
        reject(key == 0 ? QStringLiteral("a subscription without a key")
                        : QStringLiteral("more than %1 subscriptions").arg(MaxSubscriptionsPerConnection));
        return;
    }
    auto backlog = std::make_shared<detail::RemoteBacklog>();
    backlog->id = d->nextSubscriber++;
    backlog->key = key;
    backlog->connection = connection;
    if (d->listener && connection != 0)
        backlog->peer = d->listener->peerName(connection);
    auto *channel = new detail::RemoteChannel(
        [this, weak = std::weak_ptr<detail::RemoteBacklog>(backlog)] {
            if (const auto backlog = weak.lock())
                d->box->setReady(backlog);
        },
        this);
    backlog->channel = channel;
    // In the backlog from now on (the retained event first), sent once the subscriber acquired
    // its channel.
    d->box->addBacklog(backlog);
    if (!d->host->enableRemoting(channel, channelName(d->name, key))) {
        qCWarning(lcRegistryIORemote(), "rio::RemoteShare \"%s\": the host refused a subscriber's channel",
                  qPrintable(d->name));
        d->box->removeBacklog(backlog);
        delete channel;
        return;
    }
    Q_EMIT subscriberCountChanged(subscriberCount());
}

void RemoteShareBase::onUnsubscribe(quint64 key)
{
    for (const auto &backlog : d->box->backlogs()) {
        if (backlog->key == key)
            removeSubscriber(backlog);
    }
}

void RemoteShareBase::removeSubscriber(const std::shared_ptr<detail::RemoteBacklog> &backlog)
{
    d->box->removeBacklog(backlog);
    if (QObject *channel = std::exchange(backlog->channel, nullptr)) {
        if (d->host)
            d->host->disableRemoting(channel);
        channel->deleteLater(); // its slot may be running
    }
    Q_EMIT subscriberCountChanged(subscriberCount());
}

void RemoteShareBase::report()
{
    const auto drops = d->box->takeUnreported();
    if (drops.empty())
        return;
    for (const auto &[backlog, count] : drops) {
        const auto it = std::find_if(d->unlogged.begin(), d->unlogged.end(),
                                     [id = backlog->id](const auto &entry) { return entry.first == id; });
        if (it == d->unlogged.end())
            d->unlogged.emplace_back(backlog->id, count);
        else
            it->second += count;
    }
    const qint64 now = d->clock.elapsed();
    if (d->lastLog < 0 || now - d->lastLog >= 1000)
        logDrops();
    else if (!d->logTimer->isActive())
        d->logTimer->start(int(1000 - (now - d->lastLog)));
    const QPointer<RemoteShareBase> self = this;
    for (const auto &[backlog, count] : drops) {
        Q_EMIT eventsDropped(backlog->id, count);
        if (!self)
            return; // a slot destroyed the share
    }
}

void RemoteShareBase::logDrops()
{
    d->lastLog = d->clock.elapsed();
    for (const auto &[id, count] : d->unlogged) {
        const char *why = d->options.overflow == Overflow::Block ? "full for blockTimeout" : "full";
        qCWarning(lcRegistryIORemote(),
                  "rio::RemoteShare \"%s\": %llu events dropped for subscriber %llu (its backlog of %llu was "
                  "%s); it sees them as gaps",
                  qPrintable(d->name), static_cast<unsigned long long>(count),
                  static_cast<unsigned long long>(id), static_cast<unsigned long long>(d->options.capacity),
                  why);
    }
    d->unlogged.clear();
}

void RemoteShareBase::pump()
{
    // Each subscriber's backlog goes out in frames of up to RemoteFrameMaxEvents events (one
    // signal emission of its channel each), a few frames per turn and only while its own
    // connection has room: a full connection waits for drained(), the others go on.
    bool more = false;
    for (const auto &backlog : d->box->backlogs()) {
        for (int frame = 0; frame < detail::RemoteFramesPerTurn; ++frame) {
            if (d->listener && !d->listener->hasRoom(backlog->connection))
                break; // drained() schedules again
            auto items = d->box->take(*backlog, detail::RemoteFrameMaxEvents, detail::RemoteFrameBatchBytes);
            if (items.empty())
                break;
            send(*backlog, items);
            if (frame + 1 == detail::RemoteFramesPerTurn)
                more = true;
        }
    }
    if (more)
        d->box->schedule();
}

void RemoteShareBase::send(detail::RemoteBacklog &backlog, std::span<detail::RemoteOutgoing> items)
{
    auto *channel = static_cast<detail::RemoteChannel *>(backlog.channel);
    if (!channel)
        return;
    const quint8 flags = d->options.delivery == Delivery::Latest ? detail::RemoteFrameLatest : 0;
    d->sent.fetch_add(items.size(), std::memory_order_relaxed);
    if (items.size() == 1) {
        const detail::RemoteFrameEvent event{items[0].sequence, items[0].origin, items[0].payload};
        Q_EMIT channel->delivered(detail::encodeRemoteFrame(d->instance, flags, {&event, 1}));
        return;
    }
    std::vector<detail::RemoteFrameEvent> events;
    events.reserve(items.size());
    for (const detail::RemoteOutgoing &item : items)
        events.push_back({item.sequence, item.origin, item.payload});
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
    // Every check passes before the first event is delivered: a bad frame changes nothing.
    for (const detail::RemoteFrameEvent &event : *post) {
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
    const QString reason =
        QStringLiteral("rio::RemoteShare \"%1\": a peer sent %2; its connection is dropped")
            .arg(d->name, what);
    if (!RemoteListener::rejectCurrentPeer(reason))
        qWarning("%s (not a rio::RemoteListener connection: only the event is dropped)", qPrintable(reason));
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
    return d->box->dropped.load(std::memory_order_relaxed);
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
        out.append({backlog->id, backlog->connection, backlog->peer, backlog->sent, backlog->dropped,
                    backlog->size(), backlog->ready});
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
