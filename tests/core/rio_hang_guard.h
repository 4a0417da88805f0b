// SPDX-License-Identifier: MIT
#pragma once

// Bounded waits for tests that detect hangs: a future that is not ready in time fails the test
// and ends the process at once (its threads may be blocked forever on stack objects, so neither
// joining nor returning is possible).

#include "rio_test_support.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>

namespace rio::test {

/// Waits for `f` at most `seconds`; on a hang prints `what` and exits with status 3.
template <typename T>
T getOrDie(std::future<T> &f, int seconds, const char *what)
{
    if (f.wait_for(std::chrono::seconds(seconds)) != std::future_status::ready) {
        std::fprintf(stderr, "FAIL: hung for %d s: %s\n", seconds, what);
        std::fflush(stderr);
        std::_Exit(3);
    }
    return f.get();
}

} // namespace rio::test
