// SPDX-License-Identifier: MIT
// What one misbehaving or hostile peer, or one bad second of the process, can do to a source and
// to its other subscribers: the listener's socket outlives failed accept() calls; a subscriber's
// control (unsubscribe, origin, ready) belongs to the connection that subscribed; what the source
// holds for a peer is bounded per peer and per process. Real sockets, both ends in this process
// (each node is its own connection); every wait is on an observable state, with a deadline.
#include "remote_payload.h"

#include <registryio/qt/qt_registry.h>
#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_registry.h>
#include <registryio/remote/remote_share.h>

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QLocalSocket>
#include <QRectF>
#include <QRemoteObjectDynamicReplica>
#include <QRemoteObjectHost>
#include <QRemoteObjectNode>
#include <QSignalSpy>
#include <QTest>
#include <QtEndian>
#include <QtRemoteObjects/qtremoteobjectglobal.h>

#include <array>
#include <atomic>
#include <thread>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr int Deadline = 30000; // ms: the longest any single observation may take

QString uniqueLocalUrl()
{
    static int counter = 0;
    return QStringLiteral("local:rio-remote-peers-%1-%2")
        .arg(QCoreApplication::applicationPid())
        .arg(++counter);
}

// An in-process source: host, listener, registry, share "orders".
struct Source
{
    QRemoteObjectHost host;
    rio::RemoteListener *listener;
    rio::QtRegistry<Payload> registry;
    std::unique_ptr<rio::RemoteShare<Payload>> share;

    explicit Source(const QString &url, rio::RemoteShareOptions options = {},
                    rio::RemoteListener::Options limits = {})
        : listener(new rio::RemoteListener(&host, limits))
    {
        if (listener->listen(QUrl(url)))
            share = std::make_unique<rio::RemoteShare<Payload>>(&host, QStringLiteral("orders"), registry,
                                                                options);
    }
    [[nodiscard]] QString address() const { return listener->address().toString(); }
    // The connection of the first subscriber that is still subscribed.
    [[nodiscard]] quint64 firstConnection() const { return share->base()->subscribers().value(0).connection; }
};

// A subscriber in this process on a node of its own: the events it received, in order.
struct Subscriber
{
    QRemoteObjectNode node;
    std::unique_ptr<rio::RemoteRegistry<Payload>> registry;
    QList<qint64> received;

