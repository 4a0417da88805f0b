// SPDX-License-Identifier: MIT
// The frame timeline as Chrome's trace-event JSON (docs/DIAGNOSTICS.md), which Perfetto and
// chrome://tracing open: the main thread's event-loop turns, each Qt Quick window's frames on a
// track of its own, the handler runs and delivery waits in them, and the slow runs and stalls of
// every thread. Also the hooks that mark the turns and the windows' frames (reached through their
// meta-objects: nothing of Qt Gui or Qt Quick is linked).

#include "diagnostics_json_p.h"
#include "diagnostics_trace_p.h"
#include "diagnostics_windows_p.h"
#include "whole_file_p.h"

#include <registryio/detail/diagnostics.h>
#include <registryio/qt/detail/qt_tsan.h>
#include <registryio/qt/diagnostics.h>

#include <QAbstractEventDispatcher>
#include <QCoreApplication>
#include <QEvent>
#include <QFileInfo>
#include <QMetaMethod>
#include <QPointer>
#include <QThread>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace rio {

namespace {

namespace diag = detail::diag;
using detail::JsonText;
using detail::JsonTree;
using detail::WindowWatch;

// The main thread's number, as the turns' hook (below) saw it.
constinit std::atomic<quint64> mainThreadNumber{0};

// The main thread's turns, numbered from 1 (its own: only the main thread touches them).
struct Turns
{
    diag::TurnMark mark;
    quint64 number = 0;
};

// --- Windows' frames ---------------------------------------------------------------------------

// A window's track in the trace: a thread id no thread number reaches.
constexpr quint64 windowTrackBase = 1'000'000'000;
// How many destroyed windows' names the trace can show (the newest; a live window's is kept).
constexpr std::size_t windowNamesKept = 64;

std::mutex &windowNamesMutex()
{
    static std::mutex m;
    return m;
}

struct WindowName
{
    quint64 serial;
    QString name;
    bool gone = false; // its window is destroyed
};

// By serial, the newest last (any thread, under windowNamesMutex).
std::deque<WindowName> &windowNames()
{
    static std::deque<WindowName> names;
    return names;
}

void setWindowName(quint64 serial, QString name)
{
    const std::lock_guard lock(windowNamesMutex());
    auto &names = windowNames();
    for (WindowName &n : names)
        if (n.serial == serial) {
            n.name.swap(name);
            return;
        }
    names.push_back({serial, std::move(name)});
}

// Window `serial` is destroyed: its name is kept while it is among the newest destroyed.
void setWindowGone(quint64 serial)
{
    const std::lock_guard lock(windowNamesMutex());
    auto &names = windowNames();
    std::size_t gone = 0;
    for (WindowName &n : names) {
        n.gone = n.gone || n.serial == serial;
        gone += n.gone ? 1 : 0;
    }
    if (gone > windowNamesKept)
        names.erase(std::find_if(names.begin(), names.end(), [](const WindowName &n) { return n.gone; }));
}

QString windowName(quint64 serial)
{
    {
        const std::lock_guard lock(windowNamesMutex());
        for (const WindowName &n : windowNames())
            if (n.serial == serial)
                return n.name;
    }
    return QStringLiteral("window %1").arg(serial);
}

// The application's event filter while the timeline records: finds the Qt Quick windows by the
// update requests and exposures that begin their frames. Main thread only; removed, and every
// window's signals disconnected, at the first event or turn after diagnostics go off.
class WindowFrames final : public QObject
{
public:
    using QObject::QObject;

    // A start posted by another thread and not yet run.
    static inline std::atomic<bool> startPosted{false};

