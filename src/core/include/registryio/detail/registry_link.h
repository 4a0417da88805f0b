#pragma once

#include <registryio/core_export.h>
#include <registryio/handler_id.h>

#include <mutex>

namespace rio::detail {

// Shared between a registry and its guards, so a guard can outlive its registry without the
// registry living in a shared_ptr. The registry detaches itself when it dies.
struct RIO_CORE_EXPORT RegistryLink
{
    std::mutex mutex;
    void *registry = nullptr;
    // Unpublishes and retires the handler without reclaiming (the caller reclaims after
    // dropping `mutex`, so a closure's destructor may use guards of the same registry).
    bool (*removeFn)(void *registry, HandlerId id) noexcept = nullptr;

    bool remove(HandlerId id) noexcept;
    void detach() noexcept;
};

} // namespace rio::detail
