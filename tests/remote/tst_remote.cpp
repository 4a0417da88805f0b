// SPDX-License-Identifier: MIT
// Delivery and flow control across real processes: order, priority, no echo, retained events,
// frames, Latest, bounded backlogs, Block.
#include "tst_remote_common.h"

class tst_Remote : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void transports_data() { addTransportRows(); }
    void orderingAndPriorityAcrossTwoSubscribers_data() { transports_data(); }
    void orderingAndPriorityAcrossTwoSubscribers();
    void eventsFromASubscriberReachEverySideOnce_data() { transports_data(); }
    void eventsFromASubscriberReachEverySideOnce();
    void lateSubscriberGetsOnlyLaterEvents_data() { transports_data(); }
    void lateSubscriberGetsOnlyLaterEvents();
    void retainedEventComesFirstOnEveryConnection_data() { transports_data(); }
    void retainedEventComesFirstOnEveryConnection();
    void latestFloodCoalescesOnTheSendingSide_data() { transports_data(); }
    void latestFloodCoalescesOnTheSendingSide();
    void boundedFloodToAStalledSubscriberKeepsMemoryFlat_data() { transports_data(); }
    void boundedFloodToAStalledSubscriberKeepsMemoryFlat();
    void stalledSubscriberCostsOnlyItsOwnEvents_data() { transports_data(); }
    void stalledSubscriberCostsOnlyItsOwnEvents();
    void blockDeliversEveryEventToAStalledSubscriber_data() { transports_data(); }
    void blockDeliversEveryEventToAStalledSubscriber();
    void blockTimeoutDropIsSeenByTheCaller();
    void blockOnTheSharesOwnThreadDoesNotWait();
    void blockedSenderWakesWhenTheStalledSubscriberOrTheShareGoes();
    void malformedMultiEventFrameFromTheSourceDeliversNothing();
    void handlerDestroyingTheSubscriberMidFrameStopsThatFrame();
    void unreadableVariantEventsAreNotSent();
    void eventsNotifiedWhileTheWireIsBusyShareFrames();
    void burstsArriveWholeAndInOrderBothWays_data() { transports_data(); }
    void burstsArriveWholeAndInOrderBothWays();
};

// Each subscriber runs its own handlers in its own priority order, and sees the source's events
// in the order they were notified.
void tst_Remote::orderingAndPriorityAcrossTwoSubscribers()
{
    QFETCH(QString, url);
    auto [source, address] = startSource(url);
    QVERIFY(!address.isEmpty());
    auto first = startSubscriber(address, {QStringLiteral("--handlers"), QStringLiteral("0,10,-5")});
    auto second = startSubscriber(address, {QStringLiteral("--handlers"), QStringLiteral("-5,10")});
    QVERIFY(first->waitLine("state connected"));
    QVERIFY(second->waitLine("state connected"));

    constexpr int N = 300;
    source->send("notify 1 " + QByteArray::number(N));
    QVERIFY(first->waitLine("event -5 " + QByteArray::number(N)));
    QVERIFY(second->waitLine("event 10 " + QByteArray::number(N)));
    QVERIFY(second->waitLine("event -5 " + QByteArray::number(N)));

    QList<QByteArray> expectFirst, expectSecond;
    for (int seq = 1; seq <= N; ++seq) {
        const QByteArray s = QByteArray::number(seq);
        expectFirst << "event 10 " + s << "event 0 " + s << "event -5 " + s;
        expectSecond << "event 10 " + s << "event -5 " + s;
    }
    QCOMPARE(first->lines("event "), expectFirst);
    QCOMPARE(second->lines("event "), expectSecond);
}

// An event notified on a subscriber runs there once (no echo), on the source, and on the other
// subscriber.
void tst_Remote::eventsFromASubscriberReachEverySideOnce()
{
    QFETCH(QString, url);
    LocalSource source(url);
    QVERIFY(source.share && source.share->isShared());
    QList<qint64> atSource;
    source.registry.add(this, [&](const Payload &p) { atSource.append(p.seq); });

    auto a = startSubscriber(source.address());
    auto b = startSubscriber(source.address());
    QVERIFY(a->waitLine("state connected"));
    QVERIFY(b->waitLine("state connected"));
    a->send("notify 1 50");
    QVERIFY(b->waitLine("event 0 50"));
    QTRY_COMPARE_WITH_TIMEOUT(atSource.size(), 50, Deadline);
    // The source's own notify reaches both too.
    source.registry.notify(Payload{51, {}});
    QVERIFY(a->waitLine("event 0 51"));
    QVERIFY(b->waitLine("event 0 51"));

    QList<QByteArray> expected;
    for (int seq = 1; seq <= 51; ++seq)
        expected << "event 0 " + QByteArray::number(seq);
    QCOMPARE(a->lines("event "), expected);
    QCOMPARE(b->lines("event "), expected);
    QList<qint64> expectedAtSource;
    for (int seq = 1; seq <= 51; ++seq)
        expectedAtSource << seq;
    QCOMPARE(atSource, expectedAtSource);
}

