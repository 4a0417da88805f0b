// SPDX-License-Identifier: MIT
#pragma once

#include <registryio/detail/config.h>
#include <registryio/handler_id.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace rio::detail {

// Shared between a registry and its guards, so a guard can outlive its registry without the
// registry living in a shared_ptr (guards and rio::Connection hold it). The registry detaches
// itself when it dies, and waits for calls already under way. A call takes no lock: it counts
// itself in `busy` and then reads `registry`; detach() clears `registry`, then waits (on
// `mutex` and `idle`) until `busy` drops to zero. `removeFn` and `containsFn` are
// non-template functions of a RegistryIO library, never of the module that added the handler,
// so a plugin can unload while guards and connections remain.
struct RIO_CORE_EXPORT RegistryLink
{
    std::atomic<void *> registry{nullptr};
    std::atomic<unsigned> busy{0};      // calls under way
    std::atomic<bool> detaching{false}; // detach() has begun: the last call out notifies `idle`
    std::mutex mutex;                   // detach()'s wait (and fork) only
    std::condition_variable idle;
    bool (*removeFn)(void *registry, HandlerId id) noexcept = nullptr;
    bool (*containsFn)(void *registry, HandlerId id) noexcept = nullptr;
    // Optional: removeFn with the guard's hint (see HandlerGuard); guards use it when set.
    bool (*removeHintedFn)(void *registry, HandlerId id, std::uint32_t hint) noexcept = nullptr;

    // Removes through removeFn without holding `mutex`, so the removal may run closure
    // destructors that drop guards of the same registry.
    bool remove(HandlerId id) noexcept;
    // As remove(id), through removeHintedFn with `hint` where the registry has one.
    bool remove(HandlerId id, std::uint32_t hint) noexcept;
    // True while the registry lives and holds `id` (through containsFn, also without `mutex`).
    bool contains(HandlerId id) noexcept;
    // No call starts after this; returns once the calls other threads are running finished
    // (never waits for the calling thread's own calls: see handler_guard.cpp).
    void detach() noexcept;

private:
    // Calls `hinted` (with `hint`), else `fn`, with the registry while it lives (false once
    // detached or without either).
    bool call(bool (*fn)(void *, HandlerId) noexcept,
              bool (*hinted)(void *, HandlerId, std::uint32_t) noexcept, HandlerId id,
              std::uint32_t hint) noexcept;
};

} // namespace rio::detail
