// SPDX-License-Identifier: MIT
// What a peer may send now, and what a connection may hold: each connection's packets judged by
// what it sent before (an object acquired once until it is released, released only while held,
// invoked only once acquired; another connection's channel only to take its subscription over),
// and every write checked against the listener's limits before it is queued. Hostile peers with
// hand-built packets on raw sockets over local: and TCP, honest Qt Remote Objects nodes beside
// them; both ends in this process.
#include "tst_remote_inprocess.h"

#include "remote_outbox_p.h" // a subscriber's key, which names its channel

#include <QRegularExpression>

namespace {

// The share's methods as Qt Remote Objects numbers them (post, subscribe, unsubscribe, took), and
// a channel's (ready).
constexpr int SubscribeMethod = 1;
constexpr int ReadyMethod = 0;

QString channelOf(quint64 key)
{
    return QStringLiteral("orders#") + QString::number(key, 16);
}

QByteArray roSubscribe(const QByteArray &secret)
{
    return roInvoke(QStringLiteral("orders"), SubscribeMethod, 1, roArguments({QVariant(secret)}));
}

QByteArray roReady(const QString &channel)
{
    return roInvoke(channel, ReadyMethod, 0, {});
}

// Subscriptions with the secrets numbered from `first`, each acquired and made ready.
QByteArray roSubscriptions(quint64 first, int count)
{
    QByteArray packets;
    for (quint64 n = first; n < first + quint64(count); ++n) {
        const QString channel = channelOf(keyOf(secretFor(n)));
        packets += roSubscribe(secretFor(n)) + roAcquire(channel) + roReady(channel);
    }
    return packets;
}

QByteArray roRelease(const QString &name)
{
    QByteArray body;
    QDataStream stream(&body, QIODevice::WriteOnly);
    stream.setVersion(QDataStream::Qt_6_2);
    stream.setByteOrder(QDataStream::LittleEndian);
    stream << quint16(QtRemoteObjects::RemoveObject) << name;
    return roPacket(body);
}

// A source on `url` (local: or tcp:) with `limits`: host, listener, registry, share "orders".
struct Host
{
    QRemoteObjectHost host;
    rio::RemoteListener *listener;
    rio::QtRegistry<Payload> registry;
    std::unique_ptr<rio::RemoteShare<Payload>> share;

    explicit Host(const QString &url, rio::RemoteListener::Options limits = {},
                  rio::RemoteShareOptions options = {})
        : listener(new rio::RemoteListener(&host, limits))
    {
        if (listener->listen(QUrl(url)))
            share = std::make_unique<rio::RemoteShare<Payload>>(&host, QStringLiteral("orders"), registry,
                                                                options);
    }
    [[nodiscard]] QString address() const { return listener->address().toString(); }
    // The connection of the newest subscription once it acquired its channel and the share has
    // `subscribers` (0: not yet).
    [[nodiscard]] quint64 newestReceiving(int subscribers) const
    {
        const QList<rio::RemoteSubscriberInfo> all = share->base()->subscribers();
        const auto newest = std::max_element(all.begin(), all.end(),
                                             [](const auto &a, const auto &b) { return a.id < b.id; });
        return all.size() == subscribers && newest->receiving ? newest->connection : 0;
    }
};

// Notifies `seq` until `subscriber` has it.
bool served(Host &source, Subscriber &subscriber, qint64 seq)
{
    return QTest::qWaitFor(
        [&] {
            if (!subscriber.has(seq))
                source.registry.notify(Payload{seq, {}});
            return subscriber.has(seq);
        },
        Deadline);
}

// The key of `subscriber`'s channel (what every connection sees in the share's object list).
quint64 keyOfSubscriber(const Subscriber &subscriber)
{
    return subscriber.registry->link()->outbox()->key;
}

// A hand-built subscription on a raw connection: the share acquired, subscribed with `secret`,
// its channel acquired and ready; its connection (0 when that failed).
quint64 subscribeRaw(Host &source, QIODevice &raw, const QByteArray &secret, int subscribers)
{
    raw.write(roAcquire(QStringLiteral("orders")) + roSubscribe(secret));
    if (!QTest::qWaitFor([&] { return source.share->base()->subscriberCount() == subscribers; }, Deadline))
        return 0;
    raw.write(roAcquire(channelOf(keyOf(secret))) + roReady(channelOf(keyOf(secret))));
    quint64 connection = 0;
    (void)QTest::qWaitFor([&] { return (connection = source.newestReceiving(subscribers)) != 0; }, Deadline);
    return connection;
}

// A peer that reads nothing more (its socket buffers one byte).
void stopReading(QIODevice &raw)
{
    if (auto *local = qobject_cast<QLocalSocket *>(&raw))
        local->setReadBufferSize(1);
    else if (auto *tcp = qobject_cast<QAbstractSocket *>(&raw))
        tcp->setReadBufferSize(1);
}

} // namespace

