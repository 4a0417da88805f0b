// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace rio {

/// Identifies one registered handler: 64-bit, from 1, never reused within a registry; 0 is invalid.
class HandlerId
{
public:
    /// An invalid id (value 0).
    constexpr HandlerId() noexcept = default;
    /// An id with the given raw value.
    constexpr explicit HandlerId(std::uint64_t value) noexcept : m_value(value) { }

    /// The raw value; 0 for an invalid id.
    [[nodiscard]] constexpr std::uint64_t value() const noexcept { return m_value; }
    /// True for any id a registry handed out.
    [[nodiscard]] constexpr bool isValid() const noexcept { return m_value != 0; }
    /// Same as isValid().
    constexpr explicit operator bool() const noexcept { return isValid(); }

    /// Ids compare by value.
    friend constexpr auto operator<=>(HandlerId, HandlerId) noexcept =
        default; // NOLINT(modernize-use-nullptr): clang-tidy 14 misreads the defaulted <=>

private:
    std::uint64_t m_value = 0;
};

} // namespace rio

/// Hash support, so ids can key unordered containers.
template <>
struct std::hash<rio::HandlerId>
{
    /// The hash of the id's raw value.
    std::size_t operator()(rio::HandlerId id) const noexcept
    {
        return std::hash<std::uint64_t>{}(id.value());
    }
};
