// SPDX-License-Identifier: MIT
#include "qml_registry_shared.h"
#include "qml_values.h"

#include <registryio/qml/latest_model.h>
#include <registryio/qml/qml_registry.h>
#include <registryio/qml/qml_typed_handler.h>
#include <registryio/qt/detail/frame_pacer.h>
#include <registryio/qt/detail/qt_tsan.h>
#include <registryio/qt/logging.h>

#include <QByteArray>
#include <QDateTime>
#include <QMetaProperty>
#include <QMetaType>
#include <QQmlInfo>
#include <QThread>
#include <QUrl>
#include <QUuid>
#include <QVariantHash>
#include <QVariantMap>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace rio::detail {

// Keys as QVariant compares them: a string by its text, a number by its value as a double (1,
// 1.0 and 1u are one key, and so are an unsigned and a double QVariant finds equal), a QObject by
// its address, a byte array by its bytes, a date-time by its instant, anything else alike (equal
// keys must hash equal; equal hashes of unequal keys only collide). The common key types are
// read in place, without QVariant's conversions.
struct LatestKeyHash
{
    using is_transparent = void; // an int or a string key is found as such (LatestRows::slotOf)

    // A number's hash, inline: its bits mixed (one for 0 and -0).
    static std::size_t number(double n) noexcept
    {
        const auto bits = std::bit_cast<quint64>(n == 0 ? 0.0 : n);
        return static_cast<std::size_t>((bits ^ (bits >> 32)) * 0x9E3779B97F4A7C15ULL >> 16);
    }
    std::size_t operator()(int key) const noexcept { return number(key); }
    std::size_t operator()(const QString &key) const noexcept { return qHash(key); }

    std::size_t operator()(const QVariant &key) const noexcept
    {
        const void *const data = key.constData();
        switch (key.metaType().id()) {
        case QMetaType::QString:
            return qHash(*static_cast<const QString *>(data));
        case QMetaType::Int:
            return number(*static_cast<const int *>(data));
        case QMetaType::LongLong:
            return number(static_cast<double>(*static_cast<const qlonglong *>(data)));
        case QMetaType::QByteArray:
            return qHash(*static_cast<const QByteArray *>(data));
        case QMetaType::QUrl: // peers, documents: Qt's hash agrees with the type's equality
            return qHash(*static_cast<const QUrl *>(data));
        case QMetaType::QUuid: // jobs, devices
            return qHash(*static_cast<const QUuid *>(data));
        case QMetaType::QDateTime: { // one instant in any zone
            const auto &at = *static_cast<const QDateTime *>(data);
            return at.isValid() ? number(static_cast<double>(at.toMSecsSinceEpoch())) : 0;
        }
        default:
            break;
        }
        if ((key.metaType().flags() & QMetaType::PointerToQObject) != 0)
            return qHash(*static_cast<QObject *const *>(data));
        bool numeric = false;
        const double n = key.toDouble(&numeric);
        return numeric ? number(n) : 0; // equal keys of another type may have unequal text: alike
    }
};

// QVariant's equality, the same type's int and string compared in place.
struct LatestKeyEqual
{
    using is_transparent = void;

    template <typename K>
    static bool same(const K &a, const QVariant &b)
    {
        if (b.metaType().id() == qMetaTypeId<K>())
            return a == *static_cast<const K *>(b.constData());
        return LatestKeyEqual{}(QVariant::fromValue(a), b); // a key first written as another type (1 and 1.0)
    }
    bool operator()(int a, const QVariant &b) const { return same(a, b); }
    bool operator()(const QVariant &a, int b) const { return same(b, a); }
    bool operator()(const QString &a, const QVariant &b) const { return same(a, b); }
    bool operator()(const QVariant &a, const QString &b) const { return same(b, a); }
    bool operator()(const QVariant &a, const QVariant &b) const noexcept
    {
        if (a.metaType() == b.metaType()) {
            switch (a.metaType().id()) {
            case QMetaType::QString:
                return *static_cast<const QString *>(a.constData()) ==
                       *static_cast<const QString *>(b.constData());
            case QMetaType::Int:
                return *static_cast<const int *>(a.constData()) == *static_cast<const int *>(b.constData());
            case QMetaType::LongLong:
                return *static_cast<const qlonglong *>(a.constData()) ==
                       *static_cast<const qlonglong *>(b.constData());
            default:
                break;
            }
            return a == b;
        }
        // Of two types: as QVariant finds them, but only as they hash (whatever the buckets): a
        // string equals no other type ("2" is not 2), numbers their value (-1 is not 4294967295u).
        if (a.metaType().id() == QMetaType::QString || b.metaType().id() == QMetaType::QString || !(a == b))
            return false;
        bool aNumber = false;
        bool bNumber = false;
        const double x = a.toDouble(&aNumber);
        const double y = b.toDouble(&bNumber);
        return !aNumber || !bNumber || x == y;
    }
    // A key can be found again: it equals itself (a NaN does not; strings and integers always do).
    static bool usable(const QVariant &key)
    {
        if (!key.isValid() || key.isNull())
            return false;
        switch (key.metaType().id()) {
        case QMetaType::QString:
        case QMetaType::Int:
        case QMetaType::LongLong:
            return true;
        default:
            return LatestKeyEqual{}(key, key);
        }
    }
};

