// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/remote/detail/remote_bridge.h>
#include <registryio/remote/remote_share_base.h>

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
        : m_base(host, name, options, detail::RemoteBridge<E>::deliver(registry, [this] { return &m_base; }))
    {
        if (m_base.isShared())
            detail::RemoteBridge<E>::forward(registry, &m_base);
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
