// SPDX-License-Identifier: MIT
// Measures RegistryIO::Remote against its two peers in one run, in one process over local
// sockets (both ends share one event loop, the same for every peer):
//   rio      RemoteShare<Payload> -> RemoteRegistry<Payload>
//   qtro     a plain Qt Remote Objects dynamic replica of a QObject with one signal carrying the
//            same QDataStream bytes
//   socket   a hand-written QLocalSocket + QDataStream pipe (length-prefixed frames)
// For each: throughput of every-event delivery (events/s) and the p50/p99 latency of single
// events (notify to handler, one at a time). Then, for a share with Delivery::Latest: the latency
// of single events and, under a flood (a thread notifying `flood` events back to back), the time
// from the notify of the flood's last event to the subscriber's handler seeing it (the newest
// event), p50/p99 of `floods` floods. Not a test: run it by hand.
// `peers` (comma-separated: rio, latest, qtro, socket; all by default) runs only those, for
// profiling one at a time.
//   rio_remote_bench [events] [samples] [flood] [floods] [peers]
// `flow` measures flow control with real processes (rio_remote_peer): a source, a healthy
// subscriber and, in half the scenarios, a second one stalled (its event loop blocked) for
// `stallMs` while the source floods `events` events of 64 bytes; for each, when the subscribers
// got the last event, how many they got, and every process's peak resident memory; after each
// rio scenario, how the source and each subscriber account for every event (the drops the source
// counted, the gaps and state changes each subscriber saw):
//   rio_remote_bench flow [events] [stallMs] [scenarios] [runs]
// `scenarios`: e.g. rio-block/stalled,qtro (all by default); `runs`: each that many times.
#include "remote_payload.h"

#include <registryio/qt/qt_registry.h>
#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_registry.h>
#include <registryio/remote/remote_share.h>

#include <QCoreApplication>
#include <QDataStream>
#include <QElapsedTimer>
#include <QLocalServer>
#include <QLocalSocket>
#include <QProcess>
#include <QRemoteObjectDynamicReplica>
#include <QRemoteObjectHost>
#include <QRemoteObjectNode>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace {

// One peer: send(seq) makes the other end's handler call onReceive(seq) later.
struct Channel
{
    std::function<void(qint64)> send;
    std::function<void(qint64)> onReceive;
};

bool spin(const std::function<bool()> &done, int timeoutMs = 60000)
{
    QElapsedTimer t;
    t.start();
    while (!done()) {
        if (t.elapsed() > timeoutMs)
            return false;
        QCoreApplication::processEvents(QEventLoop::AllEvents);
    }
    return true;
}

void measure(const char *name, Channel &channel, qint64 events, int samples)
{
    qint64 last = 0;
    qint64 received = 0;
    channel.onReceive = [&](qint64 seq) {
        last = seq;
        ++received;
    };
    // Warm-up, not timed: a tenth of the burst, so that every peer's burst runs on a heap and
    // sockets already grown (the first peer of the process would pay for that alone).
    const qint64 warmup = events / 10;
    for (qint64 seq = 1; seq <= warmup; ++seq)
        channel.send(seq);
    if (warmup > 0 && !spin([&] { return last == warmup; }))
        std::printf("%-7s warm-up FAIL\n", name);
    received = 0;
    // Throughput: every event, sent in one burst.
    QElapsedTimer timer;
    timer.start();
    for (qint64 seq = warmup + 1; seq <= warmup + events; ++seq)
        channel.send(seq);
    const bool ok = spin([&] { return last == warmup + events; });
    const double seconds = double(timer.nsecsElapsed()) / 1e9;
    const qint64 got = received;
    // Latency: one event at a time.
    std::vector<double> micros;
    micros.reserve(size_t(samples));
    for (int i = 0; i < samples; ++i) {
        const qint64 seq = warmup + events + 1 + i;
        timer.restart();
        channel.send(seq);
        if (!spin([&] { return last == seq; }))
            break;
        micros.push_back(double(timer.nsecsElapsed()) / 1e3);
    }
    std::sort(micros.begin(), micros.end());
    const auto pct = [&](double p) {
        return micros.empty() ? 0.0 : micros[size_t(p * double(micros.size() - 1))];
    };
    std::printf(
        "%-7s %s throughput %10.0f events/s (%lld of %lld received)  latency p50 %7.1f us  p99 %7.1f us\n",
        name, ok ? "ok  " : "FAIL", double(got) / seconds, qlonglong(got), qlonglong(events), pct(0.5),
        pct(0.99));
    std::fflush(stdout);
}

