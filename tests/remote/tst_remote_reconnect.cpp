// SPDX-License-Identifier: MIT
// A source or subscriber that dies, is killed mid-frame, or comes back: states, resubscription,
// counters, and channels that only their subscriber gets.
#include "tst_remote_common.h"

class tst_RemoteReconnect : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void transports_data() { addTransportRows(); }
    void killedSourceIsReportedAndResubscribed_data() { transports_data(); }
    void killedSourceIsReportedAndResubscribed();
    void sourceKilledMidFrameIsRejoinedEveryRound_data() { transports_data(); }
    void sourceKilledMidFrameIsRejoinedEveryRound();
    void reconnectionToARunningSourceCountsTheOutageAsGaps_data();
    void reconnectionToARunningSourceCountsTheOutageAsGaps();
    void killedSubscriberIsForgottenBySource();
    void restartedSourceGivesAChannelToItsSubscriberOnly();
};

// kill -9 of the source: the subscriber reports Reconnecting, keeps its handlers, counts what is
// notified meanwhile (delivered locally only), and resubscribes when the source is back.
void tst_RemoteReconnect::killedSourceIsReportedAndResubscribed()
{
    QFETCH(QString, url);
    auto [source, address] = startSource(url);
    QVERIFY(!address.isEmpty());
    QRemoteObjectNode node;
    QVERIFY(rio::connectToSource(&node, QUrl(address)));
    rio::RemoteRegistry<Payload> registry(&node, QStringLiteral("orders"));
    QList<qint64> got;
    registry.add(this, [&](const Payload &p) { got.append(p.seq); });
    const int handlers = registry.count();
    QSignalSpy states(registry.link(), &rio::RemoteSubscriber::stateChanged);
    QTRY_COMPARE_WITH_TIMEOUT(registry.state(), rio::RemoteSubscriber::State::Connected, Deadline);

    source->send("notify 1 1000");
    // Killed mid-flood: somewhere in the thousand events.
    QTRY_VERIFY_WITH_TIMEOUT(!got.isEmpty(), Deadline);
    source->process().kill();
    QVERIFY(source->process().waitForFinished(Deadline));
    QTRY_COMPARE_WITH_TIMEOUT(registry.state(), rio::RemoteSubscriber::State::Reconnecting, Deadline);
    QVERIFY(!states.isEmpty());
    QCOMPARE(states.last().at(0).value<rio::RemoteSubscriber::State>(),
             rio::RemoteSubscriber::State::Reconnecting);

    const qsizetype before = got.size();
    for (int i = 0; i < 5; ++i)
        registry.notify(Payload{-1 - i, {}});
    QCOMPARE(got.size(), before + 5); // local handlers still run
    QCOMPARE(registry.link()->droppedWhileDisconnected(), quint64(5));
    QCOMPARE(registry.count(), handlers);

    // The same address again (for tcp, the port the first one had).
    auto restarted = std::make_unique<Peer>(QStringList{QStringLiteral("source"), address});
    QVERIFY(restarted->waitLine("ready "));
    QTRY_COMPARE_WITH_TIMEOUT(registry.state(), rio::RemoteSubscriber::State::Connected, Deadline);
    got.clear();
    restarted->send("notify 2001 2010");
    QTRY_COMPARE_WITH_TIMEOUT(got.size(), 10, Deadline);
    QCOMPARE(got.first(), 2001);
    QCOMPARE(got.last(), 2010);
    // And this side's events reach the new source.
    registry.notify(Payload{3000, {}});
    QVERIFY(restarted->waitLine("event 0 3000"));
}

