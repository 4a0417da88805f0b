// SPDX-License-Identifier: MIT
// The frame timeline as Chrome's trace-event JSON (docs/DIAGNOSTICS.md), which Perfetto and
// chrome://tracing open: the main thread's event-loop turns (frames), the handler runs and
// delivery waits in them, and the slow runs and stalls of every thread. Also the hook that
// marks the turns, and the file RIO_DIAGNOSTICS_TRACE names, written at exit.

#include <registryio/detail/diagnostics.h>
#include <registryio/qt/diagnostics.h>

#include <QAbstractEventDispatcher>
#include <QCoreApplication>
#include <QFileInfo>
#include <QJsonArray>
#include <QPointer>
#include <QSaveFile>
#include <QSet>
#include <QThread>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>

namespace rio {

namespace {

namespace diag = detail::diag;

// The main thread's number, as the turns' hook (below) saw it.
constinit std::atomic<quint64> mainThreadNumber{0};

// The main thread's turns, numbered from 1 (its own: only the main thread touches them).
struct Turns
{
    diag::TurnMark mark;
    quint64 number = 0;
};

double micros(quint64 ns)
{
    return static_cast<double>(ns) / 1000.0;
}

QString place(const char *file, int line)
{
    return QStringLiteral("%1:%2")
        .arg(QFileInfo(QString::fromUtf8(file != nullptr ? file : "")).fileName())
        .arg(line);
}

QString place(const HandlerInfo &h)
{
    if (!h.originFile.isEmpty())
        return QStringLiteral("%1:%2").arg(QFileInfo(h.originFile).fileName()).arg(h.originLine);
    return place(h.file.toUtf8().constData(), h.line);
}

// The turns' spans, to name the frame a time falls in (0: none kept).
class Frames
{
public:
    void add(quint64 start, quint64 end, quint64 number) { m_turns.push_back({start, end, number}); }
    void sort()
    {
        std::sort(m_turns.begin(), m_turns.end(),
                  [](const Turn &a, const Turn &b) { return a.start < b.start; });
    }
    [[nodiscard]] quint64 at(quint64 ns) const
    {
        auto it = std::upper_bound(m_turns.begin(), m_turns.end(), ns,
                                   [](quint64 t, const Turn &turn) { return t < turn.start; });
        if (it == m_turns.begin())
            return 0;
        --it;
        // A millisecond's slack past its end: a time read with another clock (a slow run's end,
        // from steady_clock) may land that far out after the conversion of the turns' ticks.
        return ns <= it->end + 1'000'000 ? it->number : 0;
    }

private:
    struct Turn
    {
        quint64 start, end, number;
    };
    std::vector<Turn> m_turns;
};

} // namespace

QJsonDocument Diagnostics::toTrace(std::chrono::nanoseconds last)
{
    const auto lastNs = static_cast<quint64>(std::max<std::int64_t>(last.count(), 0));
    const std::vector<diag::TimelineEntry> entries = diag::timeline(lastNs);
    const QList<SlowHandlerReport> slow = recentSlowRuns();
    const QList<SlowHandlerReport> stalls = recentStalls();
    std::map<quint64, QString> registryNames;
    for (const RegistryInfo &r : snapshot())
        registryNames[r.id] = r.name;

    const qint64 pid = QCoreApplication::applicationPid();
    quint64 mainTid = mainThreadNumber.load(std::memory_order_relaxed);
    if (mainTid == 0)
        mainTid = 1;
    QJsonArray events;
    QSet<quint64> threads{mainTid};
    std::map<quint64, QString> threadNames{{mainTid, QStringLiteral("main")}};
    const auto event = [&](const char *ph, const QString &name, const char *cat, quint64 ts, quint64 tid) {
        return QJsonObject{{QStringLiteral("ph"), QLatin1String(ph)},
                           {QStringLiteral("name"), name},
                           {QStringLiteral("cat"), QLatin1String(cat)},
                           {QStringLiteral("ts"), micros(ts)},
                           {QStringLiteral("pid"), pid},
                           {QStringLiteral("tid"), static_cast<qint64>(tid)}};
    };

    Frames frames;
    for (const diag::TimelineEntry &e : entries)
        if (e.kind == diag::TimelineKind::Turn)
            frames.add(e.startNs, e.endNs, e.turn);
    frames.sort();

    // A slow run on the main thread is also a timeline entry (its turn holds it): once, as slow.
    const auto isSlow = [&](const diag::TimelineEntry &e) {
        return std::any_of(slow.begin(), slow.end(), [&](const SlowHandlerReport &s) {
            return s.handler.registryId == e.registry && s.handler.id == e.id &&
                   (s.endedAtNs > e.endNs ? s.endedAtNs - e.endNs : e.endNs - s.endedAtNs) < 2'000'000;
        });
    };
    qint64 waitId = 0;
    for (const diag::TimelineEntry &e : entries) {
        const QJsonObject who{{QStringLiteral("file"), QString::fromUtf8(e.file != nullptr ? e.file : "")},
                              {QStringLiteral("line"), e.line},
                              {QStringLiteral("registry"), static_cast<qint64>(e.registry)},
                              {QStringLiteral("registryName"), registryNames[e.registry]},
                              {QStringLiteral("handler"), static_cast<qint64>(e.id.value())},
                              {QStringLiteral("frame"), static_cast<qint64>(frames.at(e.startNs))}};
        switch (e.kind) {
        case diag::TimelineKind::Turn: {
            QJsonObject o = event("X", QStringLiteral("frame %1").arg(e.turn), "frame", e.startNs, mainTid);
            o.insert(QStringLiteral("dur"), micros(e.endNs - e.startNs));
            o.insert(QStringLiteral("args"),
                     QJsonObject{{QStringLiteral("frame"), static_cast<qint64>(e.turn)}});
            events.append(o);
            break;
        }
        case diag::TimelineKind::Run: {
            if (isSlow(e))
                break; // exported below, as a slow run
            QJsonObject o = event("X", place(e.file, e.line), "handler", e.startNs, mainTid);
            o.insert(QStringLiteral("dur"), micros(e.endNs - e.startNs));
            o.insert(QStringLiteral("args"), who);
            events.append(o);
            break;
        }
        case diag::TimelineKind::Wait: {
            // An async span: waits overlap each other and the runs of the thread.
            const QString name = QStringLiteral("wait %1").arg(place(e.file, e.line));
            QJsonObject b = event("b", name, "wait", e.startNs, mainTid);
            QJsonObject en = event("e", name, "wait", e.endNs, mainTid);
            b.insert(QStringLiteral("id"), ++waitId);
            en.insert(QStringLiteral("id"), waitId);
            QJsonObject args = who;
            args.insert(QStringLiteral("waitedNs"), static_cast<qint64>(e.endNs - e.startNs));
            b.insert(QStringLiteral("args"), args);
            events.append(b);
            events.append(en);
            break;
        }
        }
    }

    const auto nowNs = static_cast<quint64>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                std::chrono::steady_clock::now().time_since_epoch())
                                                .count());
    const auto report = [&](const SlowHandlerReport &s, bool stall) {
        const quint64 tid = s.thread != 0 ? s.thread : mainTid;
        threads.insert(tid);
        if (!s.threadName.isEmpty())
            threadNames[tid] = s.threadName;
        const quint64 start = s.endedAtNs > s.elapsedNs ? s.endedAtNs - s.elapsedNs : 0;
        QJsonObject args{
            {QStringLiteral("file"), s.handler.file},
            {QStringLiteral("line"), s.handler.line},
            {QStringLiteral("function"), s.handler.function},
            {QStringLiteral("registry"), static_cast<qint64>(s.handler.registryId)},
            {QStringLiteral("registryName"), s.handler.registryName},
            {QStringLiteral("handler"), static_cast<qint64>(s.handler.id.value())},
            {QStringLiteral("thread"), s.threadName},
            {QStringLiteral("elapsedNs"), static_cast<qint64>(s.elapsedNs)},
            // by its end, read precisely (its start may be the coarse clock's)
            {QStringLiteral("frame"), static_cast<qint64>(frames.at(stall ? s.endedAtNs : s.endedAtNs - 1))}};
        QJsonObject o;
        if (stall) {
            args.insert(QStringLiteral("stack"), QJsonArray::fromStringList(s.stack));
            o = event("i", QStringLiteral("stall %1").arg(place(s.handler)), "stall", s.endedAtNs, tid);
            o.insert(QStringLiteral("s"), QStringLiteral("t"));
        } else {
            o = event("X", QStringLiteral("slow %1").arg(place(s.handler)), "slow", start, tid);
            o.insert(QStringLiteral("dur"), micros(s.elapsedNs));
        }
        o.insert(QStringLiteral("args"), args);
        events.append(o);
    };
    const quint64 since = nowNs > lastNs ? nowNs - lastNs : 0;
    for (const SlowHandlerReport &s : slow)
        if (s.endedAtNs >= since)
            report(s, false);
    for (const SlowHandlerReport &s : stalls)
        if (s.endedAtNs >= since)
            report(s, true);

    QJsonArray meta;
    meta.append(QJsonObject{{QStringLiteral("ph"), QStringLiteral("M")},
                            {QStringLiteral("name"), QStringLiteral("process_name")},
                            {QStringLiteral("pid"), pid},
                            {QStringLiteral("tid"), 0},
                            {QStringLiteral("args"),
                             QJsonObject{{QStringLiteral("name"), QCoreApplication::applicationName()}}}});
    for (const quint64 tid : threads) {
        QString name = threadNames.count(tid) != 0 ? threadNames[tid] : threadName(tid);
        if (name.isEmpty())
            name = QStringLiteral("#%1").arg(tid);
        meta.append(QJsonObject{{QStringLiteral("ph"), QStringLiteral("M")},
                                {QStringLiteral("name"), QStringLiteral("thread_name")},
                                {QStringLiteral("pid"), pid},
                                {QStringLiteral("tid"), static_cast<qint64>(tid)},
                                {QStringLiteral("args"), QJsonObject{{QStringLiteral("name"), name}}}});
    }
    for (const QJsonValue e : std::as_const(events))
        meta.append(e);
    return QJsonDocument(QJsonObject{{QStringLiteral("traceEvents"), meta},
                                     {QStringLiteral("displayTimeUnit"), QStringLiteral("ms")}});
}

