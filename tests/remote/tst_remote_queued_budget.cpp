// SPDX-License-Identifier: MIT
// What the source holds for writes and what it counts of them: RemoteListener::Options'
// queuedBytesBudget (connections whose peers have taken nothing for longest go first, never a
// reader that takes), the peers' claims of what they took (`took`: one per connection, a claim that
// cannot be true drops its peer, a peer that does not read stops counting), and the process's
// ledger of held events (each counted by its bytes, a destroyed share's and an emptied backlog's
// leaving it at once). Both ends in this process; every wait is on an observable state, with a
// deadline; every producer is bounded in count.
#include "tst_remote_inprocess.h"

#include <QSignalSpy>
#include <QTest>

#include <memory>
#include <vector>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace {

// Tells the share of `raw` that its side has read `bytes` of the connection (what a subscriber
// does while bytes arrive), as any peer can.
bool claim(const RawSubscription &raw, quint64 bytes)
{
    const QMetaObject *meta = raw.share->metaObject();
    const int took = meta->indexOfSlot(QMetaObject::normalizedSignature("took(quint64)"));
    return took >= 0 &&
           meta->method(took).invoke(raw.share.get(), Qt::DirectConnection, Q_ARG(qulonglong, bytes));
}

bool allReceiving(const rio::RemoteShareBase &share, int count)
{
    const QList<rio::RemoteSubscriberInfo> all = share.subscribers();
    return all.size() == count &&
           std::all_of(all.begin(), all.end(), [](const auto &info) { return info.receiving; });
}

// What a subscriber's side sends its source, counted: one connection through a forwarder.
class CountingForwarder : public QObject
{
public:
    explicit CountingForwarder(quint16 sourcePort)
    {
        connect(&m_server, &QTcpServer::newConnection, this, [this, sourcePort] {
            m_down.reset(m_server.nextPendingConnection());
            m_down->setParent(nullptr);
            m_up.connectToHost(QHostAddress::LocalHost, sourcePort);
            connect(m_down.get(), &QTcpSocket::readyRead, this, &CountingForwarder::pump);
        });
        connect(&m_up, &QTcpSocket::connected, this, &CountingForwarder::pump);
        connect(&m_up, &QTcpSocket::readyRead, this, [this] { m_down->write(m_up.readAll()); });
        m_server.listen(QHostAddress::LocalHost);
    }
    [[nodiscard]] QString address() const
    {
        return QStringLiteral("tcp://127.0.0.1:%1").arg(m_server.serverPort());
    }
    qint64 sent = 0; // by the subscriber's side

private:
    void pump()
    {
        if (m_up.state() != QAbstractSocket::ConnectedState || !m_down)
            return;
        const QByteArray bytes = m_down->readAll();
        sent += bytes.size();
        m_up.write(bytes);
    }
    QTcpServer m_server;
    QTcpSocket m_up;
    std::unique_ptr<QTcpSocket> m_down;
};

} // namespace

class tst_remote_queued_budget : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // The ledger: what it counts of held events, and when they leave it.
    void destroyedShareLeavesTheLedger();
    void emptiedBacklogLeavesTheLedgerAtOnce();
    void eventCountsItsBytes();
    void heldEventsLeaveNoFreeFragments();
    // Peers' claims of what they took.
    void claimThatCannotBeTrueDropsThePeer_data();
    void claimThatCannotBeTrueDropsThePeer();
    void claimsOfAPeerThatDoesNotReadStopCounting();
    void oneClaimPerConnectionWhateverItsSubscriptions();
    // queuedBytesBudget.
    void queuedBudgetShedsHoardersBeforeASteadyReader();
    void queuedBudgetShedsNewNonReadersBeforeASlowReader();
};

