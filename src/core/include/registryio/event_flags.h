// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/core_export.h>
#include <registryio/handler_guard.h>
#include <registryio/handler_id.h>
#include <registryio/registry.h>
#include <registryio/source_location.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace rio {

namespace detail {
/// Counts, per thread, the listener calls that broadcast() compares around each notify.
RIO_CORE_EXPORT void noteEventFlagsListenerCall() noexcept;

// What EventFlags::Listeners stores: the listener, counted when it runs.
template <typename F>
struct CountedListener
{
    F fn;
    void operator()(const int &id)
    {
        noteEventFlagsListenerCall();
        if constexpr (std::is_invocable_v<F &, const int &>)
            std::invoke(fn, id);
        else
            std::invoke(fn);
    }
};
} // namespace detail

/// Record-and-broadcast flags: a fixed set of event ids 0..size()-1, each with a pending flag and
/// its own Registry of listeners, which receive the id (or no arguments). record() is
/// async-signal-safe; broadcast() runs the listeners of every pending id once, however often it was
/// recorded.
class RIO_CORE_EXPORT EventFlags
{
public:
    /// The type of an event id; listeners receive it as `const EventId&`.
    using EventId = int;

    /// The listeners of one id: the Registry<EventId> API, through which every listener is
    /// counted when it runs, so broadcast() knows whether one did.
    class Listeners : private Registry<EventId>
    {
        using Base = Registry<EventId>;

    public:
        /// The event type listeners receive as `const EventId&`.
        using Event = EventId;
        /// An empty set of listeners.
        Listeners() = default;

        /// As Registry::add. Throws std::invalid_argument for an empty callable.
        template <HandlerFor<EventId> F>
        HandlerId add(F &&handler, int priority = 0, SourceLocation where = SourceLocation::current())
        {
            return Base::add(counted(std::forward<F>(handler)), priority, where);
        }
        /// As Registry::addOnce.
        template <HandlerFor<EventId> F>
        HandlerId addOnce(F &&handler, int priority = 0, SourceLocation where = SourceLocation::current())
        {
            return Base::addOnce(counted(std::forward<F>(handler)), priority, where);
        }
        /// As Registry::addScoped.
        template <HandlerFor<EventId> F>
        [[nodiscard]] HandlerGuard addScoped(F &&handler, int priority = 0,
                                             SourceLocation where = SourceLocation::current())
        {
            return Base::addScoped(counted(std::forward<F>(handler)), priority, where);
        }

        using Base::capacityHint;
        using Base::clear;
        using Base::clearExceptionHandler;
        using Base::contains;
        using Base::isEmpty;
        using Base::notify;
        using Base::pendingCount;
        using Base::remove;
        using Base::removeAndWait;
        using Base::setExceptionHandler;
        using Base::size;
        using Base::synchronize;

    private:
        template <typename F>
        static detail::CountedListener<std::decay_t<F>> counted(F &&handler)
        {
            if (detail::isEmptyCallable(handler))
                throw std::invalid_argument("rio::EventFlags: the listener is empty");
            return {std::forward<F>(handler)};
        }
    };

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

    /// Clears `id`'s pending flag without notifying: true if it was pending (false for unknown
    /// ids). One lock-free exchange, so it is async-signal-safe.
    bool take(EventId id) noexcept
    {
        return contains(id) &&
               m_slots[static_cast<std::size_t>(id)].pending.exchange(false, std::memory_order_acquire);
    }

    /// Takes every pending flag and notifies that id's listeners once, with the id, on the calling
    /// thread, in id order (a pending id without listeners is consumed). True only if at least one
    /// pending event reached a listener, even when another thread removes listeners meanwhile.
    bool broadcast() { return broadcastImpl(nullptr, nullptr); }

    /// As broadcast(); also calls `unheard(id)` for every pending id it consumed without reaching a
    /// listener, on the calling thread, after that id's notify. `unheard` must not throw.
    template <typename F>
    requires std::is_invocable_v<F &, EventId>
    bool broadcast(F &&unheard)
    {
        return broadcastImpl(
            [](void *context, EventId id) {
                std::invoke(*static_cast<std::remove_reference_t<F> *>(context), id);
            },
            &unheard);
    }

    /// The listeners of `id`: the Registry API (addOnce, removeAndWait, exception handler...).
    /// Throws std::invalid_argument for an unknown id.
    [[nodiscard]] Listeners &listeners(EventId id);
    /// The listeners of `id`. Throws std::invalid_argument for an unknown id.
    [[nodiscard]] const Listeners &listeners(EventId id) const;

    /// Adds a listener for `id` (higher priority first), which also receives an event recorded
    /// before and not yet broadcast. Throws std::invalid_argument for an unknown id or an empty
    /// callable.
    template <HandlerFor<EventId> F>
    HandlerId add(EventId id, F &&handler, int priority = 0, SourceLocation where = SourceLocation::current())
    {
        return listeners(id).add(std::forward<F>(handler), priority, where);
    }

    /// As add(), for a listener that runs at most once.
    template <HandlerFor<EventId> F>
    HandlerId addOnce(EventId id, F &&handler, int priority = 0,
                      SourceLocation where = SourceLocation::current())
    {
        return listeners(id).addOnce(std::forward<F>(handler), priority, where);
    }

    /// As add(); the returned guard removes the listener when destroyed.
    template <HandlerFor<EventId> F>
    [[nodiscard]] HandlerGuard addScoped(EventId id, F &&handler, int priority = 0,
                                         SourceLocation where = SourceLocation::current())
    {
        return listeners(id).addScoped(std::forward<F>(handler), priority, where);
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
    bool broadcastImpl(void (*unheard)(void *, EventId), void *context);

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
