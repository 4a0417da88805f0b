// SPDX-License-Identifier: MIT
#pragma once

// The one drop warning of the layers that queue deliveries (the Qt facade, Remote): one line,
// "<who>: <total> queued deliveries dropped so far (<why>)", rate-limited per source (a registry,
// a share): drops that come in floods are logged at most once a second, each line giving the
// receiver's running total, so the next line counts what a suppressed one would have said.
// Header-only: both libraries use it, and it exports nothing.

#include <QLoggingCategory>
#include <QtGlobal>

#include <atomic>
#include <chrono>

namespace rio::detail {

class DropWarning
{
public:
    /// Warns in `category` that `total` deliveries of `who()` were dropped so far, for `why()`
    /// (both return what QDebug writes: a QString, a C string). When `limited`, only if no
    /// limited warning of this source went in the last second (one thread wins a race); neither is
    /// called otherwise. Any thread, no lock of its own: what `who` and `why` lock is the
    /// caller's to allow.
    template <typename Who, typename Why>
    void warn(const QLoggingCategory &category, bool limited, quint64 total, Who &&who,
              const Why &why) noexcept
    {
        if (limited) {
            const qint64 now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count();
            qint64 last = m_last.load(std::memory_order_relaxed);
            if (now - last < IntervalMs || !m_last.compare_exchange_strong(last, now))
                return;
        }
        try {
            qCWarning(category).nospace().noquote()
                << who() << ": " << total << " queued deliveries dropped so far (" << why() << ")";
        } catch (...) {
        }
    }

private:
    static constexpr qint64 IntervalMs = 1000;
    std::atomic<qint64> m_last{-IntervalMs}; // when the last limited line went (steady_clock, ms)
};

} // namespace rio::detail