// kill -9 of the source while it writes frames of large events (so that the subscriber holds
// part of a Qt Remote Objects packet when the connection dies), then a new source on the same
// address: the subscriber reconnects every time, each time within the bound below of the new
// source's "ready", and gets the new source's events. Rounds: RIO_REMOTE_RECONNECT_ROUNDS
// (default 25 per transport: every round kills the source while it writes its frames, a reader
// that keeps a cut packet's size failed within the first 4 rounds over local:, and the 25 kill
// points are spread over the first dozen frames; longer runs set the variable); per-round bound:
// RIO_REMOTE_RECONNECT_DEADLINE_MS (default 5000 ms; Qt Remote Objects retries every 250 ms).
// Under the sanitizers every process runs several times slower and starts far slower, so there
// the defaults are 15 rounds and 10000 ms a round: a liveness check, not the timing one. The
// slowest reconnection is printed.
void tst_RemoteReconnect::sourceKilledMidFrameIsRejoinedEveryRound()
{
    QFETCH(QString, url);
    const int rounds = qEnvironmentVariableIsSet("RIO_REMOTE_RECONNECT_ROUNDS")
                           ? qEnvironmentVariableIntValue("RIO_REMOTE_RECONNECT_ROUNDS")
#ifdef RIO_REMOTE_SPAWN
                           : 15;
#else
                           : 25;
#endif
    const int deadline = qEnvironmentVariableIsSet("RIO_REMOTE_RECONNECT_DEADLINE_MS")
                             ? qEnvironmentVariableIntValue("RIO_REMOTE_RECONNECT_DEADLINE_MS")
#ifdef RIO_REMOTE_SPAWN
                             : 10000;
#else
                             : 5000;
#endif
    const QStringList sourceArgs{QStringLiteral("--quiet"), QStringLiteral("--capacity"),
                                 QStringLiteral("4000")};
    auto [source, address] = startSource(url, sourceArgs);
    QVERIFY(!address.isEmpty());
    QRemoteObjectNode node;
    QVERIFY(rio::connectToSource(&node, QUrl(address)));
    rio::RemoteRegistry<Payload> registry(&node, QStringLiteral("orders"));
    qint64 received = 0;
    qint64 firstSeq = 0;
    qint64 lastSeq = 0;
    qint64 killAt = 0;
    Peer *victim = nullptr;
    registry.add(this, [&](const Payload &event) {
        if (received == 0)
            firstSeq = event.seq;
        lastSeq = event.seq;
        // Killed from the handler, while the source is still writing: the frames after this one
        // are on their way, one of them cut short.
        if (++received == killAt && victim)
            victim->process().kill();
    });
    QTRY_COMPARE_WITH_TIMEOUT(registry.state(), rio::RemoteSubscriber::State::Connected, Deadline);

    qint64 slowest = 0;
    for (int round = 0; round < rounds; ++round) {
        // Connected says the subscriber acquired its channel; the source learns it from the
        // subscriber's ready() a moment later, and until then holds at most 1,024 events for it
        // (docs/REMOTE.md). One event arriving says the source sends to it.
        received = 0;
        source->send("notify 1 1 16");
        QTRY_VERIFY2_WITH_TIMEOUT(
            received == 1,
            qPrintable(QStringLiteral("round %1: the new source's first event did not arrive").arg(round)),
            Deadline);
        received = 0;
        killAt = 2 + (round * 997) % 1500; // somewhere in the first frames of 2 KiB events
        victim = source.get();
        // 8000 events of 2 KiB, at most 4000 waiting: about 8 MiB on the wire, in frames of
        // about 128 events.
        source->send("notify 2 8001 2048");
        // The event loop runs (the subscriber reads) until the handler has killed the source.
        QTRY_VERIFY2_WITH_TIMEOUT(
            source->process().state() == QProcess::NotRunning,
            qPrintable(QStringLiteral("round %1: the source was not killed (%2 events, seq %3..%4, "
                                      "%5 dropped by sources so far)")
                           .arg(round)
                           .arg(received)
                           .arg(firstSeq)
                           .arg(lastSeq)
                           .arg(registry.link()->droppedBySource())),
            Deadline);
        victim = nullptr;
        source.reset();
        QTRY_COMPARE_WITH_TIMEOUT(registry.state(), rio::RemoteSubscriber::State::Reconnecting, Deadline);

        source = std::make_unique<Peer>(QStringList{QStringLiteral("source"), address} + sourceArgs);
        QVERIFY(source->waitLine("ready "));
        QElapsedTimer back;
        back.start();
        QTRY_VERIFY2_WITH_TIMEOUT(
            registry.state() == rio::RemoteSubscriber::State::Connected,
            qPrintable(QStringLiteral("round %1: still not connected to the new source").arg(round)),
            deadline);
        // QTRY counts its polling steps, not the clock: the bound is checked on the clock too.
        const qint64 took = back.elapsed();
        QVERIFY2(took <= deadline,
                 qPrintable(QStringLiteral("round %1: reconnected in %2 ms (the bound is %3 ms)")
                                .arg(round)
                                .arg(took)
                                .arg(deadline)));
        slowest = std::max(slowest, took);
    }
    // The last source's events arrive.
    received = 0;
    source->send("notify 1 10 16");
    QTRY_COMPARE_WITH_TIMEOUT(received, 10, Deadline);
    qInfo("%d rounds; the slowest reconnection took %lld ms", rounds, qlonglong(slowest));
}

