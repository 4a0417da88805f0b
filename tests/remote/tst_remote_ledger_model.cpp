// SPDX-License-Identifier: MIT
// A model-based test of the process's ledger of backlog bytes (RapidCheck). Random sequences of
// share creations and destructions (DropOldest, DropNewest, Block, Latest), subscriber connections
// (direct, or through a relay that can stall, resume and break) and disconnections, notifies from
// the share's thread and from a worker thread, and turns of the event loop (reads), against a
// small backlogBytesBudget so that the budget thins and sheds. The property, after every step once
// the event loop has run what it had:
//
//   RemoteListener::backlogBytes() == the sum over every live share's subscribers of the events
//   waiting in their backlogs, each counted as its bytes and 48.
//
// The model counts the events (RemoteSubscriberInfo::pending) and prices them itself; it does not
// take the shares' own byte counts on trust. Knobs: RIO_MODEL_CASES (cases to run), RIO_MODEL_SEED
// (RapidCheck's seed), RC_PARAMS (RapidCheck's own, overrides both), RIO_MODEL_MAX_OPS (longest
// sequence).
#include "tst_remote_inprocess.h"

#include "remote_outbox_p.h" // RemoteEntryBytes: what an entry counts beyond its event's bytes

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QTest>

#include <rapidcheck.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>

namespace {

constexpr int Shares = 2;
constexpr int Subscribers = 3;
constexpr int EventBytes = 1000;
// What the cases did, for the summary: steps, steps that found bytes in the ledger, the most seen.
struct Tally
{
    qint64 steps = 0;
    qint64 holding = 0;
    qint64 most = 0;
    qint64 rejected = 0;
};
Tally g_tally;

constexpr int SettleMs = 20000; // the longest the ledger may take to agree after a step
constexpr int ConnectMs = 5000; // the longest a connection step waits for its subscriber
constexpr int ReadMs = 500;     // the longest a read step waits for the backlogs to empty

enum class Kind { CreateShare, DestroyShare, Connect, Hoard, Disconnect, Stall, Resume, Cut, Notify, Read };

struct Op
{
    Kind kind = Kind::Read;
    int share = 0;      // CreateShare, DestroyShare, Connect, Notify
    int subscriber = 0; // Connect, Disconnect, Stall, Resume, Cut
    int policy = 0;     // CreateShare: 0 DropOldest, 1 DropNewest, 2 Block, 3 Latest
    bool relayed = false;
    int events = 0;
    bool fromWorker = false;
};

std::string describe(const Op &op)
{
    std::ostringstream s;
    static constexpr std::array<const char *, 4> Policies = {"DropOldest", "DropNewest", "Block", "Latest"};
    switch (op.kind) {
    case Kind::CreateShare:
        s << "CreateShare(" << op.share << ", " << Policies[std::size_t(op.policy)] << ")";
        break;
    case Kind::DestroyShare:
        s << "DestroyShare(" << op.share << ")";
        break;
    case Kind::Connect:
        s << "Connect(" << op.subscriber << " to " << op.share << (op.relayed ? ", relayed)" : ")");
        break;
    case Kind::Hoard:
        s << "Hoard(" << op.subscriber << " on " << op.share << ")";
        break;
    case Kind::Disconnect:
        s << "Disconnect(" << op.subscriber << ")";
        break;
    case Kind::Stall:
        s << "Stall(" << op.subscriber << ")";
        break;
    case Kind::Resume:
        s << "Resume(" << op.subscriber << ")";
        break;
    case Kind::Cut:
        s << "Cut(" << op.subscriber << ")";
        break;
    case Kind::Notify:
        s << "Notify(" << op.share << ", " << op.events << (op.fromWorker ? ", worker)" : ")");
        break;
    case Kind::Read:
        s << "Read";
        break;
    }
    return s.str();
}

void showValue(const Op &op, std::ostream &os)
{
    os << describe(op);
}

} // namespace

namespace rc {
template <>
struct Arbitrary<Op>
{
    static Gen<Op> arbitrary()
    {
        return gen::apply(
            [](int kind, int share, int subscriber, int policy, bool relayed, int events, bool fromWorker) {
                return Op{Kind(kind), share, subscriber, policy, relayed, events, fromWorker};
            },
            gen::weightedElement<int>({{3, int(Kind::CreateShare)},
                                       {1, int(Kind::DestroyShare)},
                                       {3, int(Kind::Connect)},
                                       {2, int(Kind::Hoard)},
                                       {1, int(Kind::Disconnect)},
                                       {3, int(Kind::Stall)},
                                       {1, int(Kind::Resume)},
                                       {1, int(Kind::Cut)},
                                       {6, int(Kind::Notify)},
                                       {2, int(Kind::Read)}}),
            gen::inRange(0, Shares), gen::inRange(0, Subscribers), gen::inRange(0, 4),
            gen::weightedElement<bool>({{1, false}, {3, true}}), gen::inRange(1, 1500),
            gen::arbitrary<bool>());
    }
};
} // namespace rc