class tst_RemoteConversation : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void repeatedAcquisitionDropsThePeer_data();
    void repeatedAcquisitionDropsThePeer();
    void repeatedSubscriptionChangesNothing();
    void releaseOfAnObjectNotHeldIsIgnored();
    void objectReleasedInTheReadThatAcquiredItMayBeAcquiredAgain();
    void invocationOfAnObjectNotAcquiredDropsThePeer_data();
    void invocationOfAnObjectNotAcquiredDropsThePeer();
    void anotherConnectionsChannelMustBeTakenOverInTime();
    void honestNodesAreNeverDropped();
    void writesPastTheConnectionLimitAreNeverQueued_data();
    void writesPastTheConnectionLimitAreNeverQueued();
    void writesPastTheProcessBudgetAreNeverQueued();
    void aSubscriptionsPacketsCostTheSameHoweverManySubscriptionsAreHeld();
};

void tst_RemoteConversation::repeatedAcquisitionDropsThePeer_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<QString>("target");
    for (const QString &url : {uniqueLocalUrl(), QStringLiteral("tcp://127.0.0.1:0")}) {
        const QString transport = url.section(u':', 0, 0);
        for (const QString &target :
             {QStringLiteral("share"), QStringLiteral("own"), QStringLiteral("another's")})
            QTest::addRow("%s %s", qPrintable(transport), qPrintable(target)) << url << target;
    }
}

// Qt Remote Objects adds a connection to an object's listeners once per AddObject, without a
// check: 5,000 of them for one channel would make each event written 5,000 times to that
// connection in one turn. A connection acquires an object once, until it releases it (Qt Remote
// Objects' own nodes do): the second AddObject for the share, the peer's own channel, or another
// subscriber's channel (whose name every connection is told) drops the peer with one warning,
// before Qt Remote Objects reads it; the subscriber beside it is served.
void tst_RemoteConversation::repeatedAcquisitionDropsThePeer()
{
    QFETCH(QString, url);
    QFETCH(QString, target);
    Host source(url);
    QVERIFY(source.share);
    Subscriber victim(source.address());
    QVERIFY(served(source, victim, 1));
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    const std::unique_ptr<QIODevice> raw = rawConnection(source.address());
    QVERIFY(raw);
    QString name = QStringLiteral("orders");
    if (target == QLatin1String("own")) {
        QVERIFY(subscribeRaw(source, *raw, secretFor(7), 2) != 0);
        name = channelOf(keyOf(secretFor(7)));
    } else if (target == QLatin1String("another's")) {
        raw->write(roAcquire(QStringLiteral("orders")));
        name = channelOf(keyOfSubscriber(victim));
    }
    QTest::ignoreMessage(
        QtWarningMsg,
        QRegularExpression(QStringLiteral("connection \\d+ .* sent a second acquisition of \"") +
                           QRegularExpression::escape(name) + QStringLiteral("\", which it holds")));
    QByteArray attack;
    for (int i = 0; i < 5000; ++i)
        attack += roAcquire(name);
    raw->write(target == QLatin1String("share") ? roAcquire(name) + attack : attack);
    QTRY_COMPARE_WITH_TIMEOUT(rejected.size(), 1, Deadline);
    QTRY_VERIFY_WITH_TIMEOUT(!isOpen(raw.get()), Deadline);
    QVERIFY(served(source, victim, 2));
    QCOMPARE(source.share->base()->subscriberCount(), 1);
}

