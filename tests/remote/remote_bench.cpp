// SPDX-License-Identifier: MIT
// Measures RegistryIO::Remote against its two peers in one run, in one process over local
// sockets (both ends share one event loop, the same for every peer):
//   rio      RemoteShare<Payload> -> RemoteRegistry<Payload>
//   qtro     a plain Qt Remote Objects dynamic replica of a QObject with one signal carrying the
//            same QDataStream bytes
//   socket   a hand-written QLocalSocket + QDataStream pipe (length-prefixed frames)
// For each: throughput of every-event delivery (events/s) and the p50/p99 latency of single
// events (notify to handler, one at a time). Not a test: run it by hand.
//   rio_remote_bench [events] [samples]
#include "remote_payload.h"

#include <registryio/qt/qt_registry.h>
#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_registry.h>
#include <registryio/remote/remote_share.h>

#include <QCoreApplication>
#include <QDataStream>
#include <QElapsedTimer>
#include <QLocalServer>
#include <QLocalSocket>
#include <QRemoteObjectDynamicReplica>
#include <QRemoteObjectHost>
#include <QRemoteObjectNode>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <vector>

namespace {

// One peer: send(seq) makes the other end's handler call onReceive(seq) later.
struct Channel
{
    std::function<void(qint64)> send;
    std::function<void(qint64)> onReceive;
};

bool spin(const std::function<bool()> &done, int timeoutMs = 60000)
{
    QElapsedTimer t;
    t.start();
    while (!done()) {
        if (t.elapsed() > timeoutMs)
            return false;
        QCoreApplication::processEvents(QEventLoop::AllEvents);
    }
    return true;
}

void measure(const char *name, Channel &channel, qint64 events, int samples)
{
    qint64 last = 0;
    qint64 received = 0;
    channel.onReceive = [&](qint64 seq) {
        last = seq;
        ++received;
    };
    // Throughput: every event, sent in one burst.
    QElapsedTimer timer;
    timer.start();
    for (qint64 seq = 1; seq <= events; ++seq)
        channel.send(seq);
    const bool ok = spin([&] { return last == events; });
    const double seconds = double(timer.nsecsElapsed()) / 1e9;
    const qint64 got = received;
    // Latency: one event at a time.
    std::vector<double> micros;
    micros.reserve(size_t(samples));
    for (int i = 0; i < samples; ++i) {
        const qint64 seq = events + 1 + i;
        timer.restart();
        channel.send(seq);
        if (!spin([&] { return last == seq; }))
            break;
        micros.push_back(double(timer.nsecsElapsed()) / 1e3);
    }
    std::sort(micros.begin(), micros.end());
    const auto pct = [&](double p) {
        return micros.empty() ? 0.0 : micros[size_t(p * double(micros.size() - 1))];
    };
    std::printf(
        "%-7s %s throughput %10.0f events/s (%lld of %lld received)  latency p50 %7.1f us  p99 %7.1f us\n",
        name, ok ? "ok  " : "FAIL", double(got) / seconds, qlonglong(got), qlonglong(events), pct(0.5),
        pct(0.99));
    std::fflush(stdout);
}

QByteArray encode(qint64 seq, const QByteArray &blob)
{
    return rio::detail::encodeRemoteEvent(Payload{seq, blob});
}

} // namespace

// The plain Qt Remote Objects peer: one signal with the event's bytes.
class PlainSource : public QObject
{
    Q_OBJECT
Q_SIGNALS:
    void event(const QByteArray &bytes);
};

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const qint64 events = argc > 1 ? QByteArray(argv[1]).toLongLong() : 50000;
    const int samples = argc > 2 ? QByteArray(argv[2]).toInt() : 2000;
    const QByteArray blob(64, 'x');
    const QString tag = QString::number(QCoreApplication::applicationPid());

    { // RegistryIO::Remote
        QRemoteObjectHost host;
        rio::RemoteListener listener(&host);
        if (!listener.listen(QUrl(QStringLiteral("local:rio-bench-rio-") + tag)))
            return 1;
        rio::QtRegistry<Payload> source;
        rio::RemoteShareOptions options;
        options.capacity = size_t(events) + size_t(samples);
        rio::RemoteShare<Payload> share(&host, QStringLiteral("bench"), source, options);
        QRemoteObjectNode node;
        node.connectToNode(listener.address());
        rio::RemoteRegistry<Payload> subscriber(&node, QStringLiteral("bench"));
        Channel channel;
        subscriber.add(&app, [&](const Payload &p) { channel.onReceive(p.seq); });
        if (!spin([&] { return subscriber.state() == rio::RemoteSubscriber::State::Connected; }))
            return 1;
        channel.send = [&](qint64 seq) { source.notify(Payload{seq, blob}); };
        measure("rio", channel, events, samples);
    }
    { // plain Qt Remote Objects, dynamic replica
        QRemoteObjectHost host(QUrl(QStringLiteral("local:rio-bench-qtro-") + tag));
        PlainSource plain;
        host.enableRemoting(&plain, QStringLiteral("bench"));
        QRemoteObjectNode node;
        node.connectToNode(host.hostUrl());
        std::unique_ptr<QRemoteObjectDynamicReplica> replica(node.acquireDynamic(QStringLiteral("bench")));
        if (!replica->waitForSource(10000))
            return 1;
        Channel channel;
        QObject receiver;
        const int signal = replica->metaObject()->indexOfSignal("event(QByteArray)");
        // A string-based connection is the only kind a dynamic replica offers.
        struct Sink : QObject
        {
            Channel *channel = nullptr;
            int qt_metacall(QMetaObject::Call call, int id, void **args) override
            {
                id = QObject::qt_metacall(call, id, args);
                if (id == 0 && call == QMetaObject::InvokeMetaMethod) {
                    Payload p;
                    rio::detail::decodeRemoteEvent(*static_cast<const QByteArray *>(args[1]), p);
                    channel->onReceive(p.seq);
                    return -1;
                }
                return id;
            }
        } sink;
        sink.channel = &channel;
        QMetaObject::connect(replica.get(), signal, &sink, QObject::staticMetaObject.methodCount());
        channel.send = [&](qint64 seq) { Q_EMIT plain.event(encode(seq, blob)); };
        measure("qtro", channel, events, samples);
    }
    { // QLocalSocket + QDataStream
        QLocalServer server;
        const QString name = QStringLiteral("rio-bench-socket-") + tag;
        QLocalServer::removeServer(name);
        if (!server.listen(name))
            return 1;
        QLocalSocket client;
        client.connectToServer(name);
        if (!server.waitForNewConnection(10000))
            return 1;
        QLocalSocket *writer = server.nextPendingConnection();
        Channel channel;
        QDataStream in(&client);
        QObject::connect(&client, &QLocalSocket::readyRead, &app, [&] {
            for (;;) {
                in.startTransaction();
                QByteArray bytes;
                in >> bytes;
                if (!in.commitTransaction())
                    return;
                Payload p;
                rio::detail::decodeRemoteEvent(bytes, p);
                channel.onReceive(p.seq);
            }
        });
        QDataStream out(writer);
        channel.send = [&](qint64 seq) { out << encode(seq, blob); };
        measure("socket", channel, events, samples);
    }
    return 0;
}

#include "remote_bench.moc"
