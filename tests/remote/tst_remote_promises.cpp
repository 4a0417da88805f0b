// SPDX-License-Identifier: MIT
// The promises of REMOTE.md and SECURITY.md tried from the outside, through the public API and raw
// sockets only: plain Qt Remote Objects beside the library's transports, the listener's name and
// its accept loop, a peer's control bound to its connection, deadlines a peer could stretch by
// dribbling bytes, and a well-behaved but stalled subscriber of many shares. Both ends in this
// process; every wait is on an observable state, with a deadline.
#include "remote_payload.h"

#include <registryio/qt/qt_registry.h>
#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_registry.h>
#include <registryio/remote/remote_share.h>

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QLocalServer>
#include <QLocalSocket>
#include <QProcess>
#include <QRemoteObjectDynamicReplica>
#include <QRemoteObjectHost>
#include <QRemoteObjectNode>
#include <QScopeGuard>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTest>
#include <QTextStream>
#include <QtEndian>
#include <QtRemoteObjects/qtremoteobjectglobal.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <future>
#include <memory>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr int Deadline = 30000; // ms: the longest any single observation may take

QString uniqueLocalUrl()
{
    static int counter = 0;
    return QStringLiteral("local:rio-remote-attack-%1-%2")
        .arg(QCoreApplication::applicationPid())
        .arg(++counter);
}

QString socketPath(const QString &url)
{
    return QDir::cleanPath(QDir::tempPath()) + QLatin1Char('/') + QUrl(url).path();
}

// A tcp:// URL on a port that was free a moment ago.
QString freeTcpUrl()
{
    QTcpServer probe;
    if (!probe.listen(QHostAddress::LocalHost))
        return {};
    return QStringLiteral("tcp://127.0.0.1:%1").arg(probe.serverPort());
}

struct Source
{
    QRemoteObjectHost host;
    rio::RemoteListener *listener;
    rio::QtRegistry<Payload> registry;
    std::unique_ptr<rio::RemoteShare<Payload>> share;

    explicit Source(const QString &url, rio::RemoteListener::Options limits = {},
                    rio::RemoteShareOptions options = {})
        : listener(new rio::RemoteListener(&host, limits))
    {
        if (listener->listen(QUrl(url)))
            share = std::make_unique<rio::RemoteShare<Payload>>(&host, QStringLiteral("orders"), registry,
                                                                options);
    }
};

struct Subscriber
{
    QRemoteObjectNode node;
    std::unique_ptr<rio::RemoteRegistry<Payload>> registry;
    QList<qint64> received;

    // Through the library's transports, or through Qt's own connectToNode().
    explicit Subscriber(const QString &address, bool plainQt = false)
    {
        if (plainQt)
            node.connectToNode(QUrl(address));
        else
            rio::connectToSource(&node, QUrl(address));
        registry = std::make_unique<rio::RemoteRegistry<Payload>>(&node, QStringLiteral("orders"));
        registry->add(&node, [this](const Payload &p) { received.append(p.seq); },
                      {.connection = Qt::DirectConnection});
    }
    [[nodiscard]] bool connected() const
    {
        return registry->link()->state() == rio::RemoteSubscriber::State::Connected;
    }
};

// Notifies `seq` at `source` until `subscriber` has it (the first events may go before the source
// heard the subscriber is ready).
bool served(Source &source, Subscriber &subscriber, qint64 seq)
{
    return QTest::qWaitFor(
        [&] {
            if (subscriber.received.contains(seq))
                return true;
            source.registry.notify(Payload{seq, {}});
            return QTest::qWaitFor([&] { return subscriber.received.contains(seq); }, 200);
        },
        Deadline);
}

int connectLocal(const QString &path)
{
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const QByteArray bytes = QFile::encodeName(path);
    std::memcpy(address.sun_path, bytes.constData(),
                std::min(sizeof(address.sun_path) - 1, size_t(bytes.size())));
    if (fd >= 0 && ::connect(fd, reinterpret_cast<const sockaddr *>(&address), sizeof(address)) == 0)
        return fd;
    if (fd >= 0)
        ::close(fd);
    return -1;
}

int connectTcp(quint16 port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<const sockaddr *>(&address), sizeof(address)) == 0)
        return fd;
    if (fd >= 0)
        ::close(fd);
    return -1;
}

// Whether the other end closed `fd` (anything it sent is read and dropped).
bool isClosed(int fd)
{
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
        if (n > 0)
            continue;
        return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
    }
}

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

// A whole Qt Remote Objects Ping packet (size, little-endian, then the body) with a name of
// `nameChars` characters, which the Pong repeats.
QByteArray pingPacket(int nameChars = 6)
{
    QByteArray body;
    QDataStream stream(&body, QIODevice::WriteOnly);
    stream.setVersion(QDataStream::Qt_6_2);
    stream.setByteOrder(QDataStream::LittleEndian);
    stream << quint16(QtRemoteObjects::Ping) << QString(nameChars, QLatin1Char('p'));
    QByteArray bytes(4, Qt::Uninitialized);
    qToLittleEndian(quint32(body.size()), bytes.data());
    return bytes + body;
}

// Holds the process at its open-file limit while it lives.
class AtFileLimit
{
public:
    AtFileLimit()
    {
        ::getrlimit(RLIMIT_NOFILE, &m_saved);
        int highest = 0;
        for (const QString &entry :
             QDir(QStringLiteral("/proc/self/fd")).entryList(QDir::Files | QDir::System))
            highest = std::max(highest, entry.toInt());
        rlimit low = m_saved;
        low.rlim_cur = rlim_t(highest) + 4;
        m_ok = ::setrlimit(RLIMIT_NOFILE, &low) == 0;
        for (int fd; m_ok && (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;)
            m_taken.push_back(fd);
    }
    ~AtFileLimit()
    {
        for (const int fd : m_taken)
            ::close(fd);
        ::setrlimit(RLIMIT_NOFILE, &m_saved);
    }
    AtFileLimit(const AtFileLimit &) = delete;
    AtFileLimit &operator=(const AtFileLimit &) = delete;
    [[nodiscard]] bool ok() const { return m_ok; }

private:
    rlimit m_saved{};
    bool m_ok = false;
    std::vector<int> m_taken;
};

// A plain Qt Remote Objects source: a slot that answers through a signal.
class Echo : public QObject
{
    Q_OBJECT

public Q_SLOTS:
    void echo(int n) { Q_EMIT echoed(n); }

Q_SIGNALS:
    void echoed(int n);
};

// Child process: `listen URL` listens with a RemoteListener, prints "listening" or "refused", and
// (listening) serves until killed.
int listenChild(const QString &url)
{
    QRemoteObjectHost host;
    rio::RemoteListener listener(&host);
    const bool ok = listener.listen(QUrl(url));
    QTextStream(stdout) << (ok ? "listening" : "refused") << Qt::endl;
    return ok ? QCoreApplication::exec() : 0;
}

// Child process, plain Qt Remote Objects only: `host URL` remotes an Echo as "echo" until killed;
// `node URL` acquires the "echo" at URL, calls echo(7) and exits 0 once echoed(7) comes back.
int plainChild(const QString &mode, const QString &url)
{
    if (mode == QLatin1String("host")) {
        QRemoteObjectHost host;
        Echo echo;
        if (!host.setHostUrl(QUrl(url)) || !host.enableRemoting(&echo, QStringLiteral("echo")))
            return 2;
        QTextStream(stdout) << "listening" << Qt::endl;
        return QCoreApplication::exec();
    }
    QRemoteObjectNode node;
    if (!node.connectToNode(QUrl(url)))
        return 3;
    const std::unique_ptr<QRemoteObjectDynamicReplica> replica(node.acquireDynamic(QStringLiteral("echo")));
    if (!replica->waitForSource(Deadline))
        return 4;
    QSignalSpy echoed(replica.get(), SIGNAL(echoed(int)));
    QMetaObject::invokeMethod(replica.get(), "echo", Q_ARG(int, 7));
    return echoed.wait(Deadline) && echoed.first().first().toInt() == 7 ? 0 : 5;
}

} // namespace

