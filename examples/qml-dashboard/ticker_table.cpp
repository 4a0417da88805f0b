// SPDX-License-Identifier: MIT
#include "ticker_table.h"

#include <algorithm>

TickerTable::TickerTable(QObject *parent) : QAbstractListModel(parent), m_seq(kTickers, 0) { }

void TickerTable::take(const Sample &sample)
{
    const int row = tickerOf(sample);
    m_seq[static_cast<std::size_t>(row)] = sample.seq;
    const QModelIndex at = index(row);
    Q_EMIT dataChanged(at, at, {SeqRole});
}

int TickerTable::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : kTickers;
}

QVariant TickerTable::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    if (role == KeyRole)
        return index.row();
    if (role == SeqRole)
        return m_seq[static_cast<std::size_t>(index.row())];
    return {};
}

QHash<int, QByteArray> TickerTable::roleNames() const
{
    return {{KeyRole, "key"}, {SeqRole, "seq"}};
}

TableState tableState(const QAbstractItemModel &table, const Flood &flood)
{
    const QHash<int, QByteArray> names = table.roleNames();
    const int keyRole = names.key("key", -1), seqRole = names.key("seq", -1);
    TableState state;
    state.rows = table.rowCount();
    if (keyRole < 0 || seqRole < 0)
        return state;
    constexpr qint64 perKey = kTickers / Receiver::kWorkers; // a key's events are this far apart
    for (int row = 0; row < state.rows; ++row) {
        const QModelIndex at = table.index(row, 0);
        const int key = at.data(keyRole).toInt();
        const qint64 published = flood.published.at(static_cast<std::size_t>(key % Receiver::kWorkers))
                                     .load(std::memory_order_acquire);
        const qint64 missed =
            std::max<qint64>(0, newestSeqOf(key, published) - at.data(seqRole).toLongLong());
        state.current += missed == 0 ? 1 : 0;
        state.behind += (missed + perKey - 1) / perKey;
    }
    return state;
}
