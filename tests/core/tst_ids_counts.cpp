// SPDX-License-Identifier: MIT
// Ids (from 1, increasing, never reused, 0 invalid), counts, the capacity hint, and bad input.
#include "rio_check.h"
#include "rio_test_support.h"

#include <registryio/registry.h>

#include <array>
#include <chrono>
#include <functional>
#include <future>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace {

void countCall(const int &) { }
void countCallNoArgs() { }

} // namespace

RIO_TEST(invalidIdIsZero)
{
    constexpr rio::HandlerId none;
    static_assert(none.value() == 0 && !none.isValid() && !none);
    CHECK_EQ(none.value(), std::uint64_t{0});
    CHECK(!none.isValid());
    CHECK(rio::HandlerId{1}.isValid());
    CHECK(rio::HandlerId{1} < rio::HandlerId{2});
    CHECK_EQ(std::hash<rio::HandlerId>{}(rio::HandlerId{7}), std::hash<std::uint64_t>{}(7));
}

RIO_TEST(idsStartAtOneAndIncrease)
{
    rio::Registry<int> registry;
    for (std::uint64_t expected = 1; expected <= 20; ++expected) {
        const rio::HandlerId id = expected % 2 ? registry.add([](const int &) { }) : registry.addOnce([] { });
        CHECK_EQ(id.value(), expected);
    }
    // Scoped handlers draw from the same sequence.
    rio::HandlerGuard guard = registry.addScoped([] { });
    CHECK_EQ(guard.id().value(), std::uint64_t{21});
}

RIO_TEST(idsAreNeverReused)
{
    rio::Registry<int> registry;
    const rio::HandlerId a = registry.add([] { });
    const rio::HandlerId b = registry.add([] { });
    CHECK(registry.remove(b));
    const rio::HandlerId c = registry.add([] { });
    CHECK_EQ(c.value(), std::uint64_t{3}); // not b's 2
    CHECK(registry.remove(a));
    CHECK(registry.remove(c));
    CHECK(registry.isEmpty());
    CHECK_EQ(registry.add([] { }).value(), std::uint64_t{4}); // not restarted when empty
    registry.clear();
    CHECK_EQ(registry.add([] { }).value(), std::uint64_t{5}); // not restarted by clear()
    const rio::HandlerId once = registry.addOnce([] { });
    registry.notify(0); // the once-handler removes itself
    CHECK(!registry.contains(once));
    CHECK_EQ(registry.add([] { }).value(), once.value() + 1);
}

RIO_TEST(idsArePerRegistry)
{
    rio::Registry<int> first;
    rio::Registry<int> second;
    CHECK_EQ(first.add([] { }).value(), std::uint64_t{1});
    CHECK_EQ(second.add([] { }).value(), std::uint64_t{1});
    CHECK_EQ(first.add([] { }).value(), std::uint64_t{2});
}

RIO_TEST(sizeIsEmptyContains)
{
    rio::Registry<int> registry;
    CHECK_EQ(registry.size(), std::size_t{0});
    CHECK(registry.isEmpty());
    CHECK(!registry.contains(rio::HandlerId{}));
    CHECK(!registry.contains(rio::HandlerId{1}));

    std::vector<rio::HandlerId> ids;
    for (int i = 0; i < 10; ++i) {
        ids.push_back(registry.add([] { }, i % 3));
        CHECK_EQ(registry.size(), std::size_t(i + 1));
        CHECK(!registry.isEmpty());
    }
    for (rio::HandlerId id : ids)
        CHECK(registry.contains(id));
    CHECK(!registry.contains(rio::HandlerId{11}));
    CHECK(!registry.contains(rio::HandlerId{}));

    CHECK(registry.remove(ids[4]));
    CHECK_EQ(registry.size(), std::size_t{9});
    CHECK(!registry.contains(ids[4]));
    CHECK(registry.contains(ids[3]));
    CHECK(registry.contains(ids[5]));

    const rio::HandlerId once = registry.addOnce([] { });
    CHECK_EQ(registry.size(), std::size_t{10});
    CHECK(registry.contains(once));
    registry.notify(1);
    CHECK_EQ(registry.size(), std::size_t{9});
    CHECK(!registry.contains(once));

    {
        rio::HandlerGuard guard = registry.addScoped([] { });
        CHECK_EQ(registry.size(), std::size_t{10});
        CHECK(registry.contains(guard.id()));
    }
    CHECK_EQ(registry.size(), std::size_t{9});

    registry.clear();
    CHECK_EQ(registry.size(), std::size_t{0});
    CHECK(registry.isEmpty());
    for (rio::HandlerId id : ids)
        CHECK(!registry.contains(id));
    registry.clear(); // clearing an empty registry is harmless
    CHECK(registry.isEmpty());
}