    explicit Subscriber(const QString &address)
    {
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

// A plain Qt Remote Objects replica of `name` at `address` through `node` (what any process that
// reaches the socket can get), or null when it does not become valid in time.
std::unique_ptr<QRemoteObjectDynamicReplica> rawReplica(QRemoteObjectNode &node, const QString &address,
                                                        const QString &name = QStringLiteral("orders"))
{
    if (!rio::connectToSource(&node, QUrl(address)))
        return nullptr;
    std::unique_ptr<QRemoteObjectDynamicReplica> replica(node.acquireDynamic(name));
    if (!replica->waitForSource(Deadline))
        return nullptr;
    return replica;
}

bool invoke(QRemoteObjectDynamicReplica &replica, const char *slot, quint64 key)
{
    const QMetaObject *meta = replica.metaObject();
    const int index = meta->indexOfSlot(slot);
    return index >= 0 && meta->method(index).invoke(&replica, Qt::DirectConnection, Q_ARG(qulonglong, key));
}

// Subscribes through `replica` with the secret secretFor(n).
bool subscribe(QRemoteObjectDynamicReplica &replica, quint64 n)
{
    const QMetaObject *meta = replica.metaObject();
    const int index = meta->indexOfSlot("subscribe(QByteArray)");
    return index >= 0 &&
           meta->method(index).invoke(&replica, Qt::DirectConnection, Q_ARG(QByteArray, secretFor(n)));
}

bool post(QRemoteObjectDynamicReplica &replica, const QByteArray &frame)
{
    const QMetaObject *meta = replica.metaObject();
    const int index = meta->indexOfSlot("post(QByteArray)");
    return index >= 0 && meta->method(index).invoke(&replica, Qt::DirectConnection, Q_ARG(QByteArray, frame));
}

// A post frame (version 2, count, count x (origin, length, payload); big-endian), written out here
// so that the test does not lean on the codec it checks.
QByteArray postFrame(quint64 origin, const QByteArray &payload)
{
    QByteArray bytes(1 + 4 + 8 + 4, Qt::Uninitialized);
    bytes[0] = char(2);
    qToBigEndian(quint32(1), bytes.data() + 1);
    qToBigEndian(origin, bytes.data() + 5);
    qToBigEndian(quint32(payload.size()), bytes.data() + 13);
    return bytes + payload;
}

// The names of the channels of "orders" that `node` sees (QRemoteObjectNode::instances lists every
// object of the source, to every connection).
QStringList channelNames(QRemoteObjectNode &node)
{
    // A source remoted without a type (no .rep) is listed under the empty type name.
    return node.instances(QStringView()).filter(QRegularExpression(QStringLiteral("^orders#")));
}

// A subscriber's key as any connection reads it: the hex after '#' in the name of its channel.
quint64 publishedKey(QRemoteObjectNode &node)
{
    const QStringList names = channelNames(node);
    return names.isEmpty() ? 0 : names.first().mid(7).toULongLong(nullptr, 16);
}

// The warning that drops a connection of this process over local:, which names it (its id, any
// but `notId`: the victim's; the peer's process and user), then says `why` (a pattern).
QRegularExpression dropOf(const QString &why, quint64 notId = 0)
{
    return QRegularExpression(QStringLiteral("connection (?!%1 )\\d+ \\(local:[^ ]+ pid %2 uid %3\\)[ ,].*%4")
                                  .arg(notId)
                                  .arg(QCoreApplication::applicationPid())
                                  .arg(::getuid())
                                  .arg(why));
}

// A raw TCP connection to 127.0.0.1:`port` (no accept() needed: it waits in the backlog).
int connectRawTcp(quint16 port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<const sockaddr *>(&address), sizeof(address)) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// A raw connection to the socket file at `path` (no accept() needed: it waits in the backlog).
int connectRaw(const QString &path)
{
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const QByteArray bytes = QFile::encodeName(path);
    std::memcpy(address.sun_path, bytes.constData(),
                std::min(sizeof(address.sun_path) - 1, size_t(bytes.size())));
    if (::connect(fd, reinterpret_cast<const sockaddr *>(&address), sizeof(address)) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// A Qt Remote Objects packet as it travels: its size (32 bits, little-endian), then its body.
QByteArray roPacket(const QByteArray &body)
{
    QByteArray bytes(4, Qt::Uninitialized);
    qToLittleEndian(quint32(body.size()), bytes.data());
    return bytes + body;
}

// A whole Ping packet for `name` (the source answers with a Pong of the same name).
QByteArray roPing(const QString &name)
{
    QByteArray body;
    QDataStream stream(&body, QIODevice::WriteOnly);
    stream.setVersion(QDataStream::Qt_6_2);
    stream.setByteOrder(QDataStream::LittleEndian);
    stream << quint16(QtRemoteObjects::Ping) << name;
    return roPacket(body);
}

// An invocation packet: of `name`'s method (or property, for a `call` of WriteProperty) `index`
// with `arguments` (each a QVariant), no reply wanted.
QByteArray roInvoke(const QString &name, int index, const QVariantList &arguments = {},
                    QMetaObject::Call call = QMetaObject::InvokeMetaMethod)
{
    QByteArray body;
    QDataStream stream(&body, QIODevice::WriteOnly);
    stream.setVersion(QDataStream::Qt_6_2);
    stream.setByteOrder(QDataStream::LittleEndian);
    stream << quint16(QtRemoteObjects::InvokePacket) << name << qint32(call) << qint32(index)
           << quint32(arguments.size());
    for (const QVariant &argument : arguments)
        stream << argument;
    stream << qint32(-1) << qint32(-1);
    return roPacket(body);
}

// An AddObject packet for `name` (dynamic): a connection invokes only what it acquired.
QByteArray roAcquire(const QString &name)
{
    QByteArray body;
    QDataStream stream(&body, QIODevice::WriteOnly);
    stream.setVersion(QDataStream::Qt_6_2);
    stream.setByteOrder(QDataStream::LittleEndian);
    stream << quint16(QtRemoteObjects::AddObject) << name << quint8(1);
    return roPacket(body);
}

// A packet of `type` (not one Qt Remote Objects knows, say) for `name`, with a few bytes more.
QByteArray roTyped(quint16 type, const QString &name)
{
    QByteArray body;
    QDataStream stream(&body, QIODevice::WriteOnly);
    stream.setVersion(QDataStream::Qt_6_2);
    stream.setByteOrder(QDataStream::LittleEndian);
    stream << type << name << qint32(0);
    return roPacket(body);
}

// Whether the other end closes the raw connection `fd` (what it sent before is read and dropped)
// before the deadline, while this thread's event loop runs.
bool closedByPeer(int fd)
{
    return QTest::qWaitFor(
        [fd] {
            char buffer[4096];
            for (;;) {
                const ssize_t n = ::recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
                if (n > 0)
                    continue;
                return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
            }
        },
        Deadline);
}

// Writes `bytes` to the raw connection `fd` while this thread's event loop runs (the source in
// this process reads them); false when the connection closes or the deadline passes first.
bool writeAll(int fd, const QByteArray &bytes)
{
    qsizetype done = 0;
    return QTest::qWaitFor(
               [&] {
                   while (done < bytes.size()) {
                       const ssize_t n = ::send(fd, bytes.constData() + done, size_t(bytes.size() - done),
                                                MSG_NOSIGNAL | MSG_DONTWAIT);
                       if (n > 0) {
                           done += n;
                           continue;
                       }
                       if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                           return true; // closed: reported below
                       return false;
                   }
                   return true;
               },
               Deadline) &&
           done == bytes.size();
}

// Holds the process at its open-file limit while it lives: the soft limit lowered and every
// descriptor below it taken, so that accept() fails with EMFILE.
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
        low.rlim_cur = rlim_t(highest) + 8;
        m_ok = ::setrlimit(RLIMIT_NOFILE, &low) == 0;
        for (int i = 0; m_ok && i < highest + 8; ++i) {
            const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                break;
            m_taken.push_back(fd);
        }
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

// A class that names its Qt Remote Objects type (as repc's Source classes do), and a subclass with
// a slot of its own: Qt Remote Objects remotes the named class's API, not the subclass's.
class NamedTypeSource : public QObject
{
    Q_OBJECT
    Q_CLASSINFO(QCLASSINFO_REMOTEOBJECT_TYPE, "NamedType")

public Q_SLOTS:
    void setName(const QString &name) { this->name = name; }

public:
    QString name;
};

class NamedTypeSubclass : public NamedTypeSource
{
    Q_OBJECT

public Q_SLOTS:
    void nudge(qlonglong by) { nudged += by; }

public:
    qlonglong nudged = 0;
};

} // namespace

class tst_RemotePeers : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void listenerSurvivesFailedAccepts_data();
    void listenerSurvivesFailedAccepts();
    void anotherConnectionCannotUnsubscribeASubscriber();
    void anotherConnectionCannotPostAsASubscriber();
    void aChannelsPublishedNameDoesNotClaimIt();
    void peerThatSendsPingsAndNeverReadsIsDropped();
    void peerThatAcquiresAChannelAndNeverReadsIsDropped();
    void longestIncompletePacketGoesWhenTheBudgetIsPassed();
    void unreadySubscriptionsAreBoundedAndNeverHoldABlockShare();
    void unreadyBudgetDropsTheLargestHolderNotANewSubscriber();
    void blockRelaysEverySubscribersEventToAStalledSubscriber();
    void packetsQtRemoteObjectsDecodesUnsafelyDropTheirPeer_data();
    void packetsQtRemoteObjectsDecodesUnsafelyDropTheirPeer();
    void subclassOfANamedTypeIsScreenedByTheApiQtRemoteObjectsRemotes();
    void burstOfTcpConnectsIsAcceptedWhole();
};

// A victim subscribed, an attacker with a plain Qt Remote Objects connection that reads the
// victim's key from the object names every connection sees.
struct Attack
{
    Source source{uniqueLocalUrl()};
    std::unique_ptr<Subscriber> victim;
    QRemoteObjectNode attackerNode;
    std::unique_ptr<QRemoteObjectDynamicReplica> attacker;
    quint64 key = 0;
    QList<qint64> atSource;

    bool start()
    {
        if (!source.share)
            return false;
        source.registry.add(&source.host, [this](const Payload &p) { atSource.append(p.seq); },
                            {.connection = Qt::DirectConnection});
        victim = std::make_unique<Subscriber>(source.address());
        if (!QTest::qWaitFor([this] { return victim->connected(); }, Deadline))
            return false;
        attacker = rawReplica(attackerNode, source.address());
        return attacker &&
               QTest::qWaitFor([this] { return (key = publishedKey(attackerNode)) != 0; }, Deadline);
    }

    // The victim still gets what the source notifies, and the source what the victim notifies.
    bool victimIsServed(qint64 seq)
    {
        source.registry.notify(Payload{seq, {}});
        if (!QTest::qWaitFor([&] { return victim->received.contains(seq); }, Deadline))
            return false;
        victim->registry->notify(Payload{seq + 1, {}});
        return QTest::qWaitFor([&] { return atSource.contains(seq + 1); }, Deadline);
    }
};

// unsubscribe() with a key that another connection subscribed with drops the connection that
// sent it; the subscriber keeps its subscription.
void tst_RemotePeers::anotherConnectionCannotUnsubscribeASubscriber()
{
    Attack attack;
    QVERIFY(attack.start());
    QSignalSpy rejected(attack.source.listener, &rio::RemoteListener::peerRejected);
    QTest::ignoreMessage(QtWarningMsg, dropOf("sent unsubscribe\\(\\) for another connection's subscriber",
                                              attack.source.firstConnection()));
    QVERIFY(invoke(*attack.attacker, "unsubscribe(qulonglong)", attack.key));
    QTRY_COMPARE_WITH_TIMEOUT(rejected.size(), 1, Deadline);
    QTRY_VERIFY_WITH_TIMEOUT(attack.attacker->state() != QRemoteObjectReplica::Valid, Deadline);
    QCOMPARE(attack.source.share->base()->subscriberCount(), 1);
    QVERIFY(attack.victimIsServed(1));
    QCOMPARE(attack.source.listener->rejectedCount(), quint64(1));
}

// An event posted with another connection's subscriber as its origin (which that subscriber
// would skip as its own) is refused whole, and the connection that sent it is dropped.
void tst_RemotePeers::anotherConnectionCannotPostAsASubscriber()
{
    Attack attack;
    QVERIFY(attack.start());
    QSignalSpy rejected(attack.source.listener, &rio::RemoteListener::peerRejected);
    QTest::ignoreMessage(QtWarningMsg,
                         dropOf("not a subscription of its connection", attack.source.firstConnection()));
    QVERIFY(post(*attack.attacker,
                 postFrame(attack.key, rio::detail::encodeRemoteEvent(Payload{666, QByteArray("forged")}))));
    QTRY_COMPARE_WITH_TIMEOUT(rejected.size(), 1, Deadline);
    QVERIFY(attack.victimIsServed(1));
    QVERIFY(!attack.atSource.contains(666));
    QVERIFY(!attack.victim->received.contains(666));
}

// A peer that read a subscriber's channel name subscribes with every secret the name suggests:
// each is a subscription of its own, on a channel of its own; the subscriber keeps its channel and
// its events, and nobody is dropped.
void tst_RemotePeers::aChannelsPublishedNameDoesNotClaimIt()
{
    Attack attack;
    QVERIFY(attack.start());
    QSignalSpy rejected(attack.source.listener, &rio::RemoteListener::peerRejected);
    QByteArray asBytes(16, '\0');
    qToBigEndian(attack.key, asBytes.data());
    qToBigEndian(attack.key, asBytes.data() + 8);
    const QByteArray hex = QByteArray::number(attack.key, 16).rightJustified(16, '0');
    const QMetaObject *meta = attack.attacker->metaObject();
    const int index = meta->indexOfSlot("subscribe(QByteArray)");
    QVERIFY(index >= 0);
    for (const QByteArray &secret : {asBytes, hex})
        QVERIFY(meta->method(index).invoke(attack.attacker.get(), Qt::DirectConnection,
                                           Q_ARG(QByteArray, secret)));
    QTRY_COMPARE_WITH_TIMEOUT(attack.source.share->base()->subscriberCount(), 3, Deadline);
    const quint64 victimConnection = attack.source.firstConnection();
    for (const rio::RemoteSubscriberInfo &info : attack.source.share->base()->subscribers())
        QCOMPARE(info.connection == victimConnection, info.id == 1);
    QStringList names;
    QTRY_VERIFY_WITH_TIMEOUT((names = channelNames(attack.attackerNode)).size() == 3, Deadline);
    QCOMPARE(names.count(QStringLiteral("orders#") + QString::number(attack.key, 16)), 1);
    QVERIFY(attack.victimIsServed(1));
    QVERIFY(rejected.isEmpty());
}

// The process at its open-file limit while connections arrive: accept() fails (EMFILE). The
// listener keeps its socket file and its name: the waiting connections are accepted once
// descriptors are free, new subscribers connect, a second listener on the name is refused, and
// the failure is one warning and counted.
void tst_RemotePeers::listenerSurvivesFailedAccepts_data()
{
    QTest::addColumn<QString>("url");
    QTest::newRow("local") << uniqueLocalUrl();
    QTest::newRow("tcp") << QStringLiteral("tcp://127.0.0.1:0");
}

// At the open-file limit accept() fails: over local: and TCP alike, each failure is counted, one
// warning says so, the listener keeps its socket (and its local: name), and the connections that
// waited are accepted once descriptors are free again.
void tst_RemotePeers::listenerSurvivesFailedAccepts()
{
    QFETCH(QString, url);
    const bool local = url.startsWith(QLatin1String("local:"));
    Source source(url);
    QVERIFY2(source.share, qPrintable(source.listener->errorString()));
    const QString path = QDir::cleanPath(QDir::tempPath()) + QLatin1Char('/') + QUrl(url).path();
    QVERIFY(!local || QFile::exists(path));
    QSignalSpy connections(source.listener, &rio::RemoteListener::connectionCountChanged);

    QTest::ignoreMessage(QtWarningMsg, QRegularExpression("accepting a connection failed"));
    QTest::failOnWarning(QRegularExpression("accepting a connection failed"));
    std::vector<int> waiting;
    {
        for (int i = 0; i < 3; ++i) {
            const int fd =
                local ? connectRaw(path) : connectRawTcp(quint16(source.listener->address().port()));
            QVERIFY(fd >= 0);
            waiting.push_back(fd);
        }
        const AtFileLimit limit;
        QVERIFY(limit.ok());
        // Several retries fail, each counted, one warning.
        QTRY_VERIFY_WITH_TIMEOUT(source.listener->acceptFailures() >= 3, Deadline);
        QCOMPARE(source.listener->connectionCount(), 0);
        QVERIFY(!local || QFile::exists(path));
    }
    // Descriptors free again: the connections that waited are accepted.
    QTRY_COMPARE_WITH_TIMEOUT(source.listener->connectionCount(), 3, Deadline);
    for (const int fd : waiting)
        ::close(fd);
    QTRY_COMPARE_WITH_TIMEOUT(source.listener->connectionCount(), 0, Deadline);

    if (local) { // the name is still this listener's: a second one is refused
        QRemoteObjectHost otherHost;
        rio::RemoteListener other(&otherHost);
        QVERIFY(!other.listen(QUrl(url)));
        QVERIFY2(other.errorString().contains(QLatin1String("in use")), qPrintable(other.errorString()));
    }
    Subscriber subscriber(source.address());
    QTRY_VERIFY_WITH_TIMEOUT(subscriber.connected(), Deadline);
    source.registry.notify(Payload{7, {}});
    QTRY_COMPARE_WITH_TIMEOUT(subscriber.received, QList<qint64>{7}, Deadline);
}

// A peer that sends Pings and never reads the Pongs is dropped once its connection has more than
// maxQueuedBytes waiting, with one warning that names it; the subscriber beside it goes on.
void tst_RemotePeers::peerThatSendsPingsAndNeverReadsIsDropped()
{
    rio::RemoteListener::Options limits;
    limits.maxQueuedBytes = qint64(2) << 20;
    const QString url = uniqueLocalUrl();
    Source source(url, {}, limits);
    QVERIFY(source.share);
    Subscriber good(source.address());
    QTRY_VERIFY_WITH_TIMEOUT(good.connected(), Deadline);
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    QTest::ignoreMessage(QtWarningMsg,
                         dropOf("has \\d+ bytes waiting to be written.*does not read what it is sent",
                                source.firstConnection()));

    const int fd = connectRaw(QDir::cleanPath(QDir::tempPath()) + QLatin1Char('/') + QUrl(url).path());
    QVERIFY(fd >= 0);
    const QByteArray ping = roPing(QString(16384, QLatin1Char('p'))); // 32 KiB answered by 32 KiB
    // At most 16 MiB of Pings: eight times the limit, far beyond what the socket buffers take.
    for (int i = 0; i < 512 && rejected.isEmpty(); ++i) {
        if (!writeAll(fd, ping))
            break;
    }
    QTRY_COMPARE_WITH_TIMEOUT(rejected.size(), 1, Deadline);
    QVERIFY(rejected.first().first().toString().contains(QLatin1String("pid ")));
    ::close(fd);
    source.registry.notify(Payload{1, {}});
    QTRY_COMPARE_WITH_TIMEOUT(good.received, QList<qint64>{1}, Deadline);
}

// A peer that acquires a subscriber's channel (its name is public) and never reads is dropped
// once its connection has more than maxQueuedBytes waiting; the subscriber gets every event.
void tst_RemotePeers::peerThatAcquiresAChannelAndNeverReadsIsDropped()
{
    rio::RemoteListener::Options limits;
    limits.maxQueuedBytes = qint64(2) << 20;
    Source source(uniqueLocalUrl(), {}, limits);
    QVERIFY(source.share);
    Subscriber victim(source.address());
    QTRY_VERIFY_WITH_TIMEOUT(victim.connected(), Deadline);
    QRemoteObjectNode attackerNode;
    QVERIFY(rio::connectToSource(&attackerNode, QUrl(source.address())));
    quint64 key = 0;
    QTRY_VERIFY_WITH_TIMEOUT((key = publishedKey(attackerNode)) != 0, Deadline);
    const std::unique_ptr<QRemoteObjectDynamicReplica> channel(
        attackerNode.acquireDynamic(QStringLiteral("orders#") + QString::number(key, 16)));
    QVERIFY(channel->waitForSource(Deadline));
    // The attacker stops reading: its socket buffers 64 KiB, then the kernel's buffers fill.
    const auto sockets = attackerNode.findChildren<QLocalSocket *>();
    QVERIFY(!sockets.isEmpty());
    for (QLocalSocket *socket : sockets) {
        socket->setReadBufferSize(65536);
        socket->blockSignals(true);
    }
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    QTest::ignoreMessage(QtWarningMsg, dropOf("does not read what it is sent", source.firstConnection()));
    constexpr int Events = 4000; // 4 KiB each: 16 MiB, eight times the limit
    const QByteArray blob(4096, 'e');
    for (int i = 1; i <= Events; ++i) {
        source.registry.notify(Payload{i, blob});
        if (i % 50 == 0)
            QVERIFY(QTest::qWaitFor([&] { return victim.received.size() >= i - 200; }, Deadline));
    }
    QTRY_COMPARE_WITH_TIMEOUT(victim.received.size(), Events, Deadline);
    QCOMPARE(rejected.size(), 1);
    QCOMPARE(source.share->base()->droppedCount(), quint64(0));
    for (QLocalSocket *socket : sockets)
        socket->blockSignals(false);
}

// Connections that hold packets not yet whole for long keep the budget: when a subscriber's
// large event passes it, the connection whose packet has been incomplete longest goes (one
// warning naming it), not the subscriber, whose event arrives.
void tst_RemotePeers::longestIncompletePacketGoesWhenTheBudgetIsPassed()
{
    rio::RemoteListener::Options limits;
    limits.incompleteBytesBudget = qint64(4) << 20;
    limits.progressTimeout = 120s;
    limits.handshakeTimeout = 120s;
    const QString url = uniqueLocalUrl();
    Source source(url, {}, limits);
    QVERIFY(source.share);
    QList<QByteArray> atSource;
    source.registry.add(&source.host, [&](const Payload &p) { atSource.append(p.blob); },
                        {.connection = Qt::DirectConnection});
    Subscriber good(source.address());
    QTRY_VERIFY_WITH_TIMEOUT(good.connected(), Deadline);
    const quint64 goodConnection = source.share->base()->subscribers().value(0).connection;
    QVERIFY(goodConnection != 0);

    // Five connections each hold 820,000 bytes of a packet announced as 1,000,000: 4,100,000 of
    // the 4,194,304 the budget allows.
    constexpr int Holders = 5;
    constexpr qint64 Held = 820000;
    QByteArray announce(4, Qt::Uninitialized);
    qToLittleEndian(quint32(1000000), announce.data());
    const QByteArray hold = roPing(QStringLiteral("orders")) + announce + QByteArray(Held, 'h');
    const QString path = QDir::cleanPath(QDir::tempPath()) + QLatin1Char('/') + QUrl(url).path();
    std::vector<int> holders;
    for (int i = 0; i < Holders; ++i) {
        const int fd = connectRaw(path);
        QVERIFY(fd >= 0);
        holders.push_back(fd);
        QVERIFY(writeAll(fd, hold));
        QTRY_VERIFY_WITH_TIMEOUT(rio::RemoteListener::incompleteBytes() >= (i + 1) * Held, Deadline);
    }
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    QTest::ignoreMessage(QtWarningMsg, dropOf("whose packet has been incomplete longest", goodConnection));
    // The subscriber's packet of 600,000 bytes passes the budget before it is whole.
    good.registry->notify(Payload{1, QByteArray(600000, 'g')});
    QTRY_COMPARE_WITH_TIMEOUT(atSource.size(), 1, Deadline);
    QCOMPARE(atSource.first().size(), 600000);
    QVERIFY(good.connected());
    QCOMPARE(rejected.size(), 1);
    QVERIFY2(
        !rejected.first().first().toString().contains(QStringLiteral("connection %1 ").arg(goodConnection)),
        qPrintable(rejected.first().first().toString()));
    QVERIFY(rio::RemoteListener::incompleteBytes() <= limits.incompleteBytesBudget);
    for (const int fd : holders)
        ::close(fd);
    QTRY_COMPARE_WITH_TIMEOUT(rio::RemoteListener::incompleteBytes(), qint64(0), Deadline);
}

// Subscriptions that never acquire their channel: a Block share's senders do not wait for them
// (a healthy subscriber gets every event at its pace), each holds at most a small backlog, more
// than 64 on one connection drop that peer, and one not ready 10 s after subscribing drops its
// connection, with one warning.
void tst_RemotePeers::unreadySubscriptionsAreBoundedAndNeverHoldABlockShare()
{
    rio::RemoteShareOptions options;
    options.overflow = rio::Overflow::Block;
    options.capacity = 16;
    options.blockTimeout = 10s;
    Source source(uniqueLocalUrl(), options);
    QVERIFY(source.share);
    Subscriber healthy(source.address());
    QTRY_VERIFY_WITH_TIMEOUT(healthy.connected(), Deadline);
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);

    // One connection asks for 65 subscriptions and acquires none: dropped at the 65th.
    QTest::ignoreMessage(QtWarningMsg, dropOf("sent more than 64 subscriptions that did not acquire"));
    {
        QRemoteObjectNode greedyNode;
        const auto greedy = rawReplica(greedyNode, source.address());
        QVERIFY(greedy);
        for (quint64 key = 1; key <= 65; ++key)
            QVERIFY(subscribe(*greedy, 0x1000 + key));
        QTRY_COMPARE_WITH_TIMEOUT(rejected.size(), 1, Deadline);
        QTRY_COMPARE_WITH_TIMEOUT(source.share->base()->subscriberCount(), 1, Deadline);
    }

    // Another subscribes once and never acquires its channel.
    QRemoteObjectNode stuckNode;
    const auto stuck = rawReplica(stuckNode, source.address());
    QVERIFY(stuck);
    QVERIFY(subscribe(*stuck, 0x5eed));
    QTRY_COMPARE_WITH_TIMEOUT(source.share->base()->subscriberCount(), 2, Deadline);
    QTest::ignoreMessage(QtWarningMsg, dropOf("did not acquire its channel within 10000 ms"));

    // A sender on another thread: every event reaches the healthy subscriber, none waits for the
    // stuck one (each would wait blockTimeout).
    constexpr int Events = 2000;
    std::atomic<bool> stop{false};
    std::jthread sender([&] {
        for (int i = 1; i <= Events && !stop.load(); ++i)
            source.registry.notify(Payload{i, {}});
    });
    const bool all = QTest::qWaitFor([&] { return healthy.received.size() == Events; }, Deadline);
    stop.store(true);
    QVERIFY2(all, qPrintable(QStringLiteral("%1 of %2 events").arg(healthy.received.size()).arg(Events)));
    sender.join();
    for (int i = 0; i < Events; ++i)
        QCOMPARE(healthy.received.at(i), qint64(i + 1));
    for (const rio::RemoteSubscriberInfo &info : source.share->base()->subscribers()) {
        if (!info.receiving)
            QVERIFY(info.pending <= 16);
    }
    // Not ready 10 s after subscribing: its connection goes.
    QTRY_COMPARE_WITH_TIMEOUT(rejected.size(), 2, Deadline);
    QTRY_COMPARE_WITH_TIMEOUT(source.share->base()->subscriberCount(), 1, Deadline);
    QVERIFY(healthy.connected());
}

// Subscriptions that never acquire their channel fill the process's budget of 256 (one connection
// holds 64 of each of three shares, another 64 of a fourth): a subscriber that arrives then is
// served, and the connection holding the most goes, with one warning naming it.
void tst_RemotePeers::unreadyBudgetDropsTheLargestHolderNotANewSubscriber()
{
    Source source(uniqueLocalUrl());
    QVERIFY(source.share);
    std::array<rio::QtRegistry<Payload>, 3> registries;
    std::vector<std::unique_ptr<rio::RemoteShare<Payload>>> shares;
    for (std::size_t i = 0; i < registries.size(); ++i)
        shares.push_back(std::make_unique<rio::RemoteShare<Payload>>(
            &source.host, QStringLiteral("more%1").arg(i), registries[i]));
    const auto unready = [&] {
        int n = source.share->base()->subscriberCount();
        for (const auto &share : shares)
            n += share->base()->subscriberCount();
        return n;
    };
    QRemoteObjectNode bigNode;
    QRemoteObjectNode smallNode;
    std::vector<std::unique_ptr<QRemoteObjectDynamicReplica>> big;
    for (std::size_t i = 0; i < shares.size(); ++i) {
        big.push_back(rawReplica(bigNode, source.address(), QStringLiteral("more%1").arg(i)));
        QVERIFY(big.back());
    }
    const auto small = rawReplica(smallNode, source.address());
    QVERIFY(small);
    for (quint64 key = 1; key <= 64; ++key) {
        for (std::size_t i = 0; i < big.size(); ++i)
            QVERIFY(subscribe(*big[i], (quint64(i + 1) << 32) + key));
        QVERIFY(subscribe(*small, (quint64(9) << 32) + key));
    }
    QTRY_COMPARE_WITH_TIMEOUT(unready(), 256, Deadline);
    const quint64 bigConnection = shares.front()->base()->subscribers().value(0).connection;
    const quint64 smallConnection = source.share->base()->subscribers().value(0).connection;
    QVERIFY(bigConnection != 0 && smallConnection != 0 && bigConnection != smallConnection);

    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    const QString named = QStringLiteral("connection %1 \\(local:.*\\), with the most \\(192\\), is dropped")
                              .arg(bigConnection);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(named));
    QTest::failOnWarning(QRegularExpression(QStringLiteral("dropped")));
    Subscriber good(source.address());
    QTRY_VERIFY_WITH_TIMEOUT(good.connected(), Deadline);
    QTRY_COMPARE_WITH_TIMEOUT(unready(), 64 + 1, Deadline);
    QCOMPARE(rejected.size(), 1);
    QVERIFY(QRegularExpression(named).match(rejected.first().first().toString()).hasMatch());
    source.registry.notify(Payload{1, {}});
    QTRY_COMPARE_WITH_TIMEOUT(good.received, QList<qint64>{1}, Deadline);
    QVERIFY(small->state() == QRemoteObjectReplica::Valid);
}