// An application that closes a document: a share is sent a 4 MiB burst on its own thread and is
// destroyed in the same turn, five times, against a budget of 16 MiB, beside a share whose
// subscriber reads everything. Each destroyed share's bytes leave the ledger with it, so the
// ledger holds nothing once the reader has read, and the reader is never dropped.
void tst_remote_queued_budget::destroyedShareLeavesTheLedger()
{
    Source source({}, {.backlogBytesBudget = qint64(16) << 20});
    QVERIFY(source.share);
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    Subscriber reader(source.address());
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(1), Deadline);
    const QByteArray blob(4096, 'd');
    qint64 seq = 0;
    for (int round = 0; round < 5; ++round) {
        const QString name = QStringLiteral("document%1").arg(round);
        rio::QtRegistry<Payload> registry;
        auto share = std::make_unique<rio::RemoteShare<Payload>>(source.host.get(), name, registry);
        Subscriber viewer(source.address(), name);
        QTRY_VERIFY_WITH_TIMEOUT(allReceiving(*share->base(), 1), Deadline);
        for (int i = 0; i < 1024; ++i) { // 4 MiB, waiting for this thread's next turn
            registry.notify(Payload{i, blob});
            source.registry.notify(Payload{++seq, {}});
        }
        QVERIFY2(rio::RemoteListener::backlogBytes() >= (qint64(3) << 20),
                 qPrintable(QString::number(rio::RemoteListener::backlogBytes())));
        share.reset(); // in the same turn
        QTRY_VERIFY_WITH_TIMEOUT(reader.has(seq), Deadline);
        QTRY_COMPARE_WITH_TIMEOUT(rio::RemoteListener::backlogBytes(), qint64(0), Deadline);
    }
    QCOMPARE(reader.received, range(1, seq));
    QCOMPARE(rejected.count(), 0);
}

// A reader sent bursts that it reads at once: once each is sent, the ledger counts nothing for it
// (it heard of the emptied backlog at once, not after 64 KiB more of change), and its wait is
// gone with it. Then a peer's eight subscriptions that never acquire their channel are sent a
// burst that passes the budget: nothing can be sent to them, so their connection goes, and the
// idle reader keeps its connection and every event.
void tst_remote_queued_budget::emptiedBacklogLeavesTheLedgerAtOnce()
{
    constexpr qint64 Budget = qint64(2) << 20;
    Source source({}, {.backlogBytesBudget = Budget});
    QVERIFY(source.share);
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    Subscriber reader(source.address());
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(1), Deadline);
    const QString readerName = source.listener->connectionName(source.newest());
    const QByteArray blob(160, 'r');
    qint64 seq = 0;
    for (const int burst : {330, 97, 513, 1}) {
        for (int i = 0; i < burst; ++i)
            source.registry.notify(Payload{++seq, blob});
        QTRY_VERIFY_WITH_TIMEOUT(reader.has(seq), Deadline);
        QTRY_COMPARE_WITH_TIMEOUT(rio::RemoteListener::backlogBytes(), qint64(0), Deadline);
    }

    // Eight subscriptions that will not acquire their channel (the share holds up to 1,024 events
    // for each), sent 1,024 events of 1 KiB: about 8.6 MiB against a budget of 2 MiB.
    QRemoteObjectNode node;
    const std::unique_ptr<QRemoteObjectDynamicReplica> replica = rawReplica(node, source.address());
    QVERIFY(replica);
    const QMetaObject *meta = replica->metaObject();
    const QMetaMethod subscribe = meta->method(meta->indexOfSlot("subscribe(QByteArray)"));
    for (quint64 i = 0; i < 8; ++i)
        QVERIFY(
            subscribe.invoke(replica.get(), Qt::DirectConnection, Q_ARG(QByteArray, secretFor(0xb0 + i))));
    QTRY_COMPARE_WITH_TIMEOUT(source.share->base()->subscriberCount(), 9, Deadline);
    const QByteArray big(1024, 'u');
    for (int i = 0; i < 1024; ++i)
        source.registry.notify(Payload{++seq, big});
    QTRY_VERIFY_WITH_TIMEOUT(reader.has(seq), Deadline);
    QTRY_COMPARE_WITH_TIMEOUT(rejected.count(), 1, Deadline);
    const QString reason = rejected.at(0).at(0).toString();
    QVERIFY2(!reason.contains(readerName), qPrintable(reason));
    QTRY_COMPARE_WITH_TIMEOUT(source.share->base()->subscriberCount(), 1, Deadline);
    QCOMPARE(reader.received, range(1, seq));
    QCOMPARE(source.share->droppedCount(), quint64(0));
    QTRY_COMPARE_WITH_TIMEOUT(rio::RemoteListener::backlogBytes(), qint64(0), Deadline);
}

