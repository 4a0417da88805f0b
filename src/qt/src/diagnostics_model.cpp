// SPDX-License-Identifier: MIT
// rio::DiagnosticsModel: the rows of rio::Diagnostics::snapshot(), one per handler, refreshed on
// a timer and kept sorted.
#include <registryio/qt/detail/qt_tsan.h>
#include <registryio/qt/diagnostics_model.h>

#include <QHash>
#include <QStringList>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <utility>
#include <vector>

namespace rio::detail {

// A connection type as the model and the JSON form show it (diagnostics_json.cpp declares it).
QString connectionName(Qt::ConnectionType type)
{
    switch (type & ~Qt::UniqueConnection & ~Qt::SingleShotConnection) {
    case Qt::DirectConnection:
        return QStringLiteral("direct");
    case Qt::QueuedConnection:
        return QStringLiteral("queued");
    case Qt::BlockingQueuedConnection:
        return QStringLiteral("blocking");
    default:
        return QStringLiteral("auto");
    }
}

} // namespace rio::detail

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
    return line > 0 ? QStringLiteral("%1:%2").arg(file).arg(line) : file;
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

QString whereFull(const HandlerInfo &h)
{
    if (!h.id.isValid())
        return removedHandlers();
    const QString cpp = position(h.file, h.line);
    if (h.originFile.isEmpty())
        return cpp.isEmpty() ? QStringLiteral("unknown") : cpp;
    const QString qml = position(h.originFile, h.originLine);
    return cpp.isEmpty() ? qml : QStringLiteral("%1 (%2)").arg(qml, cpp);
}

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
    static const char *const names[dropReasonCount] = {"overflow", "removed", "context destroyed",
                                                       "suspended", "no memory"};
    QStringList parts;
    for (int i = 0; i < dropReasonCount; ++i) {
        if (const quint64 n = h.drops[static_cast<std::size_t>(i)]; n != 0)
            parts << QStringLiteral("%1 %2").arg(QLatin1String(names[i])).arg(n);
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
    QList<HandlerInfo> sorted;
    sorted.reserve(rows.size());
    for (const Keyed &k : keyed)
        sorted.append(std::move(rows[k.row]));
    rows = std::move(sorted);
}

// Every live handler (and each registry's "removed handlers" row) of the registries whose name
// contains `filter`, sorted: what a refresh shows. Safe on any thread (Diagnostics::snapshot is).
QList<HandlerInfo> collect(const QString &filter, int column, Qt::SortOrder order)
{
    QList<RegistryInfo> snapshot = Diagnostics::snapshot();
    qsizetype count = 0;
    for (const RegistryInfo &registry : snapshot)
        count += registry.handlers.size() + 1;
    QList<HandlerInfo> rows;
    rows.reserve(count);
    for (RegistryInfo &registry : snapshot) {
        if (!filter.isEmpty() && !registry.name.contains(filter, Qt::CaseInsensitive))
            continue;
        for (HandlerInfo &h : registry.handlers)
            rows.append(std::move(h));
        HandlerInfo left; // the drops of its handlers that left, as one row without an id
        left.registryId = registry.id;
        left.registryName = registry.name;
        left.eventType = registry.eventType;
        left.drops = registry.removedHandlerDrops;
        if (left.totalDrops() != 0)
            rows.append(std::move(left));
    }
    sortRows(rows, column, order);
    return rows;
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

} // namespace

