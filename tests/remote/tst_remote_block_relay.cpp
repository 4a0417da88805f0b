// SPDX-License-Identifier: MIT
// REMOTE.md's delivery promises tried again from the outside, through the public API, with real
// processes (rio_remote_peer) and with both ends in this process behind a TCP relay: Block's
// relay of subscribers' events with two senders beside a frozen subscriber, a held sender killed,
// the frozen subscriber killed, the retained event across a reconnection and a takeover, Latest
// across a reconnection, notifier threads that come and go on a Block share, and a subscriber's
// flood beyond its own queue. Every wait is on an observable state or
// line, with a deadline; every producer is bounded in count.
#include "tst_remote_common.h"    // rio_remote_peer processes
#include "tst_remote_inprocess.h" // Relay, Source, Subscriber, Worker

#include <QScopeGuard>
#include <QTest>

#include <memory>
#include <optional>
#include <vector>

namespace {

// The sequence numbers of the "event 0 <seq>" lines of `peer`, in arrival order.
QList<qint64> eventsOf(const Peer &peer)
{
    QList<qint64> out;
    for (const QByteArray &line : peer.lines("event 0 "))
        out.append(line.mid(8).toLongLong());
    return out;
}

// The events of `all` in [first, last], in arrival order.
QList<qint64> within(const QList<qint64> &all, qint64 first, qint64 last)
{
    QList<qint64> out;
    for (const qint64 seq : all) {
        if (seq >= first && seq <= last)
            out.append(seq);
    }
    return out;
}

// Each of `peers` has received one event notified on the source: the source sends to them all.
bool allReceiving(Peer &source, const std::vector<Peer *> &peers)
{
    for (qint64 seq = 1; seq < 200; ++seq) {
        const QByteArray number = QByteArray::number(seq);
        for (Peer *peer : peers)
            peer->send("expect " + number);
        source.send("notify " + number + ' ' + number);
        bool all = true;
        for (Peer *peer : peers)
            all = all && peer->waitLine("reached " + number, 0, 2000);
        if (all)
            return true;
    }
    return false;
}

// The rio_remote_peer arguments of a source and of its subscribers on `url`: certificates over
// TLS, none otherwise.
struct Transport
{
    std::optional<TestCertificates> certs;
    QStringList source;
    QStringList subscriber;

    explicit Transport(const QString &url)
    {
        if (!url.startsWith(QLatin1String("tls:")))
            return;
        certs.emplace();
        source = certs->args(QStringLiteral("server"), QStringLiteral("a"));
        subscriber = certs->args(QStringLiteral("client-a"), QStringLiteral("a"));
    }
    [[nodiscard]] QString error() const { return certs ? certs->error() : QString(); }
};

} // namespace

class tst_remote_block_relay : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void retainedEventIsNotRepeatedAcrossAReconnection_data();
    void retainedEventIsNotRepeatedAcrossAReconnection();
    void latestSubscriberGetsTheNewestOnceAcrossAReconnection();
    void blockShareLosesNothingToNotifierThreadChurn();
    void twoSendersBesideAFrozenSubscriberLoseNothing_data();
    void twoSendersBesideAFrozenSubscriberLoseNothing();
    void heldSenderKilledLeavesNoHoleInWhatWasRelayed_data();
    void heldSenderKilledLeavesNoHoleInWhatWasRelayed();
    void frozenSubscriberKilledReleasesTheHeldSender_data();
    void frozenSubscriberKilledReleasesTheHeldSender();
    void subscriberFloodBeyondItsQueueIsCountedNotLost();
};

void tst_remote_block_relay::retainedEventIsNotRepeatedAcrossAReconnection_data()
{
    QTest::addColumn<bool>("halfOpen");
    QTest::addColumn<bool>("notifyWhileAway");
    QTest::newRow("cut") << false << false;
    QTest::newRow("cut, events while away") << false << true;
    QTest::newRow("half-open") << true << false;
    QTest::newRow("half-open, events while away") << true << true;
}