// Block is lossless for the events subscribers send too: the share relays them on its own thread,
// which never waits, so while a subscriber's backlog is full the source stops reading the sender's
// connection instead of dropping. A stalled subscriber gets every event the other sent, in order,
// once it reads again, and nothing is counted as dropped on either side.
void tst_RemotePeers::blockRelaysEverySubscribersEventToAStalledSubscriber()
{
    rio::RemoteShareOptions options;
    options.overflow = rio::Overflow::Block;
    options.capacity = 16;
    options.blockTimeout = 60s;
    Source source(uniqueLocalUrl(), options);
    QVERIFY(source.share);
    Subscriber stalled(source.address());
    Subscriber sender(source.address());
    QTRY_VERIFY_WITH_TIMEOUT(stalled.connected() && sender.connected(), Deadline);
    QList<qint64> atSource;
    source.registry.add(&source.host, [&](const Payload &p) { atSource.append(p.seq); },
                        {.connection = Qt::DirectConnection});

    // The stalled subscriber stops reading: its socket buffers 64 KiB, then the kernel's fill,
    // then the source's connection passes its high-water mark, then its backlog fills.
    const auto sockets = stalled.node.findChildren<QLocalSocket *>();
    QVERIFY(!sockets.isEmpty());
    for (QLocalSocket *socket : sockets) {
        socket->setReadBufferSize(65536);
        socket->blockSignals(true);
    }
    constexpr int Events = 1500; // 4 KiB each: 6 MB, well past what the wire and the backlog hold
    const QByteArray blob(4096, 's');
    for (int i = 1; i <= Events; ++i)
        sender.registry->notify(Payload{i, blob});
    // The backlog for the stalled subscriber is full: from here on the share holds the sender.
    QTRY_VERIFY_WITH_TIMEOUT(source.share->base()->pendingCount() >= options.capacity, Deadline);
    QVERIFY(atSource.size() < Events);
    for (QLocalSocket *socket : sockets) {
        socket->blockSignals(false);
        socket->setReadBufferSize(0); // a frame may be larger than the 64 KiB it was allowed
        Q_EMIT socket->readyRead();
    }
    QTRY_COMPARE_WITH_TIMEOUT(stalled.received.size(), Events, Deadline);
    for (int i = 0; i < Events; ++i)
        QCOMPARE(stalled.received.at(i), qint64(i + 1));
    QTRY_COMPARE_WITH_TIMEOUT(atSource.size(), Events, Deadline);
    QCOMPARE(source.share->base()->droppedCount(), quint64(0));
    QCOMPARE(sender.registry->link()->droppedUnsent(), quint64(0));
    QVERIFY(sender.connected());
}

