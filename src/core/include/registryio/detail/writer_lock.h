// SPDX-License-Identifier: MIT
#pragma once

// The lock every writer of one registry takes: one compare-and-swap to lock and one exchange to
// unlock when nobody waits, against the several dozen instructions of a std::mutex round trip
// (glibc's pthread_mutex_lock checks the mutex's type, robustness and elision on every call).
// The three-state word is the futex mutex of Ulrich Drepper's "Futexes Are Tricky" (2011):
// 0 free, 1 held, 2 held with sleepers. Contended lockers sleep at once, on the word's address:
// a futex on Linux, WaitOnAddress on Windows (Windows 8 or later), libc++'s std::atomic::wait
// elsewhere (libstdc++'s can miss wake-ups without a futex: there lockers poll). Each keeps its
// sleepers in a table of the system's or the C++ library's, never in memory of the lock's own:
// an unlock may wake a sleeper after another thread took the lock and freed it (the last guard
// of a destroyed registry frees its state that way), and the wake then touches nothing freed,
// which a mutex and condition variable beside the word would. No user code ever runs under it.

#include <registryio/detail/config.h>

#include <atomic>
#include <cstdint>

namespace rio::detail {

/// A registry's writer lock (BasicLockable, so std::unique_lock and
/// the waits of the reclamation take it).
class RIO_CORE_EXPORT WriterLock
{
public:
    WriterLock() noexcept = default;
    WriterLock(const WriterLock &) = delete;
    WriterLock &operator=(const WriterLock &) = delete;
    ~WriterLock() = default;

    /// Takes the lock, sleeping while another thread holds it for long.
    void lock() noexcept
    {
        std::uint32_t expected = 0;
        if (!m_word.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                            std::memory_order_relaxed))
            lockContended();
    }
    /// Takes the lock if it is free.
    bool try_lock() noexcept // NOLINT(readability-identifier-naming): the standard's name
    {
        std::uint32_t expected = 0;
        return m_word.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                              std::memory_order_relaxed);
    }
    /// Releases the lock, waking one sleeper if there is one.
    void unlock() noexcept
    {
        if (m_word.exchange(0, std::memory_order_release) == 2)
            wake();
    }
    /// In a child process after fork(), where the forking thread held the lock (lockForFork):
    /// the lock is free again, and sleepers of the parent, which do not exist here, are forgotten.
    void resetInChild() noexcept { m_word.store(0, std::memory_order_relaxed); }

private:
    void lockContended() noexcept;
    void wake() noexcept;

    std::atomic<std::uint32_t> m_word{0};
};

} // namespace rio::detail
