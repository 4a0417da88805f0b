// SPDX-License-Identifier: MIT
// Uses only RegistryIO::Core: a handler, a guard, a notify.
#include <registryio/registry.h>

#include <cstdio>

int main()
{
    rio::Registry<int> registry;
    int total = 0;
    {
        rio::HandlerGuard guard = registry.addScoped([&total](const int &v) { total += v; });
        registry.notify(5);
        registry.notify(7);
    }
    std::printf("consumer: total=%d handlers=%zu\n", total, registry.size());
    return total == 12 && registry.isEmpty() ? 0 : 1;
}
