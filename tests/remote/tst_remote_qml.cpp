// SPDX-License-Identifier: MIT
// QML RemoteRegistry (import RegistryIO.Remote) against a real source process
// (rio_remote_variant_source, a QtRegistry<QVariant> shared as "orders" on a local: socket).
#include <registryio/remote/remote_qml_registry.h>

#include <QProcess>
#include <QQmlComponent>
#include <QQmlEngine>
#include <QRemoteObjectNode>
#include <QSignalSpy>
#include <QTest>

#include <memory>

namespace {

constexpr int Deadline = 30000; // ms

// The source process: its stdout lines and its commands.
class Source
{
public:
    explicit Source(const QString &url, const QStringList &extra = {})
    {
        m_process.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        QObject::connect(&m_process, &QProcess::readyReadStandardOutput, [this] {
            m_partial += m_process.readAllStandardOutput();
            qsizetype eol;
            while ((eol = m_partial.indexOf('\n')) >= 0) {
                m_lines.append(m_partial.left(eol));
                m_partial.remove(0, eol + 1);
            }
        });
        m_process.start(QStringLiteral(RIO_REMOTE_VARIANT_SOURCE), QStringList{url} + extra);
    }
    ~Source()
    {
        if (m_process.state() == QProcess::NotRunning)
            return;
        m_process.write("quit\n");
        if (!m_process.waitForFinished(10000)) {
            m_process.kill();
            m_process.waitForFinished(10000);
        }
    }
    Source(const Source &) = delete;
    Source &operator=(const Source &) = delete;

    void send(const QByteArray &command) { m_process.write(command + '\n'); }
    bool waitLine(const QByteArray &line)
    {
        return QTest::qWaitFor(
                   [&] { return m_lines.contains(line) || m_process.state() == QProcess::NotRunning; },
                   Deadline) &&
               m_lines.contains(line);
    }
    void kill()
    {
        m_process.kill();
        m_process.waitForFinished(Deadline);
    }

private:
    QProcess m_process;
    QByteArray m_partial;
    QList<QByteArray> m_lines;
};

QString uniqueLocalUrl()
{
    static int counter = 0;
    return QStringLiteral("local:rio-remote-qml-%1-%2")
        .arg(QCoreApplication::applicationPid())
        .arg(++counter);
}

const QByteArray Subscriber = R"(
import QtQml
import RegistryIO
import RegistryIO.Remote

RemoteRegistry {
    id: orders
    name: "orders"
    property var seen: []
    property var states: []
    onStateChanged: states.push(state === RemoteRegistry.Connected ? "connected"
                                : state === RemoteRegistry.Reconnecting ? "reconnecting" : "disconnected")
    Component.onCompleted: orders.add(function(e) { seen.push("js " + e.seq) }, 0)
    property RegistryHandler early: RegistryHandler {
        registry: orders
        priority: 10
        handler: function(e) { orders.seen.push("handler " + e.seq) }
    }
}
)";

// A subscriber whose handler moves it to `next` after the first event.
const QByteArray Mover = R"(
import QtQml
import RegistryIO
import RegistryIO.Remote

RemoteRegistry {
    id: orders
    name: "orders"
    property url next
    property var seen: []
    property RegistryHandler moving: RegistryHandler {
        registry: orders
        handler: function(e) {
            orders.seen.push("seen " + e.seq)
            if (orders.url !== orders.next)
                orders.url = orders.next
        }
    }
}
)";

} // namespace

class tst_RemoteQml : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { qputenv("QML_IMPORT_PATH", RIO_QML_IMPORT_PATH); }
    void handlersGetTheSourcesEventsInPriorityOrder();
    void notifyReachesTheSource();
    void stateFollowsTheSourceThroughAKill();
    void retainedEventComesFirstAcrossAKill();
    void subscribesThroughANodeGivenInQml();
    void unstreamableEventIsRefusedWithAWarning();
    void urlChangedInAHandlerMovesToTheOtherSource();

private:
    std::unique_ptr<QObject> create(QQmlEngine &engine, const QString &url)
    {
        engine.addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH));
        QQmlComponent component(&engine);
        component.setData(Subscriber, QUrl(QStringLiteral("qrc:/Subscriber.qml")));
        std::unique_ptr<QObject> object(
            component.createWithInitialProperties({{QStringLiteral("url"), QUrl(url)}}));
        if (!object)
            qWarning("%s", qPrintable(component.errorString()));
        return object;
    }
    static QStringList seen(QObject *o) { return o->property("seen").toStringList(); }
};

