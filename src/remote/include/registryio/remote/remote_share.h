// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/qt/qt_registry.h>
#include <registryio/remote/detail/remote_outbox.h>
#include <registryio/remote/remote_codec.h>
#include <registryio/remote/remote_share_base.h>

#include <QPointer>

#include <limits>

namespace rio {

/// Shares a QtRegistry<E> under a name on a QRemoteObjectHost: its events go to every subscriber
/// (RemoteRegistry<E>), theirs are notified on it, and peers never add handlers. Create and destroy
/// it on the host's thread, before the registry dies.
template <typename E>
class RemoteShare
{
    static_assert(RemoteEvent<E>,
                  "rio::RemoteShare<E>: E crosses processes as QDataStream bytes; give it a default "
                  "constructor and QDataStream &operator<<(QDataStream &, const E &) and "
                  "QDataStream &operator>>(QDataStream &, E &)");

public:
    /// Shares `registry` as `name` on `host`; check isShared().
    RemoteShare(QRemoteObjectHostBase *host, const QString &name, QtRegistry<E> &registry,
                RemoteShareOptions options = {})
        : m_base(host, name, options,
                 [&registry, this](std::span<const detail::RemoteFrameEvent> events,
                                   const std::function<void()> &accepted) {
                     // A handler may destroy this share: the rest of the frame is then not delivered.
                     const QPointer<RemoteShareBase> base = &m_base;
                     return detail::deliverRemoteEvents<E>(
                         events, accepted, [&registry, &base](const E &event, quint64 origin) {
                             {
                                 const detail::RemoteInboundScope inbound(*base->outbox(), origin);
                                 registry.notify(event);
                             }
                             return !base.isNull();
                         });
                 })
    {
        if (!m_base.isShared())
            return;
        // First in priority order, on the notifying thread: the bytes are made once per notify,
        // and the context (the share) removes the handler when the share goes.
        registry.add(&m_base,
                     [box = m_base.outbox()](const E &event) {
                         if (const auto origin = detail::remoteOutboxWants(*box))
                             detail::remoteOutboxPush(*box, *origin, detail::encodeRemoteEvent(event));
                     },
                     {.priority = std::numeric_limits<int>::max(), .connection = Qt::DirectConnection});
    }

    RemoteShare(const RemoteShare &) = delete;
    RemoteShare &operator=(const RemoteShare &) = delete;

    /// Whether the host accepted the name.
    bool isShared() const noexcept { return m_base.isShared(); }
    /// The QObject half: name, counters.
    RemoteShareBase *base() noexcept { return &m_base; }
    /// Events dropped on the sending side (Every, more than `capacity` waiting for the wire).
    quint64 droppedCount() const noexcept { return m_base.droppedCount(); }

private:
    RemoteShareBase m_base;
};

} // namespace rio
