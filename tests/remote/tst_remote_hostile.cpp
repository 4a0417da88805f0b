// SPDX-License-Identifier: MIT
// Peers that lie or misbehave on the wire, against a source in another process: what they can
// reach, malformed frames, oversized and incomplete packets, garbage, the local socket's owner.
#include "tst_remote_common.h"

#include <QEventLoop>
#include <QLineF>
#include <QRectF>
#include <QTimer>

#include <bit>

class tst_RemoteHostile : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void peersSeeOnlyTheEventSignalAndThePostSlot_data();
    void peersSeeOnlyTheEventSignalAndThePostSlot();
    void malformedMultiEventPostDeliversNothingAndDropsThatPeer_data();
    void malformedMultiEventPostDeliversNothingAndDropsThatPeer();
    void oversizedPacketDropsThatPeerOnly_data();
    void oversizedPacketDropsThatPeerOnly();
    void incompletePacketsStayWithinTheBudgetAndTheDeadline_data();
    void incompletePacketsStayWithinTheBudgetAndTheDeadline();
    void connectionsThatSendNoWholePacketAreDropped_data();
    void connectionsThatSendNoWholePacketAreDropped();
    void peerThatNeverReadsIsDropped_data();
    void peerThatNeverReadsIsDropped();
    void idleConnectionsHoldNoneOfTheirLargePackets_data();
    void idleConnectionsHoldNoneOfTheirLargePackets();
    void garbageBytesOnTheSocketChangeNothing_data();
    void garbageBytesOnTheSocketChangeNothing();
    void wrongTypedArgumentsDropOnlyTheirPeer_data();
    void channelAskedForThousandsOfTimesDropsItsPeer_data();
    void channelAskedForThousandsOfTimesDropsItsPeer();
    void wrongTypedArgumentsDropOnlyTheirPeer();
    void packetsArrivingDuringANestedEventLoopAreScreened_data();
    void packetsArrivingDuringANestedEventLoopAreScreened();
    void peerThatClosesWhileAHandlerSpinsAnEventLoop_data();
    void peerThatClosesWhileAHandlerSpinsAnEventLoop();
    void listenerDestroyedByAHandlerWhileItReads_data();
    void listenerDestroyedByAHandlerWhileItReads();
    void packetsAreScreenedWholeHoweverTheyAreSplit_data();
    void packetsAreScreenedWholeHoweverTheyAreSplit();
    void localSocketIsReachableByItsUserOnly();
    void liveLocalServerIsNotReplaced();
};

namespace {

// Who a peer is, as a warning that drops it names it: over local:, its process and user.
QString peerPattern(const QString &url)
{
    return url.startsWith(QLatin1String("local")) ? QStringLiteral("local:.* pid \\d+ uid \\d+")
                                                  : QStringLiteral("127\\.0\\.0\\.1:\\d+");
}

// Columns "url" and those `columns` adds, and the rows `rows` adds over every transport, each
// named "<scheme>: <row>".
using Row = std::function<QTestData &(const char *)>;
void addSchemeRowsOf(const std::function<void()> &columns, const std::function<void(const Row &)> &rows)
{
    QTest::addColumn<QString>("url");
    columns();
    for (const QString &url :
         {uniqueLocalUrl(), QStringLiteral("tcp://127.0.0.1:0"), QStringLiteral("tls://127.0.0.1:0")}) {
        const QString scheme = QUrl(url).scheme();
        rows([&](const char *name) -> QTestData & {
            return QTest::addRow("%s: %s", qPrintable(scheme), name) << url;
        });
    }
}

} // namespace

// What a peer can reach of a share: under its name, the post slot and subscribing; under its own
// channel, the event signal and ready(). Nothing that adds handlers, touches other objects or
// holds state a peer could write.
void tst_RemoteHostile::peersSeeOnlyTheEventSignalAndThePostSlot_data()
{
    addSchemeRows();
}

