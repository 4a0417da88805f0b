// SPDX-License-Identifier: MIT
// The other process of the cross-process tests. `source <url>` shares a registry "orders";
// `subscriber <url>` subscribes to it. For the benchmarks' reference, `qtro-source <url>` remotes
// a plain QObject with one signal carrying the same bytes on Qt Remote Objects' own server, and
// `qtro-subscriber <url>` receives it through a dynamic replica (notify and the rest as above). Commands
// arrive on stdin, one a line; every observation goes to stdout, one a line, so the test waits on output,
// never on time.
//   notify <from> <to> [bytes]   notify Payload{seq} for seq in [from, to]; prints "notified <to>"
//   notifyThread <from> <to> [bytes]  the same from another thread (a share's Block waits only
//                                there); prints "notified <to> dropped=<droppedCount() after>",
//                                or, when --notify-deadline <ms> (300000 by default) passes
//                                first, "notifyThread stopped before <seq>: deadline"
//   freeze                       prints "frozen", then blocks this process's event loop (reads
//                                nothing from its sockets) until the line "thaw" on stdin, then
//                                prints "thawed"
//   expect <seq>                 prints "reached <seq> received=<n> ms=<t>" when event <seq>
//                                arrives (n: the events received after this command was read,
//                                not before; t: since the first of them)
//   stats                        prints "stats <key>=<value>..." (rss and hwm in KiB; on a
//                                source, drops<id>= and sent<id>= per subscriber)
// A source with --sample-heap also samples its heap every millisecond on a thread of its own, so
// that stats' heapPeak sees what is held between two turns of its event loop.
// A source with --overflow newest|block and --block-timeout <ms> sets those options; it prints
// "eventsDropped <id> <count>" for each emission of that signal.
//   pace <bytes>                 (a subscriber) reads at most <bytes> of its socket per turn of its
//                                event loop, a turn taking at least 10 ms (0: at full speed), as
//                                --read-pace <bytes> does from the start; prints "paced <bytes>"
//   unshare                      destroys the share (the registry stays); prints "unshared"
//   quit                         exits 0
// TLS (url tls://...): --tls-cert/--tls-key this side's certificate and key, --tls-ca the CA
// certificate the other side must chain to (on a source: subscribers must show a certificate).
// A source with --notify-first <seq> notifies Payload{seq} and prints "notified <seq>" before its
// event loop first runs, so before it takes any connection (then "ready"): with --retain, a
// subscriber can get that event only as the retained one.
#include "remote_payload.h"

#include <registryio/qt/qt_registry.h>
#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_registry.h>
#include <registryio/remote/remote_share.h>
#include <registryio/remote/remote_tls.h>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QRemoteObjectDynamicReplica>
#include <QRemoteObjectHost>
#include <QRemoteObjectNode>
#include <QSocketNotifier>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslKey>
#include <QSslSocket>
#include <QTcpSocket>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unistd.h>
#include <vector>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <vector>

namespace {

// The bytes the allocator has handed out and not taken back, in KiB (what the process holds, not
// what the allocator keeps of what it freed); -1 where it cannot tell.
qint64 heapKiB()
{
#if defined(__GLIBC__)
    const struct mallinfo2 info = ::mallinfo2();
    return qint64((info.uordblks + info.hblkhd) / 1024);
#else
    return -1;
#endif
}

// One line, whole (worker threads say things too).
void say(const QByteArray &text)
{
    const QByteArray line = text + '\n';
    std::fwrite(line.constData(), 1, size_t(line.size()), stdout);
    std::fflush(stdout);
}

// A figure of /proc/self/status in KiB: VmRSS (resident now), VmHWM (the peak resident).
qint64 statusKiB(const QByteArray &key = "VmRSS:")
{
    QFile status(QStringLiteral("/proc/self/status"));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith(key))
            return line.mid(key.size()).trimmed().split(' ').value(0).toLongLong();
    }
    return -1;
}

const char *stateName(rio::RemoteSubscriber::State state)
{
    switch (state) {
    case rio::RemoteSubscriber::State::Connected:
        return "connected";
    case rio::RemoteSubscriber::State::Reconnecting:
        return "reconnecting";
    case rio::RemoteSubscriber::State::Disconnected:
        break;
    }
    return "disconnected";
}

