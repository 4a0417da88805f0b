// SPDX-License-Identifier: MIT
#pragma once

// The writers' side of a LatestModel, as its handlers reach it. Not part of the public API.

#include <registryio/detail/config.h>
#include <registryio/qml/qml_export.h>
#include <registryio/qt/detail/newest_cell.h>

#include <QAnyStringView>
#include <QByteArray>
#include <QByteArrayView>
#include <QMetaType>
#include <QObject>
#include <QString>
#include <QStringView>
#include <QUtf8StringView>
#include <QVariant>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace rio::detail {

/// A LatestModel's newest value per key waiting for its next frame (latest_model.cpp).
struct LatestRows;

/// Writes `value` as the newest of `key` into `rows` (any thread): a LatestModel handler's call.
/// An invalid key drops it (one warning per model).
RIO_QML_EXPORT void latestRowsWrite(LatestRows &rows, QVariant key, QVariant value);
/// The same for an `int` key, found without making it a QVariant (only a new key becomes one).
RIO_QML_EXPORT void latestRowsWrite(LatestRows &rows, int key, QVariant value);
/// The same for a string key, found without making it a QVariant (only a new key becomes one).
RIO_QML_EXPORT void latestRowsWrite(LatestRows &rows, const QString &key, QVariant value);

/// The character types whose C strings, arrays and strings are keys by their text: UTF-8 (char,
/// char8_t), UTF-16 (char16_t), UTF-32 (char32_t) or wchar_t (UTF-16 or UTF-32, as the platform's).
template <typename C>
inline constexpr bool latestTextChar =
    std::is_same_v<C, char> || std::is_same_v<C, char8_t> || std::is_same_v<C, char16_t> ||
    std::is_same_v<C, char32_t> || std::is_same_v<C, wchar_t>;
template <typename T>
inline constexpr bool latestStdText = false; // a standard string or string view of such text
template <typename C, typename T>
inline constexpr bool latestStdText<std::basic_string_view<C, T>> = latestTextChar<C>;
template <typename C, typename T, typename A>
inline constexpr bool latestStdText<std::basic_string<C, T, A>> = latestTextChar<C>;

/// The text of `size` characters at `text` as a key (a QString: invalid UTF-8 becomes U+FFFD).
template <typename C>
QVariant latestText(const C *text, std::size_t size)
{
    const auto n = static_cast<qsizetype>(size);
    if constexpr (std::is_same_v<C, wchar_t>)
        return QVariant(QString::fromWCharArray(text, n));
    else if constexpr (std::is_same_v<C, char32_t>)
        return QVariant(QString::fromUcs4(text, n));
    else
        return QVariant(QAnyStringView(text, n).toString());
}

/// The key `keyOf` gives as latestRowsWrite takes it: an int or a QString as such; text as an
/// owning QString (a C string, a character array up to its first NUL within its extent, a
/// standard string or string view, of any latestTextChar; a QStringView, QLatin1StringView,
/// QUtf8StringView or QAnyStringView; a null C string: an invalid key), a QByteArrayView as a
/// QByteArray, else a QVariant (a compound key holding a pointer or a view keeps it as given).
/// A pointer other than a C string or a QObject * is refused: its address is no key.
template <typename K>
decltype(auto) latestKey(K &&key)
{
    using D = std::remove_cvref_t<K>;
    using Pointee = std::remove_cv_t<std::remove_pointer_t<std::decay_t<K>>>;
    if constexpr (std::is_same_v<D, int> || std::is_same_v<D, QString>)
        return std::forward<K>(key);
    else if constexpr (std::is_array_v<D> && latestTextChar<Pointee>) { // full: no NUL within it
        const Pointee *const end = std::char_traits<Pointee>::find(key, std::extent_v<D>, Pointee());
        return latestText<Pointee>(key,
                                   end != nullptr ? static_cast<std::size_t>(end - key) : std::extent_v<D>);
    } else if constexpr (std::is_pointer_v<D> && latestTextChar<Pointee>)
        return key != nullptr ? latestText<Pointee>(key, std::char_traits<Pointee>::length(key)) : QVariant();
    else if constexpr (latestStdText<D>)
        return latestText(key.data(), key.size());
    else if constexpr (std::is_same_v<D, QStringView> || std::is_same_v<D, QLatin1StringView> ||
                       std::is_same_v<D, QUtf8StringView> || std::is_same_v<D, QAnyStringView>)
        return QVariant(key.toString());
    else if constexpr (std::is_same_v<D, QByteArrayView>)
        return QVariant(key.toByteArray());
    else {
        static_assert(!std::is_pointer_v<std::decay_t<K>> || std::is_base_of_v<QObject, Pointee>,
                      "LatestModel key: a pointer would be keyed by its address, which is reused. Pass a "
                      "C string (its text), a QObject *, or the key as a QString or a number");
        return QVariant::fromValue(std::forward<K>(key));
    }
}

/// Events a LatestModel keeps as their bytes, in a cell per key, made a QVariant on the model's
/// thread only when a frame shows them (as the facade's Delivery::Latest cell holds them).
template <typename E>
inline constexpr bool latestRaw = std::is_trivially_copyable_v<E> && sizeof(E) <= 16 && alignof(E) <= 8;

