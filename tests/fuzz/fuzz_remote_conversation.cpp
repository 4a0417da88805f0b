// SPDX-License-Identifier: MIT
// libFuzzer target for conversations: the fuzzer's bytes are read as a long sequence of steps
// (thousands) by several raw connections at once to a source that serves a lossless (Block) share,
// with an honest subscriber, and a lossy (DropOldest) one: connect, acquire and release objects (the
// shares, a connection's own channels, another's, the honest subscriber's, names nobody remotes),
// subscribe and unsubscribe (with another connection's secret too: a takeover), ready, post,
// claim, ping, a wrong-typed invocation, a packet repeated up to 5,000 times, stop reading, read
// again, close; and the source notifying both shares. Properties, after every step and after every
// frame a share writes: every connection holds at most maxQueuedBytes or one write waiting to be
// written, and the process at most queuedBytesBudget; after every step, each share's index of its
// backlogs agrees with them; at checkpoints, once the event loop ran what it had, the ledger counts
// what the backlogs hold, and the honest subscriber has received every event of the lossless share,
// once and in order. ASan and UBSan watch the rest.
#include "fuzz_choices.h"
#include <registryio/qt/qt_registry.h>
#include <registryio/remote/remote_connect.h>
#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_registry.h>
#include <registryio/remote/remote_share.h>

#include "remote_codec_p.h"  // RemoteFrameBatchBytes: the largest frame a share writes
#include "remote_outbox_p.h" // remoteKeyOf(): the channels' names

#include <QCoreApplication>
#include <QDataStream>
#include <QDeadlineTimer>
#include <QLocalSocket>
#include <QRectF>
#include <QRemoteObjectHost>
#include <QRemoteObjectNode>
#include <QtEndian>
#include <QtRemoteObjects/qtremoteobjectglobal.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace {

[[noreturn]] void fail(const QString &what)
{
    std::fprintf(stderr, "model mismatch: %s\n", qPrintable(what));
    std::abort();
}

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

// The listener's limits: small, so that a few steps reach them.
constexpr qint64 MaxPacket = 64 * 1024;
constexpr qint64 MaxQueued = 128 * 1024;
constexpr qint64 QueuedBudget = 512 * 1024;
constexpr int LossyEventBytes = 4096;
// The largest single write Qt Remote Objects makes here: a frame of the lossy share (its batch
// and one event more), or a Pong as large as the largest Ping.
constexpr qint64 LargestWrite = rio::detail::RemoteFrameBatchBytes + LossyEventBytes + 1024;
constexpr int Attackers = 3;
constexpr int CheckpointSteps = 256;

QByteArray packet(quint16 type, const QString &name, const std::function<void(QDataStream &)> &rest = {})
{
    QByteArray body;
    QDataStream out(&body, QIODevice::WriteOnly);
    out.setVersion(QDataStream::Qt_6_2);
    out.setByteOrder(QDataStream::LittleEndian);
    out << type << name;
    if (rest)
        rest(out);
    QByteArray bytes(4, Qt::Uninitialized);
    qToLittleEndian(quint32(body.size()), bytes.data());
    return bytes + body;
}

QByteArray invoke(const QString &name, int index, const QVariantList &arguments)
{
    return packet(QtRemoteObjects::InvokePacket, name, [&](QDataStream &out) {
        out << qint32(QMetaObject::InvokeMetaMethod) << qint32(index) << quint32(arguments.size());
        for (const QVariant &argument : arguments)
            out << argument;
        out << qint32(-1) << qint32(-1);
    });
}

QByteArray secretOf(int attacker, int slot)
{
    QByteArray secret(rio::detail::RemoteSecretBytes, char(0x40 + attacker));
    secret[0] = char(slot + 1);
    return secret;
}

QString channel(const QString &share, quint64 key)
{
    return share + QLatin1Char('#') + QString::number(key, 16);
}

struct Attacker
{
    std::unique_ptr<QLocalSocket> socket;
    QByteArray last; // the last packet it sent
};

