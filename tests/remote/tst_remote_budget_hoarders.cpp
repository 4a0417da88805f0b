// SPDX-License-Identifier: MIT
// RemoteListener::Options::backlogBytesBudget tried from its documentation and the public API: a
// burst notified from another thread while hoarders (subscribers behind a relay that stopped
// reading) hold their connections at the high-water mark. What the share reports between the
// budget's decision and the listener's close, who is rejected and how often, what every subscriber
// counts once it is back, and a subscription taken over while, or after, the budget drops its
// connection. Both ends in this process; every wait is on an observable state, with a deadline.
#include "tst_remote_inprocess.h"

#include <QRegularExpression>
#include <QSignalSpy>
#include <QTest>

#include <memory>
#include <vector>

namespace {

constexpr int Hoarders = 3;
constexpr qint64 Budget = qint64(12) << 20;
constexpr int BurstEvents = 2000;
constexpr int EventBytes = 4096;

// A subscriber behind a relay: a hoarder once the relay holds.
struct Held
{
    std::unique_ptr<Relay> relay;
    std::unique_ptr<Subscriber> subscriber;
    quint64 connection = 0;
    QString name;
};

// Notifies 16 KiB events on the share's thread until every connection in `connections` has been
// past its high-water mark (what the relays do not read) with nothing taken long enough to be
// found not to read. Returns the last sequence notified, or -1 when the deadline passed first.
qint64 fillToHighWater(Source &source, const QList<quint64> &connections, qint64 seq)
{
    const QByteArray filler(16 * 1024, 'f');
    return stayPastHighWater(source.listener, connections,
                             [&] {
                                 for (int i = 0; i < 8; ++i)
                                     source.registry.notify(Payload{++seq, filler});
                             })
               ? seq
               : -1;
}

// The events a raw channel was sent, in order (their Payload::seq).
QList<qint64> eventsOf(const QSignalSpy &frames)
{
    QList<qint64> out;
    for (const QList<QVariant> &args : frames) {
        const auto frame = rio::detail::decodeRemoteFrame(args.at(0).toByteArray());
        if (!frame)
            return {-1};
        for (const rio::detail::RemoteFrameEvent &event : frame->events) {
            Payload p;
            out.append(rio::detail::decodeRemoteEvent(event.payload, p) ? p.seq : -1);
        }
    }
    return out;
}

} // namespace

class tst_remote_budget_hoarders : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void burstFromAnotherThreadShedsHoardersNotTheReader_data();
    void burstFromAnotherThreadShedsHoardersNotTheReader();
    void takeoverOfASubscriptionTheBudgetDrops_data();
    void takeoverOfASubscriptionTheBudgetDrops();
    void youngUnreadyHoardGoesBeforeTheReader_data();
    void youngUnreadyHoardGoesBeforeTheReader();
    void readersLetGoWhileThePumpSends_data();
    void readersLetGoWhileThePumpSends();
};

void tst_remote_budget_hoarders::burstFromAnotherThreadShedsHoardersNotTheReader_data()
{
    QTest::addColumn<int>("delivery");
    QTest::addColumn<int>("overflow");
    QTest::addColumn<int>("capacity");
    QTest::addColumn<bool>("retain");
    QTest::newRow("Every, DropOldest")
        << int(rio::Delivery::Every) << int(rio::Overflow::DropOldest) << 65536 << false;
    QTest::newRow("Every, DropOldest, retainLatest")
        << int(rio::Delivery::Every) << int(rio::Overflow::DropOldest) << 65536 << true;
    QTest::newRow("Every, DropOldest, capacity 1500")
        << int(rio::Delivery::Every) << int(rio::Overflow::DropOldest) << 1500 << false;
    QTest::newRow("Every, DropNewest, capacity 1500")
        << int(rio::Delivery::Every) << int(rio::Overflow::DropNewest) << 1500 << false;
    QTest::newRow("Latest") << int(rio::Delivery::Latest) << int(rio::Overflow::DropOldest) << 65536 << false;
}