void tst_RemoteHostile::peersSeeOnlyTheEventSignalAndThePostSlot()
{
    QFETCH(QString, url);
    const auto owned = localSource(url);
    LocalSource &source = *owned;
    QVERIFY(source.share);
    QRemoteObjectNode node;
    RawSubscription raw;
    QVERIFY(raw.start(node, source.address()));
    const auto signatures = [](const QMetaObject *meta) {
        QStringList methods;
        for (int i = meta->methodOffset(); i < meta->methodCount(); ++i)
            methods << QString::fromLatin1(meta->method(i).methodSignature());
        methods.sort();
        return methods;
    };
    QCOMPARE(signatures(raw.share->metaObject()),
             (QStringList{QStringLiteral("post(QByteArray)"), QStringLiteral("subscribe(QByteArray)"),
                          QStringLiteral("took(qulonglong)"), QStringLiteral("unsubscribe(qulonglong)")}));
    QCOMPARE(signatures(raw.channel->metaObject()),
             (QStringList{QStringLiteral("delivered(QByteArray)"), QStringLiteral("ready()")}));
    QCOMPARE(raw.share->metaObject()->propertyCount() - raw.share->metaObject()->propertyOffset(), 0);
    QCOMPARE(raw.channel->metaObject()->propertyCount() - raw.channel->metaObject()->propertyOffset(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(source.share->base()->subscriberCount(), 1, Deadline);
    // A subscription without a secret drops that peer, and changes nothing else.
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    QTest::ignoreMessage(
        QtWarningMsg, QRegularExpression(QStringLiteral("connection \\d+ \\(%1\\) sent a subscription with a "
                                                        "secret of 0 bytes")
                                             .arg(peerPattern(url))));
    QRemoteObjectNode other;
    const std::unique_ptr<QRemoteObjectDynamicReplica> keyless = rawReplica(other, source.address());
    QVERIFY(keyless);
    const QMetaObject *meta = keyless->metaObject();
    QVERIFY(meta->method(meta->indexOfSlot("subscribe(QByteArray)"))
                .invoke(keyless.get(), Qt::DirectConnection, Q_ARG(QByteArray, QByteArray())));
    QTRY_COMPARE_WITH_TIMEOUT(rejected.size(), 1, Deadline);
    QCOMPARE(source.share->base()->subscriberCount(), 1);
    // More than 64 subscriptions on one connection that do not acquire their channel drop that
    // peer, and its subscriptions go.
    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression(QStringLiteral("connection \\d+ \\(%1\\) sent more than 64 "
                                                           "subscriptions that did not acquire")
                                                .arg(peerPattern(url))));
    QRemoteObjectNode greedy;
    const std::unique_ptr<QRemoteObjectDynamicReplica> many = rawReplica(greedy, source.address());
    QVERIFY(many);
    const QMetaMethod subscribe =
        many->metaObject()->method(many->metaObject()->indexOfSlot("subscribe(QByteArray)"));
    for (qulonglong key = 1; key <= 65; ++key)
        QVERIFY(subscribe.invoke(many.get(), Qt::DirectConnection, Q_ARG(QByteArray, secretFor(key))));
    QTRY_COMPARE_WITH_TIMEOUT(rejected.size(), 2, Deadline);
    QTRY_COMPARE_WITH_TIMEOUT(source.share->base()->subscriberCount(), 1, Deadline);
    // Another name is not shared: acquiring it never becomes valid.
    std::unique_ptr<QRemoteObjectDynamicReplica> unknown(node.acquireDynamic(QStringLiteral("registry")));
    QVERIFY(!unknown->waitForSource(500));
}

// A peer that posts bytes that are not events is disconnected with a warning; the registry never
// sees them, and the source and other subscribers go on. A post frame of several events is checked
// whole before any of them is delivered: a count that is cut short, a count above the limit or
// beyond the events sent, or one event in the middle that is not a Payload (or too large) drops the
// peer, and none of the frame's events reach the source.
void tst_RemoteHostile::malformedMultiEventPostDeliversNothingAndDropsThatPeer_data()
{
    const quint64 own = keyOf(secretFor(7)); // the origin of the peer's own subscription
    const QByteArray good1 = payloadBytes(101);
    const QByteArray good3 = payloadBytes(103);
    const QString malformed =
        QStringLiteral("connection \\d+ \\(.*\\) sent a malformed frame of .* its connection is dropped");
    QList<std::pair<quint64, QByteArray>> many;
    for (int i = 0; i <= int(rio::detail::RemoteFrameMaxEvents); ++i)
        many.append({own, payloadBytes(i + 1)});
    const auto columns = [] {
        QTest::addColumn<QByteArray>("frame");
        QTest::addColumn<QString>("warning");
    };
    addSchemeRowsOf(columns, [&](const Row &row) {
        row("one event, not a Payload")
            << postFrame({{own, QByteArray("garbage")}})
            << QStringLiteral("connection \\d+ \\(.*\\) sent .* not one event; its connection is dropped");
        row("truncated count") << QByteArray(1, char(2)) + QByteArray(2, char(0)) << malformed;
        row("count beyond the limit") << postFrame(many) << malformed;
        row("count beyond the events") << postFrame({{own, good1}, {own, good3}}, 3) << malformed;
        row("event cut short") << postFrame({{own, good1}, {own, good3}}).chopped(3) << malformed;
        row("origin 0 in the middle")
            << postFrame({{own, good1}, {0, payloadBytes(102)}, {own, good3}}) << malformed;
        row("bad event in the middle")
            << postFrame({{own, good1}, {own, QByteArray("garbage")}, {own, good3}})
            << QStringLiteral(
                   "connection \\d+ \\(.*\\) sent a frame of 3 events, one of them bytes that are not "
                   "one event; its connection is dropped");
        row("oversized event in the middle")
            << postFrame({{own, good1},
                          {own, rio::detail::encodeRemoteEvent(Payload{102, QByteArray(2048, 'x')})},
                          {own, good3}})
            << QStringLiteral(
                   "connection \\d+ \\(.*\\) sent an event of [0-9]+ bytes \\(the share accepts 1024\\)");
    });
}

void tst_RemoteHostile::malformedMultiEventPostDeliversNothingAndDropsThatPeer()
{
    QFETCH(QString, url);
    QFETCH(QByteArray, frame);
    QFETCH(QString, warning);
    rio::RemoteShareOptions options;
    options.maxEventBytes = 1024;
    const auto owned = localSource(url, options);
    LocalSource &source = *owned;
    QVERIFY(source.share);
    QList<qint64> atSource;
    source.registry.add(this, [&](const Payload &p) { atSource.append(p.seq); });
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    auto good = startSubscriber(source.address(), tlsSubscriberArgs(url));
    QVERIFY(good->waitLine("state connected"));

    QRemoteObjectNode node;
    const std::unique_ptr<QRemoteObjectDynamicReplica> replica = rawReplica(node, source.address());
    QVERIFY(replica);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(warning));
    // The events' origin (the key of secretFor(7)) is this connection's own subscription: only what
    // is malformed counts.
    QVERIFY(QMetaObject::invokeMethod(replica.get(), "subscribe", Q_ARG(QByteArray, secretFor(7))));
    QVERIFY(QMetaObject::invokeMethod(replica.get(), "post", Q_ARG(QByteArray, frame)));
    QVERIFY(rejected.wait(Deadline));
    QTRY_VERIFY_WITH_TIMEOUT(replica->state() != QRemoteObjectReplica::Valid, Deadline);
    QVERIFY(atSource.isEmpty());

    // The source and the other subscriber go on, and a well-formed frame of three is delivered whole.
    source.registry.notify(Payload{1, {}});
    QVERIFY(good->waitLine("event 0 1"));
    good->send("notify 2 2");
    QTRY_COMPARE_WITH_TIMEOUT(atSource, (QList<qint64>{1, 2}), Deadline);
    QCOMPARE(rejected.size(), 1);
}

// A packet announced larger than the limit is never buffered: the connection goes at once.
void tst_RemoteHostile::oversizedPacketDropsThatPeerOnly_data()
{
    addSchemeRows();
}

void tst_RemoteHostile::oversizedPacketDropsThatPeerOnly()
{
    QFETCH(QString, url);
    const auto owned = localSource(url);
    LocalSource &source = *owned;
    QVERIFY(source.share);
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    auto good = startSubscriber(source.address(), tlsSubscriberArgs(url));
    QVERIFY(good->waitLine("state connected"));

    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression("sent a packet of 1073741824 bytes \\(the limit is 1114112\\)"));
    const std::unique_ptr<QIODevice> raw = rawConnection(source.address());
    QVERIFY(raw);
    QByteArray header(4, 0);
    header[3] = char(0x40); // 1 GiB, little-endian as Qt Remote Objects reads it
    raw->write(header + QByteArray(3 << 20, 'x'));
    QVERIFY(rejected.wait(Deadline));
    QTRY_VERIFY_WITH_TIMEOUT(!isOpen(raw.get()), Deadline);

    source.registry.notify(Payload{1, {}});
    QVERIFY(good->waitLine("event 0 1"));
}

