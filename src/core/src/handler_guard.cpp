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
    void *target = nullptr;
    {
        std::lock_guard lock(mutex);
        if (registry == nullptr || fn == nullptr)
            return false;
        target = registry;
        ++busy;
    }
    const bool result = fn(target, id);
    std::lock_guard lock(mutex);
    if (--busy == 0)
        idle.notify_all();
    return result;
}

bool RegistryLink::remove(HandlerId id) noexcept
{
    return call(removeFn, id);
}

bool RegistryLink::contains(HandlerId id) noexcept
{
    // Without `mutex` too: the registry's own lock is taken inside, and fork takes the two the
    // other way round.
    return call(containsFn, id);
}

void RegistryLink::detach() noexcept
{
    std::unique_lock lock(mutex);
    registry = nullptr;
    idle.wait(lock, [this] { return busy == 0; });
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
