// SPDX-License-Identifier: MIT
// libFuzzer target for what a hostile source can send a subscriber: a source in this process that
// speaks Qt Remote Objects by hand (tests/remote/remote_raw_source.h) serves a real RemoteRegistry
// through connectToSource(), honestly up to a point the input picks (before the handshake, after
// the share's definition, once the subscriber is connected), then writes the sequence the
// fuzzer's bytes decode into: events and bursts of them, signals of any object with any index and
// arguments of every type a QVariant can announce, property changes, replies, object lists (long,
// repeated, lying counts), definitions by structure (enumerations, gadget types, signals and
// properties of any type, values true or not), values, handshakes, packets of any type, size
// headers that lie, unframed bytes, in pieces of any size. After every step, once the subscriber
// has read what was written: the bytes its connection holds are within its limits (none once
// refused), the objects its node lists within theirs, no type the source named is registered, a
// refused source leaves the subscriber not connected, and a subscriber still connected receives
// the next event. ASan and UBSan watch the subscriber.
#include "../remote/remote_raw_source.h"
#include "fuzz_choices.h"

#include <registryio/qt/qt_registry.h>
#include <registryio/remote/remote_codec.h>
#include <registryio/remote/remote_connect.h>
#include <registryio/remote/remote_registry.h>

#include "remote_transport_p.h" // ClientLink: what the subscriber's connection holds

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QRectF>
#include <QRemoteObjectNode>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace {

// The subscriber's limits (remote_transport.cpp).
constexpr qint64 MaxReplyBytes = qint64(64) << 20;
constexpr qint64 MaxListedBytes = qint64(8) << 20;
constexpr qint64 ReadChunk = qint64(1) << 20;

// The types a hostile definition names for registration; none may be registered, ever.
const char *const Registered[] = {"RioEvil::RioEvilEnum", "rio::detail::RemoteChannel::RioEvilEnum",
                                  "Qt::RioEvil", "RioEvilGadget"};

[[noreturn]] void fail(const char *what)
{
    std::fprintf(stderr, "model mismatch: %s\n", what);
    std::abort();
}

// Runs the event loop until `done` (without waiting for events: both ends are in this process,
// and what one writes the other reads a turn or two later), or the deadline: false then.
template <typename Done>
bool pumpUntil(Done done, int ms = 20000)
{
    const QDeadlineTimer deadline(ms);
    while (!done()) {
        if (deadline.hasExpired())
            return false;
        QCoreApplication::processEvents();
    }
    return true;
}

class Generator
{
public:
    Generator(Choices &in, QString channel) : m_in(in), m_channel(std::move(channel)) { }

    // A count of `actual` items as the fuzzer picks it: true, or at or past the limits.
    quint32 length(quint32 actual)
    {
        switch (m_in.u8() % 10) {
        case 0:
            return 0xffffffffu;
        case 1:
            return 0xfffffffeu;
        case 2:
            return actual + 1;
        case 3:
            return actual > 0 ? actual - 1 : 0;
        default:
            return actual;
        }
    }

    QString name()
    {
        switch (m_in.u8() % 7) {
        case 0:
        case 1:
        case 2:
            return m_channel;
        case 3:
            return QStringLiteral("orders");
        case 4:
            return QStringLiteral("other");
        case 5:
            return QString(20000 + m_in.u8(), QLatin1Char('n'));
        default:
            return QString::fromLatin1(m_in.bytes(m_in.u8() % 12));
        }
    }

    // A packet of `type` for an object: its body, framed with a size true or lying, whole, cut
    // short or with bytes more.
    QByteArray packet(quint16 type, const std::function<void(QDataStream &)> &write, bool named = true)
    {
        const QString object = named ? name() : QString();
        QByteArray body = raw::body(type, named ? &object : nullptr, write);
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
        QByteArray bytes(4, Qt::Uninitialized);
        qToLittleEndian(size, bytes.data());
        return bytes + body;
    }

