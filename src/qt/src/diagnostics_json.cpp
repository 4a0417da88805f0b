// SPDX-License-Identifier: MIT
// Diagnostics as text and JSON: QDebug output of a handler, a registry and a report, the JSON
// form of every field a snapshot has (docs/DIAGNOSTICS.md, "JSON and QDebug"), and the file
// RIO_DIAGNOSTICS_JSON names, written when the application exits.

#include "diagnostics_json_p.h"
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

namespace {

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

template <typename Out>
void putDocument(Out &out, const QList<RegistryInfo> &registries);

// The document of `registries`, written to the file `path` (replaced as a whole); false if it cannot.
bool save(const QString &path, const QList<RegistryInfo> &registries)
{
    QByteArray text;
    detail::JsonText out(text);
    putDocument(out, registries);
    return detail::writeWholeFile(path, text);
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
        const bool saved = save(path, registries);
        lastWritten() = std::move(registries);
        if (!saved)
            qCWarning(lcDiagnostics, "RIO_DIAGNOSTICS_JSON: cannot write %s", qPrintable(path));
    }
    const QString trace = qEnvironmentVariable("RIO_DIAGNOSTICS_TRACE");
    if (!trace.isEmpty() && !Diagnostics::writeTrace(trace))
        qCWarning(lcDiagnostics, "RIO_DIAGNOSTICS_TRACE: cannot write %s", qPrintable(trace));
}

static bool writesAtExit()
{
    return !qEnvironmentVariableIsEmpty("RIO_DIAGNOSTICS_JSON") ||
           !qEnvironmentVariableIsEmpty("RIO_DIAGNOSTICS_TRACE");
}

QJsonObject toJson(const TimeHistogram &histogram)
{
    return detail::schema::jsonOf(histogram).toObject();
}

QJsonObject toJson(const HandlerInfo &handler)
{
    return detail::schema::jsonOf(handler).toObject();
}

QJsonObject toJson(const RegistryInfo &registry)
{
    return detail::schema::jsonOf(registry).toObject();
}

QJsonObject toJson(const SlowHandlerReport &report)
{
    return detail::schema::jsonOf(report).toObject();
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

template <typename Out>
void putDocument(Out &out, const QList<RegistryInfo> &registries)
{
    using detail::schema::put;
    put(out.open().key("enabled"), Diagnostics::isEnabled());
    put(out.key("slowThresholdNs"), quint64(Diagnostics::slowThreshold().count()));
    put(out.key("workerSlowThresholdNs"), quint64(Diagnostics::workerSlowThreshold().count()));
    put(out.key("stallThresholdNs"), quint64(Diagnostics::stallThreshold().count()));
    out.key("registries").openArray();
    for (const RegistryInfo &r : registries)
        put(out, r);
    out.close();
    const auto reports = [&](const char *key, QList<SlowHandlerReport> all) {
        out.key(key).openArray();
        for (SlowHandlerReport &s : all) {
            resolve(s, registries);
            put(out, s);
        }
        out.close();
    };
    reports("recentSlowRuns", Diagnostics::recentSlowRuns());
    reports("recentStalls", Diagnostics::recentStalls());
    out.close();
}

} // namespace

QJsonDocument Diagnostics::toJson()
{
    detail::JsonTree tree;
    putDocument(tree, everyRegistry());
    return QJsonDocument(tree.take().toObject());
}

bool Diagnostics::writeJson(const QString &path)
{
    return save(path, everyRegistry());
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
                                                              : oneLine(h.addedThreadName));
    detail::schema::forEach(detail::schema::handlerFields, [&](const auto &f, std::size_t) {
        using T = typename std::decay_t<decltype(f)>::Type; // the labelled ones: counts, drops, times
        if constexpr (std::is_same_v<T, quint64> || std::is_same_v<T, TimeHistogram> ||
                      std::is_same_v<T, std::array<quint64, dropReasonCount>>) {
            if (f.label == nullptr)
                return;
            const auto &v = h.*f.member;
            debug << ", " << f.label << ' ';
            if constexpr (std::is_same_v<T, TimeHistogram>)
                debug << (v.count == 0
                              ? QStringLiteral("–")
                              : QStringLiteral("p50 %1, p99 %2, max %3")
                                    .arg(duration(v.p50Ns()), duration(v.p99Ns()), duration(v.maxNs)));
            else if constexpr (std::is_same_v<T, quint64>)
                debug << v;
            else
                debug << h.totalDrops();
        }
    });
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