struct Percentiles
{
    double p50 = 0;
    double p99 = 0;
};

Percentiles percentiles(std::vector<double> micros)
{
    std::sort(micros.begin(), micros.end());
    const auto pct = [&](double p) {
        return micros.empty() ? 0.0 : micros[size_t(p * double(micros.size() - 1))];
    };
    return {pct(0.5), pct(0.99)};
}

QByteArray encode(qint64 seq, const QByteArray &blob)
{
    return rio::detail::encodeRemoteEvent(Payload{seq, blob});
}

} // namespace

// The plain Qt Remote Objects peer: one signal with the event's bytes.
class PlainSource : public QObject
{
    Q_OBJECT
Q_SIGNALS:
    void event(const QByteArray &bytes);
};

namespace {

// One rio_remote_peer process of the flow benchmark: its lines, its commands.
class FlowPeer
{
public:
    explicit FlowPeer(const QStringList &args)
    {
        m_process.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        QObject::connect(&m_process, &QProcess::readyReadStandardOutput, [this] {
            m_partial += m_process.readAllStandardOutput();
            qsizetype eol;
            while ((eol = m_partial.indexOf('\n')) >= 0) {
                m_lines.append(m_partial.left(eol));
                m_arrivals.append(m_clock.nsecsElapsed());
                m_partial.remove(0, eol + 1);
            }
        });
        m_clock.start();
        m_process.start(QStringLiteral(RIO_REMOTE_PEER), args);
    }
    ~FlowPeer()
    {
        m_process.write("quit\n");
        if (!m_process.waitForFinished(60000))
            m_process.kill();
        m_process.waitForFinished(10000);
    }
    FlowPeer(const FlowPeer &) = delete;
    FlowPeer &operator=(const FlowPeer &) = delete;