void tst_Remote::lateSubscriberGetsOnlyLaterEvents()
{
    QFETCH(QString, url);
    auto [source, address] = startSource(url);
    QVERIFY(!address.isEmpty());
    source->send("notify 1 10");
    QVERIFY(source->waitLine("notified 10"));
    auto late = startSubscriber(address);
    QVERIFY(late->waitLine("state connected"));
    source->send("notify 11 20");
    QVERIFY(late->waitLine("event 0 20"));
    QList<QByteArray> expected;
    for (int seq = 11; seq <= 20; ++seq)
        expected << "event 0 " + QByteArray::number(seq);
    QCOMPARE(late->lines("event "), expected);
}

// A share that retains its newest event: a subscriber that connects late gets it first, once,
// then the events notified from then on; across a kill -9 of the source and a restart, the
// resubscribed subscriber gets the new source's newest event once, and a new subscriber gets it
// first. The restarted source notifies that event before it takes any connection, so the
// subscribers can get it only as the retained event.
void tst_Remote::retainedEventComesFirstOnEveryConnection()
{
    QFETCH(QString, url);
    auto [source, address] = startSource(url, {QStringLiteral("--retain")});
    QVERIFY(!address.isEmpty());
    auto early = startSubscriber(address);
    QVERIFY(early->waitLine("state connected"));
    QVERIFY(early->lines("event ").isEmpty()); // nothing retained yet
    source->send("notify 1 10");
    QVERIFY(early->waitLine("event 0 10"));

    auto late = startSubscriber(address);
    QVERIFY(late->waitLine("state connected"));
    QVERIFY(late->waitLine("event 0 10"));
    source->send("notify 11 11");
    QVERIFY(late->waitLine("event 0 11"));
    QCOMPARE(late->lines("event "), (QList<QByteArray>{"event 0 10", "event 0 11"}));
    QVERIFY(early->waitLine("event 0 11"));
    QCOMPARE(early->lines("event ").size(), 11); // the retained event is not sent again to those connected

    source->process().kill();
    QVERIFY(source->process().waitForFinished(Deadline));
    QVERIFY(early->waitLine("state reconnecting"));
    auto restarted =
        std::make_unique<Peer>(QStringList{QStringLiteral("source"), address, QStringLiteral("--retain"),
                                           QStringLiteral("--notify-first"), QStringLiteral("100")});
    QVERIFY(restarted->waitLine("notified 100"));
    QVERIFY(restarted->waitLine("ready "));
    QVERIFY(early->waitLine("event 0 100"));
    auto fresh = startSubscriber(address);
    QVERIFY(fresh->waitLine("event 0 100"));
    restarted->send("notify 101 101");
    QVERIFY(early->waitLine("event 0 101"));
    QVERIFY(fresh->waitLine("event 0 101"));
    QCOMPARE(early->lines("event 0 100").size(), 1);
    QCOMPARE(fresh->lines("event "), (QList<QByteArray>{"event 0 100", "event 0 101"}));
}

// A share with Latest sends only the newest event after a burst: a subscriber stalled for the whole
// burst finds one event waiting, not the burst, and its last delivery is the last event.
void tst_Remote::latestFloodCoalescesOnTheSendingSide()
{
    QFETCH(QString, url);
    auto [source, address] = startSource(url, {QStringLiteral("--latest")});
    QVERIFY(!address.isEmpty());
    auto sub = startSubscriber(address, {QStringLiteral("--quiet")});
    QVERIFY(sub->waitLine("state connected"));

    constexpr qint64 N = 200000;
    sub->send("freeze");
    QVERIFY(sub->waitLine("frozen"));
    for (qint64 from = 1; from <= N; from += 20000)
        source->send("notify " + QByteArray::number(from) + ' ' + QByteArray::number(from + 19999) + " 64");
    QVERIFY(source->waitLine("notified " + QByteArray::number(N)));
    sub->send("thaw");
    QVERIFY(sub->waitLine("thawed"));
    QVERIFY(sub->waitStats([&](const auto &s) { return s.value("last") == N; }));
    const auto stats = sub->stats();
    QVERIFY2(stats.value("received") <= 20, QByteArray::number(stats.value("received")));
    QCOMPARE(stats.value("droppedBySource"), 0); // coalesced, not dropped
    QCOMPARE(source->stats().value("dropped"), 0);
}

