// SPDX-License-Identifier: MIT
// RemoteListener::Options::backlogBytesBudget as the last resort: the process's ledger holds what
// the backlogs hold (a destroyed share's bytes and an emptied backlog's wait leave it), and past
// the budget lossy shares' backlogs lose their oldest events, counted, before any connection that
// reads is dropped. Both ends in this process; every wait is on an observable state, with a
// deadline; every producer is bounded in count.
#include "tst_remote_inprocess.h"

#include <QRegularExpression>
#include <QSignalSpy>
#include <QTest>

#include <memory>
#include <mutex>
#include <vector>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace {

// What the `registryio.remote` category warned, kept for the test that looks for a line.
std::mutex g_linesMutex;
QStringList g_lines;
QtMessageHandler g_previous = nullptr;

void keepLine(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    if (context.category != nullptr && qstrcmp(context.category, "registryio.remote") == 0) {
        const std::lock_guard lock(g_linesMutex);
        g_lines.append(message);
    }
    if (g_previous != nullptr)
        g_previous(type, context, message);
}

int linesContaining(const QString &text)
{
    const std::lock_guard lock(g_linesMutex);
    return int(
        std::count_if(g_lines.begin(), g_lines.end(), [&](const QString &l) { return l.contains(text); }));
}

// A subscriber of share `name` at `address` (Subscriber is of "orders").
struct NamedSubscriber
{
    QObject context;
    std::unique_ptr<QRemoteObjectNode> node = std::make_unique<QRemoteObjectNode>();
    std::unique_ptr<rio::RemoteRegistry<Payload>> registry;
    QList<qint64> received;

    NamedSubscriber(const QString &address, const QString &name)
    {
        rio::connectToSource(node.get(), QUrl(address));
        registry = std::make_unique<rio::RemoteRegistry<Payload>>(node.get(), name);
        registry->add(&context, [this](const Payload &p) { received.append(p.seq); },
                      {.connection = Qt::DirectConnection});
    }
};

// Tells the share of `raw` that its side has read `bytes` of the connection (what a subscriber
// does while bytes arrive), as any peer can.
bool claim(const RawSubscription &raw, quint64 bytes)
{
    const QMetaObject *meta = raw.share->metaObject();
    const int took = meta->indexOfSlot(QMetaObject::normalizedSignature("took(quint64)"));
    return took >= 0 &&
           meta->method(took).invoke(raw.share.get(), Qt::DirectConnection, Q_ARG(qulonglong, bytes));
}

// Once a flood is over: event `last` (which shows every gap) reaches `reader`, which never lost its
// connection; every event was received in order or dropped by the share, each drop seen as a gap,
// and the ledger empties. `flood` says what the events went through, for the log.
void expectThinnedNotDropped(Source &source, Peer &reader, qint64 last, const QByteArray &flood)
{
    source.registry.notify(Payload{last, {}});
    QVERIFY(reader.waitStats([&](const auto &s) { return s.value("last") == last; }));
    const auto stats = reader.stats();
    const quint64 dropped = source.share->droppedCount();
    qInfo("%lld events of 64 KiB %s: %lld received, %llu dropped (%lld seen as gaps)", last,
          flood.constData(), stats.value("received"), dropped, stats.value("droppedBySource"));
    QCOMPARE(source.listener->rejectedCount(), quint64(0));
    QCOMPARE(reader.lines("state reconnecting").size() + reader.lines("state disconnected").size(), 0);
    QVERIFY(dropped > 0);
    QCOMPARE(stats.value("unordered"), qint64(0));
    QCOMPARE(quint64(stats.value("received")) + dropped, quint64(last));
    QCOMPARE(quint64(stats.value("droppedBySource")), dropped);
    QCOMPARE(source.on(source.newest()).dropped, dropped);
    QTRY_COMPARE_WITH_TIMEOUT(rio::RemoteListener::backlogBytes(), qint64(0), Deadline);
}

bool allReceiving(const rio::RemoteShareBase &share, int count)
{
    const QList<rio::RemoteSubscriberInfo> all = share.subscribers();
    return all.size() == count &&
           std::all_of(all.begin(), all.end(), [](const auto &info) { return info.receiving; });
}

qint64 heldBytes(const rio::RemoteShareBase &share)
{
    qint64 bytes = 0;
    for (const rio::RemoteSubscriberInfo &info : share.subscribers())
        bytes += info.bytes;
    return bytes;
}

} // namespace