void tst_RemotePeers::packetsQtRemoteObjectsDecodesUnsafelyDropTheirPeer_data()
{
    QTest::addColumn<QByteArray>("packet");
    QTest::addColumn<QString>("warning");
    // The share's source: post(QByteArray), subscribe(quint64), unsubscribe(quint64).
    for (int index = 0; index < 3; ++index)
        QTest::addRow("method %d, no arguments", index)
            << roInvoke(QStringLiteral("orders"), index) << QStringLiteral("with 0 arguments instead of 1");
    QTest::addRow("method 1, two arguments")
        << roInvoke(QStringLiteral("orders"), 1,
                    {QVariant::fromValue(quint64(7)), QVariant::fromValue(quint64(8))})
        << QStringLiteral("with 2 arguments instead of 1");
    QTest::addRow("property write, no value")
        << roInvoke(QStringLiteral("orders"), 0, {}, QMetaObject::WriteProperty)
        << QStringLiteral("a property write to \"orders\" with 0 values");
    QTest::addRow("Registry, no arguments")
        << roInvoke(QStringLiteral("Registry"), 0) << QStringLiteral("an invocation of \"Registry\" without");
    // What Qt Remote Objects reads of a packet comes from the stream, not from the packet.
    const QByteArray ping = roPing(QStringLiteral("orders"));
    const QByteArray smuggled = roInvoke(QStringLiteral("orders"), 0, {QRectF(1, 2, 3, 4)});
    QTest::addRow("a Ping with an invocation inside")
        << roPacket(ping.mid(4) + smuggled)
        << QStringLiteral("a packet of type 10 with %1 bytes more").arg(smuggled.size());
    QTest::addRow("handshake") << roTyped(QtRemoteObjects::Handshake, QStringLiteral("orders"))
                               << QStringLiteral("a packet of type 1, which a source does not read");
    QTest::addRow("post with a string")
        << roInvoke(QStringLiteral("orders"), 0, {QStringLiteral("x")})
        << QStringLiteral("whose argument 0 is a QString where a QByteArray is taken");
    QVariant nested = QVariantList{};
    for (int depth = 0; depth < 17; ++depth)
        nested = QVariantList{nested};
    QTest::addRow("lists nested 18 deep") << roInvoke(QStringLiteral("nothing-remoted"), 0, {nested})
                                          << QStringLiteral("nested more than 16 deep");
    const auto announcing = [](quint32 count, const QByteArray &after) {
        QByteArray body;
        QDataStream stream(&body, QIODevice::WriteOnly);
        stream.setVersion(QDataStream::Qt_6_2);
        stream.setByteOrder(QDataStream::LittleEndian);
        stream << quint16(QtRemoteObjects::InvokePacket) << QStringLiteral("nothing-remoted") << qint32(0)
               << qint32(0) << count;
        stream.writeRawData(after.constData(), int(after.size()));
        stream << qint32(-1) << qint32(-1);
        return roPacket(body);
    };
    QTest::addRow("arguments beyond the packet")
        << announcing(0x7fffffff, {}) << QStringLiteral("announcing 2147483647 arguments");
    QByteArray list;
    {
        QDataStream stream(&list, QIODevice::WriteOnly);
        stream.setByteOrder(QDataStream::LittleEndian);
        stream << quint32(QMetaType::QStringList) << qint8(0) << quint32(1000000);
    }
    QTest::addRow("list count beyond the packet")
        << announcing(1, list) << QStringLiteral("a QStringList announcing 1000000 elements");
    QTest::addRow("type 0") << roTyped(0, QStringLiteral("orders"))
                            << QStringLiteral("a packet of type 0, which a source does not read");
    QTest::addRow("type 99") << roTyped(99, QStringLiteral("orders"))
                             << QStringLiteral("a packet of type 99, which a source does not read");
}