// Every delivery with a bounded wire: a subscriber that stalls for the whole of a flood of
// 1,000,000 events costs the source at most `capacity` waiting events plus the socket's high
// water, costs the subscriber nothing, and afterwards gets the newest event and a count of the
// rest.
void tst_Remote::boundedFloodToAStalledSubscriberKeepsMemoryFlat()
{
    QFETCH(QString, url);
    auto [source, address] = startSource(url, {QStringLiteral("--capacity"), QStringLiteral("10000")});
    QVERIFY(!address.isEmpty());
    auto sub = startSubscriber(address, {QStringLiteral("--quiet")});
    QVERIFY(sub->waitLine("state connected"));
    // The subscriber counts gaps from the first event it got: give it one first.
    source->send("notify 1 1");
    QVERIFY(sub->waitStats([&](const auto &s) { return s.value("last") == 1; }));
    const qint64 sourceRssBefore = source->stats().value("rss");
    const qint64 subRssBefore = sub->stats().value("rss");

    constexpr qint64 N = 1000001;
    constexpr qint64 Chunk = 50000;
    sub->send("freeze");
    QVERIFY(sub->waitLine("frozen"));
    qint64 maxPending = 0;
    for (qint64 from = 2; from <= N; from += Chunk) {
        const QByteArray to = QByteArray::number(from + Chunk - 1);
        source->send("notify " + QByteArray::number(from) + ' ' + to + " 100");
        QVERIFY(source->waitLine("notified " + to));
        maxPending = std::max(maxPending, source->stats().value("pending"));
    }
    const auto sourceStats = source->stats();
    QVERIFY2(maxPending <= 10000, QByteArray::number(maxPending));
    QVERIFY(sourceStats.value("dropped") > 0);
    // 10000 waiting events of ~130 bytes, 1 MiB of socket buffer: far below 64 MiB of growth.
    QVERIFY2(sourceStats.value("rss") - sourceRssBefore < RssGrowthLimitKiB,
             QByteArray::number(sourceStats.value("rss") - sourceRssBefore) + " KiB");

    sub->send("thaw");
    QVERIFY(sub->waitLine("thawed"));
    QVERIFY(sub->waitStats([&](const auto &s) { return s.value("last") == N; }, 60000));
    const auto subStats = sub->stats();
    QVERIFY2(subStats.value("rss") - subRssBefore < RssGrowthLimitKiB,
             QByteArray::number(subStats.value("rss") - subRssBefore) + " KiB");
    QVERIFY(subStats.value("droppedBySource") > 0);
    // Nothing lost silently: every event was delivered or counted as dropped by the source.
    QCOMPARE(subStats.value("received") + subStats.value("droppedBySource"), N);
}

// The flood of the per-subscriber tests: 20,000 events by default, RIO_REMOTE_FLOOD=1000000 for
// the full figure.
qint64 floodSize()
{
    const qint64 n = qEnvironmentVariableIntValue("RIO_REMOTE_FLOOD");
    return n > 0 ? n : 20000;
}

// The per-subscriber flood's deadline: the default one, longer for a larger flood.
int floodDeadline()
{
    return int(std::max<qint64>(Deadline, floodSize() / 10));
}

