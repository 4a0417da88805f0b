// SPDX-License-Identifier: MIT
#pragma once

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
struct RemoteOutbox;
struct RemoteOutgoing;
} // namespace detail

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
    /// Events dropped on the sending side because `capacity` were waiting for the wire.
    [[nodiscard]] quint64 droppedCount() const noexcept;
    /// Events sent to subscribers so far (coalesced ones not counted).
    [[nodiscard]] quint64 sentCount() const noexcept;
    /// Events waiting for the wire now.
    [[nodiscard]] std::size_t pendingCount() const noexcept;

    /// The outbox the typed forwarding handler pushes into.
    [[nodiscard]] std::shared_ptr<detail::RemoteOutbox> outbox() const noexcept;

private:
    void pump();
    void send(std::span<detail::RemoteOutgoing> items);
    void onPost(const QByteArray &frame);
    void reject(const QString &what);

    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace rio
