// SPDX-License-Identifier: MIT
// registryio-inspect: lists the running applications that serve their diagnostics (RIO_INSPECT),
// attaches to one, prints its live handler table or writes its frame timeline as a trace, and
// detaches. The application is not changed: it serves read-only what its in-app inspector reads.
//
//   registryio-inspect --help
//   registryio-inspect list
//   registryio-inspect table [name|local:name] [--count N] [--timeout S]
//   registryio-inspect trace <name|local:name> <file.json> [--timeout S]

#include "../qt/src/printable_p.h"
#include "../qt/src/whole_file_p.h"
#include "inspect_client.h"
#include "inspect_protocol.h"

#include <registryio/remote/remote_registry.h>

#include <QCoreApplication>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRemoteObjectNode>
#include <QTextStream>
#include <QTimer>

#include <algorithm>
#include <cstdio>
#include <new>
#include <vector>

namespace {

using namespace rio;

// How long it waits for each event (--timeout S), 10 s by default.
int timeoutMs = 10'000;

QTextStream &out()
{
    static QTextStream s(stdout);
    return s;
}

constexpr const char *commands =
    "  registryio-inspect list\n"
    "      the applications of this user that serve (RIO_INSPECT=1): local:<name>, pid, program\n"
    "  registryio-inspect table [name|local:name] [--count N] [--timeout S]\n"
    "      its handlers, longest run first: registry, id, where added, thread, calls, failures,\n"
    "      drops, slow runs, p99, max, drops by reason (N tables, a refresh apart; no name: the\n"
    "      only application that serves)\n"
    "  registryio-inspect trace <name|local:name> <file.json> [--timeout S]\n"
    "      its frame timeline of the last 10 s as a Chrome trace (Perfetto, chrome://tracing)\n"
    "  --timeout S: how long to wait for each answer (10 s)\n";

// The commands, as a mistake (2); asked for (--help: 0), also how to read the table.
int usage(bool asked = false)
{
    std::fprintf(asked ? stdout : stderr,
                 asked ? "registryio-inspect: reads the diagnostics a running application serves.\n%s"
                         "A rare stall shows as a small p99 against a large max; a handler that drops, as\n"
                         "the row with drops (docs/DIAGNOSTICS.md, \"Worked example: a stuttering UI\").\n"
                       : "usage:\n%s",
                 commands);
    return asked ? 0 : 2;
}

// The reasons a handler's deliveries were dropped for, named as in the JSON ("overflow 990").
QString dropsByReason(const HandlerInfo &h)
{
    QStringList reasons;
    for (int r = 0; r < dropReasonCount; ++r)
        if (const quint64 n = h.drops[static_cast<std::size_t>(r)]; n != 0)
            reasons.append(
                QStringLiteral("%1 %2").arg(QLatin1String(rio::detail::dropReasonNames[r])).arg(n));
    return reasons.isEmpty() ? QStringLiteral("-") : reasons.join(QStringLiteral(", "));
}

int list()
{
    const QList<inspect::Served> served = inspect::servedApplications();
    for (const inspect::Served &a : served) // names with their control characters escaped
        out() << "local:" << detail::printable(a.name) << "\tpid " << a.pid << "\t"
              << detail::printable(a.program) << Qt::endl;
    if (served.isEmpty())
        out() << "no application serves its diagnostics (start one with RIO_INSPECT=1)" << Qt::endl;
    return 0;
}

QString duration(quint64 ns)
{
    if (ns == 0)
        return QStringLiteral("-");
    if (ns < 1'000)
        return QStringLiteral("%1 ns").arg(ns);
    if (ns < 1'000'000)
        return QStringLiteral("%1 us").arg(static_cast<double>(ns) / 1e3, 0, 'f', 1);
    return QStringLiteral("%1 ms").arg(static_cast<double>(ns) / 1e6, 0, 'f', 1);
}

// The thread a handler runs on, as the in-app inspector's model names it.
QString threadOf(const HandlerInfo &h)
{
    if (!h.hasContext || h.connection == Qt::DirectConnection)
        return QStringLiteral("notifier");
    return h.contextThreadName.isEmpty() ? QStringLiteral("unnamed") : detail::printable(h.contextThreadName);
}

// The handler table the in-app inspector shows, longest run first. The application's names are
// printed with their control characters escaped (a name's escape sequence or line break neither
// drives the terminal nor forges a row).
void printTable(const QList<RegistryInfo> &registries)
{
    std::vector<const HandlerInfo *> handlers; // the decoded ones, not copies
    for (const RegistryInfo &r : registries)
        for (const HandlerInfo &h : r.handlers)
            handlers.push_back(&h);
    std::stable_sort(handlers.begin(), handlers.end(), [](const HandlerInfo *a, const HandlerInfo *b) {
        return a->runTime.maxNs > b->runTime.maxNs;
    });
    QList<QStringList> rows{
        QStringLiteral("registry|id|where|thread|calls|failures|drops|slow|p99|max|dropped for")
            .split(QLatin1Char('|'))}; // the head, then a row a handler
    rows.reserve(static_cast<qsizetype>(handlers.size()) + 1);
    for (const HandlerInfo *p : handlers) {
        const HandlerInfo &h = *p;
        const QString where =
            h.originFile.isEmpty()
                ? QStringLiteral("%1:%2").arg(QFileInfo(h.file).fileName()).arg(h.line)
                : QStringLiteral("%1:%2").arg(QFileInfo(h.originFile).fileName()).arg(h.originLine);
        rows.append({detail::printable(detail::shown(h.registryName)), QString::number(h.id.value()),
                     detail::printable(detail::shown(where)), detail::shown(threadOf(h)),
                     QString::number(h.calls), QString::number(h.failures), QString::number(h.totalDrops()),
                     QString::number(h.slowRuns), h.timed ? duration(h.runTime.p99Ns()) : QStringLiteral("-"),
                     h.timed ? duration(h.runTime.maxNs) : QStringLiteral("-"), dropsByReason(h)});
    }
    QList<qsizetype> width(rows[0].size());
    for (const QStringList &row : std::as_const(rows))
        for (qsizetype c = 0; c < row.size(); ++c)
            width[c] = std::max(width[c], row[c].size());
    for (const QStringList &cells : std::as_const(rows)) {
        QString s;
        for (qsizetype c = 0; c < cells.size(); ++c)
            s += (c < 4 || c + 1 == cells.size() ? cells[c].leftJustified(width[c])
                                                 : cells[c].rightJustified(width[c])) +
                 QStringLiteral("  ");
        while (s.endsWith(QLatin1Char(' '))) // an empty first cell keeps its column
            s.chop(1);
        out() << s << Qt::endl;
    }
    out() << handlers.size() << " handlers" << Qt::endl;
}

// Subscribes to `share` on `target` and calls `received` with each event's bytes until it returns
// false (or exits); fails when timeoutMs pass without one (at the first or between two: the
// application ended or stopped serving).
template <typename Received>
int attach(const QString &target, const QString &share, Received received)
{
    const inspect::Pin pin(target);
    if (!pin.problem().isEmpty()) {
        std::fprintf(stderr, "registryio-inspect: %s\n", qPrintable(pin.problem()));
        return 1;
    }
    QRemoteObjectNode node;
    if (!connectToSource(&node, pin.url())) // every connection reaches that socket alone
        return 1;
    QTimer silence;
    silence.setSingleShot(true);
    QObject::connect(&silence, &QTimer::timeout, &node, [&] {
        std::fprintf(stderr, "registryio-inspect: nothing from %s in %d s\n", qPrintable(target),
                     timeoutMs / 1000);
        QCoreApplication::exit(1);
    });
    RemoteRegistry<QByteArray> remote(&node, share);
    QObject::connect(
        remote.link(), &RemoteSubscriber::stateChanged, &node, [&](RemoteSubscriber::State state) {
            const QString why =
                inspect::hasEnded(inspect::pidOf(target)) ? QStringLiteral("ended") : pin.changed();
            if (state == RemoteSubscriber::State::Reconnecting && !why.isEmpty()) {
                std::fprintf(stderr, "registryio-inspect: %s %s\n", qPrintable(target), qPrintable(why));
                QCoreApplication::exit(1);
            }
        });
    remote.add(&node,
               [&](const QByteArray &bytes) {
                   if (!received(bytes))
                       QCoreApplication::exit(0);
                   else // it answered: the wait begins again, once its table is out (into a pager)
                       silence.start(timeoutMs);
               },
               {.connection = Qt::QueuedConnection}); // every page of a snapshot
    silence.start(timeoutMs);
    return QCoreApplication::exec(); // detaches when the node goes
}

bool fail(const char *message, const QString &what)
{
    std::fprintf(stderr, "registryio-inspect: %s %s\n", message, qPrintable(what));
    QCoreApplication::exit(1);
    return true; // exit() ends the loop
}

// Prints the table of `target`'s snapshots, `count` of them.
int table(const QString &target, int count)
{
    inspect::PageReader reader;
    return attach(target, inspect::snapshotShare, [&](const QByteArray &page) {
        QByteArray bytes;
        if (!reader.add(page, bytes)) {
            if (reader.stalled())
                return fail("pages of snapshots but no whole one (pages dropped by the application past "
                            "its backlog budget, as when it serves several inspectors at once, or never "
                            "sent) from",
                            target);
            return reader.corrupt() ? fail("unreadable snapshot from", target) : true;
        }
        const qsizetype size = bytes.size();
        try {
            QList<RegistryInfo> registries;
            if (!inspect::decodeSnapshot(bytes, registries))
                return fail("unreadable snapshot from", target);
            bytes = {};
            printTable(registries);
        } catch (const std::bad_alloc &) {
            std::fprintf(stderr,
                         "registryio-inspect: out of memory reading a snapshot of %lld bytes from %s\n",
                         static_cast<long long>(size), qPrintable(target));
            QCoreApplication::exit(1);
            return true;
        }
        return --count > 0;
    });
}

int trace(const QString &target, const QString &path)
{
    return attach(target, inspect::timelineShare, [&](const QByteArray &bytes) {
        QJsonArray events;
        if (!inspect::readTimeline(bytes, events))
            return fail("unreadable timeline (or one over 6 MiB) from", target);
        if (!rio::detail::writeWholeFile(path, bytes))
            return fail("cannot write", path);
        out() << "wrote " << events.size() << " trace events to " << path << Qt::endl;
        return false;
    });
}

// The application to attach to when none is named: the only one that serves; else none, saying
// which serve.
QString theOnlyApplication()
{
    const QList<inspect::Served> served = inspect::servedApplications();
    if (served.size() == 1)
        return served.front().name;
    std::fprintf(stderr, "registryio-inspect: %s\n",
                 served.isEmpty()
                     ? "no application serves its diagnostics (start one with RIO_INSPECT=1)"
                     : "several applications serve: name one of these (registryio-inspect list)");
    for (const inspect::Served &a : served)
        std::fprintf(stderr, "  %s\n", qPrintable(detail::printable(a.name)));
    return {};
}

// The value of option `name` (removed from `args` with it), a number in [1, most]; `value` kept
// when absent; false when it is not one.
bool option(QStringList &args, const char *name, int most, int &value)
{
    const qsizetype at = args.indexOf(QLatin1String(name));
    if (at < 0)
        return true;
    value = at + 1 < args.size() ? args[at + 1].toInt() : 0;
    args.remove(at, std::min<qsizetype>(2, args.size() - at));
    return value >= 1 && value <= most;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QStringList args = QCoreApplication::arguments().mid(1);
    int seconds = timeoutMs / 1000;
    int count = 1;
    if (!option(args, "--timeout", 3600, seconds) || !option(args, "--count", 1'000'000, count) ||
        args.isEmpty())
        return usage();
    timeoutMs = seconds * 1000;
    if (args[0] == QLatin1String("--help") || args[0] == QLatin1String("-h") ||
        args[0] == QLatin1String("help"))
        return usage(true);
    if (args[0] == QLatin1String("list") && args.size() == 1)
        return list();
    if (args[0] == QLatin1String("table") && args.size() <= 2) {
        const QString target = args.size() == 2 ? args[1] : theOnlyApplication();
        return target.isEmpty() ? 1 : table(target, count);
    }
    if (args[0] == QLatin1String("trace") && args.size() == 3)
        return trace(args[1], args[2]);
    return usage();
}