// REMOTE.md, backlogBytesBudget: "the connections that do not read what they are sent (past
// highWaterBytes with nothing taken by their peer for four deadline passes of their listener)" go
// first, shares tell the ledger "on the thread that notifies", and "a
// connection dropped by it holds nothing from then on (its backlogs let go at once, and are given
// nothing more, while its listener closes it on its own thread, where peerRejected is emitted)";
// RemoteSubscriberInfo::receiving: "once the process's backlog budget drops its connection, they
// go nowhere". A reader and three hoarders at their high-water mark; a worker notifies 2,000
// events of 4 KiB (about 8 MiB per backlog, 32 MiB in all against a budget of 12 MiB) while the
// share's thread waits for it, so that the listener closes nothing until the burst is over. Then:
// each subscriber is either receiving and holds its events or not receiving and holds none; the
// reader receives; peerRejected comes once per connection that was let go, naming it; every
// subscriber, back through its relay, counts what it did not get as gaps.
void tst_remote_budget_hoarders::burstFromAnotherThreadShedsHoardersNotTheReader()
{
    QFETCH(int, delivery);
    QFETCH(int, overflow);
    QFETCH(int, capacity);
    QFETCH(bool, retain);
    const bool every = rio::Delivery(delivery) == rio::Delivery::Every;
    Source source({.delivery = rio::Delivery(delivery),
                   .capacity = std::size_t(capacity),
                   .overflow = rio::Overflow(overflow),
                   .retainLatest = retain},
                  {.backlogBytesBudget = Budget});
    QVERIFY(source.share);
    QStringList reasons;
    QList<QList<rio::RemoteSubscriberInfo>> atRejection; // subscribers() as each peerRejected came
    QObject::connect(source.listener, &rio::RemoteListener::peerRejected, source.listener,
                     [&](const QString &reason) {
                         reasons.append(reason);
                         atRejection.append(source.share->base()->subscribers());
                     });
    Subscriber reader(source.address());
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(1), Deadline);
    const quint64 readerConnection = source.newest();
    const QString readerName = source.listener->connectionName(readerConnection);
    std::vector<Held> held(Hoarders);
    for (int i = 0; i < Hoarders; ++i) {
        held[size_t(i)].relay = std::make_unique<Relay>(source.port());
        held[size_t(i)].subscriber = std::make_unique<Subscriber>(held[size_t(i)].relay->address());
        QTRY_VERIFY_WITH_TIMEOUT(source.receiving(2 + i), Deadline);
        held[size_t(i)].connection = source.newest();
        held[size_t(i)].name = source.listener->connectionName(held[size_t(i)].connection);
    }
    qint64 seq = 0;
    source.registry.notify(Payload{seq, {}}); // every subscriber's first event starts its sequence
    QTRY_VERIFY_WITH_TIMEOUT(reader.has(0) && std::all_of(held.begin(), held.end(),
                                                          [](const Held &h) { return h.subscriber->has(0); }),
                             Deadline);
    QList<quint64> hoarding;
    for (Held &h : held) {
        h.relay->hold();
        hoarding.append(h.connection);
    }
    seq = fillToHighWater(source, hoarding, seq);
    QVERIFY2(seq > 0, "the hoarders' connections did not reach their high-water mark");
    QVERIFY(reasons.isEmpty());

    {
        Worker worker(source.registry, seq + 1, seq + BurstEvents, EventBytes);
        worker.join(); // the share's thread is busy until the burst is over
    }
    seq += BurstEvents;
    // Between the budget's decision and the listener's close: nothing of ours ran on this thread.
    const QList<rio::RemoteSubscriberInfo> after = source.share->base()->subscribers();
    QList<quint64> letGo;
    for (const rio::RemoteSubscriberInfo &info : after) {
        QVERIFY2(info.receiving || info.pending == 0,
                 qPrintable(QStringLiteral("connection %1 is not receiving and holds %2 events")
                                .arg(info.connection)
                                .arg(info.pending)));
        if (!info.receiving)
            letGo.append(info.connection);
    }
    QVERIFY2(!letGo.contains(readerConnection), "the reader's backlog was let go");
    qint64 held_ = 0;
    for (const rio::RemoteSubscriberInfo &info : after)
        held_ += qint64(info.pending) * (EventBytes + 24 + 48);
    qInfo("after the burst: %lld connections let go, the others hold %lld KiB of backlogs (budget %lld KiB)",
          qint64(letGo.size()), held_ / 1024, Budget / 1024);
    if (every) {
        QVERIFY2(letGo.size() >= 2, "the hoarders held more than the budget and were not let go");
        // The budget and one report step per connection.
        QVERIFY2(held_ <= Budget + 4 * 65536, qPrintable(QString::number(held_)));
    }

    // The listener closes them now: one peerRejected each, naming the connection, never the reader.
    QTRY_VERIFY_WITH_TIMEOUT(reasons.size() >= letGo.size(), Deadline);
    for (const QString &reason : std::as_const(reasons)) {
        qInfo("%s", qPrintable(reason));
        QVERIFY2(!reason.contains(readerName), qPrintable(reason));
    }
    for (const quint64 c : std::as_const(letGo)) {
        const auto named = std::count_if(held.begin(), held.end(), [&](const Held &h) {
            return h.connection == c && std::count_if(reasons.begin(), reasons.end(), [&](const QString &r) {
                                            return r.contains(h.name);
                                        }) == 1;
        });
        QVERIFY2(named == 1, qPrintable(QStringLiteral("connection %1 is not named once").arg(c)));
    }
    for (const QList<rio::RemoteSubscriberInfo> &snapshot : std::as_const(atRejection)) {
        for (const rio::RemoteSubscriberInfo &info : snapshot) {
            if (letGo.contains(info.connection))
                QVERIFY2(
                    !info.receiving && info.pending == 0,
                    qPrintable(
                        QStringLiteral("connection %1 receives as it is rejected").arg(info.connection)));
        }
    }

    // Every hoarder reads again; those let go reconnect. A last event shows every gap.
    const qint64 burstEnd = seq;
    for (Held &h : held)
        h.relay->release();
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(1 + Hoarders), Deadline);
    source.registry.notify(Payload{++seq, {}});
    QTRY_VERIFY_WITH_TIMEOUT(
        reader.has(seq) &&
            std::all_of(held.begin(), held.end(), [&](const Held &h) { return h.subscriber->has(seq); }),
        Deadline);
    QCOMPARE(reasons.size(), letGo.size());
    QVERIFY(strictlyIncreasing(reader.received));
    QCOMPARE(reader.registry->link()->state(), rio::RemoteSubscriber::State::Connected);
    if (every) {
        qInfo("reader: %lld received, %llu droppedBySource", qint64(reader.received.size()),
              reader.droppedBySource());
        QCOMPARE(quint64(reader.received.size()) + reader.droppedBySource(), quint64(seq + 1));
        if (capacity > BurstEvents) {
            QCOMPARE(reader.received, range(0, seq));
            // Events that go with a connection are not the share's drops.
            QCOMPARE(source.share->droppedCount(), quint64(0));
        }
    }
    for (const Held &h : held) {
        QVERIFY(strictlyIncreasing(h.subscriber->received));
        if (every) {
            qInfo("%s (%s): %lld received, %llu droppedBySource", qPrintable(h.name),
                  letGo.contains(h.connection) ? "let go" : "kept", qint64(h.subscriber->received.size()),
                  h.subscriber->droppedBySource());
            QCOMPARE(quint64(h.subscriber->received.size()) + h.subscriber->droppedBySource(),
                     quint64(seq + 1));
        }
        // retainLatest: one let go and back gets the newest event of the burst first, once.
        if (retain && letGo.contains(h.connection))
            QCOMPARE(h.subscriber->received.mid(h.subscriber->received.size() - 2),
                     (QList<qint64>{burstEnd, seq}));
    }
}

