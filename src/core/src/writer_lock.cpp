// SPDX-License-Identifier: MIT
// WriterLock's contended path: sleep on the word's address until an unlock wakes one sleeper.

#include <registryio/detail/registry_core.h>
#include <registryio/detail/writer_lock.h>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#elif defined(_WIN32)
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#endif

namespace rio::detail {

void WriterLock::lockContended() noexcept
{
    // No spin first: on 2 cores the holder is often the preempted thread, and a spin of 20 polls
    // made the 4-thread churn twice as slow (benchmarks/targets_by_hand.md).
    // Whoever takes the lock from here on marks it as having sleepers (2), so that its unlock
    // wakes the next one: at worst one wake-up too many, never one too few. Each wait returns at
    // once if the word no longer holds 2; spurious returns just test again.
    std::uint32_t sleepers = 2;
    for ([[maybe_unused]] unsigned spins = 0; m_word.exchange(2, std::memory_order_acquire) != 0; ++spins) {
#if defined(__linux__)
        syscall(SYS_futex, reinterpret_cast<std::uint32_t *>(&m_word), FUTEX_WAIT_PRIVATE, sleepers, nullptr,
                nullptr, 0);
#elif defined(_WIN32)
        WaitOnAddress(&m_word, &sleepers, sizeof sleepers, INFINITE);
#elif defined(_LIBCPP_VERSION)
        m_word.wait(sleepers, std::memory_order_relaxed); // macOS: __ulock_wait on the address
#else
        // No system wait known here, and libstdc++'s std::atomic::wait without a futex can miss
        // a wake-up: poll with the waits' back-off (yields, then sleeps of 50 us and 1 ms).
        backoff(spins);
#endif
    }
}

void WriterLock::wake() noexcept
{
    // The word is already free, and the lock may already be another thread's, or freed: only the
    // address is used.
#if defined(__linux__)
    syscall(SYS_futex, reinterpret_cast<std::uint32_t *>(&m_word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr,
            0);
#elif defined(_WIN32)
    WakeByAddressSingle(&m_word);
#elif defined(_LIBCPP_VERSION)
    m_word.notify_one();
#endif
}

} // namespace rio::detail