struct CapacityRow
{
    int hint;
    int handlers;
};

RIO_TEST_DATA(capacityHint, CapacityRow, row, {"no hint", {0, 5}}, {"hint larger than use", {64, 5}},
              {"hint exceeded", {4, 40}}, {"hint equal", {16, 16}})
{
    const int hint = row.hint;
    const int handlers = row.handlers;
    rio::Registry<int> registry(static_cast<std::size_t>(hint));
    CHECK_EQ(registry.capacityHint(), std::size_t(hint));
    CHECK(registry.isEmpty());
    std::vector<int> calls;
    std::vector<rio::HandlerId> ids;
    for (int i = 0; i < handlers; ++i)
        ids.push_back(registry.add([&calls, i] { calls.push_back(i); }));
    CHECK_EQ(registry.size(), std::size_t(handlers));
    registry.notify(0);
    std::vector<int> expected;
    for (int i = 0; i < handlers; ++i)
        expected.push_back(i);
    CHECK_EQ(calls, expected);
    for (rio::HandlerId id : ids)
        CHECK(registry.remove(id));
    CHECK(registry.isEmpty());
    calls.clear();
    registry.notify(0);
    CHECK(calls.empty());
    CHECK_EQ(rio::Registry<int>().capacityHint(), std::size_t{0});
}

// Empty callables are refused with std::invalid_argument. The registry is unchanged: same
// size, same handlers called, and a refused add does not use up an id.
RIO_TEST(emptyCallablesAreRefused)
{
    rio::Registry<int> registry;
    int calls = 0;
    const rio::HandlerId existing = registry.add([&calls] { ++calls; });

    std::function<void(const int &)> emptyFunction;
    std::function<void()> emptyNoArgs;
    void (*nullPointer)(const int &) = nullptr;
    void (*nullNoArgs)() = nullptr;

    CHECK_THROWS(std::invalid_argument, registry.add(emptyFunction));
    CHECK_THROWS(std::invalid_argument, registry.add(std::function<void(const int &)>{}, 5));
    CHECK_THROWS(std::invalid_argument, registry.add(emptyNoArgs));
    CHECK_THROWS(std::invalid_argument, registry.add(nullPointer));
    CHECK_THROWS(std::invalid_argument, registry.add(nullNoArgs));
    CHECK_THROWS(std::invalid_argument, registry.addOnce(emptyFunction));
    CHECK_THROWS(std::invalid_argument, registry.addOnce(nullPointer));
    CHECK_THROWS(std::invalid_argument, registry.addOnce(emptyNoArgs, -1));
    CHECK_THROWS(std::invalid_argument, (void)registry.addScoped(emptyFunction));
    CHECK_THROWS(std::invalid_argument, (void)registry.addScoped(nullNoArgs));

    CHECK_EQ(registry.size(), std::size_t{1});
    CHECK(registry.contains(existing));
    registry.notify(0);
    CHECK_EQ(calls, 1);
    // Non-empty callables of the same kinds are accepted, and ids continue without a gap.
    CHECK_EQ(registry.add(&countCall).value(), existing.value() + 1);
    CHECK_EQ(registry.add(&countCallNoArgs).value(), existing.value() + 2);
    CHECK_EQ(registry.add(std::function<void()>([&calls] { ++calls; })).value(), existing.value() + 3);
    CHECK_EQ(registry.size(), std::size_t{4});
    registry.notify(0);
    CHECK_EQ(calls, 3);
}