// Two subscribers, one of which stops reading (its event loop blocked) while the source floods:
// the healthy one gets every event, in order, as fast as it reads them; the stalled one's backlog
// at the source stays at `capacity` (its oldest drop, counted for it alone), and once it reads
// again it gets the rest and a count of the gap that matches the source's.
void tst_Remote::stalledSubscriberCostsOnlyItsOwnEvents()
{
    QFETCH(QString, url);
    constexpr qint64 Capacity = 1000;
    const qint64 n = floodSize();
    auto [source, address] = startSource(url, {QStringLiteral("--capacity"), QString::number(Capacity)});
    QVERIFY(!address.isEmpty());
    auto healthy = startSubscriber(address, {QStringLiteral("--quiet")});
    QVERIFY(healthy->waitLine("state connected"));
    QVERIFY(source->waitStats([](const auto &s) { return s.value("subscribers") == 1; }));
    auto stalled = startSubscriber(address, {QStringLiteral("--quiet")});
    QVERIFY(stalled->waitLine("state connected"));
    // Both count gaps from the first event they got: give them one first.
    source->send("notify 1 1");
    QVERIFY(healthy->waitStats([](const auto &s) { return s.value("last") == 1; }));
    QVERIFY(stalled->waitStats([](const auto &s) { return s.value("last") == 1; }));
    const qint64 sourceRssBefore = source->stats().value("rss");

    stalled->send("freeze");
    QVERIFY(stalled->waitLine("frozen"));
    // The source goes as fast as the healthy subscriber reads: the next chunk once it has the last.
    constexpr qint64 Chunk = Capacity / 2;
    qint64 maxPending = 0;
    for (qint64 from = 2; from <= n; from += Chunk) {
        const qint64 to = std::min(from + Chunk - 1, n);
        source->send("notify " + QByteArray::number(from) + ' ' + QByteArray::number(to) + " 1000");
        QVERIFY2(healthy->waitStats([to](const auto &s) { return s.value("last") == to; }),
                 qPrintable(QStringLiteral("the healthy subscriber did not get event %1").arg(to)));
        maxPending = std::max(maxPending, source->stats().value("pending"));
    }
    const auto sourceStats = source->stats();
    // Subscriber 1 is the healthy one: nothing dropped for it; the stalled one's backlog filled.
    QCOMPARE(sourceStats.value("drops1"), 0);
    QVERIFY(sourceStats.value("drops2") > 0);
    QCOMPARE(sourceStats.value("dropped"), sourceStats.value("drops2"));
    QVERIFY2(maxPending <= Capacity, QByteArray::number(maxPending));
    QVERIFY2(sourceStats.value("rss") - sourceRssBefore < RssGrowthLimitKiB,
             QByteArray::number(sourceStats.value("rss") - sourceRssBefore) + " KiB");
    const auto healthyStats = healthy->stats();
    QCOMPARE(healthyStats.value("received"), n);
    QCOMPARE(healthyStats.value("unordered"), 0);
    QCOMPARE(healthyStats.value("droppedBySource"), 0);

    stalled->send("thaw");
    QVERIFY(stalled->waitLine("thawed"));
    QVERIFY(stalled->waitStats([n](const auto &s) { return s.value("last") == n; }, floodDeadline()));
    const auto stalledStats = stalled->stats();
    QCOMPARE(stalledStats.value("unordered"), 0);
    // Nothing lost silently: the gaps it counts are exactly the drops the source counted for it.
    QCOMPARE(stalledStats.value("droppedBySource"), sourceStats.value("drops2"));
    QCOMPARE(stalledStats.value("received") + stalledStats.value("droppedBySource"), n);
}

// Overflow::Block: a sender on another thread waits while the stalled subscriber's backlog is
// full, and once it reads again every event reaches both subscribers, whole and in order, with
// nothing dropped anywhere.
void tst_Remote::blockDeliversEveryEventToAStalledSubscriber()
{
    QFETCH(QString, url);
    constexpr qint64 Capacity = 1000;
    const qint64 n = floodSize();
    auto [source, address] = startSource(url, {QStringLiteral("--capacity"), QString::number(Capacity),
                                               QStringLiteral("--overflow"), QStringLiteral("block"),
                                               QStringLiteral("--block-timeout"), QStringLiteral("600000")});
    QVERIFY(!address.isEmpty());
    auto healthy = startSubscriber(address, {QStringLiteral("--quiet")});
    QVERIFY(healthy->waitLine("state connected"));
    auto stalled = startSubscriber(address, {QStringLiteral("--quiet")});
    QVERIFY(stalled->waitLine("state connected"));
    QVERIFY(source->waitStats([](const auto &s) { return s.value("subscribers") == 2; }));
    const qint64 sourceRssBefore = source->stats().value("rss");

    stalled->send("freeze");
    QVERIFY(stalled->waitLine("frozen"));
    // 1000-byte events: more than the kernel's socket buffers and the connection's high water hold.
    source->send("notifyThread 1 " + QByteArray::number(n) + " 1000");
    // The stalled subscriber's backlog fills, and the sender waits for room.
    QVERIFY(source->waitStats([](const auto &s) { return s.value("pending") == Capacity; }));
    QVERIFY(source->lines("notified ").isEmpty());
    const auto blockedStats = source->stats();
    QVERIFY2(blockedStats.value("rss") - sourceRssBefore < RssGrowthLimitKiB,
             QByteArray::number(blockedStats.value("rss") - sourceRssBefore) + " KiB");
    stalled->send("thaw");
    QVERIFY(stalled->waitLine("thawed"));
    QVERIFY(source->waitLine("notified " + QByteArray::number(n) + " dropped=0", 0, floodDeadline()));
    for (Peer *peer : {healthy.get(), stalled.get()}) {
        QVERIFY(peer->waitStats([n](const auto &s) { return s.value("last") == n; }, floodDeadline()));
        const auto stats = peer->stats();
        QCOMPARE(stats.value("received"), n);
        QCOMPARE(stats.value("unordered"), 0);
        QCOMPARE(stats.value("droppedBySource"), 0);
    }
    const auto sourceStats = source->stats();
    QCOMPARE(sourceStats.value("dropped"), 0);
    QVERIFY(sourceStats.value("pending") <= Capacity);
}

