// SPDX-License-Identifier: MIT
// The registry's writer lock on its own: mutual exclusion, and no lost wake-up, with more
// threads than cores contending (each locker that finds it held sleeps at once).
#include "rio_check.h"
#include "rio_test_support.h"
#include <registryio/detail/writer_lock.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

RIO_TEST(writerLockExcludesAndWakesEveryWaiter)
{
    rio::detail::WriterLock lock;
    constexpr int threadCount = 8;
    constexpr int rounds = 20000;
    long counter = 0; // plain: only ever changed under the lock (ThreadSanitizer checks it)
    int inside = 0;
    bool overlapped = false;
    rio::check::Latch start(threadCount);
    std::vector<std::thread> threads;
    for (int t = 0; t < threadCount; ++t) {
        threads.emplace_back([&] {
            start.arrive_and_wait();
            for (int i = 0; i < rounds; ++i) {
                std::lock_guard guard(lock);
                ++inside;
                overlapped = overlapped || inside != 1;
                ++counter;
                --inside;
            }
        });
    }
    for (std::thread &t : threads)
        t.join(); // a lost wake-up leaves a thread asleep here (the case's watchdog fails it)
    CHECK(!overlapped);
    CHECK_EQ(counter, long{threadCount} * rounds);
    CHECK(lock.try_lock());
    CHECK(!lock.try_lock());
    lock.unlock();
}

// A thread that holds the lock for long makes the others sleep (not spin): they all get it
// afterwards, each once, in some order.
RIO_TEST(writerLockSleepersAllWakeAfterALongHold)
{
    rio::detail::WriterLock lock;
    constexpr int sleepers = 6;
    int got = 0;
    lock.lock();
    rio::check::Latch started(sleepers);
    std::vector<std::thread> threads;
    for (int t = 0; t < sleepers; ++t) {
        threads.emplace_back([&] {
            started.count_down();
            std::lock_guard guard(lock);
            ++got;
        });
    }
    started.wait(); // every sleeper is about to lock (or asleep in it)
    std::this_thread::yield();
    CHECK_EQ(got, 0); // nobody got past the held lock
    lock.unlock();
    for (std::thread &t : threads)
        t.join();
    std::lock_guard guard(lock);
    CHECK_EQ(got, sleepers);
}

// The thread that takes the lock from an unlocker may free it at once (the last guard of a
// destroyed registry frees the registry's state so): the unlocker's wake-up, still running, must
// touch nothing of the lock's memory. Here the next holder destroys the lock and overwrites its
// bytes, under AddressSanitizer frees them, while the unlocker may still be waking it.
RIO_TEST(writerLockFreedByItsNextHolderWhileItsUnlockWakes)
{
    const int rounds = rio::test::scaled(20000, 10);
    std::atomic<rio::detail::WriterLock *> shared{nullptr};
    std::atomic<int> phase{0}; // 1: the next holder is about to lock; 2: it freed the lock
    std::atomic<bool> stop{false};
    std::thread nextHolder([&] {
        for (;;) {
            rio::detail::WriterLock *lock = nullptr;
            while ((lock = shared.exchange(nullptr)) == nullptr) {
                if (stop.load())
                    return;
                std::this_thread::yield();
            }
            phase.store(1);
            lock->lock(); // sleeps: the main thread holds it
            lock->unlock();
            lock->~WriterLock();
            std::memset(static_cast<void *>(lock), 0xA5, sizeof *lock);
            ::operator delete(lock);
            phase.store(2);
        }
    });
    for (int r = 0; r < rounds; ++r) {
        auto *lock = new (::operator new(sizeof(rio::detail::WriterLock))) rio::detail::WriterLock;
        lock->lock();
        phase.store(0);
        shared.store(lock);
        while (phase.load() == 0)
            std::this_thread::yield();
        std::this_thread::yield(); // mostly the next holder is asleep in lock() by now
        lock->unlock();
        while (phase.load() != 2)
            std::this_thread::yield();
    }
    stop.store(true);
    nextHolder.join();
    rio::check::note(rounds, " locks freed by their next holder"); // the property: no crash
}