// Rows in their order, and each handler's row (built where the rows are made: the worker).
struct DiagnosticsModel::Rows
{
    explicit Rows(QList<HandlerInfo> sorted) : list(std::move(sorted))
    {
        row.reserve(list.size());
        for (qsizetype i = 0; i < list.size(); ++i)
            row.insert(keyOf(list.at(i)), i);
    }
    QList<HandlerInfo> list;
    QHash<RowKey, qsizetype> row;
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
    switch (role) {
    case Qt::DisplayRole:
        return cellOf(h, index.column(), false);
    case Qt::UserRole:
        return cellOf(h, index.column(), true);
    case Qt::ToolTipRole:
        return whereFull(h);
    case RegistryIdRole:
        return h.registryId;
    case RegistryNameRole:
        return registryLabel(h);
    case EventTypeRole:
        return h.eventType;
    case HandlerIdRole:
        return quint64{h.id.value()};
    case WhereRole:
        return whereShort(h);
    case WhereFullRole:
        return whereFull(h);
    case FunctionRole:
        return h.function;
    case ThreadRole:
        return threadOf(h);
    case AddedThreadRole:
        return h.addedThreadName;
    case ConnectionRole:
        return detail::connectionName(h.connection);
    case PriorityRole:
        return h.priority;
    case CallsRole:
        return h.calls;
    case FailuresRole:
        return h.failures;
    case DropsRole:
        return h.totalDrops();
    case DropReasonsRole:
        return dropReasons(h);
    case WaitingRole:
        return h.waiting;
    case MaxWaitingRole:
        return h.maxWaiting;
    case CoalescedRole:
        return h.coalesced;
    case SlowRunsRole:
        return h.slowRuns;
    case TimedRole:
        return h.timed;
    case P50NsRole:
        return h.runTime.p50Ns();
    case P99NsRole:
        return h.runTime.p99Ns();
    case MaxNsRole:
        return h.runTime.maxNs;
    case QueueP99NsRole:
        return h.queueDelay.p99Ns();
    case SuspendedRole:
        return h.suspended;
    case P99TextRole:
        return cellOf(h, P99Column, false);
    case MaxTextRole:
        return cellOf(h, MaxColumn, false);
    default:
        return {};
    }
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
    names.insert({{RegistryIdRole, "registryId"},
                  {RegistryNameRole, "registryName"},
                  {EventTypeRole, "eventType"},
                  {HandlerIdRole, "handlerId"},
                  {WhereRole, "where"},
                  {WhereFullRole, "whereFull"},
                  {FunctionRole, "caller"},
                  {ThreadRole, "thread"},
                  {AddedThreadRole, "addedThread"},
                  {ConnectionRole, "connection"},
                  {PriorityRole, "priority"},
                  {CallsRole, "calls"},
                  {FailuresRole, "failures"},
                  {DropsRole, "drops"},
                  {DropReasonsRole, "dropReasons"},
                  {WaitingRole, "waiting"},
                  {MaxWaitingRole, "maxWaiting"},
                  {CoalescedRole, "coalesced"},
                  {SlowRunsRole, "slowRuns"},
                  {TimedRole, "timed"},
                  {P50NsRole, "p50Ns"},
                  {P99NsRole, "p99Ns"},
                  {MaxNsRole, "maxNs"},
                  {QueueP99NsRole, "queueP99Ns"},
                  {SuspendedRole, "suspended"},
                  {P99TextRole, "p99"},
                  {MaxTextRole, "max"}});
    return names;
}

void DiagnosticsModel::refresh()
{
    ++m_generation; // a collection in flight would now be older than these rows
    const qint64 start = threadTimeNs();
    Rows rows(collect(m_filter, m_sortColumn, m_sortOrder));
    const qint64 collected = threadTimeNs();
    apply(std::move(rows));
    m_snapshotNs = collected - start;
    m_applyNs = threadTimeNs() - collected;
    Q_EMIT refreshed();
}

// The timer's refresh: the snapshot and its sort on the worker (which also frees the rows the
// last refresh replaced), the sorted rows applied here. At most one collection at a time: a tick
// while one runs is skipped. The task touches nothing of the model but its address, to post the
// rows back; the destructor waits for it, and the posted rows die with the model.
void DiagnosticsModel::collectOnWorker()
{
    if (m_collecting)
        return;
    m_collecting = true;
    // Handover: Qt's pool and event queue hand the functors over where TSan cannot see it.
    m_worker.start(detail::Handover([this, filter = m_filter, column = m_sortColumn, order = m_sortOrder,
                                     generation = m_generation,
                                     spent = std::exchange(m_spent, {})]() mutable {
        spent = {};
        const qint64 start = threadTimeNs();
        Rows rows(collect(filter, column, order));
        const qint64 ns = threadTimeNs() - start;
        [[maybe_unused]] const detail::TsanPostScope posting;
        QMetaObject::invokeMethod(this,
                                  detail::Handover([this, rows = std::move(rows), generation, ns]() mutable {
                                      applyCollected(std::move(rows), generation, ns);
                                  }),
                                  Qt::QueuedConnection);
    }));
}

