// SPDX-License-Identifier: MIT
// TLS: trusted and untrusted certificates on either side, failed handshakes, and the URL and
// configuration listen() needs.
#include "tst_remote_common.h"

class tst_RemoteTls : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void tlsSubscriberTrustingTheSourceReceivesEvents();
    void tlsSourceWithAnUntrustedCertificateIsRefused();
    void tlsSubscriberWithAForeignCertificateIsRefused();
    void tlsHandshakeFailureIsOneRejection();
    void tlsListenNeedsATlsUrlAndACertificate();
};

// Over TLS (a source that asks subscribers for a certificate from its CA), a subscriber whose
// certificate and trusted CA match gets the events both ways, in order.
void tst_RemoteTls::tlsSubscriberTrustingTheSourceReceivesEvents()
{
    const TestCertificates certs;
    QVERIFY2(certs.error().isEmpty(), qPrintable(certs.error()));
    auto [source, address] = startSource(QStringLiteral("tls://127.0.0.1:0"),
                                         certs.args(QStringLiteral("server"), QStringLiteral("a")));
    QVERIFY(address.startsWith(QLatin1String("tls://127.0.0.1:")));
    auto sub = startSubscriber(address, certs.args(QStringLiteral("client-a"), QStringLiteral("a")));
    QVERIFY(sub->waitLine("state connected"));
    source->send("notify 1 100");
    QVERIFY(sub->waitLine("event 0 100"));
    QList<QByteArray> expected;
    for (int seq = 1; seq <= 100; ++seq)
        expected << "event 0 " + QByteArray::number(seq);
    QCOMPARE(sub->lines("event "), expected);
    // And from the subscriber to the source.
    sub->send("notify 101 101");
    QVERIFY(source->waitLine("event 0 101"));
}

// A subscriber that does not trust the source's certificate (it trusts another CA) refuses the
// connection with a warning, never connects and gets no event, while a subscriber that trusts it
// gets all of them; neither process crashes.
void tst_RemoteTls::tlsSourceWithAnUntrustedCertificateIsRefused()
{
    const TestCertificates certs;
    QVERIFY2(certs.error().isEmpty(), qPrintable(certs.error()));
    auto [source, address] =
        startSource(QStringLiteral("tls://127.0.0.1:0"), certs.args(QStringLiteral("server"), QString()));
    QVERIFY(!address.isEmpty());
    auto wrong = startSubscriber(address, certs.args(QString(), QStringLiteral("b")), true);
    QVERIFY(
        wrong->waitLine("registryio.remote: rio: the TLS connection to " + address.toUtf8() + " is refused"));
    auto right = startSubscriber(address, certs.args(QString(), QStringLiteral("a")));
    QVERIFY(right->waitLine("state connected"));
    source->send("notify 1 50");
    QVERIFY(right->waitLine("event 0 50"));
    // The wrong one is still running, still refusing, and got nothing.
    const auto stats = wrong->stats();
    QCOMPARE(stats.value("received", -1), 0);
    QVERIFY(wrong->lines("state connected").isEmpty());
    QVERIFY(wrong->lines("event ").isEmpty());
    QCOMPARE(wrong->process().state(), QProcess::Running);
    QCOMPARE(source->process().state(), QProcess::Running);
}

// A source that asks for a certificate from its CA drops, with a warning, a subscriber whose
// certificate comes from another CA (even though it trusts the source); that subscriber gets no
// event and a good subscriber gets all of them.
void tst_RemoteTls::tlsSubscriberWithAForeignCertificateIsRefused()
{
    const TestCertificates certs;
    QVERIFY2(certs.error().isEmpty(), qPrintable(certs.error()));
    auto [source, address] = startSource(QStringLiteral("tls://127.0.0.1:0"),
                                         certs.args(QStringLiteral("server"), QStringLiteral("a")), true);
    QVERIFY(!address.isEmpty());
    const qsizetype before = source->lineCount();
    auto foreign = startSubscriber(address, certs.args(QStringLiteral("client-b"), QStringLiteral("a")));
    const auto refused = source->waitLine(
        "registryio.remote: rio::RemoteListener " + address.toUtf8() + ": the peer at 127.0.0.1:", before);
    QVERIFY(refused && refused->contains("failed the TLS handshake"));
    auto good = startSubscriber(address, certs.args(QStringLiteral("client-a"), QStringLiteral("a")));
    QVERIFY(good->waitLine("state connected"));
    source->send("notify 1 50");
    QVERIFY(good->waitLine("event 0 50"));
    QCOMPARE(foreign->stats().value("received", -1), 0);
    QVERIFY(foreign->lines("state connected").isEmpty());
    QCOMPARE(foreign->process().state(), QProcess::Running);
    QCOMPARE(source->process().state(), QProcess::Running);
}

