// SPDX-License-Identifier: MIT
// What the tests of RegistryIO::Remote across real processes share (rio_remote_peer, started with
// QProcess, over local: sockets, tcp://127.0.0.1 and TLS): every wait is on an observable line or
// state, with a deadline.
#pragma once

#include "remote_payload.h"

#include <registryio/qt/qt_registry.h>
#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_registry.h>
#include <registryio/remote/remote_share.h>
#include <registryio/remote/remote_tls.h>

#include "remote_codec_p.h" // the wire frames, which the tests check

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QLocalServer>
#include <QLocalSocket>
#include <QMap>
#include <QProcess>
#include <QRemoteObjectDynamicReplica>
#include <QRemoteObjectHost>
#include <QRemoteObjectNode>
#include <QSignalSpy>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslKey>
#include <QSslSocket>
#include <QStandardPaths>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>
#include <QtEndian>

#include <sys/stat.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <memory>
#include <optional>

using namespace std::chrono_literals;

// The compile-time check: an event type without QDataStream operators is refused (RemoteShare and
// RemoteRegistry static_assert on this concept with a message that says what to add).
struct NotStreamable
{
    int value = 0;
};
static_assert(!rio::RemoteEvent<NotStreamable>);
static_assert(rio::RemoteEvent<Payload>);
static_assert(rio::RemoteEvent<int>);
static_assert(rio::RemoteEvent<QString>);

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define RIO_REMOTE_SPAWN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define RIO_REMOTE_SPAWN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
constexpr bool UnderThreadSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool UnderThreadSanitizer = true;
#else
constexpr bool UnderThreadSanitizer = false;
#endif
#else
constexpr bool UnderThreadSanitizer = false;
#endif
#if defined(__SANITIZE_ADDRESS__)
#define RIO_REMOTE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RIO_REMOTE_ASAN 1
#endif
#endif
// Under AddressSanitizer a process's resident memory is no bound: its quarantine keeps up to
// 256 MiB of freed memory. The queue bounds are still checked there.
#ifdef RIO_REMOTE_ASAN
constexpr qint64 RssGrowthLimitKiB = std::numeric_limits<qint64>::max();
#else
constexpr qint64 RssGrowthLimitKiB = 64 * 1024;
#endif
#ifdef RIO_REMOTE_SPAWN
#include "remote_child.h"
// Under the sanitizers, children start with posix_spawn (see remote_child.h; AddressSanitizer
// writes to the parent's memory from a vfork child too).
using Process = ChildProcess;
#else
using Process = QProcess;
#endif

namespace {

constexpr int Deadline = 30000; // ms: the longest any single observation may take

// A pass of a listener's deadline checks at the default timeouts (a quarter of the shorter one,
// within 10 ms and 1 s).
constexpr qint64 DeadlinePassMs = 1000;
// A connection past its high-water mark whose peer has taken nothing for this long (four passes)
// does not read what it is sent, once its listener measures it (at the latest at its next pass).
constexpr qint64 StallMs = 4 * DeadlinePassMs;

// Calls `more` (which sends the connections something) until each of `connections` of `listener`
// has been past its high-water mark for StallMs and one more deadline pass (a stalled TCP peer's
// kernel buffers take more first), the event loop running between calls: its peer takes nothing,
// so its listener has found that it does not read. A wait on the clock that the property is
// defined by: each connection was measured past the mark before the wait began. False when
// Deadline passed first.
inline bool stayPastHighWater(rio::RemoteListener *listener, const QList<quint64> &connections,
                              const std::function<void()> &more)
{
    QElapsedTimer past;
    return QTest::qWaitFor(
        [&] {
            if (!std::all_of(connections.begin(), connections.end(),
                             [&](quint64 c) { return !listener->hasRoom(c); })) {
                more();
                past.invalidate();
                return false;
            }
            if (!past.isValid())
                past.start();
            return past.elapsed() > StallMs + DeadlinePassMs;
        },
        Deadline);
}

// One rio_remote_peer process: its stdout lines, its commands.
class Peer
{
public:
    // With `mergeStderr`, the peer's warnings are lines too.
    explicit Peer(const QStringList &args, bool mergeStderr = false)
    {
        m_process.setProcessChannelMode(mergeStderr ? QProcess::MergedChannels
                                                    : QProcess::ForwardedErrorChannel);
        const auto readLines = [this] {
            m_partial += m_process.readAllStandardOutput();
            qsizetype eol;
            while ((eol = m_partial.indexOf('\n')) >= 0) {
                m_lines.append(m_partial.left(eol));
                m_partial.remove(0, eol + 1);
            }
        };
#ifdef RIO_REMOTE_SPAWN
        m_process.setReadyRead(readLines);
#else
        QObject::connect(&m_process, &QProcess::readyReadStandardOutput, readLines);
#endif
        m_process.start(QStringLiteral(RIO_REMOTE_PEER), args);
    }

