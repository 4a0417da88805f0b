// SPDX-License-Identifier: MIT
#pragma once

// Diagnostics of every live registry: where each handler was added, on which thread, with which
// context and options; how often it ran, failed and was dropped; how long it ran and waited; and
// a watchdog that names slow and hung handlers. See docs/DIAGNOSTICS.md.

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/drop_reason.h>
#include <registryio/handler_id.h>
#include <registryio/qt/delivery.h>
#include <registryio/qt/logging.h>
#include <registryio/qt/qt_export.h>

#include <QDebug>
#include <QJsonDocument>
#include <QJsonObject>
#include <QList>
#include <QLoggingCategory>
#include <QMetaType>
#include <QObject>
#include <QString>
#include <QStringList>

#include <array>
#include <chrono>
#include <cstdint>

namespace rio {

/// A log-bucketed histogram of durations as the diagnostics clock measured them: bucket i counts
/// durations of [2^i, 2^(i+1)) ticks (bucket 0 also 0), that is from bucketLowerNs(i) to
/// bucketLowerNs(i + 1) ns. A percentile is the geometric middle of its bucket, capped at the
/// exact maximum: within a factor of sqrt(2) (1.42) of the true value, above or below.
struct RIO_QT_EXPORT TimeHistogram
{
    /// Number of buckets (one per bit of a tick count).
    static constexpr int bucketCount = 64;
    /// Durations recorded.
    quint64 count = 0;
    /// Sum of the recorded durations (ns).
    quint64 totalNs = 0;
    /// Longest recorded duration (ns, exact).
    quint64 maxNs = 0;
    /// The clock's tick in nanoseconds (1 for steady_clock; the TSC's period where it is used).
    double nsPerTick = 1.0;
    /// Per-bucket counts.
    std::array<quint64, bucketCount> buckets{};

    /// Where bucket `bucket` starts (ns).
    [[nodiscard]] double bucketLowerNs(int bucket) const noexcept;
    /// The duration (ns) at or below which `fraction` (0..1) of the recorded durations fall,
    /// within a factor of sqrt(2).
    [[nodiscard]] quint64 percentileNs(double fraction) const noexcept;
    /// The median (ns).
    [[nodiscard]] quint64 p50Ns() const noexcept { return percentileNs(0.50); }
    /// The 99th percentile (ns).
    [[nodiscard]] quint64 p99Ns() const noexcept { return percentileNs(0.99); }
};

/// One handler as a snapshot saw it: a plain value, safe to keep and pass between threads.
struct RIO_QT_EXPORT HandlerInfo
{
    /// The registry's process-unique id (RegistryInfo::id; never reused).
    quint64 registryId = 0;
    /// The registry's name (objectName of a QtRegistry; empty when unnamed).
    QString registryName;
    /// The registry's event type, as the compiler spells it.
    QString eventType;
    /// The handler's id in its registry.
    HandlerId id;

    /// Where add was called: file ("" when unknown).
    QString file;
    /// Where add was called: line (0 when unknown).
    int line = 0;
    /// Where add was called: the enclosing function.
    QString function;
    /// An origin the QML layer attached (its file URL), else empty.
    QString originFile;
    /// The line of originFile (0 when none).
    int originLine = 0;

    /// The thread add ran on: a process-unique number (never reused; see Diagnostics::threadName).
    quint64 addedThread = 0;
    /// That thread's name while it runs (its QThread objectName, "main" for the main thread, else
    /// "#N"); empty once it exited.
    QString addedThreadName;

    /// True for a handler with a context object (QtRegistry add(context, ...)).
    bool hasContext = false;
    /// The context's class name, at add.
    QString contextClass;
    /// The context's objectName, at add.
    QString contextName;
    /// The context's thread's name, at add ("main" for the main thread).
    QString contextThreadName;

    /// Its priority.
    int priority = 0;
    /// Its connection type (Direct for a handler without a context).
    Qt::ConnectionType connection = Qt::DirectConnection;
    /// Every or Latest.
    Delivery delivery = Delivery::Every;
    /// Every: its queue's capacity (0: unbounded).
    quint64 capacity = 0;
    /// Every: its overflow policy.
    Overflow overflow = Overflow::DropOldest;
    /// Runs at most once.
    bool once = false;
    /// Suspended now.
    bool suspended = false;
    /// In the file RIO_DIAGNOSTICS_JSON names: removed since an earlier write listed it, whose
    /// counts these are (false in every snapshot).
    bool removed = false;

    /// Runs that began (queued handlers always; direct handlers while diagnostics are enabled).
    quint64 calls = 0;
    /// Runs that threw (same scope as calls).
    quint64 failures = 0;
    /// Queued deliveries dropped, by DropReason.
    std::array<quint64, dropReasonCount> drops{};
    /// Queued deliveries waiting now.
    quint64 waiting = 0;
    /// The most queued deliveries that ever waited at once.
    quint64 maxWaiting = 0;
    /// Latest: pending payloads a newer event replaced.
    quint64 coalesced = 0;
    /// Runs longer than the slow threshold of their thread.
    quint64 slowRuns = 0;

