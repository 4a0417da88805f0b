// SPDX-License-Identifier: MIT
// libFuzzer target for what a hostile peer can send a source: the fuzzer's bytes are decoded into
// a sequence of Qt Remote Objects packets (every packet type, well-framed or with a size that
// lies, cut short or with bytes more; invocations of the share, a subscriber's channel,
// "Registry" and other names, with arguments of every type a QVariant can announce: the types a
// remoted method takes and others, by id and by name, null flags, containers nested past the
// screen's limit, lengths and counts at the limits) and unframed bytes, all written to one
// connection of a RemoteListener that serves a share, with a subscriber on another connection in
// this process, in one write or in pieces of any size. Properties: the source survives every sequence (ASan
// and UBSan watch it), the attacker's connection is closed or served, and the subscriber beside it receives
// the next event. With RIO_FUZZ_RECORD=<folder>, it first records what a real subscriber sends into seeds
// there.
#include "fuzz_choices.h"
#include <registryio/qt/qt_registry.h>
#include <registryio/remote/remote_connect.h>
#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_registry.h>
#include <registryio/remote/remote_share.h>

#include <QCoreApplication>
#include <QDataStream>
#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QLineF>
#include <QLocalServer>
#include <QLocalSocket>
#include <QRectF>
#include <QRemoteObjectHost>
#include <QRemoteObjectNode>
#include <QtEndian>
#include <QtRemoteObjects/qtremoteobjectglobal.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace {

[[noreturn]] void fail(const char *what)
{
    std::fprintf(stderr, "model mismatch: %s\n", what);
    std::abort();
}

// Runs the event loop until `done` or the deadline; false at the deadline.
template <typename Done>
bool pumpUntil(Done done, int ms = 20000)
{
    const QDeadlineTimer deadline(ms);
    while (!done()) {
        if (deadline.hasExpired())
            return false;
        QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
    }
    return true;
}

// Qt Remote Objects' stream settings on the wire.
void wireStream(QDataStream &out)
{
    out.setVersion(QDataStream::Qt_6_2);
    out.setByteOrder(QDataStream::LittleEndian);
}

// A length field as the fuzzer picks it for `actual` bytes or elements that follow: the real one,
// or one at or past the limits.
quint32 length(Choices &in, quint32 actual)
{
    switch (in.u8() % 10) {
    case 0:
        return 0xffffffffu; // null
    case 1:
        return 0xfffffffeu;
    case 2:
        return 0x7fffffffu;
    case 3:
        return actual + 1;
    case 4:
        return actual > 0 ? actual - 1 : 0;
    default:
        return actual;
    }
}

class Generator
{
public:
    Generator(Choices &in, QString channel) : m_in(in), m_channel(std::move(channel)) { }

    // One packet, or unframed bytes.
    QByteArray next()
    {
        const quint8 op = m_in.u8() % 11;
        if (op == 0) // unframed bytes: recorded sessions, garbage, a packet's start
            return m_in.bytes(m_in.u16() % 4096);
        QByteArray body;
        QDataStream out(&body, QIODevice::WriteOnly);
        wireStream(out);
        switch (op) {
        case 1:
            out << quint16(QtRemoteObjects::Ping);
            name(out);
            break;
        case 2:
            out << quint16(QtRemoteObjects::AddObject);
            name(out);
            out << quint8(m_in.u8() % 4 == 0 ? m_in.u8() : m_in.u8() % 2);
            break;
        case 3:
            out << quint16(QtRemoteObjects::RemoveObject);
            name(out);
            break;
        case 4: { // a type a source does not read, or none
            out << quint16(m_in.u8() % 14);
            name(out);
            const QByteArray more = m_in.bytes(m_in.u8() % 32);
            out.writeRawData(more.constData(), int(more.size()));
            break;
        }
        default:
            invocation(out);
            break;
        }
        // The frame: its size, true or lying, and the body whole, cut short or with bytes more.
        quint32 size = quint32(body.size());
        switch (m_in.u8() % 16) {
        case 0:
            size += m_in.u8() % 8;
            break;
        case 1:
            body.chop(std::min<qsizetype>(body.size(), 1 + m_in.u8() % 8));
            size = quint32(body.size());
            break;
        case 2:
            body += m_in.bytes(1 + m_in.u8() % 16);
            size = quint32(body.size());
            break;
        case 3:
            size = m_in.u32();
            break;
        default:
            break;
        }
        QByteArray packet(4, Qt::Uninitialized);
        qToLittleEndian(size, packet.data());
        return packet + body;
    }

private:
    void name(QDataStream &out)
    {
        switch (m_in.u8() % 9) {
        case 0:
        case 1:
            out << QStringLiteral("orders");
            break;
        case 2:
            out << m_channel;
            break;
        case 3:
            out << QStringLiteral("Registry");
            break;
        case 4:
            out << QString();
            break;
        case 5:
            out << quint32(3) << quint8('a') << quint8(0) << quint8('b'); // an odd length
            break;
        case 6:
            out << QString(300, QLatin1Char('n'));
            break;
        default: {
            const QByteArray text = m_in.bytes(m_in.u8() % 16);
            out << length(m_in, quint32(text.size()));
            out.writeRawData(text.constData(), int(text.size()));
        }
        }
    }