    ~Peer()
    {
        if (m_process.state() == QProcess::NotRunning)
            return;
        m_process.write("quit\n");
        if (!m_process.waitForFinished(10000)) {
            m_process.kill();
            m_process.waitForFinished(10000);
        }
    }

    Peer(const Peer &) = delete;
    Peer &operator=(const Peer &) = delete;

    void send(const QByteArray &command) { m_process.write(command + '\n'); }

    // The first line at or after `from` that starts with `prefix`, waiting up to the deadline.
    std::optional<QByteArray> waitLine(const QByteArray &prefix, qsizetype from = 0, int timeout = Deadline)
    {
        std::optional<QByteArray> found;
        // Asked first: an ended peer's last lines are read when it is found ended.
        (void)QTest::qWaitFor(
            [&] {
                const bool ended = m_process.state() == QProcess::NotRunning;
                for (qsizetype i = from; i < m_lines.size(); ++i) {
                    if (m_lines.at(i).startsWith(prefix)) {
                        found = m_lines.at(i);
                        return true;
                    }
                }
                return ended;
            },
            timeout);
        return found;
    }

    // Sends `stats` and returns the answer as key -> value.
    QMap<QByteArray, qint64> stats()
    {
        const qsizetype from = m_lines.size();
        send("stats");
        QMap<QByteArray, qint64> values;
        if (const auto line = waitLine("stats ", from)) {
            for (const QByteArray &pair : line->mid(6).split(' ')) {
                const auto eq = pair.indexOf('=');
                values.insert(pair.left(eq), pair.mid(eq + 1).toLongLong());
            }
        }
        return values;
    }

    // Waits until a `stats` answer satisfies `pred`.
    bool waitStats(const std::function<bool(const QMap<QByteArray, qint64> &)> &pred, int timeout = Deadline)
    {
        return QTest::qWaitFor([&] { return pred(stats()); }, timeout);
    }

    // Lines starting with `prefix`.
    QList<QByteArray> lines(const QByteArray &prefix) const
    {
        QList<QByteArray> out;
        for (const QByteArray &line : m_lines) {
            if (line.startsWith(prefix))
                out.append(line);
        }
        return out;
    }

