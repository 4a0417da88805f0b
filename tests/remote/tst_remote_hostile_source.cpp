// SPDX-License-Identifier: MIT
// A subscriber connected to a hostile source: a source in this process that speaks Qt Remote
// Objects by hand (remote_raw_source.h), over local:, TCP and TLS, answers a RemoteRegistry as a
// share does, then sends what Qt Remote Objects' node would decode unsafely, or hold without
// bound. Each such reply drops the source with one warning, the subscriber says it is not
// connected, and it connects again, to be served, once the source behaves.
#include "remote_raw_source.h"
#include "tst_remote_common.h"

#include <registryio/remote/remote_tls.h>

#include <QEventLoop>
#include <QRectF>

#include <bit>

namespace {

// One reply a subscriber refuses: what the source sends once the subscriber is connected (or, with
// `definition`, in place of its channel's definition), and the warning that drops it.
struct Reply
{
    const char *name;
    const char *warning;
    std::function<QByteArray(const QString &channel)> bytes;
    bool definition = false;
};

// A channel's definition with `change` made to it (in place of the signals onward, or of all).
QByteArray definitionWith(const QString &channel, const std::function<void(QDataStream &)> &afterType)
{
    return raw::packet(QtRemoteObjects::InitDynamicPacket, channel, [&](QDataStream &out) {
        out << QStringLiteral("rio::detail::RemoteChannel");
        afterType(out);
    });
}

const QList<Reply> &replies()
{
    const auto bits = [](quint64 value) { return std::bit_cast<double>(value); };
    // Doubles whose bits are an address nothing maps and a size: what a slot would read as a
    // QByteArray's header.
    static const QRectF forged(bits(0x0000100000001000), bits(0x0000100000001000), bits(64), bits(0));
    static const QList<Reply> all{
        {"an event that is a QRectF", "argument 0 is a value of type QRectF",
         [](const QString &ch) { return raw::emission(ch, 0, {QVariant(forged)}); }},
        {"an event signal without its argument", "with 0 values instead of 1",
         [](const QString &ch) { return raw::emission(ch, 0, {}); }},
        {"an event signal with two arguments", "with 2 values instead of 1",
         [](const QString &ch) { return raw::emission(ch, 0, {QByteArray("a"), QByteArray("b")}); }},
        {"a signal the channel does not have", "signal 1 of kind 0, which it did not define",
         [](const QString &ch) { return raw::emission(ch, 1, {QByteArray("a")}); }},
        {"a signal of the share, which has none", "signal 0 of kind 0, which it did not define",
         [](const QString &) { return raw::emission(QStringLiteral("orders"), 0, {QByteArray("a")}); }},
        {"a signal of an object the node did not acquire", "which this node did not acquire from it",
         [](const QString &) { return raw::emission(QStringLiteral("other"), 0, {QByteArray("a")}); }},
        {"a change of a property the channel does not have", "0, a property it did not define",
         [](const QString &ch) {
             return raw::packet(QtRemoteObjects::PropertyChangePacket, ch,
                                [](QDataStream &out) { out << qint32(0) << QVariant(QByteArray("x")); });
         }},
        {"a second definition of the channel", "the definition of .*, which this node did not ask for",
         [](const QString &ch) { return raw::channelDefinition(ch); }},
        {"values as for a static replica", "the values of .*, which this node did not ask for",
         [](const QString &ch) {
             return raw::packet(QtRemoteObjects::InitPacket, ch, [](QDataStream &out) { out << quint32(0); });
         }},
        {"an object list announcing 4294967294 objects", "announcing 4294967294 objects",
         [](const QString &) {
             return raw::framed(raw::body(QtRemoteObjects::ObjectList, nullptr,
                                          [](QDataStream &out) { out << quint32(0xfffffffe); }));
         }},
        {"objects whose names hold 10 MB", "a list of objects that would hold more than 8388608 bytes",
         [](const QString &) {
             QStringList names;
             for (int i = 0; i < 100; ++i)
                 names.append(QString(50000, QLatin1Char('a' + i % 26)) + QString::number(i));
             return raw::objectList(names);
         }},
        {"a packet announcing 1 GiB", "a packet of 1073741824 bytes \\(the limit is 67108864\\)",
         [](const QString &) { return QByteArray::fromHex("00000040") + QByteArray(65536, 'x'); }},
        {"a Ping, which only a source reads", "a packet of type 10, which a subscriber does not read",
         [](const QString &) { return raw::packet(QtRemoteObjects::Ping, QStringLiteral("orders")); }},
        {"a packet of an unknown type", "a packet of type 99, which a subscriber does not read",
         [](const QString &) { return raw::packet(99, QStringLiteral("orders")); }},
        {"a second handshake", "a second handshake", [](const QString &) { return raw::handshake(); }},
        {"a Pong with bytes more than it carries", "a packet of type 11 with 3 bytes more than it carries",
         [](const QString &) {
             return raw::packet(QtRemoteObjects::Pong, QStringLiteral("orders"),
                                [](QDataStream &out) { out.writeRawData("abc", 3); });
         }},
        {"a reply of containers nested 20 deep", "nested more than 16 deep",
         [](const QString &) {
             QVariant nested(QByteArray("x"));
             for (int i = 0; i < 20; ++i)
                 nested = QVariantList{nested};
             return raw::packet(QtRemoteObjects::InvokeReplyPacket, QStringLiteral("orders"),
                                [&](QDataStream &out) { out << qint32(1) << nested; });
         }},
        {"a reply of a type nobody registered", "a value of the unknown type RioNoSuchType",
         [](const QString &) {
             return raw::packet(
                 QtRemoteObjects::InvokeReplyPacket, QStringLiteral("orders"), [](QDataStream &out) {
                     out << qint32(1) << quint32(QMetaType::User) << qint8(0) << "RioNoSuchType" << forged;
                 });
         }},
        {"a reply for an object the node did not acquire",
         "a reply of \"nobody\" 1, which this node did not acquire",
         [](const QString &) {
             return raw::packet(QtRemoteObjects::InvokeReplyPacket, QStringLiteral("nobody"),
                                [](QDataStream &out) { out << qint32(1) << QVariant(QByteArray("x")); });
         }},
        {"a definition with an enumeration", "enumerations or gadget types",
         [](const QString &ch) {
             return definitionWith(ch, [](QDataStream &out) {
                 out << quint32(1) << QByteArray("Evil") << false << false << quint32(4) << quint32(0);
             });
         },
         true},
        {"a definition with a Qt enumeration", "enumerations or gadget types",
         [](const QString &ch) {
             return definitionWith(
                 ch, [](QDataStream &out) { out << quint32(0) << quint32(1) << QByteArray("Qt::Evil"); });
         },
         true},
        {"a definition with a gadget type", "enumerations or gadget types",
         [](const QString &ch) {
             return definitionWith(ch, [](QDataStream &out) {
                 out << quint32(0) << quint32(0) << quint32(1) << QByteArray("EvilGadget") << quint32(0)
                     << quint32(0);
             });
         },
         true},
        {"a definition whose signal takes a QRectF",
         "a signal delivered\\(QRectF\\) of a type no subscriber takes",
         [](const QString &ch) {
             return definitionWith(ch, [](QDataStream &out) {
                 out << quint32(0) << quint32(0) << quint32(0) << quint32(1)
                     << QByteArray("delivered(QRectF)") << QByteArrayList{""} << quint32(1)
                     << QByteArray("ready()") << QByteArray("void") << QByteArrayList() << quint32(0)
                     << quint32(0);
             });
         },
         true},
        {"a definition with a property of type QObject*", "a property of type QObject\\*",
         [](const QString &ch) {
             return definitionWith(ch, [](QDataStream &out) {
                 out << quint32(0) << quint32(0) << quint32(0) << quint32(0) << quint32(0) << quint32(1)
                     << QByteArray("child") << "QObject*" << QByteArray() << quint32(1)
                     << QVariant(QByteArray());
             });
         },
         true},
        {"a definition announcing 4294967295 signals", "a definition announcing 4294967295 signals",
         [](const QString &ch) {
             return definitionWith(ch, [](QDataStream &out) {
                 out << quint32(0) << quint32(0) << quint32(0) << quint32(0xffffffff);
             });
         },
         true},
        {"a definition of 300 signals", "a definition of 300 signals \\(at most 256\\)",
         [](const QString &ch) {
             return raw::packet(QtRemoteObjects::InitDynamicPacket, ch, [](QDataStream &out) {
                 QList<QByteArray> many;
                 for (int i = 0; i < 300; ++i)
                     many.append("s" + QByteArray::number(i) + "(QByteArray)");
                 raw::definition(out, QStringLiteral("rio::detail::RemoteChannel"), many, {"ready()"});
             });
         },
         true},
        {"a definition with values for properties it does not have", "with 1 values instead of 0",
         [](const QString &ch) {
             return definitionWith(ch, [](QDataStream &out) {
                 out << quint32(0) << quint32(0) << quint32(0) << quint32(1)
                     << QByteArray("delivered(QByteArray)") << QByteArrayList{""} << quint32(1)
                     << QByteArray("ready()") << QByteArray("void") << QByteArrayList() << quint32(0)
                     << quint32(1) << QVariant(QByteArray("x"));
             });
         },
         true},
    };
    return all;
}

// The transports: local:, TCP and TLS.
void addSchemeRows(const std::function<void(const QString &scheme, const QString &url)> &row)
{
    row(QStringLiteral("local"), uniqueLocalUrl());
    row(QStringLiteral("tcp"), QStringLiteral("tcp://127.0.0.1:0"));
    row(QStringLiteral("tls"), QStringLiteral("tls://127.0.0.1:0"));
}

// One set for the whole run (each costs a few openssl commands).
const TestCertificates &certificates()
{
    static const TestCertificates certs;
    return certs;
}

// A hand-written source and a RemoteRegistry subscribed to it, over `url`'s transport.
struct Scene
{
    const TestCertificates &certs = certificates();
    std::unique_ptr<raw::RawSource> source;
    QRemoteObjectNode node;
    std::unique_ptr<rio::RemoteRegistry<Payload>> subscriber;
    QList<qint64> events;
    QObject context;