// REMOTE.md (retainLatest): a subscriber that connects or reconnects "receives that event first,
// once, then the events notified from then on"; one that reconnects to a source that kept running
// "continues that source's sequence". A subscriber that already received the newest event before
// its link broke (cut: the source hears of it; half-open: it does not, and the subscriber takes its
// subscription over) must not run it a second time; when events came while it was away, the newest
// comes first and the ones before it are a counted gap.
void tst_remote_block_relay::retainedEventIsNotRepeatedAcrossAReconnection()
{
    QFETCH(bool, halfOpen);
    QFETCH(bool, notifyWhileAway);
    Source source({.retainLatest = true});
    QVERIFY2(source.share, qPrintable(source.listener->errorString()));
    Relay relay(source.port());
    Subscriber s(relay.address());
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(1), Deadline);
    const quint64 before = source.newest();
    for (qint64 seq = 1; seq <= 5; ++seq)
        source.registry.notify(Payload{seq, {}});
    QTRY_VERIFY_WITH_TIMEOUT(s.has(5), Deadline);

    if (halfOpen) {
        relay.orphan();
    } else {
        relay.cut();
        QTRY_COMPARE_WITH_TIMEOUT(source.share->base()->subscriberCount(), 0, Deadline);
    }
    QTRY_COMPARE_WITH_TIMEOUT(s.registry->state(), rio::RemoteSubscriber::State::Reconnecting, Deadline);
    if (notifyWhileAway) {
        for (qint64 seq = 6; seq <= 9; ++seq)
            source.registry.notify(Payload{seq, {}});
    }
    relay.accept();
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(1) && source.newest() != before, Deadline);
    QTRY_COMPARE_WITH_TIMEOUT(s.registry->state(), rio::RemoteSubscriber::State::Connected, Deadline);
    // The newest state arrives without waiting for another event (also when the events notified
    // while away went into the dead link of a half-open connection).
    if (notifyWhileAway)
        QTRY_VERIFY_WITH_TIMEOUT(s.has(9), Deadline);
    source.registry.notify(Payload{10, {}});
    QTRY_VERIFY_WITH_TIMEOUT(s.has(10), Deadline);
    qInfo() << "received" << s.received << "droppedBySource" << s.droppedBySource();
    QVERIFY2(strictlyIncreasing(s.received), "an event ran twice, or out of order");
    QCOMPARE(s.received.first(5), range(1, 5));
    // Each event notified arrived once or is a counted gap.
    QCOMPARE(quint64(s.received.size()) + s.droppedBySource(), quint64(notifyWhileAway ? 10 : 6));
}

// Delivery::Latest with retainLatest across a reconnection to a source that kept running: the
// subscriber gets the newest state at once, runs no event twice (also when it had the newest
// already), and, as with every Latest share, the events it did not get are coalesced, not counted
// (REMOTE.md: "the coalesced events are not drops").
void tst_remote_block_relay::latestSubscriberGetsTheNewestOnceAcrossAReconnection()
{
    Source source({.delivery = rio::Delivery::Latest, .retainLatest = true});
    QVERIFY2(source.share, qPrintable(source.listener->errorString()));
    Relay relay(source.port());
    Subscriber s(relay.address());
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(1), Deadline);
    source.registry.notify(Payload{1, {}});
    QTRY_VERIFY_WITH_TIMEOUT(s.has(1), Deadline);
    for (const bool notifyWhileAway : {false, true}) {
        relay.cut();
        QTRY_COMPARE_WITH_TIMEOUT(source.share->base()->subscriberCount(), 0, Deadline);
        QTRY_COMPARE_WITH_TIMEOUT(s.registry->state(), rio::RemoteSubscriber::State::Reconnecting, Deadline);
        if (notifyWhileAway) {
            for (qint64 seq = 2; seq <= 5; ++seq)
                source.registry.notify(Payload{seq, {}});
        }
        relay.accept();
        QTRY_VERIFY_WITH_TIMEOUT(source.receiving(1), Deadline);
        QTRY_COMPARE_WITH_TIMEOUT(s.registry->state(), rio::RemoteSubscriber::State::Connected, Deadline);
    }
    QTRY_VERIFY_WITH_TIMEOUT(s.has(5), Deadline);
    source.registry.notify(Payload{6, {}});
    QTRY_VERIFY_WITH_TIMEOUT(s.has(6), Deadline);
    qInfo() << "received" << s.received << "droppedBySource" << s.droppedBySource();
    QCOMPARE(s.received, (QList<qint64>{1, 5, 6}));
    QCOMPARE(s.droppedBySource(), quint64(0));
}

