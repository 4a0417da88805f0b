// SPDX-License-Identifier: MIT
// A stall's stack is taken with a signal (SIGRTMIN+4, Linux with glibc) whose handler the library
// installs at the first stall: the program owns the signal again as soon as it sets a disposition
// of its own. A handler of its own set afterwards is never called by a stall report, and the
// default disposition set afterwards (which ends the process on that signal) never ends it: the
// stalls are reported without their stacks. A process of its own: the signal's state is the
// whole process's.
#include "rio_check.h"

#include <registryio/detail/diagnostics.h>
#include <registryio/registry.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#if defined(__linux__) && defined(__GLIBC__)
#include <csignal>
#endif

namespace {

namespace diag = rio::detail::diag;

#if defined(__linux__) && defined(__GLIBC__)
std::atomic<int> ownHandlerCalls{0};

void ownHandler(int) noexcept
{
    ownHandlerCalls.fetch_add(1, std::memory_order_relaxed);
}

// Runs a handler on a new thread until the watchdog reported it stalled (bounded: 10 s), and
// returns that report's stack.
std::string stallOnce(rio::Registry<int> &registry)
{
    const std::size_t before = diag::recentStalls().size();
    const auto reported = [&] {
        const std::vector<diag::SlowRun> stalls = diag::recentStalls();
        return stalls.size() > before || stalls.size() == diag::stallsKept;
    };
    const rio::HandlerId id = registry.add([&] {
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!reported() && std::chrono::steady_clock::now() < until)
            std::this_thread::yield(); // the stall: a workload that ends when it is named
    });
    std::thread([&] { registry.notify(1); }).join();
    registry.remove(id);
    const std::vector<diag::SlowRun> stalls = diag::recentStalls();
    CHECK(stalls.size() > before);
    return stalls.empty() ? std::string() : stalls.back().stack;
}
#endif

} // namespace

RIO_TEST(aDispositionSetAfterTheFirstStallOwnsTheSignal)
{
#if defined(__linux__) && defined(__GLIBC__)
    std::uint64_t mainNs = 0, otherNs = 0, stallNs = 0;
    diag::thresholds(mainNs, otherNs, stallNs);
    diag::setThresholds(mainNs, otherNs, 20'000'000);
    rio::Registry<int> registry;
    registry.setDiagnosticsName("stack-signal");
    registry.setDiagnosticsEnabled(true);
    CHECK(!stallOnce(registry).empty()); // the library's handler, installed now, took the stack

    std::signal(SIGRTMIN + 4, &ownHandler); // the program's own handler, set afterwards
    CHECK(stallOnce(registry).empty());
    CHECK_EQ(ownHandlerCalls.load(), 0);

    std::signal(SIGRTMIN + 4, SIG_DFL); // the default: the signal would end the process
    CHECK(stallOnce(registry).empty());
    CHECK_EQ(ownHandlerCalls.load(), 0);

    registry.setDiagnosticsEnabled(false);
    diag::setThresholds(mainNs, otherNs, stallNs);
#endif
}