// 64 connections, each past its handshake (a whole Ping), then sending a packet header that
// announces 1,000,000 bytes and all of them but 1 KiB: the bytes they make the source hold stay
// within its budget (past it, the connections whose packet has been incomplete longest go at once), the
// others are dropped when they have made no progress for the deadline, every drop is warned about, and the
// subscriber beside them (idle the whole time) keeps its connection and its events.
void tst_RemoteHostile::incompletePacketsStayWithinTheBudgetAndTheDeadline_data()
{
    QTest::addColumn<QString>("url");
    QTest::newRow("local") << uniqueLocalUrl();
    QTest::newRow("tcp") << QStringLiteral("tcp://127.0.0.1:0");
    QTest::newRow("tls") << QStringLiteral("tls://127.0.0.1:0");
}

void tst_RemoteHostile::incompletePacketsStayWithinTheBudgetAndTheDeadline()
{
    QFETCH(QString, url);
    const bool tls = url.startsWith(QLatin1String("tls"));
    std::optional<TestCertificates> certs;
    if (tls) {
        certs.emplace();
        QVERIFY2(certs->error().isEmpty(), qPrintable(certs->error()));
    }
    // The budget is passed by the third connection's megabyte; the deadline gives each of those
    // three over 1.5 s to send it (on a loaded machine, under the sanitizers and over TLS), and the
    // last connections, which never pass the budget, go at it (within the 30 s the check waits).
    constexpr qint64 Budget = qint64(2) << 20;
    constexpr int ProgressTimeoutMs = 5000;
    constexpr int Connections = 64;
    constexpr quint32 Announced = 1000000;
    QStringList args{QStringLiteral("--incomplete-budget"), QString::number(Budget),
                     QStringLiteral("--progress-timeout"),  QString::number(ProgressTimeoutMs),
                     QStringLiteral("--handshake-timeout"), QStringLiteral("60000")};
    if (tls)
        args += certs->args(QStringLiteral("server"), QString());
    auto [source, address] = startSource(url, args, true);
    QVERIFY(!address.isEmpty());
    auto good = startSubscriber(address, tls ? certs->args(QString(), QStringLiteral("a")) : QStringList());
    QVERIFY(good->waitLine("state connected"));
    const auto statsBefore = source->stats();
    const qint64 rssBefore = statsBefore.value("rss");
    const qint64 heapBefore = statsBefore.value("heap");
    const qsizetype linesBefore = source->lineCount();

    QByteArray announce(4, Qt::Uninitialized);
    qToLittleEndian(Announced, announce.data());
    const QByteArray attack = roPing(QStringLiteral("orders")) + announce + QByteArray(Announced - 1024, 'x');
    std::vector<std::unique_ptr<QIODevice>> attackers;
    for (int i = 0; i < Connections; ++i) {
        auto socket = rawConnection(address, tls ? certs->path(QStringLiteral("a-ca.crt")) : QString());
        QVERIFY2(socket, qPrintable(QStringLiteral("connection %1 did not open").arg(i)));
        // Written (or refused) before the next connects: a TLS handshake ends only once the client
        // writes its last message from its event loop.
        socket->write(attack);
        QTRY_VERIFY_WITH_TIMEOUT(socket->bytesToWrite() == 0 || !isOpen(socket.get()), Deadline);
        attackers.push_back(std::move(socket));
    }
    // Every connection is closed by the source: over the budget at once, the others at the deadline.
    QTRY_VERIFY_WITH_TIMEOUT(std::none_of(attackers.begin(), attackers.end(),
                                          [](const auto &socket) { return isOpen(socket.get()); }),
                             Deadline);
    QVERIFY(source->waitStats([](const auto &s) { return s.value("connections") == 1; }));
    const auto stats = source->stats();
    QCOMPARE(stats.value("rejected"), Connections);
    QCOMPARE(stats.value("incomplete"), 0);
    qint64 overBudget = 0;
    qint64 late = 0;
    const QList<QByteArray> lines = source->lines("");
    for (qsizetype i = linesBefore; i < lines.size(); ++i) {
        const QByteArray &line = lines.at(i);
        overBudget += line.contains("(the budget is " + QByteArray::number(Budget) + "); connection ") &&
                              line.contains("whose packet has been incomplete longest")
                          ? 1
                          : 0;
        late += line.contains("for " + QByteArray::number(ProgressTimeoutMs) +
                              " ms without completing it; its connection is dropped")
                    ? 1
                    : 0;
    }
    QCOMPARE(overBudget + late, Connections);
    QVERIFY2(overBudget > 0 && late > 0,
             qPrintable(QStringLiteral("%1 over the budget, %2 late").arg(overBudget).arg(late)));
    // What the source holds at its peak (the allocator's bytes in use, sampled as each connection
    // goes): the budget, the read that passed it (at most one packet's limit) and each
    // connection's own state (TLS sessions over TLS), never a dropped connection's buffer; far
    // from the 61 MB that 64 such connections held without a budget. Resident memory adds what the
    // allocator keeps of what was freed.
    const qint64 growthKiB = stats.value("hwm") - rssBefore;
    const qint64 heldKiB = stats.value("heapPeak") - heapBefore;
    qInfo("peak growth %lld KiB resident, %lld KiB held (budget %lld KiB); %lld dropped over the budget, "
          "%lld at the deadline",
          qlonglong(growthKiB), qlonglong(heldKiB), qlonglong(Budget / 1024), qlonglong(overBudget),
          qlonglong(late));
#ifndef RIO_REMOTE_SPAWN // under the sanitizers memory is no bound (shadow memory, quarantine)
    const qint64 perConnectionKiB = tls ? 256 : 64;
    const qint64 heldBoundKiB =
        (Budget + rio::RemoteListener::Options{}.maxPacketBytes) / 1024 + Connections * perConnectionKiB;
    QVERIFY2(heldKiB > 0 && heldKiB < heldBoundKiB,
             qPrintable(QStringLiteral("%1 KiB held (bound %2 KiB)").arg(heldKiB).arg(heldBoundKiB)));
    QVERIFY2(
        growthKiB < heldBoundKiB + 16 * 1024,
        qPrintable(
            QStringLiteral("%1 KiB resident (bound %2 KiB)").arg(growthKiB).arg(heldBoundKiB + 16 * 1024)));
#endif

    QCOMPARE(source->process().state(), QProcess::Running);
    source->send("notify 1 1");
    QVERIFY(good->waitLine("event 0 1"));
    QVERIFY(good->lines("state ").size() == 1); // never lost its connection
}

