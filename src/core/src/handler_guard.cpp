// SPDX-License-Identifier: MIT
#include <registryio/detail/registry_link.h>
#include <registryio/handler_guard.h>

#include <utility>

namespace rio {

namespace detail {

bool RegistryLink::call(bool (*fn)(void *, HandlerId) noexcept, HandlerId id) noexcept
{
    if (!id.isValid())
        return false;
    // Sequentially consistent: either detach() sees this call counted, or the call sees the
    // registry cleared; and either the last call out sees `detaching`, or detach() sees zero.
    busy.fetch_add(1, std::memory_order_seq_cst);
    void *target = registry.load(std::memory_order_seq_cst);
    const bool result = target != nullptr && fn != nullptr && fn(target, id);
    if (busy.fetch_sub(1, std::memory_order_seq_cst) == 1 && detaching.load(std::memory_order_seq_cst)) {
        std::lock_guard lock(mutex);
        idle.notify_all();
    }
    return result;
}

bool RegistryLink::remove(HandlerId id) noexcept
{
    return call(removeFn, id);
}

bool RegistryLink::contains(HandlerId id) noexcept
{
    return call(containsFn, id);
}

void RegistryLink::detach() noexcept
{
    registry.store(nullptr, std::memory_order_seq_cst);
    detaching.store(true, std::memory_order_seq_cst);
    std::unique_lock lock(mutex);
    idle.wait(lock, [this] { return busy.load(std::memory_order_seq_cst) == 0; });
}

} // namespace detail

HandlerGuard::HandlerGuard(std::shared_ptr<detail::RegistryLink> link, HandlerId id) noexcept
    : m_link(std::move(link)), m_id(id)
{ }

HandlerGuard::~HandlerGuard()
{
    reset();
}

HandlerGuard::HandlerGuard(HandlerGuard &&other) noexcept
    : m_link(std::move(other.m_link)), m_id(std::exchange(other.m_id, HandlerId{}))
{ }

HandlerGuard &HandlerGuard::operator=(HandlerGuard &&other) noexcept
{
    if (this != &other) {
        reset();
        m_link = std::move(other.m_link);
        m_id = std::exchange(other.m_id, HandlerId{});
    }
    return *this;
}

HandlerId HandlerGuard::release() noexcept
{
    m_link.reset();
    return std::exchange(m_id, HandlerId{});
}

bool HandlerGuard::reset() noexcept
{
    const HandlerId id = std::exchange(m_id, HandlerId{});
    auto link = std::move(m_link);
    return id.isValid() && link && link->remove(id);
}

} // namespace rio