// A RemoteRegistry's add(fn) and RegistryHandler get the source's events, each in order, in
// priority order, and its state goes to Connected.
void tst_RemoteQml::handlersGetTheSourcesEventsInPriorityOrder()
{
    const QString url = uniqueLocalUrl();
    Source source(url);
    QVERIFY(source.waitLine("ready " + url.toUtf8()));
    QQmlEngine engine;
    auto orders = create(engine, url);
    QVERIFY(orders);
    QTRY_VERIFY_WITH_TIMEOUT(orders->property("connected").toBool(), Deadline);
    QCOMPARE(orders->property("state").toInt(), int(rio::RemoteQmlRegistry::Connected));
    source.send("notify 1 20");
    QTRY_COMPARE_WITH_TIMEOUT(seen(orders.get()).size(), 40, Deadline);
    QStringList expected;
    for (int seq = 1; seq <= 20; ++seq)
        expected << QStringLiteral("handler %1").arg(seq) << QStringLiteral("js %1").arg(seq);
    QCOMPARE(seen(orders.get()), expected);
}

// notify() in QML runs the local handlers once and reaches the source.
void tst_RemoteQml::notifyReachesTheSource()
{
    const QString url = uniqueLocalUrl();
    Source source(url);
    QVERIFY(source.waitLine("ready " + url.toUtf8()));
    QQmlEngine engine;
    auto orders = create(engine, url);
    QVERIFY(orders);
    QTRY_VERIFY_WITH_TIMEOUT(orders->property("connected").toBool(), Deadline);
    QVariantMap event{{QStringLiteral("seq"), 77}};
    QVERIFY(QMetaObject::invokeMethod(orders.get(), "notify", Q_ARG(QVariant, QVariant(event))));
    QVERIFY(source.waitLine("event 77"));
    QCOMPARE(seen(orders.get()), (QStringList{QStringLiteral("handler 77"), QStringLiteral("js 77")}));
}

// The state property follows the source: Connected, Reconnecting when it is killed, Connected
// again when it restarts on the same address, and the handlers keep working.
void tst_RemoteQml::stateFollowsTheSourceThroughAKill()
{
    const QString url = uniqueLocalUrl();
    auto source = std::make_unique<Source>(url);
    QVERIFY(source->waitLine("ready " + url.toUtf8()));
    QQmlEngine engine;
    auto orders = create(engine, url);
    QVERIFY(orders);
    QTRY_VERIFY_WITH_TIMEOUT(orders->property("connected").toBool(), Deadline);
    source->kill();
    QTRY_COMPARE_WITH_TIMEOUT(orders->property("state").toInt(), int(rio::RemoteQmlRegistry::Reconnecting),
                              Deadline);
    QVERIFY(!orders->property("connected").toBool());
    source = std::make_unique<Source>(url);
    QVERIFY(source->waitLine("ready " + url.toUtf8()));
    QTRY_VERIFY_WITH_TIMEOUT(orders->property("connected").toBool(), Deadline);
    source->send("notify 5 5");
    QTRY_COMPARE_WITH_TIMEOUT(seen(orders.get()),
                              (QStringList{QStringLiteral("handler 5"), QStringLiteral("js 5")}), Deadline);
    QCOMPARE(orders->property("states").toStringList(),
             (QStringList{QStringLiteral("connected"), QStringLiteral("reconnecting"),
                          QStringLiteral("connected")}));
}

// A share that retains its newest event: a QML RemoteRegistry that connects gets it first, and,
// after a kill -9 and a restart, the new source's newest event once (notified before the new
// source takes any connection, so it can arrive only as the retained event).
void tst_RemoteQml::retainedEventComesFirstAcrossAKill()
{
    const QString url = uniqueLocalUrl();
    auto source = std::make_unique<Source>(url, QStringList{QStringLiteral("--retain")});
    QVERIFY(source->waitLine("ready " + url.toUtf8()));
    source->send("notify 1 3");
    QVERIFY(source->waitLine("notified 3"));
    QQmlEngine engine;
    auto orders = create(engine, url);
    QVERIFY(orders);
    QTRY_COMPARE_WITH_TIMEOUT(seen(orders.get()),
                              (QStringList{QStringLiteral("handler 3"), QStringLiteral("js 3")}), Deadline);
    source->kill();
    QTRY_COMPARE_WITH_TIMEOUT(orders->property("state").toInt(), int(rio::RemoteQmlRegistry::Reconnecting),
                              Deadline);
    source = std::make_unique<Source>(
        url, QStringList{QStringLiteral("--retain"), QStringLiteral("--notify-first"), QStringLiteral("9")});
    QVERIFY(source->waitLine("notified 9"));
    QVERIFY(source->waitLine("ready " + url.toUtf8()));
    QTRY_VERIFY_WITH_TIMEOUT(orders->property("connected").toBool(), Deadline);
    source->send("notify 10 10");
    QTRY_COMPARE_WITH_TIMEOUT(seen(orders.get()).size(), 6, Deadline);
    QCOMPARE(seen(orders.get()),
             (QStringList{QStringLiteral("handler 3"), QStringLiteral("js 3"), QStringLiteral("handler 9"),
                          QStringLiteral("js 9"), QStringLiteral("handler 10"), QStringLiteral("js 10")}));
}