// An entry counts the bytes its event holds and 48: the encoder keeps no spare room.
void tst_remote_queued_budget::eventCountsItsBytes()
{
    Source source({}, {});
    QVERIFY(source.share);
    Subscriber reader(source.address());
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(1), Deadline);
    qint64 seq = 0;
    for (const int size : {64, 1000, 1024, 2048, 2100, 8000}) {
        const QByteArray event = rio::detail::encodeRemoteEvent(Payload{1, QByteArray(size, 'w')});
        QCOMPARE(event.capacity(), event.size());
        {
            Worker worker(source.registry, seq + 1, seq + 1, size); // waits for this thread's turn
            worker.join();
        }
        ++seq;
        const qint64 cost = source.on(source.newest()).bytes;
        qInfo("an event of %d bytes (%lld of QDataStream) counts %lld", size, qint64(event.size()), cost);
        QCOMPARE(cost, qint64(event.size()) + 48);
        QTRY_VERIFY_WITH_TIMEOUT(reader.has(seq), Deadline);
        QTRY_COMPARE_WITH_TIMEOUT(rio::RemoteListener::backlogBytes(), qint64(0), Deadline);
    }
}

// What the budget counts is what the heap gives the events: 60,000 encoded events of 64 bytes held
// at once (as a backlog holds them) leave no free fragment beside each of them, which the budget
// would not count and glibc's mallinfo2() would walk on every call.
void tst_remote_queued_budget::heldEventsLeaveNoFreeFragments()
{
#if !defined(__GLIBC__) || defined(RIO_REMOTE_ASAN)
    QSKIP("glibc's allocator only: mallinfo2() tells its free bytes");
#else
    constexpr int Events = 60000;
    const QByteArray blob(64, 'f');
    std::vector<QByteArray> held;
    held.reserve(Events);
    const std::size_t freeBefore = ::mallinfo2().fordblks;
    for (int i = 0; i < Events; ++i)
        held.push_back(rio::detail::encodeRemoteEvent(Payload{i, blob}));
    const qint64 grown = qint64(::mallinfo2().fordblks) - qint64(freeBefore);
    qInfo("%d events of %lld bytes held: the heap's free bytes grew by %lld", Events,
          qint64(held.front().size()), grown);
    QVERIFY2(grown < 256 * 1024, qPrintable(QString::number(grown)));
#endif
}

// A peer that claims to have read more than was written to its connection, or less than it
// claimed before, lies: it is dropped, once, with a warning.
void tst_remote_queued_budget::claimThatCannotBeTrueDropsThePeer_data()
{
    QTest::addColumn<QList<quint64>>("claims");
    QTest::addColumn<QString>("warning");
    QTest::newRow("beyond what was written")
        << QList<quint64>{quint64(1) << 40} << QStringLiteral("bytes of the");
    QTest::newRow("going back") << QList<quint64>{10, 5} << QStringLiteral("after one of 10");
}

void tst_remote_queued_budget::claimThatCannotBeTrueDropsThePeer()
{
    QFETCH(QList<quint64>, claims);
    QFETCH(QString, warning);
    Source source({});
    QVERIFY(source.share);
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    QRemoteObjectNode node;
    RawSubscription raw;
    QVERIFY(raw.start(node, source.address()));
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(1), Deadline);
    for (const quint64 bytes : claims)
        QVERIFY(claim(raw, bytes));
    QTRY_COMPARE_WITH_TIMEOUT(rejected.count(), 1, Deadline);
    QVERIFY2(rejected.at(0).at(0).toString().contains(warning), qPrintable(rejected.at(0).at(0).toString()));
    QCOMPARE(source.listener->rejectedCount(), quint64(1));
    QTRY_COMPARE_WITH_TIMEOUT(source.share->base()->subscriberCount(), 0, Deadline);
}