// A connection that sends nothing, or only the start of a packet, within the handshake deadline
// (from its connect) is dropped with a warning naming it, once; a subscriber connected as long (idle after
// its handshake) stays. Over TLS, the two are plain TCP connections to the TLS listener: one
// silent, one that sends the start of a ClientHello record and no more.
void tst_RemoteHostile::connectionsThatSendNoWholePacketAreDropped_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<QByteArray>("warning");
    const QByteArray noPacket = "sent no whole packet within 500 ms of connecting; its connection is dropped";
    QTest::newRow("local") << uniqueLocalUrl() << noPacket;
    QTest::newRow("tcp") << QStringLiteral("tcp://127.0.0.1:0") << noPacket;
    QTest::newRow("tls") << QStringLiteral("tls://127.0.0.1:0")
                         << QByteArray("did not complete the TLS handshake within 500 ms of connecting; "
                                       "its connection is dropped");
}

void tst_RemoteHostile::connectionsThatSendNoWholePacketAreDropped()
{
    QFETCH(QString, url);
    QFETCH(QByteArray, warning);
    constexpr int HandshakeTimeout = 500;
    const bool tls = url.startsWith(QLatin1String("tls"));
    std::optional<TestCertificates> certs;
    QStringList args{QStringLiteral("--handshake-timeout"), QString::number(HandshakeTimeout)};
    if (tls) {
        certs.emplace();
        QVERIFY2(certs->error().isEmpty(), qPrintable(certs->error()));
        args += certs->args(QStringLiteral("server"), QString());
    }
    auto [source, address] = startSource(url, args, true);
    QVERIFY(!address.isEmpty());
    auto good = startSubscriber(address, tls ? certs->args(QString(), QStringLiteral("a")) : QStringList());
    QVERIFY(good->waitLine("state connected"));
    const qsizetype linesBefore = source->lineCount();
    QElapsedTimer sinceConnect;
    sinceConnect.start();
    std::unique_ptr<QIODevice> silent;
    std::unique_ptr<QIODevice> partial;
    if (tls) {
        const QUrl at(address);
        for (auto *socket : {&silent, &partial}) {
            auto tcp = std::make_unique<QTcpSocket>();
            tcp->connectToHost(at.host(), quint16(at.port()));
            QVERIFY(tcp->waitForConnected(Deadline));
            *socket = std::move(tcp);
        }
        // A TLS handshake record (22), version 3.1, announcing 512 bytes, then 4 of them.
        partial->write(QByteArray::fromHex("1603010200") + QByteArray::fromHex("01000200"));
    } else {
        silent = rawConnection(address);
        partial = rawConnection(address);
        QVERIFY(silent && partial);
        partial->write(roPing(QStringLiteral("orders")).chopped(3));
    }
    QTRY_VERIFY_WITH_TIMEOUT(!isOpen(silent.get()) && !isOpen(partial.get()), Deadline);
    const qint64 closedAfter = sinceConnect.elapsed();
    qInfo("both closed %lld ms after they connected (the deadline is %d ms)", qlonglong(closedAfter),
          HandshakeTimeout);
    // Not before the deadline; within a few of it (the check runs every quarter of it, and a loaded
    // machine adds its own delay), far from the default of 10 s.
    QVERIFY2(closedAfter >= HandshakeTimeout, QByteArray::number(closedAfter));
    QVERIFY2(closedAfter < 6 * HandshakeTimeout, QByteArray::number(closedAfter));
    QVERIFY(source->waitStats(
        [](const auto &s) { return s.value("connections") == 1 && s.value("rejected") >= 2; }));
    // Each peer once: the warnings printed before the answer to `stats` match its count.
    const qsizetype answerFrom = source->lineCount();
    const auto stats = source->stats();
    QCOMPARE(stats.value("rejected"), 2);
    const QList<QByteArray> lines = source->lines("");
    qsizetype warnings = 0;
    for (qsizetype i = linesBefore; i < answerFrom; ++i) {
        const QByteArray &line = lines.at(i);
        QVERIFY2(!line.startsWith("registryio.remote:") || line.endsWith(warning), line.constData());
        QVERIFY2(!line.contains("the peer at :"), line.constData()); // each names its peer
        warnings += line.startsWith("registryio.remote: rio::RemoteListener " + address.toUtf8() + ": ") &&
                            line.endsWith(warning)
                        ? 1
                        : 0;
    }
    QCOMPARE(warnings, 2);
    source->send("notify 1 1");
    QVERIFY(good->waitLine("event 0 1"));
    QCOMPARE(good->lines("state ").size(), 1);
}

// Bytes that are not Qt Remote Objects' protocol at all: the source and the other subscribers
// carry on.
void tst_RemoteHostile::garbageBytesOnTheSocketChangeNothing_data()
{
    addSchemeRows();
}

void tst_RemoteHostile::garbageBytesOnTheSocketChangeNothing()
{
    QFETCH(QString, url);
    const auto owned = localSource(url);
    LocalSource &source = *owned;
    QVERIFY(source.share);
    auto good = startSubscriber(source.address(), tlsSubscriberArgs(url));
    QVERIFY(good->waitLine("state connected"));
    QList<qint64> atSource;
    source.registry.add(this, [&](const Payload &p) { atSource.append(p.seq); });

    for (int round = 0; round < 8; ++round) {
        const std::unique_ptr<QIODevice> raw = rawConnection(source.address());
        QVERIFY(raw);
        QByteArray junk;
        for (int i = 0; i < 256; ++i)
            junk.append(char((i * 37 + round * 11) & 0xff));
        junk.prepend(QByteArray::fromHex("00010000")); // a whole packet (256, little-endian) of noise
        raw->write(junk);
        QTRY_VERIFY_WITH_TIMEOUT(raw->bytesToWrite() == 0 || !isOpen(raw.get()), Deadline);
        QTRY_VERIFY_WITH_TIMEOUT(!isOpen(raw.get()), Deadline); // the source drops it
    }
    source.registry.notify(Payload{1, {}});
    QVERIFY(good->waitLine("event 0 1"));
    good->send("notify 2 2");
    QTRY_COMPARE_WITH_TIMEOUT(atSource, (QList<qint64>{1, 2}), Deadline);
}

// Every method and property index of every object a source's Qt Remote Objects reads invocations
// of (the share, a subscriber's channel, "Registry", which it reads for any host, and a name it
// does not remote), invoked by a raw peer with values of a type that no method takes (a QRectF
// whose doubles are a pointer and a size, which a QByteArray parameter would take for its own
// storage; such a value nested in a list; an invalid value; a type streamed under a name nobody
// registered) or of a type the method does not take: each drops that peer, before Qt Remote
// Objects reads it, with one rejection; the source process lives and the subscriber beside the
// attacker receives every event.
void tst_RemoteHostile::wrongTypedArgumentsDropOnlyTheirPeer_data()
{
    addSchemeRows();
}

