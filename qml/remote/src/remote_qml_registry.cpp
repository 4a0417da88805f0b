// SPDX-License-Identifier: MIT
#include <registryio/remote/detail/remote_outbox.h>
#include <registryio/remote/remote_codec.h>
#include <registryio/remote/remote_connect.h>
#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_qml_registry.h>

#include <QDataStream>
#include <QLoggingCategory>
#include <QPointer>

#include <limits>
#include <optional>

namespace rio {

namespace {

// `event` as QDataStream bytes, or nothing when they do not read back as a QVariant: the source
// would take them for malformed input and drop the connection. QDataStream writes some types it
// cannot read (a QObject pointer, also inside a map or list) without an error, so the bytes are
// read back once.
std::optional<QByteArray> encodeVariant(const QVariant &event)
{
    QByteArray bytes;
    QDataStream stream(&bytes, QIODevice::WriteOnly);
    stream.setVersion(detail::RemoteStreamVersion);
    stream << event;
    QVariant check;
    if (stream.status() != QDataStream::Ok || !detail::decodeRemoteEvent(bytes, check))
        return std::nullopt;
    return bytes;
}

} // namespace

RemoteQmlRegistry::RemoteQmlRegistry(QObject *parent) : QmlRegistry(parent)
{
    // `name` (QmlRegistry's) is the shared name: a new one subscribes anew.
    connect(this, &QmlRegistry::nameChanged, this, &RemoteQmlRegistry::resubscribe);
}

RemoteQmlRegistry::~RemoteQmlRegistry()
{
    m_link.reset(); // its forwarding handler goes with it
    m_ownNode.reset();
}

void RemoteQmlRegistry::classBegin()
{
    m_complete = false;
}

void RemoteQmlRegistry::componentComplete()
{
    m_complete = true;
    resubscribe();
}

void RemoteQmlRegistry::setNode(QRemoteObjectNode *node)
{
    if (m_node == node)
        return;
    m_node = node;
    Q_EMIT nodeChanged();
    resubscribe();
}

void RemoteQmlRegistry::setUrl(const QUrl &url)
{
    if (m_url == url)
        return;
    m_url = url;
    Q_EMIT urlChanged();
    resubscribe();
}

RemoteQmlRegistry::State RemoteQmlRegistry::state() const noexcept
{
    return m_link ? State(int(m_link->state())) : Disconnected;
}

void RemoteQmlRegistry::resubscribe()
{
    if (!m_complete)
        return;
    const State before = state();
    m_link.reset(); // removes the forwarding handler (its context)
    m_ownNode.reset();
    QRemoteObjectNode *node = m_node;
    if (!node && m_url.isValid() && !m_url.isEmpty() && !name().isEmpty()) {
        m_ownNode = std::make_unique<QRemoteObjectNode>();
        if (!connectToSource(m_ownNode.get(), m_url))
            qCWarning(lcRegistryIORemote(), "RemoteRegistry: cannot connect to %s",
                      qPrintable(m_url.toString()));
        node = m_ownNode.get();
    }
    if (node && !name().isEmpty()) {
        QtRegistry<QVariant> &facade = registry();
        m_link = std::make_unique<RemoteSubscriber>(
            node, name(),
            [this](std::span<const detail::RemoteFrameEvent> events, const std::function<void()> &accepted) {
                // A handler may replace the link (a new name or node) or destroy this object: the
                // rest of the frame then goes to neither.
                const QPointer<RemoteSubscriber> link = m_link.get();
                return detail::deliverRemoteEvents<QVariant>(
                    events, accepted, [this, &link](const QVariant &event, quint64 origin) {
                        {
                            const detail::RemoteInboundScope inbound(*link->outbox(), origin);
                            registry().notify(event);
                        }
                        return !link.isNull();
                    });
            });
        connect(m_link.get(), &RemoteSubscriber::stateChanged, this, &RemoteQmlRegistry::stateChanged);
        // First in priority order, on the notifying thread; it goes with the link (its context).
        facade.add(m_link.get(),
                   [box = m_link->outbox()](const QVariant &event) {
                       const auto origin = detail::remoteOutboxWants(*box);
                       if (!origin)
                           return;
                       if (auto bytes = encodeVariant(event)) {
                           detail::remoteOutboxPush(*box, *origin, std::move(*bytes));
                       } else {
                           qCWarning(
                               lcRegistryIORemote(),
                               "RemoteRegistry: an event of type %s cannot cross processes (QDataStream "
                               "cannot write and read it back); it was not sent",
                               event.metaType().name() ? event.metaType().name() : "(none)");
                       }
                   },
                   {.priority = std::numeric_limits<int>::max(), .connection = Qt::DirectConnection});
    }
    if (state() != before)
        Q_EMIT stateChanged();
}

} // namespace rio