    qsizetype lineCount() const { return m_lines.size(); }
    Process &process() { return m_process; }

private:
    Process m_process;
    QByteArray m_partial;
    QList<QByteArray> m_lines;
};

inline QString uniqueLocalUrl()
{
    static int counter = 0;
    return QStringLiteral("local:rio-remote-test-%1-%2")
        .arg(QCoreApplication::applicationPid())
        .arg(++counter);
}

// Starts a source peer on `url` and returns it with the address it listens on.
inline std::pair<std::unique_ptr<Peer>, QString>
startSource(const QString &url, const QStringList &extra = {}, bool mergeStderr = false)
{
    auto peer = std::make_unique<Peer>(QStringList{QStringLiteral("source"), url} + extra, mergeStderr);
    const auto ready = peer->waitLine("ready ");
    return {std::move(peer), ready ? QString::fromUtf8(ready->mid(6)) : QString()};
}

inline std::unique_ptr<Peer> startSubscriber(const QString &address, const QStringList &extra = {},
                                             bool mergeStderr = false)
{
    auto peer =
        std::make_unique<Peer>(QStringList{QStringLiteral("subscriber"), address} + extra, mergeStderr);
    return peer;
}

// The wire layouts, written out here rather than with the codec, so that the tests check them:
//   post  = version 2, count, count x (origin, length, payload)
//   frame = version 2, flags, instance, count, count x (sequence, origin, length, payload)
// (big-endian).
inline QByteArray be32(quint32 value)
{
    QByteArray bytes(4, Qt::Uninitialized);
    qToBigEndian(value, bytes.data());
    return bytes;
}

inline QByteArray be64(quint64 value)
{
    QByteArray bytes(8, Qt::Uninitialized);
    qToBigEndian(value, bytes.data());
    return bytes;
}

inline QByteArray payloadBytes(qint64 seq)
{
    return rio::detail::encodeRemoteEvent(Payload{seq, QByteArray("x")});
}

// Makes `node` trust the tests' CA when `address` is a tls: URL (defined below).
inline void trustTestCa(QRemoteObjectNode &node, const QString &address);

// A plain Qt Remote Objects replica of the share `name` at `address`, through `node` (what any
// process that reaches the socket can get), or null when it does not become valid in time.
inline std::unique_ptr<QRemoteObjectDynamicReplica>
rawReplica(QRemoteObjectNode &node, const QString &address, const QString &name = QStringLiteral("orders"))
{
    trustTestCa(node, address);
    if (!rio::connectToSource(&node, QUrl(address)))
        return nullptr;
    std::unique_ptr<QRemoteObjectDynamicReplica> replica(node.acquireDynamic(name));
    if (!replica->waitForSource(Deadline))
        return nullptr;
    return replica;
}

// A plain Qt Remote Objects subscription to the share "orders" at `address` with `secret`, through
// `node`: the share's replica, and this subscriber's channel once the share remoted it and was
// told it is acquired (what RemoteRegistry does, by hand).
struct RawSubscription
{
    std::unique_ptr<QRemoteObjectDynamicReplica> share;
    std::unique_ptr<QRemoteObjectDynamicReplica> channel;