void tst_RemoteHostile::wrongTypedArgumentsDropOnlyTheirPeer()
{
    QFETCH(QString, url);
    // Named, not bound: lambdas capture them (clang 14 captures no structured binding).
    const auto started = startSource(url, tlsSourceArgs(url));
    Peer *const source = started.first.get();
    const QString address = started.second;
    QVERIFY(!address.isEmpty());
    auto good = startSubscriber(address, tlsSubscriberArgs(url));
    QVERIFY(good->waitLine("state connected"));
    QString channel;
    {
        QRemoteObjectNode spy;
        trustTestCa(spy, address);
        QVERIFY(rio::connectToSource(&spy, QUrl(address)));
        QTRY_VERIFY_WITH_TIMEOUT(!channelsOf(spy).isEmpty(), Deadline);
        channel = channelsOf(spy).first();
    }
    // Doubles whose bits are an address nothing maps and a size: what a slot would read as a
    // QByteArray's header.
    const auto bits = [](quint64 value) { return std::bit_cast<double>(value); };
    const QRectF forged(bits(0x0000100000001000), bits(0x0000100000001000), bits(64), bits(0));
    QList<std::pair<quint32, QByteArray>> wrong{
        {1, roArguments({forged})},
        {1, roArguments({QVariantList{forged}})},
        {1, roArguments({QVariant()})},
        {1, roArguments({QLineF(1, 2, 3, 4)})},
    };
    {
        QByteArray byName; // a value of a type streamed by a name nobody registered
        QDataStream stream(&byName, QIODevice::WriteOnly);
        stream.setByteOrder(QDataStream::LittleEndian);
        stream << quint32(QMetaType::User) << qint8(0) << "RioNoSuchType" << forged;
        wrong.append({1, byName});
    }
    // Two values where the share's methods take one, the first of them of the right type.
    wrong.append({2, roArguments({QByteArray(16, 'k'), forged})});
    // Types the share's methods take, each where another is taken: by method index (post,
    // subscribe, unsubscribe, in declaration order).
    const QByteArray key = roArguments({QVariant::fromValue(quint64(1) << 44)});
    const QList<std::pair<int, QByteArray>> misplaced{
        {0, key}, {1, key}, {2, roArguments({QByteArray(8, 'x')})}};
    const QStringList objects{QStringLiteral("orders"), channel, QStringLiteral("Registry"),
                              QStringLiteral("nothing-remoted")};
    qint64 rejected = 0;
    const auto attack = [&](const QByteArray &packet) {
        const std::unique_ptr<QIODevice> raw = rawConnection(address);
        if (!raw)
            return false;
        // After a valid packet, so that the bad one is not the first thing read.
        raw->write(roPing(QStringLiteral("orders")) + packet);
        if (!QTest::qWaitFor([&] { return !isOpen(raw.get()); }, Deadline))
            return false;
        ++rejected;
        // Closed by the source, not by its death.
        return source->stats().value("rejected") == rejected;
    };
    for (const QString &object : objects) {
        for (int index = 0; index < 4; ++index) {
            for (const auto &[count, arguments] : wrong) {
                QVERIFY2(attack(roInvoke(object, index, count, arguments)),
                         qPrintable(QStringLiteral("%1 method %2").arg(object).arg(index)));
                QVERIFY2(attack(roInvoke(object, index, count, arguments, QMetaObject::WriteProperty)),
                         qPrintable(QStringLiteral("%1 property %2").arg(object).arg(index)));
            }
        }
    }
    for (const auto &[index, arguments] : misplaced) {
        QVERIFY2(attack(roInvoke(QStringLiteral("orders"), index, 1, arguments)),
                 qPrintable(QStringLiteral("orders method %1").arg(index)));
    }
    QVERIFY(source->waitStats([&](const auto &stats) { return stats.value("rejected") == rejected; }));
    // The source lives, and the subscriber beside the attacker receives.
    for (int seq = 1; seq <= 3; ++seq) {
        source->send("notify " + QByteArray::number(seq) + ' ' + QByteArray::number(seq));
        QVERIFY(good->waitLine("event 0 " + QByteArray::number(seq)));
    }
    QCOMPARE(source->process().state(), QProcess::Running);
}

void tst_RemoteHostile::channelAskedForThousandsOfTimesDropsItsPeer_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<bool>("own");
    QTest::newRow("local own") << uniqueLocalUrl() << true;
    QTest::newRow("local another's") << uniqueLocalUrl() << false;
    QTest::newRow("tcp own") << QStringLiteral("tcp://127.0.0.1:0") << true;
    QTest::newRow("tcp another's") << QStringLiteral("tcp://127.0.0.1:0") << false;
}

// Qt Remote Objects appends a connection to an object's listeners once per AddObject: a peer that
// asks for one channel 5,000 times (about 285 KB; its own after subscribing, or another
// subscriber's, whose name every connection is told) and reads the answers would have each later
// event written 5,000 times to it in one turn. Against a source process with a lossless (Block)
// share: the attacker is dropped at its second AddObject with one warning, the source holds less
// than 64 MiB more than before (the events are 60 KB), and the subscriber beside it receives every
// event.
void tst_RemoteHostile::channelAskedForThousandsOfTimesDropsItsPeer()
{
    QFETCH(QString, url);
    QFETCH(bool, own);
    auto [source, address] = startSource(url, {QStringLiteral("--overflow"), QStringLiteral("block")}, true);
    QVERIFY(!address.isEmpty());
    auto good = startSubscriber(address);
    QVERIFY(good->waitLine("state connected"));
    const qint64 before = source->stats().value("hwm");
    QString channel;
    {
        QRemoteObjectNode spy;
        QVERIFY(rio::connectToSource(&spy, QUrl(address)));
        QTRY_VERIFY_WITH_TIMEOUT(!channelsOf(spy).isEmpty(), Deadline);
        channel = channelsOf(spy).first();
    }
    const qsizetype linesBefore = source->lineCount();
    const std::unique_ptr<QIODevice> attacker = rawConnection(address);
    QVERIFY(attacker);
    QByteArray heard; // what the source told it (its object lists name the channels)
    QObject::connect(attacker.get(), &QIODevice::readyRead, attacker.get(),
                     [&] { heard += attacker->readAll(); });
    const QByteArray secret = secretFor(0xadd);
    if (own) {
        channel = QStringLiteral("orders#") + QString::number(keyOf(secret), 16);
        attacker->write(roAcquire(QStringLiteral("orders")) +
                        roInvoke(QStringLiteral("orders"), 1, 1, roArguments({QVariant(secret)})));
        const QByteArray utf16(reinterpret_cast<const char *>(channel.utf16()), channel.size() * 2);
        QTRY_VERIFY_WITH_TIMEOUT(heard.contains(utf16), Deadline); // remoted: the source would attach it
    }
    QByteArray attack;
    for (int i = 0; i < 5000; ++i)
        attack += roAcquire(channel);
    attacker->write(attack);
    QTRY_VERIFY_WITH_TIMEOUT(!isOpen(attacker.get()), Deadline);
    QVERIFY(source->waitStats([](const auto &s) { return s.value("rejected") == 1; }));
    qsizetype warnings = 0;
    const QList<QByteArray> lines = source->lines("");
    for (qsizetype i = linesBefore; i < lines.size(); ++i)
        warnings += lines.at(i).contains("sent a second acquisition of") ? 1 : 0;
    QCOMPARE(warnings, 1);
    source->send("notify 1 3 60000");
    QVERIFY(good->waitLine("event 0 3"));
    QCOMPARE(good->lines("event 0 ").size(), 3);
    const qint64 growth = source->stats().value("hwm") - before;
    qInfo("the source's peak resident memory grew by %lld KiB", growth);
    QVERIFY2(growth < RssGrowthLimitKiB, qPrintable(QString::number(growth)));
}

