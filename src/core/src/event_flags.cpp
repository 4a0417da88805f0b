// SPDX-License-Identifier: MIT
#include <registryio/event_flags.h>

#include "event_flags_testing_p.h"

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace rio {

namespace {

std::atomic<void (*)(int)> testHook{nullptr};

// Listener calls made on this thread: broadcast() compares it around each notify. Only the
// notified id's listeners (and whatever they call) run inside that notify, so a change means one
// of them ran; an empty snapshot, or spent once-listeners, leave it unchanged.
thread_local std::uint64_t listenerCalls = 0;

[[noreturn]] void throwUnknownId(int id, int count)
{
    throw std::invalid_argument("rio::EventFlags: unknown event id " + std::to_string(id) +
                                " (valid ids are 0.." + std::to_string(count - 1) + ")");
}

int checkedCount(int count)
{
    if (count < 0)
        throw std::invalid_argument("rio::EventFlags: negative event count " + std::to_string(count));
    return count;
}

} // namespace

void detail::setEventFlagsTestHook(void (*hook)(int id)) noexcept
{
    testHook.store(hook, std::memory_order_release);
}

void detail::noteEventFlagsListenerCall() noexcept
{
    ++listenerCalls;
}

EventFlags::EventFlags(int count)
    : m_count(checkedCount(count)), m_slots(std::make_unique<Slot[]>(static_cast<std::size_t>(count)))
{ }

EventFlags::~EventFlags() = default;

bool EventFlags::isPending(EventId id) const noexcept
{
    return contains(id) && m_slots[static_cast<std::size_t>(id)].pending.load(std::memory_order_acquire);
}

bool EventFlags::broadcastImpl(void (*unheard)(void *, EventId), void *context)
{
    bool reached = false;
    for (int i = 0; i < m_count; ++i) {
        Slot &slot = m_slots[static_cast<std::size_t>(i)];
        // The plain load skips the read-modify-write for the (usual) ids that are not pending.
        if (!slot.pending.load(std::memory_order_relaxed) ||
            !slot.pending.exchange(false, std::memory_order_acquire))
            continue;
        bool heard = false;
        // Empty: consumed (a listener added later does not see this event). Otherwise a listener
        // may still be removed before the notify takes its snapshot: only a call counts.
        if (!slot.listeners.isEmpty()) {
            if (auto *hook = testHook.load(std::memory_order_acquire))
                hook(i);
            const std::uint64_t before = listenerCalls;
            slot.listeners.notify(i);
            heard = listenerCalls != before;
        }
        reached = reached || heard;
        if (!heard && unheard != nullptr)
            unheard(context, i);
    }
    return reached;
}

EventFlags::Listeners &EventFlags::listeners(EventId id)
{
    if (!contains(id))
        throwUnknownId(id, m_count);
    return m_slots[static_cast<std::size_t>(id)].listeners;
}

const EventFlags::Listeners &EventFlags::listeners(EventId id) const
{
    if (!contains(id))
        throwUnknownId(id, m_count);
    return m_slots[static_cast<std::size_t>(id)].listeners;
}

bool EventFlags::remove(EventId id, HandlerId handler)
{
    return contains(id) && m_slots[static_cast<std::size_t>(id)].listeners.remove(handler);
}

std::size_t EventFlags::listenerCount(EventId id) const noexcept
{
    return contains(id) ? m_slots[static_cast<std::size_t>(id)].listeners.size() : 0;
}

} // namespace rio
