// SPDX-License-Identifier: MIT
#pragma once

// One receiver's waiting deliveries under its delivery policy, shared by the layers that queue
// events for a receiver (a header-only template: nothing exported). Every: oldest first, at most
// `room` entries per push, a full queue dropping by its Overflow (Block drops the new entry here:
// whoever waits for room waits before it pushes). Latest: at most one entry, a newer one replacing
// it. The first entry may be retained (a state the receiver must get first): dropping the oldest
// then drops the one after it. An owner may keep its entries in two segments (the Qt facade's:
// the older one its drain took), counted together toward the room and dropped from the older
// first, and queue in the order of a key (and undo that). Every drop is counted in one place,
// drop(reason, n): by reason, with those not yet reported, each entry weighed for bytes() by
// `Accounting::cost(entry)`; or, where Accounting counts no reasons (`reasons` 0), by its
// owner's counter (`Accounting::drop`), nothing weighed, whose report (what to tell of the drop)
// every call that drops hands back to its caller. Not thread-safe: its owner's lock guards it.

#include <registryio/detail/config.h>
#include <registryio/qt/delivery.h>
#include <registryio/qt/detail/mail_queue.h>

#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <optional>
#include <type_traits>
#include <utility>

namespace rio::detail {

/// What a push did: queued its entry, queued it and dropped the oldest, or dropped it.
enum class Pushed : std::uint8_t { Queued, DroppedOldest, DroppedNew };

/// What a drop hands back: Accounting::drop's report where Accounting counts no reasons (its
/// owner reports the drop), nothing where the queue counts them itself.
template <typename Accounting, bool = Accounting::reasons == 0>
struct DropReport
{
    struct type
    { };
};
template <typename Accounting>
struct DropReport<Accounting, true>
{
    using type = decltype(std::declval<const Accounting &>().drop(typename Accounting::Reason{}, 0));
};

template <typename T, typename Accounting>
class DeliveryQueue
{
public:
    using Reason = typename Accounting::Reason;
    using Counts = std::array<std::uint64_t, Accounting::reasons>;
    using Items = MailQueue<T>;
    using Report = typename DropReport<Accounting>::type;
    /// What a push did, and its drop's report (Report{}: it dropped nothing).
    struct Outcome
    {
        Pushed pushed;
        [[no_unique_address]] Report report;
    };

    DeliveryQueue()
    requires std::is_default_constructible_v<Accounting>
    = default;
    DeliveryQueue(Delivery delivery, Overflow overflow, Accounting accounting = {}) noexcept
        : m_accounting(accounting), m_latest(delivery == Delivery::Latest),
          m_dropOldest(overflow == Overflow::DropOldest)
    { }

    [[nodiscard]] bool empty() const noexcept { return m_items.empty(); }
    [[nodiscard]] std::size_t size() const noexcept { return m_items.size(); }
    /// What its entries weigh together (Accounting::cost).
    [[nodiscard]] std::int64_t bytes() const noexcept { return m_bytes; }
    /// The oldest entry (needs one).
    [[nodiscard]] const T &front() const noexcept { return m_items.front(); }
    /// The newest entry (needs one).
    [[nodiscard]] const T &back() const noexcept { return m_items.back(); }
    [[nodiscard]] bool retainedFirst() const noexcept { return m_retainedFirst; }