// A source handler that Qt Remote Objects runs while it reads (a registry handler with default
// options, run by post) and that runs a nested event loop (a modal dialog, processEvents): a
// packet the peer sent with the one that runs it, or sends meanwhile, is screened before Qt Remote
// Objects reads it, like any other, and a wrong-typed one drops the peer: over TLS too, where the
// socket decrypts and buffers more inside the nested loop.
void tst_RemoteHostile::packetsArrivingDuringANestedEventLoopAreScreened_data()
{
    QTest::addColumn<QString>("url");
    QTest::newRow("local") << uniqueLocalUrl();
    QTest::newRow("tcp") << QStringLiteral("tcp://127.0.0.1:0");
    QTest::newRow("tls") << QStringLiteral("tls://127.0.0.1:0");
}

void tst_RemoteHostile::packetsArrivingDuringANestedEventLoopAreScreened()
{
    QFETCH(QString, url);
    TestCertificates certs;
    QVERIFY2(certs.error().isEmpty(), qPrintable(certs.error()));
    LocalSource source(url, {}, certs.sourceConfiguration());
    QVERIFY(source.share);
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    const std::unique_ptr<QIODevice> raw =
        rawConnection(source.address(), certs.path(QStringLiteral("a-ca.crt")));
    QVERIFY(raw);
    QIODevice *const attacker = raw.get();
    const QByteArray secret = secretFor(7);
    int handled = 0;
    source.registry.add(this,
                        [&](const Payload &) {
                            ++handled;
                            // A QRectF where post() takes a QByteArray: in the kernel's buffer for this
                            // socket before the nested loop polls it.
                            attacker->write(roInvoke(QStringLiteral("orders"), 0, 1,
                                                     roArguments({QVariant(QRectF(1e30, 2, 3, 4))})));
                            if (!attacker->waitForBytesWritten(Deadline))
                                return;
                            for (int turn = 0; turn < 3; ++turn)
                                QCoreApplication::processEvents();
                        },
                        {.connection = Qt::DirectConnection});
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression("argument 0 is a value of type QRectF"));
    // In one write: over TLS, one record that the source's socket decrypts in parts, the rest
    // (the Ping's end and the wrong-typed post) while the handler's nested loop runs.
    raw->write(roAcquire(QStringLiteral("orders")) +
               roInvoke(QStringLiteral("orders"), 1, 1, roArguments({QVariant(secret)})) +
               roInvoke(QStringLiteral("orders"), 0, 1,
                        roArguments({QVariant(postFrame(
                            {{keyOf(secret), rio::detail::encodeRemoteEvent(Payload{42, "x"})}}))})) +
               roPing(QString(4096, QLatin1Char('p'))) +
               roInvoke(QStringLiteral("orders"), 0, 1, roArguments({QVariant(QRectF(1e30, 2, 3, 4))})));
    QTRY_COMPARE_WITH_TIMEOUT(rejected.size(), 1, Deadline);
    QCOMPARE(handled, 1);
    QTRY_VERIFY_WITH_TIMEOUT(!isOpen(raw.get()), Deadline);
}

// A peer that closes its connection while a handler run inside Qt Remote Objects' read of it
// spins an event loop (which hears the close and deletes what a closed connection leaves): the
// read ends with its device and pipe alive, the packets it sent before closing are read, then the
// connection goes; the source serves the next peer.
void tst_RemoteHostile::peerThatClosesWhileAHandlerSpinsAnEventLoop_data()
{
    QTest::addColumn<QString>("url");
    QTest::newRow("local") << uniqueLocalUrl();
    QTest::newRow("tcp") << QStringLiteral("tcp://127.0.0.1:0");
    QTest::newRow("tls") << QStringLiteral("tls://127.0.0.1:0");
}

void tst_RemoteHostile::peerThatClosesWhileAHandlerSpinsAnEventLoop()
{
    QFETCH(QString, url);
    TestCertificates certs;
    QVERIFY2(certs.error().isEmpty(), qPrintable(certs.error()));
    LocalSource source(url, {}, certs.sourceConfiguration());
    QVERIFY(source.share);
    QSignalSpy closed(source.listener, &rio::RemoteListener::connectionClosed);
    std::unique_ptr<QIODevice> raw = rawConnection(source.address(), certs.path(QStringLiteral("a-ca.crt")));
    QVERIFY(raw);
    QIODevice *const attacker = raw.get();
    const QByteArray secret = secretFor(7);
    QList<qint64> handled;
    bool sawClose = false;
    source.registry.add(
        this,
        [&](const Payload &p) {
            handled.append(p.seq);
            if (p.seq != 1)
                return;
            if (auto *local = qobject_cast<QLocalSocket *>(attacker))
                local->abort();
            else
                static_cast<QAbstractSocket *>(attacker)->abort();
            // Until the source's socket has seen the close, then a turn more (in
            // which what the close left for deletion is deleted).
            QEventLoop loop;
            QTimer poll;
            QObject::connect(&poll, &QTimer::timeout, &loop, [&] {
                const auto sockets = source.listener->findChildren<QAbstractSocket *>();
                if (std::none_of(sockets.begin(), sockets.end(), [](const QAbstractSocket *s) {
                        return s->state() == QAbstractSocket::ConnectedState;
                    })) {
                    sawClose = true;
                    loop.quit();
                }
            });
            poll.start(1);
            QTimer::singleShot(Deadline, &loop, &QEventLoop::quit);
            loop.exec();
            poll.stop();
            QTimer::singleShot(0, &loop, &QEventLoop::quit);
            loop.exec();
        },
        {.connection = Qt::DirectConnection});
    const auto post = [&](qint64 seq) {
        return roInvoke(QStringLiteral("orders"), 0, 1,
                        roArguments({QVariant(postFrame(
                            {{keyOf(secret), rio::detail::encodeRemoteEvent(Payload{seq, "x"})}}))}));
    };
    raw->write(roAcquire(QStringLiteral("orders")) +
               roInvoke(QStringLiteral("orders"), 1, 1, roArguments({QVariant(secret)})) + post(1) + post(2) +
               roPing(QStringLiteral("orders")));
    QTRY_COMPARE_WITH_TIMEOUT(closed.size(), 1, Deadline);
    QVERIFY(sawClose);
    QCOMPARE(handled, (QList<qint64>{1, 2}));
    QCOMPARE(source.listener->connectionCount(), 0);
    // The next peer is served.
    raw = rawConnection(source.address(), certs.path(QStringLiteral("a-ca.crt")));
    QVERIFY(raw);
    raw->write(roAcquire(QStringLiteral("orders")) +
               roInvoke(QStringLiteral("orders"), 1, 1, roArguments({QVariant(secret)})) + post(3));
    QTRY_COMPARE_WITH_TIMEOUT(handled, (QList<qint64>{1, 2, 3}), Deadline);
}