// Overflow::Block with notifiers on threads that come and go (each notifies a few events, then
// exits, while another starts): REMOTE.md says notify waits for room "from any thread". A held
// subscriber makes each of them wait; once it reads again, every event of every thread arrives,
// each thread's in its order, nothing counted as dropped, and no wait outlives its thread.
void tst_remote_block_relay::blockShareLosesNothingToNotifierThreadChurn()
{
    constexpr int Threads = 40;
    constexpr qint64 PerThread = 100;
    constexpr int EventBytes = 32 * 1024; // two threads' events pass what the sockets buffer
    constexpr qint64 Stride = 1000;       // thread t notifies t * Stride + 1 ..
    Source source(
        {.capacity = 8, .overflow = rio::Overflow::Block, .blockTimeout = std::chrono::minutes(10)});
    QVERIFY2(source.share, qPrintable(source.listener->errorString()));
    Relay relay(source.port());
    Subscriber s(relay.address());
    Subscriber healthy(source.address());
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(2), Deadline);
    source.registry.notify(Payload{0, {}});
    QTRY_VERIFY_WITH_TIMEOUT(s.has(0) && healthy.has(0), Deadline);

    relay.hold();
    std::vector<std::unique_ptr<Worker>> workers;
    const auto stop = qScopeGuard([&] {
        source.share.reset(); // wakes a waiting notifier
        workers.clear();
    });
    // Two at a time; each new one starts when the one before the last has finished (joined only
    // then: the share's thread, this one, must go on writing for a waiting notifier).
    const auto start = [&](int t) {
        workers.push_back(
            std::make_unique<Worker>(source.registry, t * Stride + 1, t * Stride + PerThread, EventBytes));
    };
    start(1);
    start(2);
    // The held subscriber's backlog fills: the notifiers wait for it.
    QTRY_VERIFY_WITH_TIMEOUT(source.share->base()->pendingCount() == 8, Deadline);
    relay.release();
    for (int t = 3; t <= Threads; ++t) {
        Worker &done = *workers[std::size_t(t - 3)];
        QTRY_VERIFY_WITH_TIMEOUT(done.done(), 4 * Deadline);
        done.join();
        start(t);
        if (t % 8 == 0) { // hold again now and then: the next threads wait too
            relay.hold();
            QTRY_VERIFY_WITH_TIMEOUT(source.share->base()->pendingCount() == 8 || workers.back()->done(),
                                     Deadline);
            relay.release();
        }
    }
    for (const auto &worker : workers)
        QTRY_VERIFY_WITH_TIMEOUT(worker->done(), 4 * Deadline);
    const qint64 total = 1 + Threads * PerThread;
    QTRY_VERIFY_WITH_TIMEOUT(s.received.size() == total && healthy.received.size() == total, 4 * Deadline);
    for (Subscriber *sub : {&s, &healthy}) {
        for (int t = 1; t <= Threads; ++t) {
            QList<qint64> mine;
            for (const qint64 seq : sub->received) {
                if (seq > t * Stride && seq <= t * Stride + PerThread)
                    mine.append(seq);
            }
            QCOMPARE(mine, range(t * Stride + 1, t * Stride + PerThread));
        }
        QCOMPARE(sub->droppedBySource(), quint64(0));
    }
    QCOMPARE(source.share->droppedCount(), quint64(0));
}

void tst_remote_block_relay::twoSendersBesideAFrozenSubscriberLoseNothing_data()
{
    addTransportRows();
    QTest::newRow("tls") << QStringLiteral("tls://127.0.0.1:0");
}