// A subscription repeated on its own connection (its secret again) is the subscription it has:
// nothing is withdrawn or announced again, so 5,000 of them in one write cost the other
// connections nothing, and the subscriber beside it, held to a small queue, stays and is served.
void tst_RemoteConversation::repeatedSubscriptionChangesNothing()
{
    rio::RemoteListener::Options limits;
    limits.maxQueuedBytes = 64 << 10;
    Host source(uniqueLocalUrl(), limits);
    QVERIFY(source.share);
    Subscriber victim(source.address());
    QVERIFY(served(source, victim, 1));
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    const std::unique_ptr<QIODevice> raw = rawConnection(source.address());
    QVERIFY(raw);
    QVERIFY(subscribeRaw(source, *raw, secretFor(5), 2) != 0);
    QByteArray again;
    for (int i = 0; i < 5000; ++i)
        again += roSubscribe(secretFor(5));
    (void)raw->readAll();
    raw->write(again + roPing(QStringLiteral("orders")));
    QVERIFY(raw->waitForBytesWritten(Deadline) || raw->bytesToWrite() == 0);
    QTRY_VERIFY_WITH_TIMEOUT(raw->bytesAvailable() > 0, Deadline); // the ping's answer: all read
    QVERIFY(served(source, victim, 2));
    QCOMPARE(rejected.size(), 0);
    QCOMPARE(source.share->base()->subscriberCount(), 2);
}

// A node releases an object it no longer holds when its release crosses the source's own
// withdrawal of it (a subscriber that unsubscribes, then destroys its channel's replica): such a
// RemoveObject is swallowed, never read by Qt Remote Objects, and drops nobody; an object released
// is acquired again.
void tst_RemoteConversation::releaseOfAnObjectNotHeldIsIgnored()
{
    Host source(uniqueLocalUrl());
    QVERIFY(source.share);
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    const std::unique_ptr<QIODevice> raw = rawConnection(source.address());
    QVERIFY(raw);
    raw->write(roRelease(QStringLiteral("orders")) + roRelease(QStringLiteral("nothing-remoted")) +
               roRelease(channelOf(1)) + roAcquire(QStringLiteral("orders")) +
               roRelease(QStringLiteral("orders")) + roRelease(QStringLiteral("orders")) +
               roAcquire(QStringLiteral("orders")) + roSubscribe(secretFor(3)));
    QTRY_COMPARE_WITH_TIMEOUT(source.share->base()->subscriberCount(), 1, Deadline);
    raw->write(roPing(QStringLiteral("orders")));
    QVERIFY(raw->waitForBytesWritten(Deadline) || raw->bytesToWrite() == 0);
    QTRY_VERIFY_WITH_TIMEOUT(raw->bytesAvailable() > 0, Deadline);
    QCOMPARE(rejected.size(), 0);
    QVERIFY(isOpen(raw.get()));
}

// A node that acquires an object and releases it in one write (a replica made and deleted at
// once) holds nothing once Qt Remote Objects read both, though it answered the acquisition: the
// object is acquired again without dropping the peer.
void tst_RemoteConversation::objectReleasedInTheReadThatAcquiredItMayBeAcquiredAgain()
{
    Host source(uniqueLocalUrl());
    QVERIFY(source.share);
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    const std::unique_ptr<QIODevice> raw = rawConnection(source.address());
    QVERIFY(raw);
    for (int round = 0; round < 3; ++round) {
        (void)raw->readAll();
        raw->write(roAcquire(QStringLiteral("orders")) + roRelease(QStringLiteral("orders")) +
                   roPing(QStringLiteral("orders")));
        QVERIFY(raw->waitForBytesWritten(Deadline) || raw->bytesToWrite() == 0);
        QTRY_VERIFY_WITH_TIMEOUT(raw->bytesAvailable() > 0, Deadline);
    }
    raw->write(roAcquire(QStringLiteral("orders")) + roSubscribe(secretFor(4)));
    QTRY_COMPARE_WITH_TIMEOUT(source.share->base()->subscriberCount(), 1, Deadline);
    QCOMPARE(rejected.size(), 0);
    QVERIFY(isOpen(raw.get()));
}

void tst_RemoteConversation::invocationOfAnObjectNotAcquiredDropsThePeer_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<bool>("channel");
    QTest::newRow("local share") << uniqueLocalUrl() << false;
    QTest::newRow("tcp share") << QStringLiteral("tcp://127.0.0.1:0") << false;
    QTest::newRow("local another's channel") << uniqueLocalUrl() << true;
    QTest::newRow("tcp another's channel") << QStringLiteral("tcp://127.0.0.1:0") << true;
}

