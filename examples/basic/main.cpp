// SPDX-License-Identifier: MIT
// Register, notify, remove: the core of rio::Registry<E>.
#include <registryio/registry.h>

#include <cstdio>
#include <functional>
#include <stdexcept>

int main()
{
    rio::Registry<int> registry;
    int total = 0;
    int calls = 0;

    // A handler takes `const E&`, or nothing at all. add() returns the handler's id.
    const rio::HandlerId sum = registry.add([&total](const int &value) { total += value; });
    registry.add([&calls] { ++calls; });

    registry.notify(5); // runs both handlers on this thread, then returns
    registry.notify(7);
    std::printf("total=%d calls=%d handlers=%zu\n", total, calls, registry.size());

    const bool removed = registry.remove(sum); // true the first time
    const bool again = registry.remove(sum);   // false: ids are never reused
    registry.notify(100);
    std::printf("removed=%s again=%s total=%d calls=%d\n", removed ? "true" : "false",
                again ? "true" : "false", total, calls);

    // Bad input is refused with a clear error and changes nothing.
    try {
        registry.add(std::function<void(const int &)>{});
    } catch (const std::invalid_argument &e) {
        std::printf("refused: %s\n", e.what());
    }

    const bool ok = total == 12 && calls == 3 && removed && !again && registry.size() == 1;
    std::printf("basic: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