void tst_remote_budget_hoarders::takeoverOfASubscriptionTheBudgetDrops_data()
{
    QTest::addColumn<bool>("whileDropping");
    QTest::newRow("after the close") << false;
    QTest::newRow("before the close") << true;
}

// REMOTE.md: "A connection that proves the secret takes the subscription over" and, with
// retainLatest, a subscriber that takes its subscription over "with nothing left in its backlog,
// gets the retained event too"; backlogBytesBudget: a connection dropped by it "holds nothing from
// then on". A raw subscription behind a relay that holds is let go by a burst from another thread;
// the same secret is presented on a new connection after the listener closed the old one, or
// before (in the same read as another subscription, whose subscriberCountChanged runs the burst).
// The new connection gets the retained event or later ones, then every later event, once each.
void tst_remote_budget_hoarders::takeoverOfASubscriptionTheBudgetDrops()
{
    QFETCH(bool, whileDropping);
    const QByteArray secret = secretFor(0xa8a8);
    const QByteArray trigger = secretFor(0xa8a9);
    // The old connection's backlog and the reader's (about 8 MiB each, the share's thread busy) and
    // the other subscription's 1,024 events pass it; once the old connection goes, the rest fit.
    Source source({.retainLatest = true}, {.backlogBytesBudget = qint64(14) << 20});
    QVERIFY(source.share);
    QStringList reasons;
    QObject::connect(source.listener, &rio::RemoteListener::peerRejected, source.listener,
                     [&](const QString &reason) { reasons.append(reason); });
    Subscriber reader(source.address());
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(1), Deadline);
    const QString readerName = source.listener->connectionName(source.newest());

    Relay relay(source.port());
    QRemoteObjectNode oldNode;
    RawSubscription old;
    QVERIFY(old.start(oldNode, relay.address(), secret));
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(2), Deadline);
    const quint64 oldConnection = source.newest();
    const QString oldName = source.listener->connectionName(oldConnection);
    relay.hold();
    qint64 seq = fillToHighWater(source, {oldConnection}, 0);
    QVERIFY2(seq > 0, "the old connection did not reach its high-water mark");

    const auto burst = [&] {
        Worker worker(source.registry, seq + 1, seq + BurstEvents, EventBytes);
        worker.join();
        seq += BurstEvents;
    };
    QRemoteObjectNode newNode;
    RawSubscription fresh;
    std::unique_ptr<QSignalSpy> frames;
    if (!whileDropping) {
        burst();
        QTRY_VERIFY_WITH_TIMEOUT(std::any_of(reasons.begin(), reasons.end(),
                                             [&](const QString &r) { return r.contains(oldName); }),
                                 Deadline);
        QVERIFY(fresh.start(newNode, source.address(), secret));
    } else {
        // The new connection subscribes twice in one go: another secret (a subscriber more: the
        // burst runs in subscriberCountChanged, before the listener can close the old connection),
        // then the old connection's.
        std::unique_ptr<QRemoteObjectDynamicReplica> share = rawReplica(newNode, source.address());
        QVERIFY(share);
        bool ran = false;
        bool letGoFirst = false; // the budget let the old connection go before the takeover
        QObject::connect(source.share->base(), &rio::RemoteShareBase::subscriberCountChanged, &relay, [&] {
            if (!ran) {
                ran = true;
                burst();
                const rio::RemoteSubscriberInfo info = source.on(oldConnection);
                letGoFirst = info.connection == oldConnection && !info.receiving && info.pending == 0;
            }
        });
        fresh.channel.reset(
            newNode.acquireDynamic(QStringLiteral("orders#") + QString::number(keyOf(secret), 16)));
        const QMetaObject *meta = share->metaObject();
        const QMetaMethod subscribe = meta->method(meta->indexOfSlot("subscribe(QByteArray)"));
        QVERIFY(subscribe.invoke(share.get(), Qt::DirectConnection, Q_ARG(QByteArray, trigger)));
        QVERIFY(subscribe.invoke(share.get(), Qt::DirectConnection, Q_ARG(QByteArray, secret)));
        QVERIFY(fresh.channel->waitForSource(Deadline));
        QVERIFY(ran);
        QVERIFY2(letGoFirst, "the burst did not let the old connection go before the takeover");
        const QMetaObject *channelMeta = fresh.channel->metaObject();
        QVERIFY(channelMeta->method(channelMeta->indexOfSlot("ready()"))
                    .invoke(fresh.channel.get(), Qt::DirectConnection));
        fresh.share = std::move(share);
    }
    const QMetaObject *meta = fresh.channel->metaObject();
    frames = std::make_unique<QSignalSpy>(fresh.channel.get(),
                                          meta->method(meta->indexOfSignal("delivered(QByteArray)")));
    QVERIFY(frames->isValid());
    const qint64 burstEnd = seq;
    source.registry.notify(Payload{++seq, {}});
    const bool got = QTest::qWaitFor([&] { return eventsOf(*frames).contains(seq); }, 10000);
    const QList<qint64> events = eventsOf(*frames);
    qInfo("the new connection got %lld events: first %lld, last %lld (the burst ended at %lld); %lld "
          "rejections",
          qint64(events.size()), events.value(0, -1), events.value(events.size() - 1, -1), burstEnd,
          qint64(reasons.size()));
    for (const QString &reason : std::as_const(reasons)) {
        qInfo("%s", qPrintable(reason));
        QVERIFY2(!reason.contains(readerName), qPrintable(reason));
    }
    QVERIFY2(got, "the connection that took the subscription over gets no later event");
    // The retained event (the newest before the new connection subscribed), then the later one.
    QCOMPARE(events, (QList<qint64>{burstEnd, seq}));
    QTRY_VERIFY_WITH_TIMEOUT(reader.has(seq), Deadline);
    // The old connection went once, whether for the budget or for the takeover.
    QCOMPARE(
        std::count_if(reasons.begin(), reasons.end(), [&](const QString &r) { return r.contains(oldName); }),
        qsizetype(1));
    relay.release();
}

