// SPDX-License-Identifier: MIT
#pragma once

#include <registryio/qml/detail/latest_rows.h>

#include <QVariant>

#include <memory>
#include <utility>

namespace rio {

class LatestModel;

/// Writes events of type E as the newest value of their key into the rows of a LatestModel from any
/// thread, without a registry (what follow()'s handler does); copies write the same rows, and
/// writes are dropped once the rows restart, the model dies, or the writer was default-constructed
/// or moved from. An `int` key of a cell-kept E is written without a lock or an allocation while its
/// row's change is pending; not fork-safe (a child forked mid-write may find the rows' lock held).
template <typename E>
class LatestModelWriter
{
public:
    /// A writer of no model: its writes are dropped.
    LatestModelWriter() = default;
    /// A writer of the same rows as `other`.
    LatestModelWriter(const LatestModelWriter &other) = default;
    /// Writes the rows `other` writes.
    LatestModelWriter &operator=(const LatestModelWriter &other) = default;
    /// Leaves `other` a writer of no model.
    LatestModelWriter(LatestModelWriter &&other) noexcept
        : m_rows(std::move(other.m_rows)), m_cells(std::exchange(other.m_cells, nullptr))
    { }
    /// Leaves `other` a writer of no model.
    LatestModelWriter &operator=(LatestModelWriter &&other) noexcept
    {
        m_rows = std::move(other.m_rows);
        m_cells = std::exchange(other.m_cells, nullptr);
        return *this;
    }
    /// Lets go of the rows (the model keeps them while it shows them).
    ~LatestModelWriter() = default;

    /// Makes `event` the newest of `key` from any thread, shown at the model's next frame; a key is
    /// a number, text (kept as an owning QString) or anything a QVariant holds but a pointer other
    /// than a QObject * (refused at compile time), and an invalid key drops the event. Throws
    /// std::bad_alloc when a new key finds no memory (nothing written) or Qt cannot post the
    /// frame's wake-up (shown at a later frame).
    template <typename K>
    RIO_ALWAYS_INLINE void write(K &&key, const E &event) const
    {
        if constexpr (detail::latestRaw<E>) {
            if (m_cells != nullptr) [[likely]] {
                detail::latestWriteEvent(*m_rows, *m_cells, std::forward<K>(key), event);
                return;
            }
        }
        writeVariant(detail::latestKey(std::forward<K>(key)), event);
    }

private:
    friend class LatestModel;
    LatestModelWriter(std::shared_ptr<detail::LatestRows> rows, detail::LatestCells *cells) noexcept
        : m_rows(std::move(rows)), m_cells(cells)
    { }

    // The write of an event kept as a QVariant (out of line: the cells' path stays a leaf).
    template <typename K>
    RIO_COLD void writeVariant(K &&key, const E &event) const
    {
        if (m_rows)
            detail::latestRowsWrite(*m_rows, std::forward<K>(key), QVariant::fromValue(event));
    }

    std::shared_ptr<detail::LatestRows> m_rows;
    detail::LatestCells *m_cells = nullptr; // the rows' cells of E; null: written as a QVariant
};

} // namespace rio
