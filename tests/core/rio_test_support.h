#pragma once

// Shared by the core tests: how much to scale loops down in sanitizer builds.

#include <algorithm>

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define RIO_TEST_UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define RIO_TEST_UNDER_SANITIZER 1
#endif
#endif
#ifndef RIO_TEST_UNDER_SANITIZER
#define RIO_TEST_UNDER_SANITIZER 0
#endif

namespace rio::test {

#if defined(__SANITIZE_THREAD__)
#define RIO_TEST_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RIO_TEST_UNDER_TSAN 1
#endif
#endif
#ifndef RIO_TEST_UNDER_TSAN
#define RIO_TEST_UNDER_TSAN 0
#endif

/// True in ThreadSanitizer builds, where the core uses sequentially consistent operations and
/// its fallback fence mode then protects handlers as precisely as the fast modes.
inline constexpr bool underTsan = RIO_TEST_UNDER_TSAN != 0;

/// True in ThreadSanitizer and AddressSanitizer builds, which run several times slower.
inline constexpr bool underSanitizer = RIO_TEST_UNDER_SANITIZER != 0;

/// `n` rounds in a normal build, `n / divisor` (at least 1) in a sanitizer build.
constexpr int scaled(int n, int divisor = 10)
{
    return underSanitizer ? std::max(1, n / divisor) : n;
}

} // namespace rio::test
