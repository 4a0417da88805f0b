// SPDX-License-Identifier: MIT
// Exception isolation: a throwing handler never stops its siblings nor reaches the caller.
#include <registryio/registry.h>

#include <cstdio>
#include <stdexcept>
#include <string>

int main()
{
    rio::Registry<int> registry;
    int failures = 0;
    registry.setExceptionHandler([&failures](const rio::ExceptionInfo &info) {
        ++failures;
        std::printf("handler %llu failed: %s\n", static_cast<unsigned long long>(info.handlerId.value()),
                    info.message.empty() ? "(not a std::exception)" : info.message.c_str());
        throw std::logic_error("thrown by the callback itself: swallowed");
    });

    registry.add([] { throw std::runtime_error("database unavailable"); }, 10);
    registry.add([] { throw 42; }, 5);
    int siblings = 0;
    registry.add([&siblings] { ++siblings; });

    registry.notify(1); // returns normally: both failures were caught and reported
    std::printf("siblings ran: %d\n", siblings);
    std::printf("notify returned normally\n");

    const bool ok = failures == 2 && siblings == 1;
    std::printf("exception-isolation: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