    // One QVariant as QDataStream streams it, of a type the fuzzer picks.
    void variant(QDataStream &out, int depth = 0)
    {
        const auto header = [&](quint32 id) {
            out << id << qint8(m_in.u8() % 16 == 0 ? qint8(m_in.u8()) : 0);
        };
        const auto bytes = [&] {
            const QByteArray data = m_in.bytes(m_in.u8() % 24);
            out << length(quint32(data.size()));
            out.writeRawData(data.constData(), int(data.size()));
        };
        switch (const quint8 type = m_in.u8() % 16) {
        case 0:
        case 1:
        case 2: // the frame an event travels in, true or garbled
            header(QMetaType::QByteArray);
            out << (type == 0 ? raw::eventFrame(7, m_in.u8() + 1, rio::detail::encodeRemoteEvent(qint64(-1)))
                              : m_in.bytes(m_in.u8() % 64));
            break;
        case 3:
            header(QMetaType::QByteArray);
            bytes();
            break;
        case 4:
            header(QMetaType::QString);
            bytes();
            break;
        case 5:
            header(QMetaType::Int);
            out << qint32(m_in.u32());
            break;
        case 6:
        case 7:
        case 8: { // containers of QVariants, of strings and QVariants, of strings
            static constexpr quint32 ids[] = {QMetaType::QVariantList, QMetaType::QVariantMap,
                                              QMetaType::QStringList};
            header(ids[type - 6]);
            const quint32 n = depth < 20 ? m_in.u8() % 3 : 0;
            out << length(n);
            for (quint32 i = 0; i < n; ++i) {
                if (type != 6)
                    bytes();
                if (type != 8)
                    variant(out, depth + 1);
            }
            break;
        }
        case 9:
            header(QMetaType::QRectF);
            out << QRectF(m_in.u32(), m_in.u32(), m_in.u32(), m_in.u32());
            break;
        case 10:
            header(QMetaType::UnknownType);
            break;
        case 11: { // by name: registered or not, with or without the terminating zero
            static const char *const names[] = {"QByteArray", "QRectF", "RioNoSuchType",
                                                "QRemoteObjectPackets::QRO_", ""};
            header(QMetaType::User);
            const char *chosen = names[m_in.u8() % 5];
            if (m_in.u8() % 4 == 0)
                out << quint32(qstrlen(chosen)) << QByteArray(chosen);
            else
                out << chosen;
            bytes();
            break;
        }
        case 12:
            header(m_in.u32());
            bytes();
            break;
        case 13:
            header(QMetaType::QObjectStar);
            out << quint64(m_in.u32());
            break;
        default:
            header(QMetaType::ULongLong);
            out << quint64(m_in.u32());
            break;
        }
    }

    void values(QDataStream &out)
    {
        const quint32 n = m_in.u8() % 3;
        out << length(n);
        for (quint32 i = 0; i < n; ++i)
            variant(out);
    }

    // A class's definition by structure: enumerations, gadget types, signals, methods, properties.
    void definition(QDataStream &out)
    {
        static const char *const signatures[] = {"delivered(QByteArray)",
                                                 "delivered()",
                                                 "delivered(QRectF)",
                                                 "x(int,QString)",
                                                 "y(QVariant)",
                                                 "z(QObject*)",
                                                 "bad",
                                                 "(",
                                                 "m(QMap<QString,QVariant>,int)",
                                                 "ready()",
                                                 "post(QByteArray)"};
        static const char *const types[] = {"QByteArray", "int", "QObject*",   "QRectF",
                                            "QVariant",   "",    "RioEvilEnum"};
        out << (m_in.u8() % 2 ? QStringLiteral("RioEvil") : QStringLiteral("rio::detail::RemoteChannel"));
        const auto enumeration = [&] {
            out << QByteArray("RioEvilEnum") << bool(m_in.u8() % 2) << false << quint32(4) << length(1)
                << QByteArray("A") << qint32(1);
        };
        const quint32 enums = m_in.u8() % 8 == 0 ? 1 : 0;
        out << length(enums);
        for (quint32 i = 0; i < enums; ++i)
            enumeration();
        const quint32 qtEnums = m_in.u8() % 8 == 0 ? 1 : 0;
        out << length(qtEnums);
        for (quint32 i = 0; i < qtEnums; ++i)
            out << QByteArray("Qt::RioEvil");
        const quint32 gadgets = m_in.u8() % 8 == 0 ? 1 : 0;
        out << length(gadgets);
        for (quint32 i = 0; i < gadgets; ++i) {
            out << QByteArray("RioEvilGadget") << quint32(1) << QByteArray("p") << QByteArray("int")
                << quint32(1);
            enumeration();
        }
        for (int kind = 0; kind < 3; ++kind) { // signals, methods, properties
            const quint32 n = m_in.u8() % 4;
            out << length(n);
            for (quint32 i = 0; i < n; ++i) {
                if (kind == 2) {
                    const char *type = types[m_in.u8() % 7];
                    out << QByteArray("p")
                        << QByteArray(type, qsizetype(qstrlen(type)) + (m_in.u8() % 8 ? 1 : 0))
                        << QByteArray(m_in.u8() % 2 ? "" : "delivered(QByteArray)");
                    continue;
                }
                const QByteArray signature = signatures[m_in.u8() % 11];
                out << signature;
                if (kind == 1)
                    out << QByteArray(m_in.u8() % 2 ? "void" : "int");
                out << QByteArrayList(qsizetype(m_in.u8() % 3));
            }
        }
        values(out);
    }