// A handler run inside Qt Remote Objects' read of a connection destroys the listener, at once or
// from an event loop it spins: the read ends with the connection's device and pipe alive (Qt
// Remote Objects reads none of its further packets), the connection closes, nothing crashes.
void tst_RemoteHostile::listenerDestroyedByAHandlerWhileItReads_data()
{
    addSchemeRowsOf([] { QTest::addColumn<bool>("nested"); },
                    [](const Row &row) {
                        row("at once") << false;
                        row("in an event loop") << true;
                    });
}

void tst_RemoteHostile::listenerDestroyedByAHandlerWhileItReads()
{
    QFETCH(QString, url);
    QFETCH(bool, nested);
    const auto owned = localSource(url);
    LocalSource &source = *owned;
    QVERIFY(source.share);
    const std::unique_ptr<QIODevice> raw = rawConnection(source.address());
    QVERIFY(raw);
    const QByteArray secret = secretFor(7);
    QList<qint64> handled;
    QPointer<rio::RemoteListener> listener = source.listener;
    source.registry.add(this,
                        [&](const Payload &p) {
                            handled.append(p.seq);
                            if (!nested) {
                                delete listener;
                                return;
                            }
                            QEventLoop loop;
                            QTimer::singleShot(0, listener, [&] { listener->deleteLater(); });
                            QObject::connect(listener, &QObject::destroyed, &loop, &QEventLoop::quit,
                                             Qt::QueuedConnection);
                            QTimer::singleShot(Deadline, &loop, &QEventLoop::quit);
                            loop.exec();
                        },
                        {.connection = Qt::DirectConnection});
    const auto post = [&](qint64 seq) {
        return roInvoke(QStringLiteral("orders"), 0, 1,
                        roArguments({QVariant(postFrame(
                            {{keyOf(secret), rio::detail::encodeRemoteEvent(Payload{seq, "x"})}}))}));
    };
    raw->write(roAcquire(QStringLiteral("orders")) +
               roInvoke(QStringLiteral("orders"), 1, 1, roArguments({QVariant(secret)})) + post(1) + post(2) +
               roPing(QStringLiteral("orders")));
    QTRY_VERIFY_WITH_TIMEOUT(!isOpen(raw.get()), Deadline);
    QVERIFY(listener.isNull());
    QCOMPARE(handled, (QList<qint64>{1}));
}

// A peer that sends its packets one byte per write (each in its own segment, or TLS record), then
// a valid post and a refused packet in one write: each packet is screened whole, the valid ones
// are delivered in order, and the refused one drops the peer without being read.
void tst_RemoteHostile::packetsAreScreenedWholeHoweverTheyAreSplit_data()
{
    QTest::addColumn<QString>("url");
    QTest::newRow("local") << uniqueLocalUrl();
    QTest::newRow("tcp") << QStringLiteral("tcp://127.0.0.1:0");
    QTest::newRow("tls") << QStringLiteral("tls://127.0.0.1:0");
}

void tst_RemoteHostile::packetsAreScreenedWholeHoweverTheyAreSplit()
{
    QFETCH(QString, url);
    TestCertificates certs;
    QVERIFY2(certs.error().isEmpty(), qPrintable(certs.error()));
    LocalSource source(url, {}, certs.sourceConfiguration());
    QVERIFY(source.share);
    QSignalSpy rejected(source.listener, &rio::RemoteListener::peerRejected);
    QList<qint64> atSource;
    source.registry.add(this, [&](const Payload &p) { atSource.append(p.seq); });
    const std::unique_ptr<QIODevice> raw =
        rawConnection(source.address(), certs.path(QStringLiteral("a-ca.crt")));
    QVERIFY(raw);
    if (auto *tcp = qobject_cast<QAbstractSocket *>(raw.get()))
        tcp->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    const QByteArray secret = secretFor(7);
    const auto post = [&](qint64 seq) {
        return roInvoke(QStringLiteral("orders"), 0, 1,
                        roArguments({QVariant(postFrame(
                            {{keyOf(secret), rio::detail::encodeRemoteEvent(Payload{seq, "x"})}}))}));
    };
    const QByteArray bytes = roAcquire(QStringLiteral("orders")) +
                             roInvoke(QStringLiteral("orders"), 1, 1, roArguments({QVariant(secret)})) +
                             post(1);
    for (const char byte : bytes) {
        raw->write(&byte, 1);
        QVERIFY(raw->waitForBytesWritten(Deadline));
        QCoreApplication::processEvents(); // the source reads what arrived
    }
    QTRY_COMPARE_WITH_TIMEOUT(atSource, (QList<qint64>{1}), Deadline);
    QCOMPARE(rejected.size(), 0);
    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression("sent a packet of type 12849, which a source does not read"));
    raw->write(post(2) + QByteArray::fromHex("0a000000") + QByteArray("1234567890"));
    QTRY_COMPARE_WITH_TIMEOUT(rejected.size(), 1, Deadline);
    QTRY_VERIFY_WITH_TIMEOUT(!isOpen(raw.get()), Deadline);
    QCOMPARE(atSource, (QList<qint64>{1, 2}));
}

