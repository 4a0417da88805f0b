// SPDX-License-Identifier: MIT
// Registry::setSuspended with std:: only (see rio_check.h): a suspended handler keeps its id and
// its place, survives copies of the handler array (adds, removals, compaction), a suspended
// once-handler is not used up, and a concurrent notifier never sees a half-suspended state.
#include "rio_check.h"

#include <registryio/registry.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

RIO_TEST(suspendedHandlerIsSkippedAndKeepsItsPlace)
{
    rio::Registry<int> registry;
    std::string order;
    registry.add([&order] { order += 'a'; }, 1);
    const rio::HandlerId b = registry.add([&order] { order += 'b'; }, 1);
    registry.add([&order] { order += 'c'; }, 0);
    CHECK(registry.setSuspended(b, true));
    CHECK(registry.isSuspended(b));
    CHECK(registry.contains(b));
    CHECK_EQ(registry.size(), std::size_t{3});
    registry.notify(1);
    CHECK(order == "ac");
    CHECK(registry.setSuspended(b, false));
    CHECK(!registry.isSuspended(b));
    order.clear();
    registry.notify(1);
    CHECK(order == "abc"); // back in its place, not at the end
}

RIO_TEST(suspensionSurvivesArrayCopies)
{
    rio::Registry<int> registry;
    int calls = 0;
    const rio::HandlerId id = registry.add([&calls] { ++calls; }, 5);
    CHECK(registry.setSuspended(id, true));
    // Adds before and after it (copies of the array), removals (tombstones, compaction).
    std::vector<rio::HandlerId> others;
    for (int i = 0; i < 200; ++i)
        others.push_back(registry.add([] { }, i % 11 - 5));
    for (std::size_t i = 0; i < others.size(); i += 2)
        CHECK(registry.remove(others[i]));
    registry.notify(1);
    CHECK_EQ(calls, 0);
    CHECK(registry.isSuspended(id));
    CHECK(registry.setSuspended(id, false));
    registry.notify(1);
    CHECK_EQ(calls, 1);
}

RIO_TEST(suspendedOnceHandlerIsNotUsedUp)
{
    rio::Registry<int> registry;
    int calls = 0;
    const rio::HandlerId id = registry.addOnce([&calls] { ++calls; });
    CHECK(registry.setSuspended(id, true));
    registry.notify(1);
    registry.notify(2);
    CHECK_EQ(calls, 0);
    CHECK(registry.contains(id));
    CHECK(registry.setSuspended(id, false));
    registry.notify(3);
    registry.notify(4);
    CHECK_EQ(calls, 1);
    CHECK(!registry.contains(id));
}

RIO_TEST(unknownOrRemovedIdsAreRefused)
{
    rio::Registry<int> registry;
    CHECK(!registry.setSuspended(rio::HandlerId{}, true));
    CHECK(!registry.setSuspended(rio::HandlerId{12345}, true));
    const rio::HandlerId id = registry.add([] { });
    CHECK(registry.remove(id));
    CHECK(!registry.setSuspended(id, true));
    CHECK(!registry.isSuspended(id));
    registry.notify(1); // still nothing registered, nothing resurrected
    CHECK_EQ(registry.size(), std::size_t{0});
}

// A notifier runs while another thread suspends and resumes: every notify either calls the
// handler or skips it, removal still wins over a later resume, and nothing runs after removal.
RIO_TEST(suspendRacesWithNotifyAndRemove)
{
    rio::Registry<int> registry;
    std::atomic<long> calls{0};
    std::atomic<bool> removed{false};
    std::atomic<long> afterRemoval{0};
    const rio::HandlerId id = registry.add([&] {
        calls.fetch_add(1, std::memory_order_relaxed);
        if (removed.load(std::memory_order_acquire))
            afterRemoval.fetch_add(1, std::memory_order_relaxed);
    });
    std::atomic<bool> stop{false};
    std::thread notifier([&] {
        for (int i = 0; i < 200000 && !stop.load(std::memory_order_relaxed); ++i)
            registry.notify(i);
    });
    for (int i = 0; i < 2000; ++i)
        CHECK(registry.setSuspended(id, i % 2 == 0));
    CHECK(registry.removeAndWait(id));
    removed.store(true, std::memory_order_release);
    CHECK(!registry.setSuspended(id, false)); // a resume cannot bring it back
    stop.store(true);
    notifier.join();
    CHECK_EQ(afterRemoval.load(), 0L);
    CHECK(!registry.contains(id));
}