bool Diagnostics::writeTrace(const QString &path, std::chrono::nanoseconds last)
{
    const QByteArray json = toTrace(last).toJson(QJsonDocument::Compact);
    QSaveFile file(path);
    return file.open(QIODevice::WriteOnly) && file.write(json) == json.size() && file.commit();
}

} // namespace rio

namespace rio::detail {

// Marks the main thread's event-loop turns on the timeline (from a wait's end to the next wait), from the
// first time diagnostics are on with an application object; each turn costs a load while off.
void watchTurns()
{
    static std::mutex mutex;
    static QPointer<QAbstractEventDispatcher> watched;
    QCoreApplication *app = QCoreApplication::instance();
    if (app == nullptr)
        return;
    QAbstractEventDispatcher *dispatcher = app->thread()->eventDispatcher();
    const std::lock_guard lock(mutex);
    if (dispatcher == nullptr || watched == dispatcher)
        return;
    watched = dispatcher;
    static Turns turns;
    // A turn runs from the end of one wait to the start of the next: both at aboutToBlock (a
    // dispatcher runs its timers and sockets after `awake`, so that cannot be the start).
    QObject::connect(
        dispatcher, &QAbstractEventDispatcher::aboutToBlock, dispatcher,
        [] {
            if (mainThreadNumber.load(std::memory_order_relaxed) == 0)
                mainThreadNumber.store(diag::threadNumber(), std::memory_order_relaxed);
            diag::timelineTurnEnd(turns.mark, ++turns.number);
            turns.mark = diag::timelineTurnBegin();
        },
        Qt::DirectConnection);
}

} // namespace rio::detail
