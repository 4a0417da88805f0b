// SPDX-License-Identifier: MIT
#pragma once

#include <registryio/detail/owner_anchor.h>
#include <registryio/handler_id.h>

#include <cstdint>

namespace rio::detail {

// Shared between a registry and its guards, so a guard can outlive its registry without the
// registry living in a shared_ptr (guards and rio::Connection hold it). Each call reaches the
// registry through `anchor`; the registry detaches it when it dies, which waits for the calls
// other threads have under way (never the calling thread's own). `removeFn` and `containsFn` are
// non-template functions of a RegistryIO library, never of the module that added the handler,
// so a plugin can unload while guards and connections remain.
struct RIO_CORE_EXPORT RegistryLink
{
    explicit RegistryLink(void *registry) noexcept : anchor(registry) { }

    OwnerAnchor anchor;
    bool (*removeFn)(void *registry, HandlerId id) noexcept = nullptr;
    bool (*containsFn)(void *registry, HandlerId id) noexcept = nullptr;
    // Optional: removeFn with the guard's hint (see HandlerGuard); guards use it when set.
    bool (*removeHintedFn)(void *registry, HandlerId id, std::uint32_t hint) noexcept = nullptr;

    // Removes through removeFn without holding a lock, so the removal may run closure
    // destructors that drop guards of the same registry.
    bool remove(HandlerId id) noexcept;
    // As remove(id), through removeHintedFn with `hint` where the registry has one.
    bool remove(HandlerId id, std::uint32_t hint) noexcept;
    // True while the registry lives and holds `id` (through containsFn, also without a lock).
    bool contains(HandlerId id) noexcept;
    // No call starts after this; returns once the calls other threads are running finished.
    void detach() noexcept { anchor.detach(); }

private:
    // Calls `hinted` (with `hint`), else `fn`, with the registry while it lives (false once
    // detached or without either).
    bool call(bool (*fn)(void *, HandlerId) noexcept,
              bool (*hinted)(void *, HandlerId, std::uint32_t) noexcept, HandlerId id,
              std::uint32_t hint) noexcept;
};

} // namespace rio::detail
