// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/qt/diagnostics.h>
#include <registryio/qt/qt_export.h>

#include <QAbstractTableModel>
#include <QHash>
#include <QList>
#include <QThreadPool>
#include <QTimer>

#include <vector>

namespace rio {

/// Every handler of every live registry (Diagnostics::snapshot(), or another process's given to
/// setSnapshot()) as a table, one row per handler and one "removed handlers" row (id 0) per
/// registry whose removed handlers dropped deliveries; columns for table views, every field a
/// role for QML. Refreshed every refreshInterval ms on a worker of its own, kept sorted
/// (docs/DIAGNOSTICS.md, "Inspector and model").
class RIO_QT_EXPORT DiagnosticsModel : public QAbstractTableModel
{
    Q_OBJECT
    /// Milliseconds between two snapshots (default 500; 0: only refresh() takes one).
    Q_PROPERTY(
        int refreshInterval READ refreshInterval WRITE setRefreshInterval NOTIFY refreshIntervalChanged)
    /// The column rows are sorted by (Column; default Max: the longest run first) and its order.
    Q_PROPERTY(int sortColumn READ sortColumn WRITE setSortColumn NOTIFY sortChanged)
    /// True (the default): the most first; false: ascending (sortOrder() in C++).
    Q_PROPERTY(bool descending READ isDescending WRITE setDescending NOTIFY sortChanged)
    /// Only registries whose name contains this (case-insensitive); empty: every registry.
    Q_PROPERTY(
        QString registryFilter READ registryFilter WRITE setRegistryFilter NOTIFY registryFilterChanged)
    /// Number of rows (handlers shown).
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
    /// The process-wide switch (rio::Diagnostics::isEnabled / setEnabled), for QML: every model
    /// shows and sets the same one.
    Q_PROPERTY(bool diagnosticsEnabled READ isDiagnosticsEnabled WRITE setDiagnosticsEnabled NOTIFY
                   diagnosticsEnabledChanged)
    /// The model's thread's share of the last refresh: CPU time (ns) from applying its rows to
    /// the end of the next frame a view reports (frameEnded), else of applying.
    Q_PROPERTY(double applyNs READ applyNs NOTIFY costChanged)
    /// CPU time (ns) of the last refresh's snapshot and sort (on the worker, unless refresh() took it).
    Q_PROPERTY(double snapshotNs READ snapshotNs NOTIFY costChanged)
    /// True (the default): the rows are this process's registries; false: the registries last
    /// given to setSnapshot(). Setting it true takes this process's again.
    Q_PROPERTY(bool local READ isLocal WRITE setLocal NOTIFY localChanged)
    /// True when the last refresh ran out of memory making its rows: the rows shown are older.
    Q_PROPERTY(bool outOfMemory READ isOutOfMemory NOTIFY refreshed)

public:
    /// The columns of a table view.
    enum Column {
        RegistryColumn, ///< the registry's name (or "#id" when unnamed)
        HandlerColumn,  ///< the handler's id
        WhereColumn,    ///< where it was added: file:line (the QML position for QML handlers)
        ThreadColumn,   ///< the thread it runs on (the context's), or "notifier" without context
        CallsColumn,    ///< runs
        FailuresColumn, ///< runs that threw
        DropsColumn,    ///< queued deliveries dropped
        WaitingColumn,  ///< queued deliveries waiting now
        P50Column,      ///< median run time (timed handlers)
        P99Column,      ///< 99th percentile run time
        MaxColumn,      ///< longest run
        ColumnCount     ///< number of columns
    };
    Q_ENUM(Column)