class tst_remote_promises : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void plainConnectToNodeSubscribesToAListenerSource_data();
    void plainConnectToNodeSubscribesToAListenerSource();
    void plainQtPeerInAnotherProcessBesideAShare_data();
    void plainQtPeerInAnotherProcessBesideAShare();
    void connectToSourceSubscribesToAPlainQtHost_data();
    void connectToSourceSubscribesToAPlainQtHost();
    void listenHoldsItsNameAndRefusesBadUrls();
    void racingProcessesListenOnceOnAName();
    void tcpListenerSurvivesABurstAtTheFileLimit();
    void readyOnAnotherConnectionsChannelDropsThatPeer();
    void dribblingPeerIsDroppedAtItsDeadline_data();
    void dribblingPeerIsDroppedAtItsDeadline();
    void stalledSubscriberOfManySharesIsNeverDropped();
    void stalledSubscriberPaysAFewBytesPerChurnOfOthers();
    void queuedBudgetDropsTheFloodersNotAStalledSubscriber();
    void senderThatClosesWhileItsReadingIsPausedIsForgotten();
    void secondConnectionWithTheSameSecretTakesTheSubscriptionOver();
    void unsubscribeOfAnUnknownOrOwnKeyChangesNothingElse();
    void queuedBudgetAcrossListenersSparesTheStalledSubscriber();
    void incompleteBudgetAcrossListenersSparesTheSubscriber_data();
    void incompleteBudgetAcrossListenersSparesTheSubscriber();
    void budgetShedsAListenerOnAnotherThread_data();
    void budgetShedsAListenerOnAnotherThread();
};

void tst_remote_promises::plainConnectToNodeSubscribesToAListenerSource_data()
{
    QTest::addColumn<bool>("tcp");
    QTest::newRow("local") << false;
    QTest::newRow("tcp") << true;
}

// REMOTE.md: "A node connected with Qt's own connectToNode() to a local: or tcp: source works too".
void tst_remote_promises::plainConnectToNodeSubscribesToAListenerSource()
{
    QFETCH(bool, tcp);
    Source source(tcp ? QStringLiteral("tcp://127.0.0.1:0") : uniqueLocalUrl());
    QVERIFY2(source.share, qPrintable(source.listener->errorString()));
    Subscriber plain(source.listener->address().toString(), true);
    Subscriber rio(source.listener->address().toString());
    QTRY_VERIFY_WITH_TIMEOUT(plain.connected() && rio.connected(), Deadline);
    QVERIFY(served(source, plain, 1));
    QVERIFY(served(source, rio, 2));
    // Both directions: the plain node's event reaches the source and the other subscriber.
    QList<qint64> atSource;
    source.registry.add(this, [&](const Payload &p) { atSource.append(p.seq); },
                        {.connection = Qt::DirectConnection});
    plain.registry->notify(Payload{100, {}});
    QTRY_VERIFY_WITH_TIMEOUT(atSource.contains(100) && rio.received.contains(100), Deadline);
}

void tst_remote_promises::plainQtPeerInAnotherProcessBesideAShare_data()
{
    QTest::addColumn<bool>("tcp");
    QTest::newRow("local") << false;
    QTest::newRow("tcp") << true;
}

// REMOTE.md: "Plain Qt Remote Objects in the same process keeps its own local: and tcp:
// transports". This process shares and subscribes through RegistryIO, and talks plain Qt Remote
// Objects with another process that has only Qt: as its node (to a host here), and as its host
// (to a node here), each call answered.
void tst_remote_promises::plainQtPeerInAnotherProcessBesideAShare()
{
    if constexpr (UnderThreadSanitizer)
        QSKIP("Qt 6.4's QProcess cannot start a child under ThreadSanitizer");
    QFETCH(bool, tcp);
    Source source(tcp ? QStringLiteral("tcp://127.0.0.1:0") : uniqueLocalUrl());
    QVERIFY(source.share);
    Subscriber subscriber(source.listener->address().toString());
    QTRY_VERIFY_WITH_TIMEOUT(subscriber.connected(), Deadline);
    QVERIFY(served(source, subscriber, 1));

    // A plain host here, a plain node there.
    const QString hereUrl = tcp ? freeTcpUrl() : uniqueLocalUrl();
    QRemoteObjectHost plainHost;
    QVERIFY(plainHost.setHostUrl(QUrl(hereUrl)));
    Echo echo;
    QVERIFY(plainHost.enableRemoting(&echo, QStringLiteral("echo")));
    QProcess node;
    node.setProcessChannelMode(QProcess::ForwardedChannels);
    node.start(QCoreApplication::applicationFilePath(),
               {QStringLiteral("--plain"), QStringLiteral("node"), hereUrl});
    QVERIFY(QTest::qWaitFor([&] { return node.state() == QProcess::NotRunning; }, Deadline));
    QCOMPARE(node.exitStatus(), QProcess::NormalExit);
    QCOMPARE(node.exitCode(), 0);

    // A plain host there, a plain node here.
    const QString thereUrl = tcp ? freeTcpUrl() : uniqueLocalUrl();
    QProcess host;
    host.start(QCoreApplication::applicationFilePath(),
               {QStringLiteral("--plain"), QStringLiteral("host"), thereUrl});
    QVERIFY(QTest::qWaitFor([&] { return host.canReadLine() || host.state() == QProcess::NotRunning; },
                            Deadline));
    QCOMPARE(host.readLine().trimmed(), QByteArray("listening"));
    QRemoteObjectNode plainNode;
    QVERIFY(plainNode.connectToNode(QUrl(thereUrl)));
    const std::unique_ptr<QRemoteObjectDynamicReplica> replica(
        plainNode.acquireDynamic(QStringLiteral("echo")));
    QVERIFY(replica->waitForSource(Deadline));
    QSignalSpy echoed(replica.get(), SIGNAL(echoed(int)));
    QVERIFY(QMetaObject::invokeMethod(replica.get(), "echo", Q_ARG(int, 9)));
    QTRY_COMPARE_WITH_TIMEOUT(echoed.size(), 1, Deadline);
    QCOMPARE(echoed.first().first().toInt(), 9);
    host.kill();
    QVERIFY(host.waitForFinished(Deadline));

    // RegistryIO still at work beside both.
    QVERIFY(served(source, subscriber, 2));
}

void tst_remote_promises::connectToSourceSubscribesToAPlainQtHost_data()
{
    QTest::addColumn<bool>("tcp");
    QTest::newRow("local") << false;
    QTest::newRow("tcp") << true;
}