void tst_remote_budget_hoarders::youngUnreadyHoardGoesBeforeTheReader_data()
{
    QTest::addColumn<bool>("busy");
    QTest::newRow("the share's thread runs") << false;
    QTest::newRow("the share's thread is busy") << true;
}

// backlogBytesBudget: past it "the connections that do not read what they are sent (past
// highWaterBytes with nothing taken by their peer for four deadline passes of their listener)" go first,
// then "those whose backlogs have sent nothing for longest". A peer
// subscribes twice on one connection just before a burst and never acquires its channels: its
// backlogs have never sent anything, and hold 1,024 events each (about 8.4 MiB). A worker notifies
// 2,000 events of 4 KiB (about 8.3 MiB in the reader's backlog) against a budget of 12 MiB, the
// share's thread running meanwhile, or busy until the burst is over. The reader's backlog alone
// fits the budget: the peer's connection should go, not the reader's. The reader reads on the
// share's thread, so while that thread is busy it stays past a high-water mark smaller than the
// burst, and after four deadline passes there it would rightly count as one that does not read.
// Here the high-water mark, and the limits on bytes waiting to be written, are past the burst: the
// reader is judged by its wait alone, which is what this is about.
void tst_remote_budget_hoarders::youngUnreadyHoardGoesBeforeTheReader()
{
    QFETCH(bool, busy);
    Source source({}, {.highWaterBytes = qint64(32) << 20,
                       .maxQueuedBytes = qint64(64) << 20,
                       .queuedBytesBudget = qint64(128) << 20,
                       .backlogBytesBudget = Budget});
    QVERIFY(source.share);
    QStringList reasons;
    QObject::connect(source.listener, &rio::RemoteListener::peerRejected, source.listener,
                     [&](const QString &reason) { reasons.append(reason); });
    Subscriber reader(source.address());
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(1), Deadline);
    const QString readerName = source.listener->connectionName(source.newest());
    source.registry.notify(Payload{0, {}});
    QTRY_VERIFY_WITH_TIMEOUT(reader.has(0), Deadline);

    QRemoteObjectNode node;
    const std::unique_ptr<QRemoteObjectDynamicReplica> share = rawReplica(node, source.address());
    QVERIFY(share);
    const QMetaObject *meta = share->metaObject();
    const QMetaMethod subscribe = meta->method(meta->indexOfSlot("subscribe(QByteArray)"));
    for (const quint64 n : {0xb0a0, 0xb0a1})
        QVERIFY(subscribe.invoke(share.get(), Qt::DirectConnection, Q_ARG(QByteArray, secretFor(n))));
    QTRY_COMPARE_WITH_TIMEOUT(source.share->base()->subscriberCount(), 3, Deadline);

    {
        Worker worker(source.registry, 1, BurstEvents, EventBytes);
        if (busy)
            worker.join();
        else
            QTRY_VERIFY_WITH_TIMEOUT(worker.done(), Deadline);
    }
    if (busy) // the backlogs held more than the budget at once (while the reader keeps up, maybe not)
        QTRY_VERIFY_WITH_TIMEOUT(!reasons.isEmpty(), Deadline);
    source.registry.notify(Payload{BurstEvents + 1, {}});
    QTRY_VERIFY_WITH_TIMEOUT(reader.has(BurstEvents + 1), Deadline);
    for (const QString &reason : std::as_const(reasons))
        qInfo("%s", qPrintable(reason));
    QCOMPARE(quint64(reader.received.size()) + reader.droppedBySource(), quint64(BurstEvents + 2));
    const bool readerWent =
        std::any_of(reasons.begin(), reasons.end(), [&](const QString &r) { return r.contains(readerName); });
    QVERIFY2(!readerWent, qPrintable(reasons.join(u'\n')));
    QCOMPARE(reader.received, range(0, BurstEvents + 1));
}

