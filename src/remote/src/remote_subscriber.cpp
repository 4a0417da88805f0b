// SPDX-License-Identifier: MIT
#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_subscriber.h>

#include "remote_codec_p.h"
#include "remote_outbox_p.h"
#include "remote_transport_p.h"

#include <QLoggingCategory>
#include <QMetaMethod>
#include <QMetaProperty>
#include <QPointer>
#include <QRemoteObjectDynamicReplica>
#include <QRemoteObjectNode>

#include <algorithm>
#include <vector>

namespace rio {

namespace {

// Subscriber to source: at most this many events wait for the wire (the oldest drop beyond it).
constexpr std::size_t SubscriberCapacity = 65536;

// Finds the connectToSource() link its replicas' packets arrive on while the node reads them: what
// the link read goes to the source (took()) while bytes arrive, so that it sees a slow reader
// read; once per link, through the first of its subscribers whose share takes it.
template <class Private>
void watchLink(QObject *self, Private &d)
{
    detail::ClientLink *link = detail::t_clientLink;
    if (link == nullptr || link == d.link || link->parent() == nullptr || link->parent()->parent() != d.node)
        return;
    QObject::disconnect(d.claims);
    d.link = link;
    d.claims = QObject::connect(link, &detail::ClientLink::progressed, self, [&d, link](quint64 bytes) {
        if (link->told != bytes && d.took.isValid() && d.replica->state() == QRemoteObjectReplica::Valid &&
            d.took.invoke(d.replica.get(), Qt::DirectConnection, Q_ARG(qulonglong, bytes)))
            link->told = bytes;
    });
}

} // namespace

struct RemoteSubscriber::Private
{
    QPointer<QRemoteObjectNode> node;
    QString name;
    Deliver deliver;
    std::shared_ptr<detail::RemoteOutbox> box;
    QByteArray secret; // proves this subscriber's key (box->key) to the share; never published
    std::unique_ptr<QRemoteObjectDynamicReplica> replica; // the share: post, subscribe
    std::unique_ptr<QRemoteObjectDynamicReplica> channel; // this subscriber's own events
    QMetaMethod post;
    QMetaMethod subscribe;
    QMetaMethod unsubscribe;
    QMetaMethod ready;
    QMetaMethod took; // invalid: a source that does not take claims
    QPointer<detail::ClientLink> link;
    QMetaObject::Connection claims; // link's progress, told to the share
    bool subscribed = false;        // since the share's replica last became valid
    State state = State::Disconnected;
    bool everConnected = false;
    quint64 lastInstance = 0;
    quint64 lastSequence = 0;
    std::atomic<quint64> droppedBySource{0};
    std::atomic<quint64> malformed{0};
};

RemoteSubscriber::RemoteSubscriber(QRemoteObjectNode *node, const QString &name, Deliver deliver,
                                   QObject *parent)
    : QObject(parent), d(std::make_unique<Private>())
{
    d->node = node;
    d->name = name;
    d->deliver = std::move(deliver);
    d->secret = detail::randomRemoteSecret();
    d->box = std::make_shared<detail::RemoteOutbox>(detail::remoteKeyOf(d->secret), Delivery::Every,
                                                    SubscriberCapacity);
    if (!node || name.isEmpty()) {
        qCWarning(lcRegistryIORemote(), "rio::RemoteRegistry: %s", !node ? "no node" : "empty name");
        return;
    }
    if (node->thread() != thread())
        qCWarning(lcRegistryIORemote(),
                  "rio::RemoteRegistry \"%s\": the node lives on another thread; create the registry there",
                  qPrintable(name));
    d->replica.reset(node->acquireDynamic(name));
    // The share remotes this subscriber's channel once subscribed, and sends its backlog there.
    d->channel.reset(node->acquireDynamic(name + QLatin1Char('#') + QString::number(d->box->key, 16)));
    if (!d->replica || !d->channel)
        return;
    const auto notAShare = [this] {
        qCWarning(lcRegistryIORemote(), "rio::RemoteRegistry \"%s\": the source is not a rio::RemoteShare",
                  qPrintable(d->name));
    };
    // A dynamic replica has its meta-object once the source's definition arrived.
    connect(d->replica.get(), &QRemoteObjectReplica::initialized, this, [this, notAShare] {
        const QMetaObject *meta = d->replica->metaObject();
        const int post = meta->indexOfSlot("post(QByteArray)");
        const int subscribe = meta->indexOfSlot("subscribe(QByteArray)");
        const int unsubscribe = meta->indexOfSlot(QMetaObject::normalizedSignature("unsubscribe(quint64)"));
        if (post < 0 || subscribe < 0 || unsubscribe < 0)
            return notAShare();
        d->post = meta->method(post);
        d->subscribe = meta->method(subscribe);
        d->unsubscribe = meta->method(unsubscribe);
        d->took = meta->method(meta->indexOfSlot(QMetaObject::normalizedSignature("took(quint64)")));
        update();
    });
    connect(d->channel.get(), &QRemoteObjectReplica::initialized, this, [this, notAShare] {
        const QMetaObject *meta = d->channel->metaObject();
        const int signal = meta->indexOfSignal("delivered(QByteArray)");
        const int ready = meta->indexOfSlot("ready()");
        if (signal < 0 || ready < 0)
            return notAShare();
        d->ready = meta->method(ready);
        watchLink(this, *d);
        const QMetaMethod receiver = metaObject()->method(metaObject()->indexOfSlot("onEvent(QByteArray)"));
        connect(d->channel.get(), meta->method(signal), this, receiver, Qt::UniqueConnection);
        update();
    });
    // A node destroyed first leaves its replicas as they were: this subscriber is disconnected.
    connect(node, &QObject::destroyed, this, [this] { update(); });
    connect(d->replica.get(), &QRemoteObjectReplica::stateChanged, this, [this] { update(); });
    connect(d->channel.get(), &QRemoteObjectReplica::stateChanged, this, [this] { update(); });
    d->box->attach(this, [this] { pump(); });
    update();
}

RemoteSubscriber::~RemoteSubscriber()
{
    d->box->detach();
    d->box->connected.store(false, std::memory_order_release);
    // The share forgets this subscriber now rather than when the connection closes.
    if (d->node && d->replica && d->replica->state() == QRemoteObjectReplica::Valid &&
        d->unsubscribe.isValid())
        d->unsubscribe.invoke(d->replica.get(), Qt::DirectConnection, Q_ARG(qulonglong, d->box->key));
}

void RemoteSubscriber::update()
{
    if (!d->node) { // gone for good
        d->subscribed = false;
        setState(State::Disconnected);
        return;
    }
    const QRemoteObjectReplica::State shareState = d->replica->state();
    const bool shareValid = shareState == QRemoteObjectReplica::Valid && d->post.isValid();
    if (!shareValid) {
        d->subscribed = false;
    } else if (!d->subscribed) { // once per (re)connection
        d->subscribed = true;
        d->subscribe.invoke(d->replica.get(), Qt::DirectConnection, Q_ARG(QByteArray, d->secret));
    }
    const bool channelValid = d->channel->state() == QRemoteObjectReplica::Valid && d->ready.isValid();
    if (shareValid && channelValid) {
        if (d->state != State::Connected) { // the channel is acquired: what waits for it may go
            d->ready.invoke(d->channel.get(), Qt::DirectConnection);
            d->everConnected = true;
        }
        setState(State::Connected);
    } else if (shareState == QRemoteObjectReplica::SignatureMismatch ||
               d->channel->state() == QRemoteObjectReplica::SignatureMismatch) {
        qCWarning(lcRegistryIORemote(), "rio::RemoteRegistry \"%s\": the source's protocol does not match",
                  qPrintable(d->name));
        setState(State::Disconnected);
    } else {
        setState(d->everConnected ? State::Reconnecting : State::Disconnected);
    }
}

void RemoteSubscriber::setState(State state)
{
    const bool connected = state == State::Connected;
    d->box->connected.store(connected, std::memory_order_release);
    if (!connected) // what waited for the wire is not sent to a later connection either
        d->box->droppedDisconnected.fetch_add(d->box->discard(), std::memory_order_relaxed);
    else
        d->box->schedule();
    if (state == d->state)
        return;
    d->state = state;
    Q_EMIT stateChanged(state);
}

void RemoteSubscriber::pump()
{
    std::vector<detail::RemoteFrameEvent> events;
    for (int frame = 0; frame < detail::RemoteFramesPerTurn; ++frame) {
        if (d->state != State::Connected || !d->replica) {
            d->box->droppedDisconnected.fetch_add(d->box->discard(), std::memory_order_relaxed);
            return;
        }
        auto items = d->box->take(detail::RemoteFrameMaxEvents, detail::RemoteFrameBatchBytes);
        if (items.empty())
            return;
        events.clear();
        for (const auto &item : items)
            events.push_back({0, item.origin, item.payload});
        d->post.invoke(d->replica.get(), Qt::DirectConnection,
                       Q_ARG(QByteArray, detail::encodeRemotePost(events)));
    }
    d->box->schedule();
}

void RemoteSubscriber::onEvent(const QByteArray &bytes)
{
    watchLink(this, *d);
    auto frame = detail::decodeRemoteFrame(bytes);
    if (!frame) {
        d->malformed.fetch_add(1, std::memory_order_relaxed);
        qCWarning(lcRegistryIORemote(),
                  "rio::RemoteRegistry \"%s\": the source sent a malformed frame of %lld bytes; ignored",
                  qPrintable(d->name), qlonglong(bytes.size()));
        return;
    }
    const bool coalesced = frame->flags & detail::RemoteFrameLatest;
    // An event of this source at or before the last sequence seen ran here already (the retained
    // event sent again on a reconnection): it is skipped and moves nothing.
    const bool sameSource = frame->sourceInstance == d->lastInstance;
    const quint64 seen = d->lastSequence;
    const auto isNew = [sameSource, seen](const detail::RemoteFrameEvent &event) {
        return !sameSource || event.sequence > seen;
    };
    const auto accepted = [this, &frame, coalesced, &isNew] {
        // Only a frame whose every event decoded moves the sequence on.
        for (const detail::RemoteFrameEvent &event : frame->events) {
            if (!isNew(event))
                continue;
            if (frame->sourceInstance != d->lastInstance)
                d->lastInstance = frame->sourceInstance; // a new source: a new sequence
            else if (event.sequence > d->lastSequence + 1 && !coalesced)
                d->droppedBySource.fetch_add(event.sequence - d->lastSequence - 1, std::memory_order_relaxed);
            d->lastSequence = event.sequence;
        }
    };
    // Our own events were delivered here when they were notified: they only move the sequence.
    std::span<const detail::RemoteFrameEvent> events = frame->events;
    std::vector<detail::RemoteFrameEvent> others;
    if (std::any_of(events.begin(), events.end(),
                    [key = d->box->key, &isNew](const auto &e) { return e.origin == key || !isNew(e); })) {
        for (const auto &event : frame->events) {
            if (event.origin != d->box->key && isNew(event))
                others.push_back(event);
        }
        events = others;
    }
    if (events.empty()) {
        accepted();
        return;
    }
    if (!d->deliver(events, accepted)) {
        d->malformed.fetch_add(1, std::memory_order_relaxed);
        qCWarning(
            lcRegistryIORemote(),
            "rio::RemoteRegistry \"%s\": the source sent a frame of %lld events, one of them bytes that are "
            "not one event; ignored",
            qPrintable(d->name), qlonglong(frame->events.size()));
    }
}

RemoteSubscriber::State RemoteSubscriber::state() const noexcept
{
    return d->state;
}

QString RemoteSubscriber::name() const
{
    return d->name;
}

quint64 RemoteSubscriber::droppedWhileDisconnected() const noexcept
{
    return d->box->droppedDisconnected.load(std::memory_order_relaxed);
}

quint64 RemoteSubscriber::droppedUnsent() const noexcept
{
    return d->box->droppedCount();
}

quint64 RemoteSubscriber::droppedBySource() const noexcept
{
    return d->droppedBySource.load(std::memory_order_relaxed);
}

quint64 RemoteSubscriber::malformedCount() const noexcept
{
    return d->malformed.load(std::memory_order_relaxed);
}

std::shared_ptr<detail::RemoteOutbox> RemoteSubscriber::outbox() const noexcept
{
    return d->box;
}

} // namespace rio
