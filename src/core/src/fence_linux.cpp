// SPDX-License-Identifier: MIT
// The Linux heavy fence: membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED).

#include "domain.h"
#include "fence_testing_p.h"

#include <atomic>

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace rio::detail::hazard {

namespace {
// Set by the test hook: membarrier fails from now on, as after a seccomp filter installed later.
constinit std::atomic<bool> failMembarrier{false};
} // namespace

void testing::setMembarrierFails(bool fails) noexcept
{
    failMembarrier.store(fails, std::memory_order_relaxed);
}

bool membarrierRegister() noexcept
{
#if defined(__linux__) && defined(__NR_membarrier)
    const long supported = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (supported < 0 || (supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0)
        return false;
    return syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#else
    return false;
#endif
}

bool membarrierFence() noexcept
{
#if defined(__linux__) && defined(__NR_membarrier)
    if (failMembarrier.load(std::memory_order_relaxed))
        return false;
    return syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
#else
    return false;
#endif
}

} // namespace rio::detail::hazard