// Overflow::Block with a short blockTimeout and a subscriber that stays stalled: each wait ends
// with a drop that the sender sees in droppedCount(), that the share signals and logs, and that
// the subscriber counts as a gap once it reads again.
void tst_Remote::blockTimeoutDropIsSeenByTheCaller()
{
    auto [source, address] =
        startSource(uniqueLocalUrl(),
                    {QStringLiteral("--capacity"), QStringLiteral("10"), QStringLiteral("--overflow"),
                     QStringLiteral("block"), QStringLiteral("--block-timeout"), QStringLiteral("20")},
                    true);
    QVERIFY(!address.isEmpty());
    auto sub = startSubscriber(address, {QStringLiteral("--quiet")});
    QVERIFY(sub->waitLine("state connected"));
    source->send("notify 1 1");
    QVERIFY(sub->waitStats([](const auto &s) { return s.value("last") == 1; }));
    sub->send("freeze");
    QVERIFY(sub->waitLine("frozen"));
    // 64 KiB events: the connection's buffer and the backlog hold a few dozen; the rest time out.
    constexpr qint64 N = 100;
    source->send("notifyThread 2 " + QByteArray::number(N) + " 65536");
    const auto notified = source->waitLine("notified " + QByteArray::number(N));
    QVERIFY(notified);
    const qint64 dropped = notified->mid(notified->indexOf("dropped=") + 8).toLongLong();
    QVERIFY2(dropped > 0, notified->constData());
    QVERIFY(source->waitLine("eventsDropped 1 "));
    // The first drop warning names the stalled subscriber and its drops so far.
    const QByteArray dropLine = "registryio.remote: subscriber ";
    QVERIFY(source->waitLine(dropLine));
    QVERIFY(source->lines(dropLine).first().startsWith(dropLine + "1 of rio::RemoteShare \"orders\": "));
    sub->send("thaw");
    QVERIFY(sub->waitLine("thawed"));
    // The newest events were the ones dropped: one more, once the backlog is empty, ends the count.
    QVERIFY(source->waitStats([](const auto &s) { return s.value("pending") == 0; }));
    source->send("notify " + QByteArray::number(N + 1) + ' ' + QByteArray::number(N + 1));
    QVERIFY(sub->waitStats([](const auto &s) { return s.value("last") == N + 1; }));
    const auto stats = sub->stats();
    QCOMPARE(stats.value("droppedBySource"), dropped);
    QCOMPARE(stats.value("received") + stats.value("droppedBySource"), N + 1);
    qint64 signalled = 0;
    for (const QByteArray &line : source->lines("eventsDropped 1 "))
        signalled += line.mid(16).toLongLong();
    QCOMPARE(signalled, dropped);
}

// Overflow::Block never waits on the share's own thread: its event loop is what makes room. A
// flood notified there with a stalled subscriber returns at once (with a 10-minute blockTimeout),
// dropping and counting what does not fit.
void tst_Remote::blockOnTheSharesOwnThreadDoesNotWait()
{
    auto [source, address] =
        startSource(uniqueLocalUrl(),
                    {QStringLiteral("--capacity"), QStringLiteral("10"), QStringLiteral("--overflow"),
                     QStringLiteral("block"), QStringLiteral("--block-timeout"), QStringLiteral("600000")});
    QVERIFY(!address.isEmpty());
    auto sub = startSubscriber(address, {QStringLiteral("--quiet")});
    QVERIFY(sub->waitLine("state connected"));
    QVERIFY(source->waitStats([](const auto &s) { return s.value("subscribers") == 1; }));
    sub->send("freeze");
    QVERIFY(sub->waitLine("frozen"));
    constexpr qint64 N = 200;
    source->send("notify 1 " + QByteArray::number(N) + " 65536");
    QVERIFY(source->waitLine("notified " + QByteArray::number(N)));
    const qint64 dropped = source->stats().value("dropped");
    QVERIFY(dropped > 0);
    sub->send("thaw");
    QVERIFY(sub->waitLine("thawed"));
    // The newest events were the ones dropped: one more, once the backlog is empty, ends the count.
    QVERIFY(source->waitStats([](const auto &s) { return s.value("pending") == 0; }));
    source->send("notify " + QByteArray::number(N + 1) + ' ' + QByteArray::number(N + 1));
    QVERIFY(sub->waitStats([](const auto &s) { return s.value("last") == N + 1; }));
    const auto stats = sub->stats();
    QCOMPARE(stats.value("received") + stats.value("droppedBySource"), N + 1);
    QCOMPARE(stats.value("droppedBySource"), dropped);
}