    // Main thread: watch (again) while the timeline records; a QCoreApplication, which shows no
    // window, is not filtered.
    static void start()
    {
        startPosted.store(false, std::memory_order_relaxed);
        QCoreApplication *const app = QCoreApplication::instance();
        if (app == nullptr || !diag::timelineRecording() || !app->inherits("QGuiApplication"))
            return;
        if (!instance)
            instance = new WindowFrames(app);
        if (!std::exchange(instance->m_on, true))
            app->installEventFilter(instance);
    }
    // Main thread, as its event loop is about to wait.
    static void turnEnded()
    {
        if (!instance || !instance->m_on)
            return;
        if (!diag::timelineRecording()) {
            instance->park();
            return;
        }
        auto &windows = instance->m_windows;
        windows.erase(
            std::remove_if(windows.begin(), windows.end(), [](const auto &w) { return w.isNull(); }),
            windows.end());
        for (const QPointer<WindowWatch> &w : windows)
            w->turnEnded();
    }
    // Main thread: diagnostics went off.
    static void parkAll()
    {
        if (instance)
            instance->park();
    }

private:
    bool eventFilter(QObject *watched, QEvent *event) override
    {
        if (event->type() != QEvent::UpdateRequest && event->type() != QEvent::Expose)
            return false;
        if (!diag::timelineRecording()) {
            park();
            return false;
        }
        auto *w = watched->findChild<WindowWatch *>(QString(), Qt::FindDirectChildrenOnly);
        if (w == nullptr) {
            if (!watched->isWindowType() || !watched->inherits("QQuickWindow"))
                return false;
            w = new WindowWatch(watched);
            m_windows.emplace_back(w);
        }
        w->watch();
        w->requested();
        return false;
    }
    void park()
    {
        if (!std::exchange(m_on, false))
            return;
        if (QCoreApplication *const app = QCoreApplication::instance())
            app->removeEventFilter(this);
        for (const QPointer<WindowWatch> &w : m_windows)
            if (w)
                w->unwatch();
    }

