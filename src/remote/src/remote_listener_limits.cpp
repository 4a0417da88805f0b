// SPDX-License-Identifier: MIT
#include "remote_listener_p.h"

#include <QLocalSocket>

#include <utility>

namespace rio {

using namespace detail; // remote_listener_p.h

// Past a process budget (`total` held now): this listener's connections that hold some of it go,
// `first` first, one warning each naming it, until it holds. Dropping closes a socket, which takes
// it out of peers: not while iterating them.
template <typename First, typename Detail>
void RemoteListener::Private::shed(RemoteListener *q, qint64 total, qint64 budget, qint64 Peer::*amount,
                                   const char *what, First first, Detail detail)
{
    std::vector<const Peer *> holders;
    for (const Peer &peer : peers) {
        if (peer.socket && peer.*amount > 0 && !peer.socket->property(RejectedProperty).toBool())
            holders.push_back(&peer);
    }
    std::sort(holders.begin(), holders.end(), [&](const Peer *a, const Peer *b) { return first(*a, *b); });
    std::vector<std::pair<QPointer<QIODevice>, QString>> shed;
    for (const Peer *peer : holders) {
        if (total <= budget)
            break;
        shed.emplace_back(peer->socket,
                          QStringLiteral("rio::RemoteListener %1: this process holds %2 %3 (the "
                                         "budget is %4); %5, %6, is dropped")
                              .arg(address.toString())
                              .arg(total)
                              .arg(QLatin1String(what))
                              .arg(budget)
                              .arg(describe(*peer), detail(*peer)));
        total -= peer->*amount;
    }
    for (const auto &[socket, reason] : shed) {
        if (socket)
            q->drop(socket, reason);
    }
}

void RemoteListener::shedIncomplete(qint64 total)
{
    // The one that passed the budget is usually a peer sending a packet now, at speed; those that
    // hold bytes for long are the ones keeping it: the longest incomplete go first.
    const qint64 now = nowMs();
    d->shed(
        this, total, d->options.incompleteBytesBudget, &Private::Peer::held, "bytes of packets not yet whole",
        [](const Private::Peer &a, const Private::Peer &b) {
            return a.packetSince != b.packetSince ? a.packetSince < b.packetSince
                                                  : holdsMore(a.held, a.id, b.held, b.id);
        },
        [now](const Private::Peer &peer) {
            return QStringLiteral("whose packet has been incomplete longest (%1 bytes for %2 ms)")
                .arg(peer.held)
                .arg(now - peer.packetSince);
        });
}

void RemoteListener::checkQueued()
{
    // Per connection: a peer that does not read what it is sent.
    std::vector<std::pair<QPointer<QIODevice>, QString>> late;
    qint64 total = 0;
    for (Private::Peer &peer : d->peers) {
        if (!peer.socket || peer.socket->property(RejectedProperty).toBool())
            continue;
        const qint64 queued = queuedBytes(peer.socket);
        total =
            g_queuedBytes.fetch_add(queued - peer.queued, std::memory_order_relaxed) + queued - peer.queued;
        peer.queued = queued;
        if (queued > d->options.maxQueuedBytes)
            late.emplace_back(peer.socket,
                              QStringLiteral("rio::RemoteListener %1: %2 has %3 bytes waiting to be written "
                                             "(the limit per connection is %4): it does not read what it "
                                             "is sent; its connection is dropped")
                                  .arg(d->address.toString(), Private::describe(peer))
                                  .arg(queued)
                                  .arg(d->options.maxQueuedBytes));
    }
    for (const auto &[socket, reason] : late) {
        if (socket)
            drop(socket, reason);
    }
    if (total <= d->options.queuedBytesBudget)
        return;
    // Per process: the connections with the most waiting go first.
    d->shed(
        this, total, d->options.queuedBytesBudget, &Private::Peer::queued, "bytes waiting to be written",
        [](const Private::Peer &a, const Private::Peer &b) {
            return holdsMore(a.queued, a.id, b.queued, b.id);
        },
        [](const Private::Peer &peer) {
            return QStringLiteral("with the most (%1 bytes)").arg(peer.queued);
        });
}

bool RemoteListener::holdUnready(quint64 id)
{
    Private::Peer *peer = d->findId(id);
    if (!peer || !peer->socket || peer->socket->property(RejectedProperty).toBool())
        return false;
    ++peer->unready;
    const qint64 total = g_unready.fetch_add(1, std::memory_order_relaxed) + 1;
    if (total > UnreadyBudget) {
        d->shed(
            this, total, UnreadyBudget, &Private::Peer::unready,
            "subscriptions that did not acquire their channel",
            [](const Private::Peer &a, const Private::Peer &b) {
                return holdsMore(a.unready, a.id, b.unready, b.id);
            },
            [](const Private::Peer &p) { return QStringLiteral("with the most (%1)").arg(p.unready); });
    }
    peer = d->findId(id); // shedding may have closed it
    if (peer && peer->socket && !peer->socket->property(RejectedProperty).toBool())
        return true;
    if (peer) {
        --peer->unready;
        g_unready.fetch_sub(1, std::memory_order_relaxed);
    }
    return false;
}

void RemoteListener::releaseUnready(quint64 id)
{
    // A connection that closed took its share with it.
    Private::Peer *peer = d->findId(id);
    if (peer && peer->unready > 0) {
        --peer->unready;
        g_unready.fetch_sub(1, std::memory_order_relaxed);
    }
}

bool RemoteListener::dropConnection(quint64 id, const QString &reason)
{
    const Private::Peer *peer = d->find(id);
    if (!peer || !peer->socket)
        return false;
    if (!peer->socket->property(RejectedProperty).toBool())
        drop(peer->socket, reason);
    return true;
}

bool RemoteListener::pauseReading(quint64 id)
{
    Private::Peer *peer = d->findId(id);
    if (!peer || !peer->socket || !d->host)
        return false;
    if (peer->pauses++ > 0)
        return true;
    // Qt Remote Objects reads on its device's readyRead(), which relays the socket's: blocked,
    // it reads nothing more (our own slots on the socket still run, and see the pause).
    if (QtROIoDeviceBase *device = d->deviceOf(peer->socket)) {
        device->blockSignals(true);
        peer->device = device;
    }
    return true;
}

void RemoteListener::resumeReading(quint64 id)
{
    Private::Peer *peer = d->findId(id);
    if (!peer || peer->pauses == 0 || --peer->pauses > 0)
        return;
    if (peer->device)
        peer->device->blockSignals(false);
    peer->pendingSince = nowMs();
    // The socket stopped reading from the kernel once its buffer was full, and reading whole
    // packets out of the buffer does not start it again: setting the size does.
    if (auto *local = qobject_cast<QLocalSocket *>(peer->socket.data())) {
        const qint64 size = local->readBufferSize();
        local->setReadBufferSize(0);
        local->setReadBufferSize(size);
    } else if (auto *tcp = qobject_cast<QAbstractSocket *>(peer->socket.data())) {
        const qint64 size = tcp->readBufferSize();
        tcp->setReadBufferSize(0);
        tcp->setReadBufferSize(size);
    }
    // What arrived meanwhile is read on the next turn, as if it had just arrived.
    if (QIODevice *socket = peer->socket; socket && socket->bytesAvailable() > 0)
        QMetaObject::invokeMethod(socket, [socket] { Q_EMIT socket->readyRead(); }, Qt::QueuedConnection);
}

void RemoteListener::noteWrites()
{
    // Once per turn of the event loop, whatever the number of writes in it.
    if (!d->queuedCheck->isActive())
        d->queuedCheck->start();
}

void RemoteListener::checkDeadlines()
{
    const qint64 now = nowMs();
    std::vector<std::pair<QPointer<QIODevice>, QString>> late;
    for (const Private::Peer &peer : d->peers) {
        if (!peer.socket || peer.socket->property(RejectedProperty).toBool() || peer.pauses > 0)
            continue;
        if (!peer.handshaken && now - peer.connectedAt > d->options.handshakeTimeout.count()) {
            late.emplace_back(peer.socket,
                              QStringLiteral("rio::RemoteListener %1: %2 sent no whole packet within %3 ms "
                                             "of connecting; its connection is dropped")
                                  .arg(d->address.toString(), Private::describe(peer))
                                  .arg(d->options.handshakeTimeout.count()));
        } else if (peer.held > 0 && now - peer.pendingSince > d->options.progressTimeout.count()) {
            late.emplace_back(peer.socket,
                              QStringLiteral("rio::RemoteListener %1: %2 held %3 bytes of a packet for "
                                             "%4 ms without completing it; its connection is dropped")
                                  .arg(d->address.toString(), Private::describe(peer))
                                  .arg(peer.held)
                                  .arg(d->options.progressTimeout.count()));
        }
    }
    // Dropping closes the socket, which takes it out of d->peers: not while iterating them.
    for (const auto &[socket, reason] : late) {
        if (socket)
            drop(socket, reason);
    }
    std::vector<QPointer<QSslSocket>> unfinished;
    for (const Private::Handshake &handshake : d->handshakes) {
        if (handshake.socket && now - handshake.connectedAt > d->options.handshakeTimeout.count())
            unfinished.push_back(handshake.socket);
    }
    std::erase_if(d->handshakes, [](const Private::Handshake &h) { return !h.socket; });
    for (const QPointer<QSslSocket> &socket : unfinished) {
        if (!socket || !d->settleHandshake(socket))
            continue;
        socket->disconnect(this);
        socket->abort();
        socket->deleteLater();
        rejectHandshake(QStringLiteral("rio::RemoteListener %1: the peer at %2 did not complete the TLS "
                                       "handshake within %3 ms of connecting; its connection is dropped")
                            .arg(d->address.toString(), peerAt(socket))
                            .arg(d->options.handshakeTimeout.count()));
    }
    if (d->peers.empty() && d->handshakes.empty())
        d->deadlines->stop();
}

void RemoteListener::drop(QIODevice *socket, const QString &reason)
{
    qCWarning(lcRegistryIORemote, "%s", qPrintable(reason));
    socket->setProperty(RejectedProperty, true);
    ++d->rejected;
    Q_EMIT peerRejected(reason);
    // The connection Qt Remote Objects is reading is closed by afterRead(), once it left its reader.
    if (socket != t_current.socket)
        abortSocket(socket);
}

bool RemoteListener::rejectCurrentPeer(const QString &reason)
{
    const CurrentPeer current = t_current;
    if (!current.listener || !current.socket)
        return false;
    if (!current.socket->property(RejectedProperty).toBool())
        current.listener->drop(current.socket, reason);
    return true;
}

bool RemoteListener::isCurrentPeerRejected()
{
    return t_current.socket && t_current.socket->property(RejectedProperty).toBool();
}

quint64 RemoteListener::currentConnection()
{
    return t_current.socket ? t_current.id : 0;
}

} // namespace rio