class tst_remote_budget : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void destroyedShareLeavesTheLedger();
    void emptiedBacklogLeavesTheLedgerAtOnce();
    void eventCountsItsBytes();
    void heldEventsLeaveNoFreeFragments();
    void lossyReaderIsThinnedNotDropped_data();
    void lossyReaderIsThinnedNotDropped();
    void lossyReaderProcessIsThinnedNotDropped_data();
    void lossyReaderProcessIsThinnedNotDropped();
    void slowSteadyReaderIsThinnedNotDropped();
    void readerOfItsOwnSocketSlowerThanTcpShowsIsThinnedNotDropped();
    void claimThatCannotBeTrueDropsThePeer_data();
    void claimThatCannotBeTrueDropsThePeer();
    void claimsOfAPeerThatDoesNotReadStopCounting();
    void oneClaimPerConnectionWhateverItsSubscriptions();
    void blockShareThatCannotDropLosesTheConnection();
    void queuedBudgetShedsHoardersBeforeASteadyReader();
    void queuedBudgetShedsNewNonReadersBeforeASlowReader();
};

void tst_remote_budget::initTestCase()
{
    g_previous = qInstallMessageHandler(keepLine);
}

void tst_remote_budget::cleanupTestCase()
{
    qInstallMessageHandler(g_previous);
}

// An application that closes a document: a share is sent a 4 MiB burst on its own thread and is
// destroyed in the same turn, five times, against a budget of 16 MiB, beside a share whose
// subscriber reads everything. Each destroyed share's bytes leave the ledger with it, so the
// ledger holds nothing once the reader has read, and the reader is never dropped.
void tst_remote_budget::destroyedShareLeavesTheLedger()
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
        NamedSubscriber viewer(source.address(), name);
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
void tst_remote_budget::emptiedBacklogLeavesTheLedgerAtOnce()
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
void tst_remote_budget::eventCountsItsBytes()
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
void tst_remote_budget::heldEventsLeaveNoFreeFragments()
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

void tst_remote_budget::lossyReaderIsThinnedNotDropped_data()
{
    QTest::addColumn<int>("capacity");
    QTest::addColumn<int>("overflow");
    QTest::addColumn<qint64>("budget");
    QTest::addColumn<int>("events");
    QTest::addColumn<int>("eventBytes");
    QTest::addColumn<bool>("passes"); // the backlog holds more than the budget without it
    const rio::RemoteShareOptions defaults;
    const rio::RemoteListener::Options limits;
    // The largest events one subscriber's backlog holds at the default capacity within the default
    // budget (REMOTE.md quotes the figure), and a flood of larger ones.
    QTest::newRow("default options, events of 1,988 bytes")
        << int(defaults.capacity) << int(defaults.overflow) << limits.backlogBytesBudget
        << int(defaults.capacity) + 4000 << 1988 << false;
    QTest::newRow("default options, 2 KiB events") << int(defaults.capacity) << int(defaults.overflow)
                                                   << limits.backlogBytesBudget << 70000 << 2048 << true;
    QTest::newRow("budget 4 MiB, DropNewest") << int(defaults.capacity) << int(rio::Overflow::DropNewest)
                                              << (qint64(4) << 20) << 6000 << 2048 << true;
    // How many 64-byte events the default budget holds (REMOTE.md quotes the figure). Not under
    // ThreadSanitizer: there a reader takes about a minute to read 1,150,000 events on a loaded
    // machine, and the rows above try the same paths.
    if (!UnderThreadSanitizer)
        QTest::newRow("64-byte events, unbounded capacity, default budget")
            << 0 << int(rio::Overflow::DropOldest) << limits.backlogBytesBudget << 1150000 << 64 << true;
}