    static inline QPointer<WindowFrames> instance; // main thread only
    std::vector<QPointer<WindowWatch>> m_windows;
    bool m_on = false;
};

// Main thread: diagnostics went off, seen by a window's frame.
void parkWindowFrames()
{
    WindowFrames::parkAll();
}

// Spans of the timeline (the main thread's turns, the windows' frames), to name the one a time
// falls in: the latest begun that holds it (windows' frames may overlap), else one that ended
// less than `slack` before it (a time read with another clock), else none.
class Spans
{
public:
    struct Span
    {
        quint64 start, end, number, window;
    };
    void add(const Span &span) { m_spans.push_back(span); }
    void sort()
    {
        std::sort(m_spans.begin(), m_spans.end(),
                  [](const Span &a, const Span &b) { return a.start < b.start; });
    }
    [[nodiscard]] const Span *at(quint64 ns, quint64 slack) const
    {
        auto it = std::upper_bound(m_spans.begin(), m_spans.end(), ns,
                                   [](quint64 t, const Span &s) { return t < s.start; });
        const Span *near = nullptr;
        for (int back = 0; it != m_spans.begin() && back < 16; ++back) {
            --it;
            if (ns <= it->end)
                return &*it;
            if (near == nullptr && ns <= it->end + slack)
                near = &*it;
        }
        return near;
    }
    // The number of the turn `ns` falls in (0: none kept), with a millisecond's slack: a time read
    // with steady_clock (a slow run's end) may land that far out of the turns' converted ticks.
    [[nodiscard]] quint64 turnAt(quint64 ns) const
    {
        const Span *s = at(ns, 1'000'000);
        return s != nullptr ? s->number : 0;
    }

private:
    std::vector<Span> m_spans;
};

// What a trace shows, read at once: the timeline's entries, the slow runs and stalls, the
// names, and the indexes that place a time in a frame.
struct TraceInput
{
    std::vector<diag::TimelineEntry> entries;
    QList<SlowHandlerReport> slow;
    QList<SlowHandlerReport> stalls;
    std::map<quint64, QByteArray> registryNames;
    // Where a QML handler was added (its QML file and line, as the table says), by registry and id.
    std::map<std::pair<quint64, quint64>, std::pair<QByteArray, int>> origins;
    std::map<quint64, QByteArray> windowNames; // by serial, read once
    std::map<quint64, QString> threadNames;    // the tracks of threads, by thread number
    Spans frames;                              // the main thread's turns
    Spans windowFrames;
    std::vector<bool> slowEntry; // the entries exported as slow runs (matchSlowRuns)
    quint64 mainTid = 1;
    quint64 since = 0; // reports that ended before are not shown
    qint64 pid = 0;
};

// A slow run on the main thread is also a timeline entry (its turn holds it): once, as slow.
// Each report takes one entry, the newest report first: the latest run of its handler not taken
// yet that lasted as long (the same ticks, converted at two moments: a millionth apart at most,
// and 1 µs of rounding) and ended by its report (read beside that end; 2 ms for the two
// clocks), if it ended within 2 ms of it. Its thread ran nothing between its entry and its
// report, so that entry is its own: the handler's other runs around it are runs, and so is an
// older slow run whose report the 64 kept dropped.
std::vector<bool> matchSlowRuns(const std::vector<diag::TimelineEntry> &entries,
                                const QList<SlowHandlerReport> &slow)
{
    const auto near = [](quint64 a, quint64 b, quint64 by) { return (a > b ? a - b : b - a) <= by; };
    std::vector<bool> slowEntry(entries.size(), false);
    for (qsizetype k = slow.size(); k-- > 0;) {
        const SlowHandlerReport &s = slow[k];
        for (std::size_t i = entries.size(); i-- > 0;) {
            const diag::TimelineEntry &e = entries[i];
            if (e.kind != diag::TimelineKind::Run || slowEntry[i] || s.handler.registryId != e.registry ||
                s.handler.id != e.id || e.endNs > s.endedAtNs + 2'000'000 ||
                !near(s.elapsedNs, e.endNs - e.startNs, (s.elapsedNs / 1000) + 1000))
                continue;
            slowEntry[i] = near(s.endedAtNs, e.endNs, 2'000'000); // not, when the ring dropped its own
            break;
        }
    }
    return slowEntry;
}

TraceInput readTrace(std::chrono::nanoseconds last)
{
    TraceInput in;
    const auto lastNs = static_cast<quint64>(std::max<std::int64_t>(last.count(), 0));
    in.entries = diag::timeline(lastNs);
    in.slow = Diagnostics::recentSlowRuns();
    in.stalls = Diagnostics::recentStalls();
    for (const RegistryInfo &r : Diagnostics::snapshot()) {
        in.registryNames[r.id] = r.name.toUtf8();
        for (const HandlerInfo &h : r.handlers)
            if (!h.originFile.isEmpty())
                in.origins[{r.id, h.id.value()}] = {h.originFile.toUtf8(), h.originLine};
    }
    in.pid = QCoreApplication::applicationPid();
    if (const quint64 main = mainThreadNumber.load(std::memory_order_relaxed); main != 0)
        in.mainTid = main;
    for (const diag::TimelineEntry &e : in.entries) {
        if (e.kind == diag::TimelineKind::Turn)
            in.frames.add({e.startNs, e.endNs, e.turn, 0});
        if (e.kind == diag::TimelineKind::Frame) {
            in.windowFrames.add({e.startNs, e.endNs, e.turn, e.window});
            if (in.windowNames.count(e.window) == 0)
                in.windowNames[e.window] = windowName(e.window).toUtf8();
        }
    }
    in.frames.sort();
    in.windowFrames.sort();
    in.slowEntry = matchSlowRuns(in.entries, in.slow);
    const auto nowNs = static_cast<quint64>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                std::chrono::steady_clock::now().time_since_epoch())
                                                .count());
    in.since = nowNs > lastNs ? nowNs - lastNs : 0;
    // Each thread a report shown ran on has a track, named as the report names it.
    in.threadNames[in.mainTid] = QStringLiteral("main");
    for (const QList<SlowHandlerReport> *reports : {&in.slow, &in.stalls})
        for (const SlowHandlerReport &s : *reports)
            if (s.endedAtNs >= in.since) {
                QString &name = in.threadNames[s.thread != 0 ? s.thread : in.mainTid];
                if (!s.threadName.isEmpty())
                    name = s.threadName;
            }
    for (auto &[tid, name] : in.threadNames)
        if (name.isEmpty())
            name = Diagnostics::threadName(tid);
    return in;
}

// Writes a trace's events to `Out` (JsonText or JsonTree): the tracks' names, the timeline's
// entries, then the slow runs and stalls.
template <typename Out>
class TraceWriter
{
public:
    TraceWriter(Out &out, const TraceInput &in) : m_out(out), m_in(in) { }