// The pending set: per key, its newest write or its removal since the last frame, one entry per
// key in `pending`, which the frame swaps for an empty one under the lock and reads outside it.
// Bounded by the keys, never by the writes: a key written a thousand times between two frames
// holds one value. Under one mutex, taken once per write and briefly per frame; no user code runs
// under it (values and keys are moved under it, copied and destroyed outside it). Raw rows
// (latestRowsRaw) keep each key's value in its cell instead, and an int key's writers reach a
// published cell without the mutex (LatestCells); a change then only marks a new key, a removal
// or a value of another type.
struct LatestRows : LatestCells, std::enable_shared_from_this<LatestRows>
{
    // A key's change waiting for a frame.
    struct Change
    {
        quint32 slot = 0;
        const QVariant *key = nullptr; // its node in `index` (only the frame erases nodes)
        QVariant value;                // raw rows: a value of another type written (write())...
        LatestCell *cell = nullptr;    // raw rows: the key's cell
        std::uint64_t cellSeq = 0;     // ... shown unless the cell was written after it (its seq)
        bool removed = false;          // its last operation is a removal
        bool fromCell = false;         // raw rows: the cell's event, written last (not `value`)
        bool unread = false;           // the frame: its cell's event, met mid-write, waits for the next
    };
    struct Slot
    {
        const QVariant *key = nullptr; // its node in `index`
        quint64 batch = 0;             // the batch whose `pending` holds its change (at `at`)
        quint32 at = 0;
    };

    std::mutex mutex;
    QObject *model = nullptr; // null once the model stopped following this (under `mutex`): writes dropped
    // `scheduled` (LatestCells): a wake-up is posted or a frame is awaited: writes only merge.
    std::unordered_map<QVariant, quint32, LatestKeyHash, LatestKeyEqual>
        index; // key -> slot, until a frame removes it
    std::vector<Slot> cells;
    std::vector<quint32> spare;     // cells to reuse
    quint64 batch = 1;              // the number of `pending`'s batch
    std::vector<Change> pending;    // this batch's changes, in first-change order (room for every cell)
    std::vector<Change> spareBatch; // the frame's empty buffer, swapped in for `pending` (its capacity kept)
    std::atomic<bool> warned{false};
    // Raw rows (latestRowsRaw): the events' type (set on the model's thread, read elsewhere under
    // `mutex`), a cell per slot (in chunks that never move),
    // the int keys' table (LatestCells::table) and the tables it replaced (writers may still
    // read them). All bounded by the most keys held at once.
    QMetaType raw;
    std::vector<LatestCell *> cellAt;
    std::vector<std::unique_ptr<LatestCell[]>> chunks;
    LatestCell *nextCell = nullptr; // the last chunk's first cell not handed out
    LatestCell *chunkEnd = nullptr;
    std::vector<std::unique_ptr<std::atomic<LatestCell *>[]>> tableEntries;
    std::vector<std::unique_ptr<Table>> tables;
    std::uint32_t published = 0; // entries in the current table
    // The model's thread, under `mutex`: new keys whose event a frame met mid-write (shown by the
    // next frame, which that writer asks for), and removed keys' slots whose cell a writer of the
    // key still held (spared once it let go).
    std::vector<quint32> unread;
    std::vector<quint32> unfreed;

    Q_DECL_HIDDEN ~LatestRows() = default; // not exported, as the members below

    // Makes sure slot `at` has a cell (raw rows; under `mutex`). Throws bad_alloc, changing nothing.
    Q_DECL_HIDDEN void reserveCell(std::size_t at)
    {
        if (!raw.isValid() || at < cellAt.size())
            return;
        if (cellAt.size() == cellAt.capacity())
            cellAt.reserve(cellAt.size() * 2 + 16); // geometric: n new keys cost O(n)
        if (nextCell == chunkEnd) {
            const std::size_t size = std::max<std::size_t>(64, cellAt.size()); // geometric
            chunks.reserve(chunks.size() + 1);
            chunks.push_back(std::make_unique<LatestCell[]>(size));
            nextCell = chunks.back().get();
            chunkEnd = nextCell + size;
        }
        nextCell->slot = static_cast<std::uint32_t>(at);
        cellAt.push_back(nextCell++);
    }
    // Publishes `key`'s cell to the writers (under `mutex`); a full table is replaced by one twice
    // as large. Throws bad_alloc, changing nothing.
    Q_DECL_HIDDEN void publish(int key, LatestCell &cell);
    // Takes `key` out of the table (under `mutex`): its writers take the lock from now on.
    Q_DECL_HIDDEN void unpublish(std::int64_t key) noexcept;
    // Writes `event` into `cell` (under `mutex`) and links it for the frame, unless a writer of its
    // key stores in it meanwhile (that write is the newer one).
    Q_DECL_HIDDEN void writeCellLocked(LatestCell &cell, const void *event) noexcept;
    // Gives `cell` to `tag` (under `mutex`), under its count: false, changing nothing, while a
    // writer of its key stores (never waited for).
    Q_DECL_HIDDEN static bool retag(LatestCell &cell, std::int64_t tag) noexcept;

