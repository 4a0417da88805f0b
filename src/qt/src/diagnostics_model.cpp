// SPDX-License-Identifier: MIT
// rio::DiagnosticsModel: the rows of rio::Diagnostics::snapshot(), one per handler, refreshed on
// a timer and kept sorted.
#include "diagnostics_json_p.h"
#include "printable_p.h"
#include <registryio/qt/detail/qt_tsan.h>
#include <registryio/qt/diagnostics_model.h>

#include <QHash>
#include <QSet>
#include <QStringList>

#include <algorithm>
#include <chrono>
#include <climits>
#include <ctime>
#include <new>
#include <optional>
#include <utility>
#include <vector>

namespace rio {

namespace {

using RowKey = std::pair<quint64, quint64>;
RowKey keyOf(const HandlerInfo &h)
{
    return {h.registryId, h.id.value()};
}

QString fileName(const QString &path)
{
    const qsizetype slash = path.lastIndexOf(QLatin1Char('/'));
    return slash < 0 ? path : path.mid(slash + 1);
}

QString position(const QString &file, int line)
{
    if (file.isEmpty())
        return {};
    return line > 0 ? file + u':' + QString::number(line) : file;
}

// The row of a registry's handlers that left (removed, context destroyed, cleared) has no id.
QString removedHandlers()
{
    return QStringLiteral("removed handlers");
}

QString whereShort(const HandlerInfo &h)
{
    if (!h.id.isValid())
        return removedHandlers();
    if (!h.originFile.isEmpty())
        return position(fileName(h.originFile), h.originLine);
    if (!h.file.isEmpty())
        return position(fileName(h.file), h.line);
    return QStringLiteral("unknown");
}

} // namespace

// Where a handler was added, in full (QML's place, then C++'s); the QDebug form shows it too.
QString detail::whereFull(const HandlerInfo &h)
{
    if (!h.id.isValid())
        return removedHandlers();
    const QString cpp = position(h.file, h.line);
    if (h.originFile.isEmpty())
        return cpp.isEmpty() ? QStringLiteral("unknown") : cpp;
    const QString qml = position(h.originFile, h.originLine);
    return cpp.isEmpty() ? qml : QStringLiteral("%1 (%2)").arg(qml, cpp);
}

namespace {

QString threadOf(const HandlerInfo &h)
{
    if (!h.id.isValid())
        return QStringLiteral("–");
    if (!h.hasContext || h.connection == Qt::DirectConnection)
        return QStringLiteral("notifier");
    return h.contextThreadName.isEmpty() ? QStringLiteral("unnamed") : h.contextThreadName;
}

QString dropReasons(const HandlerInfo &h)
{
    QStringList parts;
    for (int i = 0; i < dropReasonCount; ++i) {
        if (const quint64 n = h.drops[static_cast<std::size_t>(i)]; n != 0) {
            QString words = QLatin1String(detail::dropReasonNames[i]); // "contextDestroyed": words
            for (qsizetype c = words.size() - 1; c > 0; --c)
                if (words[c].isUpper())
                    words.replace(c, 1, QStringLiteral(" ") + words[c].toLower());
            parts << QStringLiteral("%1 %2").arg(words).arg(n);
        }
    }
    return parts.join(QStringLiteral(", "));
}

QString registryLabel(const HandlerInfo &h)
{
    return h.registryName.isEmpty() ? QStringLiteral("#%1").arg(h.registryId) : h.registryName;
}

// A cell: its text, or the number the sort compares (forSort).
QVariant cellOf(const HandlerInfo &h, int column, bool forSort)
{
    const auto duration = [&](quint64 ns) -> QVariant {
        if (forSort)
            return h.timed ? ns : quint64{0};
        return h.timed ? DiagnosticsModel::formatDuration(static_cast<double>(ns)) : QStringLiteral("–");
    };
    switch (column) {
    case DiagnosticsModel::RegistryColumn:
        return registryLabel(h);
    case DiagnosticsModel::HandlerColumn:
        if (forSort)
            return quint64{h.id.value()};
        return h.id.isValid() ? QString::number(h.id.value()) : QStringLiteral("–");
    case DiagnosticsModel::WhereColumn:
        return whereShort(h);
    case DiagnosticsModel::ThreadColumn:
        return threadOf(h);
    case DiagnosticsModel::CallsColumn:
        return h.calls;
    case DiagnosticsModel::FailuresColumn:
        return h.failures;
    case DiagnosticsModel::DropsColumn:
        return h.totalDrops();
    case DiagnosticsModel::WaitingColumn:
        return h.waiting;
    case DiagnosticsModel::P50Column:
        return duration(h.runTime.p50Ns());
    case DiagnosticsModel::P99Column:
        return duration(h.runTime.p99Ns());
    case DiagnosticsModel::MaxColumn:
        return duration(h.runTime.maxNs);
    default:
        return {};
    }
}

// Each row's key once (a percentile is a walk over its buckets), then the rows by key.
void sortRows(QList<HandlerInfo> &rows, int column, Qt::SortOrder order)
{
    const bool descending = order == Qt::DescendingOrder;
    struct Keyed
    {
        QVariant key;
        qsizetype row;
    };
    std::vector<Keyed> keyed;
    keyed.reserve(static_cast<std::size_t>(rows.size()));
    for (qsizetype i = 0; i < rows.size(); ++i)
        keyed.push_back({cellOf(rows.at(i), column, true), i});
    std::stable_sort(keyed.begin(), keyed.end(), [&](const Keyed &x, const Keyed &y) {
        const QPartialOrdering order = QVariant::compare(x.key, y.key);
        if (order == QPartialOrdering::Equivalent || order == QPartialOrdering::Unordered) {
            // Ties in a stable order: registry, then handler id.
            const HandlerInfo &a = rows.at(x.row);
            const HandlerInfo &b = rows.at(y.row);
            if (a.registryId != b.registryId)
                return a.registryId < b.registryId;
            return a.id.value() < b.id.value();
        }
        return descending ? order == QPartialOrdering::Greater : order == QPartialOrdering::Less;
    });
    // Into place along each cycle of the order (row keyed[i].row goes to i): no second list of rows.
    for (qsizetype i = 0; i < rows.size(); ++i) {
        if (keyed[std::size_t(i)].row == i)
            continue;
        HandlerInfo first = std::move(rows[i]);
        qsizetype at = i;
        for (qsizetype from = keyed[std::size_t(at)].row; from != i; from = keyed[std::size_t(at)].row) {
            rows[at] = std::move(rows[from]);
            keyed[std::size_t(at)].row = at;
            at = from;
        }
        rows[at] = std::move(first);
        keyed[std::size_t(at)].row = at;
    }
}

// Every handler (and each registry's "removed handlers" row) of the registries of `snapshot` whose
// name contains `filter`, sorted: what a refresh shows. Safe on any thread (Diagnostics::snapshot is).
// Registries `given` (another process's) may name a row twice: the first is kept, as Rows keys
// each row by its registry and handler id.
QList<HandlerInfo> collect(QList<RegistryInfo> snapshot, bool given, const QString &filter, int column,
                           Qt::SortOrder order)
{
    qsizetype count = 0;
    for (const RegistryInfo &registry : std::as_const(snapshot))
        count += registry.handlers.size() + 1;
    QList<HandlerInfo> rows;
    rows.reserve(count);
    for (qsizetype i = 0; i < snapshot.size(); ++i) {
        const RegistryInfo &registry = std::as_const(snapshot)[i];
        if (!filter.isEmpty() && !registry.name.contains(filter, Qt::CaseInsensitive))
            continue;
        // Registries given share their data with the model's thread (m_given), which may let it
        // go meanwhile: only read. A detach checks the count relaxed, so writing what is then this
        // thread's alone would race with that thread's earlier reads. This thread's own are moved.
        if (given)
            rows.append(registry.handlers);
        else
            rows.append(std::move(snapshot[i].handlers));
        HandlerInfo left; // the drops of its handlers that left, as one row without an id
        left.registryId = registry.id;
        left.registryName = registry.name;
        left.eventType = registry.eventType;
        left.drops = registry.removedHandlerDrops;
        if (left.totalDrops() != 0)
            rows.append(std::move(left));
    }
    if (given) {
        QSet<RowKey> seen;
        seen.reserve(rows.size());
        rows.removeIf([&](const HandlerInfo &h) {
            const qsizetype before = seen.size();
            seen.insert(keyOf(h));
            return seen.size() == before;
        });
    }
    sortRows(rows, column, order);
    return rows;
}

// What running out of memory making the rows of a snapshot leaves: the rows shown, and this in the log.
void sayOutOfMemory()
{
    qCWarning(lcDiagnostics, "DiagnosticsModel: out of memory making the rows of a snapshot; "
                             "the rows shown stay");
}

// The calling thread's CPU time (ns) where the platform has a clock for it, else a monotonic time.
qint64 threadTimeNs()
{
#if defined(CLOCK_THREAD_CPUTIME_ID)
    if (timespec t{}; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) == 0)
        return qint64{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
#endif
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

namespace schema = detail::schema;
using schema::bitOf;

// Whether a field's value is unchanged (a histogram: its count, total and maximum).
template <typename T>
bool same(const T &a, const T &b)
{
    return a == b;
}
bool same(const TimeHistogram &a, const TimeHistogram &b)
{
    return a.count == b.count && a.totalNs == b.totalNs && a.maxNs == b.maxNs;
}

// What changed in a row: the bits (schema::bitOf) of the fields whose values differ.
std::uint64_t changesOf(const HandlerInfo &was, const HandlerInfo &is)
{
    std::uint64_t changed = 0;
    schema::forEach(schema::handlerFields, [&](const auto &f, std::size_t i) {
        if (!same(was.*f.member, is.*f.member))
            changed |= std::uint64_t{1} << i;
    });
    return changed;
}

// The roles the model shows besides the fields': each one's name, value and the fields it shows.
struct Shown
{
    int role;
    const char *name;
    QVariant (*value)(const HandlerInfo &);
    std::uint64_t fields;
};

constexpr std::uint64_t place = bitOf(&HandlerInfo::id) | bitOf(&HandlerInfo::file) |
                                bitOf(&HandlerInfo::line) | bitOf(&HandlerInfo::originFile) |
                                bitOf(&HandlerInfo::originLine);
constexpr std::uint64_t runTime = bitOf(&HandlerInfo::runTime) | bitOf(&HandlerInfo::timed);
constexpr std::uint64_t drops = bitOf(&HandlerInfo::drops);

const Shown shown[] = {
    {Qt::ToolTipRole, nullptr, [](const HandlerInfo &h) -> QVariant { return detail::whereFull(h); }, place},
    {DiagnosticsModel::WhereRole, "where", [](const HandlerInfo &h) -> QVariant { return whereShort(h); },
     place},
    {DiagnosticsModel::WhereFullRole, "whereFull",
     [](const HandlerInfo &h) -> QVariant { return detail::whereFull(h); }, place},
    {DiagnosticsModel::ThreadRole, "thread", [](const HandlerInfo &h) -> QVariant { return threadOf(h); },
     bitOf(&HandlerInfo::id) | bitOf(&HandlerInfo::hasContext) | bitOf(&HandlerInfo::connection) |
         bitOf(&HandlerInfo::contextThreadName)},
    {DiagnosticsModel::DropsRole, "drops", [](const HandlerInfo &h) -> QVariant { return h.totalDrops(); },
     drops},
    {DiagnosticsModel::DropReasonsRole, "dropReasons",
     [](const HandlerInfo &h) -> QVariant { return dropReasons(h); }, drops},
    {DiagnosticsModel::P50NsRole, "p50Ns", [](const HandlerInfo &h) -> QVariant { return h.runTime.p50Ns(); },
     runTime},
    {DiagnosticsModel::P99NsRole, "p99Ns", [](const HandlerInfo &h) -> QVariant { return h.runTime.p99Ns(); },
     runTime},
    {DiagnosticsModel::MaxNsRole, "maxNs", [](const HandlerInfo &h) -> QVariant { return h.runTime.maxNs; },
     runTime},
    {DiagnosticsModel::QueueP99NsRole, "queueP99Ns",
     [](const HandlerInfo &h) -> QVariant { return h.queueDelay.p99Ns(); }, bitOf(&HandlerInfo::queueDelay)},
    {DiagnosticsModel::P99TextRole, "p99",
     [](const HandlerInfo &h) { return cellOf(h, DiagnosticsModel::P99Column, false); }, runTime},
    {DiagnosticsModel::MaxTextRole, "max",
     [](const HandlerInfo &h) { return cellOf(h, DiagnosticsModel::MaxColumn, false); }, runTime},
};

// A field's role: the schema's, or FieldRole plus its index.
template <typename F>
int roleOf(const F &f, std::size_t index)
{
    return f.role != 0 ? f.role : DiagnosticsModel::FieldRole + static_cast<int>(index);
}

// The roles that show the fields `changed` (some column's text and sort key too).
QList<int> rolesOf(std::uint64_t changed)
{
    QList<int> roles{Qt::DisplayRole, Qt::UserRole};
    schema::forEach(schema::handlerFields, [&](const auto &f, std::size_t i) {
        if ((changed >> i & 1U) != 0)
            roles.append(roleOf(f, i));
    });
    for (const Shown &s : shown)
        if ((changed & s.fields) != 0)
            roles.append(s.role);
    return roles;
}

// Which elements of `values` form one of its longest increasing subsequences.
std::vector<bool> longestIncreasing(const std::vector<qsizetype> &values)
{
    const std::size_t n = values.size();
    std::vector<std::size_t> tails;            // tails[k]: the element ending the best run of length k + 1
    std::vector<std::ptrdiff_t> before(n, -1); // the element before it in its run
    for (std::size_t i = 0; i < n; ++i) {
        const auto at = std::lower_bound(tails.begin(), tails.end(), values[i],
                                         [&](std::size_t t, qsizetype v) { return values[t] < v; });
        if (at != tails.begin())
            before[i] = static_cast<std::ptrdiff_t>(*(at - 1));
        if (at == tails.end())
            tails.push_back(i);
        else
            *at = i;
    }
    std::vector<bool> in(n, false);
    for (std::ptrdiff_t i = tails.empty() ? -1 : static_cast<std::ptrdiff_t>(tails.back()); i >= 0;
         i = before[i])
        in[static_cast<std::size_t>(i)] = true;
    return in;
}

// More rows out of place than this: one layout change instead of a move each (a QML ListView
// pays for a layout change, which reads every row in sight again, about what 30 moves cost it).
constexpr std::size_t maxMoves = 32;

} // namespace

// The sorted rows, and how the model turns its rows (`base`, in the order shown) into them:
// worked out where the rows are made (the worker), so that the model's thread only replays it.
// Rows that went are removed (runs of rows, from the end); the rows that stay are put in the new
// order by moving the few out of place (the rows of a longest run already in order stay), or,
// when more than maxMoves are, by one layout change; new rows are inserted where they belong
// (runs); the rows whose values changed get one dataChanged from the first to the last of them,
// naming only the roles that show what changed in any of them: a view re-reads those, for the
// rows it shows, once (a dataChanged per changed row or per role would cost it a pass each).
struct DiagnosticsModel::Rows
{
    struct Run
    {
        int first;
        int last;
    };