RIO_TEST(emptyExceptionHandlerIsRefused)
{
    rio::Registry<int> registry;
    std::vector<rio::HandlerId> reported;
    registry.setExceptionHandler(
        [&reported](const rio::ExceptionInfo &info) { reported.push_back(info.handlerId); });
    std::function<void(const rio::ExceptionInfo &)> emptyFunction;
    void (*nullPointer)(const rio::ExceptionInfo &) = nullptr;
    CHECK_THROWS(std::invalid_argument, registry.setExceptionHandler(emptyFunction));
    CHECK_THROWS(std::invalid_argument, registry.setExceptionHandler(nullPointer));
    // The callback set before is still in effect.
    const rio::HandlerId thrower = registry.add([] { throw std::runtime_error("x"); });
    registry.notify(0);
    CHECK_EQ(reported, std::vector<rio::HandlerId>{thrower});
}

RIO_TEST(removeOfInvalidUnknownOrStaleIdIsFalse)
{
    rio::Registry<int> registry;
    CHECK(!registry.remove(rio::HandlerId{}));
    CHECK(!registry.remove(rio::HandlerId{1})); // not handed out yet
    int calls = 0;
    const rio::HandlerId a = registry.add([&calls] { ++calls; });
    const rio::HandlerId b = registry.add([&calls] { ++calls; });
    CHECK(!registry.remove(rio::HandlerId{}));
    CHECK(!registry.remove(rio::HandlerId{b.value() + 1}));
    CHECK(!registry.remove(rio::HandlerId{~std::uint64_t{0}}));
    CHECK_EQ(registry.size(), std::size_t{2});
    CHECK(registry.remove(a));
    CHECK(!registry.remove(a)); // stale: true the first time only
    CHECK(!registry.removeAndWait(a));
    CHECK_EQ(registry.size(), std::size_t{1});
    registry.notify(0);
    CHECK_EQ(calls, 1);

    // An id of another registry is unknown here, even when the value exists there.
    rio::Registry<int> other;
    const rio::HandlerId foreign = other.add([] { });
    CHECK(!registry.remove(rio::HandlerId{foreign.value() + 100}));
    CHECK(registry.contains(b));
}

// removeAndWait of an id that is not registered (invalid, never handed out, or removed and
// not running) returns false without waiting, even while a notify is blocked inside ANOTHER
// handler of the same registry on another thread: it waits only for notifies running that
// handler (waiting for the blocked one would hang until released). The stale one's closure
// is destroyed before it returns.
RIO_TEST(removeAndWaitOfUnknownIdReturnsAtOnce)
{
    rio::Registry<int> registry;
    rio::check::Latch entered(1);
    rio::check::Latch release(1);
    const rio::HandlerId blocker = registry.add([&] {
        entered.count_down();
        release.wait();
    });
    const rio::HandlerId stale = registry.add([] { });
    CHECK(registry.remove(stale));
    std::thread notifier([&registry] { registry.notify(1); });
    entered.wait();

    CHECK_EQ(registry.pendingCount(), std::size_t{1}); // the stale closure waits
    auto attempt = std::async(std::launch::async, [&] {
        return !registry.removeAndWait(rio::HandlerId{}) &&
               !registry.removeAndWait(rio::HandlerId{stale.value() + 100}) &&
               !registry.removeAndWait(stale) && registry.pendingCount() == 0;
    });
    // KNOWN LIMITATION of the fallback fence mode: there the stale handler counts as running
    // for the blocked notify, which holds an array with it, so the call waits (reported).
    const bool fallback =
        rio::detail::hazard::fenceMode() == rio::detail::hazard::FenceMode::Fallback && !rio::test::underTsan;
    // A generous bound that only matters when the code is wrong: then it would hang.
    const bool returned =
        attempt.wait_for(std::chrono::seconds(fallback ? 3 : 30)) == std::future_status::ready;
    release.count_down();
    notifier.join();
    if (fallback)
        EXPECT_FAIL("fallback fence mode: waits for a notify holding the handler's array");
    CHECK_MSG(returned, "removeAndWait of an unknown id waited for a running notify");
    CHECK(attempt.get());
    CHECK(registry.contains(blocker));
    CHECK_EQ(registry.size(), std::size_t{1});
}

