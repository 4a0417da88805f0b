// SPDX-License-Identifier: MIT
// A program built by another compiler than the Core's (Clang against a g++-built library, one
// libstdc++), with diagnostics on: every add hands the library a SourceLocation, which it stores
// in the records that inline code reads, so both compilers must agree on its layout.

#include <registryio/handler_guard.h>
#include <registryio/registry.h>

#include <cstdio>
#include <vector>

int main()
{
    rio::Registry<int> registry;
    std::vector<int> order;
    registry.add([&](const int &v) { order.push_back(v * 10 + 1); }, 1);
    registry.addOnce([&](const int &v) { order.push_back(v * 10 + 3); }, 3);
    const rio::HandlerGuard guard = registry.addScoped([&](const int &v) { order.push_back(v * 10 + 2); }, 2);
    registry.notify(1);
    registry.notify(2);
    const std::vector<int> expected{13, 12, 11, 22, 21};
    if (order != expected || registry.size() != 2) {
        std::puts("mixed-compiler consumer: wrong calls");
        return 1;
    }
    std::puts("mixed-compiler consumer: ok");
    return 0;
}
