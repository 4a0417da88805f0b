// SPDX-License-Identifier: MIT
// Priority order: higher runs first, equal priorities in registration order, at the extremes too.
#include "rio_check.h"
#include <registryio/registry.h>

#include <algorithm>
#include <climits>
#include <string>
#include <vector>

RIO_TEST(higherPriorityRunsFirst)
{
    rio::Registry<int> registry;
    std::vector<std::string> calls;
    registry.add([&calls] { calls.push_back("p0"); }, 0);
    registry.add([&calls] { calls.push_back("p10"); }, 10);
    registry.add([&calls] { calls.push_back("p-5"); }, -5);
    registry.add([&calls] { calls.push_back("p3"); }, 3);
    registry.notify(0);
    CHECK_EQ(calls, (std::vector<std::string>{"p10", "p3", "p0", "p-5"}));
}

RIO_TEST(defaultPriorityIsZero)
{
    rio::Registry<int> registry;
    std::vector<std::string> calls;
    registry.add([&calls] { calls.push_back("+1"); }, 1);
    registry.add([&calls] { calls.push_back("default"); });
    registry.add([&calls] { calls.push_back("-1"); }, -1);
    registry.add([&calls] { calls.push_back("0"); }, 0);
    registry.notify(0);
    CHECK_EQ(calls, (std::vector<std::string>{"+1", "default", "0", "-1"}));
}

RIO_TEST(equalPrioritiesKeepRegistrationOrder)
{
    rio::Registry<int> registry;
    std::vector<int> calls;
    for (int i = 0; i < 10; ++i)
        registry.add([&calls, i] { calls.push_back(i); }, 7);
    registry.notify(0);
    CHECK_EQ(calls, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

RIO_TEST(tiesWithinMixedPriorities)
{
    rio::Registry<int> registry;
    std::vector<std::string> calls;
    auto add = [&](const std::string &name, int priority) {
        registry.add([&calls, name] { calls.push_back(name); }, priority);
    };
    add("a1", 1);
    add("b2", 2);
    add("c1", 1);
    add("d0", 0);
    add("e2", 2);
    add("f1", 1);
    registry.notify(0);
    CHECK_EQ(calls, (std::vector<std::string>{"b2", "e2", "a1", "c1", "f1", "d0"}));
}

RIO_TEST(extremes)
{
    rio::Registry<int> registry;
    std::vector<std::string> calls;
    auto add = [&](const std::string &name, int priority) {
        registry.add([&calls, name] { calls.push_back(name); }, priority);
    };
    add("min-a", INT_MIN);
    add("zero", 0);
    add("max-a", INT_MAX);
    add("min-b", INT_MIN);
    add("max-b", INT_MAX);
    add("max-1", INT_MAX - 1);
    add("min+1", INT_MIN + 1);
    registry.notify(0);
    CHECK_EQ(calls, (std::vector<std::string>{"max-a", "max-b", "max-1", "zero", "min+1", "min-a", "min-b"}));
}

RIO_TEST(onceAndScopedHandlersFollowPriority)
{
    rio::Registry<int> registry;
    std::vector<std::string> calls;
    registry.add([&calls] { calls.push_back("plain0"); }, 0);
    registry.addOnce([&calls] { calls.push_back("once5"); }, 5);
    rio::HandlerGuard guard = registry.addScoped([&calls] { calls.push_back("scoped-5"); }, -5);
    registry.addOnce([&calls] { calls.push_back("once0"); }, 0);
    registry.notify(0);
    CHECK_EQ(calls, (std::vector<std::string>{"once5", "plain0", "once0", "scoped-5"}));
    calls.clear();
    registry.notify(0);
    CHECK_EQ(calls, (std::vector<std::string>{"plain0", "scoped-5"}));
}

// A handler added after removals goes after every existing handler of its priority.
RIO_TEST(addAfterRemovalGoesLastAmongEquals)
{
    rio::Registry<int> registry;
    std::vector<std::string> calls;
    const rio::HandlerId a = registry.add([&calls] { calls.push_back("a"); }, 1);
    registry.add([&calls] { calls.push_back("b"); }, 1);
    CHECK(registry.remove(a));
    registry.add([&calls] { calls.push_back("c"); }, 1);
    registry.add([&calls] { calls.push_back("d"); }, 2);
    registry.notify(0);
    CHECK_EQ(calls, (std::vector<std::string>{"d", "b", "c"}));
}

// Many adds with repeating priorities interleaved with removals; the expected order is the
// live handlers stably sorted by descending priority (ids ascend in registration order).
RIO_TEST(interleavedAddsAndRemovals)
{
    rio::Registry<int> registry;
    struct Live
    {
        std::uint64_t id;
        int priority;
    };
    std::vector<Live> live;
    std::vector<std::uint64_t> order;
    const int priorities[] = {0, 3, -2, INT_MAX, 3, INT_MIN, 0, -2, 1};
    for (std::uint64_t n = 1; n <= 300; ++n) {
        const int priority = priorities[(n * 7) % std::size(priorities)];
        // Ids of a fresh registry are 1, 2, 3...: the handler knows its own id up front.
        const rio::HandlerId id = registry.add([&order, n] { order.push_back(n); }, priority);
        CHECK_EQ(id.value(), n);
        live.push_back({n, priority});
        if (n % 5 == 0) { // remove one from somewhere in the middle
            const std::size_t victim = (n * 13) % live.size();
            CHECK(registry.remove(rio::HandlerId{live[victim].id}));
            live.erase(live.begin() + std::ptrdiff_t(victim));
        }
        if (n % 50 == 0) { // check the order along the way too
            std::vector<Live> expected = live;
            std::stable_sort(expected.begin(), expected.end(),
                             [](const Live &x, const Live &y) { return x.priority > y.priority; });
            std::vector<std::uint64_t> expectedOrder;
            for (const Live &l : expected)
                expectedOrder.push_back(l.id);
            order.clear();
            registry.notify(0);
            CHECK_EQ(order, expectedOrder);
        }
    }
    CHECK_EQ(registry.size(), live.size());
}
