// SPDX-License-Identifier: MIT
#include <registryio/detail/registry_core.h>
#include <registryio/detail/registry_link.h>
#include <registryio/handler_guard.h>

#include <cstdint>
#include <utility>

namespace rio {

namespace detail {

namespace {
// The core's own form of the Qt layer's OwnerAnchor (the same per-thread frame list): the core
// links no Qt library, and its guards' drops stay two atomic operations and a thread_local.
// This thread's link calls under way, innermost first. Each lives on this thread's stack for the
// length of its call, so no entry outlives its use and no address in it is reused while listed.
struct LinkCall
{
    const RegistryLink *link;
    LinkCall *next;
};
// Initial-exec, as hazard::threadSlot: the library already takes static TLS, and a guard's drop
// then reads this without a __tls_get_addr call.
RIO_TLS_INITIAL_EXEC thread_local constinit LinkCall *t_linkCalls = nullptr;
} // namespace

bool RegistryLink::call(bool (*fn)(void *, HandlerId) noexcept,
                        bool (*hinted)(void *, HandlerId, std::uint32_t) noexcept, HandlerId id,
                        std::uint32_t hint) noexcept
{
    if (!id.isValid())
        return false;
    LinkCall frame{this, t_linkCalls};
    t_linkCalls = &frame;
    // Sequentially consistent: either detach() sees this call counted, or the call sees the
    // registry cleared; and either a call out sees `detaching`, or detach() sees it gone.
    busy.fetch_add(1, std::memory_order_seq_cst);
    void *target = registry.load(std::memory_order_seq_cst);
    const bool result =
        target != nullptr && (hinted != nullptr ? hinted(target, id, hint) : fn != nullptr && fn(target, id));
    // The link outlives the call (its guard or connection holds it), also when the registry was
    // destroyed from inside `fn` (a slot or closure destructor it ran).
    busy.fetch_sub(1, std::memory_order_seq_cst);
    t_linkCalls = frame.next;
    if (detaching.load(std::memory_order_seq_cst)) {
        std::lock_guard lock(mutex);
        idle.notify_all();
    }
    return result;
}

bool RegistryLink::remove(HandlerId id) noexcept
{
    return call(removeFn, nullptr, id, 0);
}

bool RegistryLink::remove(HandlerId id, std::uint32_t hint) noexcept
{
    return call(removeFn, removeHintedFn, id, hint);
}

bool RegistryLink::contains(HandlerId id) noexcept
{
    return call(containsFn, nullptr, id, 0);
}

void RegistryLink::detach() noexcept
{
    registry.store(nullptr, std::memory_order_seq_cst);
    detaching.store(true, std::memory_order_seq_cst);
    // Never waits for this thread's own calls: the registry may be destroyed from a slot or a
    // closure destructor that a removal through this link runs (they find it gone afterwards).
    unsigned own = 0;
    for (const LinkCall *c = t_linkCalls; c != nullptr; c = c->next)
        own += c->link == this ? 1u : 0u;
    std::unique_lock lock(mutex);
    idle.wait(lock, [this, own] { return busy.load(std::memory_order_seq_cst) <= own; });
}

} // namespace detail

HandlerGuard::HandlerGuard(std::shared_ptr<detail::RegistryLink> link, HandlerId id) noexcept
    : m_link(std::move(link)), m_id(id)
{ }

HandlerGuard::HandlerGuard(detail::RegistryState *state, HandlerId id, std::uint32_t hint) noexcept
    : m_state(state), m_id(id), m_hint(hint)
{ }

HandlerGuard &HandlerGuard::operator=(HandlerGuard &&other) noexcept
{
    if (this != &other) {
        reset();
        m_state = std::exchange(other.m_state, nullptr);
        m_link = std::move(other.m_link);
        m_id = std::exchange(other.m_id, HandlerId{});
        m_hint = other.m_hint;
    }
    return *this;
}

HandlerId HandlerGuard::release() noexcept
{
    if (detail::RegistryState *state = std::exchange(m_state, nullptr))
        detail::RegistryCore::releaseGuard(*state);
    m_link.reset();
    return std::exchange(m_id, HandlerId{});
}

bool HandlerGuard::reset() noexcept
{
    const HandlerId id = std::exchange(m_id, HandlerId{});
    if (detail::RegistryState *state = std::exchange(m_state, nullptr))
        return detail::RegistryCore::removeByGuard(*state, id, m_hint);
    auto link = std::move(m_link);
    return id.isValid() && link && link->remove(id, m_hint);
}

} // namespace rio
