#pragma once

#include <registryio/handler_guard.h>
#include <registryio/handler_id.h>
#include <registryio/registry.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <utility>

namespace rio {

namespace detail {
/// Test-only: called by EventFlags::broadcast() with the event id between deciding that a pending
/// id has listeners and notifying them (nullptr: none). Not part of the public API.
void setEventFlagsTestHook(void (*hook)(int id)) noexcept;
} // namespace detail

/// Record-and-broadcast flags: a fixed set of event ids 0..size()-1, each with a pending flag and
/// its own Registry of listeners. record() is async-signal-safe; broadcast() runs the listeners
/// of every pending id once, however often it was recorded. Listeners receive the event id
/// (`void(EventFlags::EventId)`, or no arguments).
class EventFlags
{
public:
    /// The type of an event id; listeners receive it as `const EventId&`.
    using EventId = int;
    /// The registry type holding one id's listeners.
    using Listeners = Registry<EventId>;

    /// Flags for ids 0..count-1, none pending. Throws std::invalid_argument for count < 0.
    explicit EventFlags(int count);
    /// Destroys every listener. No broadcast, record or listener call may still be running.
    ~EventFlags();
    EventFlags(const EventFlags &) = delete;
    EventFlags &operator=(const EventFlags &) = delete;

    /// Number of event ids.
    [[nodiscard]] int size() const noexcept { return m_count; }
    /// True when `id` is one of this object's ids.
    [[nodiscard]] bool contains(EventId id) const noexcept { return id >= 0 && id < m_count; }

    /// Marks `id` pending: one lock-free atomic store, no allocation, no lock, no thread_local, so
    /// it is async-signal-safe. An unknown id does nothing.
    void record(EventId id) noexcept
    {
        if (contains(id))
            m_slots[static_cast<std::size_t>(id)].pending.store(true, std::memory_order_release);
    }

    /// True while `id` is recorded and not yet broadcast (false for unknown ids).
    [[nodiscard]] bool isPending(EventId id) const noexcept;

    /// Takes every pending flag (exchange) and notifies that id's listeners once, with the id, on
    /// the calling thread, in id order. A pending id without listeners is consumed. Returns true
    /// when at least one pending id had a listener.
    bool broadcast() noexcept;

    /// The listeners of `id`: the full Registry API (addOnce, removeAndWait, exception handler...).
    /// Throws std::invalid_argument for an unknown id.
    [[nodiscard]] Listeners &listeners(EventId id);
    /// The listeners of `id`. Throws std::invalid_argument for an unknown id.
    [[nodiscard]] const Listeners &listeners(EventId id) const;

    /// Adds a listener for `id` (higher priority first). Throws std::invalid_argument for an
    /// unknown id or an empty callable. A listener added after record() but before broadcast()
    /// receives that event.
    template <HandlerFor<EventId> F>
    HandlerId add(EventId id, F &&handler, int priority = 0)
    {
        return listeners(id).add(std::forward<F>(handler), priority);
    }

    /// As add(), for a listener that runs at most once.
    template <HandlerFor<EventId> F>
    HandlerId addOnce(EventId id, F &&handler, int priority = 0)
    {
        return listeners(id).addOnce(std::forward<F>(handler), priority);
    }

    /// As add(); the returned guard removes the listener when destroyed.
    template <HandlerFor<EventId> F>
    [[nodiscard]] HandlerGuard addScoped(EventId id, F &&handler, int priority = 0)
    {
        return listeners(id).addScoped(std::forward<F>(handler), priority);
    }

    /// Removes listener `handler` of `id`: true the first time; false for unknown ids.
    bool remove(EventId id, HandlerId handler);

    /// Number of listeners of `id` (0 for unknown ids).
    [[nodiscard]] std::size_t listenerCount(EventId id) const noexcept;

    /// Sets the exception callback of every id's registry (see Registry::setExceptionHandler).
    template <typename F>
    void setExceptionHandler(const F &callback)
    {
        for (int i = 0; i < m_count; ++i)
            m_slots[static_cast<std::size_t>(i)].listeners.setExceptionHandler(callback);
    }

private:
    struct Slot
    {
        std::atomic<bool> pending{false};
        Listeners listeners;
    };
    static_assert(std::atomic<bool>::is_always_lock_free,
                  "rio::EventFlags::record must be a lock-free store to be async-signal-safe");

    int m_count;
    std::unique_ptr<Slot[]> m_slots;
};

} // namespace rio
