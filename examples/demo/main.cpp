// SPDX-License-Identifier: MIT
// The core in one page: handlers with priorities, a guard, a once-handler, a throwing handler
// that is isolated and reported, and notifies from several threads at once.
#include <registryio/registry.h>

#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

struct OrderPlaced
{
    int orderId;
    double amount;
};

int main()
{
    rio::Registry<OrderPlaced> orders;
    orders.setExceptionHandler([](const rio::ExceptionInfo &info) {
        std::printf("handler %llu failed: %s\n", static_cast<unsigned long long>(info.handlerId.value()),
                    info.message.c_str());
    });

    std::atomic<int> audited{0};
    orders.add(
        [](const OrderPlaced &o) {
            if (o.orderId < 1000)
                std::printf("[validate, priority 100] order %d\n", o.orderId);
        },
        100);
    orders.add([&audited](const OrderPlaced &) { audited.fetch_add(1, std::memory_order_relaxed); });
    orders.addOnce([](const OrderPlaced &o) { std::printf("[first order only] order %d\n", o.orderId); });
    orders.add([](const OrderPlaced &o) {
        if (o.amount < 0)
            throw std::invalid_argument("negative amount");
    });
    {
        rio::HandlerGuard guard = orders.addScoped([](const OrderPlaced &o) {
            std::printf("[scoped] order %d (only while the guard lives)\n", o.orderId);
        });
        orders.notify({1, 10.0});
    }
    orders.notify({2, -5.0});
    orders.notify({3, 7.5});
    std::printf("audit saw %d events, 1 failure reported\n", audited.load());

    // Many threads may notify at once; no lock is taken on this path. Their orders are numbered
    // from 1000, which the validating handler above leaves unprinted.
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&orders, t] {
            for (int i = 0; i < 1000; ++i)
                orders.notify({1000 * (t + 1) + i, 1.0});
        });
    for (auto &t : threads)
        t.join();
    std::printf("after 4 threads x 1000 notifies: audit saw %d events, %zu handlers registered\n",
                audited.load(), orders.size());
    return 0;
}