// A peer that reads nothing, past its high-water mark behind a link that passes nothing more, and
// claims a byte more every 250 ms (each claim within what was written to it, so none is a lie):
// its system took nothing since its buffers filled, so its claims stop counting five stall waits
// after that, and the budget drops it as one that does not read (deadline pass 250 ms: a wait of
// 1 s), within those five waits of when it was first seen past its mark (its system took nothing
// after that) and two passes (the one that finds it, and this thread's, the listener's, turns that
// each burst of the flood holds), and says that it claimed.
void tst_remote_queued_budget::claimsOfAPeerThatDoesNotReadStopCounting()
{
    constexpr qint64 Budget = qint64(4) << 20;
    constexpr int Burst = 16;  // events of 64 KiB: 1 MiB a round
    constexpr int Rounds = 80; // at most
    constexpr qint64 Pass = 250;
    constexpr qint64 Bound = 5 * (4 * Pass) + 2 * Pass; // ClaimedStalls stall waits and two passes
    Source source({}, {.backlogBytesBudget = Budget, .progressTimeout = std::chrono::milliseconds(4 * Pass)});
    QVERIFY(source.share);
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    Relay relay(source.port());
    QRemoteObjectNode node;
    RawSubscription raw;
    QVERIFY(raw.start(node, relay.address()));
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(1), Deadline);
    const quint64 connection = source.newest();
    relay.throttle(1, std::chrono::hours(1)); // passes nothing more to the peer
    quint64 claimed = 0;
    QTimer claims;
    connect(&claims, &QTimer::timeout, this, [&] { claim(raw, ++claimed); });
    claims.start(250);
    QElapsedTimer past; // since it was first seen past its high-water mark
    QTimer look;
    connect(&look, &QTimer::timeout, this, [&] {
        if (!past.isValid() && !source.listener->hasRoom(connection))
            past.start();
    });
    look.start(10);
    qint64 droppedAfter = -1;
    connect(source.listener, &rio::RemoteListener::peerRejected, this, [&] {
        if (droppedAfter < 0 && past.isValid())
            droppedAfter = past.elapsed();
    });
    qint64 seq = 0;
    for (int round = 0; round < Rounds && rejected.isEmpty(); ++round) {
        Worker worker(source.registry, seq + 1, seq + Burst, 64 * 1024);
        worker.join();
        seq += Burst;
        QTest::qWait(100); // the flood's pace: the listener and the share run meanwhile
    }
    qInfo("the peer that claims without reading went %lld ms after it was first seen past its mark, "
          "after %llu claims",
          droppedAfter, claimed);
    QCOMPARE(rejected.count(), 1);
    const QString reason = rejected.at(0).at(0).toString();
    QVERIFY2(reason.contains(QLatin1String("does not read")) && reason.contains(QLatin1String("claimed")),
             qPrintable(reason));
    QVERIFY2(droppedAfter >= 0 && droppedAfter <= Bound, qPrintable(QString::number(droppedAfter)));
}

// A node subscribed to 16 shares of one source over one connection, one share sent an event of
// 1 KiB every 5 ms for a second: the node tells the source what it read once per connection, at
// most every 250 ms, not once per subscription (it sends nothing else meanwhile, and a claim is
// well under 100 bytes: 16 subscriptions' claims would be over 16 * 4 * 50 bytes).
void tst_remote_queued_budget::oneClaimPerConnectionWhateverItsSubscriptions()
{
    constexpr int Shares = 16;
    Source source({});
    QVERIFY(source.share);
    std::vector<std::unique_ptr<rio::QtRegistry<Payload>>> registries;
    std::vector<std::unique_ptr<rio::RemoteShare<Payload>>> shares;
    for (int i = 0; i < Shares; ++i) {
        registries.push_back(std::make_unique<rio::QtRegistry<Payload>>());
        shares.push_back(std::make_unique<rio::RemoteShare<Payload>>(
            source.host.get(), QStringLiteral("s%1").arg(i), *registries.back()));
    }
    CountingForwarder forwarder(source.port());
    QRemoteObjectNode node;
    rio::connectToSource(&node, QUrl(forwarder.address()));
    std::vector<std::unique_ptr<rio::RemoteRegistry<Payload>>> subscribers;
    QObject context;
    qint64 got = 0;
    for (int i = 0; i < Shares; ++i) {
        subscribers.push_back(
            std::make_unique<rio::RemoteRegistry<Payload>>(&node, QStringLiteral("s%1").arg(i)));
        subscribers.back()->add(&context, [&](const Payload &) { ++got; },
                                {.connection = Qt::DirectConnection});
    }
    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(shares.begin(), shares.end(),
                                         [](const auto &s) {
                                             const auto subscribers = s->base()->subscribers();
                                             return subscribers.size() == 1 && subscribers.at(0).receiving;
                                         }),
                             Deadline);
    const qint64 before = forwarder.sent;
    QElapsedTimer stream;
    stream.start();
    qint64 seq = 0;
    while (stream.elapsed() < 1000) {
        registries[0]->notify(Payload{++seq, QByteArray(1024, 'x')});
        QTest::qWait(5); // the stream's pace
    }
    QTRY_COMPARE_WITH_TIMEOUT(got, seq, Deadline);
    const qint64 claims = stream.elapsed() / 250 + 2; // at most, one connection's
    qInfo("%d subscriptions sent %lld bytes over %lld ms of stream (%lld events)", Shares,
          forwarder.sent - before, stream.elapsed(), seq);
    QVERIFY2(forwarder.sent - before <= claims * 100, qPrintable(QString::number(forwarder.sent - before)));
}