    void invocation(QDataStream &out)
    {
        out << qint32(m_in.u8() % 8 == 0 ? m_in.u8() : QMetaObject::InvokeMetaMethod);
        out << qint32(m_in.u8() % 8 == 0 ? qint32(m_in.u32()) : qint32(m_in.u8() % 4) - 1);
        const quint32 n = m_in.u8() % 3;
        out << length(n);
        for (quint32 i = 0; i < n; ++i)
            variant(out);
        out << qint32(-1) << qint32(m_in.u8() % 4 == 0 ? qint32(m_in.u8() % 3) : -1);
    }

    QByteArray event(quint64 sequence)
    {
        return raw::emission(
            m_channel, 0, {raw::eventFrame(7, sequence, rio::detail::encodeRemoteEvent(qint64(sequence)))});
    }

    // One step: bytes to write.
    QByteArray next(quint64 &sequence)
    {
        switch (m_in.u8() % 15) {
        case 0:
            return m_in.bytes(m_in.u16() % 2048);
        case 1: // an event, as the share sends it
            return event(++sequence);
        case 2:
        case 3:
            return packet(QtRemoteObjects::InvokePacket, [&](QDataStream &out) { invocation(out); });
        case 4:
            return packet(QtRemoteObjects::PropertyChangePacket, [&](QDataStream &out) {
                out << qint32(qint32(m_in.u8() % 3) - 1);
                variant(out);
            });
        case 5:
            return packet(QtRemoteObjects::InvokeReplyPacket, [&](QDataStream &out) {
                out << qint32(m_in.u8());
                variant(out);
            });
        case 6:
            return packet(
                QtRemoteObjects::ObjectList,
                [&](QDataStream &out) {
                    const quint32 n = m_in.u8() % 4;
                    out << length(n);
                    for (quint32 i = 0; i < n; ++i)
                        out << name() << QString() << m_in.bytes(m_in.u8() % 8);
                },
                false);
        case 7:
            return packet(QtRemoteObjects::RemoveObject, {});
        case 8:
            return packet(QtRemoteObjects::Pong, {});
        case 9:
            return packet(QtRemoteObjects::InitDynamicPacket, [&](QDataStream &out) { definition(out); });
        case 10:
            return packet(QtRemoteObjects::InitPacket, [&](QDataStream &out) { values(out); });
        case 11:
            return packet(QtRemoteObjects::Handshake, {}); // a name, not always the version
        case 12:
            return packet(m_in.u8() % 16, [&](QDataStream &out) {
                const QByteArray more = m_in.bytes(m_in.u8() % 16);
                out.writeRawData(more.constData(), int(more.size()));
            });
        case 13: { // a size header that lies, and bytes
            QByteArray bytes(4, Qt::Uninitialized);
            qToLittleEndian(m_in.u8() % 2 ? m_in.u32() : quint32(MaxReplyBytes + m_in.u8() - 128),
                            bytes.data());
            return bytes + QByteArray(qsizetype(m_in.u8()) * 1024, 'x');
        }
        default: { // a burst of events of up to 48 KiB
            QByteArray burst;
            const int events = 1 + m_in.u8() % 64;
            const qsizetype size = qsizetype(m_in.u8() % 4) * 16384;
            for (int i = 0; i < events; ++i)
                burst += event(++sequence);
            return burst +
                   raw::emission(m_channel, 0, {raw::eventFrame(7, ++sequence, QByteArray(size, 'b'))});
        }
        }
    }

private:
    Choices &m_in;
    QString m_channel;
};

struct World
{
    QString url;
    std::unique_ptr<raw::RawSource> source;
};
World *g_world = nullptr;