// Qt Remote Objects invokes any object a source remotes, acquired by the connection or not; its
// own nodes invoke only what they acquired, and a channel only once its subscription is theirs. A
// peer that subscribes without acquiring the share, or calls ready() on another subscriber's
// channel it acquired, is dropped with one warning, before Qt Remote Objects reads the packet; an
// invocation of a name the source does not remote is left to Qt Remote Objects (which ignores it).
void tst_RemoteConversation::invocationOfAnObjectNotAcquiredDropsThePeer()
{
    QFETCH(QString, url);
    QFETCH(bool, channel);
    Host source(url);
    QVERIFY(source.share);
    Subscriber victim(source.address());
    QVERIFY(served(source, victim, 1));
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    const std::unique_ptr<QIODevice> raw = rawConnection(source.address());
    QVERIFY(raw);
    const QString name = channelOf(keyOfSubscriber(victim));
    QTest::ignoreMessage(
        QtWarningMsg,
        QRegularExpression(channel ? QStringLiteral("sent ready\\(\\) on another connection's channel")
                                   : QStringLiteral("sent an invocation of \"orders\", which it "
                                                    "has not acquired")));
    raw->write(roInvoke(QStringLiteral("nothing-remoted"), 0, 0, {}) +
               (channel ? roAcquire(QStringLiteral("orders")) + roAcquire(name) + roReady(name)
                        : roSubscribe(secretFor(5))));
    QTRY_COMPARE_WITH_TIMEOUT(rejected.size(), 1, Deadline);
    QTRY_VERIFY_WITH_TIMEOUT(!isOpen(raw.get()), Deadline);
    QCOMPARE(source.share->base()->subscriberCount(), 1);
    QVERIFY(source.share->base()->subscribers().value(0).receiving);
    QVERIFY(served(source, victim, 2));
}

// A subscriber back on a new connection (its old one broken without the source hearing of it)
// acquires its channel, which the source still counts as the old connection's, before it proves
// its secret: a connection may acquire another's channel, and must take that subscription over
// within handshakeTimeout. One that does goes on as its subscriber (the old connection is
// dropped); one that does not is dropped with one warning, and the subscriber is served.
void tst_RemoteConversation::anotherConnectionsChannelMustBeTakenOverInTime()
{
    constexpr auto Timeout = std::chrono::milliseconds(1000);
    Host source(QStringLiteral("tcp://127.0.0.1:0"), {.handshakeTimeout = Timeout});
    QVERIFY(source.share);
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    const QByteArray secret = secretFor(11);
    const QString channel = channelOf(keyOf(secret));
    const std::unique_ptr<QIODevice> first = rawConnection(source.address());
    QVERIFY(first);
    const quint64 firstConnection = subscribeRaw(source, *first, secret, 1);
    QVERIFY(firstConnection != 0);

    // Acquires it, and proves the secret: the subscription is its own from then on.
    const std::unique_ptr<QIODevice> back = rawConnection(source.address());
    QVERIFY(back);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("subscriber 1 was taken over by")));
    back->write(roAcquire(QStringLiteral("orders")) + roAcquire(channel) + roSubscribe(secret));
    QTRY_COMPARE_WITH_TIMEOUT(rejected.size(), 1, Deadline);
    QTRY_VERIFY_WITH_TIMEOUT(!isOpen(first.get()), Deadline);
    back->write(roReady(channel));
    quint64 backConnection = 0;
    QTRY_VERIFY_WITH_TIMEOUT((backConnection = source.newestReceiving(1)) != 0, Deadline);
    QVERIFY(backConnection != firstConnection);

    // Acquires it and proves nothing: dropped at its deadline; the subscription stays where it is.
    const std::unique_ptr<QIODevice> thief = rawConnection(source.address());
    QVERIFY(thief);
    QTest::ignoreMessage(
        QtWarningMsg,
        QRegularExpression(QStringLiteral("acquired \"") + QRegularExpression::escape(channel) +
                           QStringLiteral("\", a channel of another connection's subscription, "
                                          "and did not take that subscription over within 1000 ms")));
    thief->write(roAcquire(QStringLiteral("orders")) + roAcquire(channel));
    QTRY_COMPARE_WITH_TIMEOUT(rejected.size(), 2, Deadline);
    QTRY_VERIFY_WITH_TIMEOUT(!isOpen(thief.get()), Deadline);
    QVERIFY(isOpen(back.get()));
    QCOMPARE(source.newestReceiving(1), backConnection);
}

