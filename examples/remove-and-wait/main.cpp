// SPDX-License-Identifier: MIT
// removeAndWait: destroy an object whose handler may be running on another thread right now.
// remove() alone (like QObject::disconnect) stops future calls but not one already running;
// removeAndWait() also waits for that one to finish, so the destructor can safely proceed.
#include <registryio/registry.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <thread>

// What the example checks, kept outside the object so it can be read after the object died.
struct Probe
{
    std::atomic<bool> objectAlive{true};
    std::atomic<int> calls{0};
    std::atomic<int> callsAfterDestruction{0};
};

class Dashboard
{
public:
    Dashboard(rio::Registry<double> &readings, Probe &probe) : m_readings(readings), m_probe(probe)
    {
        m_id = readings.add([this](const double &value) { onReading(value); });
    }
    ~Dashboard()
    {
        m_readings.removeAndWait(m_id); // after this, onReading runs on no thread
        m_probe.objectAlive.store(false);
    }

private:
    void onReading(double value)
    {
        if (!m_probe.objectAlive.load())
            m_probe.callsAfterDestruction.fetch_add(1);
        m_last = value;
        if (m_probe.calls.fetch_add(1) == 0)
            m_probe.calls.notify_all();
    }

    rio::Registry<double> &m_readings;
    Probe &m_probe;
    rio::HandlerId m_id;
    double m_last = 0;
};

int main()
{
    rio::Registry<double> readings;
    Probe probe;
    std::atomic<bool> stop{false};
    std::atomic<long> notifies{0};
    auto dashboard = std::make_unique<Dashboard>(readings, probe);

    std::thread worker([&] {
        for (double v = 0; !stop.load(); v += 1) {
            readings.notify(v);
            notifies.fetch_add(1);
        }
    });

    probe.calls.wait(0); // the handler is being called on the worker thread
    dashboard.reset();   // destroy it mid-stream
    const long mark = notifies.load();
    while (notifies.load() < mark + 10000) // let the worker keep notifying for a while
        std::this_thread::yield();
    stop.store(true);
    worker.join();

    std::printf("dashboard destroyed while a worker kept notifying\n");
    std::printf("calls after destruction: %d\n", probe.callsAfterDestruction.load());
    const bool ok = probe.callsAfterDestruction.load() == 0 && readings.isEmpty();
    std::printf("remove-and-wait: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