    bool start(const QString &url)
    {
        if (!certs.error().isEmpty())
            return false;
        source = std::make_unique<raw::RawSource>(url, certs.sourceConfiguration());
        if (source->address().isEmpty())
            return false;
        QSslConfiguration tls = QSslConfiguration::defaultConfiguration();
        tls.setCaCertificates(QSslCertificate::fromPath(certs.path(QStringLiteral("a-ca.crt"))));
        rio::setRemoteTlsConfiguration(&node, tls);
        if (!rio::connectToSource(&node, QUrl(source->address())))
            return false;
        subscriber = std::make_unique<rio::RemoteRegistry<Payload>>(&node, QStringLiteral("orders"));
        subscriber->add(&context, [this](const Payload &p) { events.append(p.seq); });
        return true;
    }
    // The source emits event `seq` on the subscriber's channel (instance 7); true once it arrived.
    bool serves(qint64 seq)
    {
        source->write(raw::emission(
            source->channel(), 0,
            {raw::eventFrame(7, quint64(seq), rio::detail::encodeRemoteEvent(Payload{seq, "x"}))}));
        return QTest::qWaitFor([&] { return events.contains(seq); }, Deadline);
    }
    bool connected()
    {
        return QTest::qWaitFor(
            [&] { return subscriber->state() == rio::RemoteSubscriber::State::Connected && source->ready(); },
            Deadline);
    }
};

} // namespace