    void invocation(QDataStream &out)
    {
        out << quint16(QtRemoteObjects::InvokePacket);
        name(out);
        const quint8 call = m_in.u8() % 8;
        out << qint32(call < 5   ? QMetaObject::InvokeMetaMethod
                      : call < 7 ? QMetaObject::WriteProperty
                                 : call);
        out << qint32(m_in.u8() % 8 == 0 ? qint32(m_in.u32()) : qint32(m_in.u8() % 6) - 1);
        const quint32 count = m_in.u8() % 4;
        out << length(m_in, count);
        for (quint32 i = 0; i < count; ++i)
            variant(out, 0);
        out << qint32(m_in.u8() % 4 == 0 ? 7 : -1) << qint32(-1);
    }

    void bytes(QDataStream &out, bool utf16)
    {
        QByteArray data = m_in.bytes(m_in.u8() % 24);
        if (utf16 && data.size() % 2 != 0 && m_in.u8() % 2 == 0)
            data.chop(1);
        out << length(m_in, quint32(data.size()));
        out.writeRawData(data.constData(), int(data.size()));
    }

    void header(QDataStream &out, quint32 id)
    {
        out << id << qint8(m_in.u8() % 8 == 0 ? qint8(m_in.u8()) : 0);
    }

    // One QVariant as QDataStream streams it, of a type the fuzzer picks.
    void variant(QDataStream &out, int depth)
    {
        const quint8 type = m_in.u8() % 21;
        switch (type) {
        case 0:
            header(out, QMetaType::Bool);
            out << quint8(m_in.u8() % 2);
            break;
        case 1:
            header(out, QMetaType::Int);
            out << qint32(m_in.u32());
            break;
        case 2:
            header(out, QMetaType::ULongLong);
            out << quint64(m_in.u32()) << quint32(m_in.u32());
            break;
        case 3:
            header(out, QMetaType::Double);
            out << quint32(m_in.u32()) << quint32(m_in.u32());
            break;
        case 4:
            header(out, QMetaType::Float);
            out << quint32(m_in.u32()) << quint32(m_in.u32());
            break;
        case 5:
            header(out, QMetaType::QByteArray);
            bytes(out, false);
            break;
        case 6:
            header(out, QMetaType::QString);
            bytes(out, true);
            break;
        case 7:
            header(out, QMetaType::QUrl);
            bytes(out, false);
            break;
        case 8:
            header(out, QMetaType::QUuid);
            out.writeRawData(m_in.bytes(16).leftJustified(16, '\0').constData(), 16);
            break;
        case 9:
        case 10:
        case 11:
        case 12:
        case 13: { // containers: of QVariants, of strings and QVariants, of strings, of byte arrays
            static constexpr quint32 ids[] = {QMetaType::QVariantList, QMetaType::QVariantMap,
                                              QMetaType::QVariantHash, QMetaType::QStringList,
                                              QMetaType::QByteArrayList};
            header(out, ids[type - 9]);
            const quint32 n = depth < 20 ? m_in.u8() % 4 : 0;
            out << length(m_in, n);
            for (quint32 i = 0; i < n; ++i) {
                if (type == 10 || type == 11 || type == 12)
                    bytes(out, true);
                if (type == 13)
                    bytes(out, false);
                if (type <= 11)
                    variant(out, depth + 1);
            }
            break;
        }
        case 14: {
            header(out, QMetaType::QRectF);
            out << QRectF(m_in.u32(), m_in.u32(), m_in.u32(), m_in.u32());
            break;
        }
        case 15:
            header(out, QMetaType::QLineF);
            out << QLineF(m_in.u8(), m_in.u8(), m_in.u8(), m_in.u8());
            break;
        case 16:
            header(out, QMetaType::UnknownType); // invalid: nothing follows
            break;
        case 17: { // by name: a registered type, one nobody registered, an empty or unterminated name
            static const char *const names[] = {"QRemoteObjectSourceLocation", "QRectF", "QByteArray",
                                                "RioNoSuchType", ""};
            header(out, QMetaType::User);
            const char *chosen = names[m_in.u8() % 5];
            if (m_in.u8() % 4 == 0)
                out << quint32(qstrlen(chosen)) << QByteArray(chosen); // without the zero
            else
                out << chosen;
            if (qstrcmp(chosen, "QRemoteObjectSourceLocation") == 0) {
                bytes(out, true);
                bytes(out, true);
                bytes(out, false);
            } else {
                bytes(out, false);
            }
            break;
        }
        case 18: // any id
            header(out, m_in.u32());
            bytes(out, false);
            break;
        case 19:
            header(out, QMetaType::QChar);
            out << m_in.u16();
            break;
        default:
            header(out, QMetaType::LongLong);
            out << quint32(m_in.u32()) << quint32(m_in.u32());
            break;
        }
    }

