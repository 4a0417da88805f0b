// SPDX-License-Identifier: MIT
// rio::DiagnosticsModel: the rows of rio::Diagnostics::snapshot(), one per handler, refreshed on
// a timer and kept sorted.
#include <registryio/qt/diagnostics_model.h>

#include <QHash>
#include <QSet>
#include <QStringList>

#include <algorithm>
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

} // namespace

DiagnosticsModel::DiagnosticsModel(QObject *parent) : QAbstractTableModel(parent)
{
    connect(&m_timer, &QTimer::timeout, this, &DiagnosticsModel::refresh);
    m_timer.start(m_interval);
    refresh();
}

DiagnosticsModel::~DiagnosticsModel() = default;

int DiagnosticsModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
}

int DiagnosticsModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant DiagnosticsModel::cell(const HandlerInfo &h, int column, bool forSort) const
{
    const auto duration = [&](quint64 ns) -> QVariant {
        if (forSort)
            return h.timed ? ns : quint64{0};
        return h.timed ? formatDuration(static_cast<double>(ns)) : QStringLiteral("–");
    };
    switch (column) {
    case RegistryColumn:
        return registryLabel(h);
    case HandlerColumn:
        if (forSort)
            return quint64{h.id.value()};
        return h.id.isValid() ? QString::number(h.id.value()) : QStringLiteral("–");
    case WhereColumn:
        return whereShort(h);
    case ThreadColumn:
        return threadOf(h);
    case CallsColumn:
        return h.calls;
    case FailuresColumn:
        return h.failures;
    case DropsColumn:
        return h.totalDrops();
    case WaitingColumn:
        return h.waiting;
    case P50Column:
        return duration(h.runTime.p50Ns());
    case P99Column:
        return duration(h.runTime.p99Ns());
    case MaxColumn:
        return duration(h.runTime.maxNs);
    default:
        return {};
    }
}

QVariant DiagnosticsModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const HandlerInfo &h = m_rows.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
        return cell(h, index.column(), false);
    case Qt::UserRole:
        return cell(h, index.column(), true);
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
        return cell(h, P99Column, false);
    case MaxTextRole:
        return cell(h, MaxColumn, false);
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