void tst_remote_budget_hoarders::readersLetGoWhileThePumpSends_data()
{
    QTest::addColumn<int>("delivery");
    QTest::addColumn<int>("overflow");
    QTest::addColumn<int>("capacity");
    QTest::newRow("Every, DropOldest")
        << int(rio::Delivery::Every) << int(rio::Overflow::DropOldest) << 65536;
    QTest::newRow("Every, DropNewest, capacity 300")
        << int(rio::Delivery::Every) << int(rio::Overflow::DropNewest) << 300;
    QTest::newRow("Latest") << int(rio::Delivery::Latest) << int(rio::Overflow::DropOldest) << 65536;
}

// "A connection dropped by it holds nothing from then on (its backlogs let go at once ...)", on
// the notifying thread, while the share's thread may be writing those backlogs out. Two readers
// on the share's thread, a budget of 2 MiB, and a worker that notifies 6,000 events of 4 KiB, in
// rounds of 500, while the share's thread writes to them: their backlogs pass the budget again and again, so
// they are let go while being sent, and come back. Nothing is lost uncounted (Every: each reader gets or
// counts as a gap every event once it is back), order holds, each connection is rejected once,
// and (under AddressSanitizer) no event's bytes are used after they were let go.
void tst_remote_budget_hoarders::readersLetGoWhileThePumpSends()
{
    QFETCH(int, delivery);
    QFETCH(int, overflow);
    QFETCH(int, capacity);
    constexpr qint64 N = 6000;
    constexpr qint64 Round = 500; // about 2 MiB of backlog per reader if it read nothing
    Source source({.delivery = rio::Delivery(delivery),
                   .capacity = std::size_t(capacity),
                   .overflow = rio::Overflow(overflow)},
                  {.backlogBytesBudget = qint64(2) << 20});
    QVERIFY(source.share);
    QStringList reasons;
    QList<QList<rio::RemoteSubscriberInfo>> atRejection; // subscribers() as each peerRejected came
    QObject::connect(source.listener, &rio::RemoteListener::peerRejected, source.listener,
                     [&](const QString &reason) {
                         reasons.append(reason);
                         atRejection.append(source.share->base()->subscribers());
                     });
    Subscriber a(source.address());
    Subscriber b(source.address());
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(2), Deadline);
    source.registry.notify(Payload{0, {}});
    QTRY_VERIFY_WITH_TIMEOUT(a.has(0) && b.has(0), Deadline);
    // In rounds, each once both read again: the budget lets them go in the middle of being sent
    // to, or not at all.
    for (qint64 first = 1; first <= N; first += Round) {
        QTRY_VERIFY_WITH_TIMEOUT(source.receiving(2), Deadline);
        Worker worker(source.registry, first, first + Round - 1, EventBytes);
        QTRY_VERIFY_WITH_TIMEOUT(worker.done(), Deadline);
    }
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(2), Deadline);
    source.registry.notify(Payload{N + 1, {}});
    QTRY_VERIFY_WITH_TIMEOUT(a.has(N + 1) && b.has(N + 1), Deadline);
    QList<quint64> named;
    static const QRegularExpression connection(QStringLiteral("connection (\\d+) \\("));
    for (const QString &reason : std::as_const(reasons)) {
        const QRegularExpressionMatch match = connection.match(reason);
        QVERIFY2(match.hasMatch(), qPrintable(reason));
        const quint64 id = match.captured(1).toULongLong();
        QVERIFY2(!named.contains(id), qPrintable(reason));
        named.append(id);
        // As peerRejected comes, the share sends it nothing and holds nothing for it.
        for (const rio::RemoteSubscriberInfo &info : atRejection.at(named.size() - 1)) {
            if (info.connection == id)
                QVERIFY2(!info.receiving && info.pending == 0, qPrintable(reason));
        }
    }
    for (const Subscriber *reader : {&a, &b}) {
        qInfo("a reader got %lld of %lld, droppedBySource %llu; %lld connections went",
              qint64(reader->received.size()), N + 2, reader->droppedBySource(), qint64(reasons.size()));
        QVERIFY(strictlyIncreasing(reader->received));
        if (rio::Delivery(delivery) == rio::Delivery::Every)
            QCOMPARE(quint64(reader->received.size()) + reader->droppedBySource(), quint64(N + 2));
    }
}

QTEST_MAIN(tst_remote_budget_hoarders)
#include "tst_remote_budget_hoarders.moc"