    Choices &m_in;
    QString m_channel;
};

// The source, its subscriber beside the attacker, and the count of events the subscriber got.
struct World
{
    QString url;
    QRemoteObjectHost host;
    rio::RemoteListener *listener = nullptr;
    rio::QtRegistry<qint64> registry;
    std::unique_ptr<rio::RemoteShare<qint64>> share;
    QRemoteObjectNode node;
    std::unique_ptr<rio::RemoteRegistry<qint64>> subscriber;
    QObject context;
    qint64 last = 0;
    qint64 sent = 0;
    QString channel;
};
World *g_world = nullptr;

// What a real subscriber (RemoteRegistry) sends a source over its session, recorded through a relay:
// the seeds, as unframed-bytes choices (op 0 and a 16-bit length, then the bytes).
void record(const QString &folder)
{
    QLocalServer relay;
    const QString relayName = QStringLiteral("rio-fuzz-relay-%1").arg(QCoreApplication::applicationPid());
    QLocalServer::removeServer(relayName);
    if (!relay.listen(relayName))
        fail("the recording relay does not listen");
    QByteArray sent;
    QLocalSocket upstream;
    QObject::connect(&relay, &QLocalServer::newConnection, [&] {
        QLocalSocket *client = relay.nextPendingConnection();
        upstream.connectToServer(QUrl(g_world->url).path());
        upstream.waitForConnected(5000);
        QObject::connect(client, &QLocalSocket::readyRead, [&, client] {
            const QByteArray bytes = client->readAll();
            sent += bytes;
            upstream.write(bytes);
        });
        QObject::connect(&upstream, &QLocalSocket::readyRead,
                         [&, client] { client->write(upstream.readAll()); });
    });
    {
        QRemoteObjectNode node;
        rio::connectToSource(&node, QUrl(QStringLiteral("local:") + relayName));
        rio::RemoteRegistry<qint64> subscriber(&node, QStringLiteral("orders"));
        qint64 got = 0;
        subscriber.add(&g_world->context, [&](qint64 value) { got = value; });
        if (!pumpUntil([&] { return subscriber.state() == rio::RemoteSubscriber::State::Connected; }))
            fail("the recorded subscriber does not connect");
        subscriber.notify(-5); // a post
        g_world->registry.notify(-6);
        if (!pumpUntil([&] { return got == -6; }))
            fail("the recorded subscriber does not receive");
    }
    pumpUntil([&] { return g_world->listener->connectionCount() == 1; });
    // The whole session, and each packet alone.
    const auto seed = [&](const QString &name, const QByteArray &bytes) {
        QByteArray choices(1, '\0');
        choices += char(bytes.size() & 0xff);
        choices += char((bytes.size() >> 8) & 0xff);
        QFile file(folder + QLatin1Char('/') + name);
        if (!file.open(QIODevice::WriteOnly) || file.write(choices + bytes) != choices.size() + bytes.size())
            fail("a seed cannot be written");
    };
    seed(QStringLiteral("subscriber-session"), sent);
    int n = 0;
    for (qsizetype at = 0; at + 6 <= sent.size();) {
        const auto size = qsizetype(qFromLittleEndian<quint32>(sent.constData() + at));
        const quint16 type = qFromLittleEndian<quint16>(sent.constData() + at + 4);
        seed(QStringLiteral("subscriber-packet-%1-type-%2").arg(++n, 2, 10, QLatin1Char('0')).arg(type),
             sent.mid(at, 4 + size));
        at += 4 + size;
    }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static QCoreApplication app(*argc, *argv);
    // Every dropped peer is warned about; the fuzzer's output is its findings.
    qInstallMessageHandler([](QtMsgType type, const QMessageLogContext &, const QString &message) {
        if (type == QtFatalMsg) {
            std::fprintf(stderr, "%s\n", qPrintable(message));
            std::abort();
        }
    });
    g_world = new World;
    World &w = *g_world;
    w.url = QStringLiteral("local:rio-fuzz-wire-%1").arg(QCoreApplication::applicationPid());
    w.listener = new rio::RemoteListener(&w.host);
    if (!w.listener->listen(QUrl(w.url)))
        fail("the listener does not listen");
    w.share = std::make_unique<rio::RemoteShare<qint64>>(&w.host, QStringLiteral("orders"), w.registry);
    rio::connectToSource(&w.node, QUrl(w.url));
    w.subscriber = std::make_unique<rio::RemoteRegistry<qint64>>(&w.node, QStringLiteral("orders"));
    w.subscriber->add(&w.context, [](qint64 value) {
        if (value > 0)
            g_world->last = value;
    });
    if (!pumpUntil([&] { return w.subscriber->state() == rio::RemoteSubscriber::State::Connected; }))
        fail("the subscriber does not connect");
    pumpUntil([&] {
        const QStringList names = w.node.instances(QStringView()).filter(QStringLiteral("orders#"));
        if (!names.isEmpty())
            w.channel = names.first();
        return !w.channel.isEmpty();
    });
    if (const QByteArray folder = qgetenv("RIO_FUZZ_RECORD"); !folder.isEmpty())
        record(QString::fromLocal8Bit(folder));
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    World &w = *g_world;
    Choices in(data, size);
    Generator generate(in, w.channel);
    QByteArray stream;
    for (int i = 0; i < 64 && !in.empty(); ++i)
        stream += generate.next();
    // Written in one piece (0, and when the choices ran out) or in pieces of this many bytes (64
    // pieces at most), each read by the source before the next is written: packets split
    // anywhere reach its screen in parts.
    const quint8 piece = in.u8();
    const qsizetype step = piece == 0 ? stream.size() : std::max<qsizetype>(piece, (stream.size() + 63) / 64);

    {
        QLocalSocket attacker;
        attacker.connectToServer(QUrl(w.url).path());
        if (!pumpUntil([&] { return w.listener->connectionCount() == 2; }))
            fail("the attacker's connection is not accepted");
        for (qsizetype at = 0; at < stream.size() && attacker.state() == QLocalSocket::ConnectedState;
             at += step) {
            attacker.write(stream.mid(at, step));
            // Written whole, or dropped on the way.
            pumpUntil([&] {
                return attacker.bytesToWrite() == 0 || attacker.state() != QLocalSocket::ConnectedState;
            });
            QCoreApplication::processEvents(); // the source reads it
        }
        attacker.disconnectFromServer();
        if (!pumpUntil([&] { return w.listener->connectionCount() == 1; }))
            fail("the attacker's connection is not closed");
    }
    // The subscriber beside the attacker is still served.
    if (w.subscriber->state() != rio::RemoteSubscriber::State::Connected)
        fail("the subscriber lost its connection");
    w.registry.notify(++w.sent);
    if (!pumpUntil([&] { return w.last == w.sent; }))
        fail("the subscriber does not receive the next event");
    return 0;
}
