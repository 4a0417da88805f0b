// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <cstdint>

// The suite's own attributes (the library's public headers need neither).
#if (defined(__GNUC__) || defined(__clang__)) && defined(__ELF__)
#define RIO_BENCH_TLS_LOCAL_EXEC [[gnu::tls_model("local-exec")]]
#else
#define RIO_BENCH_TLS_LOCAL_EXEC
#endif
#if defined(__GNUC__) || defined(__clang__)
#define RIO_BENCH_NOINLINE [[gnu::noinline]]
#elif defined(_MSC_VER)
#define RIO_BENCH_NOINLINE __declspec(noinline)
#else
#define RIO_BENCH_NOINLINE
#endif

namespace rio::bench {

/// The event every library in the suite carries.
using Event = int;

/// The calling thread's own counter: handlers bump it, so no two threads write one cache line.
/// Local-exec TLS (the suite is executables only): Qt forces -fPIC, whose default general-dynamic
/// model would pad every handler body with a __tls_get_addr sequence.
RIO_BENCH_TLS_LOCAL_EXEC inline constinit thread_local std::atomic<std::uint64_t> threadCount{0};

/// The one handler body every library runs: a relaxed increment of the thread's own counter.
inline void handlerBody() noexcept
{
    threadCount.fetch_add(1, std::memory_order_relaxed);
}

/// The same body behind a plain function: what the function-pointer floor calls.
RIO_BENCH_NOINLINE inline void floorHandler(const Event &) noexcept
{
    handlerBody();
}

} // namespace rio::bench