    Rows(QList<HandlerInfo> sorted, QList<HandlerInfo> shown)
        : list(std::move(sorted)), base(std::move(shown))
    {
        QHash<RowKey, qsizetype> wanted; // a handler's row in `list`
        wanted.reserve(list.size());
        for (qsizetype i = 0; i < list.size(); ++i)
            wanted.insert(keyOf(list.at(i)), i);
        // A row of `base`: its row in `list`, or -1 when it went.
        std::vector<qsizetype> now(static_cast<std::size_t>(base.size()));
        for (qsizetype i = 0; i < base.size(); ++i)
            now[static_cast<std::size_t>(i)] = wanted.value(keyOf(base.at(i)), -1);
        for (auto i = static_cast<qsizetype>(now.size()) - 1; i >= 0; --i) {
            if (now[static_cast<std::size_t>(i)] >= 0)
                continue;
            const qsizetype last = i;
            while (i > 0 && now[static_cast<std::size_t>(i - 1)] < 0)
                --i;
            removed.push_back({static_cast<int>(i), static_cast<int>(last)});
        }
        std::vector<bool> stays(static_cast<std::size_t>(list.size()), false);
        for (qsizetype i = 0; i < base.size(); ++i) {
            if (const qsizetype t = now[static_cast<std::size_t>(i)]; t >= 0) {
                kept.push_back(t);
                stays[static_cast<std::size_t>(t)] = true;
                if (const std::uint64_t c = changesOf(base.at(i), list.at(t)); c != 0) {
                    changed |= c;
                    firstChanged = std::min(firstChanged, static_cast<int>(t));
                    lastChanged = std::max(lastChanged, static_cast<int>(t));
                }
            }
        }
        // The moves, as the model will make them, on a copy of its rows.
        const std::vector<bool> inPlace = longestIncreasing(kept);
        std::vector<qsizetype> moving;
        for (std::size_t i = 0; i < kept.size(); ++i)
            if (!inPlace[i])
                moving.push_back(kept[i]);
        relayout = moving.size() > maxMoves;
        for (qsizetype t = 0; relayout && t < list.size(); ++t)
            if (stays[static_cast<std::size_t>(t)])
                inOrder.push_back(t);
        if (!relayout) {
            std::sort(moving.begin(), moving.end());
            std::vector<qsizetype> view = kept;
            std::vector<char> placed(static_cast<std::size_t>(list.size()), 0);
            for (std::size_t i = 0; i < view.size(); ++i)
                placed[static_cast<std::size_t>(view[i])] = inPlace[i] ? 1 : 0;
            for (const qsizetype v : moving) {
                // After the largest row already in order that comes before it, else first.
                qsizetype from = 0, to = 0;
                for (qsizetype i = 0; i < static_cast<qsizetype>(view.size()); ++i) {
                    const qsizetype w = view[static_cast<std::size_t>(i)];
                    if (w == v)
                        from = i;
                    else if (w < v && placed[static_cast<std::size_t>(w)] != 0)
                        to = i + 1;
                }
                placed[static_cast<std::size_t>(v)] = 1;
                if (to == from)
                    continue;
                moves.emplace_back(static_cast<int>(from), static_cast<int>(to));
                view.erase(view.begin() + from);
                view.insert(view.begin() + (to > from ? to - 1 : to), v);
            }
        }
        for (qsizetype t = 0; t < list.size();) {
            const auto at = static_cast<std::size_t>(t);
            if (stays[at]) {
                ++t;
                continue;
            }
            qsizetype end = t + 1;
            while (end < list.size() && !stays[static_cast<std::size_t>(end)])
                ++end;
            inserted.push_back({static_cast<int>(t), static_cast<int>(end - 1)});
            t = end;
        }
    }

