// SPDX-License-Identifier: MIT
// A plugin that adds and removes handlers on a host registry, then unloads,
// leaves no code pointer into itself: the host notifies, clears, adds, removes, drops a guard the
// plugin created and destroys the registry afterwards (under ASan: no crash, no invalid access).
// The plugin follows the documented rule (see plugin/rio_test_plugin.cpp).
#include "rio_check.h"
#include <registryio/registry.h>

#include <dlfcn.h>

#ifndef RIO_TEST_PLUGIN_PATH
#error "RIO_TEST_PLUGIN_PATH must name the test plugin"
#endif

RIO_TEST(hostOutlivesPlugin)
{
    auto registry = std::make_unique<rio::Registry<int>>();
    int hostCalls = 0;
    const rio::HandlerId hostId = registry->add([&hostCalls] { ++hostCalls; });
    rio::HandlerGuard left;
    int pluginCalls = 0;
    {
        void *plugin = dlopen(RIO_TEST_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
        CHECK_MSG(plugin != nullptr, dlerror());
        using Use = int (*)(rio::Registry<int> *, rio::HandlerGuard *, int *);
        auto use = reinterpret_cast<Use>(dlsym(plugin, "rio_plugin_use"));
        CHECK(use != nullptr);
        CHECK_EQ(use(registry.get(), &left, &pluginCalls), 0);
        CHECK_EQ(dlclose(plugin), 0);
    }
    // add, addOnce(-1), addScoped, add(t1), addOnce(3), addScoped(t) ran once each; b too.
    CHECK_EQ(pluginCalls, 7);
    CHECK_EQ(hostCalls, 1); // the plugin's notify
    CHECK(left.isActive());
    CHECK_EQ(registry->size(), std::size_t{2}); // the host's handler and the guarded one
    // The guard's removal goes through core code; its closure is freed by core code.
    left = rio::HandlerGuard();
    CHECK_EQ(registry->size(), std::size_t{1});
    registry->notify(1);
    CHECK_EQ(hostCalls, 2);
    CHECK_EQ(pluginCalls, 7);
    registry->clear();
    CHECK(!registry->contains(hostId));
    for (int i = 0; i < 200; ++i)
        registry->remove(registry->add([&hostCalls] { ++hostCalls; }, i % 4));
    const rio::HandlerId kept = registry->add([&hostCalls] { ++hostCalls; });
    registry->notify(2);
    CHECK_EQ(hostCalls, 3);
    CHECK(registry->contains(kept));
    registry.reset();
}
