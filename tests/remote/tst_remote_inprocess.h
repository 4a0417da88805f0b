// SPDX-License-Identifier: MIT
// Both ends of a share in the test's process, and a TCP relay between them that stands for a
// stalled peer (hold), a slow but steady link (throttle), a peer killed or a broken link (cut), a
// half-open link (orphan) and a peer that comes back (accept): what the tests of delivery through
// such links share.
#pragma once

#include "tst_remote_common.h"

#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace {

constexpr qint64 RelayedBase = 1000000; // the sequence numbers a subscriber sends start above it

// A TCP relay to a source: each connection a subscriber makes to it is one to the source. hold()
// stops reading both sides (what the source writes waits in its socket, then in the kernel: a
// stalled subscriber), throttle() passes what the source sends a few bytes per tick of a timer
// (a subscriber that reads steadily through a slow link), cut() closes every connection (a
// subscriber killed, a link broken) and refuses new ones until accept().
class Relay : public QObject
{
public:
    explicit Relay(quint16 sourcePort) : m_sourcePort(sourcePort)
    {
        connect(&m_server, &QTcpServer::newConnection, this, &Relay::onConnection);
        m_server.listen(QHostAddress::LocalHost);
        connect(&m_pace, &QTimer::timeout, this, [this] {
            for (const auto &link : m_links)
                pump(*link, true);
        });
    }
    ~Relay() override
    {
        cut();
        for (const auto &socket : m_orphans)
            socket->abort();
    }
    Relay(const Relay &) = delete;
    Relay &operator=(const Relay &) = delete;

    [[nodiscard]] QString address() const
    {
        return QStringLiteral("tcp://127.0.0.1:%1").arg(m_server.serverPort());
    }
    void hold() { m_held = true; }
    void release()
    {
        m_held = false;
        for (const auto &link : m_links)
            pump(*link);
    }
    void cut()
    {
        m_refusing = true;
        for (const auto &link : m_links) {
            link->down->abort();
            link->up->abort();
        }
        m_links.clear();
    }
    void accept() { m_refusing = false; }
    // At most `bytes` of what the source sends pass to each subscriber per tick (10 ms unless
    // `every` says otherwise; a loaded machine has fewer ticks); 0: all of it at once.
    void throttle(qint64 bytes, std::chrono::milliseconds every = Tick)
    {
        m_perTick = bytes;
        m_pace.setInterval(every);
        if (bytes > 0) {
            m_pace.start();
        } else {
            m_pace.stop();
            for (const auto &link : m_links)
                pump(*link);
        }
    }
    // The bytes the source sent that reached its subscribers.
    [[nodiscard]] qint64 passed() const { return m_passed; }
    // Closes the subscribers' side only: the source's side stays open and is no longer read, as
    // when a link breaks without the source hearing of it (a half-open TCP connection).
    void orphan()
    {
        for (const auto &link : m_links) {
            link->down->disconnect(this);
            link->up->disconnect(this);
            link->down->abort();
            m_orphans.push_back(std::move(link->up));
        }
        m_links.clear();
    }

private:
    struct Link
    {
        std::unique_ptr<QTcpSocket> down; // to the subscriber
        std::unique_ptr<QTcpSocket> up;   // to the source
    };

    void onConnection()
    {
        while (QTcpSocket *socket = m_server.nextPendingConnection()) {
            std::unique_ptr<QTcpSocket> down(socket);
            down->setParent(nullptr);
            if (m_refusing) {
                down->abort();
                continue;
            }
            auto link = std::make_unique<Link>(Link{std::move(down), std::make_unique<QTcpSocket>()});
            Link *raw = link.get();
            // Small read buffers: a held relay stops reading the kernel soon, so the source's
            // socket fills as a stalled subscriber's would.
            raw->down->setReadBufferSize(64 * 1024);
            raw->up->setReadBufferSize(64 * 1024);
            for (QTcpSocket *side : {raw->down.get(), raw->up.get()}) {
                connect(side, &QTcpSocket::readyRead, this, [this, raw] { pump(*raw); });
                connect(side, &QTcpSocket::disconnected, this, [raw] {
                    raw->down->disconnectFromHost();
                    raw->up->disconnectFromHost();
                });
            }
            connect(raw->up.get(), &QTcpSocket::connected, this, [this, raw] { pump(*raw); });
            raw->up->connectToHost(QHostAddress::LocalHost, m_sourcePort);
            m_links.push_back(std::move(link));
        }
    }
    // `tick`: the pace's timer ticked (a throttled link passes what the source sent only then).
    void pump(Link &link, bool tick = false)
    {
        if (m_held || link.up->state() != QAbstractSocket::ConnectedState)
            return;
        if (link.down->bytesAvailable() > 0)
            link.up->write(link.down->readAll());
        if (link.up->bytesAvailable() > 0 && link.down->state() == QAbstractSocket::ConnectedState &&
            (m_perTick == 0 || tick)) {
            const QByteArray bytes = m_perTick > 0 ? link.up->read(m_perTick) : link.up->readAll();
            m_passed += bytes.size();
            link.down->write(bytes);
        }
    }