    QList<HandlerInfo> list;
    QList<HandlerInfo> base;                // the rows the model showed, in their order
    std::vector<Run> removed;               // rows of `base` that went, last run first
    std::vector<qsizetype> kept;            // then: each row's place in `list`
    bool relayout = false;                  // then: one layout change puts them in order,
    std::vector<qsizetype> inOrder;         // these (`kept`, sorted),
    std::vector<std::pair<int, int>> moves; // or these moves (beginMoveRows' from and to) do
    std::vector<Run> inserted;              // then: the new rows (rows of `list`), first run first
    std::uint64_t changed = 0;              // and rows changed in place: the fields that changed,
    int firstChanged = INT_MAX;             // the first of them
    int lastChanged = -1;                   // and the last
};

DiagnosticsModel::DiagnosticsModel(QObject *parent) : QAbstractTableModel(parent)
{
    m_worker.setMaxThreadCount(1);
    connect(Diagnostics::instance(), &Diagnostics::enabledChanged, this,
            &DiagnosticsModel::diagnosticsEnabledChanged);
    connect(&m_timer, &QTimer::timeout, this, &DiagnosticsModel::collectOnWorker);
    m_timer.start(m_interval);
    refresh();
}

DiagnosticsModel::~DiagnosticsModel()
{
    m_timer.stop();
    m_worker.clear();       // a collection not started yet never starts
    m_worker.waitForDone(); // one running ends (it runs no user code); what it posted dies with us
}

int DiagnosticsModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_view.size());
}

int DiagnosticsModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant DiagnosticsModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const HandlerInfo &h = rowAt(index.row());
    QVariant value;
    const auto named =
        std::find_if(std::begin(shown), std::end(shown), [&](const Shown &s) { return s.role == role; });
    if (role == Qt::DisplayRole || role == Qt::UserRole)
        value = cellOf(h, index.column(), role == Qt::UserRole);
    else if (named != std::end(shown))
        value = named->value(h);
    else
        schema::forEach(schema::handlerFields, [&](const auto &f, std::size_t i) {
            if (roleOf(f, i) == role)
                value = schema::jsonOf(h.*f.member).toVariant();
        });
    // A text as long as a peer may send (megabytes) costs a view's layout as much: cut.
    if (value.typeId() == QMetaType::QString)
        return detail::shown(value.toString());
    return value;
}

QVariant DiagnosticsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    static const char *const titles[ColumnCount] = {"Registry", "Handler",  "Where", "Thread",
                                                    "Calls",    "Failures", "Drops", "Waiting",
                                                    "p50",      "p99",      "Max"};
    if (section < 0 || section >= ColumnCount)
        return {};
    return QString::fromLatin1(titles[section]);
}

QHash<int, QByteArray> DiagnosticsModel::roleNames() const
{
    QHash<int, QByteArray> names = QAbstractTableModel::roleNames();
    schema::forEach(schema::handlerFields, [&](const auto &f, std::size_t i) {
        names.insert(roleOf(f, i), f.roleName != nullptr ? f.roleName : f.key);
    });
    for (const Shown &s : shown)
        if (s.name != nullptr)
            names.insert(s.role, s.name);
    return names;
}