    void write()
    {
        m_out.open().key("traceEvents").openArray();
        name("process_name", 0, QCoreApplication::applicationName().toUtf8());
        for (const auto &[tid, thread] : m_in.threadNames)
            name("thread_name", tid, (thread.isEmpty() ? QStringLiteral("#%1").arg(tid) : thread).toUtf8());
        for (const auto &[serial, window] : m_in.windowNames)
            name("thread_name", windowTrackBase + serial, window);
        for (std::size_t i = 0; i != m_in.entries.size(); ++i)
            if (!m_in.slowEntry[i]) // exported below, as a slow run
                entry(m_in.entries[i]);
        for (const SlowHandlerReport &s : m_in.slow)
            if (s.endedAtNs >= m_in.since)
                report(s, false);
        for (const SlowHandlerReport &s : m_in.stalls)
            if (s.endedAtNs >= m_in.since)
                report(s, true);
        m_out.close().key("displayTimeUnit").text("ms").close();
    }

private:
    // A track's name (metadata).
    void name(const char *what, quint64 tid, QByteArrayView value)
    {
        m_out.open().key("ph").text("M").key("name").text(what).key("pid").number(m_in.pid);
        m_out.key("tid").number(static_cast<qint64>(tid)).key("args").open().key("name").text(value);
        m_out.close().close();
    }
    // An event's common fields, its object left open for the rest.
    Out &event(const char *ph, QByteArrayView name, const char *cat, quint64 ts, quint64 tid)
    {
        m_out.open().key("ph").text(ph).key("name").text(name).key("cat").text(cat).key("ts").micros(ts);
        return m_out.key("pid").number(m_in.pid).key("tid").number(static_cast<qint64>(tid));
    }
    void entry(const diag::TimelineEntry &e)
    {
        switch (e.kind) {
        case diag::TimelineKind::Frame:
            windowFrame(e);
            break;
        case diag::TimelineKind::Turn:
            event("X", "frame " + QByteArray::number(e.turn), "frame", e.startNs, m_in.mainTid)
                .key("dur")
                .micros(e.endNs - e.startNs);
            m_out.key("args").open().key("frame").number(static_cast<qint64>(e.turn)).close().close();
            break;
        case diag::TimelineKind::Run:
            event("X", placeOf(e), "handler", e.startNs, m_in.mainTid).key("dur").micros(e.endNs - e.startNs);
            who(m_out.key("args").open(), e, e.startNs);
            m_out.close().close();
            break;
        case diag::TimelineKind::Wait:
            wait(e);
            break;
        }
    }
    // With the threaded render loop the GUI thread begins a frame while the render thread still
    // presents the one before: spans on a track do not overlap, so this one's begins where that
    // one ended, and `begun` tells when it began.
    void windowFrame(const diag::TimelineEntry &e)
    {
        std::uint64_t &previousEnd = m_windowEnds[e.window];
        const std::uint64_t start = std::clamp(previousEnd, e.startNs, e.endNs);
        previousEnd = e.endNs;
        event("X", "frame " + QByteArray::number(e.turn), "window", start, windowTrackBase + e.window)
            .key("dur")
            .micros(e.endNs - start);
        m_out.key("args").open().key("window").text(m_in.windowNames.at(e.window));
        m_out.key("frame").number(static_cast<qint64>(e.turn)).key("begun").micros(e.startNs).close().close();
    }
    // An async span: waits overlap each other and the runs of the thread. A wait is named by its
    // run's start, as the run by its start.
    void wait(const diag::TimelineEntry &e)
    {
        const QByteArray name = "wait " + placeOf(e);
        ++m_waitId;
        event("b", name, "wait", e.startNs, m_in.mainTid).key("id").number(m_waitId).key("args").open();
        who(m_out, e, e.endNs)
            .key("waitedNs")
            .number(static_cast<qint64>(e.endNs - e.startNs))
            .close()
            .close();
        event("e", name, "wait", e.endNs, m_in.mainTid).key("id").number(m_waitId).close();
    }
    // The args of a run or a wait: who ran, and in which frames.
    Out &who(Out &out, const diag::TimelineEntry &e, quint64 at)
    {
        const auto [file, line] = originOf(e);
        out.key("file").text(file).key("line").number(qint64{line});
        out.key("registry")
            .number(static_cast<qint64>(e.registry))
            .key("registryName")
            .text(registryName(e.registry));
        out.key("handler").number(static_cast<qint64>(e.id.value()));
        out.key("frame").number(static_cast<qint64>(m_in.frames.turnAt(e.startNs)));
        return inWindowFrame(at, 0);
    }
    // The window frame a time fell in, as `window` and `windowFrame`: exactly for a time of the
    // timeline's clock (a run between two frames is in none), with a millisecond's slack for one
    // read with steady_clock (a slow run's end).
    Out &inWindowFrame(quint64 ns, quint64 slack)
    {
        if (const Spans::Span *f = m_in.windowFrames.at(ns, slack))
            m_out.key("window")
                .text(m_in.windowNames.at(f->window))
                .key("windowFrame")
                .number(static_cast<qint64>(f->number));
        return m_out;
    }
    void report(const SlowHandlerReport &s, bool stall)
    {
        const quint64 tid = s.thread != 0 ? s.thread : m_in.mainTid;
        const quint64 start = s.endedAtNs > s.elapsedNs ? s.endedAtNs - s.elapsedNs : 0;
        const HandlerInfo &h = s.handler;
        const bool qml = !h.originFile.isEmpty();
        const QByteArray where = QFileInfo(qml ? h.originFile : h.file).fileName().toUtf8() + ':' +
                                 QByteArray::number(qml ? h.originLine : h.line);
        if (stall)
            event("i", "stall " + where, "stall", s.endedAtNs, tid).key("s").text("t");
        else
            event("X", "slow " + where, "slow", start, tid).key("dur").micros(s.elapsedNs);
        m_out.key("args").open().key("file").text(qml ? h.originFile : h.file);
        m_out.key("line").number(qint64{qml ? h.originLine : h.line});
        m_out.key("function").text(h.function).key("registry").number(static_cast<qint64>(h.registryId));
        m_out.key("registryName")
            .text(h.registryName)
            .key("handler")
            .number(static_cast<qint64>(h.id.value()));
        m_out.key("thread").text(s.threadName).key("elapsedNs").number(static_cast<qint64>(s.elapsedNs));
        // The main thread's: the turn it ended in, kept with it (the ring may have dropped that
        // turn). Another thread's: the main thread's turn its end, read precisely, fell in (its
        // start may be the coarse clock's).
        const quint64 at = stall ? s.endedAtNs : s.endedAtNs - 1;
        m_out.key("frame").number(static_cast<qint64>(s.frame != 0 ? s.frame : m_in.frames.turnAt(at)));
        inWindowFrame(at, 1'000'000);
        if (stall) {
            m_out.key("stack").openArray();
            for (const QString &frame : s.stack)
                m_out.text(frame);
            m_out.close();
        }
        m_out.close().close();
    }
    // A run's handler: its QML file and line, else its source location.
    [[nodiscard]] std::pair<QByteArray, int> originOf(const diag::TimelineEntry &e) const
    {
        const auto origin = m_in.origins.find({e.registry, e.id.value()});
        return origin != m_in.origins.end() ? origin->second
                                            : std::pair(QByteArray(e.file != nullptr ? e.file : ""), e.line);
    }
    // Its file's last part and line, as a span is named.
    [[nodiscard]] QByteArray placeOf(const diag::TimelineEntry &e) const
    {
        const auto [file, line] = originOf(e);
        return QFileInfo(QString::fromUtf8(file)).fileName().toUtf8() + ':' + QByteArray::number(line);
    }
    const QByteArray &registryName(quint64 id)
    {
        static const QByteArray none;
        const auto it = m_in.registryNames.find(id);
        return it != m_in.registryNames.end() ? it->second : none;
    }

