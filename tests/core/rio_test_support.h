// SPDX-License-Identifier: MIT
#pragma once

// Shared by the core tests: how much to scale loops down in sanitizer builds and under wine, and
// a handler parked on its notifier thread.

#include "rio_check.h"

#include <registryio/handler_id.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#ifdef _WIN32
#ifndef NOMINMAX
#define NOMINMAX
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#endif

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

/// True when a Windows build runs under wine (the MinGW stage), where threads start and switch
/// several times slower than natively.
inline bool underWine()
{
#ifdef _WIN32
    static const bool wine = [] {
        const HMODULE ntdll = GetModuleHandleA("ntdll.dll");
        return ntdll != nullptr && GetProcAddress(ntdll, "wine_get_version") != nullptr;
    }();
    return wine;
#else
    return false;
#endif
}

/// `n` rounds in a normal build, `n / divisor` (at least 1) in a sanitizer build or under wine.
inline int scaled(int n, int divisor = 10)
{
    return underSanitizer || underWine() ? std::max(1, n / divisor) : n;
}

/// RIO_TEST_KNOWN_BUGS=1 in the environment runs the tests of known limitations too.
inline bool knownBugsRequested()
{
    const char *value = std::getenv("RIO_TEST_KNOWN_BUGS");
    return value != nullptr && std::atoi(value) != 0;
}

/// A handler body that parks on its notifier thread until released (removeAndWait tests).
struct Parked
{
    rio::check::Latch entered{1};
    rio::check::Latch release{1};
    std::atomic<bool> finished{false};

    /// Called by the handler: signals it is inside, waits for the release, marks itself done.
    void park()
    {
        entered.count_down();
        release.wait();
        finished.store(true);
    }
};

/// What removeAndWait did while a handler was parked on another thread.
struct WaitOutcome
{
    bool removed = false;          // its return value
    bool returnedEarly = false;    // it returned before the handler was released
    bool finishedOnReturn = false; // the handler had finished when it returned
};

/// With `parked`'s handler `id` inside a notify on another thread (entered), calls
/// removeAndWait(id) on a waiter thread, gives a wrong early return every chance to show once
/// the handler is unpublished, then releases the handler and joins the waiter.
template <typename Registry>
WaitOutcome removeAndWaitWhileParked(Registry &registry, rio::HandlerId id, Parked &parked)
{
    WaitOutcome out;
    rio::check::Latch waiterStarted(1);
    std::atomic<bool> returned{false};
    std::thread waiter([&] {
        waiterStarted.count_down();
        out.removed = registry.removeAndWait(id);
        out.finishedOnReturn = parked.finished.load();
        returned.store(true);
    });
    waiterStarted.wait();
    while (registry.contains(id))
        std::this_thread::yield();
    // An observation window, not a synchronisation: 2000 yields, at most 20 ms (on a loaded
    // machine a yield can give the processor away for milliseconds).
    const auto windowEnd = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
    for (int i = 0; i < 2000 && !returned.load() && std::chrono::steady_clock::now() < windowEnd; ++i)
        std::this_thread::yield();
    out.returnedEarly = returned.load();
    parked.release.count_down();
    waiter.join();
    return out;
}

} // namespace rio::test