void DiagnosticsModel::refresh()
{
    ++m_generation; // a collection in flight would now be older than these rows
    const qint64 start = threadTimeNs();
    std::optional<Rows> rows;
    try { // on the model's thread: a filter typed, a source switched, after the worker ran out too
        rows.emplace(collect(m_local ? Diagnostics::snapshot() : m_given, !m_local, m_filter, m_sortColumn,
                             m_sortOrder),
                     m_rows);
    } catch (const std::bad_alloc &) {
        sayOutOfMemory();
        m_outOfMemory = true;
        Q_EMIT refreshed();
        return;
    }
    const qint64 collected = threadTimeNs();
    apply(std::move(*rows));
    m_outOfMemory = false;
    m_snapshotNs = collected - start;
    m_applyNs = threadTimeNs() - collected;
    m_frameFrom = collected;
    Q_EMIT refreshed();
    Q_EMIT costChanged();
}

void DiagnosticsModel::frameEnded()
{
    if (m_frameFrom < 0)
        return;
    m_applyNs = threadTimeNs() - std::exchange(m_frameFrom, -1);
    Q_EMIT costChanged();
}

// The timer's refresh (and setSnapshot's): the snapshot (or the registries given), its sort and the plan that
// turns the rows shown into them on the worker (which also frees the rows the last refresh replaced), the
// plan replayed here. At most one collection at a time: a tick while one runs is skipped. The task touches
// nothing of the model but its address, to post the rows back; the destructor waits for it, and the posted
// rows die with the model.
void DiagnosticsModel::collectOnWorker()
{
    if (m_collecting)
        return;
    m_collecting = true;
    // Handover: Qt's pool and event queue hand the functors over where TSan cannot see it.
    m_worker.start(detail::Handover([this, filter = m_filter, column = m_sortColumn, order = m_sortOrder,
                                     generation = m_generation, shown = m_rows,
                                     given = m_local ? std::nullopt : std::optional(m_given),
                                     spent = std::exchange(m_spent, {})]() mutable {
        spent = {};
        const qint64 start = threadTimeNs();
        const bool isGiven = given.has_value();
        std::optional<Rows> rows;
        try {
            rows.emplace(
                collect(given ? std::move(*given) : Diagnostics::snapshot(), isGiven, filter, column, order),
                std::move(shown));
        } catch (const std::bad_alloc &) { // the rows shown stay; a pool thread must not throw
            given.reset();
            sayOutOfMemory();
        }
        const qint64 ns = threadTimeNs() - start;
        [[maybe_unused]] const detail::TsanPostScope posting;
        QMetaObject::invokeMethod(this,
                                  detail::Handover([this, rows = std::move(rows), generation, ns]() mutable {
                                      if (rows) {
                                          applyCollected(std::move(*rows), generation, ns);
                                          return;
                                      }
                                      // Said only of the rows shown next: not when registries were
                                      // given since (a newer snapshot, none at a detach).
                                      const bool current = generation == m_generation && !m_givenWaiting;
                                      applyCollected(Rows({}, {}), generation - 1, ns); // dropped
                                      if (current) { // said, as the rows of a refresh are
                                          m_outOfMemory = true;
                                          Q_EMIT refreshed();
                                      }
                                  }),
                                  Qt::QueuedConnection);
    }));
}

