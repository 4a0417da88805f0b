// SPDX-License-Identifier: MIT
#pragma once

#include <QByteArray>
#include <QObject>

#include <functional>

namespace rio::detail {

/// What Qt Remote Objects remotes under a share's name: its meta-object is the whole API a peer
/// sees there, and nothing else of this process is reachable through it.
class RemoteSource : public QObject
{
    Q_OBJECT

public:
    RemoteSource(std::function<void(const QByteArray &)> onPost,
                 std::function<void(const QByteArray &)> onSubscribe,
                 std::function<void(quint64)> onUnsubscribe, std::function<void(quint64)> onTook,
                 QObject *parent = nullptr)
        : QObject(parent), m_onPost(std::move(onPost)), m_onSubscribe(std::move(onSubscribe)),
          m_onUnsubscribe(std::move(onUnsubscribe)), m_onTook(std::move(onTook))
    { }

public Q_SLOTS:
    /// Events a subscriber notified (a post frame, see remote_codec_p.h).
    void post(const QByteArray &frame) { m_onPost(frame); }
    /// A subscriber wants its events on the channel `<name>#<key in hex>`, the key of this secret
    /// (remoteKeyOf()), which is never published: a peer that knows a channel's name cannot claim it.
    void subscribe(const QByteArray &secret) { m_onSubscribe(secret); }
    /// The subscriber with this key goes.
    void unsubscribe(quint64 key) { m_onUnsubscribe(key); }
    /// The subscriber's side read this many bytes of its connection (RemoteListener::noteReceived()).
    void took(quint64 bytes) { m_onTook(bytes); }

private:
    std::function<void(const QByteArray &)> m_onPost;
    std::function<void(const QByteArray &)> m_onSubscribe;
    std::function<void(quint64)> m_onUnsubscribe;
    std::function<void(quint64)> m_onTook;
};

/// One subscriber's channel, remoted under `<name>#<key in hex>` once it subscribed: the frames of
/// its backlog, sent once the subscriber acquired it (ready()).
class RemoteChannel : public QObject
{
    Q_OBJECT

public:
    explicit RemoteChannel(std::function<void()> onReady, QObject *parent = nullptr)
        : QObject(parent), m_onReady(std::move(onReady))
    { }

Q_SIGNALS:
    /// One event frame (see remote_codec_p.h) for this subscriber.
    void delivered(const QByteArray &frame);

public Q_SLOTS:
    /// The subscriber acquired this channel: what waits for it may go.
    void ready() { m_onReady(); }

private:
    std::function<void()> m_onReady;
};

} // namespace rio::detail