// A lone lossy subscriber that reads everything it is sent, flooded with events from a
// worker thread while the share's thread waits for the worker (so that every event waits in its
// backlog): it is never dropped. Past the budget its oldest events go, counted as the share's
// drops, signalled and logged; it counts what it missed as gaps and receives the rest in order.
void tst_remote_budget::lossyReaderIsThinnedNotDropped()
{
    QFETCH(int, capacity);
    QFETCH(int, overflow);
    QFETCH(qint64, budget);
    QFETCH(int, events);
    QFETCH(int, eventBytes);
    QFETCH(bool, passes);
    Source source({.capacity = std::size_t(capacity), .overflow = rio::Overflow(overflow)},
                  {.backlogBytesBudget = budget});
    QVERIFY(source.share);
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    quint64 signalled = 0;
    QObject::connect(source.share->base(), &rio::RemoteShareBase::eventsDropped, source.listener,
                     [&](quint64, quint64 count) { signalled += count; });
    Subscriber reader(source.address());
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(1), Deadline);
    source.registry.notify(Payload{0, {}}); // starts the reader's sequence
    QTRY_VERIFY_WITH_TIMEOUT(reader.has(0), Deadline);
    const int budgetLines = linesContaining(QStringLiteral("backlogBytesBudget"));
    {
        Worker worker(source.registry, 1, events, eventBytes);
        worker.join();
    }
    qInfo("after %d events of %d bytes: the backlog holds %llu events, %lld bytes", events, eventBytes,
          quint64(source.on(source.newest()).pending), source.on(source.newest()).bytes);
    // The share's thread has not run: the ledger, told by the worker, is within the budget and one
    // step of it, and so is the backlog.
    QVERIFY2(rio::RemoteListener::backlogBytes() <= budget + 65536,
             qPrintable(QString::number(rio::RemoteListener::backlogBytes())));
    QVERIFY2(heldBytes(*source.share->base()) <= budget + 65536,
             qPrintable(QString::number(heldBytes(*source.share->base()))));
    QTRY_VERIFY_WITH_TIMEOUT(reader.has(events), Deadline);
    source.registry.notify(Payload{events + 1, {}}); // shows every gap
    QTRY_VERIFY_WITH_TIMEOUT(reader.has(events + 1), Deadline);
    const quint64 dropped = source.share->droppedCount();
    qInfo("%d events: %lld received, %llu dropped (%llu seen as gaps); %d lines about the budget", events,
          qint64(reader.received.size()), dropped, reader.droppedBySource(),
          linesContaining(QStringLiteral("backlogBytesBudget")) - budgetLines);
    QCOMPARE(rejected.count(), 0);
    QCOMPARE(source.listener->rejectedCount(), quint64(0));
    QCOMPARE(reader.registry->link()->state(), rio::RemoteSubscriber::State::Connected);
    QVERIFY(strictlyIncreasing(reader.received));
    QCOMPARE(quint64(reader.received.size()) + reader.droppedBySource(), quint64(events + 2));
    QCOMPARE(reader.droppedBySource(), dropped);
    QCOMPARE(source.on(source.newest()).dropped, dropped);
    QTRY_COMPARE_WITH_TIMEOUT(signalled, dropped, Deadline);
    QVERIFY(dropped > 0 || (capacity != 0 && events <= capacity));
    if (passes)
        QTRY_VERIFY_WITH_TIMEOUT(linesContaining(QStringLiteral("backlogBytesBudget")) > budgetLines,
                                 Deadline);
    else
        QCOMPARE(linesContaining(QStringLiteral("backlogBytesBudget")), budgetLines);
    QTRY_COMPARE_WITH_TIMEOUT(rio::RemoteListener::backlogBytes(), qint64(0), Deadline);
}

void tst_remote_budget::lossyReaderProcessIsThinnedNotDropped_data()
{
    QTest::addColumn<int>("eventBytes");
    QTest::addColumn<int>("events");
    // Each about 2.5 budgets of entries, more than a default capacity holds within the budget.
    QTest::newRow("2 KiB events") << 2048 << 160000;
    QTest::newRow("8 KiB events") << 8192 << 40000;
}

// A lone subscriber in another process that reads everything it is sent, at default options,
// flooded from a worker thread as fast as it notifies while the share's thread writes. A reader's
// connection is past its high-water mark at most moments of a flood (the pump fills it past the
// mark before it stops), so being past it at the moment the budget is passed does not say it
// does not read: it is never dropped by the budget. Its backlog is thinned instead, and every
// event is either received, in order, or counted as a drop by the share and as a gap by the
// subscriber.
void tst_remote_budget::lossyReaderProcessIsThinnedNotDropped()
{
    QFETCH(int, eventBytes);
    QFETCH(int, events);
    Source source({});
    QVERIFY(source.share);
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    const auto reader = startSubscriber(source.address(), {QStringLiteral("--quiet")});
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(1), Deadline);
    source.registry.notify(Payload{1, {}}); // starts the reader's sequence
    QVERIFY(reader->waitStats([](const auto &s) { return s.value("received") == 1; }));
    const int budgetLines = linesContaining(QStringLiteral("backlogBytesBudget"));
    {
        Worker worker(source.registry, 2, events + 1, eventBytes);
        QTRY_VERIFY_WITH_TIMEOUT(worker.done(), 5 * Deadline); // this thread writes meanwhile
    }
    source.registry.notify(Payload{events + 2, {}}); // shows every gap
    QVERIFY(reader->waitStats([&](const auto &s) { return s.value("last") == events + 2; }));
    const auto stats = reader->stats();
    const quint64 dropped = source.share->droppedCount();
    qInfo("%d events of %d bytes: %lld received, %llu dropped (%lld seen as gaps); %d lines about the "
          "budget",
          events, eventBytes, stats.value("received"), dropped, stats.value("droppedBySource"),
          linesContaining(QStringLiteral("backlogBytesBudget")) - budgetLines);
    QCOMPARE(rejected.count(), 0);
    QCOMPARE(source.listener->rejectedCount(), quint64(0));
    QCOMPARE(reader->lines("state reconnecting").size() + reader->lines("state disconnected").size(),
             0); // it never lost its connection
    QCOMPARE(stats.value("unordered"), qint64(0));
    QCOMPARE(quint64(stats.value("received")) + dropped, quint64(events + 2));
    QCOMPARE(quint64(stats.value("droppedBySource")), dropped);
    QCOMPARE(source.on(source.newest()).dropped, dropped);
    QTRY_COMPARE_WITH_TIMEOUT(rio::RemoteListener::backlogBytes(), qint64(0), Deadline);
}