// The connection drops while the source keeps running, and the source notifies 5 events before
// the subscriber is back: the subscriber continues that source's sequence, so the 5 are a gap
// that droppedBySource() counts (with retainLatest, the newest of them arrives first and the 4
// before it are the gap).
void tst_RemoteReconnect::reconnectionToARunningSourceCountsTheOutageAsGaps_data()
{
    QTest::addColumn<bool>("retain");
    QTest::newRow("every") << false;
    QTest::newRow("retained") << true;
}

void tst_RemoteReconnect::reconnectionToARunningSourceCountsTheOutageAsGaps()
{
    QFETCH(bool, retain);
    LocalSource source(uniqueLocalUrl(), {.retainLatest = retain});
    QVERIFY(source.share && source.share->isShared());
    auto sub = startSubscriber(source.address());
    QVERIFY(sub->waitLine("state connected"));
    source.registry.notify(Payload{1, {}});
    QVERIFY(sub->waitLine("event 0 1"));

    // The source drops the connection (a local: one is a QTcpSocket on its descriptor on Unix)
    // and, before its event loop runs again (so before it can take the subscriber's next
    // connection), notifies 2..6.
    const auto sockets = source.listener->findChildren<QAbstractSocket *>(Qt::FindDirectChildrenOnly);
    QCOMPARE(sockets.size(), 1);
    const qsizetype from = sub->lineCount();
    sockets.front()->abort();
    for (qint64 seq = 2; seq <= 6; ++seq)
        source.registry.notify(Payload{seq, {}});
    QVERIFY(sub->waitLine("state reconnecting", from));
    QVERIFY(sub->waitLine("state connected", from));
    source.registry.notify(Payload{7, {}});
    QVERIFY(sub->waitLine("event 0 7"));
    const auto stats = sub->stats();
    QCOMPARE(stats.value("droppedBySource"), retain ? 4 : 5);
    QCOMPARE(sub->lines("event "), retain ? (QList<QByteArray>{"event 0 1", "event 0 6", "event 0 7"})
                                          : (QList<QByteArray>{"event 0 1", "event 0 7"}));
}

// kill -9 of a subscriber mid-flood: the source forgets its connection at once (Qt Remote
// Objects 6.4 alone would keep writing to it) and the other subscribers go on.
void tst_RemoteReconnect::killedSubscriberIsForgottenBySource()
{
    LocalSource source(uniqueLocalUrl());
    QVERIFY(source.share);
    auto doomed = startSubscriber(source.address(), {QStringLiteral("--quiet")});
    auto survivor = startSubscriber(source.address(), {QStringLiteral("--quiet")});
    QVERIFY(doomed->waitLine("state connected"));
    QVERIFY(survivor->waitLine("state connected"));
    QTRY_COMPARE_WITH_TIMEOUT(source.listener->connectionCount(), 2, Deadline);

    for (qint64 seq = 1; seq <= 2000; ++seq)
        source.registry.notify(Payload{seq, QByteArray(64, 'x')});
    doomed->process().kill();
    QVERIFY(doomed->process().waitForFinished(Deadline));
    QTRY_COMPARE_WITH_TIMEOUT(source.listener->connectionCount(), 1, Deadline);
    for (qint64 seq = 2001; seq <= 3000; ++seq)
        source.registry.notify(Payload{seq, {}});
    QVERIFY(survivor->waitStats([](const auto &s) { return s.value("last") == 3000; }));
    QCOMPARE(survivor->stats().value("received"), 3000);
}