    /// True when run times were recorded (diagnostics enabled at some point).
    bool timed = false;
    /// Run times (while diagnostics are enabled).
    TimeHistogram runTime;
    /// Queued deliveries: time from being queued to the start of the run, every delivery (while enabled).
    TimeHistogram queueDelay;

    /// Sum of drops over every reason.
    [[nodiscard]] quint64 totalDrops() const noexcept;
};

/// One live registry as a snapshot saw it.
struct RIO_QT_EXPORT RegistryInfo
{
    /// Process-unique id, never reused.
    quint64 id = 0;
    /// Its name (QtRegistry: objectName; Registry<E>: setDiagnosticsName).
    QString name;
    /// Its event type, as the compiler spells it.
    QString eventType;
    /// True for a QtRegistry (false for a plain Registry<E>).
    bool qt = false;
    /// True while its diagnostics are enabled (by itself or process-wide).
    bool diagnosticsEnabled = false;
    /// Its handlers, in id order.
    QList<HandlerInfo> handlers;
    /// Queued deliveries dropped, by DropReason, for handlers no longer listed (removed, their
    /// context destroyed, cleared): what they had dropped when they left and what was dropped since.
    std::array<quint64, dropReasonCount> removedHandlerDrops{};
    /// True for the last state of a registry destroyed since (Diagnostics::destroyedRegistries).
    bool destroyed = false;
};

/// A slow or hung handler as the watchdog reports it.
struct RIO_QT_EXPORT SlowHandlerReport
{
    /// The handler (its snapshot when it was reported).
    HandlerInfo handler;
    /// How long it ran (slowHandler) or has been running so far (handlerStalled), ns.
    quint64 elapsedNs = 0;
    /// The thread it ran on (number, as HandlerInfo::addedThread) and its name when known.
    quint64 thread = 0;
    /// That thread's name (its QThread objectName, "main" for the main thread, else "#N").
    QString threadName;
    /// True when reported while it still runs (the stall threshold).
    bool stillRunning = false;
    /// When it ended (recentSlowRuns()) or was reported (recentStalls()), steady_clock
    /// nanoseconds (the clock of QElapsedTimer::msecsSinceReference on Linux); else 0.
    quint64 endedAtNs = 0;
    /// The main thread's event-loop turn it ended in or stalled (the frame timeline's `frame`)
    /// for a run on the main thread while diagnostics are on; else 0.
    quint64 frame = 0;
    /// A stall's (handlerStalled, Linux): the stalled thread's stack when it was reported,
    /// innermost frame first ("function+0xoffset (module)"); empty elsewhere.
    QStringList stack;
};

/// The process-wide diagnostics: snapshots of every live registry, enabling run-time
/// measurement, and the slow-handler watchdog. A singleton QObject living in the thread that
/// first asked for it (normally the main thread); every static function is thread-safe.
class RIO_QT_EXPORT Diagnostics : public QObject
{
    Q_OBJECT
    /// The process-wide switch (isEnabled, setEnabled): the QML singleton `Diagnostics.enabled`.
    Q_PROPERTY(bool enabled READ isEnabled WRITE setEnabled NOTIFY enabledChanged)

public:
    /// The singleton (created on first use).
    static Diagnostics *instance();

    /// Every live registry (Registry<E> with at least one add, and every QtRegistry) and its
    /// handlers, in registry id order. Safe from any thread; runs no user code.
    [[nodiscard]] static QList<RegistryInfo> snapshot();
    /// As snapshot(), for one registry id (empty handlers and id 0 when it is gone).
    [[nodiscard]] static RegistryInfo snapshot(quint64 registryId);
    /// While RIO_DIAGNOSTICS_JSON is set: each destroyed registry as it was just before it died
    /// (the last 256 QtRegistry objects and the last 256 others, in id order, `destroyed` set);
    /// otherwise empty.
    [[nodiscard]] static QList<RegistryInfo> destroyedRegistries();

    /// Enables (or disables) timing, direct-handler counters and the watchdog for every registry,
    /// present and future; also RIO_DIAGNOSTICS=1 or the logging rule (docs/DIAGNOSTICS.md).
    static void setEnabled(bool enabled);
    /// True while diagnostics are enabled process-wide.
    [[nodiscard]] static bool isEnabled() noexcept;

    /// Reads the precise clock at every timed run (true; also RIO_DIAGNOSTICS_PRECISE=1), or, by
    /// default, in one notify per thread per millisecond, the others read with a 1 ms clock.
    static void setEveryRunPrecise(bool precise) noexcept;
    /// See setEveryRunPrecise.
    [[nodiscard]] static bool isEveryRunPrecise() noexcept;

