// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/remote/remote_codec.h>
#include <registryio/remote/remote_export.h>

#include <QByteArrayView>
#include <QObject>
#include <QString>

#include <functional>
#include <memory>
#include <span>

QT_BEGIN_NAMESPACE
class QRemoteObjectNode;
QT_END_NAMESPACE

namespace rio {

namespace detail {
struct RemoteOutbox;
}

/// The type-erased half of RemoteRegistry<E>: the dynamic replica of a shared registry, its
/// connection state, and the counters of what did not cross the wire.
class RIO_REMOTE_EXPORT RemoteSubscriber : public QObject
{
    Q_OBJECT
    /// Connected, Disconnected or Reconnecting.
    Q_PROPERTY(State state READ state NOTIFY stateChanged)
    /// The shared name this subscribes to.
    Q_PROPERTY(QString name READ name CONSTANT)

public:
    /// The connection to the sharing process.
    enum class State {
        /// Not connected yet, the source is incompatible (a different protocol), or the node is gone.
        Disconnected,
        /// Events flow both ways.
        Connected,
        /// The source went away; Qt Remote Objects retries, and the subscription resumes by itself.
        Reconnecting,
    };
    Q_ENUM(State)

    /// Delivers the events of one frame from the source into the local registry, each as from
    /// its origin, all or none: false, with none delivered, when one is not an event. Runs
    /// `accepted` once all decoded, before the first is delivered.
    using Deliver = std::function<bool(std::span<const detail::RemoteFrameEvent> events,
                                       const std::function<void()> &accepted)>;

    /// Subscribes to `name` through `node` (which must live on the calling thread).
    RemoteSubscriber(QRemoteObjectNode *node, const QString &name, Deliver deliver,
                     QObject *parent = nullptr);
    /// Unsubscribes.
    ~RemoteSubscriber() override;

    /// The connection state.
    [[nodiscard]] State state() const noexcept;
    /// The shared name.
    [[nodiscard]] QString name() const;
    /// Events notified here while not connected: not sent, counted.
    [[nodiscard]] quint64 droppedWhileDisconnected() const noexcept;
    /// Events notified here that found 65536 of this side's events still waiting for the wire
    /// (the oldest waiting one is dropped for each).
    [[nodiscard]] quint64 droppedUnsent() const noexcept;
    /// Gaps in the source's sequence: events it dropped for lack of room on the wire, and those
    /// notified while this subscriber was away from a source that kept running.
    [[nodiscard]] quint64 droppedBySource() const noexcept;
    /// Frames from the source that were not events (ignored, warned about).
    [[nodiscard]] quint64 malformedCount() const noexcept;

    /// The outbox the typed forwarding handler pushes into.
    [[nodiscard]] std::shared_ptr<detail::RemoteOutbox> outbox() const noexcept;

Q_SIGNALS:
    /// The connection state changed.
    void stateChanged(rio::RemoteSubscriber::State state);

private Q_SLOTS:
    void onEvent(const QByteArray &frame);

private: // NOLINT(readability-redundant-access-specifiers): ends moc's slot section
    void update();
    void pump();
    void setState(State state);

    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace rio