    /// The roles (QML names in parentheses); DisplayRole gives each column's text.
    enum Role {
        RegistryIdRole = Qt::UserRole + 1, ///< (registryId) the registry's id
        RegistryNameRole,                  ///< (registryName) its name, empty when unnamed
        EventTypeRole,                     ///< (eventType) its event type
        HandlerIdRole,                     ///< (handlerId) the handler's id
        WhereRole,                         ///< (where) file name:line of the add (QML position first)
        WhereFullRole,                     ///< (whereFull) full path:line, and the C++ add for QML ones
        FunctionRole,                      ///< (caller) the function that called add
        ThreadRole,                        ///< (thread) the thread it runs on
        AddedThreadRole,                   ///< (addedThread) the thread add ran on
        ConnectionRole,                    ///< (connection) "direct", "queued", "auto", "blocking"
        PriorityRole,                      ///< (priority)
        CallsRole,                         ///< (calls)
        FailuresRole,                      ///< (failures)
        DropsRole,                         ///< (drops) every reason
        DropReasonsRole,                   ///< (dropReasons) "overflow 3, removed 1"
        WaitingRole,                       ///< (waiting)
        MaxWaitingRole,                    ///< (maxWaiting)
        CoalescedRole,                     ///< (coalesced)
        SlowRunsRole,                      ///< (slowRuns) runs over the slow threshold
        TimedRole,                         ///< (timed) run times were recorded
        P50NsRole,                         ///< (p50Ns)
        P99NsRole,                         ///< (p99Ns)
        MaxNsRole,                         ///< (maxNs)
        QueueP99NsRole,                    ///< (queueP99Ns) queueing delay, 99th percentile
        SuspendedRole,                     ///< (suspended)
        P99TextRole,                       ///< (p99) the 99th percentile as text ("–" untimed)
        MaxTextRole,                       ///< (max) the longest run as text ("–" untimed)
        /// From here, each other field of HandlerInfo as its JSON form, named as its JSON key
        /// (roleNames(); `drops` is dropsByReason, `addedThread` addedThreadNumber).
        FieldRole = Qt::UserRole + 64,
    };
    Q_ENUM(Role)

    /// A model that takes its first snapshot now.
    explicit DiagnosticsModel(QObject *parent = nullptr);
    ~DiagnosticsModel() override;

    /// Rows: handlers shown (0 under a valid parent).
    [[nodiscard]] int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    /// ColumnCount (0 under a valid parent).
    [[nodiscard]] int columnCount(const QModelIndex &parent = QModelIndex()) const override;
    /// A cell's text (DisplayRole), its number for sorting (Qt::UserRole), or a Role's value.
    [[nodiscard]] QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    /// The column titles.
    [[nodiscard]] QVariant headerData(int section, Qt::Orientation orientation,
                                      int role = Qt::DisplayRole) const override;
    /// The QML names of the roles.
    [[nodiscard]] QHash<int, QByteArray> roleNames() const override;
    /// Sorts by `column` (a Column) in `order`; kept across refreshes.
    void sort(int column, Qt::SortOrder order = Qt::DescendingOrder) override;

    /// The refresh period (ms; 0: manual).
    [[nodiscard]] int refreshInterval() const noexcept { return m_interval; }
    /// Sets the refresh period (ms, negative taken as 0).
    void setRefreshInterval(int ms);
    /// The sort column.
    [[nodiscard]] int sortColumn() const noexcept { return m_sortColumn; }
    /// Sorts by `column` in the current order.
    void setSortColumn(int column);
    /// The sort order.
    [[nodiscard]] Qt::SortOrder sortOrder() const noexcept { return m_sortOrder; }
    /// Sorts in `order` by the current column.
    void setSortOrder(Qt::SortOrder order);
    /// True when sorted descending.
    [[nodiscard]] bool isDescending() const noexcept { return m_sortOrder == Qt::DescendingOrder; }
    /// Sorts descending (true) or ascending (false).
    void setDescending(bool descending)
    {
        setSortOrder(descending ? Qt::DescendingOrder : Qt::AscendingOrder);
    }
    /// rio::Diagnostics::isEnabled().
    [[nodiscard]] static bool isDiagnosticsEnabled() noexcept { return Diagnostics::isEnabled(); }
    /// rio::Diagnostics::setEnabled(enabled).
    static void setDiagnosticsEnabled(bool enabled) { Diagnostics::setEnabled(enabled); }
    /// The registry name filter.
    [[nodiscard]] QString registryFilter() const { return m_filter; }
    /// Shows only registries whose name contains `filter`.
    void setRegistryFilter(const QString &filter);
    /// Whether the rows are this process's registries.
    [[nodiscard]] bool isLocal() const noexcept { return m_local; }
    /// true: shows this process's registries again (a refresh now, then every refreshInterval).
    /// false: shows the registries last given to setSnapshot() (none before the first).
    void setLocal(bool local);
    /// Shows `registries` (another process's snapshot) instead of this process's, until
    /// setLocal(true): the first call at once, each later one refreshed on the worker. A handler
    /// given twice (same registry and handler id) is shown once.
    void setSnapshot(QList<RegistryInfo> registries);