// A share on a host without a RemoteListener ("On a host whose connections a RemoteListener does
// not own ... as plain Qt Remote Objects would"), subscribed to through connectToSource.
void tst_remote_promises::connectToSourceSubscribesToAPlainQtHost()
{
    QFETCH(bool, tcp);
    const QString url = tcp ? freeTcpUrl() : uniqueLocalUrl();
    QVERIFY(!url.isEmpty());
    QRemoteObjectHost host;
    QVERIFY(host.setHostUrl(QUrl(url)));
    rio::QtRegistry<Payload> registry;
    rio::RemoteShare<Payload> share(&host, QStringLiteral("orders"), registry);
    Subscriber subscriber(url);
    QTRY_VERIFY_WITH_TIMEOUT(subscriber.connected(), Deadline);
    QVERIFY(QTest::qWaitFor(
        [&] {
            if (!subscriber.received.isEmpty())
                return true;
            registry.notify(Payload{1, {}});
            return QTest::qWaitFor([&] { return !subscriber.received.isEmpty(); }, 200);
        },
        Deadline));
    QList<qint64> atSource;
    registry.add(this, [&](const Payload &p) { atSource.append(p.seq); },
                 {.connection = Qt::DirectConnection});
    subscriber.registry->notify(Payload{100, {}});
    QTRY_VERIFY_WITH_TIMEOUT(atSource.contains(100), Deadline);
}

// "a live server's never is [replaced] (a second daemon fails to listen)"; "A socket file left by a
// killed process is replaced"; bad input is a clear error that changes nothing.
void tst_remote_promises::listenHoldsItsNameAndRefusesBadUrls()
{
    const QString url = uniqueLocalUrl();
    const QString path = socketPath(url);
    {
        // A live server that is not a RegistryIO one holds the name: refused, and left alone.
        QLocalServer foreign;
        foreign.setSocketOptions(QLocalServer::UserAccessOption);
        QVERIFY(foreign.listen(path));
        QRemoteObjectHost host;
        rio::RemoteListener listener(&host);
        QVERIFY(!listener.listen(QUrl(url)));
        QVERIFY(!listener.errorString().isEmpty());
        QLocalSocket probe;
        probe.connectToServer(path);
        QVERIFY(probe.waitForConnected(Deadline));
        QTRY_VERIFY_WITH_TIMEOUT(foreign.hasPendingConnections(), Deadline);
    }
    {
        // A stale file (bound, never served): replaced.
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        const QByteArray bytes = QFile::encodeName(path);
        std::memcpy(address.sun_path, bytes.constData(), size_t(bytes.size()));
        QCOMPARE(::bind(fd, reinterpret_cast<const sockaddr *>(&address), sizeof(address)), 0);
        ::close(fd);
        QVERIFY(QFile::exists(path));
    }
    {
        Source first(url);
        QVERIFY2(first.share, qPrintable(first.listener->errorString()));
        Source second(url);
        QVERIFY(!second.share);
        QVERIFY(!second.listener->errorString().isEmpty());
        Subscriber subscriber(url);
        QTRY_VERIFY_WITH_TIMEOUT(subscriber.connected(), Deadline);
        QVERIFY(served(first, subscriber, 1));
    }
    // The first is gone: the name is free again.
    Source third(url);
    QVERIFY2(third.share, qPrintable(third.listener->errorString()));

    QRemoteObjectHost host;
    rio::RemoteListener listener(&host);
    for (const QString &bad :
         {QStringLiteral("local:"), QStringLiteral("http://127.0.0.1:80"), QStringLiteral("tcp://:4711")}) {
        QVERIFY2(!listener.listen(QUrl(bad)), qPrintable(bad));
        QVERIFY2(!listener.errorString().isEmpty(), qPrintable(bad));
        QVERIFY2(listener.address().isEmpty(), qPrintable(bad));
    }
}

// REMOTE.md: "of processes that race to listen on one name exactly one does": four processes
// started at once on a fresh name, four more on the name the winner holds (none listens), then,
// the winner killed, four on the socket it left (one replaces it).
void tst_remote_promises::racingProcessesListenOnceOnAName()
{
    if constexpr (UnderThreadSanitizer)
        QSKIP("Qt 6.4's QProcess cannot start a child under ThreadSanitizer");
    const int rounds = qEnvironmentVariableIntValue("RIO_REMOTE_LISTEN_RACES") > 0
                           ? qEnvironmentVariableIntValue("RIO_REMOTE_LISTEN_RACES")
                           : 5;
    for (int round = 0; round < rounds; ++round) {
        const QString url = uniqueLocalUrl();
        std::vector<std::unique_ptr<QProcess>> children;
        const auto start = [&] {
            for (int i = 0; i < 4; ++i) {
                children.push_back(std::make_unique<QProcess>());
                children.back()->start(QCoreApplication::applicationFilePath(),
                                       {QStringLiteral("--listen"), url});
            }
        };
        const auto answers = [&](std::size_t from) {
            int listening = 0;
            for (std::size_t i = from; i < children.size(); ++i) {
                QProcess &child = *children[i];
                if (!QTest::qWaitFor(
                        [&] { return child.canReadLine() || child.state() == QProcess::NotRunning; },
                        Deadline))
                    return -1;
                listening += child.readLine().trimmed() == "listening" ? 1 : 0;
            }
            return listening;
        };
        const auto killAll = [&] {
            for (const auto &child : children) {
                child->kill();
                child->waitForFinished(Deadline);
            }
        };
        start();
        QCOMPARE(answers(0), 1);
        start();
        QCOMPARE(answers(4), 0);
        // Killed, the listener leaves its socket: of four racing to replace it, one does.
        killAll();
        start();
        QCOMPARE(answers(8), 1);
        killAll();
        // What the killed listener leaves: its socket and the lock file beside it.
        const QString path = QDir::tempPath() + QLatin1Char('/') + QUrl(url).path();
        QFile::remove(path);
        QFile::remove(path + QLatin1String(".lock"));
    }
}

// SECURITY.md: "A TCP or TLS listener resumes accepting 100 ms after a failed accept() (Qt pauses
// it), with the same warning and count": a burst of connections while the process is at its
// open-file limit is served once descriptors are free.
void tst_remote_promises::tcpListenerSurvivesABurstAtTheFileLimit()
{
    Source source(QStringLiteral("tcp://127.0.0.1:0"));
    QVERIFY2(source.share, qPrintable(source.listener->errorString()));
    const quint16 port = quint16(source.listener->address().port());
    std::vector<int> waiting;
    for (int i = 0; i < 20; ++i) {
        const int fd = connectTcp(port);
        QVERIFY(fd >= 0);
        waiting.push_back(fd);
    }
    {
        const AtFileLimit limit;
        QVERIFY(limit.ok());
        QTRY_VERIFY_WITH_TIMEOUT(source.listener->acceptFailures() >= 2, Deadline);
    }
    QTRY_COMPARE_WITH_TIMEOUT(source.listener->connectionCount(), 20, Deadline);
    for (const int fd : waiting)
        ::close(fd);
    QTRY_COMPARE_WITH_TIMEOUT(source.listener->connectionCount(), 0, Deadline);
    Subscriber subscriber(source.listener->address().toString());
    QTRY_VERIFY_WITH_TIMEOUT(subscriber.connected(), Deadline);
    QVERIFY(served(source, subscriber, 1));
}