void DiagnosticsModel::applyCollected(Rows rows, quint64 generation, qint64 snapshotNs)
{
    m_collecting = false;
    if (generation != m_generation) { // the filter or the order changed, or refresh() ran since
        m_spent = std::move(rows.list);
        return;
    }
    const qint64 start = threadTimeNs();
    apply(std::move(rows));
    m_applyNs = threadTimeNs() - start;
    m_snapshotNs = snapshotNs;
    Q_EMIT refreshed();
}

namespace {

// Whether a row's counters and times are unchanged.
bool sameCounts(const HandlerInfo &a, const HandlerInfo &b)
{
    return a.calls == b.calls && a.failures == b.failures && a.drops == b.drops && a.waiting == b.waiting &&
           a.maxWaiting == b.maxWaiting && a.coalesced == b.coalesced && a.slowRuns == b.slowRuns &&
           a.suspended == b.suspended && a.timed == b.timed && a.runTime.count == b.runTime.count &&
           a.runTime.maxNs == b.runTime.maxNs && a.queueDelay.count == b.queueDelay.count;
}

// Whether a row's names are unchanged (a registry or thread renamed).
bool sameNames(const HandlerInfo &a, const HandlerInfo &b)
{
    return a.registryName == b.registryName && a.addedThreadName == b.addedThreadName &&
           a.contextThreadName == b.contextThreadName;
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

// More rows out of place than this: one layout change instead of a move each.
constexpr std::size_t maxMoves = 64;

} // namespace

const HandlerInfo &DiagnosticsModel::rowAt(int row) const
{
    return m_rows.at(m_view[static_cast<std::size_t>(row)]);
}

// Turns the rows into `rows` (sorted) without a reset, as a view can follow at the least cost:
// handlers that left are removed (in runs), the rows that stay are put in the new order by
// moving the few out of place (beginMoveRows; one layout change with VerticalSortHint when more
// than maxMoves are), new handlers are inserted where they belong (in runs), and rows whose
// values changed get one dataChanged. A view keeps its delegates, scroll position and
// selection; a QML ListView moves a delegate with its row instead of refilling every one in
// sight. m_view maps a view row to its place in m_rows while the rows are rearranged.
void DiagnosticsModel::apply(Rows sorted)
{
    const std::size_t before = m_view.size();
    const QHash<RowKey, qsizetype> &wanted = sorted.row; // a handler's row in `rows`
    QList<HandlerInfo> &rows = sorted.list;
    // Rows that went, from the end, in runs.
    for (auto i = static_cast<qsizetype>(m_view.size()) - 1; i >= 0;) {
        if (wanted.contains(keyOf(rowAt(static_cast<int>(i))))) {
            --i;
            continue;
        }
        qsizetype first = i;
        while (first > 0 && !wanted.contains(keyOf(rowAt(static_cast<int>(first - 1)))))
            --first;
        beginRemoveRows({}, static_cast<int>(first), static_cast<int>(i));
        m_view.erase(m_view.begin() + first, m_view.begin() + i + 1);
        endRemoveRows();
        i = first - 1;
    }
    // The rows that stay take their new values: each names its place in `rows`.
    std::vector<bool> shown(static_cast<std::size_t>(rows.size()), false);
    qsizetype firstChanged = rows.size(), lastChanged = -1;
    bool renamed = false;
    for (qsizetype &v : m_view) {
        const qsizetype now = wanted.value(keyOf(m_rows.at(v)));
        const bool names = sameNames(m_rows.at(v), rows.at(now));
        if (!names || !sameCounts(m_rows.at(v), rows.at(now))) {
            firstChanged = std::min(firstChanged, now);
            lastChanged = std::max(lastChanged, now);
            renamed = renamed || !names;
        }
        v = now;
        shown[static_cast<std::size_t>(now)] = true;
    }
    m_spent = std::exchange(m_rows, std::move(rows));
    // Those rows in the new order.
    const std::vector<bool> inPlace = longestIncreasing(m_view);
    std::vector<qsizetype> moving;
    for (std::size_t i = 0; i < m_view.size(); ++i)
        if (!inPlace[i])
            moving.push_back(m_view[i]);
    if (moving.size() > maxMoves) {
        Q_EMIT layoutAboutToBeChanged({}, QAbstractItemModel::VerticalSortHint);
        std::vector<qsizetype> sorted = m_view;
        std::sort(sorted.begin(), sorted.end());
        const QModelIndexList from = persistentIndexList();
        QModelIndexList to;
        to.reserve(from.size());
        for (const QModelIndex &i : from) {
            const qsizetype v = m_view[static_cast<std::size_t>(i.row())];
            to.append(
                index(static_cast<int>(std::lower_bound(sorted.begin(), sorted.end(), v) - sorted.begin()),
                      i.column()));
        }
        m_view = std::move(sorted);
        changePersistentIndexList(from, to);
        Q_EMIT layoutChanged({}, QAbstractItemModel::VerticalSortHint);
    } else {
        std::sort(moving.begin(), moving.end());
        std::vector<bool> placed(static_cast<std::size_t>(m_rows.size()), false);
        for (std::size_t i = 0; i < m_view.size(); ++i)
            placed[static_cast<std::size_t>(m_view[i])] = inPlace[i];
        for (const qsizetype v : moving) {
            // After the largest row already in order that comes before it, else first.
            qsizetype from = 0, to = 0;
            for (qsizetype i = 0; i < static_cast<qsizetype>(m_view.size()); ++i) {
                const qsizetype w = m_view[static_cast<std::size_t>(i)];
                if (w == v)
                    from = i;
                else if (w < v && placed[static_cast<std::size_t>(w)])
                    to = i + 1;
            }
            placed[static_cast<std::size_t>(v)] = true;
            if (to == from)
                continue;
            beginMoveRows({}, static_cast<int>(from), static_cast<int>(from), {}, static_cast<int>(to));
            m_view.erase(m_view.begin() + from);
            m_view.insert(m_view.begin() + (to > from ? to - 1 : to), v);
            endMoveRows();
        }
    }
    // New handlers, where they belong, in runs.
    for (qsizetype t = 0; t < m_rows.size();) {
        if (shown[static_cast<std::size_t>(t)]) {
            ++t;
            continue;
        }
        qsizetype end = t;
        while (end < m_rows.size() && !shown[static_cast<std::size_t>(end)])
            ++end;
        // Rows t..end-1 are new; every row before t is in place: they go in at row t.
        beginInsertRows({}, static_cast<int>(t), static_cast<int>(end) - 1);
        for (qsizetype k = t; k < end; ++k)
            m_view.insert(m_view.begin() + k, k);
        endInsertRows();
        t = end;
    }
    // Only the roles that changed: a QML delegate re-reads those alone.
    static const QList<int> counts{
        Qt::DisplayRole, Qt::UserRole,   CallsRole,      FailuresRole,  DropsRole,   DropReasonsRole,
        WaitingRole,     MaxWaitingRole, CoalescedRole,  SlowRunsRole,  TimedRole,   P50NsRole,
        P99NsRole,       MaxNsRole,      QueueP99NsRole, SuspendedRole, P99TextRole, MaxTextRole};
    if (firstChanged <= lastChanged)
        Q_EMIT dataChanged(index(static_cast<int>(firstChanged), 0),
                           index(static_cast<int>(lastChanged), ColumnCount - 1),
                           renamed ? QList<int>{} : counts);
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
    apply(Rows(std::move(rows)));
    if (changed)
        Q_EMIT sortChanged();
}

void DiagnosticsModel::setRefreshInterval(int ms)
{
    ms = std::max(ms, 0);
    if (ms == m_interval)
        return;
    m_interval = ms;
    if (ms == 0)
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

QString DiagnosticsModel::formatDuration(double ns)
{
    if (ns < 1e3)
        return QStringLiteral("%1 ns").arg(ns, 0, 'f', 0);
    if (ns < 1e6)
        return QStringLiteral("%1 µs").arg(ns / 1e3, 0, 'f', ns < 1e4 ? 2 : 1);
    if (ns < 1e9)
        return QStringLiteral("%1 ms").arg(ns / 1e6, 0, 'f', ns < 1e7 ? 2 : 1);
    return QStringLiteral("%1 s").arg(ns / 1e9, 0, 'f', 1);
}

} // namespace rio
