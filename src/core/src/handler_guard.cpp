// SPDX-License-Identifier: MIT
#include "registry_state.h"
#include <registryio/detail/registry_link.h>
#include <registryio/handler_guard.h>

#include <utility>

namespace rio {

HandlerGuard::HandlerGuard(std::shared_ptr<detail::RegistryLink> link, HandlerId id) noexcept
    : m_link(std::move(link)), m_id(id)
{ }

void HandlerGuard::moveAssign(HandlerGuard &other) noexcept
{
    if (this != &other) {
        // As the destructor: a link is moved only where one of the two has one.
        if (m_state != nullptr || m_link)
            reset();
        m_state = std::exchange(other.m_state, nullptr);
        if (other.m_link)
            m_link = std::move(other.m_link);
        m_id = std::exchange(other.m_id, HandlerId{});
        m_hint = other.m_hint;
    }
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