// REMOTE.md: a peer that "calls ready on another connection's channel ... is disconnected with a
// warning (peerRejected, rejectedCount()), and nothing else changes".
void tst_remote_promises::readyOnAnotherConnectionsChannelDropsThatPeer()
{
    Source source(uniqueLocalUrl());
    QVERIFY(source.share);
    const QString address = source.listener->address().toString();
    Subscriber victim(address);
    QTRY_VERIFY_WITH_TIMEOUT(victim.connected(), Deadline);
    QVERIFY(served(source, victim, 1));

    QRemoteObjectNode attackerNode;
    QVERIFY(rio::connectToSource(&attackerNode, QUrl(address)));
    QString channelName;
    QTRY_VERIFY_WITH_TIMEOUT(!(channelName = attackerNode.instances(QStringView())
                                                 .filter(QRegularExpression(QStringLiteral("^orders#")))
                                                 .value(0))
                                  .isEmpty(),
                             Deadline);
    const std::unique_ptr<QRemoteObjectDynamicReplica> channel(attackerNode.acquireDynamic(channelName));
    QVERIFY(channel->waitForSource(Deadline));
    int ready = -1;
    for (int i = 0; i < channel->metaObject()->methodCount(); ++i)
        if (channel->metaObject()->method(i).name() == "ready")
            ready = i;
    QVERIFY(ready >= 0);
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    QVERIFY(channel->metaObject()->method(ready).invoke(channel.get(), Qt::DirectConnection));
    QTRY_COMPARE_WITH_TIMEOUT(rejected.size(), 1, Deadline);
    QTRY_VERIFY_WITH_TIMEOUT(channel->state() != QRemoteObjectReplica::Valid, Deadline);
    QCOMPARE(source.share->base()->subscriberCount(), 1);
    QVERIFY(served(source, victim, 2));
}

void tst_remote_promises::dribblingPeerIsDroppedAtItsDeadline_data()
{
    QTest::addColumn<bool>("handshake");
    QTest::newRow("before its first packet") << true;
    QTest::newRow("after its first packet") << false;
}