/// A key's newest event as bytes: the facade's newest-value cell (NewestCell), whose `owed` says
/// the cell is linked for the frame (the writer whose owe() sets it links it). `tag` is the int
/// key whose writers may reach it without the lock, changed under the model's lock and under the
/// cell's count only (hold()): a writer reads the count, then the tag, then writes from the count
/// it read, so a writer always writes the cell's current key, and a cell reused for another key
/// never takes a late write of the old one. `shown` is the count whose value the model's rows show
/// (the model's thread only): a cell linked again by a write the frame already read is not shown
/// twice.
struct alignas(64) LatestCell : NewestCell
{
    static constexpr std::int64_t vacant = std::numeric_limits<std::int64_t>::min(); // no key
    static constexpr std::int64_t locked = std::numeric_limits<std::int64_t>::max(); // not an int's
    std::atomic<std::int64_t> tag{vacant};
    std::uint64_t shown = 0;    // the count last shown
    LatestCell *next = nullptr; // the frame's list (written by the writer whose owe() linked it)
    std::uint32_t slot = 0;     // its key's slot (fixed: cell n serves slot n)
};
static_assert(sizeof(LatestCell) == 64);

/// What writers reach without the lock: the cells of the int keys, by a table published whole
/// (open addressing; it only grows, the ones it replaced kept until the rows go, so a writer
/// reads any of them safely: a stale or missing entry sends it to the locked path, never to a
/// wrong cell), the cells written since the last frame, and whether a frame is scheduled.
struct LatestCells
{
    struct Table
    {
        std::uint32_t mask = 0;
        int shift = 64;
        std::atomic<LatestCell *> *at = nullptr;
    };
    std::atomic<const Table *> table{nullptr};
    std::atomic<LatestCell *> dirty{nullptr}; // written since the frame took them, newest first
    std::atomic<bool> scheduled{false};       // a frame is asked for (set under the lock)
    std::atomic<bool> owed{false};            // Qt could not post the last wake-up asked for

    /// Links `cell`, just written, for the frame unless it is already (any thread); true when
    /// no frame is scheduled for it.
    bool link(LatestCell &cell) noexcept
    {
        if (!cell.owe())
            return owed.load(std::memory_order_seq_cst); // the frame to come reads it, if it was asked for
        LatestCell *head = dirty.load(std::memory_order_relaxed);
        do {
            cell.next = head;
        } while (
            !dirty.compare_exchange_weak(head, &cell, std::memory_order_seq_cst, std::memory_order_relaxed));
        return !scheduled.load(std::memory_order_seq_cst);
    }
    /// `key`'s place in a table.
    static std::uint32_t home(const Table &t, std::int64_t key) noexcept
    {
        return static_cast<std::uint32_t>(
            (static_cast<std::uint64_t>(static_cast<std::uint32_t>(key)) * 0x9E3779B97F4A7C15ULL) >> t.shift);
    }
};

/// Makes `rows` keep each key's newest event of `type` as its bytes, and returns their lock-free
/// side, for latestWriteEvent; null, changing nothing, when they keep another type's or have
/// held a key (its slot has no cell).
RIO_QML_EXPORT LatestCells *latestRowsRaw(LatestRows &rows, QMetaType type);
/// latestWriteEvent's locked path (a key without a published cell: new, or not an int): writes
/// the `type` latestRowsRaw named at `event`.
RIO_QML_EXPORT void latestRowsWriteRaw(LatestRows &rows, int key, const void *event);
/// The same for a key of another type.
RIO_QML_EXPORT void latestRowsWriteRaw(LatestRows &rows, const QVariant &key, const void *event);
/// A write linked a cell while no frame was scheduled: asks for one.
RIO_QML_EXPORT void latestRowsWake(LatestRows &rows);

/// A LatestModel handler's write of a latestRaw event: a known int key's into its published cell
/// without a lock nor an allocation (asking for a frame when it links the cell while none is),
/// any other through the lock.
template <typename E, typename K>
RIO_ALWAYS_INLINE inline void latestWriteEvent(LatestRows &rows, LatestCells &cells, K &&key, const E &event)
{
    if constexpr (std::is_same_v<std::remove_cvref_t<K>, int>) {
        const int k = key; // in a register: the acquire loads below would read a reference again
        if (const LatestCells::Table *const t = cells.table.load(std::memory_order_acquire)) {
            for (std::uint32_t i = LatestCells::home(*t, k);; i = (i + 1) & t->mask) {
                LatestCell *const c = t->at[i].load(std::memory_order_acquire);
                if (c == nullptr)
                    break;
                const std::uint64_t seq = c->seq.load(std::memory_order_acquire); // then the tag it counts
                if (c->tag.load(std::memory_order_relaxed) != k)
                    continue;
                CellPause<E>::at(*c, CellStep::Found);
                // Not written when a writer of this key writes (its event is the newer one), or
                // the lock writes it or took the cell from the key since (removed: this came before).
                if (c->write(seq, event) && cells.link(*c)) [[unlikely]]
                    latestRowsWake(rows);
                return;
            }
        }
        latestRowsWriteRaw(rows, k, &event);
    } else {
        latestRowsWriteRaw(rows, QVariant(latestKey(std::forward<K>(key))), &event);
    }
}

} // namespace rio::detail