// `node:` takes a QtRemoteObjects Node declared in QML (connected with connectToNode).
void tst_RemoteQml::subscribesThroughANodeGivenInQml()
{
    const QString url = uniqueLocalUrl();
    Source source(url);
    QVERIFY(source.waitLine("ready " + url.toUtf8()));
    QQmlEngine engine;
    engine.addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH));
    QQmlComponent component(&engine);
    component.setData(QByteArray(R"(
import QtQml
import QtRemoteObjects
import RegistryIO.Remote
RemoteRegistry {
    id: orders
    property string address
    property int last: 0
    name: "orders"
    node: Node { Component.onCompleted: connectToNode(orders.address) }
    Component.onCompleted: add(function(e) { last = e.seq })
}
)"),
                      QUrl(QStringLiteral("qrc:/NodeSubscriber.qml")));
    std::unique_ptr<QObject> orders(
        component.createWithInitialProperties({{QStringLiteral("address"), url}}));
    QVERIFY2(orders, qPrintable(component.errorString()));
    QTRY_VERIFY_WITH_TIMEOUT(orders->property("connected").toBool(), Deadline);
    source.send("notify 1 3");
    QTRY_COMPARE_WITH_TIMEOUT(orders->property("last").toInt(), 3, Deadline);
}

// An event QDataStream cannot carry (a QObject: written without an error, unreadable) runs the
// local handlers, is not sent (the source would take it for malformed bytes and drop the
// connection) and says why; the link stays up.
void tst_RemoteQml::unstreamableEventIsRefusedWithAWarning()
{
    const QString url = uniqueLocalUrl();
    Source source(url);
    QVERIFY(source.waitLine("ready " + url.toUtf8()));
    QQmlEngine engine;
    auto orders = create(engine, url);
    QVERIFY(orders);
    QTRY_VERIFY_WITH_TIMEOUT(orders->property("connected").toBool(), Deadline);
    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression(QStringLiteral("QVariant::load: unable to load type")));
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral(
                                           "RemoteRegistry: an event of type .* cannot cross processes")));
    QObject thing;
    QVERIFY(QMetaObject::invokeMethod(orders.get(), "notify", Q_ARG(QVariant, QVariant::fromValue(&thing))));
    // Still connected: the next event reaches the source.
    QVERIFY(QMetaObject::invokeMethod(orders.get(), "notify",
                                      Q_ARG(QVariant, QVariant(QVariantMap{{QStringLiteral("seq"), 8}}))));
    QVERIFY(source.waitLine("event 8"));
    QVERIFY(orders->property("connected").toBool());
}

// A handler may change its registry's url (or name): the registry's own node, inside whose read
// the handler runs, goes once that read is over, and the registry subscribes on the new source.
void tst_RemoteQml::urlChangedInAHandlerMovesToTheOtherSource()
{
    const QString first = uniqueLocalUrl();
    const QString second = uniqueLocalUrl();
    Source a(first);
    Source b(second);
    QVERIFY(a.waitLine("ready " + first.toUtf8()));
    QVERIFY(b.waitLine("ready " + second.toUtf8()));
    QQmlEngine engine;
    engine.addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH));
    QQmlComponent component(&engine);
    component.setData(Mover, QUrl(QStringLiteral("qrc:/Mover.qml")));
    std::unique_ptr<QObject> orders(component.createWithInitialProperties(
        {{QStringLiteral("url"), QUrl(first)}, {QStringLiteral("next"), QUrl(second)}}));
    QVERIFY2(orders, qPrintable(component.errorString()));
    QTRY_VERIFY_WITH_TIMEOUT(orders->property("connected").toBool(), Deadline);
    a.send("notify 1 1");
    QTRY_COMPARE_WITH_TIMEOUT(orders->property("url").toUrl(), QUrl(second), Deadline);
    QTRY_VERIFY_WITH_TIMEOUT(orders->property("connected").toBool(), Deadline);
    // Connected may come before the new source hears of the subscription: notified until seen.
    QVERIFY(QTest::qWaitFor(
        [&] {
            b.send("notify 5 5");
            return QTest::qWaitFor([&] { return seen(orders.get()).contains(QStringLiteral("seen 5")); },
                                   200);
        },
        Deadline));
    QCOMPARE(seen(orders.get()).first(), QStringLiteral("seen 1"));
}

QTEST_MAIN(tst_RemoteQml)
#include "tst_remote_qml.moc"