namespace {

struct ModelShare
{
    rio::QtRegistry<Payload> registry;
    std::unique_ptr<rio::RemoteShare<Payload>> share;
};

struct ModelSubscriber
{
    std::unique_ptr<Relay> relay; // null: connected directly
    QObject context;
    std::unique_ptr<QRemoteObjectNode> node = std::make_unique<QRemoteObjectNode>();
    std::unique_ptr<rio::RemoteRegistry<Payload>> registry;
    // A hoarder: subscribed by hand, never acquires its channel (its backlog keeps up to 1,024
    // events until its connection is dropped 10 s later, or the share goes).
    std::unique_ptr<QRemoteObjectDynamicReplica> raw;
};

QString shareName(int slot)
{
    return QStringLiteral("model%1").arg(slot);
}

class Case
{
public:
    Case()
        : m_listener(new rio::RemoteListener(
              m_host.get(), {.highWaterBytes = 32 * 1024, .backlogBytesBudget = 2 * 1024 * 1024}))
    {
        m_listening = m_listener->listen(QUrl(QStringLiteral("tcp://127.0.0.1:0")));
    }
    ~Case()
    {
        if (m_listener)
            g_tally.rejected += qint64(m_listener->rejectedCount());
        for (auto &subscriber : m_subscribers)
            subscriber.reset();
        for (auto &share : m_shares)
            share.reset();
    }
    Case(const Case &) = delete;
    Case &operator=(const Case &) = delete;

    // Empty when the ledger agrees with the backlogs, else what differs.
    std::string apply(const Op &op)
    {
        if (!m_listening)
            return "the listener did not listen";
        switch (op.kind) {
        case Kind::CreateShare:
            if (!m_shares[op.share]) {
                auto model = std::make_unique<ModelShare>();
                rio::RemoteShareOptions options;
                options.delivery = op.policy == 3 ? rio::Delivery::Latest : rio::Delivery::Every;
                options.overflow = op.policy == 1   ? rio::Overflow::DropNewest
                                   : op.policy == 2 ? rio::Overflow::Block
                                                    : rio::Overflow::DropOldest;
                options.blockTimeout = std::chrono::milliseconds(20);
                model->share = std::make_unique<rio::RemoteShare<Payload>>(m_host.get(), shareName(op.share),
                                                                           model->registry, options);
                m_shares[op.share] = std::move(model);
            }
            break;
        case Kind::DestroyShare:
            m_shares[op.share].reset();
            break;
        case Kind::Connect:
            if (!m_subscribers[op.subscriber]) {
                auto model = std::make_unique<ModelSubscriber>();
                QString address = m_listener->address().toString();
                if (op.relayed) {
                    model->relay = std::make_unique<Relay>(quint16(m_listener->address().port()));
                    address = model->relay->address();
                }
                rio::connectToSource(model->node.get(), QUrl(address));
                model->registry =
                    std::make_unique<rio::RemoteRegistry<Payload>>(model->node.get(), shareName(op.share));
                model->registry->add(&model->context, [](const Payload &) { },
                                     {.connection = Qt::DirectConnection});
                rio::RemoteSubscriber *link = model->registry->link();
                m_subscribers[op.subscriber] = std::move(model);
                // Subscribed once connected (not waited for when the share is not there).
                if (m_shares[op.share])
                    (void)QTest::qWaitFor(
                        [link] { return link->state() == rio::RemoteSubscriber::State::Connected; },
                        ConnectMs);
            }
            break;
        case Kind::Hoard:
            if (!m_subscribers[op.subscriber] && m_shares[op.share]) {
                auto model = std::make_unique<ModelSubscriber>();
                model->raw = rawReplica(*model->node, m_listener->address().toString(), shareName(op.share));
                if (model->raw) {
                    const QMetaObject *meta = model->raw->metaObject();
                    const QMetaMethod subscribe = meta->method(meta->indexOfSlot("subscribe(QByteArray)"));
                    (void)subscribe.invoke(model->raw.get(), Qt::DirectConnection,
                                           Q_ARG(QByteArray, secretFor(++m_secrets)));
                }
                m_subscribers[op.subscriber] = std::move(model);
            }
            break;
        case Kind::Disconnect:
            m_subscribers[op.subscriber].reset();
            break;
        case Kind::Stall:
        case Kind::Resume:
        case Kind::Cut:
            if (m_subscribers[op.subscriber] && m_subscribers[op.subscriber]->relay) {
                Relay &relay = *m_subscribers[op.subscriber]->relay;
                if (op.kind == Kind::Stall) {
                    relay.hold();
                } else if (op.kind == Kind::Resume) {
                    relay.release();
                } else {
                    relay.cut();
                    relay.accept(); // the subscriber comes back through it
                }
            }
            break;
        case Kind::Notify:
            if (m_shares[op.share]) {
                const QByteArray blob(EventBytes, 'm');
                if (op.fromWorker) {
                    Worker worker(m_shares[op.share]->registry, m_seq + 1, m_seq + op.events, EventBytes);
                    worker.join();
                } else {
                    for (int i = 1; i <= op.events; ++i)
                        m_shares[op.share]->registry.notify(Payload{m_seq + i, blob});
                }
                m_seq += op.events;
            }
            break;
        case Kind::Read: // until every backlog is empty, or a while (stalled subscribers keep theirs)
            (void)QTest::qWaitFor(
                [this] {
                    return std::all_of(m_shares.begin(), m_shares.end(), [](const auto &model) {
                        return !model || model->share->base()->pendingCount() == 0;
                    });
                },
                ReadMs);
            break;
        }
        return check();
    }