// A sender waiting for a stalled subscriber's room (10-minute blockTimeout) wakes when that
// subscriber goes (kill -9): the healthy one gets the rest, nothing dropped; and a sender waiting
// when the share itself goes wakes too.
void tst_Remote::blockedSenderWakesWhenTheStalledSubscriberOrTheShareGoes()
{
    auto [source, address] =
        startSource(uniqueLocalUrl(),
                    {QStringLiteral("--capacity"), QStringLiteral("100"), QStringLiteral("--overflow"),
                     QStringLiteral("block"), QStringLiteral("--block-timeout"), QStringLiteral("600000")});
    QVERIFY(!address.isEmpty());
    auto healthy = startSubscriber(address, {QStringLiteral("--quiet")});
    QVERIFY(healthy->waitLine("state connected"));
    auto stalled = startSubscriber(address, {QStringLiteral("--quiet")});
    QVERIFY(stalled->waitLine("state connected"));
    QVERIFY(source->waitStats([](const auto &s) { return s.value("subscribers") == 2; }));
    stalled->send("freeze");
    QVERIFY(stalled->waitLine("frozen"));
    constexpr qint64 N = 2000;
    source->send("notifyThread 1 " + QByteArray::number(N) + " 4096");
    QVERIFY(source->waitStats([](const auto &s) { return s.value("pending") == 100; }));
    QVERIFY(source->lines("notified ").isEmpty());
    stalled->process().kill();
    QVERIFY(stalled->process().waitForFinished(Deadline));
    QVERIFY(source->waitLine("notified " + QByteArray::number(N) + " dropped=0"));
    QVERIFY(healthy->waitStats([](const auto &s) { return s.value("last") == N; }));
    QCOMPARE(healthy->stats().value("received"), N);

    // Again with a new stalled subscriber, and the share destroyed under the waiting sender.
    auto second = startSubscriber(address, {QStringLiteral("--quiet")});
    QVERIFY(second->waitLine("state connected"));
    QVERIFY(source->waitStats([](const auto &s) { return s.value("subscribers") == 2; }));
    second->send("freeze");
    QVERIFY(second->waitLine("frozen"));
    const qsizetype from = source->lineCount();
    source->send("notifyThread 1 " + QByteArray::number(N) + " 4096");
    QVERIFY(source->waitStats([](const auto &s) { return s.value("pending") == 100; }));
    source->send("unshare");
    QVERIFY(source->waitLine("unshared", from));
    QVERIFY(source->waitLine("notified " + QByteArray::number(N), from));
    second->send("thaw");
}

// A subscriber's channel at the fake source below.
class FakeChannel : public QObject
{
    Q_OBJECT
Q_SIGNALS:
    void delivered(const QByteArray &frame);
public Q_SLOTS:
    void ready() { }
};

// The fake source below speaks the share's protocol: its frames reach every subscriber's channel
// as they are.
class FakeShareSource : public QObject
{
    Q_OBJECT
public:
    QRemoteObjectHostBase *host = nullptr;
    std::vector<std::unique_ptr<FakeChannel>> channels;
Q_SIGNALS:
    // Not remoted to anyone: what the test emits, forwarded to every channel.
    void delivered(const QByteArray &frame);
public Q_SLOTS:
    void post(const QByteArray &) { }
    void subscribe(const QByteArray &secret)
    {
        auto channel = std::make_unique<FakeChannel>();
        connect(this, &FakeShareSource::delivered, channel.get(), &FakeChannel::delivered);
        host->enableRemoting(channel.get(), QStringLiteral("orders#") + QString::number(keyOf(secret), 16));
        channels.push_back(std::move(channel));
    }
    void unsubscribe(quint64) { }
};

// A node connected to a fake source enabled as "orders", at a fresh local address.
struct FakeSourceLink
{
    QUrl url{uniqueLocalUrl()};
    QRemoteObjectHost host{url};
    FakeShareSource fake;
    QRemoteObjectNode node;

    bool start()
    {
        fake.host = &host;
        return host.enableRemoting(&fake, QStringLiteral("orders")) && rio::connectToSource(&node, url);
    }
};