// REMOTE.md (Block): events that subscribers send "are lossless another way: one that finds a
// subscriber's backlog full is queued beyond capacity (by at most what the sender's connection had
// buffered, one read ...), and the source stops reading the sender's connection until every
// backlog has room again". Two subscribers send at once while a third is frozen: each sender's
// events reach the frozen one and the other sender, all of them, in that sender's order, nothing
// counted as dropped anywhere; the frozen one's backlog holds at most capacity and one read per
// sender.
void tst_remote_block_relay::twoSendersBesideAFrozenSubscriberLoseNothing()
{
    QFETCH(QString, url);
    constexpr int EventBytes = 16 * 1024;
    constexpr qint64 Events = 600; // per sender
    constexpr qint64 Capacity = 32;
    const bool tls = url.startsWith(QLatin1String("tls:"));
    const Transport transport(url);
    QVERIFY2(transport.error().isEmpty(), qPrintable(transport.error()));
    const QStringList &sourceTls = transport.source;
    const QStringList &subscriberTls = transport.subscriber;
    auto started =
        startSource(url, sourceTls + QStringList{QStringLiteral("--overflow"), QStringLiteral("block"),
                                                 QStringLiteral("--block-timeout"), QStringLiteral("600000"),
                                                 QStringLiteral("--capacity"), QString::number(Capacity),
                                                 QStringLiteral("--handlers"), QStringLiteral("none")});
    const std::unique_ptr<Peer> &source = started.first; // not a binding: clang 14 lambdas cannot capture one
    const QString address = started.second;
    QVERIFY(!address.isEmpty());
    auto frozen = startSubscriber(address, subscriberTls);
    auto one = startSubscriber(address, subscriberTls);
    auto two = startSubscriber(address, subscriberTls);
    for (Peer *peer : {frozen.get(), one.get(), two.get()})
        QVERIFY(peer->waitLine("state connected"));
    QVERIFY(allReceiving(*source, {frozen.get(), one.get(), two.get()}));

    constexpr qint64 OneFirst = 100000;
    constexpr qint64 TwoFirst = 200000;
    frozen->send("freeze");
    QVERIFY(frozen->waitLine("frozen"));
    one->send("notify " + QByteArray::number(OneFirst) + ' ' + QByteArray::number(OneFirst + Events - 1) +
              ' ' + QByteArray::number(EventBytes));
    two->send("notify " + QByteArray::number(TwoFirst) + ' ' + QByteArray::number(TwoFirst + Events - 1) +
              ' ' + QByteArray::number(EventBytes));
    QVERIFY(one->waitLine("notified "));
    QVERIFY(two->waitLine("notified "));
    qint64 mostPending = 0;
    int fullSamples = 0;
    QVERIFY(QTest::qWaitFor(
        [&] {
            const auto stats = source->stats();
            mostPending = std::max(mostPending, stats.value("pending"));
            fullSamples += stats.value("pending") >= Capacity ? 1 : 0;
            return fullSamples >= 100;
        },
        4 * Deadline));
    frozen->send("thaw");
    const auto whole = [&](Peer &peer, qint64 first) {
        return within(eventsOf(peer), first, first + Events - 1).size() == Events;
    };
    QVERIFY(QTest::qWaitFor(
        [&] {
            mostPending = std::max(mostPending, source->stats().value("pending"));
            return whole(*frozen, OneFirst) && whole(*frozen, TwoFirst) && whole(*one, TwoFirst) &&
                   whole(*two, OneFirst);
        },
        8 * Deadline));
    const qint64 oneRead = (rio::RemoteListener::Options{}.maxPacketBytes + 65536) * (tls ? 2 : 1);
    qInfo("largest backlog %lld events (capacity %lld, one read of a sender %lld events)", mostPending,
          Capacity, oneRead / EventBytes);
    QCOMPARE(within(eventsOf(*frozen), OneFirst, OneFirst + Events - 1),
             range(OneFirst, OneFirst + Events - 1));
    QCOMPARE(within(eventsOf(*frozen), TwoFirst, TwoFirst + Events - 1),
             range(TwoFirst, TwoFirst + Events - 1));
    QCOMPARE(within(eventsOf(*one), TwoFirst, TwoFirst + Events - 1), range(TwoFirst, TwoFirst + Events - 1));
    QCOMPARE(within(eventsOf(*two), OneFirst, OneFirst + Events - 1), range(OneFirst, OneFirst + Events - 1));
    QCOMPARE(source->stats().value("dropped"), 0);
    for (Peer *peer : {frozen.get(), one.get(), two.get()}) {
        const auto stats = peer->stats();
        QCOMPARE(stats.value("droppedBySource"), 0);
        QCOMPARE(stats.value("droppedDisconnected"), 0);
    }
    QVERIFY2(mostPending <= Capacity + 2 * (oneRead / EventBytes + 1),
             qPrintable(QStringLiteral("the backlog held %1 events").arg(mostPending)));
}

void tst_remote_block_relay::heldSenderKilledLeavesNoHoleInWhatWasRelayed_data()
{
    addTransportRows();
    QTest::newRow("tls") << QStringLiteral("tls://127.0.0.1:0");
}

