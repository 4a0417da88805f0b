// SPDX-License-Identifier: MIT
// Concurrent notify: many threads notify at once, lock-free, while another thread adds and
// removes handlers. Each notify sees the handler set as it was when it began.
#include <registryio/registry.h>

#include <atomic>
#include <cstdio>
#include <latch>
#include <thread>
#include <vector>

int main()
{
    constexpr int threads = 4;
    constexpr int perThread = 10000;

    rio::Registry<int> registry;
    std::atomic<int> counted{0};
    registry.add([&counted](const int &) { counted.fetch_add(1, std::memory_order_relaxed); });

    std::latch start(threads + 1);
    std::vector<std::thread> notifiers;
    for (int t = 0; t < threads; ++t)
        notifiers.emplace_back([&] {
            start.arrive_and_wait();
            for (int i = 0; i < perThread; ++i)
                registry.notify(i);
        });

    // Meanwhile, on this thread: handlers come and go. Writers never block the notifiers, and a
    // notify never sees half an update.
    constexpr int churned = 2000;
    start.arrive_and_wait();
    for (int i = 0; i < churned; ++i) {
        const rio::HandlerId id = registry.add([](const int &) { });
        registry.remove(id);
    }
    for (auto &t : notifiers)
        t.join();

    std::printf("notifies=%d counted=%d churned handlers=%d size=%zu\n", threads * perThread, counted.load(),
                churned, registry.size());
    const bool ok = counted.load() == threads * perThread && registry.size() == 1;
    std::printf("concurrent-notify: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
