// SPDX-License-Identifier: MIT
#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_share_base.h>

#include "remote_outbox_p.h"
#include "remote_source_p.h"

#include <registryio/remote/remote_codec.h>

#include <QLoggingCategory>
#include <QPointer>
#include <QRemoteObjectHost>

namespace rio {

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
    bool shared = false;
};

RemoteShareBase::RemoteShareBase(QRemoteObjectHostBase *host, const QString &name, RemoteShareOptions options,
                                 Deliver deliver, QObject *parent)
    : QObject(parent), d(std::make_unique<Private>())
{
    d->host = host;
    d->name = name;
    d->options = options;
    d->deliver = std::move(deliver);
    d->box = std::make_shared<detail::RemoteOutbox>(false, options.delivery, options.capacity);
    d->source = new detail::RemoteSource([this](const QByteArray &frame) { onPost(frame); }, this);
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
    if (options.delivery == Delivery::Every)
        d->box->attachDirect([this] { return !d->listener || d->listener->isIdle(); },
                             [this](detail::RemoteOutgoing &item) {
                                 send({&item, 1});
                                 d->sent.fetch_add(1, std::memory_order_relaxed);
                             });
    if (d->listener)
        connect(d->listener, &RemoteListener::drained, this, [this] { d->box->schedule(); });
}

RemoteShareBase::~RemoteShareBase()
{
    d->box->detach();
    if (d->shared && d->host)
        d->host->disableRemoting(d->source);
}

void RemoteShareBase::pump()
{
    // Everything waiting goes out in frames of up to RemoteFrameMaxEvents events (one signal
    // emission each), a few frames per turn: other work of this thread (reading sockets, its
    // own handlers) gets its turn.
    for (int frame = 0; frame < detail::RemoteFramesPerTurn; ++frame) {
        if (d->listener && !d->listener->hasRoom())
            return; // drained() schedules again
        auto items = d->box->take(detail::RemoteFrameMaxEvents, detail::RemoteFrameBatchBytes);
        if (items.empty())
            return;
        send(items);
        d->sent.fetch_add(items.size(), std::memory_order_relaxed);
    }
    d->box->schedule();
}

void RemoteShareBase::send(std::span<detail::RemoteOutgoing> items)
{
    const quint8 flags = d->options.delivery == Delivery::Latest ? detail::RemoteFrameLatest : 0;
    const detail::RemoteOutgoing &newest = items.back();
    const detail::RemoteFrameEvent last{newest.sequence, newest.origin, newest.payload};
    if (items.size() == 1) {
        const QByteArray frame = detail::encodeRemoteFrame(d->instance, flags, {&last, 1});
        if (d->options.retainLatest)
            d->source->setRetained(frame); // shared, not copied
        Q_EMIT d->source->delivered(frame);
        return;
    }
    std::vector<detail::RemoteFrameEvent> events;
    events.reserve(items.size());
    for (const detail::RemoteOutgoing &item : items)
        events.push_back({item.sequence, item.origin, item.payload});
    if (d->options.retainLatest)
        d->source->setRetained(detail::encodeRemoteFrame(d->instance, flags, {&last, 1}));
    Q_EMIT d->source->delivered(detail::encodeRemoteFrame(d->instance, flags, events));
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
    return d->box->pending.load(std::memory_order_relaxed);
}

std::shared_ptr<detail::RemoteOutbox> RemoteShareBase::outbox() const noexcept
{
    return d->box;
}

} // namespace rio