    bool start(QRemoteObjectNode &node, const QString &address, const QByteArray &secret = secretFor(0x5eed))
    {
        share = rawReplica(node, address);
        if (!share)
            return false;
        channel.reset(node.acquireDynamic(QStringLiteral("orders#") + QString::number(keyOf(secret), 16)));
        const QMetaObject *meta = share->metaObject();
        const int subscribe = meta->indexOfSlot("subscribe(QByteArray)");
        if (subscribe < 0 ||
            !meta->method(subscribe).invoke(share.get(), Qt::DirectConnection, Q_ARG(QByteArray, secret)))
            return false;
        if (!channel->waitForSource(Deadline))
            return false;
        const QMetaObject *channelMeta = channel->metaObject();
        const int ready = channelMeta->indexOfSlot("ready()");
        return ready >= 0 && channelMeta->method(ready).invoke(channel.get(), Qt::DirectConnection);
    }
};

// A Qt Remote Objects packet as it travels: its size (32 bits, little-endian), then its body.
inline QByteArray roPacket(const QByteArray &body)
{
    QByteArray bytes(4, Qt::Uninitialized);
    qToLittleEndian(quint32(body.size()), bytes.data());
    return bytes + body;
}

// A whole Ping packet for `name` (the source answers Pong): what a peer past its handshake sends.
inline QByteArray roPing(const QString &name)
{
    QByteArray body;
    QDataStream stream(&body, QIODevice::WriteOnly);
    stream.setVersion(QDataStream::Qt_6_2);
    stream.setByteOrder(QDataStream::LittleEndian);
    stream << quint16(QtRemoteObjects::Ping) << name;
    return roPacket(body);
}

// An AddObject packet for `name` (dynamic: the source answers with its definition and state): a
// connection invokes only what it acquired.
inline QByteArray roAcquire(const QString &name)
{
    QByteArray body;
    QDataStream stream(&body, QIODevice::WriteOnly);
    stream.setVersion(QDataStream::Qt_6_2);
    stream.setByteOrder(QDataStream::LittleEndian);
    stream << quint16(QtRemoteObjects::AddObject) << name << quint8(1);
    return roPacket(body);
}

// An invocation packet of `name`'s method (or, with a `call` of WriteProperty, property) `index`
// with `count` arguments streamed as `arguments` (QVariants as QDataStream writes them, or
// bytes a hostile peer chose), no reply wanted.
inline QByteArray roInvoke(const QString &name, int index, quint32 count, const QByteArray &arguments,
                           QMetaObject::Call call = QMetaObject::InvokeMetaMethod)
{
    QByteArray body;
    QDataStream stream(&body, QIODevice::WriteOnly);
    stream.setVersion(QDataStream::Qt_6_2);
    stream.setByteOrder(QDataStream::LittleEndian);
    stream << quint16(QtRemoteObjects::InvokePacket) << name << qint32(call) << qint32(index) << count;
    stream.writeRawData(arguments.constData(), int(arguments.size()));
    stream << qint32(-1) << qint32(-1);
    return roPacket(body);
}

// `values` streamed as Qt Remote Objects streams arguments.
inline QByteArray roArguments(const QVariantList &values)
{
    QByteArray bytes;
    QDataStream stream(&bytes, QIODevice::WriteOnly);
    stream.setVersion(QDataStream::Qt_6_2);
    stream.setByteOrder(QDataStream::LittleEndian);
    for (const QVariant &value : values)
        stream << value;
    return bytes;
}

inline QString testCa(const QString &address);

// A raw connection to a source at `address` (local:, tcp: or tls:, trusting `ca` for tls:, by
// default the tests' CA), or null when it does not connect in time.
inline std::unique_ptr<QIODevice> rawConnection(const QString &address, QString ca = {})
{
    if (ca.isEmpty())
        ca = testCa(address);
    const QUrl url(address);
    if (url.scheme() == QLatin1String("local")) {
        auto socket = std::make_unique<QLocalSocket>();
        socket->connectToServer(url.path());
        return socket->waitForConnected(Deadline) ? std::move(socket) : nullptr;
    }
    if (url.scheme() == QLatin1String("tls")) {
        auto socket = std::make_unique<QSslSocket>();
        QSslConfiguration configuration = QSslConfiguration::defaultConfiguration();
        configuration.setCaCertificates(QSslCertificate::fromPath(ca));
        socket->setSslConfiguration(configuration);
        socket->connectToHostEncrypted(url.host(), quint16(url.port()));
        // With the event loop running: the source may be in this process.
        return QTest::qWaitFor([&] { return socket->isEncrypted(); }, Deadline) ? std::move(socket) : nullptr;
    }
    auto socket = std::make_unique<QTcpSocket>();
    socket->connectToHost(url.host(), quint16(url.port()));
    return socket->waitForConnected(Deadline) ? std::move(socket) : nullptr;
}

// The names of the channels of "orders" that `node` sees: QRemoteObjectNode::instances lists every
// object of a source to every connection (a source remoted without a type under the empty name).
inline QStringList channelsOf(QRemoteObjectNode &node)
{
    return node.instances(QStringView()).filter(QRegularExpression(QStringLiteral("^orders#")));
}

inline bool isOpen(const QIODevice *device)
{
    if (const auto *local = qobject_cast<const QLocalSocket *>(device))
        return local->state() != QLocalSocket::UnconnectedState;
    const auto *socket = qobject_cast<const QAbstractSocket *>(device);
    return socket && socket->state() != QAbstractSocket::UnconnectedState;
}

inline QByteArray postFrame(const QList<std::pair<quint64, QByteArray>> &events, quint32 count = 0)
{
    QByteArray bytes(1, char(2));
    bytes += be32(count ? count : quint32(events.size()));
    for (const auto &[origin, payload] : events)
        bytes += be64(origin) + be32(quint32(payload.size())) + payload;
    return bytes;
}

inline QByteArray broadcastFrame(quint64 instance, const QList<std::pair<quint64, QByteArray>> &events)
{
    QByteArray bytes(1, char(2));
    bytes += char(0) + be64(instance) + be32(quint32(events.size()));
    for (const auto &[sequence, payload] : events)
        bytes += be64(sequence) + be64(0) + be32(quint32(payload.size())) + payload;
    return bytes;
}

// An in-process source: host, listener, registry, share.
struct LocalSource
{
    QRemoteObjectHost host;
    rio::RemoteListener *listener = new rio::RemoteListener(&host);
    rio::QtRegistry<Payload> registry;
    std::unique_ptr<rio::RemoteShare<Payload>> share;

