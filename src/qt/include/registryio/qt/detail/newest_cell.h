// SPDX-License-Identifier: MIT
#pragma once

// The one newest-value cell of Delivery::Latest (small events), LatestValue and LatestModel's keys.

#include <registryio/detail/config.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace rio::detail {

// The steps of a write a test may stop a writer after (CellPause); Found: a LatestModel writer's.
enum class CellStep : std::uint8_t { Found, Held, FirstWord, SecondWord, Released };

struct NewestCell;

// What a write of an event of type E does after each step: nothing. A test specializes it.
template <typename E>
struct CellPause
{
    static void at(const NewestCell &, CellStep) noexcept { }
};

// The newest event of up to 16 bytes, written by any thread with no lock nor allocation, read by
// one reader that never waits for a writer (docs/ARCHITECTURE.md, "The newest-value cell"): a
// seqlock (`seq` odd while a writer stores, +2 per write, 64 bits: never back to a count a reader
// saw; a writer that meets another leaves the cell to it); the first write since the reader's
// take() sets `owed` and wakes the reader; a read that meets a writer gives up at once, and that
// writer, whose owe() follows the take() in `owed`'s order, wakes the reader again.
struct NewestCell
{
    static constexpr std::size_t size = 16;

    std::atomic<std::uint64_t> seq{0};
    std::atomic<bool> owed{false};
    std::atomic<std::uint64_t> words[2] = {};

    // Stores `event` unless the count moved from `from` (even, read before whatever chose this
    // cell): false, nothing written, when another writer holds the cell or wrote since.
    template <typename E>
    RIO_ALWAYS_INLINE bool write(std::uint64_t from, const E &event) noexcept
    {
        static_assert(std::is_trivially_copyable_v<E> && sizeof(E) <= size && alignof(E) <= 8);
        return store<CellPause<E>>(from, &event, sizeof(E));
    }
    bool write(std::uint64_t from, const void *event, std::size_t n) noexcept
    {
        return store<CellPause<void>>(from, event, n);
    }
    // True when the reader is owed no wake-up since its take(): the caller wakes it (or take()s).
    RIO_ALWAYS_INLINE bool owe() noexcept { return !owed.exchange(true, std::memory_order_acq_rel); }
    void take() noexcept { owed.exchange(false, std::memory_order_acq_rel); }
    // Reads the event and its count (and `also()`, a LatestModel cell's key): false, `out`
    // unchanged, when a writer stores meanwhile.
    template <typename Also>
    bool read(unsigned char (&out)[size], std::uint64_t &at, Also &&also) const noexcept
    {
        const std::uint64_t before = seq.load(std::memory_order_acquire);
        const std::uint64_t bytes[2] = {words[0].load(std::memory_order_relaxed),
                                        words[1].load(std::memory_order_relaxed)};
        also();
        std::atomic_thread_fence(std::memory_order_acquire);
        if ((before & 1U) != 0 || seq.load(std::memory_order_relaxed) != before)
            return false;
        std::memcpy(out, bytes, sizeof(bytes));
        at = before;
        return true;
    }
    bool read(unsigned char (&out)[size], std::uint64_t &at) const noexcept
    {
        return read(out, at, [] { });
    }
    // Takes the count from `from` unless a writer holds it or wrote since; release() gives it back.
    RIO_ALWAYS_INLINE bool hold(std::uint64_t from) noexcept
    {
        if ((from & 1U) != 0 || !seq.compare_exchange_strong(from, from + 1, std::memory_order_acquire,
                                                             std::memory_order_relaxed))
            return false;
        std::atomic_thread_fence(std::memory_order_release);
        return true;
    }
    void release(std::uint64_t from) noexcept { seq.store(from + 2, std::memory_order_release); }

private:
    template <typename Pause>
    RIO_ALWAYS_INLINE bool store(std::uint64_t from, const void *event, std::size_t n) noexcept
    {
        if (!hold(from))
            return false;
        Pause::at(*this, CellStep::Held);
        std::uint64_t bytes[2] = {};
        std::memcpy(bytes, event, n);
        words[0].store(bytes[0], std::memory_order_relaxed);
        Pause::at(*this, CellStep::FirstWord);
        words[1].store(bytes[1], std::memory_order_relaxed);
        Pause::at(*this, CellStep::SecondWord);
        release(from);
        Pause::at(*this, CellStep::Released);
        return true;
    }
};

} // namespace rio::detail
