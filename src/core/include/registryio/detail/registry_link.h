#pragma once

#include <registryio/detail/config.h>
#include <registryio/handler_id.h>

#include <condition_variable>
#include <mutex>

namespace rio::detail {

// Shared between a registry and its guards, so a guard can outlive its registry without the
// registry living in a shared_ptr. The registry detaches itself when it dies, and waits for
// removals already under way. `removeFn` is a non-template function of a RegistryIO library,
// never of the module that added the handler, so a plugin can unload while guards remain.
struct RIO_CORE_EXPORT RegistryLink
{
    std::mutex mutex;
    std::condition_variable idle;
    unsigned busy = 0; // removals running without the mutex (under `mutex`)
    void *registry = nullptr;
    bool (*removeFn)(void *registry, HandlerId id) noexcept = nullptr;

    // Removes through removeFn without holding `mutex`, so the removal may run closure
    // destructors that drop guards of the same registry.
    bool remove(HandlerId id) noexcept;
    // No removal starts after this; returns once running ones finished.
    void detach() noexcept;
};

} // namespace rio::detail
