// SPDX-License-Identifier: MIT
// The registry's writer lock on its own: mutual exclusion, and no lost wake-up, with more
// threads than cores contending (each locker that finds it held sleeps at once).
#include "rio_check.h"
#include <registryio/detail/writer_lock.h>

#include <mutex>
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
