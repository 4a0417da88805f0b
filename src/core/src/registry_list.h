// SPDX-License-Identifier: MIT
#pragma once

// Every live registry of the process, so that fork() can take their locks (process_life.cpp).

#include <registryio/detail/registry_core.h>

#include <mutex>

namespace rio::detail {

struct RegistryList
{
    static void add(RegistryCore *core) noexcept;
    static void remove(RegistryCore *core) noexcept;
    // fork(): lock every registry (prepare), unlock in the parent or the child.
    static void prepareFork() noexcept;
    static void afterFork(bool child) noexcept;
};

} // namespace rio::detail