// A peer whose certificate the source does not accept (it comes from another CA) fails the
// handshake on the source's side: verification errors, then the failure. That is one rejection:
// one warning, one peerRejected, a rejected count of 1.
void tst_RemoteTls::tlsHandshakeFailureIsOneRejection()
{
    const TestCertificates certs;
    QVERIFY2(certs.error().isEmpty(), qPrintable(certs.error()));
    auto [source, address] = startSource(QStringLiteral("tls://127.0.0.1:0"),
                                         certs.args(QStringLiteral("server"), QStringLiteral("a")), true);
    QVERIFY(!address.isEmpty());
    const qsizetype before = source->lineCount();
    QSslSocket foreign;
    QSslConfiguration configuration = QSslConfiguration::defaultConfiguration();
    configuration.setCaCertificates(QSslCertificate::fromPath(certs.path(QStringLiteral("a-ca.crt"))));
    QFile cert(certs.path(QStringLiteral("client-b.crt")));
    QFile key(certs.path(QStringLiteral("client-b.key")));
    QVERIFY(cert.open(QIODevice::ReadOnly) && key.open(QIODevice::ReadOnly));
    configuration.setLocalCertificate(QSslCertificate(cert.readAll(), QSsl::Pem));
    configuration.setPrivateKey(QSslKey(key.readAll(), QSsl::Ec, QSsl::Pem));
    foreign.setSslConfiguration(configuration);
    const QUrl at(address);
    foreign.connectToHostEncrypted(at.host(), quint16(at.port()));
    const auto refused = source->waitLine(
        "registryio.remote: rio::RemoteListener " + address.toUtf8() + ": the peer at 127.0.0.1:", before);
    QVERIFY(refused && refused->contains(" failed the TLS handshake and is dropped: "));
    QTRY_VERIFY_WITH_TIMEOUT(foreign.state() == QAbstractSocket::UnconnectedState, Deadline);
    const qsizetype answerFrom = source->lineCount();
    QCOMPARE(source->stats().value("rejected"), 1);
    qsizetype warnings = 0;
    const QList<QByteArray> lines = source->lines("");
    for (qsizetype i = before; i < answerFrom; ++i)
        warnings += lines.at(i).startsWith("registryio.remote:") ? 1 : 0;
    QCOMPARE(warnings, 1);
    QCOMPARE(source->stats().value("connections"), 0);
}

// listen() with TLS: a tls: URL needs a configuration with a certificate and key, and a
// configuration needs a tls: URL; each refusal says why and leaves the listener unused.
void tst_RemoteTls::tlsListenNeedsATlsUrlAndACertificate()
{
    QRemoteObjectHost host;
    rio::RemoteListener listener(&host);
    QVERIFY(!listener.listen(QUrl(QStringLiteral("tls://127.0.0.1:0"))));
    QVERIFY(listener.errorString().contains(QLatin1String("needs a configuration")));
    QVERIFY(!listener.listen(QUrl(QStringLiteral("tcp://127.0.0.1:0")), QSslConfiguration()));
    QVERIFY(listener.errorString().contains(QLatin1String("needs a tls: URL")));
    QVERIFY(!listener.listen(QUrl(QStringLiteral("tls://127.0.0.1:0")), QSslConfiguration()));
    QVERIFY(listener.errorString().contains(QLatin1String("no local certificate")));
    QVERIFY(host.hostUrl().isEmpty());
    QCOMPARE(listener.connectionCount(), 0);
    // Still free to listen.
    QVERIFY2(listener.listen(QUrl(QStringLiteral("tcp://127.0.0.1:0"))), qPrintable(listener.errorString()));
}

QTEST_GUILESS_MAIN(tst_RemoteTls)
#include "tst_remote_tls.moc"