// A frame from the source with one event that is not a Payload between two good ones: none of the
// three runs a handler, the frame is counted as malformed and warned about, and the next frames
// (one of three events, in order) are delivered whole.
void tst_Remote::malformedMultiEventFrameFromTheSourceDeliversNothing()
{
    FakeSourceLink link;
    QVERIFY(link.start());
    QRemoteObjectNode &node = link.node;
    FakeShareSource &fake = link.fake;
    rio::RemoteRegistry<Payload> subscriber(&node, QStringLiteral("orders"));
    QList<qint64> seen;
    subscriber.add(this, [&](const Payload &p) { seen.append(p.seq); });
    QTRY_COMPARE_WITH_TIMEOUT(subscriber.state(), rio::RemoteSubscriber::State::Connected, Deadline);

    QTest::ignoreMessage(QtWarningMsg, QRegularExpression("the source sent a frame of 3 events, one of them "
                                                          "bytes that are not one event; ignored"));
    Q_EMIT fake.delivered(
        broadcastFrame(42, {{1, payloadBytes(1)}, {2, QByteArray("garbage")}, {3, payloadBytes(3)}}));
    QTRY_COMPARE_WITH_TIMEOUT(subscriber.link()->malformedCount(), quint64(1), Deadline);
    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression("the source sent a malformed frame of [0-9]+ bytes"));
    QByteArray cut = broadcastFrame(42, {{1, payloadBytes(1)}, {2, payloadBytes(2)}});
    cut.chop(2);
    Q_EMIT fake.delivered(cut);
    QTRY_COMPARE_WITH_TIMEOUT(subscriber.link()->malformedCount(), quint64(2), Deadline);
    Q_EMIT fake.delivered(
        broadcastFrame(42, {{1, payloadBytes(11)}, {2, payloadBytes(12)}, {3, payloadBytes(13)}}));
    Q_EMIT fake.delivered(broadcastFrame(42, {{4, payloadBytes(14)}}));
    QTRY_COMPARE_WITH_TIMEOUT(seen, (QList<qint64>{11, 12, 13, 14}), Deadline);
    QCOMPARE(subscriber.link()->malformedCount(), quint64(2));
    QCOMPARE(subscriber.link()->droppedBySource(), quint64(0));
    QCOMPARE(subscriber.state(), rio::RemoteSubscriber::State::Connected);
}

// A handler that destroys its RemoteRegistry while a frame of several events is being delivered:
// the frame's later events are not delivered to anything, and nothing touches the destroyed
// registry.
void tst_Remote::handlerDestroyingTheSubscriberMidFrameStopsThatFrame()
{
    FakeSourceLink link;
    QVERIFY(link.start());
    QRemoteObjectNode &node = link.node;
    FakeShareSource &fake = link.fake;
    auto subscriber = std::make_unique<rio::RemoteRegistry<Payload>>(&node, QStringLiteral("orders"));
    QList<qint64> seen;
    subscriber->add(this, [&](const Payload &p) {
        seen.append(p.seq);
        if (p.seq == 2)
            subscriber.reset();
    });
    QTRY_COMPARE_WITH_TIMEOUT(subscriber->state(), rio::RemoteSubscriber::State::Connected, Deadline);
    Q_EMIT fake.delivered(
        broadcastFrame(42, {{1, payloadBytes(1)}, {2, payloadBytes(2)}, {3, payloadBytes(3)}}));
    QTRY_VERIFY_WITH_TIMEOUT(!subscriber, Deadline);
    QCOMPARE(seen, (QList<qint64>{1, 2}));
    // The node and the source go on: a new subscriber gets the next frame.
    rio::RemoteRegistry<Payload> again(&node, QStringLiteral("orders"));
    again.add(this, [&](const Payload &p) { seen.append(p.seq); });
    QTRY_COMPARE_WITH_TIMEOUT(again.state(), rio::RemoteSubscriber::State::Connected, Deadline);
    Q_EMIT fake.delivered(broadcastFrame(43, {{1, payloadBytes(4)}}));
    QTRY_COMPARE_WITH_TIMEOUT(seen, (QList<qint64>{1, 2, 4}), Deadline);
}

// An event QDataStream writes without an error but cannot read back (a QVariant holding a QObject
// pointer) is not sent, by a share or by a subscriber, and is warned about: the other side would
// take its bytes for malformed input (a subscriber ignores the frame, a source drops the
// subscriber). The events after it cross; the subscriber stays connected.
void tst_Remote::unreadableVariantEventsAreNotSent()
{
    QRemoteObjectHost host;
    auto *listener = new rio::RemoteListener(&host);
    QVERIFY(listener->listen(QUrl(uniqueLocalUrl())));
    rio::QtRegistry<QVariant> shared;
    rio::RemoteShare<QVariant> share(&host, QStringLiteral("orders"), shared);
    QRemoteObjectNode node;
    QVERIFY(rio::connectToSource(&node, listener->address()));
    rio::RemoteRegistry<QVariant> subscriber(&node, QStringLiteral("orders"));
    QList<int> atSource;
    QList<int> atSubscriber;
    shared.add(this, [&](const QVariant &v) {
        if (v.typeId() == QMetaType::Int)
            atSource.append(v.toInt());
    });
    subscriber.add(this, [&](const QVariant &v) {
        if (v.typeId() == QMetaType::Int)
            atSubscriber.append(v.toInt());
    });
    QTRY_COMPARE_WITH_TIMEOUT(subscriber.state(), rio::RemoteSubscriber::State::Connected, Deadline);
    QObject thing;
    for (int side = 0; side < 2; ++side) {
        QTest::ignoreMessage(QtWarningMsg,
                             QRegularExpression(QStringLiteral("QVariant::load: unable to load type")));
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral(
                                               "an event of type QObject\\* cannot cross processes")));
    }
    shared.notify(QVariant::fromValue(&thing));
    subscriber.notify(QVariant::fromValue(&thing));
    shared.notify(1);
    subscriber.notify(2);
    // Each side's own event ran there at once; the other's arrives.
    QTRY_COMPARE_WITH_TIMEOUT(atSubscriber, (QList<int>{2, 1}), Deadline);
    QTRY_COMPARE_WITH_TIMEOUT(atSource, (QList<int>{1, 2}), Deadline);
    QCOMPARE(subscriber.link()->malformedCount(), quint64(0));
    QCOMPARE(listener->rejectedCount(), quint64(0));
    QCOMPARE(subscriber.state(), rio::RemoteSubscriber::State::Connected);
}