void DiagnosticsModel::sortRows(QList<HandlerInfo> &rows) const
{
    // Each row's key once (a percentile is a walk over its buckets), then the rows by key.
    const int column = m_sortColumn;
    const bool descending = m_sortOrder == Qt::DescendingOrder;
    struct Keyed
    {
        QVariant key;
        qsizetype row;
    };
    std::vector<Keyed> keyed;
    keyed.reserve(static_cast<std::size_t>(rows.size()));
    for (qsizetype i = 0; i < rows.size(); ++i)
        keyed.push_back({cell(rows.at(i), column, true), i});
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

namespace {
using RowKey = std::pair<quint64, quint64>;
RowKey keyOf(const HandlerInfo &h)
{
    return {h.registryId, h.id.value()};
}
} // namespace

void DiagnosticsModel::refresh()
{
    QList<RegistryInfo> snapshot = Diagnostics::snapshot();
    qsizetype count = 0;
    for (const RegistryInfo &registry : snapshot)
        count += registry.handlers.size() + 1;
    QList<HandlerInfo> rows;
    rows.reserve(count);
    for (RegistryInfo &registry : snapshot) {
        if (!m_filter.isEmpty() && !registry.name.contains(m_filter, Qt::CaseInsensitive))
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
    sortRows(rows);
    apply(std::move(rows));
    Q_EMIT refreshed();
}

// Turns the rows into `rows` (sorted) without a reset: handlers that left are removed, new ones
// inserted, and a new order is one layout change (VerticalSortHint) that carries persistent
// indexes along. A view keeps its delegates, scroll position and selection, and a QML ListView
// only re-reads the rows in sight.
void DiagnosticsModel::apply(QList<HandlerInfo> rows)
{
    const qsizetype before = m_rows.size();
    QHash<RowKey, qsizetype> wanted; // a handler's row in `rows`
    wanted.reserve(rows.size());
    for (qsizetype i = 0; i < rows.size(); ++i)
        wanted.insert(keyOf(rows.at(i)), i);
    // Rows that went, from the end, in runs.
    for (qsizetype i = m_rows.size() - 1; i >= 0;) {
        if (wanted.contains(keyOf(m_rows.at(i)))) {
            --i;
            continue;
        }
        qsizetype first = i;
        while (first > 0 && !wanted.contains(keyOf(m_rows.at(first - 1))))
            --first;
        beginRemoveRows({}, static_cast<int>(first), static_cast<int>(i));
        m_rows.remove(first, i - first + 1);
        endRemoveRows();
        i = first - 1;
    }
    // New handlers, appended (the layout change below puts them in place).
    if (m_rows.size() < rows.size()) {
        QSet<RowKey> present;
        present.reserve(m_rows.size());
        for (const HandlerInfo &h : m_rows)
            present.insert(keyOf(h));
        beginInsertRows({}, static_cast<int>(m_rows.size()), static_cast<int>(rows.size()) - 1);
        for (const HandlerInfo &h : rows)
            if (!present.contains(keyOf(h)))
                m_rows.append(h);
        endInsertRows();
    }
    bool sameOrder = true;
    for (qsizetype i = 0; i < rows.size() && sameOrder; ++i)
        sameOrder = keyOf(m_rows.at(i)) == keyOf(rows.at(i));
    if (sameOrder) {
        m_rows = std::move(rows);
    } else {
        Q_EMIT layoutAboutToBeChanged({}, QAbstractItemModel::VerticalSortHint);
        const QModelIndexList from = persistentIndexList();
        QModelIndexList to;
        to.reserve(from.size());
        for (const QModelIndex &i : from)
            to.append(index(static_cast<int>(wanted.value(keyOf(m_rows.at(i.row())))), i.column()));
        m_rows = std::move(rows);
        changePersistentIndexList(from, to);
        Q_EMIT layoutChanged({}, QAbstractItemModel::VerticalSortHint);
    }
    if (!m_rows.isEmpty())
        Q_EMIT dataChanged(index(0, 0), index(static_cast<int>(m_rows.size()) - 1, ColumnCount - 1));
    if (before != m_rows.size())
        Q_EMIT countChanged();
}

HandlerInfo DiagnosticsModel::handlerAt(int row) const
{
    return row >= 0 && row < m_rows.size() ? m_rows.at(row) : HandlerInfo{};
}

void DiagnosticsModel::sort(int column, Qt::SortOrder order)
{
    if (column < 0 || column >= ColumnCount)
        return;
    const bool changed = column != m_sortColumn || order != m_sortOrder;
    m_sortColumn = column;
    m_sortOrder = order;
    Q_EMIT layoutAboutToBeChanged({}, QAbstractItemModel::VerticalSortHint);
    const QModelIndexList before = persistentIndexList();
    QList<std::pair<quint64, quint64>> keys; // the persistent indexes' rows, by handler
    keys.reserve(before.size());
    for (const QModelIndex &i : before) {
        const HandlerInfo &h = m_rows.at(i.row());
        keys.append({h.registryId, h.id.value()});
    }
    sortRows(m_rows);
    QModelIndexList after;
    after.reserve(before.size());
    for (qsizetype k = 0; k < before.size(); ++k) {
        const auto it = std::find_if(m_rows.cbegin(), m_rows.cend(), [&](const HandlerInfo &h) {
            return h.registryId == keys[k].first && h.id.value() == keys[k].second;
        });
        after.append(index(static_cast<int>(it - m_rows.cbegin()), before[k].column()));
    }
    changePersistentIndexList(before, after);
    Q_EMIT layoutChanged({}, QAbstractItemModel::VerticalSortHint);
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