    /// Queues `entry` with at most `room` entries waiting (0: no bound; Latest replaces its one
    /// entry whatever `room`). A full queue drops one entry, counted as Reason::Overflow: the new
    /// one (DropNewest, Block), or the oldest (DropOldest, after the retained one unless that is
    /// all it holds). Throws std::bad_alloc, changing nothing.
    template <typename U>
    [[nodiscard]] Outcome push(U &&entry, std::size_t room)
    {
        static_assert(std::is_nothrow_assignable_v<T &, U &&>);
        if (m_latest && !m_items.empty()) {
            m_items.front() = std::forward<U>(entry);
            m_bytes = weigh(m_items.front()); // its one entry: weighed once
            m_retainedFirst = false;
            return {Pushed::Queued, {}};
        }
        const bool spare = m_retainedFirst && m_items.size() > 1;
        return admit(
            !m_latest && room != 0 && m_items.size() >= room,
            [&] {
                m_items.push_back(std::forward<U>(entry));
                m_bytes += weigh(m_items.back());
            },
            [&] {
                eraseAt(spare ? 1 : 0);
                m_retainedFirst = spare;
            });
    }
    /// Every, as push, with `older` (no retained entry) as this queue's older segment: at most
    /// `room` entries waiting in both (0: no bound, and `older` is not read), the oldest dropped
    /// from `older` first and moved into `oldest` (to be destroyed where its owner's lock is not
    /// held). `place()` queues the entry, into either segment; what it throws passes, changing
    /// nothing (it must leave both as they were).
    template <typename Place>
    [[nodiscard]] Outcome push(DeliveryQueue &older, std::size_t room, T &oldest, Place place)
    {
        assert(!m_latest && !older.m_latest && !older.m_retainedFirst); // Every's, no retained entry
        return admit(room != 0 && older.size() + size() >= room, place,
                     [&] { (older.empty() ? *this : older).pop(oldest); });
    }
    /// Every: queues `entry` in the order of `key(entry)` (ascending), without a policy (the push
    /// placing it applies it): before the newest entries whose key is greater, never before a retained one.
    /// Returns where it went (for erase, to undo it). Throws std::bad_alloc, changing nothing.
    template <typename Key>
    std::size_t insertSorted(T &&entry, Key key)
    {
        const auto k = key(entry);
        const std::int64_t weight = weigh(entry);
        std::size_t at = m_items.size();
        if (at == 0 || !(k < key(m_items.back()))) {
            m_items.push_back(std::move(entry));
        } else {
            while (at > (m_retainedFirst ? 1U : 0U) && k < key(m_items[at - 1]))
                --at;
            m_items.insert(at, std::move(entry));
        }
        m_bytes += weight;
        return at;
    }
    /// Removes entry `at` (< size()), as if it had never been queued, and hands it back (to be
    /// destroyed where its owner's lock is not held).
    T erase(std::size_t at) noexcept
    {
        m_bytes -= weigh(m_items[at]);
        T out = std::move(m_items[at]);
        m_items.erase(at);
        m_retainedFirst = m_retainedFirst && at != 0;
        return out;
    }
    /// Swaps its entries (not its policy nor its counts) with `other`'s.
    void swap(DeliveryQueue &other) noexcept
    {
        m_items.swap(other.m_items);
        std::swap(m_bytes, other.m_bytes);
        std::swap(m_retainedFirst, other.m_retainedFirst);
    }
    /// Into an empty queue: `entry`, retained first (Every; Latest replaces it as any entry).
    void retain(T entry)
    {
        m_items.push_back(std::move(entry)); // first: nothing changes if it throws
        m_bytes += weigh(m_items.back());
        m_retainedFirst = !m_latest;
    }
    /// Takes the oldest entry out (needs one), to be delivered: moved into `out` (one move, where
    /// the owner has its place ready), or returned.
    RIO_ALWAYS_INLINE void pop(T &out) noexcept
    {
        m_bytes -= weigh(m_items.front());
        out = std::move(m_items.front());
        m_items.pop_front();
        m_retainedFirst = false;
    }
    RIO_ALWAYS_INLINE T pop()
    {
        m_bytes -= weigh(m_items.front());
        T out = std::move(m_items.front());
        m_items.pop_front();
        m_retainedFirst = false;
        return out;
    }
    /// Drops the oldest entry for `reason`, the retained one last: its drop's report, none when
    /// it holds nothing but that.
    [[nodiscard]] std::optional<Report> dropOldest(Reason reason)
    {
        if (m_items.empty() || (m_retainedFirst && m_items.size() == 1))
            return std::nullopt;
        eraseAt(m_retainedFirst ? 1 : 0);
        return drop(reason, 1);
    }
    /// Hands everything it holds out (to be destroyed where its owner's lock is not held); the
    /// drop counts stay.
    Items release() noexcept
    {
        Items out;
        out.swap(m_items);
        m_bytes = 0;
        m_retainedFirst = false;
        return out;
    }