class tst_RemoteHostileSource : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void handWrittenSourceServesASubscriber_data();
    void handWrittenSourceServesASubscriber();
    void repliesThatBreakTheRulesDropTheSource_data();
    void repliesThatBreakTheRulesDropTheSource();
    void sourceRefusedTheSameWayIsWarnedAboutOnce_data();
    void sourceRefusedTheSameWayIsWarnedAboutOnce();
    void whatArrivesWhileTheNodeReadsWaitsInTheSocket_data();
    void whatArrivesWhileTheNodeReadsWaitsInTheSocket();
};

// The hand-written source is a share as far as a subscriber can tell: it connects and is served.
void tst_RemoteHostileSource::handWrittenSourceServesASubscriber_data()
{
    QTest::addColumn<QString>("url");
    addSchemeRows(
        [](const QString &scheme, const QString &url) { QTest::newRow(qPrintable(scheme)) << url; });
}

void tst_RemoteHostileSource::handWrittenSourceServesASubscriber()
{
    QFETCH(QString, url);
    Scene scene;
    QVERIFY(scene.start(url));
    QVERIFY(scene.connected());
    QVERIFY(scene.serves(1));
    QVERIFY(scene.serves(2));
    QCOMPARE(scene.events, (QList<qint64>{1, 2}));
    QCOMPARE(scene.source->connections(), 1);
}