void DiagnosticsModel::applyCollected(Rows rows, quint64 generation, qint64 snapshotNs)
{
    m_collecting = false;
    if (generation != m_generation) { // the filter, order or source changed, or refresh() ran since
        m_spent.append(std::move(rows.list));
        m_spent.append(std::move(rows.base));
    } else {
        const qint64 start = threadTimeNs();
        apply(std::move(rows));
        if (!m_local) // rows given go before the next are given: one of each is held, not two
            m_spent = {};
        m_outOfMemory = false;
        m_applyNs = threadTimeNs() - start;
        m_snapshotNs = snapshotNs;
        m_frameFrom = start;
        Q_EMIT refreshed();
        Q_EMIT costChanged();
    }
    if (std::exchange(m_givenWaiting, false) && !m_local)
        collectOnWorker();
}

const HandlerInfo &DiagnosticsModel::rowAt(int row) const
{
    return m_rows.at(m_view[static_cast<std::size_t>(row)]);
}

// Replays `sorted`'s plan (see Rows), so that a view keeps its delegates, scroll position and
// selection, and a QML ListView moves a delegate with its row instead of refilling every one in
// sight. m_view maps a view row to its place in m_rows while the rows are rearranged. A plan
// made from other rows than these (none of the model's own paths makes one) is made again here.
void DiagnosticsModel::apply(Rows sorted)
{
    if (sorted.base.constData() != m_rows.constData() || sorted.base.size() != m_rows.size())
        sorted = Rows(std::move(sorted.list), m_rows);
    const std::size_t before = m_view.size();
    for (const Rows::Run &run : sorted.removed) {
        beginRemoveRows({}, run.first, run.last);
        m_view.erase(m_view.begin() + run.first, m_view.begin() + run.last + 1);
        endRemoveRows();
    }
    m_view = std::move(sorted.kept);
    m_spent.append(std::exchange(m_rows, std::move(sorted.list)));
    sorted.base = {}; // m_spent holds it: the worker frees it
    if (sorted.relayout) {
        Q_EMIT layoutAboutToBeChanged({}, QAbstractItemModel::VerticalSortHint);
        const std::vector<qsizetype> &inOrder = sorted.inOrder;
        const QModelIndexList from = persistentIndexList();
        QModelIndexList to;
        to.reserve(from.size());
        for (const QModelIndex &i : from) {
            const qsizetype v = m_view[static_cast<std::size_t>(i.row())];
            to.append(
                index(static_cast<int>(std::lower_bound(inOrder.begin(), inOrder.end(), v) - inOrder.begin()),
                      i.column()));
        }
        m_view = std::move(sorted.inOrder);
        changePersistentIndexList(from, to);
        Q_EMIT layoutChanged({}, QAbstractItemModel::VerticalSortHint);
    }
    for (const auto &[from, to] : sorted.moves) {
        const qsizetype v = m_view[static_cast<std::size_t>(from)];
        beginMoveRows({}, from, from, {}, to);
        m_view.erase(m_view.begin() + from);
        m_view.insert(m_view.begin() + (to > from ? to - 1 : to), v);
        endMoveRows();
    }
    for (const Rows::Run &run : sorted.inserted) {
        // Every row before run.first is in place: the new rows go in there.
        beginInsertRows({}, run.first, run.last);
        for (int k = run.first; k <= run.last; ++k)
            m_view.insert(m_view.begin() + k, k);
        endInsertRows();
    }
    // Only the rows that changed, and only the roles that show it: a QML delegate re-reads those.
    if (sorted.changed != 0)
        Q_EMIT dataChanged(index(sorted.firstChanged, 0), index(sorted.lastChanged, ColumnCount - 1),
                           rolesOf(sorted.changed));
    if (before != m_view.size())
        Q_EMIT countChanged();
}