    // The slot of `key` (a QVariant, an int or a string), made if it has none (under `mutex`).
    // Throws bad_alloc, changing nothing.
    template <typename K>
    quint32 slotOf(K &&key)
    {
        if (const auto found = index.find(key); found != index.end())
            return found->second;
        if (spare.empty() && (cells.size() == cells.capacity() || pending.capacity() <= cells.size())) {
            const std::size_t more = cells.size() * 2 + 16; // geometric: n new keys cost O(n)
            cells.reserve(more);
            pending.reserve(more); // changeLocked never allocates: one change per cell at most
        }
        const quint32 at = spare.empty() ? static_cast<quint32>(cells.size()) : spare.back();
        reserveCell(at);
        const auto made = index.emplace(QVariant(std::forward<K>(key)), at).first;
        if (spare.empty())
            cells.emplace_back();
        else
            spare.pop_back();
        cells[at] = Slot{&made->first, 0, 0};
        return at;
    }
    // The change of slot `at` in this batch, made if it has none (under `mutex`). The caller then
    // sets it and calls scheduleLocked().
    Change &changeLocked(quint32 at)
    {
        Slot &slot = cells[at];
        if (slot.batch != batch) {
            slot.batch = batch;
            slot.at = static_cast<quint32>(pending.size());
            pending.push_back(Change{at, slot.key, QVariant(), at < cellAt.size() ? cellAt[at] : nullptr, 0,
                                     false, false, false}); // reserved: never allocates
        }
        return pending[slot.at];
    }
    // Makes sure a frame comes (under `mutex`); throws when Qt cannot post the wake-up, the
    // change kept for the next write's (`owed`: even a write of a cell already linked asks).
    void scheduleLocked();
    // The wake-up's call on the model's thread: the model awaits its next frame.
    static void wake(QObject *model);
};

namespace {

// The wake-up a write posts to the model when nothing is scheduled: on the model's thread it
// asks the model's pacer for the next frame, whose apply takes the pending set. Discarded unrun
// (the model went, or Qt could not post it: then on the posting thread, under the mutex), it
// lets the next write post again, without the mutex.
struct LatestWake
{
    std::shared_ptr<LatestRows> rows;
    bool ran = false;

    explicit LatestWake(std::shared_ptr<LatestRows> r) noexcept : rows(std::move(r)) { }
    LatestWake(LatestWake &&) noexcept = default;
    ~LatestWake()
    {
        if (!ran && rows)
            rows->scheduled.store(false, std::memory_order_seq_cst);
    }
    void operator()();
};

} // namespace

void LatestRows::scheduleLocked()
{
    if (scheduled || model == nullptr)
        return;
    try {
        [[maybe_unused]] const TsanPostScope posting;
        // The model lives: its destructor clears `model` under this mutex first.
        QMetaObject::invokeMethod(model, Handover(LatestWake(shared_from_this())), Qt::QueuedConnection);
    } catch (...) {
        owed.store(true, std::memory_order_seq_cst); // a cell's next writer asks again
        throw;
    }
    scheduled = true;
    owed.store(false, std::memory_order_seq_cst);
}

namespace {

// The field `name` of `event`, read on any thread: a map's value, a gadget's property, a QObject's
// property on its own thread (invalid elsewhere, and when it has none).
QVariant latestFieldOf(const QVariant &event, const QString &name)
{
    const QMetaType type = event.metaType();
    if (type == QMetaType::fromType<QVariantMap>())
        return static_cast<const QVariantMap *>(event.constData())->value(name);
    if (type == QMetaType::fromType<QVariantHash>())
        return static_cast<const QVariantHash *>(event.constData())->value(name);
    if ((type.flags() & QMetaType::PointerToQObject) != 0) {
        auto *const object = event.value<QObject *>();
        if (object == nullptr || object->thread() != QThread::currentThread())
            return {};
        return object->property(name.toUtf8().constData());
    }
    if (const QMetaObject *const meta = type.metaObject();
        meta != nullptr && (type.flags() & QMetaType::IsGadget) != 0) {
        const int at = meta->indexOfProperty(name.toUtf8().constData());
        return at < 0 ? QVariant() : meta->property(at).readOnGadget(event.constData());
    }
    return {};
}

} // namespace

void LatestRows::publish(int key, LatestCell &cell)
{
    const Table *t = table.load(std::memory_order_relaxed);
    const auto place = [](const Table &into, std::int64_t k, LatestCell *c) {
        std::uint32_t i = home(into, k);
        while (into.at[i].load(std::memory_order_relaxed) != nullptr)
            i = (i + 1) & into.mask;
        into.at[i].store(c, std::memory_order_release);
    };
    if (t != nullptr) {
        for (std::uint32_t i = home(*t, key);; i = (i + 1) & t->mask) {
            const LatestCell *const c = t->at[i].load(std::memory_order_relaxed);
            if (c == &cell)
                return;
            if (c == nullptr)
                break;
        }
    }
    if (t == nullptr || (published + 1) * 2 > t->mask + 1) { // at most half full: short probes
        const std::uint32_t size = t == nullptr ? 64 : (t->mask + 1) * 2;
        tableEntries.reserve(tableEntries.size() + 1);
        tables.reserve(tables.size() + 1);
        auto entries = std::make_unique<std::atomic<LatestCell *>[]>(size);
        auto grown = std::make_unique<Table>();
        grown->mask = size - 1;
        grown->shift = 64 - std::countr_zero(size);
        grown->at = entries.get();
        for (std::uint32_t i = 0; t != nullptr && i <= t->mask; ++i) {
            if (LatestCell *const c = t->at[i].load(std::memory_order_relaxed))
                place(*grown, c->tag.load(std::memory_order_relaxed), c);
        }
        tableEntries.push_back(std::move(entries));
        tables.push_back(std::move(grown));
        t = tables.back().get();
        table.store(t, std::memory_order_release);
    }
    place(*t, key, &cell);
    ++published;
}