// A raw peer sends one packet that Qt Remote Objects would decode unsafely (an invocation whose
// arguments do not match what the method takes: it indexes the missing ones) or could not place
// (a type it does not know): the listener drops that connection before Qt Remote Objects reads
// it, with one warning naming it, and counts it; the source and its subscriber go on.
void tst_RemotePeers::packetsQtRemoteObjectsDecodesUnsafelyDropTheirPeer()
{
    QFETCH(QByteArray, packet);
    QFETCH(QString, warning);
    const QString url = uniqueLocalUrl();
    Source source(url);
    QVERIFY(source.share);
    Subscriber good(source.address());
    QTRY_VERIFY_WITH_TIMEOUT(good.connected(), Deadline);

    const QString path = QDir::cleanPath(QDir::tempPath()) + QLatin1Char('/') + QUrl(url).path();
    const int fd = connectRaw(path);
    QVERIFY(fd >= 0);
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression(QStringLiteral("connection \\d+ \\(local:.*\\) sent .*") +
                                            QRegularExpression::escape(warning)));
    // After a valid packet, so that the bad one is not the first thing read.
    QVERIFY(writeAll(fd, roPing(QStringLiteral("orders")) + packet));
    QVERIFY(closedByPeer(fd));
    ::close(fd);
    QCOMPARE(rejected.size(), 1);
    QCOMPARE(source.listener->rejectedCount(), quint64(1));

    source.registry.notify(Payload{1, {}});
    QTRY_VERIFY_WITH_TIMEOUT(good.received.contains(1), Deadline);
    QVERIFY(good.connected());
    QCOMPARE(source.listener->connectionCount(), 1);
}