    /// The one place its drops are counted: `n` entries lost for `reason` (by the queue, or by
    /// its owner for it). Hands back its report (a report type that must be read is [[nodiscard]]).
    Report drop(Reason reason, std::uint64_t n) noexcept
    {
        if constexpr (Accounting::reasons != 0) {
            m_dropped[static_cast<std::size_t>(reason)] += n;
            m_unreported[static_cast<std::size_t>(reason)] += n;
            return {};
        } else {
            return m_accounting.drop(reason, n);
        }
    }
    [[nodiscard]] std::uint64_t dropped() const noexcept { return total(m_dropped); }
    [[nodiscard]] std::uint64_t dropped(Reason reason) const noexcept
    {
        return m_dropped[static_cast<std::size_t>(reason)];
    }
    [[nodiscard]] std::uint64_t unreported() const noexcept { return total(m_unreported); }
    /// The drops since the last call, by reason; none are unreported after it.
    Counts takeUnreported() noexcept { return std::exchange(m_unreported, Counts{}); }
    static std::uint64_t total(const Counts &counts) noexcept
    {
        return std::accumulate(counts.begin(), counts.end(), std::uint64_t{0});
    }

private:
    // What `entry` weighs (Accounting::cost; nothing where Accounting counts no reasons).
    static std::int64_t weigh(const T &entry) noexcept
    {
        if constexpr (Accounting::reasons != 0)
            return Accounting::cost(entry);
        return 0;
    }
    // The one overflow policy: a `full` queue drops the new entry (DropNewest, Block), or queues
    // it (`place`, which may throw: nothing changed then) and drops the oldest (`dropOldest`).
    template <typename Place, typename DropOldest>
    Outcome admit(bool full, Place place, DropOldest dropOldest)
    {
        if (full && !m_dropOldest)
            return {Pushed::DroppedNew, drop(Reason::Overflow, 1)};
        place(); // first: nothing changes if it throws
        if (!full)
            return {Pushed::Queued, {}};
        dropOldest();
        return {Pushed::DroppedOldest, drop(Reason::Overflow, 1)};
    }

    // The first entry, or the second (the first takes its place).
    void eraseAt(std::size_t at) noexcept
    {
        if (at == 1)
            std::swap(m_items.front(), m_items[1]);
        m_bytes -= weigh(m_items.front());
        m_items.pop_front();
    }

    // The weight of a queue whose Accounting counts no reasons: always 0, in no room.
    struct Weightless
    {
        constexpr Weightless(std::int64_t = 0) noexcept { }
        constexpr Weightless &operator+=(std::int64_t) noexcept { return *this; }
        constexpr Weightless &operator-=(std::int64_t) noexcept { return *this; }
        constexpr operator std::int64_t() const noexcept { return 0; }
    };

    Items m_items;
    [[no_unique_address]] Accounting m_accounting{};
    [[no_unique_address]] std::conditional_t<Accounting::reasons != 0, std::int64_t, Weightless> m_bytes = 0;
    struct Uncounted
    { };
    [[no_unique_address]] std::conditional_t<Accounting::reasons != 0, Counts, Uncounted> m_dropped{};
    [[no_unique_address]] std::conditional_t<Accounting::reasons != 0, Counts, Uncounted> m_unreported{};
    bool m_latest = false;    // Delivery::Latest (the policy in a byte each: the enums are int-sized)
    bool m_dropOldest = true; // Overflow::DropOldest (Block and DropNewest drop the new entry here)
    bool m_retainedFirst = false;
};

} // namespace rio::detail