    // Over tls:, with `tls` (TestCertificates::sourceConfiguration()).
    explicit LocalSource(const QString &url, rio::RemoteShareOptions options = {},
                         const QSslConfiguration &tls = {})
    {
        if (QUrl(url).scheme() == QLatin1String("tls") ? listener->listen(QUrl(url), tls)
                                                       : listener->listen(QUrl(url)))
            share = std::make_unique<rio::RemoteShare<Payload>>(&host, QStringLiteral("orders"), registry,
                                                                options);
    }
    QString address() const { return listener->address().toString(); }
};

// Certificates made with the openssl command for one test run: two unrelated CAs ("a", "b"), a
// server certificate for 127.0.0.1 and a client certificate from each.
class TestCertificates
{
public:
    TestCertificates()
    {
        const QString openssl = QStandardPaths::findExecutable(QStringLiteral("openssl"));
        if (openssl.isEmpty() || !m_dir.isValid()) {
            m_error =
                QStringLiteral("no openssl command (scripts/deps.sh installs it) or no temporary folder");
            return;
        }
        QFile ext(path(QStringLiteral("server.ext")));
        if (!ext.open(QIODevice::WriteOnly) || ext.write("subjectAltName=IP:127.0.0.1\n") < 0) {
            m_error = QStringLiteral("cannot write server.ext");
            return;
        }
        ext.close();
        const QStringList ec{QStringLiteral("-newkey"), QStringLiteral("ec"), QStringLiteral("-pkeyopt"),
                             QStringLiteral("ec_paramgen_curve:prime256v1"), QStringLiteral("-nodes")};
        for (const QString &ca : {QStringLiteral("a"), QStringLiteral("b")}) {
            if (!run(openssl,
                     QStringList{QStringLiteral("req"), QStringLiteral("-x509")} + ec +
                         QStringList{QStringLiteral("-keyout"), path(ca + QStringLiteral("-ca.key")),
                                     QStringLiteral("-out"), path(ca + QStringLiteral("-ca.crt")),
                                     QStringLiteral("-days"), QStringLiteral("2"), QStringLiteral("-subj"),
                                     QStringLiteral("/CN=rio test CA ") + ca}))
                return;
        }
        // The server's certificate from CA a; a client certificate from each CA.
        if (!issue(openssl, ec, QStringLiteral("server"), QStringLiteral("a"), QStringLiteral("127.0.0.1"),
                   true) ||
            !issue(openssl, ec, QStringLiteral("client-a"), QStringLiteral("a"), QStringLiteral("client a"),
                   false) ||
            !issue(openssl, ec, QStringLiteral("client-b"), QStringLiteral("b"), QStringLiteral("client b"),
                   false))
            return;
    }

    QString error() const { return m_error; }
    QString path(const QString &name) const { return m_dir.filePath(name); }

    // A source's configuration in this process: the server certificate, any client accepted.
    QSslConfiguration sourceConfiguration() const
    {
        QSslConfiguration configuration = QSslConfiguration::defaultConfiguration();
        configuration.setLocalCertificate(
            QSslCertificate::fromPath(path(QStringLiteral("server.crt"))).value(0));
        QFile key(path(QStringLiteral("server.key")));
        if (key.open(QIODevice::ReadOnly))
            configuration.setPrivateKey(QSslKey(key.readAll(), QSsl::Ec, QSsl::Pem));
        configuration.setPeerVerifyMode(QSslSocket::VerifyNone);
        return configuration;
    }

