// SPDX-License-Identifier: MIT
// Priorities: higher runs first; equal priorities run in registration order.
#include <registryio/registry.h>

#include <cstdio>
#include <string>

int main()
{
    rio::Registry<std::string> registry;
    std::string order;
    auto record = [&order](const char *name) {
        return [&order, name] { order += order.empty() ? name : std::string(" ") + name; };
    };

    registry.add(record("business-1"));    // priority 0
    registry.add(record("cleanup"), -50);  // runs last
    registry.add(record("audit"), 100);    // runs first, though registered third
    registry.add(record("business-2"), 0); // ties keep registration order

    registry.notify("order placed");
    std::printf("order: %s\n", order.c_str());

    const bool ok = order == "audit business-1 business-2 cleanup";
    std::printf("priority: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
