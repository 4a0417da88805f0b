// SPDX-License-Identifier: MIT
#pragma once

// A handler priority given as a value of any integer type, checked into an int. Not part of the
// public API.

#include <concepts>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace rio::detail {

// `priority` as an int; throws std::invalid_argument, naming `who`, when it lies outside int's
// range. Widened first: std::in_range refuses bool and the character types.
inline int checkedPriority(std::integral auto priority, const char *who)
{
    using P = decltype(priority);
    using Wide = std::conditional_t<std::is_signed_v<P>, long long, unsigned long long>;
    if (!std::in_range<int>(static_cast<Wide>(priority)))
        throw std::invalid_argument(std::string(who) + ": the priority is outside int's range");
    return static_cast<int>(priority);
}

} // namespace rio::detail