    static constexpr std::chrono::milliseconds Tick{10};
    QTcpServer m_server;
    QTimer m_pace;
    quint16 m_sourcePort;
    bool m_held = false;
    bool m_refusing = false;
    qint64 m_perTick = 0;
    qint64 m_passed = 0;
    std::vector<std::unique_ptr<Link>> m_links;
    std::vector<std::unique_ptr<QTcpSocket>> m_orphans;
};

struct Source
{
    std::unique_ptr<QRemoteObjectHost> host = std::make_unique<QRemoteObjectHost>();
    QPointer<rio::RemoteListener> listener;
    rio::QtRegistry<Payload> registry;
    std::unique_ptr<rio::RemoteShare<Payload>> share;
    std::atomic<qint64> relayed{0}; // events from subscribers that reached the source's registry

    explicit Source(rio::RemoteShareOptions options, rio::RemoteListener::Options limits = {})
        : listener(new rio::RemoteListener(host.get(), limits))
    {
        registry.add([this](const Payload &p) {
            if (p.seq > RelayedBase)
                relayed.fetch_add(1);
        });
        if (listener->listen(QUrl(QStringLiteral("tcp://127.0.0.1:0"))))
            share = std::make_unique<rio::RemoteShare<Payload>>(host.get(), QStringLiteral("orders"),
                                                                registry, options);
    }
    [[nodiscard]] QString address() const { return listener->address().toString(); }
    [[nodiscard]] quint16 port() const { return quint16(listener->address().port()); }
    // Every subscriber known to the share has acquired its channel, and there are `count`.
    [[nodiscard]] bool receiving(int count) const
    {
        const QList<rio::RemoteSubscriberInfo> all = share->base()->subscribers();
        return all.size() == count &&
               std::all_of(all.begin(), all.end(), [](const auto &info) { return info.receiving; });
    }
    // The subscriber that came through `connection` (a default entry when there is none).
    [[nodiscard]] rio::RemoteSubscriberInfo on(quint64 connection) const
    {
        for (const rio::RemoteSubscriberInfo &info : share->base()->subscribers()) {
            if (info.connection == connection)
                return info;
        }
        return {};
    }
    // The connection of the subscriber that subscribed last.
    [[nodiscard]] quint64 newest() const
    {
        quint64 connection = 0;
        for (const rio::RemoteSubscriberInfo &info : share->base()->subscribers())
            connection = std::max(connection, info.connection);
        return connection;
    }
};

// A subscriber of share `name` on this thread: the events it received, in arrival order.
struct Subscriber
{
    QObject context; // of the handler: outlives the node
    std::unique_ptr<QRemoteObjectNode> node = std::make_unique<QRemoteObjectNode>();
    std::unique_ptr<rio::RemoteRegistry<Payload>> registry;
    QList<qint64> received;

    explicit Subscriber(const QString &address, const QString &name = QStringLiteral("orders"))
    {
        rio::connectToSource(node.get(), QUrl(address));
        registry = std::make_unique<rio::RemoteRegistry<Payload>>(node.get(), name);
        registry->add(&context, [this](const Payload &p) { received.append(p.seq); },
                      {.connection = Qt::DirectConnection});
    }
    [[nodiscard]] bool has(qint64 seq) const { return received.contains(seq); }
    [[nodiscard]] quint64 droppedBySource() const { return registry->link()->droppedBySource(); }
    // The events of one sender (the worker's below RelayedBase, a subscriber's above), in arrival order.
    [[nodiscard]] QList<qint64> from(bool relayed) const
    {
        QList<qint64> out;
        for (const qint64 seq : received) {
            if ((seq > RelayedBase) == relayed)
                out.append(seq);
        }
        return out;
    }
};

inline QList<qint64> range(qint64 first, qint64 last)
{
    QList<qint64> out;
    for (qint64 seq = first; seq <= last; ++seq)
        out.append(seq);
    return out;
}

inline bool strictlyIncreasing(const QList<qint64> &seqs)
{
    return std::adjacent_find(seqs.begin(), seqs.end(), std::greater_equal<>()) == seqs.end();
}

// A worker thread that notifies `registry` with events first..last of `bytes` bytes, each after
// `before(seq)` returned (which may pace it or sample what the source holds), bounded by the count
// (a Block wait in it ends at the latest when the share goes, which the owner of the worker makes
// sure of before join()).
class Worker
{
public:
    Worker(rio::QtRegistry<Payload> &registry, qint64 first, qint64 last, int bytes,
           std::function<void(qint64)> before = {})
        : m_thread([this, &registry, first, last, bytes, before = std::move(before)] {
              const QByteArray blob(bytes, 'w');
              for (qint64 seq = first; seq <= last; ++seq) {
                  if (before)
                      before(seq);
                  registry.notify(Payload{seq, blob});
                  m_notified.store(seq - first + 1);
              }
              m_done.store(true);
          })
    { }
    ~Worker() { join(); }
    Worker(const Worker &) = delete;
    Worker &operator=(const Worker &) = delete;
    void join()
    {
        if (m_thread.joinable())
            m_thread.join();
    }
    [[nodiscard]] bool done() const { return m_done.load(); }
    [[nodiscard]] qint64 notified() const { return m_notified.load(); }

private:
    std::atomic<qint64> m_notified{0};
    std::atomic<bool> m_done{false};
    std::thread m_thread;
};

} // namespace