// RemoteListener::Options::queuedBytesBudget: hoarders (subscribers behind a link that passes 8 KiB
// every 3.5 s, so that their peers take a little now and then and never count as ones that do not
// read) hold their connections at the high-water mark, within the budget; then a subscriber that
// reads steadily through a link of about 200 KB/s, connected before them, is flooded to its mark
// too, which passes the budget. Those whose peers have taken nothing for longest go: hoarders,
// never the reader, though it holds as much as any (and, first connected, would go first of
// equals).
void tst_remote_queued_budget::queuedBudgetShedsHoardersBeforeASteadyReader()
{
    constexpr int Hoarders = 8;
    // The hoarders alone hold less than the budget (each about its high-water mark, give or take
    // a frame); with the reader at its mark too, more.
    constexpr qint64 HighWater = qint64(2) << 20;
    Source source({.capacity = 64}, {.highWaterBytes = HighWater,
                                     .queuedBytesBudget = Hoarders * HighWater + (qint64(1) << 20)});
    QVERIFY(source.share);
    rio::QtRegistry<Payload> quotes;
    rio::RemoteShare<Payload> quotesShare(source.host.get(), QStringLiteral("quotes"), quotes,
                                          {.capacity = 64});
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    Relay readerLink(source.port());
    readerLink.throttle(2048); // per tick of 10 ms
    Subscriber reader(readerLink.address(), QStringLiteral("quotes"));
    QTRY_VERIFY_WITH_TIMEOUT(allReceiving(*quotesShare.base(), 1), Deadline);
    const quint64 readerConnection = quotesShare.base()->subscribers().value(0).connection;
    Relay hoardLink(source.port());
    std::vector<std::unique_ptr<Subscriber>> hoarders;
    for (int i = 0; i < Hoarders; ++i)
        hoarders.push_back(std::make_unique<Subscriber>(hoardLink.address()));
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(Hoarders), Deadline);
    hoardLink.throttle(8192, std::chrono::milliseconds(3500));

    // The hoarders fill past their high-water mark, within the budget.
    const QByteArray blob(16 * 1024, 'q');
    qint64 seq = 0;
    QVERIFY(QTest::qWaitFor(
        [&] {
            for (int i = 0; i < 4; ++i)
                source.registry.notify(Payload{++seq, blob});
            const QList<rio::RemoteSubscriberInfo> all = source.share->base()->subscribers();
            return std::all_of(all.begin(), all.end(), [&](const rio::RemoteSubscriberInfo &info) {
                return !source.listener->hasRoom(info.connection);
            });
        },
        Deadline));
    QVERIFY(rejected.isEmpty());
    // The reader is sent about what its link passes (an event of 2 KiB per turn of at least 10 ms)
    // until it has read 300 of them, while the hoarders hold.
    const QByteArray small(2048, 's');
    const qint64 steadyFrom = seq + 1;
    QVERIFY(QTest::qWaitFor(
        [&] {
            quotes.notify(Payload{++seq, small});
            return std::count_if(reader.received.begin(), reader.received.end(),
                                 [&](qint64 s) { return s >= steadyFrom; }) >= 300;
        },
        Deadline));
    QVERIFY(rejected.isEmpty());
    // The reader is flooded until the budget sheds, and then until the hoarders left took bytes
    // again (each hoarder's link passed its 8 KiB at least once more).
    qint64 hoardedAtShed = -1;
    QVERIFY(QTest::qWaitFor(
        [&] {
            for (int i = 0; i < 4; ++i)
                quotes.notify(Payload{++seq, blob});
            if (hoardedAtShed < 0 && !rejected.isEmpty())
                hoardedAtShed = hoardLink.passed();
            return hoardedAtShed >= 0 && hoardLink.passed() > hoardedAtShed + 8192;
        },
        Deadline));
    const QString readerName = QStringLiteral("connection %1 (").arg(readerConnection);
    for (const QList<QVariant> &args : rejected) {
        const QString reason = args.at(0).toString();
        QVERIFY2(!reason.contains(readerName), qPrintable(reason));
        QVERIFY2(reason.contains(QStringLiteral("bytes waiting to be written")), qPrintable(reason));
    }
    QVERIFY(int(source.share->base()->subscribers().size()) < Hoarders);
    QCOMPARE(quotesShare.base()->subscribers().value(0).connection, readerConnection);
    const qsizetype got = reader.received.size();
    readerLink.throttle(0);
    quotes.notify(Payload{++seq, {}});
    QTRY_VERIFY_WITH_TIMEOUT(reader.received.contains(seq), Deadline);
    QVERIFY(reader.received.size() > got);
    QVERIFY(strictlyIncreasing(reader.received));
}