// An object remoted beside the share whose class derives from one that names its type: its
// methods are numbered from the named class (setName is 0), not from the subclass (nudge would
// be), so a qlonglong sent to method 0 drops its peer, and a QString reaches setName.
void tst_RemotePeers::subclassOfANamedTypeIsScreenedByTheApiQtRemoteObjectsRemotes()
{
    const QString url = uniqueLocalUrl();
    Source source(url);
    QVERIFY(source.share);
    NamedTypeSubclass object;
    QVERIFY(source.host.enableRemoting(&object, QStringLiteral("named")));
    source.listener->addSource(QStringLiteral("named"), &object);
    const QString path = QDir::cleanPath(QDir::tempPath()) + QLatin1Char('/') + QUrl(url).path();

    const int hostile = connectRaw(path);
    QVERIFY(hostile >= 0);
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression(QStringLiteral(
                             "connection \\d+ \\(local:.*\\) sent .*a qlonglong where a QString is taken")));
    QVERIFY(writeAll(hostile, roPing(QStringLiteral("named")) +
                                  roInvoke(QStringLiteral("named"), 0, {qlonglong(0x4141414141414141)})));
    QVERIFY(closedByPeer(hostile));
    ::close(hostile);
    QCOMPARE(rejected.size(), 1);

    const int peer = connectRaw(path);
    QVERIFY(peer >= 0);
    QVERIFY(writeAll(peer, roAcquire(QStringLiteral("named")) +
                               roInvoke(QStringLiteral("named"), 0, {QStringLiteral("ok")})));
    QTRY_COMPARE_WITH_TIMEOUT(object.name, QStringLiteral("ok"), Deadline);
    ::close(peer);
    QCOMPARE(object.nudged, 0);
    QCOMPARE(rejected.size(), 1);
}

