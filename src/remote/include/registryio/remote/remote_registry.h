// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/remote/detail/remote_bridge.h>
#include <registryio/remote/remote_connect.h>
#include <registryio/remote/remote_subscriber.h>

#include <memory>

namespace rio {

/// A QtRegistry<E> that is a subscriber of a registry shared by another process (RemoteShare<E>):
/// its local handlers, with every local option, get the events notified on either side, and
/// events notified here reach the source and its other subscribers. Create, use the connection
/// state of, and destroy it on the node's thread; notify from any thread.
template <typename E>
class RemoteRegistry : public QtRegistry<E>
{
    static_assert(RemoteEvent<E>,
                  "rio::RemoteRegistry<E>: E crosses processes as QDataStream bytes; give it a "
                  "default constructor and QDataStream &operator<<(QDataStream &, const E &) and "
                  "QDataStream &operator>>(QDataStream &, E &)");

public:
    /// Subscribes to `name` through `node`; the state says when events flow. The forwarding
    /// handler counts in handlerCount(); clear() removes it too (and with it the sending of local
    /// events).
    RemoteRegistry(QRemoteObjectNode *node, const QString &name, QObject *parent = nullptr)
        : QtRegistry<E>(parent),
          m_link(std::make_unique<RemoteSubscriber>(
              node, name, detail::RemoteBridge<E>::deliver(*this, [this] { return m_link.get(); })))
    {
        detail::RemoteBridge<E>::forward(*this, m_link.get());
    }

    /// Unsubscribes before the local handlers go.
    ~RemoteRegistry() override { m_link.reset(); }

    /// The connection: state() and stateChanged(), counters.
    RemoteSubscriber *link() const noexcept { return m_link.get(); }
    /// The connection state.
    RemoteSubscriber::State state() const noexcept { return m_link->state(); }

private:
    std::unique_ptr<RemoteSubscriber> m_link;
};

} // namespace rio