// A subscriber sends while another is frozen under Block: the source stops reading the sender.
// The sender is killed (kill -9) while held. What it wrote before it died and the source had not
// read yet may be lost with it, but what the source relays must be lossless: the frozen subscriber
// and a bystander get a prefix of the sender's events, in order, with no hole and nothing counted
// as dropped, and the source serves them on.
void tst_remote_block_relay::heldSenderKilledLeavesNoHoleInWhatWasRelayed()
{
    QFETCH(QString, url);
    constexpr int EventBytes = 8 * 1024;
    constexpr qint64 Events = 1500;
    constexpr qint64 Capacity = 16;
    const Transport transport(url);
    QVERIFY2(transport.error().isEmpty(), qPrintable(transport.error()));
    auto started = startSource(
        url, transport.source + QStringList{QStringLiteral("--overflow"), QStringLiteral("block"),
                                            QStringLiteral("--block-timeout"), QStringLiteral("600000"),
                                            QStringLiteral("--capacity"), QString::number(Capacity),
                                            QStringLiteral("--handlers"), QStringLiteral("none")});
    const std::unique_ptr<Peer> &source = started.first; // not a binding: clang 14 lambdas cannot capture one
    const QString address = started.second;
    QVERIFY(!address.isEmpty());
    auto frozen = startSubscriber(address, transport.subscriber);
    auto bystander = startSubscriber(address, transport.subscriber);
    auto sender = startSubscriber(address, transport.subscriber + QStringList{QStringLiteral("--quiet")});
    for (Peer *peer : {frozen.get(), bystander.get(), sender.get()})
        QVERIFY(peer->waitLine("state connected"));
    QVERIFY(allReceiving(*source, {frozen.get(), bystander.get(), sender.get()}));

    constexpr qint64 First = 100000;
    frozen->send("freeze");
    QVERIFY(frozen->waitLine("frozen"));
    sender->send("notify " + QByteArray::number(First) + ' ' + QByteArray::number(First + Events - 1) + ' ' +
                 QByteArray::number(EventBytes));
    QVERIFY(sender->waitLine("notified "));
    int fullSamples = 0;
    QVERIFY(QTest::qWaitFor(
        [&] {
            fullSamples += source->stats().value("pending") >= Capacity ? 1 : 0;
            return fullSamples >= 50;
        },
        4 * Deadline));
    sender->process().kill();
    QVERIFY(sender->process().waitForFinished(Deadline));
    // The source reads the sender again once the frozen one has room, and so learns it is gone.
    frozen->send("thaw");
    QVERIFY(source->waitStats([](const auto &stats) { return stats.value("subscribers") == 2; }));
    // Everything the source took in reaches both: once its backlogs are empty and both have what
    // the other has.
    QVERIFY(QTest::qWaitFor(
        [&] {
            return source->stats().value("pending") == 0 &&
                   within(eventsOf(*frozen), First, First + Events - 1).size() ==
                       within(eventsOf(*bystander), First, First + Events - 1).size();
        },
        4 * Deadline));
    source->send("notify 99999 99999");
    QVERIFY(frozen->waitLine("event 0 99999"));
    QVERIFY(bystander->waitLine("event 0 99999"));
    const QList<qint64> got = within(eventsOf(*frozen), First, First + Events - 1);
    qInfo("the frozen subscriber got %lld of the killed sender's %lld events", qint64(got.size()), Events);
    QVERIFY(!got.isEmpty());
    QCOMPARE(got, range(First, First + got.size() - 1));
    QCOMPARE(within(eventsOf(*bystander), First, First + Events - 1), got);
    QCOMPARE(source->stats().value("dropped"), 0);
    QCOMPARE(frozen->stats().value("droppedBySource"), 0);
    QCOMPARE(bystander->stats().value("droppedBySource"), 0);
}

void tst_remote_block_relay::frozenSubscriberKilledReleasesTheHeldSender_data()
{
    addTransportRows();
    QTest::newRow("tls") << QStringLiteral("tls://127.0.0.1:0");
}