// A lone subscriber in another process that reads steadily through a slow link (a relay that
// passes about 200 KB/s, slower than a frame per deadline pass), sent bursts that pass the budget
// again and again. Its connection is past its high-water mark for longer than a deadline pass
// (the link drains a frame in more than one) while bytes are written to it all along: it reads,
// so it is never dropped by the budget. Its backlog is thinned, and every event is received in
// order or counted as a drop by the share and as a gap by the subscriber.
void tst_remote_budget::slowSteadyReaderIsThinnedNotDropped()
{
    constexpr qint64 Budget = qint64(4) << 20;
    constexpr int Burst = 96; // events of 64 KiB: 6 MiB, past the budget
    constexpr int Rounds = 4;
    Source source({}, {.backlogBytesBudget = Budget});
    QVERIFY(source.share);
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    Relay relay(source.port());
    relay.throttle(2048); // per tick of 10 ms
    const auto reader = startSubscriber(relay.address(), {QStringLiteral("--quiet")});
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(1), Deadline);
    source.registry.notify(Payload{1, {}}); // starts the reader's sequence
    QVERIFY(reader->waitStats([](const auto &s) { return s.value("received") == 1; }));
    qint64 seq = 1;
    for (int round = 0; round < Rounds; ++round) {
        {
            Worker worker(source.registry, seq + 1, seq + Burst, 64 * 1024);
            worker.join();
        }
        seq += Burst;
        // Two deadline passes' worth at the link's pace (more on a loaded machine, whose timers
        // tick less often): longer than the link takes to drain a frame.
        const qint64 from = relay.passed();
        QTRY_VERIFY_WITH_TIMEOUT(relay.passed() >= from + 400 * 1024, 3 * Deadline);
        QCOMPARE(rejected.count(), 0);
    }
    relay.throttle(0); // what is left goes at once
    expectThinnedNotDropped(source, *reader, seq + 1, "through a link of about 200 KB/s");
}

// A lone subscriber in another process that reads its own socket steadily but slowly (at most 300
// bytes per turn of its event loop, a turn taking at least 10 ms: about 30 KB/s), flooded with events
// of 64 KiB against a budget of 4 MiB, its listener's deadline pass 250 ms (a wait of 1 s makes a
// connection that does not read). TCP shows what such a reader read only once it has read about a
// segment and reopened its window (64 KiB on loopback, every 2 s or so), so by TCP alone it takes
// nothing for longer than that wait, again and again. It tells the source what it read while bytes
// arrive: it stays, its backlog thinned, each drop counted and seen as a gap.
void tst_remote_budget::readerOfItsOwnSocketSlowerThanTcpShowsIsThinnedNotDropped()
{
    constexpr qint64 Budget = qint64(4) << 20;
    constexpr int Burst = 16;        // events of 64 KiB: 1 MiB a round
    constexpr int Rounds = 50;       // at most
    constexpr qint64 FloodMs = 5000; // five waits that make a non-reader
    Source source({}, {.backlogBytesBudget = Budget, .progressTimeout = std::chrono::milliseconds(1000)});
    QVERIFY(source.share);
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    const auto reader = startSubscriber(
        source.address(), {QStringLiteral("--quiet"), QStringLiteral("--read-pace"), QStringLiteral("300")});
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(1), Deadline);
    source.registry.notify(Payload{1, {}}); // starts the reader's sequence
    QVERIFY(reader->waitStats([](const auto &s) { return s.value("received") == 1; }));
    qint64 seq = 1;
    QElapsedTimer flood;
    flood.start();
    for (int round = 0; round < Rounds && flood.elapsed() < FloodMs && rejected.isEmpty(); ++round) {
        Worker worker(source.registry, seq + 1, seq + Burst, 64 * 1024);
        worker.join();
        seq += Burst;
        QTest::qWait(100); // the flood's pace: the listener and the share run meanwhile
    }
    const qint64 flooded = flood.elapsed();
    QCOMPARE(rejected.count(), 0);
    reader->send("pace 0"); // what is left goes at once
    expectThinnedNotDropped(source, *reader, seq + 1,
                            QByteArray("in ") + QByteArray::number(flooded) +
                                " ms to a reader of its socket at about 30 KB/s");
}

