// SPDX-License-Identifier: MIT
#include "rio_check.h"
#include <registryio/registry.h>

#include <atomic>
#include <string>
#include <vector>

RIO_TEST(addNotifyRemove)
{
    rio::Registry<int> registry;
    int total = 0;
    const rio::HandlerId id = registry.add([&total](const int &v) { total += v; });
    CHECK(id.isValid());
    CHECK_EQ(registry.size(), std::size_t{1});
    registry.notify(5);
    registry.notify(7);
    CHECK_EQ(total, 12);
    CHECK(registry.remove(id));
    CHECK(!registry.remove(id));
    registry.notify(100);
    CHECK_EQ(total, 12);
    CHECK(registry.isEmpty());
}

RIO_TEST(handlerWithoutArguments)
{
    rio::Registry<std::string> registry;
    int calls = 0;
    registry.add([&calls] { ++calls; });
    registry.notify("x");
    CHECK_EQ(calls, 1);
}