// RemoteListener::Options::queuedBytesBudget: TCP tells what a slow reader takes a window at a
// time (64 KiB on loopback, so every second or so at 100 KB/s), and peers that do not read take
// bytes until their buffers fill. A subscriber reading steadily through a link of about 100 KB/s is
// flooded past its high-water mark and reads on; then subscribers connect, stop reading, and are
// flooded past theirs, which passes the budget, their buffers having filled after the reader's last
// take. Those that do not read go, never the reader, which has shown that it takes again after
// such waits.
void tst_remote_queued_budget::queuedBudgetShedsNewNonReadersBeforeASlowReader()
{
    constexpr int NonReaders = 3;
    constexpr qint64 HighWater = qint64(1) << 20;
    Source source({.capacity = 64}, {.highWaterBytes = HighWater,
                                     .queuedBytesBudget = NonReaders * HighWater + (qint64(1) << 19)});
    QVERIFY(source.share);
    rio::QtRegistry<Payload> quotes;
    rio::RemoteShare<Payload> quotesShare(source.host.get(), QStringLiteral("quotes"), quotes,
                                          {.capacity = 64});
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    Relay readerLink(source.port());
    readerLink.throttle(1000); // per tick of 10 ms
    Subscriber reader(readerLink.address(), QStringLiteral("quotes"));
    QTRY_VERIFY_WITH_TIMEOUT(allReceiving(*quotesShare.base(), 1), Deadline);
    const quint64 readerConnection = quotesShare.base()->subscribers().value(0).connection;
    const QByteArray blob(16 * 1024, 'q');
    qint64 seq = 0;
    QVERIFY(QTest::qWaitFor(
        [&] {
            quotes.notify(Payload{++seq, blob});
            return !source.listener->hasRoom(readerConnection);
        },
        Deadline));
    // It reads on at its mark: sent an event whenever it has room, until it read 20 more.
    const qsizetype before = reader.received.size();
    QVERIFY(QTest::qWaitFor(
        [&] {
            if (source.listener->hasRoom(readerConnection))
                quotes.notify(Payload{++seq, blob});
            return reader.received.size() > before + 20;
        },
        Deadline));
    Relay stalledLink(source.port());
    std::vector<std::unique_ptr<Subscriber>> nonReaders;
    for (int i = 0; i < NonReaders; ++i)
        nonReaders.push_back(std::make_unique<Subscriber>(stalledLink.address()));
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(NonReaders), Deadline);
    stalledLink.hold();
    QVERIFY(QTest::qWaitFor(
        [&] {
            if (source.listener->hasRoom(readerConnection))
                quotes.notify(Payload{++seq, blob});
            for (int i = 0; i < 4; ++i)
                source.registry.notify(Payload{++seq, blob});
            return !rejected.isEmpty();
        },
        Deadline));
    const QString readerName = QStringLiteral("connection %1 (").arg(readerConnection);
    for (const QList<QVariant> &args : rejected)
        QVERIFY2(!args.at(0).toString().contains(readerName), qPrintable(args.at(0).toString()));
    QVERIFY(int(source.share->base()->subscribers().size()) < NonReaders);
    QCOMPARE(quotesShare.base()->subscribers().value(0).connection, readerConnection);
}

QTEST_GUILESS_MAIN(tst_remote_queued_budget)
#include "tst_remote_queued_budget.moc"