    /// Takes a snapshot now, on the model's thread, as the timer does on its worker (rows removed,
    /// inserted, moved and changed in place, never a reset); one the worker takes meanwhile goes.
    Q_INVOKABLE void refresh();
    /// A view showing the model finished a frame (RegistryInspector's frameSwapped): the first
    /// after a refresh ends that refresh's applyNs.
    Q_INVOKABLE void frameEnded();
    /// The model's thread's share of the last refresh (ns; a double, as QML numbers are).
    [[nodiscard]] double applyNs() const noexcept { return static_cast<double>(m_applyNs); }
    /// The last refresh's snapshot and sort (ns).
    [[nodiscard]] double snapshotNs() const noexcept { return static_cast<double>(m_snapshotNs); }
    /// Whether the rows of the last snapshot could not be made for want of memory.
    [[nodiscard]] bool isOutOfMemory() const noexcept { return m_outOfMemory; }
    /// The row's handler as the last snapshot saw it (a default HandlerInfo out of range; the
    /// "removed handlers" row: id 0, its registry and drops).
    [[nodiscard]] HandlerInfo handlerAt(int row) const;
    /// The text a duration (ns) is shown as: "850 ns", "12.3 µs", "4.1 ms", "2.0 s".
    [[nodiscard]] Q_INVOKABLE static QString formatDuration(double ns);

Q_SIGNALS:
    /// refreshInterval changed.
    void refreshIntervalChanged();
    /// sortColumn or sortOrder changed.
    void sortChanged();
    /// registryFilter changed.
    void registryFilterChanged();
    /// The number of rows changed.
    void countChanged();
    /// A snapshot was taken: the model changed, or, out of memory, its rows stay (outOfMemory).
    void refreshed();
    /// applyNs or snapshotNs changed (after a refresh, and when a view's frame ended).
    void costChanged();
    /// The process-wide switch changed (rio::Diagnostics::enabledChanged, on this thread).
    void diagnosticsEnabledChanged();
    /// local changed.
    void localChanged();

private:
    struct Rows;
    void collectOnWorker();
    void applyCollected(Rows rows, quint64 generation, qint64 snapshotNs);
    void apply(Rows rows);
    [[nodiscard]] const HandlerInfo &rowAt(int row) const;

    QList<HandlerInfo> m_rows;
    std::vector<qsizetype> m_view;     // a row of the model: its place in m_rows
    QList<QList<HandlerInfo>> m_spent; // rows a refresh replaced: the next worker task frees them
    QTimer m_timer;
    QThreadPool m_worker; // one thread; the destructor waits for it before anything else goes
    bool m_collecting = false;
    quint64 m_generation = 0; // bumped when the rows a collection would give become stale
    qint64 m_applyNs = 0;
    qint64 m_frameFrom = -1; // the start of a refresh's apply until a view's frame ends it (-1: none)
    qint64 m_snapshotNs = 0;
    int m_interval = 500;
    int m_sortColumn = MaxColumn;
    Qt::SortOrder m_sortOrder = Qt::DescendingOrder;
    QString m_filter;
    QList<RegistryInfo> m_given; // setSnapshot's registries, shown while !m_local
    bool m_local = true;
    bool m_givenWaiting = false; // setSnapshot gave registries while a collection ran
    bool m_outOfMemory = false;  // the last collection ran out of memory (outOfMemory)
};

} // namespace rio
