// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/connection.h>
#include <registryio/handler_id.h>
#include <registryio/qml/detail/latest_rows.h>
#include <registryio/qml/latest_model_writer.h>
#include <registryio/qml/qml_export.h>
#include <registryio/qt/qt_registry.h>
#include <registryio/source_location.h>

#include <QAbstractListModel>
#include <QHash>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QStringList>
#include <QVariant>
#include <QtQml/qqmlregistration.h>

#include <concepts>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace rio {

namespace detail {
class FramePacer;
struct LatestRows;
} // namespace detail

/// A list model of the newest value per key, fed from any thread: one row per key, in the order
/// keys first came, changed at most once per frame of the window that shows it (once per event-loop
/// turn without one). Memory is per key, never per event.
class RIO_QML_EXPORT LatestModel : public QAbstractListModel
{
    Q_OBJECT
    QML_ELEMENT
    /// The registry whose events feed the rows: a QmlRegistry or a typed registry (C++: follow()).
    Q_PROPERTY(QObject *registry READ registry WRITE setRegistry NOTIFY registryChanged FINAL)
    /// The event's field that names its row: a map's key or a gadget's property.
    Q_PROPERTY(QString key READ key WRITE setKey NOTIFY keyChanged FINAL)
    /// The event's fields shown as roles besides `key` and `value` (default: the properties of a
    /// typed registry's event type, or of a gadget written through writer()).
    Q_PROPERTY(QStringList roles READ roles WRITE setRoles NOTIFY rolesChanged FINAL)
    /// Number of rows.
    Q_PROPERTY(int count READ count NOTIFY countChanged FINAL)

public:
    /// The roles every row has; the fields of `roles` follow from FieldRole on.
    enum Role {
        KeyRole = Qt::UserRole + 1, ///< `key`: the row's key
        ValueRole,                  ///< `value`: the newest event (or value) of the key
        FieldRole,                  ///< the first of `roles`' fields
    };

    /// An empty model that follows nothing.
    explicit LatestModel(QObject *parent = nullptr);
    /// Stops following; writes that still come are dropped.
    ~LatestModel() override;
    LatestModel(const LatestModel &) = delete;
    LatestModel &operator=(const LatestModel &) = delete;

    /// The registry followed from QML (null: none, or one followed from C++).
    [[nodiscard]] QObject *registry() const noexcept { return m_registry.data(); }
    /// Follows `registry` (a QmlRegistry or typed registry) by the `key` field; the rows restart.
    /// Anything else warns and follows nothing.
    void setRegistry(QObject *registry);
    /// The key field.
    [[nodiscard]] QString key() const { return m_key; }
    /// Sets the key field; the rows restart.
    void setKey(const QString &key);
    /// The field roles.
    [[nodiscard]] QStringList roles() const { return m_roles; }
    /// Sets the field roles (a model reset: set them before a view reads the model).
    void setRoles(const QStringList &roles);
    /// Number of rows.
    [[nodiscard]] int count() const noexcept { return static_cast<int>(m_rows.size()); }

    /// C++: follows `registry`'s notifies with a handler on the notifying thread at `priority`, the
    /// row of each event being `keyOf(event)` (a key as LatestModelWriter::write() takes it),
    /// replacing what was followed (the rows restart). Returns the handler's id, recorded as added
    /// where follow() was called.
    template <typename E, typename KeyOf>
    requires std::invocable<KeyOf &, const E &>
    HandlerId follow(QtRegistry<E> &registry, KeyOf keyOf, int priority = 0,
                     SourceLocation where = SourceLocation::current())
    {
        restart();
        if (m_registry) {
            m_registry = nullptr;
            Q_EMIT registryChanged();
        }
        const HandlerId id = registry.add([rows = writer<E>(), keyOf = std::move(keyOf)](
                                              const E &event) mutable { rows.write(keyOf(event), event); },
                                          priority, where);
        m_connection = registry.connection(id);
        return id;
    }