HandlerInfo DiagnosticsModel::handlerAt(int row) const
{
    return row >= 0 && row < rowCount() ? rowAt(row) : HandlerInfo{};
}

void DiagnosticsModel::sort(int column, Qt::SortOrder order)
{
    if (column < 0 || column >= ColumnCount)
        return;
    const bool changed = column != m_sortColumn || order != m_sortOrder;
    m_sortColumn = column;
    m_sortOrder = order;
    ++m_generation; // a collection in flight is sorted the old way
    QList<HandlerInfo> rows = m_rows;
    sortRows(rows, m_sortColumn, m_sortOrder);
    apply(Rows(std::move(rows), m_rows));
    if (changed)
        Q_EMIT sortChanged();
}

void DiagnosticsModel::setRefreshInterval(int ms)
{
    ms = std::max(ms, 0);
    if (ms == m_interval)
        return;
    m_interval = ms;
    if (ms == 0 || !m_local)
        m_timer.stop();
    else
        m_timer.start(ms);
    Q_EMIT refreshIntervalChanged();
}

void DiagnosticsModel::setSortColumn(int column)
{
    if (column != m_sortColumn)
        sort(column, m_sortOrder);
}

void DiagnosticsModel::setSortOrder(Qt::SortOrder order)
{
    if (order != m_sortOrder)
        sort(m_sortColumn, order);
}