    std::string check()
    {
        const qint64 cost = rio::detail::encodeRemoteEvent(Payload{1, QByteArray(EventBytes, 'm')}).size() +
                            rio::detail::RemoteEntryBytes;
        qint64 held = 0;
        qint64 reported = 0;
        const auto agree = [&] {
            held = 0;
            reported = 0;
            for (const auto &model : m_shares) {
                if (!model)
                    continue;
                for (const rio::RemoteSubscriberInfo &info : model->share->base()->subscribers()) {
                    held += qint64(info.pending) * cost;
                    reported += info.bytes;
                }
            }
            return rio::RemoteListener::backlogBytes() == held && reported == held;
        };
        for (int turn = 0; turn < 3; ++turn) // what the step set going runs first
            QCoreApplication::processEvents();
        if (QTest::qWaitFor(agree, SettleMs)) {
            ++g_tally.steps;
            g_tally.holding += held > 0 ? 1 : 0;
            g_tally.most = std::max(g_tally.most, held);
            return {};
        }
        std::ostringstream s;
        s << "the ledger counts " << rio::RemoteListener::backlogBytes() << " bytes, the backlogs hold "
          << held << " (" << cost << " per event; their own count " << reported << ")";
        return s.str();
    }

private:
    std::unique_ptr<QRemoteObjectHost> m_host = std::make_unique<QRemoteObjectHost>();
    QPointer<rio::RemoteListener> m_listener;
    bool m_listening = false;
    std::array<std::unique_ptr<ModelShare>, Shares> m_shares;
    std::array<std::unique_ptr<ModelSubscriber>, Subscribers> m_subscribers;
    qint64 m_seq = 0;
    quint64 m_secrets = 0;
};

int envInt(const char *name, int fallback)
{
    const char *value = std::getenv(name);
    return value != nullptr && *value != '\0' ? std::atoi(value) : fallback;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (std::getenv("RC_PARAMS") == nullptr) {
        std::string params = "max_success=" + std::to_string(envInt("RIO_MODEL_CASES", 40));
        if (const char *seed = std::getenv("RIO_MODEL_SEED"); seed != nullptr && *seed != '\0')
            params += std::string(" seed=") + seed;
        qputenv("RC_PARAMS", QByteArray::fromStdString(params));
    }
    QElapsedTimer timer;
    timer.start();
    const int maxOps = envInt("RIO_MODEL_MAX_OPS", 30);
    const bool ok = rc::check("the ledger counts what the backlogs hold after every step", [maxOps] {
        const auto ops = *rc::gen::resize(maxOps, rc::gen::arbitrary<std::vector<Op>>());
        std::string failure;
        {
            Case c;
            RC_ASSERT(rio::RemoteListener::backlogBytes() == 0);
            std::string done;
            for (const Op &op : ops) {
                done += describe(op) + "; ";
                failure = c.apply(op);
                if (!failure.empty()) {
                    failure += " after " + done;
                    break;
                }
            }
        }
        if (failure.empty() && rio::RemoteListener::backlogBytes() != 0)
            failure = "the ledger counts " + std::to_string(rio::RemoteListener::backlogBytes()) +
                      " bytes once everything is gone";
        if (!failure.empty())
            RC_FAIL(failure);
    });
    std::printf("%lld steps checked, %lld with bytes in backlogs (at most %lld), %lld connections dropped\n",
                static_cast<long long>(g_tally.steps), static_cast<long long>(g_tally.holding),
                static_cast<long long>(g_tally.most), static_cast<long long>(g_tally.rejected));
    std::printf("%s in %lld ms\n", ok ? "PASS" : "FAIL", static_cast<long long>(timer.elapsed()));
    return ok ? 0 : 1;
}