// Each reply Qt Remote Objects' node would decode unsafely (a value of another type than the
// signal's parameter, which it would hand to the slot as that type; fewer or more arguments; a
// signal, property or object the source did not define; a definition asked for by nobody, or
// with enumerations and gadget types, which Qt Remote Objects registers in the process for good)
// or hold without bound (a count it reserves for, a packet or an object list past the limits)
// drops the source with one warning naming it and what it sent: the subscriber is not connected,
// the process lives, and the subscriber connects again and is served when the source behaves.
void tst_RemoteHostileSource::repliesThatBreakTheRulesDropTheSource_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<int>("reply");
    addSchemeRows([](const QString &scheme, const QString &url) {
        for (int i = 0; i < replies().size(); ++i)
            QTest::addRow("%s: %s", qPrintable(scheme), replies().at(i).name) << url << i;
    });
}

void tst_RemoteHostileSource::repliesThatBreakTheRulesDropTheSource()
{
    QFETCH(QString, url);
    QFETCH(int, reply);
    const Reply &hostile = replies().at(reply);
    Scene scene;
    QVERIFY(scene.start(url));
    QList<rio::RemoteSubscriber::State> states;
    connect(scene.subscriber->link(), &rio::RemoteSubscriber::stateChanged, this,
            [&](rio::RemoteSubscriber::State state) { states.append(state); });
    QTest::ignoreMessage(
        QtWarningMsg,
        QRegularExpression(QStringLiteral("^rio: the source at %1 sent .*%2.*; its connection is "
                                          "dropped$")
                               .arg(QRegularExpression::escape(scene.source->address()),
                                    QString::fromLatin1(hostile.warning))));
    if (hostile.definition) {
        scene.source->answerChannelWith(hostile.bytes);
    } else {
        QVERIFY(scene.connected());
        QVERIFY(scene.serves(1));
        scene.source->write(hostile.bytes(scene.source->channel()));
    }
    QTRY_VERIFY_WITH_TIMEOUT(scene.source->connections() >= 2, Deadline);
    // Served again once the source behaves; it said it was not connected meanwhile.
    QVERIFY(scene.connected());
    QVERIFY(scene.serves(2));
    using State = rio::RemoteSubscriber::State;
    const QList<State> expected = hostile.definition
                                      ? QList<State>{State::Connected}
                                      : QList<State>{State::Connected, State::Reconnecting, State::Connected};
    QCOMPARE(states, expected);
}

// A source that breaks the rules the same way on every connection is warned about once, however
// often the subscriber connects again; the subscriber stays not connected meanwhile.
void tst_RemoteHostileSource::sourceRefusedTheSameWayIsWarnedAboutOnce_data()
{
    handWrittenSourceServesASubscriber_data();
}