// "handshakeTimeout: it has sent no whole packet this long after it connected"; "progressTimeout:
// it holds part of a packet and completes none for this long". A peer that sends one byte of a
// large packet every 20 ms keeps sending but completes nothing.
void tst_remote_promises::dribblingPeerIsDroppedAtItsDeadline()
{
    QFETCH(bool, handshake);
    rio::RemoteListener::Options limits;
    limits.handshakeTimeout = handshake ? 1s : 600s;
    limits.progressTimeout = handshake ? 600s : 1s;
    const QString url = uniqueLocalUrl();
    Source source(url, limits);
    QVERIFY(source.share);
    const int fd = connectLocal(socketPath(url));
    QVERIFY(fd >= 0);
    if (!handshake) {
        const QByteArray ping = pingPacket();
        QCOMPARE(::send(fd, ping.constData(), size_t(ping.size()), MSG_NOSIGNAL), ssize_t(ping.size()));
    }
    QByteArray packet(4 + 100000, 'x');
    qToLittleEndian(quint32(100000), packet.data());
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    qsizetype sent = 0;
    QElapsedTimer lastByte;
    lastByte.start();
    const bool dropped = QTest::qWaitFor(
        [&] {
            if (isClosed(fd))
                return true;
            if (lastByte.elapsed() >= 20 && sent < packet.size()) {
                if (::send(fd, packet.constData() + sent, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1)
                    ++sent;
                lastByte.restart();
            }
            return false;
        },
        Deadline);
    ::close(fd);
    QVERIFY2(dropped, qPrintable(QStringLiteral("still connected after dribbling %1 bytes").arg(sent)));
    QTRY_COMPARE_WITH_TIMEOUT(rejected.size(), 1, Deadline);
}

// "a well-behaved subscriber, even a stalled one, never comes near maxQueuedBytes, since shares
// write to a connection only while it has less than highWaterBytes (1 MiB) waiting". One subscriber
// node subscribed to 16 shares of one host, stalled while each share gets large events.
void tst_remote_promises::stalledSubscriberOfManySharesIsNeverDropped()
{
    constexpr int Shares = 16;
    constexpr int Rounds = 3;
    const QString url = uniqueLocalUrl();
    QRemoteObjectHost host;
    auto *listener = new rio::RemoteListener(&host);
    QVERIFY(listener->listen(QUrl(url)));
    std::vector<std::unique_ptr<rio::QtRegistry<Payload>>> registries;
    std::vector<std::unique_ptr<rio::RemoteShare<Payload>>> shares;
    for (int s = 0; s < Shares; ++s) {
        registries.push_back(std::make_unique<rio::QtRegistry<Payload>>());
        shares.push_back(std::make_unique<rio::RemoteShare<Payload>>(&host, QStringLiteral("orders%1").arg(s),
                                                                     *registries.back()));
    }
    QRemoteObjectNode node;
    QVERIFY(rio::connectToSource(&node, QUrl(url)));
    std::vector<std::unique_ptr<rio::RemoteRegistry<Payload>>> remotes;
    std::vector<QList<qint64>> received(Shares);
    for (int s = 0; s < Shares; ++s) {
        remotes.push_back(
            std::make_unique<rio::RemoteRegistry<Payload>>(&node, QStringLiteral("orders%1").arg(s)));
        remotes.back()->add(&node, [&received, s](const Payload &p) { received[size_t(s)].append(p.seq); },
                            {.connection = Qt::DirectConnection});
    }
    const auto allReceiving = [&] {
        for (const auto &share : shares)
            if (!share->base()->subscribers().value(0).receiving)
                return false;
        return true;
    };
    QTRY_VERIFY_WITH_TIMEOUT(allReceiving(), Deadline);

    const auto sockets = node.findChildren<QLocalSocket *>();
    QVERIFY(!sockets.isEmpty());
    for (QLocalSocket *socket : sockets) {
        socket->setReadBufferSize(65536);
        socket->blockSignals(true);
    }
    QSignalSpy rejected(listener, &rio::RemoteListener::peerRejected);
    const QByteArray blob(900 * 1024, 'e');
    for (int round = 1; round <= Rounds; ++round) {
        for (int s = 0; s < Shares; ++s)
            registries[size_t(s)]->notify(Payload{round, blob});
        QTest::qWait(0);
    }
    // Give a wrongful drop two seconds to show, then read again.
    (void)QTest::qWaitFor([&] { return !rejected.isEmpty(); }, 2000);
    const qint64 queued = listener->bytesToWrite(shares[0]->base()->subscribers().value(0).connection);
    for (QLocalSocket *socket : sockets) {
        socket->blockSignals(false);
        Q_EMIT socket->readyRead();
    }
    QVERIFY2(rejected.isEmpty(), qPrintable(QStringLiteral("dropped with %1 bytes queued: %2")
                                                .arg(queued)
                                                .arg(rejected.value(0).value(0).toString())));
    for (int s = 0; s < Shares; ++s)
        QTRY_COMPARE_WITH_TIMEOUT(received[size_t(s)].size(), Rounds, Deadline);
}

// REMOTE.md: every subscription and unsubscription is announced by Qt Remote Objects to every
// connection, a stalled subscriber's too, "at most 128 bytes per subscribe and unsubscribe".
// Another peer subscribes and unsubscribes over and over (within every limit: one subscription at
// a time) beside a subscriber stalled at its high-water mark: its connection grows by no more than
// that per churn, it keeps its connection below maxQueuedBytes, and gets every event once it reads.
void tst_remote_promises::stalledSubscriberPaysAFewBytesPerChurnOfOthers()
{
    rio::RemoteListener::Options limits;
    limits.maxQueuedBytes = qint64(2) << 20;
    Source source(uniqueLocalUrl(), limits);
    QVERIFY(source.share);
    const QString address = source.listener->address().toString();
    Subscriber victim(address);
    QTRY_VERIFY_WITH_TIMEOUT(victim.connected(), Deadline);
    QVERIFY(served(source, victim, 1));
    const quint64 victimConnection = source.share->base()->subscribers().value(0).connection;

    QRemoteObjectNode attackerNode;
    QVERIFY(rio::connectToSource(&attackerNode, QUrl(address)));
    const std::unique_ptr<QRemoteObjectDynamicReplica> attacker(
        attackerNode.acquireDynamic(QStringLiteral("orders")));
    QVERIFY(attacker->waitForSource(Deadline));
    const QMetaObject *meta = attacker->metaObject();
    const QMetaMethod subscribe = meta->method(meta->indexOfSlot("subscribe(QByteArray)"));
    const QMetaMethod unsubscribe = meta->method(meta->indexOfSlot("unsubscribe(qulonglong)"));
    QVERIFY(subscribe.isValid() && unsubscribe.isValid());

    // The victim stalls with its connection at the high-water mark.
    const auto sockets = victim.node.findChildren<QLocalSocket *>();
    QVERIFY(!sockets.isEmpty());
    for (QLocalSocket *socket : sockets) {
        socket->setReadBufferSize(65536);
        socket->blockSignals(true);
    }
    const QByteArray blob(4096, 'e');
    qint64 seq = 1;
    QVERIFY(QTest::qWaitFor(
        [&] {
            source.registry.notify(Payload{++seq, blob});
            return source.listener->bytesToWrite(victimConnection) >= (qint64(1) << 20) - 65536;
        },
        Deadline));
    const qint64 atHighWater = source.listener->bytesToWrite(victimConnection);

    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    QSignalSpy closed(source.listener, &rio::RemoteListener::connectionClosed);
    // Far from maxQueuedBytes at the bound: (2 MiB - 1 MiB) / 128 bytes is 8,192 churns.
    const quint64 Churns = 4000;
    quint64 done = 0;
    while (done < Churns && closed.isEmpty()) {
        for (int i = 0; i < 200; ++i, ++done) {
            const QByteArray secret = secretFor(1000 + done);
            subscribe.invoke(attacker.get(), Qt::DirectConnection, Q_ARG(QByteArray, secret));
            unsubscribe.invoke(attacker.get(), Qt::DirectConnection, Q_ARG(qulonglong, keyOf(secret)));
        }
        // A marker subscription: once the source has it, it has read the batch before it.
        const QByteArray marker = secretFor(1000 + done++);
        subscribe.invoke(attacker.get(), Qt::DirectConnection, Q_ARG(QByteArray, marker));
        if (!QTest::qWaitFor([&] { return source.share->base()->subscriberCount() == 2; }, Deadline))
            break;
        unsubscribe.invoke(attacker.get(), Qt::DirectConnection, Q_ARG(qulonglong, keyOf(marker)));
        if (!QTest::qWaitFor([&] { return source.share->base()->subscriberCount() == 1; }, Deadline))
            break;
    }
    const qint64 afterChurn = source.listener->bytesToWrite(victimConnection);
    for (QLocalSocket *socket : sockets) {
        socket->blockSignals(false);
        Q_EMIT socket->readyRead();
    }
    QVERIFY2(!closed.contains(QVariantList{victimConnection}),
             qPrintable(
                 QStringLiteral("the stalled subscriber was dropped after %1 churns (%2 bytes queued at the "
                                "high-water mark, %3 after): %4")
                     .arg(done)
                     .arg(atHighWater)
                     .arg(afterChurn)
                     .arg(rejected.value(0).value(0).toString())));
    QVERIFY(done >= Churns);
    QVERIFY2(afterChurn - atHighWater <= qint64(128 * done),
             qPrintable(QStringLiteral("%1 bytes for %2 churns").arg(afterChurn - atHighWater).arg(done)));
    QTRY_COMPARE_WITH_TIMEOUT(victim.received.size(), int(seq), Deadline);
}

// "queuedBytesBudget: connections have more than this waiting to be written across every listener
// of the process: those whose peers have taken nothing of what they were sent for longest go, one
// by one, until it holds (a peer that has taken nothing at all since it connected first)". Three
// peers send Pings with 32 KiB names and never read the Pongs, each staying under maxQueuedBytes,
// beside a subscriber that read, then stalled at its high-water mark: flooders go, one warning
// each, the subscriber stays.
void tst_remote_promises::queuedBudgetDropsTheFloodersNotAStalledSubscriber()
{
    rio::RemoteListener::Options limits;
    limits.maxQueuedBytes = qint64(3) << 20;
    limits.queuedBytesBudget = qint64(4) << 20;
    const QString url = uniqueLocalUrl();
    Source source(url, limits);
    QVERIFY(source.share);
    Subscriber victim(source.listener->address().toString());
    QTRY_VERIFY_WITH_TIMEOUT(victim.connected(), Deadline);
    QVERIFY(served(source, victim, 1));
    const quint64 victimConnection = source.share->base()->subscribers().value(0).connection;
    const auto sockets = victim.node.findChildren<QLocalSocket *>();
    QVERIFY(!sockets.isEmpty());
    for (QLocalSocket *socket : sockets) {
        socket->setReadBufferSize(65536);
        socket->blockSignals(true);
    }
    const QByteArray blob(4096, 'e');
    qint64 seq = 1;
    QVERIFY(QTest::qWaitFor(
        [&] {
            source.registry.notify(Payload{++seq, blob});
            return source.listener->bytesToWrite(victimConnection) >= (qint64(1) << 20) - 65536;
        },
        Deadline));

    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    QSignalSpy closed(source.listener, &rio::RemoteListener::connectionClosed);
    const QByteArray ping = pingPacket(16384); // a Pong of about 32 KiB
    std::vector<int> flooders;
    for (int f = 0; f < 3; ++f) {
        const int fd = connectLocal(socketPath(url));
        QVERIFY(fd >= 0);
        flooders.push_back(fd);
        // 2.5 MiB of Pongs for this one, under maxQueuedBytes.
        for (int i = 0; i < 80; ++i) {
            qsizetype done = 0;
            const bool written = QTest::qWaitFor(
                [&] {
                    const ssize_t n = ::send(fd, ping.constData() + done, size_t(ping.size() - done),
                                             MSG_NOSIGNAL | MSG_DONTWAIT);
                    if (n > 0)
                        done += n;
                    return done == ping.size() || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
                },
                Deadline);
            if (!written || done < ping.size())
                break;
        }
    }
    QTRY_VERIFY_WITH_TIMEOUT(!rejected.isEmpty(), Deadline);
    (void)QTest::qWaitFor([&] { return closed.contains(QVariantList{victimConnection}); }, 1000);
    for (QLocalSocket *socket : sockets) {
        socket->blockSignals(false);
        Q_EMIT socket->readyRead();
    }
    for (const int fd : flooders)
        ::close(fd);
    QVERIFY2(!closed.contains(QVariantList{victimConnection}),
             qPrintable(rejected.last().first().toString()));
    for (const QVariantList &r : rejected)
        QVERIFY2(!r.first().toString().contains(QStringLiteral("connection %1 ").arg(victimConnection)),
                 qPrintable(r.first().toString()));
    QTRY_COMPARE_WITH_TIMEOUT(victim.received.size(), int(seq), Deadline);
}

// REMOTE.md: a Block share "stops reading the sender's connection until every backlog has room
// again"; the Qt workaround table: RemoteListener emits the device's disconnected() itself for a
// connection whose signals it blocked (paused). A sender that closes while paused is forgotten
// at once (not when the stalled subscriber reads again or at blockTimeout).
void tst_remote_promises::senderThatClosesWhileItsReadingIsPausedIsForgotten()
{
    Source source(
        uniqueLocalUrl(), {},
        {.capacity = 8, .overflow = rio::Overflow::Block, .blockTimeout = std::chrono::seconds(600)});
    QVERIFY(source.share);
    const QString address = source.listener->address().toString();
    Subscriber stalled(address);
    QTRY_VERIFY_WITH_TIMEOUT(stalled.connected(), Deadline);
    QVERIFY(served(source, stalled, 1));
    auto sender = std::make_unique<Subscriber>(address);
    QTRY_VERIFY_WITH_TIMEOUT(sender->connected(), Deadline);
    QTRY_COMPARE_WITH_TIMEOUT(source.share->base()->subscriberCount(), 2, Deadline);
    QTRY_VERIFY_WITH_TIMEOUT(source.share->base()->subscribers().value(1).receiving, Deadline);

    const auto sockets = stalled.node.findChildren<QLocalSocket *>();
    QVERIFY(!sockets.isEmpty());
    for (QLocalSocket *socket : sockets) {
        socket->setReadBufferSize(65536);
        socket->blockSignals(true);
    }
    const QByteArray blob(4096, 'e');
    for (int i = 0; i < 2000; ++i)
        sender->registry->notify(Payload{1000 + i, blob});
    // The stalled subscriber's backlog fills; the source stops reading the sender.
    QTRY_VERIFY_WITH_TIMEOUT(source.share->base()->pendingCount() >= 8, Deadline);
    QCOMPARE(source.listener->connectionCount(), 2);
    sender.reset();
    QTRY_COMPARE_WITH_TIMEOUT(source.listener->connectionCount(), 1, Deadline);
    QTRY_COMPARE_WITH_TIMEOUT(source.share->base()->subscriberCount(), 1, Deadline);
    for (QLocalSocket *socket : sockets) {
        socket->blockSignals(false);
        Q_EMIT socket->readyRead();
    }
    // What was relayed before the sender went arrives, in order; then the source's own events.
    QTRY_COMPARE_WITH_TIMEOUT(source.share->base()->pendingCount(), std::size_t(0), Deadline);
    QTRY_VERIFY_WITH_TIMEOUT(stalled.received.size() > 8, Deadline);
    for (qsizetype i = 2; i < stalled.received.size(); ++i)
        QCOMPARE(stalled.received[i], stalled.received[i - 1] + 1);
    QVERIFY(served(source, stalled, 5000));
    QCOMPARE(source.share->droppedCount(), quint64(0));
}

namespace {

// A raw replica of "orders" on a node of its own (what any peer that reaches the socket gets).
struct RawPeer
{
    QRemoteObjectNode node;
    std::unique_ptr<QRemoteObjectDynamicReplica> replica;

    bool start(const QString &address)
    {
        if (!rio::connectToSource(&node, QUrl(address)))
            return false;
        replica.reset(node.acquireDynamic(QStringLiteral("orders")));
        return replica->waitForSource(Deadline);
    }
    bool call(const char *slot, const QVariant &argument)
    {
        const QMetaObject *meta = replica->metaObject();
        const QMetaMethod method = meta->method(meta->indexOfSlot(slot));
        return argument.metaType() == QMetaType::fromType<QByteArray>()
                   ? method.invoke(replica.get(), Qt::DirectConnection,
                                   Q_ARG(QByteArray, argument.toByteArray()))
                   : method.invoke(replica.get(), Qt::DirectConnection,
                                   Q_ARG(qulonglong, argument.toULongLong()));
    }
};

} // namespace

// REMOTE.md: a connection that subscribes "with a secret that another live connection holds
// ... takes the subscription over", and the connection that held it "is dropped with one
// warning". The bystander keeps its subscription and gets every event; the subscription's
// control is the new connection's (its unsubscribe works, and costs it nothing).
void tst_remote_promises::secondConnectionWithTheSameSecretTakesTheSubscriptionOver()
{
    Source source(uniqueLocalUrl());
    QVERIFY(source.share);
    const QString address = source.listener->address().toString();
    Subscriber bystander(address);
    RawPeer first;
    RawPeer second;
    QVERIFY(first.start(address) && second.start(address));
    QTRY_VERIFY_WITH_TIMEOUT(bystander.connected(), Deadline);
    QVERIFY(served(source, bystander, 1));
    QVERIFY(first.call("subscribe(QByteArray)", secretFor(5)));
    QTRY_COMPARE_WITH_TIMEOUT(source.share->base()->subscriberCount(), 2, Deadline);
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    QVERIFY(second.call("subscribe(QByteArray)", secretFor(5)));
    QTRY_COMPARE_WITH_TIMEOUT(rejected.size(), 1, Deadline);
    QVERIFY2(rejected.at(0).at(0).toString().contains(QLatin1String("taken over")),
             qPrintable(rejected.at(0).at(0).toString()));
    QTRY_VERIFY_WITH_TIMEOUT(first.replica->state() != QRemoteObjectReplica::Valid, Deadline);
    QCOMPARE(source.share->base()->subscriberCount(), 2);
    QCOMPARE(second.replica->state(), QRemoteObjectReplica::Valid);
    for (qint64 seq = 2; seq <= 50; ++seq)
        source.registry.notify(Payload{seq, {}});
    QTRY_VERIFY_WITH_TIMEOUT(bystander.received.contains(50), Deadline);
    QCOMPARE(bystander.received.mid(bystander.received.indexOf(2)), [] {
        QList<qint64> all;
        for (qint64 seq = 2; seq <= 50; ++seq)
            all.append(seq);
        return all;
    }());
    QCOMPARE(bystander.registry->link()->droppedBySource(), quint64(0));
    QVERIFY(second.call("unsubscribe(qulonglong)", QVariant::fromValue(keyOf(secretFor(5)))));
    QTRY_COMPARE_WITH_TIMEOUT(source.share->base()->subscriberCount(), 1, Deadline);
    QCOMPARE(rejected.size(), 1);
    QCOMPARE(second.replica->state(), QRemoteObjectReplica::Valid);
}

// Unsubscribing a key nobody subscribed with, or one's own key twice, is no attack on anyone:
// whatever the source does with that connection, the other subscribers keep theirs.
void tst_remote_promises::unsubscribeOfAnUnknownOrOwnKeyChangesNothingElse()
{
    Source source(uniqueLocalUrl());
    QVERIFY(source.share);
    const QString address = source.listener->address().toString();
    Subscriber bystander(address);
    QTRY_VERIFY_WITH_TIMEOUT(bystander.connected(), Deadline);
    QVERIFY(served(source, bystander, 1));
    RawPeer peer;
    QVERIFY(peer.start(address));
    QVERIFY(peer.call("subscribe(QByteArray)", secretFor(9)));
    QTRY_COMPARE_WITH_TIMEOUT(source.share->base()->subscriberCount(), 2, Deadline);
    QVERIFY(peer.call("unsubscribe(qulonglong)", QVariant::fromValue(keyOf(secretFor(9)))));
    QTRY_COMPARE_WITH_TIMEOUT(source.share->base()->subscriberCount(), 1, Deadline);
    QVERIFY(peer.call("unsubscribe(qulonglong)", QVariant::fromValue(keyOf(secretFor(9)))));
    QVERIFY(peer.call("unsubscribe(qulonglong)", QVariant::fromValue(quint64(0x1234))));
    QVERIFY(peer.call("unsubscribe(qulonglong)", QVariant::fromValue(quint64(0))));
    QVERIFY(peer.call("subscribe(QByteArray)", secretFor(10)));
    // The source has read everything before the last subscribe.
    if (peer.replica->state() == QRemoteObjectReplica::Valid)
        (void)QTest::qWaitFor([&] { return source.share->base()->subscriberCount() == 2; }, Deadline);
    QVERIFY(served(source, bystander, 2));
}

// "incompleteBytesBudget: packets not yet whole hold more than this across every connection of
// every listener of the process: the connections whose packet has been incomplete longest go, one
// by one, until it holds (a peer that keeps the budget by trickling packets goes, not the
// subscriber whose large event passed it)". The hoarders are on a second listener of the process
// (say the daemon's tcp:// one beside its local: one), with the same budget or a larger one.
void tst_remote_promises::incompleteBudgetAcrossListenersSparesTheSubscriber_data()
{
    QTest::addColumn<bool>("sameBudget");
    QTest::newRow("same budget") << true;
    QTest::newRow("larger budget there") << false;
}

void tst_remote_promises::incompleteBudgetAcrossListenersSparesTheSubscriber()
{
    QFETCH(bool, sameBudget);
    rio::RemoteListener::Options tight;
    tight.incompleteBytesBudget = qint64(4) << 20;
    tight.progressTimeout = 120s;
    tight.handshakeTimeout = 120s;
    rio::RemoteListener::Options loose = tight;
    if (!sameBudget)
        loose.incompleteBytesBudget = qint64(16) << 20;
    Source source(uniqueLocalUrl(), tight);
    QVERIFY(source.share);
    const QString otherUrl = uniqueLocalUrl();
    Source other(otherUrl, loose);
    QVERIFY(other.share);
    Subscriber subscriber(source.listener->address().toString());
    QTRY_VERIFY_WITH_TIMEOUT(subscriber.connected(), Deadline);
    QVERIFY(served(source, subscriber, 1));
    QList<qint64> atSource;
    source.registry.add(this, [&](const Payload &p) { atSource.append(p.seq); },
                        {.connection = Qt::DirectConnection});

    // Five connections to the other listener hold 780,000 bytes each of a 1,000,000-byte packet:
    // under either budget.
    QByteArray part(4 + 780000, 'h');
    qToLittleEndian(quint32(1000000), part.data());
    std::vector<int> hoarders;
    for (int i = 0; i < 5; ++i) {
        const int fd = connectLocal(socketPath(otherUrl));
        QVERIFY(fd >= 0);
        hoarders.push_back(fd);
        const qint64 before = rio::RemoteListener::incompleteBytes();
        qsizetype done = 0;
        QVERIFY(QTest::qWaitFor(
            [&] {
                const ssize_t n = ::send(fd, part.constData() + done, size_t(part.size() - done),
                                         MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n > 0)
                    done += n;
                return done == part.size();
            },
            Deadline));
        QTRY_VERIFY_WITH_TIMEOUT(rio::RemoteListener::incompleteBytes() >= before + 760000, Deadline);
    }
    QSignalSpy rejectedHere(source.listener, &rio::RemoteListener::peerRejected);
    QSignalSpy rejectedThere(other.listener, &rio::RemoteListener::peerRejected);
    subscriber.registry->notify(Payload{600, QByteArray(600000, 'b')});
    const bool arrived =
        QTest::qWaitFor([&] { return atSource.contains(600) || !rejectedHere.isEmpty(); }, Deadline);
    // The hoarders are dropped on their listener's thread, the oldest first, until the budget holds.
    const bool shed = QTest::qWaitFor([&] { return !rejectedThere.isEmpty(); }, Deadline);
    for (const int fd : hoarders)
        ::close(fd);
    QVERIFY2(rejectedHere.isEmpty(), qPrintable(rejectedHere.value(0).value(0).toString()));
    QVERIFY(arrived);
    QVERIFY(shed);
    QVERIFY2(rejectedThere.first().first().toString().contains(QStringLiteral("incomplete longest")),
             qPrintable(rejectedThere.first().first().toString()));
    QVERIFY(subscriber.connected());
}

// The same for queuedBytesBudget ("across every listener of the process"):
// two flooders on another listener of the process hold 1.8 MiB of Pongs each, then a subscriber
// of this listener stalls and its connection fills to the high-water mark (1 MiB).
void tst_remote_promises::queuedBudgetAcrossListenersSparesTheStalledSubscriber()
{
    rio::RemoteListener::Options limits;
    limits.maxQueuedBytes = qint64(3) << 20;
    limits.queuedBytesBudget = qint64(4) << 20;
    Source source(uniqueLocalUrl(), limits);
    QVERIFY(source.share);
    const QString otherUrl = uniqueLocalUrl();
    Source other(otherUrl, limits);
    QVERIFY(other.share);
    Subscriber victim(source.listener->address().toString());
    QTRY_VERIFY_WITH_TIMEOUT(victim.connected(), Deadline);
    QVERIFY(served(source, victim, 1));
    const quint64 victimConnection = source.share->base()->subscribers().value(0).connection;

    QSignalSpy rejectedHere(source.listener, &rio::RemoteListener::peerRejected);
    QSignalSpy closed(source.listener, &rio::RemoteListener::connectionClosed);
    QSignalSpy rejectedThere(other.listener, &rio::RemoteListener::peerRejected);
    const QByteArray ping = pingPacket(16384); // a Pong of about 32 KiB
    std::vector<int> flooders;
    for (int f = 0; f < 2; ++f) {
        const int fd = connectLocal(socketPath(otherUrl));
        QVERIFY(fd >= 0);
        flooders.push_back(fd);
        for (int i = 0; i < 58; ++i) {
            qsizetype done = 0;
            QVERIFY(QTest::qWaitFor(
                [&] {
                    const ssize_t n = ::send(fd, ping.constData() + done, size_t(ping.size() - done),
                                             MSG_NOSIGNAL | MSG_DONTWAIT);
                    if (n > 0)
                        done += n;
                    return done == ping.size();
                },
                Deadline));
        }
    }
    QVERIFY(rejectedThere.isEmpty());

    const auto sockets = victim.node.findChildren<QLocalSocket *>();
    QVERIFY(!sockets.isEmpty());
    for (QLocalSocket *socket : sockets) {
        socket->setReadBufferSize(65536);
        socket->blockSignals(true);
    }
    const QByteArray blob(4096, 'e');
    qint64 seq = 1;
    (void)QTest::qWaitFor(
        [&] {
            source.registry.notify(Payload{++seq, blob});
            return !rejectedHere.isEmpty() || !rejectedThere.isEmpty() ||
                   source.listener->bytesToWrite(victimConnection) >= (qint64(1) << 20) - 65536;
        },
        Deadline);
    // The flooders are dropped on their listener's thread.
    const bool shed =
        QTest::qWaitFor([&] { return !rejectedHere.isEmpty() || !rejectedThere.isEmpty(); }, Deadline);
    for (QLocalSocket *socket : sockets) {
        socket->blockSignals(false);
        Q_EMIT socket->readyRead();
    }
    for (const int fd : flooders)
        ::close(fd);
    QVERIFY2(rejectedHere.isEmpty(), qPrintable(rejectedHere.value(0).value(0).toString()));
    QVERIFY(shed); // the budget was passed, and a flooder went
    QCOMPARE(rejectedThere.size(), 1);
    QVERIFY(!closed.contains(QVariantList{victimConnection}));
    QTRY_COMPARE_WITH_TIMEOUT(victim.received.size(), int(seq), Deadline);
}

// The listener holding the largest holders lives on another thread, busy when the budget is
// passed: its connection is dropped there once it runs again, and until then it no longer counts
// (the subscriber whose event passed the budget is not dropped for it). Destroyed before it runs
// again, the listener takes the drop with it.
void tst_remote_promises::budgetShedsAListenerOnAnotherThread_data()
{
    QTest::addColumn<bool>("destroyFirst");
    QTest::newRow("dropped there") << false;
    QTest::newRow("listener destroyed first") << true;
}

void tst_remote_promises::budgetShedsAListenerOnAnotherThread()
{
    QFETCH(bool, destroyFirst);
    rio::RemoteListener::Options limits;
    limits.incompleteBytesBudget = qint64(4) << 20;
    limits.progressTimeout = 120s;
    limits.handshakeTimeout = 120s;
    Source source(uniqueLocalUrl(), limits);
    QVERIFY(source.share);
    Subscriber subscriber(source.listener->address().toString());
    QTRY_VERIFY_WITH_TIMEOUT(subscriber.connected(), Deadline);
    QVERIFY(served(source, subscriber, 1));
    QList<qint64> atSource;
    source.registry.add(this, [&](const Payload &p) { atSource.append(p.seq); },
                        {.connection = Qt::DirectConnection});

    // The other listener on a thread of its own, which goes busy (reads nothing) when told to, until
    // the gate opens; destroyFirst: its listener goes then, before it reads its events again.
    const QString otherUrl = uniqueLocalUrl();
    std::promise<bool> started;
    std::promise<void> entered;
    std::promise<void> gate;
    std::shared_future<void> opened = gate.get_future().share();
    std::atomic<bool> busy{false};
    std::atomic<bool> finish{false};
    std::atomic<bool> destroyed{false};
    std::thread otherThread([&] {
        {
            QEventLoop loop;
            Source other(otherUrl, limits);
            started.set_value(other.share != nullptr);
            while (!finish.load()) {
                if (busy.exchange(false)) {
                    entered.set_value();
                    opened.wait_for(std::chrono::milliseconds(4 * Deadline));
                    if (destroyFirst)
                        break;
                }
                loop.processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 10);
            }
        }
        destroyed.store(true);
        QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
    });
    // Whatever fails, the other thread is let go.
    const auto stop = qScopeGuard([&] {
        finish.store(true);
        if (opened.wait_for(std::chrono::seconds(0)) != std::future_status::ready)
            gate.set_value();
        otherThread.join();
    });
    QVERIFY(started.get_future().get());

    // Five hoarders on the other thread's listener: 3,900,020 bytes (size fields included), under
    // the budget.
    QByteArray part(4 + 780000, 'h');
    qToLittleEndian(quint32(1000000), part.data());
    std::vector<int> hoarders;
    for (int i = 0; i < 5; ++i) {
        const int fd = connectLocal(socketPath(otherUrl));
        QVERIFY(fd >= 0);
        hoarders.push_back(fd);
        const qint64 before = rio::RemoteListener::incompleteBytes();
        qsizetype done = 0;
        QVERIFY(QTest::qWaitFor(
            [&] {
                const ssize_t n = ::send(fd, part.constData() + done, size_t(part.size() - done),
                                         MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n > 0)
                    done += n;
                return done == part.size();
            },
            Deadline));
        QTRY_COMPARE_WITH_TIMEOUT(rio::RemoteListener::incompleteBytes(), before + part.size(), Deadline);
    }
    const qint64 hoarded = rio::RemoteListener::incompleteBytes();

    // The other thread is busy until the gate opens.
    std::future<void> isBusy = entered.get_future();
    busy.store(true);
    QCOMPARE(isBusy.wait_for(std::chrono::milliseconds(Deadline)), std::future_status::ready);
    QSignalSpy rejectedHere(source.listener, &rio::RemoteListener::peerRejected);
    subscriber.registry->notify(Payload{600, QByteArray(600000, 'b')});
    const bool arrived =
        QTest::qWaitFor([&] { return atSource.contains(600) || !rejectedHere.isEmpty(); }, Deadline);
    // The oldest hoarder no longer counts: what is left is the four others.
    const qint64 whileBusy = rio::RemoteListener::incompleteBytes();
    gate.set_value();
    QVERIFY2(rejectedHere.isEmpty(), qPrintable(rejectedHere.value(0).value(0).toString()));
    QVERIFY(arrived);
    QCOMPARE(whileBusy, hoarded - part.size());
    if (destroyFirst) {
        QTRY_VERIFY_WITH_TIMEOUT(destroyed.load(), Deadline);
        QCOMPARE(rio::RemoteListener::incompleteBytes(), qint64(0));
        for (const int fd : hoarders)
            QTRY_VERIFY_WITH_TIMEOUT(isClosed(fd), Deadline);
    } else {
        // The oldest hoarder goes, the others stay.
        QTRY_VERIFY_WITH_TIMEOUT(isClosed(hoarders.front()), Deadline);
        QTRY_COMPARE_WITH_TIMEOUT(rio::RemoteListener::incompleteBytes(), hoarded - part.size(), Deadline);
        for (std::size_t i = 1; i < hoarders.size(); ++i)
            QVERIFY(!isClosed(hoarders[i]));
    }
    for (const int fd : hoarders)
        ::close(fd);
    QVERIFY(served(source, subscriber, 2));
}

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (argc == 3 && QByteArray(argv[1]) == "--listen")
        return listenChild(QString::fromLocal8Bit(argv[2]));
    if (argc == 4 && QByteArray(argv[1]) == "--plain")
        return plainChild(QString::fromLocal8Bit(argv[2]), QString::fromLocal8Bit(argv[3]));
    tst_remote_promises test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}
#include "tst_remote_promises.moc"