// Qt Remote Objects' own nodes, doing what they do: a replica acquired twice (one acquisition),
// released and acquired again, heartbeats, a subscriber that goes (its releases cross the source's
// withdrawal of its channel), a node on Qt's own local: transport, a share that goes and comes back
// under its name (its subscribers acquire the same channels again on the same connections). None
// is dropped, and every subscriber is served.
void tst_RemoteConversation::honestNodesAreNeverDropped()
{
    Host source(uniqueLocalUrl());
    QVERIFY(source.share);
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    QRemoteObjectNode node;
    node.setHeartbeatInterval(20);
    QVERIFY(rio::connectToSource(&node, QUrl(source.address())));
    {
        std::unique_ptr<QRemoteObjectDynamicReplica> a(node.acquireDynamic(QStringLiteral("orders")));
        std::unique_ptr<QRemoteObjectDynamicReplica> b(node.acquireDynamic(QStringLiteral("orders")));
        QVERIFY(a->waitForSource(Deadline));
        QVERIFY(b->waitForSource(Deadline));
        a.reset();
        QTest::qWait(100); // heartbeats of b meanwhile
        b.reset();
        std::unique_ptr<QRemoteObjectDynamicReplica> c(node.acquireDynamic(QStringLiteral("orders")));
        QVERIFY(c->waitForSource(Deadline));
    }
    for (int round = 0; round < 3; ++round) {
        Subscriber gone(source.address());
        QVERIFY(served(source, gone, 100 + round));
    }
    Subscriber stays(source.address());
    QVERIFY(served(source, stays, 200));
    QRemoteObjectNode plainNode;
    QVERIFY(plainNode.connectToNode(QUrl(source.address())));
    rio::RemoteRegistry<Payload> plain(&plainNode, QStringLiteral("orders"));
    QList<qint64> plainReceived;
    plain.add(&plainNode, [&](const Payload &p) { plainReceived.append(p.seq); },
              {.connection = Qt::DirectConnection});
    QTRY_VERIFY_WITH_TIMEOUT(plain.link()->state() == rio::RemoteSubscriber::State::Connected, Deadline);

    source.share.reset();
    QTRY_VERIFY_WITH_TIMEOUT(stays.registry->link()->state() != rio::RemoteSubscriber::State::Connected,
                             Deadline);
    source.share =
        std::make_unique<rio::RemoteShare<Payload>>(&source.host, QStringLiteral("orders"), source.registry);
    QTRY_COMPARE_WITH_TIMEOUT(source.share->base()->subscriberCount(), 2, Deadline);
    QVERIFY(served(source, stays, 300));
    QTRY_VERIFY_WITH_TIMEOUT(plainReceived.contains(300), Deadline);
    QCOMPARE(rejected.size(), 0);
    QCOMPARE(source.listener->rejectedCount(), quint64(0));
}

void tst_RemoteConversation::writesPastTheConnectionLimitAreNeverQueued_data()
{
    addTransportRows();
}

// A burst from `secret`'s raw subscriber: Pings of 16,384 characters (each answered by a Pong as
// large, all in the read that takes the burst) with a post between each two, its event numbered
// below 0, so that a handler of the source runs while Qt Remote Objects answers.
static QByteArray pingsAndPosts(const QByteArray &secret)
{
    const QByteArray ping = roPing(QString(16 * 1024, QLatin1Char('p')));
    QByteArray burst;
    for (qint64 i = 1; i <= 16; ++i)
        burst += ping + ping +
                 roInvoke(QStringLiteral("orders"), 0, 1,
                          roArguments({QVariant(postFrame(
                              {{keyOf(secret), rio::detail::encodeRemoteEvent(Payload{-i, {}})}}))}));
    return burst;
}