void LatestRows::unpublish(std::int64_t key) noexcept
{
    const Table *const t = table.load(std::memory_order_relaxed);
    if (t == nullptr || key == LatestCell::vacant || key == LatestCell::locked)
        return;
    std::uint32_t i = home(*t, key);
    for (;; i = (i + 1) & t->mask) {
        const LatestCell *const c = t->at[i].load(std::memory_order_relaxed);
        if (c == nullptr)
            return;
        if (c->tag.load(std::memory_order_relaxed) == key)
            break;
    }
    --published;
    // Backward shift (no tombstones): a writer probing meanwhile may miss a key, which sends it
    // to the locked path, never to another key's cell.
    for (;;) {
        t->at[i].store(nullptr, std::memory_order_release);
        for (std::uint32_t j = i;;) {
            j = (j + 1) & t->mask;
            LatestCell *const c = t->at[j].load(std::memory_order_relaxed);
            if (c == nullptr)
                return;
            const std::uint32_t k = home(*t, c->tag.load(std::memory_order_relaxed));
            if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
                continue; // its home is after the hole: it stays
            t->at[i].store(c, std::memory_order_release);
            i = j;
            break;
        }
    }
}

bool LatestRows::retag(LatestCell &cell, std::int64_t tag) noexcept
{
    if (cell.tag.load(std::memory_order_relaxed) == tag)
        return true;
    const std::uint64_t from = cell.seq.load(std::memory_order_relaxed);
    if (!cell.hold(from))
        return false; // a writer of its key stores: the key keeps it until that write is done
    cell.tag.store(tag, std::memory_order_relaxed);
    cell.release(from);
    return true;
}

void LatestRows::writeCellLocked(LatestCell &cell, const void *event) noexcept
{
    // Left to a writer of the key storing without the lock meanwhile: its event is the newer one,
    // and it links the cell.
    if (cell.write(cell.seq.load(std::memory_order_relaxed), event, static_cast<std::size_t>(raw.sizeOf())))
        static_cast<void>(link(cell)); // the caller schedules
}

namespace {

// A raw write of a usable key's slot `at` (under the lock): the value in its cell.
void writeSlotLocked(LatestRows &rows, quint32 at, const void *event, QVariant &replaced)
{
    LatestRows::Change &change = rows.changeLocked(at);
    change.value.swap(replaced); // a value of another type, destroyed after the lock is released
    change.removed = false;
    change.fromCell = true;
    rows.writeCellLocked(*change.cell, event);
    rows.scheduleLocked();
}

// A raw write of an int key (under the lock), its cell published: from here on its writers need
// no lock.
void writeRawLocked(LatestRows &rows, int key, const void *event, QVariant &replaced)
{
    const quint32 at = rows.slotOf(key);
    LatestCell &cell = *rows.cellAt[at];
    try {
        if (LatestRows::retag(cell, key)) // a spare or new cell: no writer holds it
            rows.publish(key, cell);
    } catch (const std::bad_alloc &) {
        // No room for a larger table: this key's writers keep taking the lock.
    }
    writeSlotLocked(rows, at, event, replaced);
}

// The same for a usable key of any type (under the lock).
void writeRawLocked(LatestRows &rows, const QVariant &key, const void *event, QVariant &replaced)
{
    if (key.metaType().id() == QMetaType::Int) {
        writeRawLocked(rows, *static_cast<const int *>(key.constData()), event, replaced);
        return;
    }
    const quint32 at = rows.slotOf(key);
    LatestCell &cell = *rows.cellAt[at];
    if (cell.tag.load(std::memory_order_relaxed) == LatestCell::vacant)
        static_cast<void>(LatestRows::retag(cell, LatestCell::locked));
    writeSlotLocked(rows, at, event, replaced);
}

// Whether events of `type` are those of the rows' cells, kept as `raw`'s bytes: Qt gives two
// types of one name one id, and a twin of another size or alignment is never copied as `raw`.
bool sameRaw(QMetaType raw, QMetaType type)
{
    return raw.isValid() && raw == type && raw.sizeOf() == type.sizeOf() && raw.alignOf() == type.alignOf();
}

// Whether `key` can be found again, else warns once per model.
bool usableKey(LatestRows &rows, const QVariant &key)
{
    if (LatestKeyEqual::usable(key))
        return true;
    if (!rows.warned.exchange(true, std::memory_order_relaxed))
        qCWarning(lcRegistryIOQml).noquote()
            << "LatestModel: an event without a key (none, null, or not equal "
               "to itself, as a NaN) was dropped (warned once per model)";
    return false;
}

// Writes `value` as the newest of a usable `key` (a QVariant, an int or a string).
template <typename K>
void writeLatest(LatestRows &rows, K &&key, QVariant &value)
{
    QVariant replaced; // destroyed after the lock is released
    const std::lock_guard lock(rows.mutex);
    if (rows.model == nullptr)
        return; // dead rows (restarted, or their model destroyed): nothing kept
    // Raw rows keep the event's bytes (`raw` read under the lock: the model's writer() may set it).
    if (sameRaw(rows.raw, value.metaType())) {
        if constexpr (std::is_same_v<std::remove_cvref_t<K>, QString>)
            writeRawLocked(rows, QVariant(std::forward<K>(key)), value.constData(), replaced);
        else
            writeRawLocked(rows, key, value.constData(), replaced);
        return;
    }
    LatestRows::Change &change = rows.changeLocked(rows.slotOf(std::forward<K>(key)));
    change.value.swap(value); // the replaced value is destroyed after the lock is released
    change.removed = false;
    change.fromCell = false;      // even an invalid value: shown as written
    if (change.cell != nullptr) { // raw rows: shown unless the cell is written after this
        if (change.cell->tag.load(std::memory_order_relaxed) == LatestCell::vacant)
            static_cast<void>(LatestRows::retag(*change.cell, LatestCell::locked));
        change.cellSeq = change.cell->seq.load(std::memory_order_acquire); // odd: a write after this
    }
    rows.scheduleLocked();
}

} // namespace