void tst_RemoteHostile::localSocketIsReachableByItsUserOnly()
{
    QRemoteObjectHost host;
    rio::RemoteListener listener(&host);
    const QString url = uniqueLocalUrl();
    QVERIFY2(listener.listen(QUrl(url)), qPrintable(listener.errorString()));
    QLocalSocket probe;
    probe.connectToServer(QUrl(url).path());
    QVERIFY(probe.waitForConnected(Deadline));
    const QString path = probe.fullServerName();
    struct stat st{};
    QCOMPARE(::stat(QFile::encodeName(path).constData(), &st), 0);
    QCOMPARE(st.st_mode & (S_IRWXG | S_IRWXO), mode_t(0));
}

// listen() replaces the socket file of a dead server, never a live one.
void tst_RemoteHostile::liveLocalServerIsNotReplaced()
{
    const QString url = uniqueLocalUrl();
    QRemoteObjectHost host;
    rio::RemoteListener first(&host);
    QVERIFY(first.listen(QUrl(url)));
    QRemoteObjectHost other;
    rio::RemoteListener second(&other);
    QVERIFY(!second.listen(QUrl(url)));
    QVERIFY(second.errorString().contains(QLatin1String("in use")));
}

// A peer that sends Pings and never reads the answers, over local:, TCP and TLS (handshake done,
// then silent on its read side), is dropped once its connection has more than maxQueuedBytes
// waiting, with one warning naming it; the subscriber beside it keeps its connection.
void tst_RemoteHostile::peerThatNeverReadsIsDropped_data()
{
    QTest::addColumn<QString>("url");
    QTest::newRow("local") << uniqueLocalUrl();
    QTest::newRow("tcp") << QStringLiteral("tcp://127.0.0.1:0");
    QTest::newRow("tls") << QStringLiteral("tls://127.0.0.1:0");
}

void tst_RemoteHostile::peerThatNeverReadsIsDropped()
{
    QFETCH(QString, url);
    const bool tls = url.startsWith(QLatin1String("tls"));
    std::optional<TestCertificates> certs;
    constexpr qint64 MaxQueued = qint64(2) << 20;
    QStringList args{QStringLiteral("--max-queued"), QString::number(MaxQueued)};
    if (tls) {
        certs.emplace();
        QVERIFY2(certs->error().isEmpty(), qPrintable(certs->error()));
        args += certs->args(QStringLiteral("server"), QString());
    }
    auto [source, address] = startSource(url, args, true);
    QVERIFY(!address.isEmpty());
    auto good = startSubscriber(address, tls ? certs->args(QString(), QStringLiteral("a")) : QStringList());
    QVERIFY(good->waitLine("state connected"));
    const qsizetype linesBefore = source->lineCount();

    auto attacker = rawConnection(address, tls ? certs->path(QStringLiteral("a-ca.crt")) : QString());
    QVERIFY(attacker);
    // It reads 64 KiB at most, then the kernel's buffers fill and the source's writes wait.
    if (auto *local = qobject_cast<QLocalSocket *>(attacker.get()))
        local->setReadBufferSize(65536);
    else if (auto *tcp = qobject_cast<QAbstractSocket *>(attacker.get()))
        tcp->setReadBufferSize(65536);
    const QByteArray ping = roPing(QString(16384, QLatin1Char('p'))); // 32 KiB answered by 32 KiB
    // At most 16 MiB of Pings, eight times the limit, each written once the one before left.
    for (int i = 0; i < 512 && isOpen(attacker.get()); ++i) {
        attacker->write(ping);
        QVERIFY(QTest::qWaitFor([&] { return attacker->bytesToWrite() == 0 || !isOpen(attacker.get()); },
                                Deadline));
    }
    QTRY_VERIFY_WITH_TIMEOUT(!isOpen(attacker.get()), Deadline);
    QVERIFY(source->waitStats([](const auto &s) { return s.value("rejected") == 1; }));
    qsizetype warnings = 0;
    const QList<QByteArray> lines = source->lines("");
    for (qsizetype i = linesBefore; i < lines.size(); ++i)
        warnings += lines.at(i).contains("does not read what it is sent") ? 1 : 0;
    QCOMPARE(warnings, 1);
    source->send("notify 1 1");
    QVERIFY(good->waitLine("event 0 1"));
    QCOMPARE(good->lines("state ").size(), 1); // never lost its connection
}

// Connections that each sent one packet near maxPacketBytes (a Ping of about 1 MB, answered by a
// Pong as large, read) and stay open, idle: an idle connection is never dropped, so what the source
// keeps for each once its packet was read must not be that packet's room (no budget counts it).
void tst_RemoteHostile::idleConnectionsHoldNoneOfTheirLargePackets_data()
{
    addTransportRows(); // over TLS, Qt's socket keeps room of its own (docs/REMOTE.md)
}

void tst_RemoteHostile::idleConnectionsHoldNoneOfTheirLargePackets()
{
#ifdef RIO_REMOTE_ASAN
    QSKIP("under AddressSanitizer the allocator is not glibc's: mallinfo2() says nothing");
#endif
    QFETCH(QString, url);
    auto [source, started] = startSource(url, {}, true);
    const QString address = started; // (a lambda below takes it)
    QVERIFY(!address.isEmpty());
    constexpr int Connections = 16;
    const QByteArray ping = roPing(QString(500000, QLatin1Char('p')));
    std::vector<std::unique_ptr<QIODevice>> idle;
    const auto open = [&](const QByteArray &packet) {
        auto socket = rawConnection(address);
        if (!socket)
            return false;
        socket->write(packet);
        qint64 answered = 0; // its Pong, as large as its Ping, read whole
        const bool read = QTest::qWaitFor(
            [&] {
                answered += socket->readAll().size();
                return answered >= packet.size() || !isOpen(socket.get());
            },
            Deadline);
        idle.push_back(std::move(socket));
        return read && isOpen(idle.back().get());
    };
    QVERIFY(open(roPing(QStringLiteral("warm-up"))));
    const qint64 heapBefore = source->stats().value("heap");
    QVERIFY(heapBefore >= 0);
    for (int i = 0; i < Connections; ++i)
        QVERIFY(open(ping));
    const auto stats = source->stats();
    QCOMPARE(stats.value("connections"), qint64(Connections + 1));
    // About 100 KiB of state per connection, not the 2 MiB a kept packet's room would add.
    QCOMPARE_LT(stats.value("heap") - heapBefore, qint64(Connections) * 512);
}

QTEST_GUILESS_MAIN(tst_RemoteHostile)
#include "tst_remote_hostile.moc"