// What crosses the wire for a burst notified on the share's thread: the first event alone and at
// once (the wire was idle), the rest together in frames of at most RemoteFrameMaxEvents, every
// event once and in sequence order.
void tst_Remote::eventsNotifiedWhileTheWireIsBusyShareFrames()
{
    LocalSource source(uniqueLocalUrl());
    QVERIFY(source.share);
    QRemoteObjectNode node;
    RawSubscription raw;
    QVERIFY(raw.start(node, source.address()));
    const QMetaObject *meta = raw.channel->metaObject();
    QSignalSpy frames(raw.channel.get(), meta->method(meta->indexOfSignal("delivered(QByteArray)")));
    QVERIFY(frames.isValid());
    QTRY_VERIFY_WITH_TIMEOUT(source.share->base()->subscriberCount() == 1 &&
                                 source.share->base()->subscribers().value(0).receiving,
                             Deadline);
    QTRY_VERIFY_WITH_TIMEOUT(source.listener->isIdle(source.share->base()->subscribers().value(0).connection),
                             Deadline);

    constexpr qint64 Burst = 1000;
    for (qint64 seq = 1; seq <= Burst; ++seq)
        source.registry.notify(Payload{seq, {}});
    const auto eventsIn = [&] {
        qint64 n = 0;
        for (const QList<QVariant> &args : std::as_const(frames)) {
            if (const auto frame = rio::detail::decodeRemoteFrame(args.at(0).toByteArray()))
                n += qint64(frame->events.size());
        }
        return n;
    };
    QTRY_COMPARE_WITH_TIMEOUT(eventsIn(), Burst, Deadline);
    QList<qint64> sizes;
    qint64 expected = 1;
    for (const QList<QVariant> &args : std::as_const(frames)) {
        const auto frame = rio::detail::decodeRemoteFrame(args.at(0).toByteArray());
        QVERIFY(frame);
        sizes.append(qint64(frame->events.size()));
        QVERIFY(frame->events.size() <= rio::detail::RemoteFrameMaxEvents);
        for (const auto &event : frame->events) {
            Payload p;
            QVERIFY(rio::detail::decodeRemoteEvent(event.payload, p));
            QCOMPARE(p.seq, expected++);
        }
    }
    QCOMPARE(sizes.first(), 1);
    QVERIFY2(sizes.size() < Burst / 10, qPrintable(QStringLiteral("%1 frames").arg(sizes.size())));
}

// Events notified back to back on the share's thread go out together once the first is on the
// wire, and a subscriber posts what waits together too: every event of either burst arrives,
// once and in order, on the other side.
void tst_Remote::burstsArriveWholeAndInOrderBothWays()
{
    QFETCH(QString, url);
    LocalSource source(url);
    QVERIFY(source.share);
    auto peer = startSubscriber(source.address(), {QStringLiteral("--quiet")});
    QVERIFY(peer->waitLine("state connected"));
    constexpr qint64 Burst = 5000;
    for (qint64 seq = 1; seq <= Burst; ++seq)
        source.registry.notify(Payload{seq, {}});
    QVERIFY(peer->waitStats([](const auto &s) { return s.value("received") >= Burst; }));
    const auto stats = peer->stats();
    QCOMPARE(stats.value("received"), Burst);
    QCOMPARE(stats.value("last"), Burst);
    QCOMPARE(stats.value("unordered"), 0);
    QCOMPARE(stats.value("droppedBySource"), 0);

    qint64 atSource = 0;
    qint64 unordered = 0;
    qint64 last = 0;
    source.registry.add(this, [&](const Payload &p) {
        ++atSource;
        unordered += p.seq == last + 1 ? 0 : 1;
        last = p.seq;
    });
    peer->send(QByteArray("notify 1 ") + QByteArray::number(Burst));
    QTRY_COMPARE_WITH_TIMEOUT(atSource, Burst, Deadline);
    QCOMPARE(last, Burst);
    QCOMPARE(unordered, 0);
}

QTEST_GUILESS_MAIN(tst_Remote)
#include "tst_remote.moc"
