// SPDX-License-Identifier: MIT
// rio::Diagnostics: snapshots of every live registry (the core's records, to which the Qt layer
// adds its handlers' options, waiting deliveries and names), the process-wide switch (API,
// RIO_DIAGNOSTICS, logging rules), thread names, and the reports of slow and stalled handlers
// (log and signals).

#include "diagnostics_json_p.h"
#include "printable_p.h"
#include "qt_control.h"
#include "qt_handler_state.h"

#include <registryio/qt/detail/qt_delivery.h>

#include <registryio/detail/diagnostics.h>
#include <registryio/detail/registry_core.h>
#include <registryio/qt/detail/qml_hooks.h>
#include <registryio/qt/detail/qt_registrations.h>
#include <registryio/qt/diagnostics.h>
#include <registryio/qt/qt_registry_base.h>

#include <QCoreApplication>
#include <QThread>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <mutex>
#include <numeric>
#include <unordered_map>
#include <utility>

namespace rio::detail {
// Marks the main thread's event-loop turns on the frame timeline (diagnostics_trace.cpp).
void watchTurns();
// Registers the writing of the file RIO_DIAGNOSTICS_JSON names at exit (diagnostics_json.cpp).
void writeDiagnosticsJsonAtExit();
} // namespace rio::detail

namespace rio {

namespace {

using detail::printable; // a log line's names

TimeHistogram histogramOf(const detail::diag::HistogramRecord &recorded)
{
    TimeHistogram out;
    std::copy(recorded.buckets.begin(), recorded.buckets.end(), out.buckets.begin());
    out.nsPerTick = recorded.nsPerTick;
    out.totalNs = recorded.totalNs;
    out.maxNs = recorded.maxNs;
    out.count = std::accumulate(recorded.buckets.begin(), recorded.buckets.end(), quint64{0});
    return out;
}

// Thread names by thread number while the thread lives: recorded when a thread first adds a
// handler or first runs a timed one (the core's per-thread hook), erased when it exits.
struct ThreadNames
{
    std::mutex mutex;
    std::unordered_map<quint64, QString> names;
};

ThreadNames &threadNames()
{
    static auto *names = new ThreadNames; // NOLINT(bugprone-unhandled-exception-at-new)
    return *names;
}

QString nameOf(const QThread *thread)
{
    if (thread == nullptr)
        return {};
    const QCoreApplication *app = QCoreApplication::instance();
    if (app != nullptr && thread == app->thread())
        return QStringLiteral("main");
    return thread->objectName();
}

// The calling thread's entry in the names, erased when the thread exits.
struct ThreadNameEntry
{
    quint64 number = 0;
    bool beforeApplication = false; // named with no application object: named again once there is
    ThreadNameEntry() = default;
    ThreadNameEntry(const ThreadNameEntry &) = delete;
    ThreadNameEntry &operator=(const ThreadNameEntry &) = delete;
    ~ThreadNameEntry()
    {
        if (number == 0)
            return;
        ThreadNames &t = threadNames();
        std::lock_guard lock(t.mutex);
        t.names.erase(number);
    }
};

// Records the calling thread's name (once per thread, again once an application object exists
// if there was none; "#N" when it has none).
void noteThread() noexcept
{
    static thread_local ThreadNameEntry entry;
    if (entry.number != 0 && !entry.beforeApplication)
        return;
    try {
        const quint64 n = detail::diag::threadNumber();
        entry.beforeApplication = QCoreApplication::instance() == nullptr;
        QString name = nameOf(QThread::currentThread());
        if (name.isEmpty())
            name = QStringLiteral("#%1").arg(n);
        ThreadNames &t = threadNames();
        std::lock_guard lock(t.mutex);
        t.names[n] = std::move(name);
        entry.number = n;
    } catch (...) {
        // No memory: reports say "#N".
    }
}

constinit std::atomic<Diagnostics *> theInstance{nullptr};

void setWhere(HandlerInfo &h, const SourceLocation &where)
{
    h.file = QString::fromUtf8(where.fileName());
    h.line = static_cast<int>(where.line());
    h.function = QString::fromUtf8(where.functionName());
}

// `registryName` and `eventType`: the registry's, converted once for all its handlers.
HandlerInfo toInfo(const detail::diag::RegistryRecord &reg, const detail::diag::HandlerRecord &h,
                   const QString &registryName, const QString &eventType)
{
    HandlerInfo info;
    info.registryId = reg.serial;
    info.registryName = registryName;
    info.eventType = eventType;
    info.id = h.id;
    setWhere(info, h.where);
    info.addedThread = h.thread;
    info.priority = h.priority;
    info.suspended = h.suspended;
    info.calls = h.calls;
    info.failures = h.failures;
    info.slowRuns = h.slowRuns;
    info.timed = h.timed;
    if (h.runTime != h.none)
        info.runTime = histogramOf(reg.histogram(h.runTime));
    if (h.queueDelay != h.none)
        info.queueDelay = histogramOf(reg.histogram(h.queueDelay));
    std::copy(h.drops.begin(), h.drops.end(), info.drops.begin());
    info.maxWaiting = h.maxWaiting;
    info.coalesced = h.coalesced;
    return info;
}

// The Qt layer's part of a handler's record, read from the handler itself: its options, waiting
// deliveries and names (the core's record holds the rest). Takes its locks, never a registry's.
void describe(detail::QtHandlerState &s, HandlerInfo &h)
{
    h.hasContext = s.hasContext;
    h.connection = s.hasContext ? s.type : Qt::DirectConnection;
    h.delivery = s.delivery;
    h.capacity = s.capacity;
    h.overflow = s.overflow;
    h.once = s.once;
    h.suspended = s.suspended.load(std::memory_order_relaxed);
    std::lock_guard lock(s.mutex);
    if (s.hasContext && s.stats.load(std::memory_order_relaxed) != nullptr) { // (not while it takes them)
        std::size_t taken = 0;
        {
            const std::lock_guard drain(s.drainMutex); // after `mutex`, as a notifier takes them
            taken = s.taken.size();
        }
        const auto latest = s.latestCountsLocked();
        h.waiting = s.mail.size() + taken + latest.waiting;
        h.coalesced = latest.coalesced; // with a cell's newest writes
    }
    if (s.origin.thread != 0)
        h.addedThread = s.origin.thread;
    h.contextClass = s.origin.contextClass;
    h.contextName = s.origin.contextName;
    h.contextThreadName = s.origin.contextThreadName;
    h.originFile = s.origin.file;
    h.originLine = s.origin.line;
    h.maxWaiting = std::max(h.maxWaiting, h.waiting);
}

void fillThreadNames(QList<RegistryInfo> &out)
{
    ThreadNames &t = threadNames();
    std::lock_guard lock(t.mutex);
    for (RegistryInfo &r : out) {
        for (HandlerInfo &h : r.handlers) {
            if (h.addedThreadName.isEmpty()) {
                const auto it = t.names.find(h.addedThread);
                if (it != t.names.end())
                    h.addedThreadName = it->second;
            }
        }
    }
}

RegistryInfo infoOf(const detail::diag::RegistryRecord &reg)
{
    RegistryInfo info;
    info.id = reg.serial;
    info.name = QString::fromStdString(reg.name);
    info.eventType = QString::fromStdString(reg.eventType);
    info.diagnosticsEnabled = reg.enabled;
    std::copy(reg.leftDrops.begin(), reg.leftDrops.end(), info.removedHandlerDrops.begin());
    info.handlers.reserve(static_cast<qsizetype>(reg.handlers.size()));
    for (const auto &h : reg.handlers)
        info.handlers.push_back(toInfo(reg, h, info.name, info.eventType));
    return info;
}

// The live QtRegistry objects by id, from attachDiagnostics to detachDiagnostics, which their
// destruction runs first: one found here under the mutex lives while it is held; and, while the
// core keeps destroyed registries (RIO_DIAGNOSTICS_JSON), the last departedKept as they were just
// before they died. Never destroyed.
struct Facade
{
    const detail::RegistryCore *core;
    const detail::QtRegistrations *registrations;
};
struct Facades
{
    std::mutex mutex;
    std::map<quint64, Facade> byId;
    QList<RegistryInfo> departed;
};

Facades &facades()
{
    static auto *list = new Facades; // NOLINT(bugprone-unhandled-exception-at-new)
    return *list;
}

// A QtRegistry's record: the core's part, and its handlers as its table held them then.
struct FacadeRecord
{
    detail::diag::RegistryRecord record;
    std::vector<std::shared_ptr<detail::QtHandlerCore>> handlers;
};

// The live QtRegistry objects' records (serial 0: every one; else that one, if it is one).
std::vector<FacadeRecord> facadeRecords(quint64 serial, bool handlers)
{
    std::vector<FacadeRecord> out;
    Facades &f = facades();
    std::lock_guard lock(f.mutex);
    const auto take = [&](const Facade &facade) {
        FacadeRecord &r = out.emplace_back();
        detail::diag::Registries::record(*facade.core, r.record, handlers);
        if (handlers)
            r.handlers = facade.registrations->cores();
    };
    if (serial == 0)
        for (const auto &entry : f.byId)
            take(entry.second);
    else if (const auto it = f.byId.find(serial); it != f.byId.end())
        take(it->second);
    return out;
}

// Completes the core's part of `handlers` (in id order) with the Qt layer's, read from `cores`.
void fillLayer(QList<HandlerInfo> &handlers, std::vector<std::shared_ptr<detail::QtHandlerCore>> cores)
{
    const auto byId = [](const auto &core, quint64 id) { return core->id.value() < id; };
    std::sort(cores.begin(), cores.end(), [](const auto &a, const auto &b) { return a->id < b->id; });
    auto c = cores.cbegin();
    for (HandlerInfo &h : handlers) {
        c = std::lower_bound(c, cores.cend(), h.id.value(), byId);
        if (c != cores.cend() && (*c)->id == h.id)
            describe(detail::state(**c), h);
    }
}

// Every live registry (serial 0) or the one with that id, with its handlers when `handlers`.
QList<RegistryInfo> build(quint64 serial, bool handlers = true)
{
    std::vector<FacadeRecord> layered = facadeRecords(serial, handlers);
    std::vector<detail::diag::RegistryRecord> plain;
    if (serial == 0 || layered.empty()) // a serial's registry: the facade's, else the core's
        plain = detail::diag::collect(serial, handlers);
    QList<RegistryInfo> out;
    out.reserve(static_cast<qsizetype>(plain.size()) + static_cast<qsizetype>(layered.size()));
    // Each record's memory goes to the next registry's handlers: the snapshot's peak is lower.
    for (auto &reg : plain)
        out.push_back(infoOf(std::exchange(reg, {})));
    for (FacadeRecord &f : layered) {
        RegistryInfo &info = out.emplace_back(infoOf(std::exchange(f.record, {})));
        info.qt = true;
        fillLayer(info.handlers, std::exchange(f.handlers, {}));
    }
    std::sort(out.begin(), out.end(),
              [](const RegistryInfo &a, const RegistryInfo &b) { return a.id < b.id; });
    fillThreadNames(out);
    return out;
}

// `gone` (if not null): set when the run's registry is destroyed (the report keeps its id, which
// names it among the destroyed registries kept for the JSON file).
SlowHandlerReport toReport(const detail::diag::SlowRun &run, bool *gone = nullptr)
{
    SlowHandlerReport report;
    report.elapsedNs = run.elapsedNs;
    report.thread = run.thread;
    report.stillRunning = run.stillRunning;
    report.frame = run.turn;
    if (!run.stack.empty())
        report.stack = QString::fromStdString(run.stack).split(u'\n');
    // The name the run recorded (its thread may have exited), else the live thread's (a stall).
    report.threadName =
        run.threadName.empty() ? Diagnostics::threadName(run.thread) : QString::fromStdString(run.threadName);
    if (report.threadName.isEmpty())
        report.threadName = QStringLiteral("#%1").arg(run.thread);
    // The handler as a snapshot of its registry sees it; what the run recorded if it is gone.
    const QList<RegistryInfo> regs = build(run.registry);
    if (!regs.isEmpty()) {
        for (const HandlerInfo &h : regs.front().handlers) {
            if (h.id == run.id) {
                report.handler = h;
                return report;
            }
        }
    }
    if (gone != nullptr)
        *gone = regs.isEmpty();
    report.handler.registryId = run.registry;
    report.handler.id = run.id;
    report.handler.eventType = QString::fromStdString(run.eventType);
    if (!regs.isEmpty()) { // a handler removed since: its registry still names itself
        report.handler.registryName = regs.front().name;
        report.handler.eventType = regs.front().eventType;
    }
    setWhere(report.handler, run.where);
    return report;
}

} // namespace

QString detail::describeHandler(const HandlerInfo &h)
{
    const QString where = printable(whereFull(h)); // its QML place first, as the model shows it
    if (h.registryId == 0)                         // its registry destroyed
        return QStringLiteral("handler %1 of a destroyed registry, added at %2").arg(h.id.value()).arg(where);
    return QStringLiteral("handler %1 of registry %2 \"%3\" (%4), added at %5")
        .arg(h.id.value())
        .arg(h.registryId)
        .arg(printable(h.registryName), printable(h.eventType), where);
}

QString detail::describeHandler(quint64 registryId, QtHandlerState &handler)
{
    // Its registry as the core's record names it; the handler as it recorded itself (what a
    // snapshot completes its record with, also once it is removed).
    HandlerInfo h;
    if (registryId != 0) {
        const QList<RegistryInfo> records = build(registryId, false);
        if (records.isEmpty()) {
            registryId = 0; // destroyed since its id was read (a deliveriesDropped slot, a thread)
        } else {
            h.registryName = records.front().name;
            h.eventType = records.front().eventType;
        }
    }
    h.registryId = registryId;
    h.id = handler.id;
    setWhere(h, handler.where);
    {
        std::lock_guard lock(handler.mutex);
        h.originFile = handler.origin.file;
        h.originLine = handler.origin.line;
    }
    return describeHandler(h);
}

namespace {

// The core's report of a slow run (on its thread) or a stall (on the watchdog thread): logged to
// `registryio.diagnostics` and signalled. No lock of ours is held.
void slowSink(const detail::diag::SlowRun &run) noexcept
{
    try {
        bool gone = false;
        const SlowHandlerReport r = toReport(run, &gone);
        HandlerInfo named = r.handler;
        if (gone)
            named.registryId = 0; // named as of a destroyed registry
        const double ms = static_cast<double>(r.elapsedNs) / 1e6;
        // Reported while it runs (the stall threshold) or after it ended (the slow threshold).
        const QString text = r.stillRunning ? QStringLiteral("%1, has been running for %2 ms on thread %3")
                                            : QStringLiteral("slow %1, ran %2 ms on thread %3");
        // A stall names where its thread is stuck, innermost frame first.
        const QString stack =
            r.stack.isEmpty() ? QString() : QStringLiteral(", stuck in:\n    ") + r.stack.join(u"\n    ");
        qCWarning(lcDiagnostics).noquote() << text.arg(detail::describeHandler(named),
                                                       QString::number(ms, 'f', 1), printable(r.threadName)) +
                                                  stack;
        if (Diagnostics *d = theInstance.load(std::memory_order_acquire)) {
            if (r.stillRunning)
                Q_EMIT d->handlerStalled(r);
            else
                Q_EMIT d->slowHandler(r);
        }
    } catch (...) {
        // No memory for the report: the run is still counted.
    }
}

// The core's hook when a thread first runs a timed handler: names it for reports, also in the
// slow runs it records (which outlive the thread and its entry in the names). Before the
// application object exists no thread can tell; the object's construction installs it again.
int mainThreadCheck(std::string &threadName) noexcept
{
    if (QCoreApplication::instance() == nullptr)
        return -1;
    noteThread();
    try {
        threadName = Diagnostics::threadName(detail::diag::threadNumber()).toStdString();
    } catch (...) {
        threadName.clear(); // no memory: reports say "#N"
    }
    const QCoreApplication *app = QCoreApplication::instance();
    return app != nullptr && QThread::currentThread() == app->thread() ? 1 : 0;
}

// With the application object, threads that ran timed handlers before it ask again; the frame
// timeline marks its turns if diagnostics are on already.
void installMainThreadCheck()
{
    detail::diag::setMainThreadCheck(&mainThreadCheck);
    if (detail::diag::globalEnabled())
        detail::watchTurns();
}
Q_COREAPP_STARTUP_FUNCTION(installMainThreadCheck)

// Once per process, from the first QtRegistry or Diagnostics call: the hooks into the core, the
// metatypes, and the logging rules' switch.
void setUp()
{
    static const bool once = [] {
        qRegisterMetaType<rio::HandlerInfo>("rio::HandlerInfo");
        qRegisterMetaType<rio::RegistryInfo>("rio::RegistryInfo");
        qRegisterMetaType<rio::SlowHandlerReport>("rio::SlowHandlerReport");
        detail::diag::setMainThreadCheck(&mainThreadCheck);
        detail::diag::setSlowSink(&slowSink);
        detail::writeDiagnosticsJsonAtExit();
        return true;
    }();
    (void)once;
}

// setUp(), and the logging rules' switch (once per process).
void setUpWithRules()
{
    setUp();
    static std::once_flag rules;
    std::call_once(rules, [] {
        if (lcDiagnostics().isDebugEnabled())
            detail::diag::setGlobalEnabled(true);
    });
}

} // namespace

// --- Value types ----------------------------------------------------------------------------

double TimeHistogram::bucketLowerNs(int bucket) const noexcept
{
    return bucket <= 0 ? 0.0 : std::ldexp(nsPerTick, std::min(bucket, bucketCount));
}

quint64 TimeHistogram::percentileNs(double fraction) const noexcept
{
    const quint64 total = std::accumulate(buckets.begin(), buckets.end(), quint64{0});
    if (total == 0)
        return 0;
    const double want = std::clamp(fraction, 0.0, 1.0) * static_cast<double>(total);
    quint64 seen = 0;
    for (int i = 0; i < bucketCount; ++i) {
        seen += buckets[static_cast<std::size_t>(i)];
        if (static_cast<double>(seen) >= want && seen > 0) {
            // The bucket's geometric middle, 2^(i+1/2) ticks: within a factor of sqrt(2) of every
            // duration in [2^i, 2^(i+1)) ticks. Capped at the maximum, which keeps that bound.
            const double mid = std::ldexp(std::sqrt(2.0) * nsPerTick, i);
            const quint64 v = mid >= 1.8e19 ? ~quint64{0} : static_cast<quint64>(std::llround(mid));
            return maxNs != 0 ? std::min(v, maxNs) : v;
        }
    }
    return maxNs;
}

quint64 HandlerInfo::totalDrops() const noexcept
{
    return std::accumulate(drops.begin(), drops.end(), quint64{0});
}

// --- Diagnostics ------------------------------------------------------------------------------

Diagnostics::Diagnostics() = default;

Diagnostics *Diagnostics::instance()
{
    static Diagnostics *const created = [] {
        setUpWithRules();
        auto *d = new Diagnostics; // never destroyed: reports may come from any thread at exit
        if (QCoreApplication *app = QCoreApplication::instance())
            d->moveToThread(app->thread());
        theInstance.store(d, std::memory_order_release);
        return d;
    }();
    return created;
}

QList<RegistryInfo> Diagnostics::snapshot()
{
    setUpWithRules();
    return build(0);
}

RegistryInfo Diagnostics::snapshot(quint64 registryId)
{
    if (registryId == 0)
        return {};
    setUpWithRules();
    QList<RegistryInfo> one = build(registryId);
    return one.isEmpty() ? RegistryInfo{} : one.front();
}

QList<RegistryInfo> Diagnostics::destroyedRegistries()
{
    setUpWithRules();
    std::uint64_t lost = 0;
    QList<RegistryInfo> out;
    for (const auto &reg : detail::diag::departedRecords(lost))
        out.push_back(infoOf(reg));
    {
        Facades &f = facades();
        std::lock_guard lock(f.mutex);
        out.append(f.departed);
    }
    for (RegistryInfo &r : out)
        r.destroyed = true;
    std::sort(out.begin(), out.end(),
              [](const RegistryInfo &a, const RegistryInfo &b) { return a.id < b.id; });
    return out;
}

void Diagnostics::setEnabled(bool enabled)
{
    setUpWithRules();
    const bool was = isEnabled();
    detail::diag::setGlobalEnabled(enabled); // the core's: every handler's statistics say if timed
    if (enabled)
        detail::watchTurns();
    // No argument: a receiver reads the state, which a concurrent change may have changed again.
    if (was != enabled)
        if (Diagnostics *d = theInstance.load(std::memory_order_acquire))
            Q_EMIT d->enabledChanged();
}

bool Diagnostics::isEnabled() noexcept
{
    return detail::diag::globalEnabled();
}

namespace {
std::chrono::nanoseconds thresholdAt(int which) noexcept
{
    std::uint64_t t[3] = {0, 0, 0};
    detail::diag::thresholds(t[0], t[1], t[2]);
    return std::chrono::nanoseconds(static_cast<std::int64_t>(std::min<std::uint64_t>(t[which], INT64_MAX)));
}
void setThresholdAt(int which, std::chrono::nanoseconds value) noexcept
{
    std::uint64_t t[3] = {0, 0, 0};
    detail::diag::thresholds(t[0], t[1], t[2]);
    t[which] = value.count() < 0 ? 0 : static_cast<std::uint64_t>(value.count());
    detail::diag::setThresholds(t[0], t[1], t[2]);
}
} // namespace

void Diagnostics::setSlowThreshold(std::chrono::nanoseconds threshold)
{
    setThresholdAt(0, threshold);
}

std::chrono::nanoseconds Diagnostics::slowThreshold() noexcept
{
    return thresholdAt(0);
}

void Diagnostics::setWorkerSlowThreshold(std::chrono::nanoseconds threshold)
{
    setThresholdAt(1, threshold);
}

std::chrono::nanoseconds Diagnostics::workerSlowThreshold() noexcept
{
    return thresholdAt(1);
}

void Diagnostics::setStallThreshold(std::chrono::nanoseconds threshold)
{
    setThresholdAt(2, threshold);
}

std::chrono::nanoseconds Diagnostics::stallThreshold() noexcept
{
    return thresholdAt(2);
}

void Diagnostics::setEveryRunPrecise(bool precise) noexcept
{
    detail::diag::setEveryRunPrecise(precise);
}

bool Diagnostics::isEveryRunPrecise() noexcept
{
    return detail::diag::isEveryRunPrecise();
}

QString Diagnostics::threadName(quint64 thread)
{
    ThreadNames &t = threadNames();
    std::lock_guard lock(t.mutex);
    const auto it = t.names.find(thread);
    return it != t.names.end() ? it->second : QString();
}

quint64 Diagnostics::currentThread() noexcept
{
    return detail::diag::threadNumber();
}

namespace {
QList<SlowHandlerReport> reportsOf(const std::vector<detail::diag::SlowRun> &runs)
{
    QList<SlowHandlerReport> out;
    for (const detail::diag::SlowRun &run : runs) {
        out.push_back(toReport(run));
        out.back().endedAtNs = run.atNs;
    }
    return out;
}
} // namespace

QList<SlowHandlerReport> Diagnostics::recentSlowRuns()
{
    setUpWithRules();
    return reportsOf(detail::diag::recentSlowRuns());
}

QList<SlowHandlerReport> Diagnostics::recentStalls()
{
    setUpWithRules();
    return reportsOf(detail::diag::recentStalls());
}

// --- QtRegistryBase's diagnostics ---------------------------------------------------------------

quint64 QtRegistryBase::registryId() const noexcept
{
    return m_registryId;
}

void QtRegistryBase::setDiagnosticsEnabled(bool enabled)
{
    m_diagCore->setDiagnosticsEnabled(enabled);
    if (enabled) {
        // Handlers without a context take their statistics for notifySequential's steps.
        for (const auto &core : m_diagRegistrations->cores())
            core->takeStats(*m_diagCore);
        detail::watchTurns();
    }
}

bool QtRegistryBase::isDiagnosticsEnabled() const noexcept
{
    return m_diagCore != nullptr && m_diagCore->isDiagnosticsEnabled();
}

namespace {
// Handler `id` of `registry` while both are listed.
std::shared_ptr<detail::QtHandlerCore> handlerOf(const QtRegistryBase &registry, HandlerId id)
{
    Facades &f = facades();
    std::lock_guard lock(f.mutex);
    const auto it = f.byId.find(registry.registryId());
    return it != f.byId.end() ? it->second.registrations->find(id) : nullptr;
}
} // namespace

bool detail::setHandlerOrigin(QtRegistryBase &registry, HandlerId id, const QString &file, int line)
{
    const std::shared_ptr<detail::QtHandlerCore> core = handlerOf(registry, id);
    if (!core)
        return false;
    auto &h = static_cast<detail::QtHandlerState &>(*core);
    QString copy = file; // shares the data; the assignment below cannot throw
    std::lock_guard lock(h.mutex);
    h.origin.file.swap(copy);
    h.origin.line = line;
    return true;
}

bool detail::noteHandlerFailure(QtRegistryBase &registry, HandlerId id)
{
    const std::shared_ptr<detail::QtHandlerCore> core = handlerOf(registry, id);
    if (!core)
        return false;
    // Counted when its run counted its call, as that run decided when it started: the frame of
    // this handler just outside the run's ScriptRunFrame (on this thread, which runs it). Another
    // ScriptRunFrame first: a run on the notifying thread inside that run, untimed, uncounted.
    auto &h = static_cast<detail::QtHandlerState &>(*core);
    detail::diag::HandlerStats *s = h.stats.load(std::memory_order_acquire);
    bool inRun = false;
    bool counted = false;
    detail::ThreadFrame::visit([&](const detail::ThreadFrame &f) {
        switch (f.kind()) {
        case detail::FrameKind::ScriptRun:
            return !std::exchange(inRun, true); // its own run's, then an enclosing one's
        case detail::FrameKind::Delivery: {
            const auto &run = static_cast<const detail::DeliveryFrame &>(f);
            if (&run.handler != &h)
                return true;
            counted = run.counted;
            return false;
        }
        case detail::FrameKind::CountedRun:
            if (&static_cast<const detail::CountedRunFrame &>(f).core != core.get())
                return true;
            counted = true;
            return false;
        default:
            return true;
        }
    });
    if (s != nullptr && counted)
        s->failures.fetch_add(1, std::memory_order_relaxed);
    return true;
}

void QtRegistryBase::attachDiagnostics(detail::RegistryCore &core, detail::QtRegistrations &registrations,
                                       const void *eventType)
{
    setUpWithRules();
    detail::diag::Registries::markFacade(core, static_cast<const std::string_view *>(eventType));
    m_diagCore = &core;
    m_diagRegistrations = &registrations;
    m_registryId = detail::diag::Registries::serial(core);
    {
        Facades &f = facades();
        std::lock_guard lock(f.mutex);
        f.byId.insert({m_registryId, Facade{&core, &registrations}});
    }
#if RIO_QT_TRACING
    m_control->traceId.store(m_registryId, std::memory_order_relaxed); // one id in traces and snapshots
#endif
    if (core.isDiagnosticsEnabled())
        detail::watchTurns(); // RIO_DIAGNOSTICS=1: the timeline's frames from the first registry
    // The name snapshots show follows objectName (read here, on its own thread).
    m_nameConnection =
        QObject::connect(this, &QObject::objectNameChanged, this, [&core](const QString &name) {
            try {
                core.setDiagnosticsName(name.toStdString());
            } catch (...) {
                // No memory: the old name stays.
            }
        });
}

void QtRegistryBase::detachDiagnostics() const noexcept
{
    if (m_registryId == 0)
        return;
    // Its last state, with its handlers still listed (for the file RIO_DIAGNOSTICS_JSON names).
    Facades &f = facades();
    try {
        QList<RegistryInfo> last =
            detail::diag::keepingDeparted() ? build(m_registryId) : QList<RegistryInfo>();
        std::lock_guard lock(f.mutex);
        if (!last.isEmpty() && f.departed.size() == static_cast<qsizetype>(detail::diag::departedKept))
            f.departed.removeFirst();
        if (!last.isEmpty())
            f.departed.push_back(std::move(last.front()));
    } catch (...) {
        // No memory: not kept.
    }
    std::lock_guard lock(f.mutex);
    f.byId.erase(m_registryId);
}

} // namespace rio

