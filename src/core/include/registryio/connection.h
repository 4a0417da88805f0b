// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/core_export.h>
#include <registryio/handler_id.h>

#include <memory>

namespace rio {

namespace detail {
struct RegistryLink;
}

/// A copyable handle to one registered handler, like QMetaObject::Connection: it does not own
/// the handler (destroying it removes nothing), and it is safe to use once its registry died.
class RIO_CORE_EXPORT Connection
{
public:
    /// An empty handle: connected to nothing.
    Connection() noexcept = default;
    /// Used by Registry::connection and QtRegistry::connection.
    Connection(std::shared_ptr<detail::RegistryLink> link, HandlerId id) noexcept;

    /// The handler's id; invalid for an empty handle.
    [[nodiscard]] HandlerId id() const noexcept { return m_id; }
    /// True while the handler is registered in a registry that still lives.
    [[nodiscard]] bool isConnected() const noexcept;
    /// Removes the handler: true if this call removed it (false if empty, gone, or its registry died).
    bool disconnect() const noexcept; // NOLINT(modernize-use-nodiscard): like QObject::disconnect
    /// True when both handles refer to the same handler of the same registry (or both are empty).
    friend bool operator==(const Connection &a, const Connection &b) noexcept
    {
        return a.m_link == b.m_link && a.m_id == b.m_id;
    }

private:
    std::shared_ptr<detail::RegistryLink> m_link;
    HandlerId m_id;
};

} // namespace rio