// maxQueuedBytes holds when a write is made, not after the read that made it: a subscriber that
// stops reading and sends, in one write, a burst of Pings that Qt Remote Objects answers in one read
// (about 1 MiB of Pongs) is dropped with one warning at the first Pong it cannot take, and never
// holds more than the limit and one write; the subscriber beside it is served.
void tst_RemoteConversation::writesPastTheConnectionLimitAreNeverQueued()
{
    QFETCH(QString, url);
    constexpr qint64 Limit = 64 * 1024;
    Host source(url, {.maxQueuedBytes = Limit});
    QVERIFY(source.share);
    Subscriber reader(source.address());
    QVERIFY(served(source, reader, 1));
    const std::unique_ptr<QIODevice> raw = rawConnection(source.address());
    QVERIFY(raw);
    const quint64 stalled = subscribeRaw(source, *raw, secretFor(9), 2);
    QVERIFY(stalled != 0);
    stopReading(*raw);
    qint64 most = 0;
    int posts = 0;
    source.registry.add(this,
                        [&](const Payload &p) {
                            posts += p.seq < 0 ? 1 : 0;
                            most = std::max(most, source.listener->bytesToWrite(stalled));
                        },
                        {.connection = Qt::DirectConnection});
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral(
                                           "bytes waiting to be written \\(the limit per connection "
                                           "is 65536\\): it does not read what it is sent")));
    raw->write(pingsAndPosts(secretFor(9)));
    QTRY_COMPARE_WITH_TIMEOUT(rejected.size(), 1, Deadline);
    QTRY_COMPARE_WITH_TIMEOUT(source.listener->connectionCount(), 1,
                              Deadline); // (the peer, not reading, may not see it)
    qInfo("the stalled connection held at most %lld bytes after %d posts (limit %lld)", most, posts, Limit);
    QVERIFY(posts >= 1);
    QVERIFY2(most <= Limit + 33 * 1024, qPrintable(QString::number(most)));
    QVERIFY(served(source, reader, 2));
    QCOMPARE(rejected.size(), 1);
}

// queuedBytesBudget holds when a write is made: two subscribers that stop reading send such bursts;
// the connections whose peers have taken nothing for longest go at the write that would pass the
// budget, which the process never holds more than. The subscriber beside them is served.
void tst_RemoteConversation::writesPastTheProcessBudgetAreNeverQueued()
{
    constexpr qint64 Budget = 256 * 1024;
    Host source(uniqueLocalUrl(), {.queuedBytesBudget = Budget});
    QVERIFY(source.share);
    Subscriber reader(source.address());
    QVERIFY(served(source, reader, 1));
    std::array<std::unique_ptr<QIODevice>, 2> raws;
    std::array<quint64, 2> stalled{};
    for (std::size_t i = 0; i < raws.size(); ++i) {
        raws[i] = rawConnection(source.address());
        QVERIFY(raws[i]);
        stalled[i] = subscribeRaw(source, *raws[i], secretFor(20 + i), int(i) + 2);
        QVERIFY(stalled[i] != 0);
        stopReading(*raws[i]);
    }
    qint64 most = 0;
    source.registry.add(this,
                        [&](const Payload &) {
                            most = std::max(most, source.listener->bytesToWrite(stalled[0]) +
                                                      source.listener->bytesToWrite(stalled[1]));
                        },
                        {.connection = Qt::DirectConnection});
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    for (std::size_t i = 0; i < raws.size(); ++i)
        raws[i]->write(pingsAndPosts(secretFor(20 + i)));
    QTRY_COMPARE_WITH_TIMEOUT(source.listener->connectionCount(), 1, Deadline);
    for (const QList<QVariant> &reason : rejected)
        QVERIFY2(reason.at(0).toString().contains(
                     QLatin1String("bytes waiting to be written (the budget is 262144)")),
                 qPrintable(reason.at(0).toString()));
    qInfo("the stalled connections held at most %lld bytes to write (budget %lld)", most, Budget);
    QVERIFY2(most <= Budget, qPrintable(QString::number(most)));
    QVERIFY(served(source, reader, 2));
}