    void send(const QByteArray &command) { m_process.write(command + '\n'); }
    // The first line from `from` on that starts with `prefix`, or empty after `timeoutMs`;
    // `arrival`: when it arrived, in ns of the clock that `since` started.
    QByteArray waitLine(const QByteArray &prefix, qsizetype from = 0, int timeoutMs = 600000,
                        qint64 *arrival = nullptr)
    {
        QByteArray found;
        spin(
            [&] {
                for (qsizetype i = from; i < m_lines.size(); ++i) {
                    if (m_lines.at(i).startsWith(prefix)) {
                        found = m_lines.at(i);
                        if (arrival)
                            *arrival = m_arrivals.at(i);
                        return true;
                    }
                }
                return m_process.state() == QProcess::NotRunning;
            },
            timeoutMs);
        return found;
    }
    // A `stats` answer, whole.
    QByteArray stats()
    {
        const qsizetype from = m_lines.size();
        send("stats");
        return waitLine("stats ", from);
    }
    // One value of a `stats` answer.
    qint64 stat(const QByteArray &key) { return statOf(stats(), key); }
    static qint64 statOf(const QByteArray &line, const QByteArray &key)
    {
        for (const QByteArray &pair : line.mid(6).split(' ')) {
            if (pair.startsWith(key + '='))
                return pair.mid(key.size() + 1).toLongLong();
        }
        return -1;
    }
    // The lines said so far that start with `prefix`.
    QList<QByteArray> linesStartingWith(const QByteArray &prefix) const
    {
        QList<QByteArray> out;
        for (const QByteArray &line : m_lines) {
            if (line.startsWith(prefix))
                out.append(line);
        }
        return out;
    }
    qsizetype lineCount() const { return m_lines.size(); }
    // Now, on the clock of the arrivals.
    qint64 now() const { return m_clock.nsecsElapsed(); }

private:
    QProcess m_process;
    QElapsedTimer m_clock;
    QByteArray m_partial;
    QList<QByteArray> m_lines;
    QList<qint64> m_arrivals;
};

// A value of a "reached <seq> received=<n> ms=<t>" line.
double reachedValue(const QByteArray &line, const QByteArray &key)
{
    for (const QByteArray &word : line.split(' ')) {
        if (word.startsWith(key + '='))
            return word.mid(key.size() + 1).toDouble();
    }
    return -1;
}

// One subscriber's count of a flow scenario and what accounts for a shortfall.
struct FlowCount
{
    qint64 received = -1;  // events its handler got after it read `expect` (-1: no answer)
    qint64 total = -1;     // events its handler got in all
    qint64 bySource = -1;  // gaps in the source's sequence it saw (droppedBySource)
    qint64 unordered = -1; // events that did not come after the one before them
    qint64 stateLines = 0; // "state ..." lines after its first "state connected"
    QByteArray states;     // those states, in order
};

// Says how the source and the subscribers account for every event of a rio scenario: the drops
// the source counted (per subscriber and in eventsDropped), the gaps each subscriber saw, its
// state changes (a reconnection loses what was in flight, counted on both sides) and whether a
// connection was dropped; "unexplained" when a subscriber misses events that neither side counted.
void printAccounting(FlowPeer &source, std::vector<std::unique_ptr<FlowPeer>> &subs, qint64 events,
                     std::vector<FlowCount> &counts)
{
    const QByteArray notified = source.waitLine("notified ", 0, 60000);
    const QByteArray stats = source.stats();
    qint64 reportedDrops = 0;
    for (const QByteArray &line : source.linesStartingWith("eventsDropped "))
        reportedDrops += line.split(' ').value(2).toLongLong();
    std::printf("  source: %s; dropped=%lld (eventsDropped reported %lld) subscribers=%lld connections=%lld "
                "rejected=%lld;",
                notified.isEmpty() ? "the notifying thread did not finish" : notified.constData(),
                qlonglong(FlowPeer::statOf(stats, "dropped")), qlonglong(reportedDrops),
                qlonglong(FlowPeer::statOf(stats, "subscribers")),
                qlonglong(FlowPeer::statOf(stats, "connections")),
                qlonglong(FlowPeer::statOf(stats, "rejected")));
    for (const QByteArray &pair : stats.mid(6).split(' ')) {
        if (pair.startsWith("drops") || (pair.startsWith("sent") && pair.size() > 4 && pair.at(4) != '='))
            std::printf(" %s", pair.constData());
    }
    std::printf("\n");
    for (std::size_t i = 0; i < subs.size(); ++i) {
        const QByteArray line = subs[i]->stats();
        FlowCount &c = counts[i];
        c.total = FlowPeer::statOf(line, "received");
        c.bySource = FlowPeer::statOf(line, "droppedBySource");
        c.unordered = FlowPeer::statOf(line, "unordered");
        const QList<QByteArray> states = subs[i]->linesStartingWith("state ");
        c.stateLines = std::max<qint64>(0, states.size() - 1);
        for (qsizetype s = 1; s < states.size(); ++s)
            c.states += (s > 1 ? "," : "") + states.at(s).mid(6);
        const qint64 missing = c.total < 0 ? -1 : events - c.total;
        const bool explained =
            missing <= 0 || c.stateLines > 0 || (c.bySource >= missing && reportedDrops > 0);
        std::printf("  %s: received %lld in all (%lld before it read `expect`), missing %lld, gaps seen %lld "
                    "(droppedBySource), unordered %lld, state changes %lld%s%s, last %lld%s\n",
                    i == 0 ? "healthy" : "stalled", qlonglong(c.total), qlonglong(c.total - c.received),
                    qlonglong(missing), qlonglong(c.bySource), qlonglong(c.unordered),
                    qlonglong(c.stateLines), c.states.isEmpty() ? "" : " ", c.states.constData(),
                    qlonglong(FlowPeer::statOf(line, "last")),
                    explained ? "" : "  UNEXPLAINED: no drop counted at the source, no reconnection");
    }
    std::fflush(stdout);
}

// One scenario: `kind` rio-lossy (the default options), rio-block (Overflow::Block, the flood from
// a thread of the source) or qtro (plain Qt Remote Objects, the flood on the source's thread).
// Returns whether every subscriber got every event.
bool flowScenario(const char *kind, bool stalled, qint64 events, int stallMs, int round)
{
    const bool qtro = qstrcmp(kind, "qtro") == 0;
    const QString url =
        QStringLiteral("local:rio-bench-flow-%1-%2").arg(QCoreApplication::applicationPid()).arg(round);
    // The source only shares: no local handler (the plain source has none either).
    QStringList sourceArgs{qtro ? QStringLiteral("qtro-source") : QStringLiteral("source"), url,
                           QStringLiteral("--handlers"), QStringLiteral("none")};
    if (qstrcmp(kind, "rio-block") == 0)
        sourceArgs << QStringLiteral("--overflow") << QStringLiteral("block")
                   << QStringLiteral("--block-timeout") << QStringLiteral("600000");
    FlowPeer source(sourceArgs);
    const QByteArray ready = source.waitLine("ready ", 0, 30000);
    if (ready.isEmpty()) {
        std::printf("%-9s FAIL: no source\n", kind);
        return false;
    }
    const QString address = QString::fromUtf8(ready.mid(6));
    const QString subscriberMode = qtro ? QStringLiteral("qtro-subscriber") : QStringLiteral("subscriber");
    std::vector<std::unique_ptr<FlowPeer>> subs;
    for (int i = 0; i < (stalled ? 2 : 1); ++i) {
        subs.push_back(
            std::make_unique<FlowPeer>(QStringList{subscriberMode, address, QStringLiteral("--quiet")}));
        if (subs.back()->waitLine("state connected", 0, 30000).isEmpty()) {
            std::printf("%-9s FAIL: a subscriber did not connect\n", kind);
            return false;
        }
    }
    // The plain source learns of its replicas on its own: give the second one a round trip.
    (void)source.stat("rss");
    // Each subscriber counts from `expect` on: a stats answer after it says it read it, so that
    // none of the flood arrives before (under load a subscriber may read its input late).
    for (auto &sub : subs) {
        sub->send("expect " + QByteArray::number(events));
        (void)sub->stats();
    }
    if (stalled) {
        subs[1]->send("freeze");
        subs[1]->waitLine("frozen");
    }
    QElapsedTimer clock;
    clock.start();
    std::vector<qint64> startedAt; // the flood's start on each subscriber's clock
    for (auto &sub : subs)
        startedAt.push_back(sub->now());
    source.send((qtro ? "notify 1 " : "notifyThread 1 ") + QByteArray::number(events) + " 64");
    if (stalled) {
        spin([&] { return clock.elapsed() >= stallMs; }, stallMs + 1000);
        subs[1]->send("thaw");
    }
    std::vector<QByteArray> reached;
    std::vector<double> doneMs;
    for (std::size_t i = 0; i < subs.size(); ++i) {
        // A subscriber that lost the last event never reports it: a stats answer tells its count.
        qint64 arrival = 0;
        reached.push_back(subs[i]->waitLine("reached ", 0, std::max(60000, int(events / 5)), &arrival));
        doneMs.push_back(double(arrival - startedAt[i]) / 1e6);
    }
    const qint64 sourceHwm = source.stat("hwm");
    std::vector<FlowCount> counts(subs.size());
    std::printf("%-9s %-11s source peak RSS %7lld KiB", kind, stalled ? "stalled" : "alone",
                qlonglong(sourceHwm));
    for (std::size_t i = 0; i < subs.size(); ++i) {
        const char *who = i == 0 ? "healthy" : "stalled";
        if (reached[i].isEmpty()) {
            counts[i].received = subs[i]->stat("received");
            std::printf(" | %s: %lld of %lld received (the last dropped), peak RSS %lld KiB", who,
                        qlonglong(counts[i].received), qlonglong(events), qlonglong(subs[i]->stat("hwm")));
            continue;
        }
        const double received = reachedValue(reached[i], "received");
        counts[i].received = qint64(received);
        const double ms = reachedValue(reached[i], "ms");
        std::printf(" | %s: %.0f of %lld in %.0f ms (%.0f events/s; the last %.0f ms after the flood began), "
                    "peak RSS "
                    "%lld KiB",
                    who, received, qlonglong(events), ms, ms > 0 ? received / ms * 1000 : 0.0, doneMs[i],
                    qlonglong(subs[i]->stat("hwm")));
    }
    std::printf("\n");
    if (!qtro)
        printAccounting(source, subs, events, counts);
    std::fflush(stdout);
    return std::all_of(counts.begin(), counts.end(),
                       [&](const FlowCount &c) { return (c.total >= 0 ? c.total : c.received) == events; });
}

int flow(int argc, char **argv)
{
    const qint64 events = argc > 2 ? QByteArray(argv[2]).toLongLong() : 200000;
    const int stallMs = argc > 3 ? QByteArray(argv[3]).toInt() : 2000;
    // `scenarios`: comma-separated kinds, each optionally with /alone or /stalled; all by default.
    const QList<QByteArray> only = argc > 4 ? QByteArray(argv[4]).split(',') : QList<QByteArray>();
    const int runs = argc > 5 ? std::max(1, QByteArray(argv[5]).toInt()) : 1;
    std::printf("flow: %lld events of 64 bytes, a stalled subscriber frozen %d ms\n", qlonglong(events),
                stallMs);
    int round = 0;
    for (const char *kind : {"rio-lossy", "rio-block", "qtro"}) {
        for (const bool stalled : {false, true}) {
            const QByteArray name = QByteArray(kind) + (stalled ? "/stalled" : "/alone");
            if (!only.isEmpty() && !only.contains(QByteArray(kind)) && !only.contains(name))
                continue;
            int whole = 0;
            for (int run = 0; run < runs; ++run)
                whole += flowScenario(kind, stalled, events, stallMs, ++round) ? 1 : 0;
            if (runs > 1)
                std::printf("%s: every event to every subscriber in %d of %d runs\n", name.constData(), whole,
                            runs);
        }
    }
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (argc > 1 && qstrcmp(argv[1], "flow") == 0)
        return flow(argc, argv);
    const qint64 events = argc > 1 ? QByteArray(argv[1]).toLongLong() : 50000;
    const int samples = argc > 2 ? QByteArray(argv[2]).toInt() : 2000;
    const QByteArray blob(64, 'x');
    const QString tag = QString::number(QCoreApplication::applicationPid());
    const QList<QByteArray> peers = QByteArray(argc > 5 ? argv[5] : "rio,latest,qtro,socket").split(',');
    const auto runs = [&](const char *peer) { return peers.contains(QByteArray(peer)); };

    if (runs("rio")) { // RegistryIO::Remote
        QRemoteObjectHost host;
        rio::RemoteListener listener(&host);
        if (!listener.listen(QUrl(QStringLiteral("local:rio-bench-rio-") + tag)))
            return 1;
        rio::QtRegistry<Payload> source;
        rio::RemoteShareOptions options;
        options.capacity = size_t(events) + size_t(events / 10) + size_t(samples);
        rio::RemoteShare<Payload> share(&host, QStringLiteral("bench"), source, options);
        QRemoteObjectNode node;
        rio::connectToSource(&node, listener.address());
        rio::RemoteRegistry<Payload> subscriber(&node, QStringLiteral("bench"));
        Channel channel;
        subscriber.add(&app, [&](const Payload &p) { channel.onReceive(p.seq); });
        if (!spin([&] { return subscriber.state() == rio::RemoteSubscriber::State::Connected; }))
            return 1;
        channel.send = [&](qint64 seq) { source.notify(Payload{seq, blob}); };
        measure("rio", channel, events, samples);
    }
    // RegistryIO::Remote with Delivery::Latest: single events, then the newest event of a flood.
    if (runs("latest")) {
        const qint64 flood = argc > 3 ? QByteArray(argv[3]).toLongLong() : 2000;
        const int floods = argc > 4 ? QByteArray(argv[4]).toInt() : 200;
        QRemoteObjectHost host;
        rio::RemoteListener listener(&host);
        if (!listener.listen(QUrl(QStringLiteral("local:rio-bench-latest-") + tag)))
            return 1;
        rio::QtRegistry<Payload> source;
        rio::RemoteShareOptions options;
        options.delivery = rio::Delivery::Latest;
        rio::RemoteShare<Payload> share(&host, QStringLiteral("bench"), source, options);
        QRemoteObjectNode node;
        rio::connectToSource(&node, listener.address());
        rio::RemoteRegistry<Payload> subscriber(&node, QStringLiteral("bench"));
        using Clock = std::chrono::steady_clock;
        std::atomic<qint64> last{0};
        Clock::time_point seenAt;
        qint64 delivered = 0;
        subscriber.add(&app, [&](const Payload &p) {
            seenAt = Clock::now();
            ++delivered;
            last.store(p.seq, std::memory_order_relaxed);
        });
        if (!spin([&] { return subscriber.state() == rio::RemoteSubscriber::State::Connected; }))
            return 1;
        const auto micros = [](Clock::duration d) {
            return double(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()) / 1e3;
        };
        qint64 seq = 0;
        std::vector<double> single;
        for (int i = 0; i < samples; ++i) {
            const qint64 target = ++seq;
            const auto start = Clock::now();
            source.notify(Payload{target, blob});
            if (!spin([&] { return last.load() == target; }))
                return 1;
            single.push_back(micros(seenAt - start));
        }
        // The same single events notified from another thread (as the flood is): the like-for-like
        // reference, with the cross-thread hand-over and the thread's wake-up in both.
        std::vector<double> singleFromThread;
        for (int i = 0; i < samples; ++i) {
            const qint64 target = ++seq;
            std::atomic<Clock::rep> notifiedAt{0};
            std::thread producer([&] {
                notifiedAt.store(Clock::now().time_since_epoch().count());
                source.notify(Payload{target, blob});
            });
            const bool ok = spin([&] { return last.load() == target; });
            producer.join();
            if (!ok)
                return 1;
            singleFromThread.push_back(
                micros(seenAt - Clock::time_point(Clock::duration(notifiedAt.load()))));
        }
        std::vector<double> newest;
        const qint64 deliveredBefore = delivered;
        for (int i = 0; i < floods; ++i) {
            const qint64 first = seq + 1;
            const qint64 target = seq + flood;
            seq = target;
            std::atomic<Clock::rep> lastNotifiedAt{0};
            // The flood comes from another thread while this one runs both ends' event loop.
            std::thread producer([&] {
                for (qint64 s = first; s < target; ++s)
                    source.notify(Payload{s, blob});
                lastNotifiedAt.store(Clock::now().time_since_epoch().count());
                source.notify(Payload{target, blob});
            });
            const bool ok = spin([&] { return last.load() == target; });
            producer.join();
            if (!ok)
                return 1;
            newest.push_back(micros(seenAt - Clock::time_point(Clock::duration(lastNotifiedAt.load()))));
        }
        const Percentiles one = percentiles(single);
        const Percentiles s = percentiles(singleFromThread);
        const Percentiles f = percentiles(newest);
        std::printf("latest  single event latency p50 %7.1f us  p99 %7.1f us\n", one.p50, one.p99);
        std::printf("latest  single event from a thread p50 %7.1f us  p99 %7.1f us\n", s.p50, s.p99);
        std::printf("latest  newest of a %lld-event flood: p50 %7.1f us  p99 %7.1f us  (%.2fx / %.2fx the "
                    "single-event-from-a-thread p50 / p99; %lld of %lld flood events delivered)\n",
                    qlonglong(flood), f.p50, f.p99, s.p50 > 0 ? f.p50 / s.p50 : 0.0,
                    s.p99 > 0 ? f.p99 / s.p99 : 0.0, qlonglong(delivered - deliveredBefore),
                    qlonglong(flood) * floods);
        std::fflush(stdout);
    }
    if (runs("qtro")) { // plain Qt Remote Objects, dynamic replica
        QRemoteObjectHost host(QUrl(QStringLiteral("local:rio-bench-qtro-") + tag));
        PlainSource plain;
        host.enableRemoting(&plain, QStringLiteral("bench"));
        QRemoteObjectNode node;
        node.connectToNode(host.hostUrl());
        std::unique_ptr<QRemoteObjectDynamicReplica> replica(node.acquireDynamic(QStringLiteral("bench")));
        if (!replica->waitForSource(10000))
            return 1;
        Channel channel;
        QObject receiver;
        const int signal = replica->metaObject()->indexOfSignal("event(QByteArray)");
        // A string-based connection is the only kind a dynamic replica offers.
        struct Sink : QObject
        {
            Channel *channel = nullptr;
            int qt_metacall(QMetaObject::Call call, int id, void **args) override
            {
                id = QObject::qt_metacall(call, id, args);
                if (id == 0 && call == QMetaObject::InvokeMetaMethod) {
                    Payload p;
                    rio::detail::decodeRemoteEvent(*static_cast<const QByteArray *>(args[1]), p);
                    channel->onReceive(p.seq);
                    return -1;
                }
                return id;
            }
        } sink;
        sink.channel = &channel;
        QMetaObject::connect(replica.get(), signal, &sink, QObject::staticMetaObject.methodCount());
        channel.send = [&](qint64 seq) { Q_EMIT plain.event(encode(seq, blob)); };
        measure("qtro", channel, events, samples);
    }
    if (runs("socket")) { // QLocalSocket + QDataStream
        QLocalServer server;
        const QString name = QStringLiteral("rio-bench-socket-") + tag;
        QLocalServer::removeServer(name);
        if (!server.listen(name))
            return 1;
        QLocalSocket client;
        client.connectToServer(name);
        if (!server.waitForNewConnection(10000))
            return 1;
        QLocalSocket *writer = server.nextPendingConnection();
        Channel channel;
        QDataStream in(&client);
        QObject::connect(&client, &QLocalSocket::readyRead, &app, [&] {
            for (;;) {
                in.startTransaction();
                QByteArray bytes;
                in >> bytes;
                if (!in.commitTransaction())
                    return;
                Payload p;
                rio::detail::decodeRemoteEvent(bytes, p);
                channel.onReceive(p.seq);
            }
        });
        QDataStream out(writer);
        channel.send = [&](qint64 seq) { out << encode(seq, blob); };
        measure("socket", channel, events, samples);
    }
    return 0;
}

#include "remote_bench.moc"
