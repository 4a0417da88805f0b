// SPDX-License-Identifier: MIT
// Diagnostics as text and JSON: QDebug output of a handler, a registry and a report, the JSON
// form of every field a snapshot has (docs/DIAGNOSTICS.md, "JSON and QDebug"), and the file
// RIO_DIAGNOSTICS_JSON names, written when the application exits.

#include "whole_file_p.h"
#include <registryio/detail/diagnostics.h>
#include <registryio/qt/diagnostics.h>
#include <registryio/qt/diagnostics_model.h>

#include <QCoreApplication>
#include <QDebug>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <array>
#include <cstdint>

namespace rio {

namespace detail {
// Defined in diagnostics_model.cpp: the model and these forms name connections and places alike.
QString connectionName(Qt::ConnectionType type);
QString whereFull(const HandlerInfo &h);
} // namespace detail

namespace {

// A count as JSON: an integer (exact up to 2^63).
QJsonValue number(quint64 n)
{
    return {static_cast<qint64>(std::min<quint64>(n, INT64_MAX))};
}

QString overflowName(Overflow overflow)
{
    switch (overflow) {
    case Overflow::DropNewest:
        return QStringLiteral("dropNewest");
    case Overflow::Block:
        return QStringLiteral("block");
    default:
        return QStringLiteral("dropOldest");
    }
}

// Drops by reason, named as DropReason's values.
QJsonObject dropsJson(const std::array<quint64, dropReasonCount> &drops)
{
    QJsonObject out;
    for (int r = 0; r < dropReasonCount; ++r)
        out.insert(QLatin1String(detail::dropReasonNames[r]), number(drops[static_cast<std::size_t>(r)]));
    return out;
}

QString duration(quint64 ns)
{
    return DiagnosticsModel::formatDuration(static_cast<double>(ns));
}

// `text` (a name, a path) kept on one line: escaped as QDebug quotes a QString, without the quotes.
QString oneLine(const QString &text)
{
    QString quoted;
    QDebug(&quoted).nospace() << text;
    return quoted.size() >= 2 ? quoted.sliced(1, quoted.size() - 2) : quoted;
}

// Every registry a document lists: the live ones and the last state of those destroyed (kept
// while RIO_DIAGNOSTICS_JSON is set), in id order, each once.
QList<RegistryInfo> everyRegistry()
{
    QList<RegistryInfo> all = Diagnostics::snapshot();
    all.append(Diagnostics::destroyedRegistries());
    std::stable_sort(all.begin(), all.end(),
                     [](const RegistryInfo &a, const RegistryInfo &b) { return a.id < b.id; });
    // A registry destroyed between the two reads is in both (in neither, read the other way):
    // listed once, as it was destroyed.
    all.erase(all.begin(),
              std::unique(all.rbegin(), all.rend(), [](const RegistryInfo &a, const RegistryInfo &b) {
                  return a.id == b.id;
              }).base());
    return all;
}

QJsonDocument documentOf(const QList<RegistryInfo> &registries);

// Writes `document` to the file `path`, replaced as a whole; false if it cannot.
bool save(const QString &path, const QJsonDocument &document)
{
    return detail::writeWholeFile(path, document.toJson(QJsonDocument::Indented));
}

// The registries the file written at exit listed last, for the next write (aboutToQuit and the
// post routine, both on the main thread). Never destroyed: the post routine runs at exit.
QList<RegistryInfo> &lastWritten()
{
    static auto *last = new QList<RegistryInfo>; // NOLINT(bugprone-unhandled-exception-at-new)
    return *last;
}

// Adds to `now` what `before` listed and `now` no longer does: each handler removed since, with
// its last counts and `removed` set, and each registry no longer kept, as it was.
void keepWhatLeft(QList<RegistryInfo> &now, const QList<RegistryInfo> &before)
{
    for (const RegistryInfo &old : before) {
        const auto r =
            std::find_if(now.begin(), now.end(), [&](const RegistryInfo &n) { return n.id == old.id; });
        if (r == now.end()) {
            now.push_back(old);
            now.back().destroyed = true;
            continue;
        }
        for (const HandlerInfo &h : old.handlers) {
            if (std::none_of(r->handlers.cbegin(), r->handlers.cend(),
                             [&](const HandlerInfo &n) { return n.id == h.id; })) {
                r->handlers.push_back(h);
                r->handlers.back().removed = true;
            }
        }
        std::sort(r->handlers.begin(), r->handlers.end(),
                  [](const HandlerInfo &a, const HandlerInfo &b) { return a.id.value() < b.id.value(); });
    }
    std::sort(now.begin(), now.end(),
              [](const RegistryInfo &a, const RegistryInfo &b) { return a.id < b.id; });
}

} // namespace

// Writes the files RIO_DIAGNOSTICS_JSON and RIO_DIAGNOSTICS_TRACE name (at aboutToQuit and as a
// QCoreApplication post routine). Each write of the JSON keeps what the one before listed.
static void writeAtExit()
{
    const QString path = qEnvironmentVariable("RIO_DIAGNOSTICS_JSON");
    if (!path.isEmpty()) {
        QList<RegistryInfo> registries = everyRegistry();
        keepWhatLeft(registries, lastWritten());
        const bool saved = save(path, documentOf(registries));
        lastWritten() = std::move(registries);
        if (!saved)
            qCWarning(lcDiagnostics, "RIO_DIAGNOSTICS_JSON: cannot write %s", qPrintable(path));
    }
    const QString trace = qEnvironmentVariable("RIO_DIAGNOSTICS_TRACE");
    if (!trace.isEmpty() && !Diagnostics::writeTrace(trace))
        qCWarning(lcDiagnostics, "RIO_DIAGNOSTICS_TRACE: cannot write %s", qPrintable(trace));
}

// True when a file is to be written at exit.
static bool writesAtExit()
{
    return !qEnvironmentVariableIsEmpty("RIO_DIAGNOSTICS_JSON") ||
           !qEnvironmentVariableIsEmpty("RIO_DIAGNOSTICS_TRACE");
}

QJsonObject toJson(const TimeHistogram &histogram)
{
    QJsonArray buckets;
    int last = TimeHistogram::bucketCount;
    while (last > 0 && histogram.buckets[static_cast<std::size_t>(last - 1)] == 0)
        --last;
    for (int i = 0; i < last; ++i)
        buckets.append(number(histogram.buckets[static_cast<std::size_t>(i)]));
    return {{QStringLiteral("count"), number(histogram.count)},
            {QStringLiteral("totalNs"), number(histogram.totalNs)},
            {QStringLiteral("maxNs"), number(histogram.maxNs)},
            {QStringLiteral("p50Ns"), number(histogram.p50Ns())},
            {QStringLiteral("p99Ns"), number(histogram.p99Ns())},
            {QStringLiteral("nsPerTick"), histogram.nsPerTick},
            {QStringLiteral("buckets"), buckets}};
}

QJsonObject toJson(const HandlerInfo &h)
{
    return {{QStringLiteral("registryId"), number(h.registryId)},
            {QStringLiteral("registryName"), h.registryName},
            {QStringLiteral("eventType"), h.eventType},
            {QStringLiteral("id"), number(h.id.value())},
            {QStringLiteral("file"), h.file},
            {QStringLiteral("line"), h.line},
            {QStringLiteral("function"), h.function},
            {QStringLiteral("originFile"), h.originFile},
            {QStringLiteral("originLine"), h.originLine},
            {QStringLiteral("addedThread"), number(h.addedThread)},
            {QStringLiteral("addedThreadName"), h.addedThreadName},
            {QStringLiteral("hasContext"), h.hasContext},
            {QStringLiteral("contextClass"), h.contextClass},
            {QStringLiteral("contextName"), h.contextName},
            {QStringLiteral("contextThreadName"), h.contextThreadName},
            {QStringLiteral("priority"), h.priority},
            {QStringLiteral("connection"), detail::connectionName(h.connection)},
            {QStringLiteral("delivery"),
             h.delivery == Delivery::Latest ? QStringLiteral("latest") : QStringLiteral("every")},
            {QStringLiteral("capacity"), number(h.capacity)},
            {QStringLiteral("overflow"), overflowName(h.overflow)},
            {QStringLiteral("once"), h.once},
            {QStringLiteral("suspended"), h.suspended},
            {QStringLiteral("removed"), h.removed},
            {QStringLiteral("calls"), number(h.calls)},
            {QStringLiteral("failures"), number(h.failures)},
            {QStringLiteral("drops"), dropsJson(h.drops)},
            {QStringLiteral("totalDrops"), number(h.totalDrops())},
            {QStringLiteral("waiting"), number(h.waiting)},
            {QStringLiteral("maxWaiting"), number(h.maxWaiting)},
            {QStringLiteral("coalesced"), number(h.coalesced)},
            {QStringLiteral("slowRuns"), number(h.slowRuns)},
            {QStringLiteral("timed"), h.timed},
            {QStringLiteral("runTime"), toJson(h.runTime)},
            {QStringLiteral("queueDelay"), toJson(h.queueDelay)}};
}

QJsonObject toJson(const RegistryInfo &r)
{
    QJsonArray handlers;
    for (const HandlerInfo &h : r.handlers)
        handlers.append(toJson(h));
    return {{QStringLiteral("id"), number(r.id)},
            {QStringLiteral("name"), r.name},
            {QStringLiteral("eventType"), r.eventType},
            {QStringLiteral("qt"), r.qt},
            {QStringLiteral("diagnosticsEnabled"), r.diagnosticsEnabled},
            {QStringLiteral("removedHandlerDrops"), dropsJson(r.removedHandlerDrops)},
            {QStringLiteral("destroyed"), r.destroyed},
            {QStringLiteral("handlers"), handlers}};
}

QJsonObject toJson(const SlowHandlerReport &report)
{
    return {{QStringLiteral("handler"), toJson(report.handler)},
            {QStringLiteral("elapsedNs"), number(report.elapsedNs)},
            {QStringLiteral("thread"), number(report.thread)},
            {QStringLiteral("threadName"), report.threadName},
            {QStringLiteral("stillRunning"), report.stillRunning},
            {QStringLiteral("endedAtNs"), number(report.endedAtNs)},
            {QStringLiteral("frame"), number(report.frame)},
            {QStringLiteral("stack"), QJsonArray::fromStringList(report.stack)}};
}

namespace {

// `report`'s handler as `registries` list it (also a destroyed registry's, a removed handler's
// last record): a report names the registry and the place the registries name.
void resolve(SlowHandlerReport &report, const QList<RegistryInfo> &registries)
{
    const auto r = std::find_if(registries.cbegin(), registries.cend(),
                                [&](const RegistryInfo &n) { return n.id == report.handler.registryId; });
    if (r == registries.cend())
        return;
    const auto h = std::find_if(r->handlers.cbegin(), r->handlers.cend(),
                                [&](const HandlerInfo &n) { return n.id == report.handler.id; });
    if (h != r->handlers.cend()) {
        report.handler = *h;
        return;
    }
    report.handler.registryName = r->name;
    report.handler.eventType = r->eventType;
}

QJsonDocument documentOf(const QList<RegistryInfo> &registries)
{
    QJsonArray list;
    for (const RegistryInfo &r : registries)
        list.append(rio::toJson(r));
    const auto reports = [&](QList<SlowHandlerReport> all) {
        QJsonArray out;
        for (SlowHandlerReport &s : all) {
            resolve(s, registries);
            out.append(rio::toJson(s));
        }
        return out;
    };
    const QJsonObject root{
        {QStringLiteral("enabled"), Diagnostics::isEnabled()},
        {QStringLiteral("slowThresholdNs"), number(Diagnostics::slowThreshold().count())},
        {QStringLiteral("workerSlowThresholdNs"), number(Diagnostics::workerSlowThreshold().count())},
        {QStringLiteral("stallThresholdNs"), number(Diagnostics::stallThreshold().count())},
        {QStringLiteral("registries"), list},
        {QStringLiteral("recentSlowRuns"), reports(Diagnostics::recentSlowRuns())},
        {QStringLiteral("recentStalls"), reports(Diagnostics::recentStalls())}};
    return QJsonDocument(root);
}

} // namespace

QJsonDocument Diagnostics::toJson()
{
    return documentOf(everyRegistry());
}

bool Diagnostics::writeJson(const QString &path)
{
    return save(path, toJson());
}

} // namespace rio