LatestCells *latestRowsRaw(LatestRows &rows, QMetaType type)
{
    const std::lock_guard lock(rows.mutex);
    if (!sameRaw(rows.raw, type)) {
        if (rows.raw.isValid() || !rows.cells.empty())
            return nullptr;
        rows.raw = type;
    }
    return &rows;
}

void latestRowsWriteRaw(LatestRows &rows, int key, const void *event)
{
    QVariant replaced;
    const std::lock_guard lock(rows.mutex);
    if (rows.model != nullptr) // dead rows keep nothing
        writeRawLocked(rows, key, event, replaced);
}

void latestRowsWriteRaw(LatestRows &rows, const QVariant &key, const void *event)
{
    if (key.metaType().id() != QMetaType::Int && !usableKey(rows, key))
        return;
    QVariant replaced;
    const std::lock_guard lock(rows.mutex);
    if (rows.model != nullptr) // dead rows keep nothing
        writeRawLocked(rows, key, event, replaced);
}

void latestRowsWake(LatestRows &rows)
{
    const std::lock_guard lock(rows.mutex);
    rows.scheduleLocked();
}

void latestRowsWrite(LatestRows &rows, QVariant key, QVariant value)
{
    if (!usableKey(rows, key))
        return;
    writeLatest(rows, std::move(key), value);
}

void latestRowsWrite(LatestRows &rows, int key, QVariant value)
{
    writeLatest(rows, key, value);
}

void latestRowsWrite(LatestRows &rows, const QString &key, QVariant value)
{
    writeLatest(rows, key, value);
}

void LatestWake::operator()()
{
    ran = true;
    QObject *model = nullptr;
    {
        const std::lock_guard lock(rows->mutex);
        model = rows->model;
    }
    // Delivered to the model, on its thread: it lives. A wake-up of rows it no longer follows
    // does nothing (what it follows now schedules its own).
    if (model != nullptr)
        LatestRows::wake(model);
}

void LatestRows::wake(QObject *model)
{
    static_cast<LatestModel *>(model)->awaitFrame();
}

} // namespace rio::detail