    /// C++, on the model's thread: a writer of E events into these rows from any thread, without a
    /// registry (see LatestModelWriter). A small trivially copyable E is kept as bytes in a cell
    /// per key while these rows follow a QtRegistry<E> or had no key yet, else each write is a
    /// QVariant, as write(); with `roles` empty and no typed registry followed, a gadget E's
    /// properties are the field roles.
    template <typename E>
    [[nodiscard]] LatestModelWriter<E> writer()
    {
        detail::LatestCells *cells = nullptr;
        if constexpr (detail::latestRaw<E>)
            cells = detail::latestRowsRaw(*m_writer, QMetaType::fromType<E>());
        showFieldsOf(QMetaType::fromType<E>());
        return LatestModelWriter<E>(m_writer, cells);
    }

    /// Writes `value` as the newest of `key` (any thread, but not while this thread changes what
    /// the model follows): shown at the next frame, as a new row for a new key. An invalid key, or
    /// one not equal to itself (a NaN), is dropped.
    void write(const QVariant &key, const QVariant &value);
    /// Removes `key`'s row at the next frame (any thread, as write()), with any write of it not yet shown;
    /// a write before that frame cancels the removal, a later one adds the key again. False when the
    /// key has no row nor write waiting.
    Q_INVOKABLE bool remove(const QVariant &key);
    /// Removes every row at the next frame (any thread, as write()), with the writes not yet shown; later
    /// writes add rows again.
    Q_INVOKABLE void clear();
    /// The value shown for `key` (invalid when it has no row); linear in the rows.
    [[nodiscard]] Q_INVOKABLE QVariant valueOf(const QVariant &key) const;

    /// Number of rows (none under a valid parent).
    [[nodiscard]] int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    /// The key (its QVariant::toString() for Qt::DisplayRole: empty where QVariant has no text for
    /// it), the value or a field of the value at `index` (invalid, with a warning once per model,
    /// when the field's getter throws).
    [[nodiscard]] QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    /// `key`, `value` and the names in `roles`.
    [[nodiscard]] QHash<int, QByteArray> roleNames() const override;

Q_SIGNALS:
    /// The registry changed.
    void registryChanged();
    /// The key field changed.
    void keyChanged();
    /// The field roles changed.
    void rolesChanged();
    /// The number of rows changed.
    void countChanged();

private:
    struct Row
    {
        QVariant key;
        QVariant value;
        quint32 slot = 0; // its place in the pending set
    };

    // Stops following and drops the rows; the new writer state (nothing follows it yet).
    std::shared_ptr<detail::LatestRows> restart();
    // Follows m_registry by m_key, when both are set.
    void attach();
    friend struct detail::LatestRows;
    // A write is waiting: the next frame applies it (on this thread).
    void awaitFrame();
    // The frame: applies the writes waiting (on this thread); one that comes while a slot of the
    // frame before turns the event loop waits for that frame's end.
    void apply();
    // The frame's work: takes the batch waiting and shows it.
    void applyBatch();
    struct Frame; // one frame's batch (latest_model.cpp)
    // Its steps: false once a slot of its signals restarted the rows (the rest is dropped).
    bool removeRowsOf(Frame &frame);
    bool showChanged(Frame &frame);
    void insertAdded(Frame &frame);
    void releaseBatch(Frame &frame);
    // The roles shown: m_roles, or a typed registry's event properties, or a writer's.
    [[nodiscard]] QStringList shownRoles() const;
    // A writer of `type` was taken: its properties are the field roles unless others are.
    void showFieldsOf(QMetaType type);

    std::shared_ptr<detail::LatestRows> m_writer; // what writers and removals reach
    Connection m_connection;                      // the handler feeding it
    QPointer<QObject> m_registry;
    QString m_key;
    QStringList m_roles;
    QStringList m_fields;    // the roles shown, from FieldRole on
    QMetaType m_writtenType; // the event type of the last writer() taken
    std::vector<Row> m_rows;
    std::vector<int> m_rowOfSlot; // -1: no row
    std::unique_ptr<detail::FramePacer> m_pacer;
    mutable bool m_fieldFailed = false; // a field's getter threw (warned once)
    bool m_applying = false;            // a frame is being applied (its signals' slots may turn the loop)
    bool m_applyAgain = false;          // a frame came meanwhile: applied once that one ends
};

} // namespace rio
