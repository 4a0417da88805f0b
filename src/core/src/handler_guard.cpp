#include <registryio/detail/registry_link.h>
#include <registryio/handler_guard.h>

#include <utility>

namespace rio {

namespace detail {

bool RegistryLink::remove(HandlerId id) noexcept
{
    void *target = nullptr;
    {
        std::lock_guard lock(mutex);
        if (registry == nullptr)
            return false;
        target = registry;
        ++busy;
    }
    const bool removed = removeFn(target, id);
    std::lock_guard lock(mutex);
    if (--busy == 0)
        idle.notify_all();
    return removed;
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