struct World
{
    QString url;
    QRemoteObjectHost host;
    rio::RemoteListener *listener = nullptr;
    rio::QtRegistry<qint64> lossless;
    rio::QtRegistry<QByteArray> lossy;
    std::unique_ptr<rio::RemoteShare<qint64>> losslessShare;
    std::unique_ptr<rio::RemoteShare<QByteArray>> lossyShare;
    QRemoteObjectNode node;
    std::unique_ptr<rio::RemoteRegistry<qint64>> honest;
    QObject context;
    QString honestChannel;
    qint64 sent = 0;     // lossless events notified (1, 2, ...)
    qint64 received = 0; // of them, received by the honest subscriber, in order
    bool unordered = false;
    std::array<Attacker, Attackers> attackers;
};
World *g_world = nullptr;

// Every connection within maxQueuedBytes or one write, and the process within its budget.
void checkQueued(const char *where)
{
    World &w = *g_world;
    qint64 total = 0;
    for (const quint64 id : w.listener->connections()) {
        const qint64 queued = w.listener->bytesToWrite(id);
        total += queued;
        if (queued > std::max(MaxQueued, LargestWrite))
            fail(QStringLiteral("%1: connection %2 holds %3 bytes to write")
                     .arg(QLatin1String(where))
                     .arg(id)
                     .arg(queued));
    }
    if (total > QueuedBudget + LargestWrite || rio::RemoteListener::unsentBytes() > QueuedBudget)
        fail(QStringLiteral("%1: the process holds %2 bytes to write (the ledger counts %3)")
                 .arg(QLatin1String(where))
                 .arg(total)
                 .arg(rio::RemoteListener::unsentBytes()));
}

// Each share's index of its backlogs (by key, by connection, each connection's count of those not
// ready, which the caps are checked against) agrees with the backlogs.
void checkIndex(const char *where)
{
    World &w = *g_world;
    for (const rio::RemoteShareBase *share : {w.losslessShare->base(), w.lossyShare->base()}) {
        if (const QString fault = share->outbox()->indexFault(); !fault.isEmpty())
            fail(QStringLiteral("%1: share \"%2\": %3").arg(QLatin1String(where), share->name(), fault));
    }
}

// Checks after every frame a share writes, on every channel (connected after Qt Remote Objects'
// own connection: the frame was written to every connection that acquired the channel).
class FrameWatcher : public QObject
{
    Q_OBJECT

public Q_SLOTS:
    void frame() { checkQueued("after a frame"); }
    void watch()
    {
        World &w = *g_world;
        for (QObject *base : {static_cast<QObject *>(w.losslessShare->base()),
                              static_cast<QObject *>(w.lossyShare->base())}) {
            for (QObject *child : base->children()) {
                if (qstrcmp(child->metaObject()->className(), "rio::detail::RemoteChannel") == 0)
                    connect(child, SIGNAL(delivered(QByteArray)), this, SLOT(frame()), Qt::UniqueConnection);
            }
        }
    }
};
FrameWatcher *g_watcher = nullptr;

// The ledger agrees with the backlogs, and the honest subscriber has every lossless event.
void checkpoint()
{
    World &w = *g_world;
    w.lossless.notify(++w.sent);
    if (!pumpUntil([&] { return w.received == w.sent; }))
        fail(
            QStringLiteral("the honest subscriber has %1 of %2 lossless events").arg(w.received).arg(w.sent));
    if (w.unordered)
        fail(QStringLiteral("the honest subscriber received lossless events out of order"));
    qint64 held = 0;
    const auto agree = [&] {
        held = 0;
        for (const auto &info : w.losslessShare->base()->subscribers())
            held += info.bytes;
        for (const auto &info : w.lossyShare->base()->subscribers())
            held += info.bytes;
        return rio::RemoteListener::backlogBytes() == held;
    };
    if (!pumpUntil(agree))
        fail(QStringLiteral("the ledger counts %1 backlog bytes, the backlogs hold %2")
                 .arg(rio::RemoteListener::backlogBytes())
                 .arg(held));
}

quint64 honestKey()
{
    return g_world->honest->link()->outbox()->key;
}