namespace rio::detail {

// Declared in diagnostics.cpp, which calls it once per process.
void writeDiagnosticsJsonAtExit()
{
    static const bool once = [] {
        if (!qEnvironmentVariableIsEmpty("RIO_DIAGNOSTICS_JSON"))
            diag::keepDeparted(true); // registries that die before the application object stay in it
        if (writesAtExit())
            qAddPostRoutine(&writeAtExit);
        return true;
    }();
    (void)once;
}

// With the application object: the file is also written when it is about to quit (a process
// that never destroys its application object still writes it); ~QCoreApplication writes it again,
// with what this write listed and has left since.
static void writeAtQuitToo()
{
    if (!writesAtExit())
        return;
    QObject::connect(QCoreApplication::instance(), &QCoreApplication::aboutToQuit, &writeAtExit);
}
Q_COREAPP_STARTUP_FUNCTION(writeAtQuitToo)

} // namespace rio::detail

namespace rio {

QDebug operator<<(QDebug debug, const HandlerInfo &h)
{
    const QDebugStateSaver saver(debug);
    debug.nospace().noquote() << "rio::HandlerInfo(handler " << h.id.value() << " of registry "
                              << h.registryId << " \"" << oneLine(h.registryName) << "\" ("
                              << oneLine(h.eventType) << "), added at " << oneLine(detail::whereFull(h))
                              << " on thread "
                              << (h.addedThreadName.isEmpty() ? QString::number(h.addedThread)
                                                              : oneLine(h.addedThreadName))
                              << ", calls " << h.calls << ", failures " << h.failures << ", drops "
                              << h.totalDrops() << ", waiting " << h.waiting << " (most " << h.maxWaiting
                              << "), slow runs " << h.slowRuns;
    if (h.timed)
        debug << ", p50 " << duration(h.runTime.p50Ns()) << ", p99 " << duration(h.runTime.p99Ns())
              << ", max " << duration(h.runTime.maxNs);
    debug << ')';
    return debug;
}

QDebug operator<<(QDebug debug, const RegistryInfo &r)
{
    const QDebugStateSaver saver(debug);
    debug.nospace().noquote() << "rio::RegistryInfo(registry " << r.id << " \"" << oneLine(r.name) << "\" ("
                              << oneLine(r.eventType) << "), " << r.handlers.size() << " handlers"
                              << (r.diagnosticsEnabled ? ", on" : "");
    for (const HandlerInfo &h : r.handlers)
        debug << "\n  " << h;
    debug << ')';
    return debug;
}

QDebug operator<<(QDebug debug, const SlowHandlerReport &report)
{
    const QDebugStateSaver saver(debug);
    debug.nospace().noquote() << "rio::SlowHandlerReport(handler " << report.handler.id.value()
                              << " of registry " << report.handler.registryId << ", added at "
                              << oneLine(detail::whereFull(report.handler))
                              << (report.stillRunning ? ", running for " : ", ran ")
                              << duration(report.elapsedNs) << " on thread " << oneLine(report.threadName)
                              << ')';
    return debug;
}

} // namespace rio
