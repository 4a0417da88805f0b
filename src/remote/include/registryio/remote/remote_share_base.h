// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/remote/remote_codec.h>
#include <registryio/remote/remote_export.h>
#include <registryio/remote/remote_share_options.h>

#include <QByteArrayView>
#include <QObject>
#include <QString>

#include <functional>
#include <memory>
#include <span>

QT_BEGIN_NAMESPACE
class QRemoteObjectHostBase;
QT_END_NAMESPACE

namespace rio {

namespace detail {
struct RemoteBacklog;
struct RemoteOutbox;
struct RemoteOutgoing;
} // namespace detail

/// One subscriber of a share, as its source sees it (RemoteShareBase::subscribers()).
struct RemoteSubscriberInfo
{
    /// The share's number for it: 1, 2, 3... in order of subscription, never reused by the share.
    quint64 id = 0;
    /// The listener's connection that last subscribed with its secret (0: none; a takeover moves it).
    quint64 connection = 0;
    /// Who is at the other end ("127.0.0.1:50312", "local:orders"; empty without a listener).
    QString peer;
    /// Events sent to it so far.
    quint64 sent = 0;
    /// Events dropped for it so far (a full backlog, the backlog budget): it sees them as gaps.
    quint64 dropped = 0;
    /// Events waiting in its backlog now.
    std::size_t pending = 0;
    /// Its connection acquired its channel: events flow to it (until then, they wait in its backlog).
    bool receiving = false;
    /// Bytes its backlog holds as the backlog budget counts them (each event's bytes and 48).
    qint64 bytes = 0;
};

/// The type-erased half of RemoteShare<E>: the remoted source object on the host's thread, the
/// sending side's flow control, and the checks on what peers post.
class RIO_REMOTE_EXPORT RemoteShareBase : public QObject
{
    Q_OBJECT
    /// The name subscribers acquire.
    Q_PROPERTY(QString name READ name CONSTANT)

public:
    /// Delivers the events of one posted frame into the shared registry, each as from its
    /// origin, all or none: false, with none delivered, when one is not an event (the peer is
    /// then disconnected). Runs `accepted` once all decoded, before the first is delivered.
    using Deliver = std::function<bool(std::span<const detail::RemoteFrameEvent> events,
                                       const std::function<void()> &accepted)>;

    /// Shares under `name` on `host` (which must live on the calling thread). Check isShared().
    RemoteShareBase(QRemoteObjectHostBase *host, const QString &name, RemoteShareOptions options,
                    Deliver deliver, QObject *parent = nullptr);
    /// Stops sharing; subscribers see the source go.
    ~RemoteShareBase() override;

    /// Whether the host accepted the name (false: empty or already used).
    [[nodiscard]] bool isShared() const noexcept;
    /// The shared name.
    [[nodiscard]] QString name() const;
    /// Events dropped on the sending side since the share was created, once per subscriber
    /// whose backlog was full (the subscribers gone included).
    [[nodiscard]] quint64 droppedCount() const noexcept;
    /// Events sent so far, once per subscriber they were sent to (coalesced ones not counted).
    [[nodiscard]] quint64 sentCount() const noexcept;
    /// Events waiting for the wire now in the fullest subscriber's backlog (at most `capacity`).
    [[nodiscard]] std::size_t pendingCount() const noexcept;
    /// The subscribers now, oldest first, each with its own counters (call on the share's thread).
    [[nodiscard]] QList<RemoteSubscriberInfo> subscribers() const;
    /// How many subscribers there are now.
    [[nodiscard]] int subscriberCount() const;

    /// The outbox the typed forwarding handler pushes into.
    [[nodiscard]] std::shared_ptr<detail::RemoteOutbox> outbox() const noexcept;

Q_SIGNALS:
    /// `count` events were dropped for subscriber `subscriber` since the last emission (a full
    /// backlog, Block timed out, the backlog budget), also counted in droppedCount() and warned about
    /// (the facade's drop warning, once a second per share). Emitted on the share's thread.
    void eventsDropped(quint64 subscriber, quint64 count);
    /// A subscriber came or went.
    void subscriberCountChanged(int count);

private:
    void pump();
    void send(detail::RemoteBacklog &backlog, std::span<detail::RemoteOutgoing> items);
    void onPost(const QByteArray &frame);
    void onSubscribe(const QByteArray &secret);
    void onUnsubscribe(quint64 key);
    [[nodiscard]] bool mayControl(const detail::RemoteBacklog &backlog, quint64 connection) const;
    void removeSubscriber(const std::shared_ptr<detail::RemoteBacklog> &backlog);
    void takeOver(const std::shared_ptr<detail::RemoteBacklog> &backlog, quint64 connection);
    [[nodiscard]] int unreadyOn(quint64 connection) const;
    void checkUnready();
    void holdPoster();
    void releasePosters();
    void checkRoom();
    void report();
    void reject(const QString &what);

    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace rio