    Out &m_out;
    const TraceInput &m_in;
    qint64 m_waitId = 0;
    std::map<quint64, std::uint64_t> m_windowEnds; // by window: its last frame's end
};

} // namespace

QByteArray detail::traceJson(std::chrono::nanoseconds last)
{
    const TraceInput in = readTrace(last);
    QByteArray text;
    text.reserve(static_cast<qsizetype>(in.entries.size()) * 320 + 4096);
    JsonText out(text);
    TraceWriter<JsonText>(out, in).write();
    return text;
}

QJsonDocument Diagnostics::toTrace(std::chrono::nanoseconds last)
{
    JsonTree out;
    TraceWriter<JsonTree>(out, readTrace(last)).write();
    return QJsonDocument(out.take().toObject());
}

bool Diagnostics::writeTrace(const QString &path, std::chrono::nanoseconds last)
{
    return detail::writeWholeFile(path, detail::traceJson(last));
}

} // namespace rio

namespace rio::detail {

// Marks the main thread's event-loop turns on the timeline (from a wait's end to the next wait), from the
// first time diagnostics are on with an application object; each turn costs two loads while off.
// While on, also the frames of the Qt Quick windows (WindowFrames).
void watchTurns()
{
    static std::mutex mutex;
    static QPointer<QAbstractEventDispatcher> watched;
    QCoreApplication *app = QCoreApplication::instance();
    // An application being destroyed (another thread may create registries until after main
    // returned) is not touched: nothing of it is watched any more.
    if (app == nullptr || QCoreApplication::closingDown())
        return;
    // Only the main thread watches (its dispatcher and the application's event filters are its
    // own; another thread may read them while the application is destroyed): another thread
    // posts the watch there, once until it ran, not once per registry it creates.
    if (QThread::currentThread() != app->thread()) {
        if (!WindowFrames::startPosted.exchange(true, std::memory_order_relaxed)) {
            [[maybe_unused]] const TsanPostScope posting;
            QMetaObject::invokeMethod(app, Handover([] { watchTurns(); }), Qt::QueuedConnection);
        }
        return;
    }
    WindowFrames::start();
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
            WindowFrames::turnEnded();
            diag::timelineTurnEnd(turns.mark, ++turns.number);
            turns.mark = diag::timelineTurnBegin();
        },
        Qt::DirectConnection);
}

} // namespace rio::detail

