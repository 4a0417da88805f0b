// SPDX-License-Identifier: MIT
#pragma once

// The one drop warning of the layers that queue deliveries (the Qt facade, Remote): one line,
// "<who>: <total> queued deliveries dropped so far (<why>)", rate-limited per source (a registry,
// a share): drops that come in floods are logged at most once a second, and every such line ends
// "; <n> since the last line", n every limited drop of the source since its previous line (every
// receiver's, the suppressed lines' included); what no line counted when a flood ends is logged
// by flush() once the second has passed ("<source>: <n> queued deliveries dropped since the last
// line"), so the lines' counts add up to every drop. Header-only: both libraries use it, and it
// exports nothing.

#include <registryio/drop_reason.h>

#include <QLoggingCategory>
#include <QString>
#include <QtGlobal>

#include <algorithm>
#include <atomic>
#include <chrono>

namespace rio::detail {

/// The one millisecond clock of the layers that queue deliveries (steady_clock): the drop
/// warning's intervals here, Remote's deadlines, waits and ledger times.
inline qint64 nowMs() noexcept
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/// Why deliveries were dropped, for the drop warning: the one sentence of each reason.
inline const char *dropReasonText(DropReason reason) noexcept
{
    switch (reason) {
    case DropReason::Overflow:
        break;
    case DropReason::Removed:
        return "it was removed with deliveries waiting";
    case DropReason::ContextDestroyed:
        return "its context was destroyed with deliveries waiting";
    case DropReason::Suspended:
        return "it is suspended";
    case DropReason::NoMemory:
        return "no memory to queue or list them";
    case DropReason::Discarded:
        return "Qt discarded a blocking delivery's event";
    case DropReason::Budget:
        return "the process's backlogs passed backlogBytesBudget";
    }
    return "its queue is full";
}

/// The sentences of the reasons `counts` (by DropReason) holds drops of, joined; a full queue's
/// with its `capacity` when one is given.
template <typename Counts>
QString dropReasonsText(const Counts &counts, std::size_t capacity = 0)
{
    QString out;
    for (int reason = 0; reason < dropReasonCount && reason < int(counts.size()); ++reason) {
        if (counts[std::size_t(reason)] == 0)
            continue;
        out += QLatin1String(out.isEmpty() ? "" : ", and ") +
               (DropReason(reason) == DropReason::Overflow && capacity != 0
                    ? QStringLiteral("its queue of %1 is full").arg(capacity)
                    : QLatin1String(dropReasonText(DropReason(reason))));
    }
    return out;
}

class DropWarning
{
public:
    /// Warns in `category` that `total` deliveries of `who()` were dropped so far, `n` of them
    /// new, for `why()` (both return what QDebug writes: a QString, a C string). When `limited`,
    /// only if no limited warning of this source went in the last second (one thread wins a race),
    /// the drops of a suppressed one waiting for the next line; neither is called otherwise.
    /// Returns in how many ms flush() must run (0: none is needed, or one is due already). Any
    /// thread, no lock of its own: what `who` and `why` lock is the caller's to allow.
    template <typename Who, typename Why>
    qint64 warn(const QLoggingCategory &category, bool limited, quint64 n, quint64 total, Who &&who,
                const Why &why) noexcept
    {
        quint64 since = 0;
        if (limited) {
            m_unlogged.fetch_add(n);
            const qint64 now = nowMs();
            qint64 last = m_last.load();
            if (now - last < IntervalMs || !m_last.compare_exchange_strong(last, now))
                return flushDue(now);
            since = m_unlogged.exchange(0);
        }
        try {
            if (limited)
                qCWarning(category).nospace().noquote()
                    << who() << ": " << total << " queued deliveries dropped so far (" << why() << "); "
                    << since << " since the last line";
            else
                qCWarning(category).nospace().noquote()
                    << who() << ": " << total << " queued deliveries dropped so far (" << why() << ")";
        } catch (...) {
        }
        return 0;
    }
    /// Logs the limited drops no line counted, as `source()`'s, once a second has passed since the
    /// last line: returns in how many ms to call it again (0: nothing waits, or a call is due).
    template <typename Source>
    qint64 flush(const QLoggingCategory &category, Source &&source) noexcept
    {
        m_flushDue.store(false);
        if (m_unlogged.load() == 0)
            return 0;
        const qint64 now = nowMs();
        qint64 last = m_last.load();
        if (now - last < IntervalMs || !m_last.compare_exchange_strong(last, now))
            return flushDue(now);
        const quint64 since = m_unlogged.exchange(0);
        try {
            if (since != 0)
                qCWarning(category).nospace().noquote()
                    << source() << ": " << since << " queued deliveries dropped since the last line";
        } catch (...) {
        }
        return 0;
    }

private:
    static constexpr qint64 IntervalMs = 1000;
    // The first to find drops unlogged schedules the flush.
    qint64 flushDue(qint64 now) noexcept
    {
        if (m_flushDue.exchange(true))
            return 0;
        return std::max<qint64>(1, IntervalMs - (now - m_last.load()));
    }

    std::atomic<qint64> m_last{-IntervalMs}; // when the last limited line went (steady_clock, ms)
    std::atomic<quint64> m_unlogged{0};      // limited drops no line has counted yet
    std::atomic<bool> m_flushDue{false};     // a flush() is scheduled
};

} // namespace rio::detail
