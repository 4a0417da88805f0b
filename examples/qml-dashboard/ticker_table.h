// SPDX-License-Identifier: MIT
// The keyed table as applications write it today, and what a table of the newest value per key
// shows: the window's side of the comparison of a Qt queued signal with a LatestModel.
#pragma once

#include "flood.h"

#include <QAbstractListModel>

#include <vector>

/// The keyed table the Qt way: a list model on the window's thread, one row per key (kTickers
/// rows), updated by a slot per queued signal: one dataChanged per update. Its roles are a
/// LatestModel's of the same Samples: `key` and `seq`.
class TickerTable : public QAbstractListModel
{
    Q_OBJECT

public:
    /// The roles, named `key` and `seq`.
    enum Role { KeyRole = Qt::UserRole + 1, SeqRole };

    /// kTickers rows, none updated yet (seq 0).
    explicit TickerTable(QObject *parent = nullptr);

    /// The update a queued signal brings: `sample`'s key shows its seq.
    void take(const Sample &sample);

    /// kTickers (none under a valid parent).
    [[nodiscard]] int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    /// A row's key or seq.
    [[nodiscard]] QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    /// `key` and `seq`.
    [[nodiscard]] QHash<int, QByteArray> roleNames() const override;

private:
    std::vector<qint64> m_seq;
};

/// What a table of the newest seq per key shows, against what the flood published.
struct TableState
{
    qint64 rows = 0;    ///< rows shown
    qint64 current = 0; ///< rows showing their key's newest event
    qint64 behind = 0;  ///< updates published but not shown, over every key
};

/// Reads `table` (rows with the roles `key` and `seq`, as TickerTable's and a LatestModel's of
/// Samples with roles ["seq"]) against the seqs `flood` published.
TableState tableState(const QAbstractItemModel &table, const Flood &flood);
