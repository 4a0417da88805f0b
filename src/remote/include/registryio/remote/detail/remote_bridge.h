// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/qt/qt_registry.h>
#include <registryio/remote/detail/remote_outbox.h>
#include <registryio/remote/remote_codec.h>

#include <QPointer>
#include <QVariant>

#include <functional>
#include <limits>
#include <span>
#include <type_traits>

namespace rio::detail {

/// Whether `bytes`, a QVariant's QDataStream, read back as one (QDataStream writes a QObject
/// pointer it cannot read without an error); warns, naming the type, when not.
RIO_REMOTE_EXPORT bool remoteVariantReadsBack(const QVariant &event, const QByteArray &bytes);

/// The one bridge between a registry and its side of the wire (`Side`: the RemoteShareBase of a
/// RemoteShare<E>, the RemoteSubscriber of a RemoteRegistry<E> or of QML's RemoteRegistry).
template <RemoteEvent E>
struct RemoteBridge
{
    /// The Deliver of the side `side()` returns (the side is made with it): a frame's events, all
    /// decoded first, each notified on `registry` as from its origin; a handler may destroy the side.
    template <class SideOf>
    static auto deliver(QtRegistry<E> &registry, SideOf side)
    {
        return [&registry, side](std::span<const RemoteFrameEvent> events,
                                 const std::function<void()> &accepted) {
            const QPointer<std::remove_pointer_t<decltype(side())>> alive = side();
            const auto box = alive->outbox();
            return deliverRemoteEvents<E>(events, accepted, [&](const E &event, quint64 origin) {
                {
                    const RemoteInboundScope inbound(*box, origin);
                    registry.notify(event);
                }
                return !alive.isNull();
            });
        };
    }

    /// Sends the events notified on `registry` on `side`'s wire: a handler first in priority order
    /// on the notifying thread, removed with the side (its context).
    template <class Side>
    static void forward(QtRegistry<E> &registry, Side *side)
    {
        registry.add(side,
                     [box = side->outbox()](const E &event) {
                         const auto origin = remoteOutboxWants(*box);
                         if (!origin)
                             return;
                         QByteArray bytes = encodeRemoteEvent(event);
                         if constexpr (std::is_same_v<E, QVariant>) {
                             if (!remoteVariantReadsBack(event, bytes))
                                 return;
                         }
                         remoteOutboxPush(*box, *origin, std::move(bytes));
                     },
                     {.priority = std::numeric_limits<int>::max(), .connection = Qt::DirectConnection});
    }
};

} // namespace rio::detail
