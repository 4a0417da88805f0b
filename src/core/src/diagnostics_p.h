// SPDX-License-Identifier: MIT
#pragma once

// The core library's internal side of diagnostics (diagnostics.cpp): thread numbers read inline
// by add, the registry serials, the environment switch.

#include <registryio/detail/config.h>

#include <cstdint>

namespace rio::detail::diag {

/// The calling thread's number, 0 until assigned (inline: read by every add).
RIO_TLS_INITIAL_EXEC extern thread_local constinit std::uint64_t tlsThreadNumber;
/// Assigns the calling thread its number.
std::uint64_t assignThreadNumber() noexcept;
/// The calling thread's number (assigned on first use).
inline std::uint64_t currentThreadNumber() noexcept
{
    const std::uint64_t n = tlsThreadNumber;
    return n != 0 ? n : assignThreadNumber();
}
/// The next registry serial (from 1).
std::uint64_t nextSerial() noexcept;
/// Counts a registry whose entries start (true) or stop recording (the watchdog runs while any do).
void countRegistry(bool on) noexcept;
/// Reads RIO_DIAGNOSTICS once (the first registry state of the process).
void initFromEnvironment() noexcept;

} // namespace rio::detail::diag
