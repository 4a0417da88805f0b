// SPDX-License-Identifier: MIT
#pragma once

// Every registry state of the process, so that fork() can take their locks (process_life.cpp).

#include "registry_state.h"

#include <atomic>
#include <cstddef>
#include <mutex>

namespace rio::detail {

struct RegistryList
{
    // The state `slot` points to, creating it for `core` and putting it on the list if it has
    // none (one winner when threads race); throws std::bad_alloc with nothing changed.
    static RegistryState &create(std::atomic<RegistryState *> &slot, RegistryCore *core);
    // Takes the state off the list and frees it (its registry and every guard hold are gone).
    static void remove(RegistryState *state) noexcept;
    // The objects every listed registry has retired and not yet destroyed (pendingCountAll).
    static std::size_t pending() noexcept;
    // Runs init() once for the process unless `done` is set, under the lock fork() takes first:
    // a child never inherits it half done (as a function-local static's taken guard would be).
    static void initOnce(std::atomic<bool> &done, void (*init)() noexcept) noexcept;
    // fork(): lock every registry, then diagnostics (prepare), unlock in the parent or the child.
    static void prepareFork() noexcept;
    static void afterFork(bool child) noexcept;
    // Calls visit(state, arg) for every listed state, under the list's lock (states stay listed
    // and alive meanwhile; `visit` takes each state's writer lock itself).
    static void visit(void (*visit)(RegistryState &, void *), void *arg);
};

} // namespace rio::detail