    // Arguments of rio_remote_peer for a side with this certificate and trusting this CA.
    QStringList args(const QString &cert, const QString &ca) const
    {
        QStringList out;
        if (!cert.isEmpty())
            out << QStringLiteral("--tls-cert") << path(cert + QStringLiteral(".crt"))
                << QStringLiteral("--tls-key") << path(cert + QStringLiteral(".key"));
        if (!ca.isEmpty())
            out << QStringLiteral("--tls-ca") << path(ca + QStringLiteral("-ca.crt"));
        return out;
    }

private:
    bool run(const QString &program, const QStringList &args)
    {
        Process process;
        process.setProcessChannelMode(QProcess::MergedChannels);
        process.start(program, args);
        if (!process.waitForFinished(Deadline) || process.exitStatus() != QProcess::NormalExit ||
            process.exitCode() != 0) {
            m_error = QStringLiteral("openssl %1 failed: %2")
                          .arg(args.join(u' '), QString::fromLocal8Bit(process.readAll()));
            return false;
        }
        return true;
    }

    bool issue(const QString &openssl, const QStringList &ec, const QString &name, const QString &ca,
               const QString &cn, bool server)
    {
        if (!run(openssl, QStringList{QStringLiteral("req")} + ec +
                              QStringList{QStringLiteral("-keyout"), path(name + QStringLiteral(".key")),
                                          QStringLiteral("-out"), path(name + QStringLiteral(".csr")),
                                          QStringLiteral("-subj"), QStringLiteral("/CN=") + cn}))
            return false;
        QStringList sign{QStringLiteral("x509"),
                         QStringLiteral("-req"),
                         QStringLiteral("-in"),
                         path(name + QStringLiteral(".csr")),
                         QStringLiteral("-CA"),
                         path(ca + QStringLiteral("-ca.crt")),
                         QStringLiteral("-CAkey"),
                         path(ca + QStringLiteral("-ca.key")),
                         QStringLiteral("-CAcreateserial"),
                         QStringLiteral("-out"),
                         path(name + QStringLiteral(".crt")),
                         QStringLiteral("-days"),
                         QStringLiteral("2")};
        if (server)
            sign << QStringLiteral("-extfile") << path(QStringLiteral("server.ext"));
        return run(openssl, sign);
    }

    QTemporaryDir m_dir;
    QString m_error;
};

// The transports most tests run over: local: and TCP.
inline void addTransportRows()
{
    QTest::addColumn<QString>("url");
    QTest::newRow("local") << uniqueLocalUrl();
    QTest::newRow("tcp") << QStringLiteral("tcp://127.0.0.1:0");
}

// Every transport, TLS too: what hostile peers are tried over.
inline void addSchemeRows()
{
    addTransportRows();
    QTest::newRow("tls") << QStringLiteral("tls://127.0.0.1:0");
}

// The certificates of the tests that do not make their own (one set per process: each set costs
// a few openssl commands).
inline const TestCertificates &testCertificates()
{
    static const TestCertificates certs;
    return certs;
}

inline bool isTls(const QString &address)
{
    return QUrl(address).scheme() == QLatin1String("tls");
}

// The CA a tls: peer trusts; empty for other schemes.
inline QString testCa(const QString &address)
{
    return isTls(address) ? testCertificates().path(QStringLiteral("a-ca.crt")) : QString();
}

inline void trustTestCa(QRemoteObjectNode &node, const QString &address)
{
    if (!isTls(address))
        return;
    QSslConfiguration configuration = QSslConfiguration::defaultConfiguration();
    configuration.setCaCertificates(QSslCertificate::fromPath(testCa(address)));
    rio::setRemoteTlsConfiguration(&node, configuration);
}

// What rio_remote_peer needs for a tls: URL: a source its certificate, a subscriber the CA.
inline QStringList tlsSourceArgs(const QString &url)
{
    return isTls(url) ? testCertificates().args(QStringLiteral("server"), QString()) : QStringList();
}
inline QStringList tlsSubscriberArgs(const QString &url)
{
    return isTls(url) ? testCertificates().args(QString(), QStringLiteral("a")) : QStringList();
}

// An in-process source over `url`'s transport (with the tests' certificates over tls:).
inline std::unique_ptr<LocalSource> localSource(const QString &url, rio::RemoteShareOptions options = {})
{
    return std::make_unique<LocalSource>(
        url, options, isTls(url) ? testCertificates().sourceConfiguration() : QSslConfiguration());
}

} // namespace