// pendingCount() is per registry and pendingCountAll() their sum; a registry's call never
// reclaims another registry's objects. A pass runs once passBatch objects are pending (here no
// reader holds anything, so it frees all of them); remove() alone destroys nothing before.
RIO_TEST(pendingCountsPerRegistryAndThePassThreshold)
{
    CHECK_EQ(rio::detail::pendingCountAll(), std::size_t{0});
    // Room for every add (appends, no copy-on-write) and enough live handlers that the
    // tombstones never trigger a compaction: only removed handlers are pending.
    rio::Registry<int> a(1024);
    rio::Registry<int> b(1024);
    for (std::size_t i = 0; i < 2 * rio::detail::passBatch; ++i) {
        a.add([] { });
        b.add([] { });
    }
    CHECK_EQ(a.pendingCount(), std::size_t{0});
    for (int i = 0; i < 10; ++i)
        CHECK(a.remove(a.add([] { })));
    for (int i = 0; i < 5; ++i)
        CHECK(b.remove(b.add([] { })));
    CHECK_EQ(a.pendingCount(), std::size_t{10});
    CHECK_EQ(b.pendingCount(), std::size_t{5});
    CHECK_EQ(rio::detail::pendingCountAll(), std::size_t{15});
    b.synchronize();
    CHECK_EQ(b.pendingCount(), std::size_t{0});
    CHECK_EQ(a.pendingCount(), std::size_t{10}); // not reclaimed by b's call
    CHECK_EQ(rio::detail::pendingCountAll(), std::size_t{10});

    int destroyed = 0;
    struct Count
    {
        int *destroyed;
        bool active = true;
        explicit Count(int *d) : destroyed(d) { }
        Count(Count &&o) noexcept : destroyed(o.destroyed), active(std::exchange(o.active, false)) { }
        ~Count()
        {
            if (active)
                ++*destroyed;
        }
    };
    while (a.pendingCount() < rio::detail::passBatch - 1)
        CHECK(a.remove(a.add([c = Count(&destroyed)] { })));
    CHECK_EQ(destroyed, 0);
    CHECK(a.remove(a.add([c = Count(&destroyed)] { }))); // the last of the batch: a pass
    CHECK_EQ(a.pendingCount(), std::size_t{0});
    const int batchDestroyed = static_cast<int>(rio::detail::passBatch) - 10; // a's first 10 had no Count
    CHECK_EQ(destroyed, batchDestroyed);

    // A once-handler that fires is pending until a reclaiming call; removeAndWait of its id
    // returns false (this call did not remove it) and destroys it.
    const rio::HandlerId once = a.addOnce([c = Count(&destroyed)] { });
    a.notify(0);
    CHECK(!a.contains(once));
    CHECK_EQ(a.pendingCount(), std::size_t{1});
    CHECK_EQ(destroyed, batchDestroyed);
    CHECK(!a.removeAndWait(once));
    CHECK_EQ(destroyed, batchDestroyed + 1);
    CHECK_EQ(a.pendingCount(), std::size_t{0});
    CHECK_EQ(rio::detail::pendingCountAll(), std::size_t{0});
}

// The batch is bounded in bytes too: one removed closure of more than 64 KiB is reclaimed
// by the removal that retires it.
RIO_TEST(aLargeClosureIsReclaimedByItsRemoval)
{
    rio::Registry<int> registry(16);
    registry.add([] { });
    std::array<char, 70 * 1024> big{};
    big[1] = 1;
    const rio::HandlerId id = registry.add([big](const int &) { (void)big[1]; });
    CHECK(registry.remove(id));
    CHECK_EQ(registry.pendingCount(), std::size_t{0});
}
