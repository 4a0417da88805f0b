// SPDX-License-Identifier: MIT
#pragma once

// A handler priority given as a value of any integer type, checked into an int. Not part of the
// public API.

#include <concepts>
#include <stdexcept>
#include <string>
#include <utility>

namespace rio::detail {

// `priority` as an int; throws std::invalid_argument, naming `who`, when it lies outside int's
// range. Tested after the integral promotions (std::in_range refuses bool and the character
// types, which become int or unsigned), in the value's own type: nothing of a wider type, a
// 128-bit one included, is narrowed before the test.
inline int checkedPriority(std::integral auto priority, const char *who)
{
    const auto value = +priority;
    if (!std::in_range<int>(value))
        throw std::invalid_argument(std::string(who) + ": the priority is outside int's range");
    return static_cast<int>(value);
}

} // namespace rio::detail