namespace rio::detail {

void QtHandlerCore::noteAdded(SourceLocation at, RegistryCore &core)
{
    auto &h = static_cast<QtHandlerState &>(*this);
    where = at;
    // Before its box names it to the core's records (takeStats) and it joins the registrations,
    // through which setHandlerOrigin finds it (under their mutex): no reader yet.
    h.origin.thread = diag::threadNumber();
    noteThread();
    if (hasContext) {
        std::lock_guard lock(h.mutex); // the context may be dying on its own thread
        if (h.context != nullptr) {
            h.origin.contextClass = QString::fromUtf8(h.context->metaObject()->className());
            h.origin.contextName = h.context->objectName();
            h.origin.contextThreadName = nameOf(h.context->thread());
        }
    }
    takeStats(core);
    // A handler with a context counts its queued deliveries from its add: its box has statistics
    // unless it was removed already (then statistics of its own, which no record lists).
    if (hasContext && stats.load(std::memory_order_relaxed) == nullptr) {
        h.ownedStats.reset(diag::newStats());
        stats.store(h.ownedStats.get(), std::memory_order_release);
    }
}

void QtHandlerCore::takeStats(RegistryCore &core) noexcept
{
    auto &h = static_cast<QtHandlerState &>(*this);
    if (stats.load(std::memory_order_acquire) != nullptr)
        return;
    // Taken outside our lock (the core's lock is never taken under a handler's).
    diag::HandlerStats *fresh = core.retainStats(id);
    if (fresh == nullptr)
        return; // none (diagnostics off, or no memory when they were switched on): untimed
    std::lock_guard lock(h.mutex);
    if (h.ownedStats) {
        diag::freeStats(fresh); // another switch got them first (no last reference: the box has one)
        return;
    }
    h.ownedStats.reset(fresh);
    stats.store(fresh, std::memory_order_release);
}

void QtRegistryControl::takeStats(QtHandlerCore &handler) noexcept
{
    const OwnerAnchor::Frame frame(anchor);
    if (auto *registry = static_cast<QtRegistryBase *>(frame.owner()))
        handler.takeStats(*registry->m_diagCore);
}

} // namespace rio::detail