    /// A run on the main (GUI) thread longer than this is reported after it ends (default 16 ms).
    static void setSlowThreshold(std::chrono::nanoseconds threshold);
    /// The main thread's slow threshold.
    [[nodiscard]] static std::chrono::nanoseconds slowThreshold() noexcept;
    /// As setSlowThreshold for every other thread (default 16 ms; 0: not reported).
    static void setWorkerSlowThreshold(std::chrono::nanoseconds threshold);
    /// The other threads' slow threshold (0: off).
    [[nodiscard]] static std::chrono::nanoseconds workerSlowThreshold() noexcept;
    /// A run still running past this is reported while it runs, by the watchdog (default 50 ms; 0: off).
    static void setStallThreshold(std::chrono::nanoseconds threshold);
    /// The stall threshold.
    [[nodiscard]] static std::chrono::nanoseconds stallThreshold() noexcept;

    /// The name of a thread number (HandlerInfo::addedThread) while that thread runs, else empty.
    [[nodiscard]] static QString threadName(quint64 thread);
    /// The calling thread's number.
    [[nodiscard]] static quint64 currentThread() noexcept;
    /// The last 64 slow runs of the process, oldest first (slowHandler reports each handler's first).
    [[nodiscard]] static QList<SlowHandlerReport> recentSlowRuns();
    /// The last 16 stalls the watchdog reported (handlerStalled), oldest first, with their stacks.
    [[nodiscard]] static QList<SlowHandlerReport> recentStalls();
    /// Everything as one JSON document (docs/DIAGNOSTICS.md, "JSON and QDebug"), which
    /// `RIO_DIAGNOSTICS_JSON=path` writes at aboutToQuit and when the application object goes.
    [[nodiscard]] static QJsonDocument toJson();
    /// Writes toJson() to the file `path`, a file of the user's alone replacing what is there as a
    /// whole (a link too, never followed; another user's pipe or device is refused); false, with a
    /// warning, if it cannot.
    static bool writeJson(const QString &path);
    /// The frame timeline of the last `last` (at most 8,192 entries and 2,048 frames) as Chrome's
    /// trace-event JSON (Perfetto, chrome://tracing; docs/DIAGNOSTICS.md), which
    /// `RIO_DIAGNOSTICS_TRACE=path` writes at exit.
    [[nodiscard]] static QJsonDocument toTrace(std::chrono::nanoseconds last = std::chrono::seconds(10));
    /// Writes toTrace(last) to the file `path` as writeJson() writes; false, with a warning, if it cannot.
    static bool writeTrace(const QString &path, std::chrono::nanoseconds last = std::chrono::seconds(10));

    /// Serves this process's snapshots and timeline, read-only, on `url` (`local:name`, the same
    /// user only) for `registryio-inspect`, and switches diagnostics on; also `RIO_INSPECT`. False,
    /// with a warning, when it cannot (DIAGNOSTICS.md, "Attaching to a running application").
    static bool serve(const QString &url);

Q_SIGNALS:
    /// The process-wide switch changed (emitted on the thread that changed it; isEnabled() is
    /// the state now).
    void enabledChanged();
    /// A handler ran longer than its thread's slow threshold (reported once per handler; see
    /// HandlerInfo::slowRuns for the count). Emitted on the thread it ran on, after it ended.
    void slowHandler(const rio::SlowHandlerReport &report);
    /// A handler has been running longer than the stall threshold: emitted from the watchdog
    /// thread while it still runs (once per run).
    void handlerStalled(const rio::SlowHandlerReport &report);

private:
    Diagnostics();
};

/// A histogram as JSON: count, totalNs, maxNs, p50Ns, p99Ns, nsPerTick and buckets (up to the last
/// non-empty).
[[nodiscard]] RIO_QT_EXPORT QJsonObject toJson(const TimeHistogram &histogram);
/// A handler as JSON: every field of HandlerInfo under its own name (enums as lower-camel text,
/// drops by reason as an object), totalDrops, and runTime and queueDelay as histograms.
[[nodiscard]] RIO_QT_EXPORT QJsonObject toJson(const HandlerInfo &handler);
/// A registry as JSON: its fields, removedHandlerDrops by reason and its handlers.
[[nodiscard]] RIO_QT_EXPORT QJsonObject toJson(const RegistryInfo &registry);
/// A report as JSON: its handler, elapsedNs, thread, threadName, stillRunning, endedAtNs, frame, stack.
[[nodiscard]] RIO_QT_EXPORT QJsonObject toJson(const SlowHandlerReport &report);
/// One line: the handler, where it was added, its thread, counts and run times.
RIO_QT_EXPORT QDebug operator<<(QDebug debug, const HandlerInfo &handler);
/// The registry on one line, then each handler on a line of its own.
RIO_QT_EXPORT QDebug operator<<(QDebug debug, const RegistryInfo &registry);
/// One line: the handler, how long it ran (or has been running) and on which thread.
RIO_QT_EXPORT QDebug operator<<(QDebug debug, const SlowHandlerReport &report);

} // namespace rio

Q_DECLARE_METATYPE(rio::HandlerInfo)
Q_DECLARE_METATYPE(rio::RegistryInfo)
Q_DECLARE_METATYPE(rio::SlowHandlerReport)
