// SPDX-License-Identifier: MIT
#pragma once

// The writer workloads the fastest thread-safe signal libraries are measured by, against a
// reference of their shape built into the same binary: a mutex around a std::vector of
// std::function, with an RAII disconnect (MutexVectorSignal). Each shape exists for RegistryIO
// (RioShapes) and for the reference (ReferenceShapes) with the same interface:
//   Signal                      the shared object (constructible with no arguments)
//   scoped(signal) -> Scoped    a scoped connection of the shared handler body
//   emit(signal, e)             one notify
// Workloads: scopedRound (n objects connect, one emit, the objects go), and the threaded churn
// (connect, emit, disconnect on one shared signal).

#include "common/handler_body.h"

#include <registryio/registry.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

namespace rio::bench {

/// The reference: what the fastest thread-safe libraries of signal-slot-benchmarks are.
class MutexVectorSignal
{
public:
    /// Disconnects on destruction (move-only; must not outlive the signal).
    class Connection
    {
    public:
        Connection() = default;
        Connection(MutexVectorSignal *signal, std::uint64_t id) : m_signal(signal), m_id(id) { }
        Connection(Connection &&other) noexcept
            : m_signal(std::exchange(other.m_signal, nullptr)), m_id(other.m_id)
        { }
        Connection &operator=(Connection &&other) noexcept
        {
            if (this != &other) {
                reset();
                m_signal = std::exchange(other.m_signal, nullptr);
                m_id = other.m_id;
            }
            return *this;
        }
        ~Connection() { reset(); }
        void reset()
        {
            if (MutexVectorSignal *s = std::exchange(m_signal, nullptr))
                s->disconnect(m_id);
        }

    private:
        MutexVectorSignal *m_signal = nullptr;
        std::uint64_t m_id = 0;
    };

    template <typename F>
    std::uint64_t connect(F &&f)
    {
        std::lock_guard lock(m_mutex);
        m_slots.emplace_back(++m_lastId, std::forward<F>(f));
        return m_lastId;
    }
    template <typename F>
    Connection connectScoped(F &&f)
    {
        return Connection(this, connect(std::forward<F>(f)));
    }
    void disconnect(std::uint64_t id)
    {
        std::lock_guard lock(m_mutex);
        const auto it =
            std::find_if(m_slots.begin(), m_slots.end(), [id](const auto &s) { return s.first == id; });
        if (it != m_slots.end())
            m_slots.erase(it);
    }
    void emit(const Event &e)
    {
        std::lock_guard lock(m_mutex);
        for (auto &slot : m_slots)
            slot.second(e);
    }

private:
    std::mutex m_mutex;
    std::vector<std::pair<std::uint64_t, std::function<void(const Event &)>>> m_slots;
    std::uint64_t m_lastId = 0;
};

struct RioShapes
{
    static constexpr std::string_view key = "rio";
    using Signal = rio::Registry<Event>;
    using Scoped = rio::HandlerGuard;
    static Scoped scoped(Signal &s)
    {
        return s.addScoped([](const Event &) noexcept { handlerBody(); });
    }
    static void emit(Signal &s, const Event &e) { s.notify(e); }
};

struct ReferenceShapes
{
    static constexpr std::string_view key = "mutex_vector";
    using Signal = MutexVectorSignal;
    using Scoped = MutexVectorSignal::Connection;
    static Scoped scoped(Signal &s)
    {
        return s.connectScoped([](const Event &) noexcept { handlerBody(); });
    }
    static void emit(Signal &s, const Event &e) { s.emit(e); }
};

/// One round of the harness's shape: `n` objects each take a scoped connection, one emit (unless
/// `emit` is false), the objects are destroyed. `objects` is scratch space reused between rounds.
template <typename Shapes>
void scopedRound(typename Shapes::Signal &signal, int n, std::vector<typename Shapes::Scoped> &objects,
                 bool emit = true)
{
    for (int i = 0; i < n; ++i)
        objects.push_back(Shapes::scoped(signal));
    if (emit)
        Shapes::emit(signal, Event{n});
    objects.clear();
}

/// One step of the threaded churn: connect, emit, disconnect.
template <typename Shapes>
void churnStep(typename Shapes::Signal &signal)
{
    auto scoped = Shapes::scoped(signal);
    Shapes::emit(signal, Event{1});
}

} // namespace rio::bench
