// SPDX-License-Identifier: MIT
// Pattern: metric events. Hot code on several threads emits measurements; collectors aggregate
// them lock-free, and an exporter attaches for a while and detaches, without the producers
// knowing or waiting.
#include <registryio/registry.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string_view>
#include <thread>
#include <vector>

struct Metric
{
    std::string_view name; // notify is synchronous: a view into the caller's string is enough
    std::int64_t value;
};

//! [aggregate]
struct Aggregate
{
    std::atomic<std::int64_t> count{0};
    //! [aggregate]
    std::atomic<std::int64_t> sum{0};
    std::atomic<std::int64_t> max{0};

    void add(std::int64_t v)
    {
        count.fetch_add(1, std::memory_order_relaxed);
        sum.fetch_add(v, std::memory_order_relaxed);
        std::int64_t seen = max.load(std::memory_order_relaxed);
        while (v > seen && !max.compare_exchange_weak(seen, v, std::memory_order_relaxed)) {
        }
    }
};

// Simulated request handling on `threads` threads: latencies 1..1000 ms each.
static void serveRequests(const rio::Registry<Metric> &metrics, int threads)
{
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&metrics] {
            for (std::int64_t ms = 1; ms <= 1000; ++ms)
                metrics.notify({"request.latency_ms", ms});
        });
    for (auto &w : workers)
        w.join();
}

int main()
{
    rio::Registry<Metric> metrics;

    Aggregate latency;
    metrics.add([&latency](const Metric &m) {
        if (m.name == "request.latency_ms")
            latency.add(m.value);
    });
    std::atomic<int> slow{0};
    metrics.add([&slow](const Metric &m) {
        if (m.name == "request.latency_ms" && m.value >= 990)
            slow.fetch_add(1, std::memory_order_relaxed);
    });

    //! [exporter]
    std::atomic<int> exported{0};
    {
        // An exporter attached only while, say, a monitoring client is connected.
        rio::HandlerGuard exporter = metrics.addScoped(
            [&exported](const Metric &) { exported.fetch_add(1, std::memory_order_relaxed); });
        serveRequests(metrics, 4);
    }
    //! [exporter]
    const int whileAttached = exported.load();
    serveRequests(metrics, 4);

    std::printf("latency: count=%lld sum=%lld max=%lld\n", static_cast<long long>(latency.count.load()),
                static_cast<long long>(latency.sum.load()), static_cast<long long>(latency.max.load()));
    std::printf("slow requests alerted: %d\n", slow.load());
    std::printf("exporter saw %d while attached, %d after\n", whileAttached, exported.load() - whileAttached);

    const bool ok =
        latency.count.load() == 8000 && slow.load() == 88 && whileAttached == 4000 && exported.load() == 4000;
    std::printf("metric-events: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