// A subscriber's channel is named by its key, which every connection sees; the subscriber proves
// the key with a secret that is never published. A peer that learned the name races the
// subscriber to a restarted source (the subscriber frozen meanwhile) and subscribes with
// everything the name tells: the key as a number, as bytes, as text. It gets channels of its own,
// not the subscriber's; the subscriber, back, gets its channel and the new source's events.
void tst_RemoteReconnect::restartedSourceGivesAChannelToItsSubscriberOnly()
{
    auto [source, address] = startSource(uniqueLocalUrl());
    QVERIFY(!address.isEmpty());
    auto victim = startSubscriber(address);
    QVERIFY(victim->waitLine("state connected"));
    QString channel;
    {
        QRemoteObjectNode spy;
        QVERIFY(rio::connectToSource(&spy, QUrl(address)));
        QTRY_VERIFY_WITH_TIMEOUT(!channelsOf(spy).isEmpty(), Deadline);
        channel = channelsOf(spy).first();
    }
    const quint64 key = channel.mid(7).toULongLong(nullptr, 16);
    QVERIFY(key != 0);

    victim->send("freeze");
    QVERIFY(victim->waitLine("frozen"));
    source->process().kill();
    QVERIFY(source->process().waitForFinished(Deadline));
    auto restarted = std::make_unique<Peer>(QStringList{QStringLiteral("source"), address});
    QVERIFY(restarted->waitLine("ready "));

    QRemoteObjectNode attackerNode;
    const auto attacker = rawReplica(attackerNode, address);
    QVERIFY(attacker);
    const QMetaObject *meta = attacker->metaObject();
    int claims = 0;
    for (int i = meta->methodOffset(); i < meta->methodCount(); ++i) {
        const QMetaMethod method = meta->method(i);
        if (method.name() != "subscribe" || method.parameterCount() != 1)
            continue;
        if (method.parameterType(0) == QMetaType::ULongLong) {
            claims += method.invoke(attacker.get(), Qt::DirectConnection, Q_ARG(qulonglong, key)) ? 1 : 0;
        } else if (method.parameterType(0) == QMetaType::QByteArray) {
            for (const QByteArray &secret :
                 {be64(key) + be64(key), QByteArray::number(key, 16).rightJustified(16, '0')})
                claims +=
                    method.invoke(attacker.get(), Qt::DirectConnection, Q_ARG(QByteArray, secret)) ? 1 : 0;
        }
    }
    QVERIFY(claims > 0);
    // Its subscriptions are made, their channels published, while the subscriber is still away.
    QTRY_COMPARE_WITH_TIMEOUT(channelsOf(attackerNode).size(), claims, Deadline);
    QVERIFY2(!channelsOf(attackerNode).contains(channel), qPrintable(channelsOf(attackerNode).join(u' ')));

    const qsizetype from = victim->lineCount();
    victim->send("thaw");
    QVERIFY(victim->waitLine("state connected", from));
    restarted->send("notify 1 1");
    QVERIFY(victim->waitLine("event 0 1", from));
    QTRY_VERIFY_WITH_TIMEOUT(channelsOf(attackerNode).contains(channel), Deadline);
    QCOMPARE(restarted->stats().value("rejected"), 0);
}

QTEST_GUILESS_MAIN(tst_RemoteReconnect)
#include "tst_remote_reconnect.moc"