// 300 TCP connects at once, none of which sends first (a Qt Remote Objects node waits for the
// source's handshake): every one is accepted. A listen queue shorter than the burst drops
// connections that the client, with SYN cookies, sees established and the source never does.
void tst_RemotePeers::burstOfTcpConnectsIsAcceptedWhole()
{
    rio::RemoteListener::Options limits;
    limits.handshakeTimeout = std::chrono::milliseconds(Deadline * 2);
    Source source(QStringLiteral("tcp://127.0.0.1:0"), {}, limits);
    QVERIFY(source.share);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(quint16(source.listener->address().port()));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    constexpr int Burst = 300;
    std::vector<int> fds;
    for (int i = 0; i < Burst; ++i) { // all sent before the source's thread accepts any
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        QVERIFY(fd >= 0);
        fds.push_back(fd);
        const int result = ::connect(fd, reinterpret_cast<const sockaddr *>(&address), sizeof(address));
        QVERIFY(result == 0 || errno == EINPROGRESS);
    }
    QTRY_COMPARE_WITH_TIMEOUT(source.listener->connectionCount(), Burst, Deadline);
    QCOMPARE(source.listener->rejectedCount(), quint64(0));
    for (const int fd : fds)
        ::close(fd);
}

QTEST_GUILESS_MAIN(tst_RemotePeers)
#include "tst_remote_peers.moc"