// A peer that claims to have read more than was written to its connection, or less than it
// claimed before, lies: it is dropped, once, with a warning.
void tst_remote_budget::claimThatCannotBeTrueDropsThePeer_data()
{
    QTest::addColumn<QList<quint64>>("claims");
    QTest::addColumn<QString>("warning");
    QTest::newRow("beyond what was written")
        << QList<quint64>{quint64(1) << 40} << QStringLiteral("bytes of the");
    QTest::newRow("going back") << QList<quint64>{10, 5} << QStringLiteral("after one of 10");
}

void tst_remote_budget::claimThatCannotBeTrueDropsThePeer()
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
void tst_remote_budget::claimsOfAPeerThatDoesNotReadStopCounting()
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

// A node subscribed to 16 shares of one source over one connection, one share sent an event of
// 1 KiB every 5 ms for a second: the node tells the source what it read once per connection, at
// most every 250 ms, not once per subscription (it sends nothing else meanwhile, and a claim is
// well under 100 bytes: 16 subscriptions' claims would be over 16 * 4 * 50 bytes).
void tst_remote_budget::oneClaimPerConnectionWhateverItsSubscriptions()
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

// A Block share cannot drop what its backlog holds: past the budget, the connection goes (the
// subscriber reconnects and counts the burst as gaps), as before.
void tst_remote_budget::blockShareThatCannotDropLosesTheConnection()
{
    constexpr qint64 Budget = qint64(4) << 20;
    Source source({.overflow = rio::Overflow::Block}, {.backlogBytesBudget = Budget});
    QVERIFY(source.share);
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    Subscriber reader(source.address());
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(1), Deadline);
    source.registry.notify(Payload{0, {}}); // starts the reader's sequence
    QTRY_VERIFY_WITH_TIMEOUT(reader.has(0), Deadline);
    {
        Worker worker(source.registry, 1, 3000, 2048); // about 6 MiB: the share's thread waits
        worker.join();
    }
    QVERIFY(rio::RemoteListener::backlogBytes() <= Budget);
    QTRY_COMPARE_WITH_TIMEOUT(rejected.count(), 1, Deadline);
    QVERIFY2(rejected.at(0).at(0).toString().contains(QStringLiteral("sent nothing longest")),
             qPrintable(rejected.at(0).at(0).toString()));
    QCOMPARE(source.share->droppedCount(), quint64(0));
    QTRY_VERIFY_WITH_TIMEOUT(source.receiving(1), Deadline);
    source.registry.notify(Payload{3001, {}});
    QTRY_VERIFY_WITH_TIMEOUT(reader.has(3001), Deadline);
    QVERIFY(strictlyIncreasing(reader.received));
    QCOMPARE(quint64(reader.received.size()) + reader.droppedBySource(), quint64(3002));
    QTRY_COMPARE_WITH_TIMEOUT(rio::RemoteListener::backlogBytes(), qint64(0), Deadline);
}

// RemoteListener::Options::queuedBytesBudget: hoarders (subscribers behind a link that passes 8 KiB
// every 3.5 s, so that their peers take a little now and then and never count as ones that do not
// read) hold their connections at the high-water mark, within the budget; then a subscriber that
// reads steadily through a link of about 200 KB/s, connected before them, is flooded to its mark
// too, which passes the budget. Those whose peers have taken nothing for longest go: hoarders,
// never the reader, though it holds as much as any (and, first connected, would go first of
// equals).
void tst_remote_budget::queuedBudgetShedsHoardersBeforeASteadyReader()
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
    NamedSubscriber reader(readerLink.address(), QStringLiteral("quotes"));
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
void tst_remote_budget::queuedBudgetShedsNewNonReadersBeforeASlowReader()
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
    NamedSubscriber reader(readerLink.address(), QStringLiteral("quotes"));
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

QTEST_GUILESS_MAIN(tst_remote_budget)
#include "tst_remote_budget.moc"