// What a subscription's packets cost the source does not grow with the subscriptions it holds:
// subscribing, acquiring and making ready 8 subscriptions, unsubscribing 4, posting as another
// connection's subscriber (which drops the peer) and the close that removes the rest visit no
// list of every subscriber, with 100 held as with 5,000 (21 connections, each under the cap of 256
// a connection). At that scale, a connection's 257th subscription still drops it.
void tst_RemoteConversation::aSubscriptionsPacketsCostTheSameHoweverManySubscriptionsAreHeld()
{
    Host source(uniqueLocalUrl());
    QVERIFY(source.share);
    rio::RemoteShareBase *const share = source.share->base();
    const auto box = share->outbox();
    std::vector<std::unique_ptr<QIODevice>> holders;
    quint64 next = 1; // the next subscription's secret
    // A connection holding `count` more subscriptions, reading all it is sent.
    const auto hold = [&](int count) {
        auto raw = rawConnection(source.address());
        if (!raw)
            return false;
        QIODevice *device = raw.get();
        connect(device, &QIODevice::readyRead, device, [device] { (void)device->readAll(); });
        raw->write(roAcquire(QStringLiteral("orders")) + roSubscriptions(next, count));
        next += quint64(count);
        holders.push_back(std::move(raw));
        return true;
    };
    const auto allReceiving = [&](int count) {
        const QList<rio::RemoteSubscriberInfo> all = share->subscribers();
        return all.size() == count && std::ranges::all_of(all, &rio::RemoteSubscriberInfo::receiving);
    };
    // The backlogs walked over while a new connection's packets are handled.
    const auto walkedFor = [&]() -> quint64 {
        const int held = share->subscriberCount();
        const quint64 before = box->walked();
        const std::unique_ptr<QIODevice> raw = rawConnection(source.address());
        if (!raw)
            return ~quint64(0);
        const quint64 first = next;
        next += 8;
        raw->write(roAcquire(QStringLiteral("orders")) + roSubscriptions(first, 8));
        const auto ready = [&] {
            for (quint64 n = first; n < first + 8; ++n) {
                const auto backlog = box->backlogOf(keyOf(secretFor(n)));
                if (!backlog || !backlog->acquired())
                    return false;
            }
            return true;
        };
        if (!QTest::qWaitFor(ready, Deadline))
            return ~quint64(0);
        for (quint64 n = first; n < first + 4; ++n)
            raw->write(
                roInvoke(QStringLiteral("orders"), 2, 1, roArguments({QVariant(keyOf(secretFor(n)))})));
        if (!QTest::qWaitFor([&] { return share->subscriberCount() == held + 4; }, Deadline))
            return ~quint64(0);
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral(
                                               "which is not a subscription of its connection")));
        const QByteArray event = rio::detail::encodeRemoteEvent(Payload{1, {}});
        raw->write(roInvoke(QStringLiteral("orders"), 0, 1,
                            roArguments({QVariant(postFrame({{keyOf(secretFor(1)), event}}))})));
        if (!QTest::qWaitFor([&] { return share->subscriberCount() == held && !isOpen(raw.get()); },
                             Deadline))
            return ~quint64(0);
        return box->walked() - before;
    };

    QVERIFY(hold(100));
    QTRY_VERIFY_WITH_TIMEOUT(allReceiving(100), Deadline);
    const quint64 atHundred = walkedFor();
    for (int i = 0; i < 20; ++i)
        QVERIFY(hold(245));
    QTRY_VERIFY_WITH_TIMEOUT(allReceiving(5000), 4 * Deadline);
    const quint64 atFiveThousand = walkedFor();
    qInfo(
        "backlogs walked over for a connection's packets: %llu with 100 subscriptions held, %llu with 5,000",
        atHundred, atFiveThousand);
    QCOMPARE(atFiveThousand, atHundred);
    QCOMPARE(QString(box->indexFault()), QString());

    // The first holder's 157 more: dropped at its 257th, with its subscriptions.
    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression(QStringLiteral("sent more than 256 subscriptions")));
    holders.front()->write(roSubscriptions(next, 157));
    QTRY_COMPARE_WITH_TIMEOUT(share->subscriberCount(), 4900, Deadline);
    QTRY_VERIFY_WITH_TIMEOUT(!isOpen(holders.front().get()), Deadline);
    QCOMPARE(QString(box->indexFault()), QString());
}

QTEST_GUILESS_MAIN(tst_RemoteConversation)
#include "tst_remote_conversation.moc"
