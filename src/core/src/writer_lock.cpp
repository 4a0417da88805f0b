// SPDX-License-Identifier: MIT
// WriterLock's contended path: sleep until an unlock wakes one sleeper.

#include <registryio/detail/writer_lock.h>

#include <new>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace rio::detail {

namespace {

#if defined(__linux__)
void futexWait(std::atomic<std::uint32_t> &word, std::uint32_t value) noexcept
{
    // Returns at once if the word no longer holds `value`; spurious returns just test again.
    syscall(SYS_futex, reinterpret_cast<std::uint32_t *>(&word), FUTEX_WAIT_PRIVATE, value, nullptr, nullptr,
            0);
}

void futexWakeOne(std::atomic<std::uint32_t> &word) noexcept
{
    syscall(SYS_futex, reinterpret_cast<std::uint32_t *>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}
#endif

} // namespace

void WriterLock::lockContended() noexcept
{
    // No spin first: on 2 cores the holder is often the preempted thread, and a spin of 20 polls
    // made the 4-thread churn twice as slow (benchmarks/targets_by_hand.md).
    // Whoever takes the lock from here on marks it as having sleepers (2), so that its unlock
    // wakes the next one: at worst one wake-up too many, never one too few.
    while (m_word.exchange(2, std::memory_order_acquire) != 0) {
#if defined(__linux__)
        futexWait(m_word, 2);
#else
        std::unique_lock sleep(m_sleepMutex);
        m_sleepers.wait(sleep, [this] { return m_word.load(std::memory_order_relaxed) != 2; });
#endif
    }
}

void WriterLock::wake() noexcept
{
#if defined(__linux__)
    futexWakeOne(m_word);
#else
    // The word is already free: a sleeper tests it under m_sleepMutex, so taking that mutex
    // here orders this wake-up after any sleeper's test.
    {
        std::lock_guard sleep(m_sleepMutex);
    }
    m_sleepers.notify_one();
#endif
}

void WriterLock::prepareFork() noexcept
{
#if !defined(__linux__)
    m_sleepMutex.lock();
#endif
}

void WriterLock::unlockAfterForkInParent() noexcept
{
#if !defined(__linux__)
    m_sleepMutex.unlock();
#endif
}

void WriterLock::resetInChild() noexcept
{
#if !defined(__linux__)
    // The parent's sleepers do not exist here; the condition variable may still count them.
    // NOLINTNEXTLINE(cppcoreguidelines-owning-memory): re-made in place, never freed apart
    new (&m_sleepers) std::condition_variable;
    m_sleepMutex.unlock();
#endif
    m_word.store(0, std::memory_order_relaxed);
}

} // namespace rio::detail