// A name for an object: the shares, channels (own, another attacker's, the honest subscriber's),
// "Registry", one nobody remotes.
QString pickName(Choices &in, int attacker)
{
    const QString share = in.u8() % 2 == 0 ? QStringLiteral("lossless") : QStringLiteral("orders");
    switch (in.u8() % 8) {
    case 0:
        return QStringLiteral("lossless");
    case 1:
        return QStringLiteral("orders");
    case 2:
    case 3:
        return channel(share, rio::detail::remoteKeyOf(secretOf(attacker, in.u8() % 3)));
    case 4: {
        const int other = in.u8() % Attackers;
        return channel(share, rio::detail::remoteKeyOf(secretOf(other, in.u8() % 3)));
    }
    case 5:
        return channel(QStringLiteral("lossless"), honestKey());
    case 6:
        return QStringLiteral("Registry");
    default:
        return QStringLiteral("nothing");
    }
}

QByteArray postFrame(quint64 origin, const QByteArray &payload)
{
    QByteArray frame;
    QDataStream out(&frame, QIODevice::WriteOnly);
    out << quint8(2) << quint32(1) << origin << quint32(payload.size());
    out.writeRawData(payload.constData(), int(payload.size()));
    return frame;
}

// One packet of `attacker`'s choosing.
QByteArray nextPacket(Choices &in, int attacker)
{
    const QString share = in.u8() % 2 == 0 ? QStringLiteral("lossless") : QStringLiteral("orders");
    switch (in.u8() % 10) {
    case 0:
    case 1:
        return packet(QtRemoteObjects::AddObject, pickName(in, attacker),
                      [](QDataStream &out) { out << quint8(1); });
    case 2:
        return packet(QtRemoteObjects::RemoveObject, pickName(in, attacker));
    case 3: { // subscribe: its own secret, or another attacker's (a takeover)
        const int owner = in.u8() % 4 == 0 ? in.u8() % Attackers : attacker;
        return invoke(share, 1, {QVariant(secretOf(owner, in.u8() % 3))});
    }
    case 4:
        return invoke(share, 2, {QVariant(rio::detail::remoteKeyOf(secretOf(attacker, in.u8() % 3)))});
    case 5:
        return invoke(pickName(in, attacker), 0, {});
    case 6: { // a post as one of its subscriptions, or as another's
        const int owner = in.u8() % 4 == 0 ? in.u8() % Attackers : attacker;
        const quint64 origin = rio::detail::remoteKeyOf(secretOf(owner, in.u8() % 3));
        const QByteArray payload = share == QLatin1String("lossless")
                                       ? rio::detail::encodeRemoteEvent(qint64(-1 - in.u8()))
                                       : rio::detail::encodeRemoteEvent(QByteArray(in.u8() * 16, 'p'));
        return invoke(share, 0, {QVariant(postFrame(origin, payload))});
    }
    case 7:
        return invoke(share, 3, {QVariant(quint64(in.u16()) << (in.u8() % 24))});
    case 8:
        return packet(QtRemoteObjects::Ping,
                      QString(in.u8() % 2 == 0 ? 4 : in.u16() % (MaxPacket / 2 - 64), QLatin1Char('p')));
    default: // a wrong-typed argument
        return invoke(share, in.u8() % 4, {QVariant(QRectF(1, 2, 3, 4))});
    }
}