// REMOTE.md (Block): the source stops reading a sender while a subscriber's backlog is full, and
// "the wait wakes ... when a waited-for subscriber goes (disconnects, or is killed ...)". The
// frozen subscriber is killed (kill -9) while a sender is held for it, with a blockTimeout of ten
// minutes: the source reads the sender again, and the bystander gets every event the sender
// notified, in order, nothing counted as dropped for it.
void tst_remote_block_relay::frozenSubscriberKilledReleasesTheHeldSender()
{
    QFETCH(QString, url);
    constexpr int EventBytes = 8 * 1024;
    constexpr qint64 Events = 1500;
    constexpr qint64 Capacity = 16;
    const Transport transport(url);
    QVERIFY2(transport.error().isEmpty(), qPrintable(transport.error()));
    auto started = startSource(
        url, transport.source + QStringList{QStringLiteral("--overflow"), QStringLiteral("block"),
                                            QStringLiteral("--block-timeout"), QStringLiteral("600000"),
                                            QStringLiteral("--capacity"), QString::number(Capacity),
                                            QStringLiteral("--handlers"), QStringLiteral("none")});
    const std::unique_ptr<Peer> &source = started.first; // not a binding: clang 14 lambdas cannot capture one
    const QString address = started.second;
    QVERIFY(!address.isEmpty());
    auto frozen = startSubscriber(address, transport.subscriber + QStringList{QStringLiteral("--quiet")});
    auto bystander = startSubscriber(address, transport.subscriber);
    auto sender = startSubscriber(address, transport.subscriber + QStringList{QStringLiteral("--quiet")});
    for (Peer *peer : {frozen.get(), bystander.get(), sender.get()})
        QVERIFY(peer->waitLine("state connected"));
    QVERIFY(allReceiving(*source, {frozen.get(), bystander.get(), sender.get()}));

    constexpr qint64 First = 100000;
    frozen->send("freeze");
    QVERIFY(frozen->waitLine("frozen"));
    sender->send("notify " + QByteArray::number(First) + ' ' + QByteArray::number(First + Events - 1) + ' ' +
                 QByteArray::number(EventBytes));
    QVERIFY(sender->waitLine("notified "));
    int fullSamples = 0;
    QVERIFY(QTest::qWaitFor(
        [&] {
            fullSamples += source->stats().value("pending") >= Capacity ? 1 : 0;
            return fullSamples >= 50;
        },
        4 * Deadline));
    QVERIFY(within(eventsOf(*bystander), First, First + Events - 1).size() < Events); // the sender is held
    frozen->process().kill();
    QVERIFY(frozen->process().waitForFinished(Deadline));
    QVERIFY(QTest::qWaitFor(
        [&] { return within(eventsOf(*bystander), First, First + Events - 1).size() == Events; },
        4 * Deadline));
    QCOMPARE(within(eventsOf(*bystander), First, First + Events - 1), range(First, First + Events - 1));
    QVERIFY(source->waitStats([](const auto &stats) { return stats.value("subscribers") == 2; }));
    const auto stats = source->stats();
    qInfo("source: dropped %lld (the killed subscriber's backlog included)", stats.value("dropped"));
    QCOMPARE(bystander->stats().value("droppedBySource"), 0);
}

// REMOTE.md: events notified on a subscriber "wait in a bounded queue on the subscriber (65536
// events, the oldest dropped and counted in droppedUnsent())". A subscriber notifies 70,000 events
// in one go on its thread: what reaches the source and another subscriber is the newest of them,
// in order, and with droppedUnsent() it makes up all 70,000; nothing else is lost.
void tst_remote_block_relay::subscriberFloodBeyondItsQueueIsCountedNotLost()
{
    constexpr qint64 Events = 70000;
    Source source({});
    QVERIFY2(source.share, qPrintable(source.listener->errorString()));
    Subscriber sender(source.address());
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(1), Deadline);
    Subscriber other(source.address());
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(2), Deadline);
    QTRY_COMPARE_WITH_TIMEOUT(sender.registry->state(), rio::RemoteSubscriber::State::Connected, Deadline);
    for (qint64 seq = RelayedBase + 1; seq <= RelayedBase + Events; ++seq)
        sender.registry->notify(Payload{seq, {}});
    const quint64 unsent = sender.registry->link()->droppedUnsent();
    QTRY_COMPARE_WITH_TIMEOUT(quint64(other.received.size()) + unsent, quint64(Events), 4 * Deadline);
    qInfo("the sender dropped %llu unsent; the other subscriber got %lld", unsent,
          qint64(other.received.size()));
    QCOMPARE(other.received, range(RelayedBase + Events - other.received.size() + 1, RelayedBase + Events));
    QCOMPARE(source.relayed.load(), qint64(other.received.size()));
    QCOMPARE(other.droppedBySource(), quint64(0));
    QCOMPARE(source.share->droppedCount(), quint64(0));
}

QTEST_MAIN(tst_remote_block_relay)
#include "tst_remote_block_relay.moc"