namespace rio {

LatestModel::LatestModel(QObject *parent)
    : QAbstractListModel(parent), m_writer(std::make_shared<detail::LatestRows>())
{
    m_writer->model = this;
}

LatestModel::~LatestModel()
{
    {
        const std::lock_guard lock(m_writer->mutex);
        m_writer->model = nullptr;
    }
    m_connection.disconnect();
}

std::shared_ptr<detail::LatestRows> LatestModel::restart()
{
    m_connection.disconnect();
    {
        const std::lock_guard lock(m_writer->mutex);
        m_writer->model = nullptr;
    }
    auto fresh = std::make_shared<detail::LatestRows>();
    fresh->model = this;
    m_writer = fresh;
    if (!m_rows.empty()) {
        beginResetModel();
        m_rows.clear();
        endResetModel();
        Q_EMIT countChanged();
    }
    m_rowOfSlot.clear();
    return fresh;
}

void LatestModel::setRegistry(QObject *registry)
{
    if (registry == m_registry)
        return;
    m_registry = registry;
    attach();
    Q_EMIT registryChanged();
}

void LatestModel::setKey(const QString &key)
{
    if (key == m_key)
        return;
    m_key = key;
    attach();
    Q_EMIT keyChanged();
}

void LatestModel::setRoles(const QStringList &roles)
{
    if (roles == m_roles)
        return;
    beginResetModel();
    m_roles = roles;
    m_fields = shownRoles();
    endResetModel();
    Q_EMIT rolesChanged();
}

QStringList LatestModel::shownRoles() const
{
    if (!m_roles.isEmpty())
        return m_roles;
    QStringList fields;
    const auto *typed = qobject_cast<const QmlTypedRegistry *>(m_registry.data());
    if (const QMetaObject *const meta =
            typed != nullptr ? typed->eventType().metaObject() : m_writtenType.metaObject()) {
        for (int i = 0; i < meta->propertyCount(); ++i)
            fields.append(QString::fromUtf8(meta->property(i).name()));
    }
    return fields;
}

void LatestModel::showFieldsOf(QMetaType type)
{
    m_writtenType = type;
    if (m_fields != shownRoles()) {
        beginResetModel();
        m_fields = shownRoles();
        endResetModel();
    }
}

void LatestModel::attach()
{
    std::shared_ptr<detail::LatestRows> rows = restart();
    if (m_fields != shownRoles()) {
        beginResetModel();
        m_fields = shownRoles();
        endResetModel();
    }
    QObject *const source = m_registry.data();
    if (source == nullptr || m_key.isEmpty())
        return;
    // While diagnostics are on, they show the handler as added where the model is declared.
    const auto noteDeclaration = [this](QtRegistryBase *facade) {
        QString file;
        int line = 0;
        if (facade != nullptr && facade->isDiagnosticsEnabled() &&
            detail::declarationPosition(this, &file, &line))
            detail::setHandlerOrigin(*facade, m_connection.id(), file, line);
    };
    if (auto *registry = qobject_cast<QmlRegistry *>(source)) {
        const HandlerId id = registry->registry().add([rows, key = m_key](const QVariant &event) {
            detail::latestRowsWrite(*rows, detail::latestFieldOf(event, key), event);
        });
        m_connection = registry->registry().connection(id);
        noteDeclaration(&registry->registry());
        return;
    }
    if (auto *typed = qobject_cast<QmlTypedRegistry *>(source)) {
        const QMetaObject *const meta = typed->eventType().metaObject();
        const int property = meta != nullptr ? meta->indexOfProperty(m_key.toUtf8().constData()) : -1;
        if (property < 0 || typed->m_ops == nullptr) {
            qmlWarning(this).noquote() << "LatestModel: key \"" << m_key << "\" names no property of "
                                       << typed->eventType().name() << "; nothing is followed";
            return;
        }
        m_connection = typed->m_ops->addKeyedRows(rows, property);
        noteDeclaration(typed->m_shared->facadeBase);
        return;
    }
    qmlWarning(this).noquote() << "LatestModel: registry must be a QmlRegistry or a typed registry, got "
                               << source->metaObject()->className() << "; nothing is followed";
}

void LatestModel::write(const QVariant &key, const QVariant &value)
{
    detail::latestRowsWrite(*m_writer, key, value);
}

bool LatestModel::remove(const QVariant &key)
{
    QVariant gone; // destroyed after the lock is released
    const std::lock_guard lock(m_writer->mutex);
    const auto found = m_writer->index.find(key);
    if (found == m_writer->index.end())
        return false;
    const detail::LatestRows::Slot &slot = m_writer->cells[found->second];
    if (slot.batch == m_writer->batch && m_writer->pending[slot.at].removed)
        return false;
    detail::LatestRows::Change &change = m_writer->changeLocked(found->second);
    change.removed = true;
    std::swap(change.value, gone);
    if (change.cell != nullptr) // a write from now on takes the lock, and cancels the removal
        m_writer->unpublish(change.cell->tag.load(std::memory_order_relaxed));
    m_writer->scheduleLocked();
    return true;
}

void LatestModel::clear()
{
    std::vector<QVariant> gone; // the values dropped, destroyed after the lock is released
    const std::lock_guard lock(m_writer->mutex);
    gone.reserve(m_writer->index.size());
    for (const auto &[key, at] : m_writer->index) {
        const detail::LatestRows::Slot &slot = m_writer->cells[at];
        if (slot.batch == m_writer->batch && m_writer->pending[slot.at].removed)
            continue;
        detail::LatestRows::Change &change = m_writer->changeLocked(at);
        change.removed = true;
        gone.push_back(std::exchange(change.value, QVariant()));
    }
    if (const detail::LatestCells::Table *t = m_writer->table.load(std::memory_order_relaxed)) {
        for (std::uint32_t i = 0; i <= t->mask; ++i) // writes from now on take the lock
            t->at[i].store(nullptr, std::memory_order_release);
        m_writer->published = 0;
    }
    if (!m_writer->index.empty())
        m_writer->scheduleLocked();
}

QVariant LatestModel::valueOf(const QVariant &key) const
{
    const auto row = std::find_if(m_rows.begin(), m_rows.end(),
                                  [&](const Row &r) { return detail::LatestKeyEqual{}(r.key, key); });
    return row != m_rows.end() ? row->value : QVariant();
}

void LatestModel::awaitFrame()
{
    if (!m_pacer) {
        m_pacer = std::make_unique<detail::FramePacer>(
            this, [](QObject *self, const QVariant &) { static_cast<LatestModel *>(self)->apply(); });
    }
    m_pacer->offer(QVariant());
}

namespace {
// Asks the CPU to fetch `p`'s cache line, to be written soon (a hint: nothing where unsupported).
inline void prefetchForWrite(const void *p) noexcept
{
#if defined(__GNUC__)
    __builtin_prefetch(p, 1);
#else
    (void)p;
#endif
}

using Change = detail::LatestRows::Change;
using RowChange = std::pair<int, Change *>; // a change and its row

// Each contiguous run of rows of `items` (sorted by row): its first and last item.
template <typename Each>
void forEachRun(std::vector<RowChange> &items, Each &&each)
{
    std::sort(items.begin(), items.end());
    for (std::size_t i = 0; i < items.size();) {
        std::size_t j = i + 1;
        while (j < items.size() && items[j].first == items[j - 1].first + 1)
            ++j;
        each(i, j - 1);
        i = j;
    }
}
} // namespace

// One frame's batch: what the writers changed since the last, taken under the lock and shown
// outside it.
struct LatestModel::Frame
{
    std::shared_ptr<detail::LatestRows> rows;
    std::vector<Change> changes;
    detail::LatestCell *linked = nullptr; // raw rows: the cells written since the last frame
    std::vector<RowChange> removed;
    std::vector<RowChange> changed;
    std::vector<Change *> added;
    std::vector<quint32> unread; // new keys whose cell was met mid-write
    int low = 0;                 // the span of `changed`
    int high = -1;
};

void LatestModel::apply()
{
    // A slot of this frame's signals may turn the event loop: a frame then waits for this one to
    // end, else it would take writes of keys this one has yet to insert (two rows for a key).
    if (m_applying) {
        m_applyAgain = true;
        return;
    }
    {
        struct Applying
        {
            bool &flag;
            ~Applying() { flag = false; }
        } applying{m_applying = true};
        applyBatch();
    }
    if (std::exchange(m_applyAgain, false)) { // its batch waits: a wake-up as a write's, through the loop
        const std::lock_guard lock(m_writer->mutex);
        m_writer->scheduled = false;
        m_writer->scheduleLocked();
    }
}

namespace {

// Takes the batch waiting (under the lock): writers wait for a swap, never for the frame's work.
// The new keys the last frame could not read come again, unless changed since.
void takeBatch(detail::LatestRows &rows, std::vector<Change> &changes, detail::LatestCell *&linked)
{
    const std::lock_guard lock(rows.mutex);
    for (const quint32 at : rows.unread) {
        if (rows.cells[at].key != nullptr && rows.cells[at].batch != rows.batch)
            rows.changeLocked(at).fromCell = true;
    }
    rows.unread.clear();
    rows.scheduled = false;
    changes.swap(rows.spareBatch);
    changes.reserve(rows.pending.capacity()); // allocates only when the keys grew
    changes.swap(rows.pending);
    ++rows.batch;
    linked = rows.dirty.exchange(nullptr, std::memory_order_acquire);
}

// Raw rows: the values of `changes` from their cells, and a change for each row whose cell a
// writer `linked` without the lock (`rowOf`: a slot's row, -1 for none). Never waits for a
// writer: a cell met mid-write is left to it (NewestCell), and that writer links it again.
template <typename RowOf>
void takeCells(QMetaType type, std::vector<Change> &changes, detail::LatestCell *linked, const RowOf &rowOf)
{
    struct Taken
    {
        detail::LatestCell *cell;
        std::int64_t tag;
        std::uint64_t seq;
        alignas(8) unsigned char bytes[detail::NewestCell::size];
    };
    std::vector<Taken> taken;
    quint32 slotCount = 0;
    for (detail::LatestCell *c = linked; c != nullptr;) {
        detail::LatestCell *const next = c->next; // read first: once taken, a writer relinks it
        c->take();
        Taken &t = taken.emplace_back();
        t.cell = c;
        if (!c->read(t.bytes, t.seq, [&] { t.tag = c->tag.load(std::memory_order_relaxed); }))
            taken.pop_back();
        slotCount = std::max(slotCount, c->slot + 1);
        c = next;
    }
    alignas(8) unsigned char bytes[detail::NewestCell::size];
    std::uint64_t seq = 0;
    for (Change &c : changes) {
        slotCount = std::max(slotCount, c.slot + 1);
        if (c.removed || c.cell == nullptr)
            continue;
        if (!c.cell->read(bytes, seq)) {
            c.unread = c.fromCell; // else its value shows, the cell's newer one at the next frame
            continue;
        }
        if (c.fromCell || seq != c.cellSeq) // else a value written as a QVariant, last
            c.value = QVariant(type, bytes);
        c.cell->shown = seq;
    }
    std::vector<bool> changing(slotCount);
    for (const Change &c : changes)
        changing[c.slot] = true;
    // The keys written without the lock: their rows (a cell of a key gone since has no row; one
    // written while the last frame read it may show its value already).
    for (const Taken &t : taken) {
        const quint32 slot = t.cell->slot;
        if (changing[slot] || t.tag == detail::LatestCell::vacant || rowOf(slot) < 0 ||
            t.seq == t.cell->shown)
            continue;
        changing[slot] = true;
        t.cell->shown = t.seq;
        changes.push_back(Change{slot, nullptr, QVariant(type, t.bytes), t.cell, 0, false, false, false});
    }
}

} // namespace

void LatestModel::applyBatch()
{
    Frame f;
    f.rows = m_writer;
    takeBatch(*f.rows, f.changes, f.linked);
    const auto rowOf = [this](quint32 slot) { return slot < m_rowOfSlot.size() ? m_rowOfSlot[slot] : -1; };
    if (f.rows->raw.isValid())
        takeCells(f.rows->raw, f.changes, f.linked, rowOf);
    f.low = count();
    for (Change &c : f.changes) {
        const int row = rowOf(c.slot);
        if (c.removed) {
            if (row >= 0)
                f.removed.emplace_back(row, &c);
        } else if (c.unread) {
            if (row < 0)
                f.unread.push_back(c.slot); // a row already shown changes at the next frame
        } else if (row < 0) {
            f.added.push_back(&c);
        } else {
            f.changed.emplace_back(row, &c);
            f.low = std::min(f.low, row);
            f.high = std::max(f.high, row);
        }
    }
    const int before = count();
    // A slot of the signals may restart the rows (follow another registry): the rest of this
    // batch belongs to rows no longer shown, and is dropped.
    if (!removeRowsOf(f) || !showChanged(f))
        return;
    insertAdded(f);
    releaseBatch(f);
    if (count() != before)
        Q_EMIT countChanged();
}

bool LatestModel::removeRowsOf(Frame &f)
{
    // One removal per contiguous range, from the last so the others keep their rows.
    if (f.removed.empty())
        return true;
    for (const RowChange &r : f.removed)
        m_rowOfSlot[r.second->slot] = -1;
    std::vector<std::pair<int, int>> ranges;
    forEachRun(f.removed, [&](std::size_t first, std::size_t last) {
        ranges.emplace_back(f.removed[first].first, f.removed[last].first);
    });
    for (std::size_t i = ranges.size(); i-- > 0;) {
        const auto [first, last] = ranges[i];
        beginRemoveRows(QModelIndex(), first, last);
        m_rows.erase(m_rows.begin() + first, m_rows.begin() + last + 1);
        endRemoveRows();
        if (m_writer != f.rows)
            return false;
    }
    for (auto r = static_cast<std::size_t>(ranges.front().first); r < m_rows.size(); ++r)
        m_rowOfSlot[m_rows[r].slot] = static_cast<int>(r);
    // The changed rows moved up: where they are now (one removed too comes back as a new row at
    // the next frame, as releaseBatch leaves it).
    std::erase_if(f.changed, [this](RowChange &c) { return (c.first = m_rowOfSlot[c.second->slot]) < 0; });
    f.low = count();
    f.high = -1;
    for (const RowChange &c : f.changed) {
        f.low = std::min(f.low, c.first);
        f.high = std::max(f.high, c.first);
    }
    return true;
}

bool LatestModel::showChanged(Frame &f)
{
    // One dataChanged per contiguous range, or one over their whole span when more than kFewRows
    // changed and they fill an eighth of it (a view re-reads only the rows it shows, once, where
    // each signal costs it a pass over its delegates).
    if (f.changed.empty())
        return true;
    QList<int> roles; // a row's key never changes: only its value and fields
    roles.reserve(1 + m_fields.size());
    roles.append(ValueRole);
    for (int field = 0; field < m_fields.size(); ++field)
        roles.append(FieldRole + field);
    // The values of the rows a signal names change just before it, those of the next signals
    // after it: a proxy that re-sorts the rows of one reads the others as it last saw them.
    const auto show = [this, &f](std::size_t first, std::size_t last) {
        constexpr std::size_t kAhead = 8; // reached in the writers' order, at random: fetched ahead
        for (std::size_t i = first; i <= last; ++i) {
            if (i + kAhead <= last)
                prefetchForWrite(&m_rows[static_cast<std::size_t>(f.changed[i + kAhead].first)]);
            // The old value goes with the buffer.
            m_rows[static_cast<std::size_t>(f.changed[i].first)].value.swap(f.changed[i].second->value);
        }
    };
    constexpr std::size_t kFewRows = 64;
    if (f.changed.size() > kFewRows && f.changed.size() * 8 >= static_cast<std::size_t>(f.high - f.low) + 1) {
        show(0, f.changed.size() - 1);
        Q_EMIT dataChanged(index(f.low), index(f.high), roles);
        return m_writer == f.rows;
    }
    forEachRun(f.changed, [&](std::size_t first, std::size_t last) {
        if (m_writer != f.rows)
            return;
        show(first, last);
        Q_EMIT dataChanged(index(f.changed[first].first), index(f.changed[last].first), roles);
    });
    return m_writer == f.rows;
}

void LatestModel::insertAdded(Frame &f)
{
    // New keys: one insertion at the end.
    if (f.added.empty())
        return;
    const int first = count();
    beginInsertRows(QModelIndex(), first, first + static_cast<int>(f.added.size()) - 1);
    for (Change *c : f.added) {
        if (c->slot >= m_rowOfSlot.size())
            m_rowOfSlot.resize(c->slot + 1, -1);
        m_rowOfSlot[c->slot] = static_cast<int>(m_rows.size());
        m_rows.push_back(Row{*c->key, std::move(c->value), c->slot});
    }
    endInsertRows();
}

void LatestModel::releaseBatch(Frame &f)
{
    using Node = decltype(detail::LatestRows::index)::node_type;
    detail::LatestRows &rows = *f.rows;
    // Removed keys leave the index, unless written again since the swap (that write comes as a
    // new row at the next frame); the buffer goes back, emptied, for the next frame.
    std::vector<quint32> freed;
    for (const Change &c : f.changes) {
        if (c.removed)
            freed.push_back(c.slot);
    }
    f.changes.clear();      // the values replaced, destroyed before the lock is taken
    std::vector<Node> gone; // destroyed after the lock is released
    gone.reserve(freed.size());
    const std::lock_guard lock(rows.mutex);
    rows.spare.reserve(rows.cells.size());
    rows.unread.swap(f.unread);
    // A removed key's cell is reused once no late writer of the key holds it (it takes no late
    // write of the key then): those a writer held last time first.
    const auto spare = [&rows](quint32 at) {
        if (at >= rows.cellAt.size() ||
            detail::LatestRows::retag(*rows.cellAt[at], detail::LatestCell::vacant))
            rows.spare.push_back(at);
        else
            rows.unfreed.push_back(at);
    };
    std::vector<quint32> held;
    held.swap(rows.unfreed);
    for (const quint32 at : held)
        spare(at);
    for (const quint32 at : freed) {
        detail::LatestRows::Slot &slot = rows.cells[at];
        if (slot.batch == rows.batch)
            continue;
        gone.push_back(rows.index.extract(*slot.key));
        slot.key = nullptr;
        spare(at);
    }
    rows.spareBatch.swap(f.changes);
}

int LatestModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : count();
}

QVariant LatestModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Row &row = m_rows[static_cast<std::size_t>(index.row())];
    if (role == KeyRole)
        return row.key;
    if (role == Qt::DisplayRole)
        return row.key.toString(); // empty for a key QVariant has no text for
    if (role == ValueRole)
        return row.value;
    const int field = role - FieldRole;
    if (field < 0 || field >= m_fields.size())
        return {};
    try {
        return detail::latestFieldOf(row.value, m_fields[field]); // a getter's user code
    } catch (...) {
        if (!std::exchange(m_fieldFailed, true))
            qCWarning(lcRegistryIOQml).noquote()
                << "LatestModel: reading the field" << m_fields[field] << "of the row of key"
                << row.key.toString() << "threw; shown as empty (warned once per model)";
        return {};
    }
}

QHash<int, QByteArray> LatestModel::roleNames() const
{
    QHash<int, QByteArray> names{{KeyRole, "key"}, {ValueRole, "value"}};
    for (int i = 0; i < m_fields.size(); ++i)
        names.insert(FieldRole + i, m_fields[i].toUtf8());
    return names;
}

} // namespace rio