namespace rio::detail {

namespace {
std::atomic<quint64> nextWindowSerial{1};
} // namespace

WindowWatch::WindowWatch(QObject *window)
    : QObject(window), m_serial(nextWindowSerial.fetch_add(1, std::memory_order_relaxed)), m_gui(thread())
{ }

WindowWatch::~WindowWatch()
{
    flush();
    setWindowGone(m_serial);
}

void WindowWatch::watch()
{
    if (m_connections[0])
        return;
    QObject *const window = parent();
    const QMetaObject *const meta = window->metaObject();
    const auto signal = [meta](const char *s) { return meta->method(meta->indexOfSignal(s)); };
    const auto slot = [](const char *s) { return staticMetaObject.method(staticMetaObject.indexOfSlot(s)); };
    m_connections = {
        connect(window, signal("afterAnimating()"), this, slot("animated()"), Qt::DirectConnection),
        connect(window, signal("beforeSynchronizing()"), this, slot("synchronizing()"), Qt::DirectConnection),
        connect(window, signal("frameSwapped()"), this, slot("swapped()"), Qt::DirectConnection),
        connect(window, signal("windowTitleChanged(QString)"), this, slot("renamed()")),
        connect(window, &QObject::objectNameChanged, this, &WindowWatch::renamed)};
    renamed();
}

void WindowWatch::unwatch()
{
    for (QMetaObject::Connection &c : m_connections)
        disconnect(std::exchange(c, {}));
}

void WindowWatch::requested() noexcept
{
    m_requested = diag::timelineTicks();
}

void WindowWatch::turnEnded() noexcept
{
    flush();
    m_requested = 0;
}

void WindowWatch::animated()
{
    if (!diag::timelineRecording()) {
        parkWindowFrames();
        return;
    }
    flush(); // an earlier frame presented since (by a render thread)
    const quint64 start = m_requested != 0 ? std::exchange(m_requested, 0) : diag::timelineTicks();
    ++m_number;
    m_starts[m_number % m_starts.size()] = {m_number, start};
    m_begun.store(m_number, std::memory_order_relaxed);
}

void WindowWatch::synchronizing()
{
    m_synced.store(m_begun.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

void WindowWatch::swapped()
{
    const quint64 number = m_synced.load(std::memory_order_relaxed);
    const quint64 seq = m_seq.load(std::memory_order_relaxed);
    m_seq.store(seq + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    m_ended.store(number, std::memory_order_relaxed);
    m_endedAt.store(diag::timelineTicks(), std::memory_order_relaxed);
    m_seq.store(seq + 2, std::memory_order_release);
    if (QThread::currentThread() == m_gui)
        flush();
}

void WindowWatch::renamed()
{
    QObject *const window = parent();
    QString name = window->property("title").toString();
    if (name.isEmpty())
        name = window->objectName();
    if (name.isEmpty())
        name = QStringLiteral("window %1").arg(m_serial);
    setWindowName(m_serial, std::move(name));
}

// GUI thread: the last frame presented, on the ring if it began while watched.
void WindowWatch::flush() noexcept
{
    const quint64 seq = m_seq.load(std::memory_order_acquire);
    if ((seq & 1U) != 0)
        return; // being published: the next flush takes it
    const quint64 number = m_ended.load(std::memory_order_relaxed);
    const quint64 end = m_endedAt.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (m_seq.load(std::memory_order_relaxed) != seq || number <= m_recorded)
        return;
    m_recorded = number;
    const Start &s = m_starts[number % m_starts.size()];
    if (s.number == number && end >= s.ticks)
        diag::timelineFrame(m_serial, number, s.ticks, end);
}

} // namespace rio::detail
