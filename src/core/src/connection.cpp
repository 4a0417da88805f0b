// SPDX-License-Identifier: MIT
#include <registryio/connection.h>
#include <registryio/detail/registry_link.h>

#include <utility>

namespace rio {

Connection::Connection(std::shared_ptr<detail::RegistryLink> link, HandlerId id) noexcept
    : m_link(id.isValid() ? std::move(link) : nullptr), m_id(m_link ? id : HandlerId{})
{ }

bool Connection::isConnected() const noexcept
{
    return m_link && m_link->contains(m_id);
}

bool Connection::disconnect() const noexcept
{
    return m_link && m_link->remove(m_id);
}

} // namespace rio