void tst_RemoteHostileSource::sourceRefusedTheSameWayIsWarnedAboutOnce()
{
    QFETCH(QString, url);
    Scene scene;
    QVERIFY(scene.start(url));
    const QRegularExpression warning(
        QStringLiteral("^rio: the source at .* sent .*; its connection is dropped$"));
    QTest::ignoreMessage(QtWarningMsg, warning);
    QTest::failOnWarning(warning);
    scene.source->answerChannelWith(
        [](const QString &channel) { return raw::emission(channel, 0, {QVariant(QRectF(1, 2, 3, 4))}); },
        true);
    QTRY_VERIFY_WITH_TIMEOUT(scene.source->connections() >= 4, Deadline);
    QVERIFY(scene.subscriber->state() != rio::RemoteSubscriber::State::Connected);
}

// While Qt Remote Objects' node reads (a handler of the subscriber spins an event loop), it reads
// nothing more (its read of the first packet holds its arguments): what the source sends waits in
// the subscriber's socket, which holds at most a chunk (1 MiB; over TLS, as much again of bytes
// not yet decrypted), and the node's device holds no more
// whole packets than it did, however much the source writes meanwhile. Then every event arrives,
// in order.
void tst_RemoteHostileSource::whatArrivesWhileTheNodeReadsWaitsInTheSocket_data()
{
    handWrittenSourceServesASubscriber_data();
}

void tst_RemoteHostileSource::whatArrivesWhileTheNodeReadsWaitsInTheSocket()
{
    QFETCH(QString, url);
    Scene scene;
    QVERIFY(scene.start(url));
    QVERIFY(scene.connected());
    constexpr int Events = 256; // of 64 KiB: 16 MiB
    QIODevice *pipe = nullptr;
    for (QIODevice *device : scene.node.findChildren<QIODevice *>(Qt::FindDirectChildrenOnly)) {
        if (device->findChild<QIODevice *>())
            pipe = device; // the device that owns the socket
    }
    QVERIFY(pipe);
    QIODevice *socket = pipe->findChild<QIODevice *>();
    qint64 heldMost = 0;
    qint64 socketMost = 0;
    qint64 encryptedMost = 0;
    bool nested = false;
    bool reentered = false;
    scene.subscriber->add(&scene.context, [&](const Payload &p) {
        if (p.seq != 1 || nested)
            return;
        nested = true;
        for (int seq = 2; seq <= Events; ++seq)
            scene.source->write(raw::emission(
                scene.source->channel(), 0,
                {raw::eventFrame(7, quint64(seq),
                                 rio::detail::encodeRemoteEvent(Payload{seq, QByteArray(65536, 'e')}))}));
        // Until the socket's buffer is full (what the pipe reads no more waits there), or the pipe
        // holds more than it may, or the node read on inside its own read.
        (void)QTest::qWaitFor(
            [&] {
                heldMost = std::max(heldMost, pipe->bytesAvailable());
                socketMost = std::max(socketMost, socket->bytesAvailable());
                // Over TLS, what the socket has not decrypted yet waits in a buffer of its own.
                const auto *tls = qobject_cast<QSslSocket *>(socket);
                encryptedMost = std::max(encryptedMost, tls ? tls->encryptedBytesAvailable() : 0);
                return std::max(socketMost, encryptedMost) >= (qint64(1) << 20) ||
                       heldMost > (qint64(4) << 20) || scene.events.size() > 1;
            },
            Deadline);
        reentered = scene.events.size() > 1;
    });
    QVERIFY(scene.serves(1));
    QVERIFY2(!reentered, "the node read the next packets inside its read of the first");
    QVERIFY2(heldMost <= (qint64(1) << 20) + 65536, qPrintable(QString::number(heldMost)));
    QVERIFY2(socketMost <= (qint64(1) << 20) && encryptedMost <= (qint64(1) << 20),
             qPrintable(QStringLiteral("%1 and %2 bytes").arg(socketMost).arg(encryptedMost)));
    QTRY_COMPARE_WITH_TIMEOUT(scene.events.size(), Events, Deadline);
    for (int i = 0; i < Events; ++i)
        QCOMPARE(scene.events.at(i), qint64(i + 1));
}

QTEST_GUILESS_MAIN(tst_RemoteHostileSource)
#include "tst_remote_hostile_source.moc"
