// SPDX-License-Identifier: MIT
#pragma once

// The lock every writer of one registry takes: one compare-and-swap to lock and one exchange to
// unlock when nobody waits, against the several dozen instructions of a std::mutex round trip
// (glibc's pthread_mutex_lock checks the mutex's type, robustness and elision on every call).
// The three-state word is the futex mutex of Ulrich Drepper's "Futexes Are Tricky" (2011):
// 0 free, 1 held, 2 held with sleepers. Contended lockers sleep at once: on a futex
// on Linux, elsewhere on a condition variable (no system futex to rely on, and MinGW-w64's
// std::atomic::wait can miss wake-ups). No user code ever runs under it.

#include <registryio/detail/config.h>

#include <atomic>
#include <cstdint>

#if !defined(__linux__)
#include <condition_variable>
#include <mutex>
#endif

namespace rio::detail {

/// A registry's writer lock (BasicLockable, so std::unique_lock and
/// std::condition_variable_any take it).
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
    void resetInChild() noexcept;
    /// Before fork(), with the lock held: no thread of the parent holds the sleepers' own state
    /// when the child is made (paired with resetInChild or unlockAfterForkInParent).
    void prepareFork() noexcept;
    /// In the parent after fork(): undoes prepareFork (the lock stays held).
    void unlockAfterForkInParent() noexcept;

private:
    void lockContended() noexcept;
    void wake() noexcept;

    std::atomic<std::uint32_t> m_word{0};
#if !defined(__linux__)
    std::mutex m_sleepMutex;
    std::condition_variable m_sleepers;
#endif
};

} // namespace rio::detail