QString option(const QStringList &args, const QString &name, const QString &fallback = {})
{
    const int at = args.indexOf(name);
    return at >= 0 && at + 1 < args.size() ? args.at(at + 1) : fallback;
}

QByteArray readAll(const QString &path)
{
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

// The TLS configuration the options name (an empty certificate or key stays null).
QSslConfiguration tlsConfiguration(const QStringList &args, bool isSource)
{
    QSslConfiguration configuration = QSslConfiguration::defaultConfiguration();
    const QString cert = option(args, QStringLiteral("--tls-cert"));
    const QString key = option(args, QStringLiteral("--tls-key"));
    const QString ca = option(args, QStringLiteral("--tls-ca"));
    if (!cert.isEmpty())
        configuration.setLocalCertificate(QSslCertificate(readAll(cert), QSsl::Pem));
    if (!key.isEmpty())
        configuration.setPrivateKey(QSslKey(readAll(key), QSsl::Ec, QSsl::Pem));
    if (!ca.isEmpty()) {
        configuration.setCaCertificates(QSslCertificate::fromData(readAll(ca), QSsl::Pem));
        configuration.setPeerVerifyMode(QSslSocket::VerifyPeer);
    } else if (isSource) {
        configuration.setPeerVerifyMode(QSslSocket::VerifyNone);
    }
    return configuration;
}

// Plain Qt Remote Objects: one signal with an event's bytes.
class PlainSource : public QObject
{
    Q_OBJECT
Q_SIGNALS:
    void published(const QByteArray &bytes);
};

// Receives a dynamic replica's published(QByteArray) (a string-based connection is the only kind a
// dynamic replica offers) and hands the decoded event on.
class PlainSink : public QObject
{
public:
    std::function<void(const Payload &)> onEvent;
    int qt_metacall(QMetaObject::Call call, int id, void **args) override
    {
        id = QObject::qt_metacall(call, id, args);
        if (id == 0 && call == QMetaObject::InvokeMetaMethod) {
            Payload p;
            if (rio::detail::decodeRemoteEvent(*static_cast<const QByteArray *>(args[1]), p))
                onEvent(p);
            return -1;
        }
        return id;
    }
};

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() < 3) {
        std::fprintf(stderr, "usage: rio_remote_peer source|subscriber <url> [options]\n");
        return 2;
    }
    const bool plain = args.at(1).startsWith(QLatin1String("qtro-"));
    const bool isSource = args.at(1) == QLatin1String("source") || args.at(1) == QLatin1String("qtro-source");
    const QUrl url(args.at(2));
    // --handlers 10,0,-5: local handlers at these priorities, each printing what it gets;
    // --handlers none: no local handler (a source that only shares, as the plain one does).
    const QString handlerList = option(args, QStringLiteral("--handlers"), QStringLiteral("0"));
    const QStringList priorities =
        handlerList == QLatin1String("none") ? QStringList() : handlerList.split(u',');
    const bool quiet = args.contains(QStringLiteral("--quiet"));
    // A notifyThread worker's deadline: on a Block share each notify may wait up to blockTimeout.
    const std::chrono::milliseconds notifyDeadline(
        option(args, QStringLiteral("--notify-deadline"), QStringLiteral("300000")).toLongLong());
    const bool latest = args.contains(QStringLiteral("--latest"));

    std::unique_ptr<QRemoteObjectHost> host;
    std::unique_ptr<rio::RemoteListener> listener;
    // heapKiB() at the most of its samples (each rejected connection, and each millisecond with
    // --sample-heap: a budget's drop may let go of what it held before the connection is closed).
    std::atomic<qint64> heapPeakKiB{-1};
    const auto sampleHeap = [&heapPeakKiB] {
        const qint64 now = heapKiB();
        qint64 peak = heapPeakKiB.load();
        while (now > peak && !heapPeakKiB.compare_exchange_weak(peak, now)) {
        }
    };
    std::jthread sampler; // joined before heapPeakKiB goes
    if (args.contains(QStringLiteral("--sample-heap")))
        sampler = std::jthread([&sampleHeap](const std::stop_token &stop) {
            while (!stop.stop_requested()) {
                sampleHeap();
                std::this_thread::sleep_for(std::chrono::milliseconds(1)); // a sampling period
            }
        });
    std::unique_ptr<QRemoteObjectNode> node;
    std::unique_ptr<rio::QtRegistry<Payload>> registry;
    std::unique_ptr<rio::RemoteShare<Payload>> share;
    // A notifyThread worker reads `share` after its last notify: the share is let go under this
    // mutex (and destroyed after it, which wakes a worker that waits for room).
    std::mutex shareMutex;
    const auto unshare = [&] {
        std::unique_lock lock(shareMutex);
        auto gone = std::move(share);
        lock.unlock();
    };
    rio::RemoteRegistry<Payload> *subscriber = nullptr;
    QTimer paceTurns;
    // A turn's pace, not a wait for anything: the reader reads no more than this often.
    QObject::connect(&paceTurns, &QTimer::timeout, &app,
                     [] { std::this_thread::sleep_for(std::chrono::milliseconds(10)); });
    const auto pace = [&](qint64 bytes) {
        for (auto *socket : node->findChildren<QAbstractSocket *>())
            socket->setReadBufferSize(bytes);
        if (bytes > 0)
            paceTurns.start(0);
        else
            paceTurns.stop();
    };

    PlainSource plainSource;
    PlainSink plainSink;
    std::unique_ptr<QRemoteObjectDynamicReplica> plainReplica;
    std::function<void(const Payload &)> onPlain; // set below, with the handlers
    if (plain && isSource) {
        host = std::make_unique<QRemoteObjectHost>(url);
        host->enableRemoting(&plainSource, QStringLiteral("orders"));
    } else if (plain) {
        node = std::make_unique<QRemoteObjectNode>();
        node->connectToNode(url);
        plainReplica.reset(node->acquireDynamic(QStringLiteral("orders")));
        QObject::connect(plainReplica.get(), &QRemoteObjectReplica::initialized, &app, [&] {
            const int signal = plainReplica->metaObject()->indexOfSignal("published(QByteArray)");
            QMetaObject::connect(plainReplica.get(), signal, &plainSink,
                                 QObject::staticMetaObject.methodCount());
            say("state connected");
        });
        plainSink.onEvent = [&](const Payload &p) { onPlain(p); };
    } else if (isSource) {
        host = std::make_unique<QRemoteObjectHost>();
        // --incomplete-budget <bytes>, --progress-timeout <ms>, --handshake-timeout <ms>,
        // --max-queued <bytes>: the listener's limits (defaults otherwise).
        rio::RemoteListener::Options limits;
        limits.incompleteBytesBudget =
            option(args, QStringLiteral("--incomplete-budget"), QString::number(limits.incompleteBytesBudget))
                .toLongLong();
        limits.progressTimeout =
            std::chrono::milliseconds(option(args, QStringLiteral("--progress-timeout"),
                                             QString::number(limits.progressTimeout.count()))
                                          .toLongLong());
        limits.handshakeTimeout =
            std::chrono::milliseconds(option(args, QStringLiteral("--handshake-timeout"),
                                             QString::number(limits.handshakeTimeout.count()))
                                          .toLongLong());
        limits.maxQueuedBytes =
            option(args, QStringLiteral("--max-queued"), QString::number(limits.maxQueuedBytes)).toLongLong();
        listener = std::make_unique<rio::RemoteListener>(host.get(), limits, nullptr);
        const bool tls = url.scheme() == QLatin1String(rio::RemoteTlsScheme);
        if (!(tls ? listener->listen(url, tlsConfiguration(args, true)) : listener->listen(url))) {
            say("error " + listener->errorString().toUtf8());
            return 1;
        }
        // A connection goes over a budget right after the read that passed it: what the process
        // holds is at its peak then.
        QObject::connect(listener.get(), &rio::RemoteListener::peerRejected, &app, [&] { sampleHeap(); });
        registry = std::make_unique<rio::QtRegistry<Payload>>();
        rio::RemoteShareOptions options;
        options.delivery = latest ? rio::Delivery::Latest : rio::Delivery::Every;
        options.capacity = option(args, QStringLiteral("--capacity"), QStringLiteral("65536")).toULongLong();
        options.retainLatest = args.contains(QStringLiteral("--retain"));
        const QString overflow = option(args, QStringLiteral("--overflow"));
        options.overflow = overflow == QLatin1String("block")    ? rio::Overflow::Block
                           : overflow == QLatin1String("newest") ? rio::Overflow::DropNewest
                                                                 : rio::Overflow::DropOldest;
        options.blockTimeout = std::chrono::milliseconds(
            option(args, QStringLiteral("--block-timeout"), QStringLiteral("1000")).toLongLong());
        share = std::make_unique<rio::RemoteShare<Payload>>(host.get(), QStringLiteral("orders"), *registry,
                                                            options);
        QObject::connect(
            share->base(), &rio::RemoteShareBase::eventsDropped, &app, [](quint64 subscriber, quint64 count) {
                say("eventsDropped " + QByteArray::number(subscriber) + ' ' + QByteArray::number(count));
            });
    } else {
        node = std::make_unique<QRemoteObjectNode>();
        if (url.scheme() == QLatin1String(rio::RemoteTlsScheme))
            rio::setRemoteTlsConfiguration(node.get(), tlsConfiguration(args, false));
        rio::connectToSource(node.get(), url);
        // --read-pace <bytes>: a steady slow reader of its own socket (TCP sees what it read only
        // once it reopens its window): at most <bytes> read per turn of the event loop, and a
        // turn takes at least 10 ms; the command `pace 0` reads at full speed again.
        pace(option(args, QStringLiteral("--read-pace"), QStringLiteral("0")).toLongLong());
        auto *remote = new rio::RemoteRegistry<Payload>(node.get(), QStringLiteral("orders"));
        subscriber = remote;
        registry.reset(remote);
        QObject::connect(
            remote->link(), &rio::RemoteSubscriber::stateChanged, &app,
            [](rio::RemoteSubscriber::State state) { say(QByteArray("state ") + stateName(state)); });
    }

    qint64 received = 0;
    qint64 last = 0;
    qint64 unordered = 0; // events that did not come after the one before them (with one handler)
    qint64 expected = -1; // `expect`: the event to report, and since when
    QElapsedTimer sinceExpect;
    qint64 receivedAtExpect = 0;
    const auto count = [&](const Payload &event) {
        if (expected >= 0 && !sinceExpect.isValid())
            sinceExpect.start();
        ++received;
        unordered += event.seq <= last ? 1 : 0;
        last = event.seq;
        if (event.seq == expected) {
            say("reached " + QByteArray::number(expected) +
                " received=" + QByteArray::number(received - receivedAtExpect) +
                " ms=" + QByteArray::number(sinceExpect.nsecsElapsed() / 1e6));
            expected = -1;
        }
    };
    onPlain = count;
    for (const QString &p : plain ? QStringList() : priorities) {
        const int priority = p.toInt();
        const QByteArray prefix = "event " + QByteArray::number(priority) + ' ';
        const auto handler = [&, prefix](const Payload &event) {
            count(event);
            if (!quiet)
                say(prefix + QByteArray::number(event.seq));
        };
        if (latest && !isSource)
            registry->add(&app, handler,
                          {.priority = priority,
                           .connection = Qt::QueuedConnection,
                           .delivery = rio::Delivery::Latest});
        else
            registry->add(&app, handler, {.priority = priority});
    }

    std::vector<std::thread> workers;
    QByteArray input;
    QSocketNotifier stdinNotifier(STDIN_FILENO, QSocketNotifier::Read);
    QObject::connect(&stdinNotifier, &QSocketNotifier::activated, &app, [&] {
        char buffer[4096];
        const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
        if (n <= 0) {
            app.exit(0); // the test went away
            return;
        }
        input.append(buffer, n);
        qsizetype eol;
        while ((eol = input.indexOf('\n')) >= 0) {
            const QList<QByteArray> words = input.left(eol).trimmed().split(' ');
            input.remove(0, eol + 1);
            const QByteArray &command = words.value(0);
            if (command == "notify") {
                const qint64 from = words.value(1).toLongLong();
                const qint64 to = words.value(2).toLongLong();
                const QByteArray blob(words.value(3, "0").toInt(), 'x');
                for (qint64 seq = from; seq <= to; ++seq) {
                    if (plain)
                        Q_EMIT plainSource.published(rio::detail::encodeRemoteEvent(Payload{seq, blob}));
                    else
                        registry->notify(Payload{seq, blob});
                }
                say("notified " + QByteArray::number(to));
            } else if (command == "expect") {
                expected = words.value(1).toLongLong();
                receivedAtExpect = received;
                sinceExpect.invalidate();
            } else if (command == "notifyThread" && plain) {
                say("error notifyThread: a plain Qt Remote Objects source emits on its own thread only");
            } else if (command == "notifyThread") {
                const qint64 from = words.value(1).toLongLong();
                const qint64 to = words.value(2).toLongLong();
                const QByteArray blob(words.value(3, "0").toInt(), 'x');
                // Joined at exit (the share's destruction wakes a wait): bounded by the count and,
                // between events, by the deadline (one notify on a Block share waits at most
                // blockTimeout).
                workers.emplace_back([&, from, to, blob] {
                    const auto until = std::chrono::steady_clock::now() + notifyDeadline;
                    for (qint64 seq = from; seq <= to; ++seq) {
                        if (std::chrono::steady_clock::now() >= until) {
                            say("notifyThread stopped before " + QByteArray::number(seq) + ": deadline");
                            return;
                        }
                        registry->notify(Payload{seq, blob});
                    }
                    std::unique_lock lock(shareMutex);
                    const quint64 dropped = share ? share->droppedCount() : 0;
                    lock.unlock();
                    say("notified " + QByteArray::number(to) + " dropped=" + QByteArray::number(dropped));
                });
            } else if (command == "pace" && subscriber) {
                pace(words.value(1).toLongLong());
                say("paced " + words.value(1));
            } else if (command == "freeze") {
                say("frozen");
                // Blocking reads of stdin only: the sockets are not read until "thaw".
                QByteArray line;
                char c = 0;
                while (::read(STDIN_FILENO, &c, 1) == 1) {
                    if (c != '\n') {
                        line.append(c);
                    } else if (line.trimmed() == "thaw") {
                        break;
                    } else {
                        line.clear();
                    }
                }
                say("thawed");
            } else if (command == "stats") {
                QByteArray line = "stats received=" + QByteArray::number(received) +
                                  " last=" + QByteArray::number(last) +
                                  " unordered=" + QByteArray::number(unordered) +
                                  " rss=" + QByteArray::number(statusKiB()) +
                                  " hwm=" + QByteArray::number(statusKiB("VmHWM:")) +
                                  " heap=" + QByteArray::number(heapKiB()) +
                                  " heapPeak=" + QByteArray::number(heapPeakKiB.load());
                if (listener)
                    line += " connections=" + QByteArray::number(listener->connectionCount()) +
                            " rejected=" + QByteArray::number(listener->rejectedCount()) +
                            " incomplete=" + QByteArray::number(rio::RemoteListener::incompleteBytes());
                if (share) {
                    line += " sent=" + QByteArray::number(share->base()->sentCount()) +
                            " dropped=" + QByteArray::number(share->droppedCount()) +
                            " pending=" + QByteArray::number(qulonglong(share->base()->pendingCount())) +
                            " subscribers=" + QByteArray::number(share->base()->subscriberCount());
                    for (const rio::RemoteSubscriberInfo &info : share->base()->subscribers())
                        line += " drops" + QByteArray::number(info.id) + '=' +
                                QByteArray::number(info.dropped) + " sent" + QByteArray::number(info.id) +
                                '=' + QByteArray::number(info.sent);
                }
                if (subscriber)
                    line += " droppedDisconnected=" +
                            QByteArray::number(subscriber->link()->droppedWhileDisconnected()) +
                            " droppedBySource=" + QByteArray::number(subscriber->link()->droppedBySource());
                say(line);
            } else if (command == "unshare") {
                unshare(); // a worker waiting for room wakes
                say("unshared");
            } else if (command == "quit") {
                app.exit(0);
            }
        }
    });

    if (share && args.contains(QStringLiteral("--notify-first"))) {
        const qint64 seq = option(args, QStringLiteral("--notify-first")).toLongLong();
        registry->notify(Payload{seq, {}});
        say("notified " + QByteArray::number(seq));
    }
    if (isSource)
        say("ready " + (listener ? listener->address() : url).toString().toUtf8());
    else
        say("ready");
    const int rc = app.exec();
    unshare(); // wakes a worker that waits for room
    for (std::thread &worker : workers)
        worker.join();
    registry.reset();
    return rc;
}

#include "remote_peer.moc"
