// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/core_export.h>
#include <registryio/handler_id.h>

#include <cstdint>
#include <memory>
#include <utility>

namespace rio {

namespace detail {
struct RegistryLink;
struct RegistryState;
} // namespace detail

/// Move-only RAII handle: destroying it removes the handler; release() keeps the handler.
/// It may outlive its registry (then it does nothing).
class RIO_CORE_EXPORT HandlerGuard
{
public:
    /// An empty guard that owns no handler.
    HandlerGuard() noexcept = default;
    /// A guard of `id`, removed through `link`.
    HandlerGuard(std::shared_ptr<detail::RegistryLink> link, HandlerId id) noexcept;
    /// Used by Registry::addScoped: takes over a hold on the registry's writer state that the add
    /// took; `hint` tells the registry where it keeps `id` (it checks the hint against the id, so
    /// a stale one only costs the lookup it would have done anyway).
    HandlerGuard(detail::RegistryState *state, HandlerId id, std::uint32_t hint) noexcept
        : m_state(state), m_id(id), m_hint(hint)
    { }
    /// Removes the handler, if the guard still owns one.
    ~HandlerGuard()
    {
        // Inline, so that dropping an empty (moved-from or released) guard makes no call, and a
        // registry's guard makes one, straight to the removal. Emptied first: a closure
        // destructor that the removal's reclaim pass runs may use this guard (its reset() then
        // does nothing), as it may during reset().
        if (detail::RegistryState *state = m_state) { // no store into an empty guard
            m_state = nullptr;
            drop(*state, std::exchange(m_id, HandlerId{}), m_hint);
        } else if (m_link)
            reset();
    }

    /// Takes over `other`'s handler; `other` becomes empty.
    HandlerGuard(HandlerGuard &&other) noexcept
        : m_state(std::exchange(other.m_state, nullptr)), m_link(std::move(other.m_link)),
          m_id(std::exchange(other.m_id, HandlerId{})), m_hint(other.m_hint)
    { }
    /// Removes the current handler, then takes over `other`'s.
    HandlerGuard &operator=(HandlerGuard &&other) noexcept
    {
        // Inline where this guard is empty (a member assigned its first handler) and neither has
        // a link: three stores and no call.
        if (m_state != nullptr || m_link || other.m_link) {
            moveAssign(other);
            return *this;
        }
        m_state = std::exchange(other.m_state, nullptr);
        m_id = std::exchange(other.m_id, HandlerId{});
        m_hint = other.m_hint;
        return *this;
    }
    HandlerGuard(const HandlerGuard &) = delete;
    HandlerGuard &operator=(const HandlerGuard &) = delete;

    /// The guarded handler's id; invalid when empty.
    [[nodiscard]] HandlerId id() const noexcept { return m_id; }
    /// True while the guard owns a handler.
    [[nodiscard]] bool isActive() const noexcept { return m_id.isValid(); }
    /// Stops guarding: the handler stays registered. Returns its id.
    HandlerId release() noexcept;
    /// Removes the handler now. True if this removed it (false if empty, or gone already).
    bool reset() noexcept;

private:
    // operator=(HandlerGuard &&) where this guard owns a handler or either has a link.
    void moveAssign(HandlerGuard &other) noexcept;
    // The destructor of a registry's guard: removes `id` and gives up the guard's hold on `state`.
    static void drop(detail::RegistryState &state, HandlerId id, std::uint32_t hint) noexcept;

    detail::RegistryState *m_state = nullptr;     // a Registry's guard: removes under its writer lock
    std::shared_ptr<detail::RegistryLink> m_link; // any other guard (the Qt facade's)
    HandlerId m_id;
    std::uint32_t m_hint = ~std::uint32_t{0};
};

} // namespace rio
