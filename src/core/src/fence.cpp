// SPDX-License-Identifier: MIT
// Chooses the heavy fence once, and keeps the asymmetric protocol whole if it fails later.

#include "domain.h"
#include "registry_list.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace rio::detail::hazard {

namespace {

constinit std::atomic<FenceMode> mode{FenceMode::Fallback};

FenceMode choose() noexcept
{
    if (RIO_SEQ_CST_OPS)
        return FenceMode::Fallback; // ThreadSanitizer builds: seq_cst operations on both sides
    // Read once, when the domain starts; the library never changes the environment.
    const char *forced = std::getenv("RIO_FENCE"); // NOLINT(concurrency-mt-unsafe)
    const bool force = forced != nullptr && *forced != '\0' && std::strcmp(forced, "auto") != 0;
    if (force && std::strcmp(forced, "fallback") == 0)
        return FenceMode::Fallback;
    if (force && std::strcmp(forced, "ipi") == 0)
        return ipiAvailable() ? FenceMode::Ipi : FenceMode::Fallback;
    if (flushProcessWriteBuffers())
        return FenceMode::FlushProcessWriteBuffers;
    if (membarrierRegister())
        return FenceMode::Membarrier;
    if (ipiAvailable())
        return FenceMode::Ipi;
    return FenceMode::Fallback;
}

[[noreturn]] void fatal(const char *what) noexcept
{
    std::fprintf(stderr,
                 "RegistryIO: %s; no asymmetric fence is left, and readers already enter without one. "
                 "Start the process with RIO_FENCE=fallback where this can happen.\n",
                 what);
    std::abort();
}

} // namespace

void initialize() noexcept
{
    static constinit std::atomic<bool> chosen{false};
    RegistryList::initOnce(chosen, []() noexcept { mode.store(choose(), std::memory_order_release); });
}

FenceMode fenceMode() noexcept
{
    initialize();
    return mode.load(std::memory_order_acquire);
}

bool readersFence() noexcept
{
    return fenceMode() == FenceMode::Fallback;
}

void heavyFence() noexcept
{
    switch (mode.load(std::memory_order_acquire)) {
    case FenceMode::Membarrier:
        if (membarrierFence())
            return;
        // membarrier worked at start-up and fails now (a seccomp filter installed later, a CRIU
        // restore): readers enter with a compiler barrier only, so keep an asymmetric fence.
        if (ipiAvailable() && ipiFence()) {
            mode.store(FenceMode::Ipi, std::memory_order_release);
            std::fprintf(stderr, "RegistryIO: membarrier failed after start-up; using the IPI fence\n");
            return;
        }
        fatal("membarrier failed after start-up");
    case FenceMode::Ipi:
        if (ipiFence())
            return;
        fatal("the IPI fence (mprotect) failed");
    case FenceMode::FlushProcessWriteBuffers:
        flushProcessWriteBuffers();
        return;
    case FenceMode::Fallback:
        break;
    }
    std::atomic_thread_fence(std::memory_order_seq_cst);
}

} // namespace rio::detail::hazard