void step(Choices &in)
{
    World &w = *g_world;
    const int a = in.u8() % Attackers;
    Attacker &attacker = w.attackers[std::size_t(a)];
    const bool exists = attacker.socket && attacker.socket->state() != QLocalSocket::UnconnectedState;
    const bool open = exists && attacker.socket->state() == QLocalSocket::ConnectedState;
    const quint8 op = in.u8() % 12;
    if (!exists && op < 9) { // connects first
        attacker.socket = std::make_unique<QLocalSocket>();
        attacker.socket->connectToServer(QUrl(w.url).path());
        attacker.last.clear();
        return;
    }
    if (!open && op < 9)
        return; // not connected yet
    switch (op) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
        attacker.last = nextPacket(in, a);
        attacker.socket->write(attacker.last);
        break;
    case 5: { // the last packet again, many times
        static constexpr std::array<int, 6> Times = {2, 10, 100, 1000, 3000, 5000};
        const int times = Times[in.u8() % Times.size()];
        if (!attacker.last.isEmpty())
            attacker.socket->write(attacker.last.repeated(times));
        break;
    }
    case 6: // stops reading
        attacker.socket->setReadBufferSize(1);
        break;
    case 7: // reads again
        attacker.socket->setReadBufferSize(0);
        attacker.socket->readAll();
        break;
    case 8:
        attacker.socket->abort();
        break;
    case 9: // the lossy share notifies a burst
        for (int i = 0, n = 1 + in.u8() % 32; i < n; ++i)
            w.lossy.notify(QByteArray(LossyEventBytes, char('a' + i % 26)));
        break;
    case 10:
        w.lossless.notify(++w.sent);
        break;
    default:
        break;
    }
    if (open)
        attacker.socket->readAll(); // what it has read, if it reads
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static QCoreApplication app(*argc, *argv);
    qInstallMessageHandler([](QtMsgType type, const QMessageLogContext &, const QString &message) {
        if (type == QtFatalMsg) {
            std::fprintf(stderr, "%s\n", qPrintable(message));
            std::abort();
        }
    });
    g_world = new World;
    World &w = *g_world;
    w.url = QStringLiteral("local:rio-fuzz-conversation-%1").arg(QCoreApplication::applicationPid());
    w.listener = new rio::RemoteListener(&w.host, {.maxPacketBytes = MaxPacket,
                                                   .highWaterBytes = 16 * 1024,
                                                   .incompleteBytesBudget = 256 * 1024,
                                                   .maxQueuedBytes = MaxQueued,
                                                   .queuedBytesBudget = QueuedBudget,
                                                   .backlogBytesBudget = 2 * 1024 * 1024,
                                                   .progressTimeout = std::chrono::seconds(2),
                                                   .handshakeTimeout = std::chrono::seconds(2)});
    if (!w.listener->listen(QUrl(w.url)))
        fail(QStringLiteral("the listener does not listen"));
    w.losslessShare = std::make_unique<rio::RemoteShare<qint64>>(
        &w.host, QStringLiteral("lossless"), w.lossless,
        rio::RemoteShareOptions{.capacity = 4096, .overflow = rio::Overflow::Block, .maxEventBytes = 1024});
    w.lossyShare = std::make_unique<rio::RemoteShare<QByteArray>>(
        &w.host, QStringLiteral("orders"), w.lossy,
        rio::RemoteShareOptions{.capacity = 64, .maxEventBytes = 8192});
    g_watcher = new FrameWatcher;
    QObject::connect(w.losslessShare->base(), &rio::RemoteShareBase::subscriberCountChanged, g_watcher,
                     &FrameWatcher::watch);
    QObject::connect(w.lossyShare->base(), &rio::RemoteShareBase::subscriberCountChanged, g_watcher,
                     &FrameWatcher::watch);
    rio::connectToSource(&w.node, QUrl(w.url));
    w.honest = std::make_unique<rio::RemoteRegistry<qint64>>(&w.node, QStringLiteral("lossless"));
    w.honest->add(&w.context, [](qint64 value) {
        World &w = *g_world;
        if (value <= 0)
            return; // an attacker's post
        w.unordered = w.unordered || value != w.received + 1;
        w.received = value;
    });
    if (!pumpUntil([&] { return w.honest->state() == rio::RemoteSubscriber::State::Connected; }))
        fail(QStringLiteral("the honest subscriber does not connect"));
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    World &w = *g_world;
    Choices in(data, size);
    for (int n = 1; !in.empty(); ++n) {
        step(in);
        for (int turn = 0; turn < 2; ++turn)
            QCoreApplication::processEvents();
        checkQueued("after a step");
        checkIndex("after a step");
        if (n % CheckpointSteps == 0)
            checkpoint();
    }
    for (Attacker &attacker : w.attackers) {
        if (attacker.socket)
            attacker.socket->abort();
        attacker.socket.reset();
    }
    if (!pumpUntil([&] { return w.listener->connectionCount() == 1; }))
        fail(QStringLiteral("%1 connections stay open").arg(w.listener->connectionCount()));
    checkpoint();
    if (w.honest->state() != rio::RemoteSubscriber::State::Connected)
        fail(QStringLiteral("the honest subscriber lost its connection"));
    return 0;
}

#include "fuzz_remote_conversation.moc"
