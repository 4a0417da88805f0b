// SPDX-License-Identifier: MIT
// Linking RegistryIO::Remote changes nothing in a process's plain Qt Remote Objects: in one
// process, a plain host and node over local: and tcp: talk through Qt's own transports beside a
// RegistryIO share and subscriber on the same kinds of address.
#include "remote_payload.h"

#include <registryio/qt/qt_registry.h>
#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_registry.h>
#include <registryio/remote/remote_share.h>

#include <QCoreApplication>
#include <QRemoteObjectDynamicReplica>
#include <QRemoteObjectHost>
#include <QRemoteObjectNode>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTest>
#include <QtRemoteObjects/qconnectionfactories.h>

#include <memory>

namespace {

constexpr int Deadline = 30000; // ms: the longest any single observation may take

QString uniqueLocalUrl()
{
    static int counter = 0;
    return QStringLiteral("local:rio-remote-schemes-%1-%2")
        .arg(QCoreApplication::applicationPid())
        .arg(++counter);
}

// A plain Qt Remote Objects source: one property, one signal.
class PlainSource : public QObject
{
    Q_OBJECT
    Q_PROPERTY(int value READ value CONSTANT)

public:
    [[nodiscard]] int value() const { return 42; }

Q_SIGNALS:
    void pinged(int n);
};

// The class of the connection Qt's client factory makes for `url` (and nothing when none).
QByteArray factoryClassFor(const QUrl &url)
{
    QObject parent;
    QtROClientIoDevice *device = QtROClientFactory::instance()->create(url, &parent);
    return device ? QByteArray(device->metaObject()->className()) : QByteArray();
}

} // namespace

class tst_remote_schemes : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void plainQtRemoteObjectsKeepsItsTransports_data();
    void plainQtRemoteObjectsKeepsItsTransports();
    void connectToSourceRefusesOtherUrls();
};

void tst_remote_schemes::plainQtRemoteObjectsKeepsItsTransports_data()
{
    QTest::addColumn<QString>("kind");
    QTest::newRow("local") << QStringLiteral("local");
    QTest::newRow("tcp") << QStringLiteral("tcp");
}

void tst_remote_schemes::plainQtRemoteObjectsKeepsItsTransports()
{
    QFETCH(QString, kind);
    const bool tcp = kind == QLatin1String("tcp");

    // RegistryIO::Remote at work in this process: a share and a subscriber over the same kind of
    // address, an event through.
    QRemoteObjectHost rioHost;
    auto *listener = new rio::RemoteListener(&rioHost);
    QVERIFY2(listener->listen(QUrl(tcp ? QStringLiteral("tcp://127.0.0.1:0") : uniqueLocalUrl())),
             qPrintable(listener->errorString()));
    rio::QtRegistry<Payload> registry;
    rio::RemoteShare<Payload> share(&rioHost, QStringLiteral("orders"), registry);
    QRemoteObjectNode rioNode;
    QVERIFY(rio::connectToSource(&rioNode, listener->address()));
    rio::RemoteRegistry<Payload> subscriber(&rioNode, QStringLiteral("orders"));
    QList<qint64> got;
    subscriber.add(this, [&](const Payload &p) { got.append(p.seq); });
    QTRY_VERIFY_WITH_TIMEOUT(share.base()->subscribers().value(0).receiving, Deadline);
    registry.notify(Payload{7, {}});
    QTRY_COMPARE_WITH_TIMEOUT(got, QList<qint64>{7}, Deadline);

    // Plain Qt Remote Objects beside it: Qt's own client classes for its own schemes.
    QUrl plainUrl(uniqueLocalUrl());
    if (tcp) {
        QTcpServer probe; // a free port for Qt's TCP server, which reports no port of its own
        QVERIFY(probe.listen(QHostAddress::LocalHost));
        plainUrl = QUrl(QStringLiteral("tcp://127.0.0.1:%1").arg(probe.serverPort()));
    }
    const QByteArray qtClass = tcp ? QByteArray("TcpClientIo") : QByteArray("LocalClientIo");
    QCOMPARE(factoryClassFor(plainUrl), qtClass);

    QRemoteObjectHost plainHost(plainUrl);
    PlainSource plain;
    QVERIFY(plainHost.enableRemoting(&plain, QStringLiteral("plain")));
    QRemoteObjectNode plainNode;
    QVERIFY(plainNode.connectToNode(plainUrl));
    const std::unique_ptr<QRemoteObjectDynamicReplica> replica(
        plainNode.acquireDynamic(QStringLiteral("plain")));
    QVERIFY(replica->waitForSource(Deadline));
    QCOMPARE(replica->property("value").toInt(), 42);
    const auto devices = plainNode.findChildren<QtROClientIoDevice *>();
    QCOMPARE(devices.size(), 1);
    QCOMPARE(QByteArray(devices.first()->metaObject()->className()), qtClass);

    // Both work at once, each through its own transport.
    QSignalSpy pinged(replica.get(), SIGNAL(pinged(int)));
    QVERIFY(pinged.isValid());
    Q_EMIT plain.pinged(5);
    QTRY_COMPARE_WITH_TIMEOUT(pinged.size(), 1, Deadline);
    QCOMPARE(pinged.first().first().toInt(), 5);
    registry.notify(Payload{8, {}});
    QTRY_COMPARE_WITH_TIMEOUT(got, (QList<qint64>{7, 8}), Deadline);
}

void tst_remote_schemes::connectToSourceRefusesOtherUrls()
{
    QRemoteObjectNode node;
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("no node")));
    QVERIFY(!rio::connectToSource(nullptr, QUrl(uniqueLocalUrl())));
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("unsupported URL")));
    QVERIFY(!rio::connectToSource(&node, QUrl(QStringLiteral("http://127.0.0.1:80"))));
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("needs a host and a port")));
    QVERIFY(!rio::connectToSource(&node, QUrl(QStringLiteral("tcp://127.0.0.1"))));
    QVERIFY(node.findChildren<QIODevice *>().isEmpty()); // nothing was started
}

QTEST_MAIN(tst_remote_schemes)
#include "tst_remote_schemes.moc"