void DiagnosticsModel::setRegistryFilter(const QString &filter)
{
    if (filter == m_filter)
        return;
    m_filter = filter;
    Q_EMIT registryFilterChanged();
    refresh();
}

void DiagnosticsModel::setLocal(bool local)
{
    if (local == m_local)
        return;
    m_local = local;
    if (local && m_interval > 0)
        m_timer.start(m_interval);
    else
        m_timer.stop();
    refresh();
    Q_EMIT localChanged();
}

void DiagnosticsModel::setSnapshot(QList<RegistryInfo> registries)
{
    m_given = std::move(registries);
    if (m_local) { // at once: this process's rows are not shown after the call (nor one in flight)
        setLocal(false);
        return;
    }
    if (m_collecting)
        m_givenWaiting = true;
    else
        collectOnWorker();
}

QString DiagnosticsModel::formatDuration(double ns)
{
    if (ns < 1e3)
        return QString::number(ns, 'f', 0) + QStringLiteral(" ns");
    if (ns < 1e6)
        return QString::number(ns / 1e3, 'f', ns < 1e4 ? 2 : 1) + QStringLiteral(" µs");
    if (ns < 1e9)
        return QString::number(ns / 1e6, 'f', ns < 1e7 ? 2 : 1) + QStringLiteral(" ms");
    return QString::number(ns / 1e9, 'f', 1) + QStringLiteral(" s");
}

} // namespace rio