// What the subscriber's connection holds, and the objects its node lists, within their limits;
// no type the source named registered.
void checkBounds(QRemoteObjectNode &node, const rio::detail::ClientLink *link, bool refused)
{
    if (link->held < 0 || link->held > MaxReplyBytes + ReadChunk)
        fail("the subscriber's connection holds more than its limits");
    if (refused && link->held != 0)
        fail("a refused connection still holds bytes");
    qint64 listed = 0;
    for (const QString &name : node.instances(QStringView()))
        listed += 2 * name.size();
    if (listed > MaxListedBytes)
        fail("the node lists more than its limit");
    for (const char *name : Registered) {
        if (QMetaType::fromName(name).isValid())
            fail("a type a source named is registered");
    }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static QCoreApplication app(*argc, *argv);
    // Every refused source is warned about; the fuzzer's output is its findings.
    qInstallMessageHandler([](QtMsgType type, const QMessageLogContext &, const QString &message) {
        if (type == QtFatalMsg) {
            std::fprintf(stderr, "%s\n", qPrintable(message));
            std::abort();
        }
    });
    g_world = new World;
    g_world->url = QStringLiteral("local:rio-fuzz-replies-%1").arg(QCoreApplication::applicationPid());
    g_world->source = std::make_unique<raw::RawSource>(g_world->url);
    if (g_world->source->address().isEmpty())
        fail("the source does not listen");
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    World &w = *g_world;
    Choices in(data, size);
    raw::RawSource &source = *w.source;
    // Honest up to: 0, nothing (the input's bytes come first); 1, the share's definition; else the
    // subscriber connected.
    const quint8 phase = in.u8() % 4;
    source.setHonest(phase != 0);
    const int before = source.connections();
    auto node = std::make_unique<QRemoteObjectNode>();
    rio::connectToSource(node.get(), QUrl(w.url));
    auto subscriber = std::make_unique<rio::RemoteRegistry<qint64>>(node.get(), QStringLiteral("orders"));
    qint64 last = 0;
    int spins = 0; // the subscriber's next event spins the event loop this many turns (the node reads)
    QObject context;
    subscriber->add(&context, [&](qint64 value) {
        last = value;
        for (; spins > 0; --spins)
            QCoreApplication::processEvents();
    });
    const auto *link = node->findChild<rio::detail::ClientLink *>();
    if (!link || !pumpUntil([&] { return source.connections() > before && source.isOpen(); }))
        fail("the subscriber does not connect to the source");
    if (phase == 1 && !pumpUntil([&] {
            return std::any_of(
                source.received().cbegin(), source.received().cend(),
                [](const raw::NodePacket &p) { return p.type == QtRemoteObjects::InvokePacket; });
        }))
        fail("the subscriber does not subscribe");
    if (phase > 1 && !pumpUntil([&] {
            return subscriber->state() == rio::RemoteSubscriber::State::Connected && source.ready();
        }))
        fail("the subscriber is not served");
    source.setHonest(false);

    Generator generate(in, source.channel().isEmpty() ? QStringLiteral("orders#0") : source.channel());
    quint64 sequence = 0;
    qint64 written = qint64(link->received);
    const qint64 start = written;
    for (int step = 0; step < 256 && !in.empty() && source.isOpen() && written - start < (qint64(32) << 20);
         ++step) {
        spins = in.u8() % 8 == 0 ? 1 + in.u8() % 4 : 0;
        const QByteArray bytes = generate.next(sequence);
        // In one piece, or in pieces of 1 to 255 bytes (64 pieces at most), each read before the
        // next is written.
        const qsizetype piece =
            in.u8() % 8 == 1 ? std::max<qsizetype>({1, in.u8(), (bytes.size() + 63) / 64}) : bytes.size();
        for (qsizetype at = 0; at < bytes.size() && source.isOpen(); at += piece) {
            source.write(bytes.mid(at, piece));
            written += std::min(piece, bytes.size() - at);
            // Read by the subscriber, or refused.
            if (!pumpUntil([&] { return qint64(link->received) >= written || !source.isOpen(); }))
                fail("the subscriber does not read what its source sends");
            QCoreApplication::processEvents();
        }
        checkBounds(*node, link, false);
    }
    const bool refused = !source.isOpen();
    if (refused) {
        if (!pumpUntil([&] { return link->held == 0; }))
            fail("a refused connection keeps its bytes");
        if (subscriber->state() == rio::RemoteSubscriber::State::Connected)
            fail("the subscriber of a refused source says it is connected");
    } else if (subscriber->state() == rio::RemoteSubscriber::State::Connected && link->held == 0) {
        // Served still, between two packets: the next event arrives.
        spins = 0;
        const auto expected = qint64(sequence + 1000000);
        source.write(raw::emission(source.channel(), 0,
                                   {raw::eventFrame(8, 1, rio::detail::encodeRemoteEvent(expected))}));
        if (!pumpUntil([&] { return last == expected; }))
            fail("a subscriber still connected does not receive the next event");
    }
    checkBounds(*node, link, refused);
    subscriber.reset();
    node.reset();
    pumpUntil([&] { return !source.isOpen(); });
    return 0;
}
