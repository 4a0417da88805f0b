// SPDX-License-Identifier: MIT
// Single-threaded guarantees of rio::Registry, with std:: only (see rio_check.h): priority order,
// removal, once-handlers, exception isolation, guards (also outliving their registry).
#include "rio_check.h"

#include <registryio/handler_guard.h>
#include <registryio/registry.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {
using Calls = std::vector<std::string>;

std::string joined(const Calls &calls)
{
    std::string s;
    for (const std::string &c : calls)
        s += c + ' ';
    return s;
}

// Constructed during static initialisation, before main and in no order with the core library's
// own initialisers (in a static link they may run later): the inline constructor reads the
// exported empty array, which is constant initialised and so already set.
struct StaticUser
{
    rio::Registry<int> registry;
    bool emptyAtStart = registry.isEmpty() && registry.size() == 0;
};
StaticUser staticUser;
} // namespace

RIO_TEST(notifyCallsEveryHandlerWithTheEvent)
{
    rio::Registry<int> registry;
    int sum = 0;
    int bare = 0;
    registry.add([&sum](const int &e) { sum += e; });
    registry.add([&sum](const int &e) { sum += 10 * e; });
    registry.add([&bare] { ++bare; });
    CHECK_EQ(registry.size(), std::size_t{3});
    registry.notify(2);
    CHECK_EQ(sum, 22);
    CHECK_EQ(bare, 1);
}

RIO_TEST(higherPriorityFirstAndTiesInInsertionOrder)
{
    rio::Registry<int> registry;
    Calls calls;
    registry.add([&calls] { calls.push_back("low"); }, -5);
    registry.add([&calls] { calls.push_back("a10"); }, 10);
    registry.add([&calls] { calls.push_back("zero"); });
    registry.add([&calls] { calls.push_back("b10"); }, 10);
    registry.add([&calls] { calls.push_back("top"); }, 100);
    registry.notify(0);
    CHECK_EQ(joined(calls), std::string("top a10 b10 zero low "));
}

RIO_TEST(removeIsTrueOnceAndTheHandlerIsNotCalledAgain)
{
    rio::Registry<int> registry;
    Calls calls;
    const rio::HandlerId a = registry.add([&calls] { calls.push_back("a"); });
    registry.add([&calls] { calls.push_back("b"); });
    CHECK(registry.contains(a));
    CHECK(registry.remove(a));
    CHECK(!registry.remove(a));
    CHECK(!registry.contains(a));
    CHECK(!registry.remove(rio::HandlerId{}));
    registry.notify(0);
    CHECK_EQ(joined(calls), std::string("b "));
    CHECK(registry.removeAndWait(registry.add([] { })));
    CHECK_EQ(registry.size(), std::size_t{1});
    registry.clear();
    CHECK(registry.isEmpty());
}

RIO_TEST(emptyHandlerIsRefusedAndChangesNothing)
{
    rio::Registry<int> registry;
    registry.add([] { });
    bool threw = false;
    try {
        registry.add(static_cast<void (*)(const int &)>(nullptr));
    } catch (const std::invalid_argument &) {
        threw = true;
    }
    CHECK(threw);
    CHECK_EQ(registry.size(), std::size_t{1});
}

RIO_TEST(onceHandlerRunsOnce)
{
    rio::Registry<int> registry;
    int once = 0;
    int always = 0;
    registry.addOnce([&once] { ++once; });
    registry.add([&always] { ++always; });
    registry.notify(0);
    registry.notify(0);
    CHECK_EQ(once, 1);
    CHECK_EQ(always, 2);
    CHECK_EQ(registry.size(), std::size_t{1});
}

RIO_TEST(throwingHandlersAreIsolatedAndReported)
{
    rio::Registry<int> registry;
    Calls calls;
    std::vector<rio::HandlerId> failed;
    std::string message;
    registry.setExceptionHandler([&](const rio::ExceptionInfo &info) {
        failed.push_back(info.handlerId);
        if (!info.message.empty())
            message = info.message;
    });
    registry.add([&calls] { calls.push_back("first"); }, 3);
    const rio::HandlerId stdThrower = registry.add([]() { throw std::runtime_error("boom"); }, 2);
    const rio::HandlerId other = registry.add([]() { throw 42; }, 1);
    registry.add([&calls] { calls.push_back("last"); }, 0);
    registry.notify(0); // must not throw
    CHECK_EQ(joined(calls), std::string("first last "));
    CHECK_EQ(failed.size(), std::size_t{2});
    CHECK(failed.size() == 2 && failed[0] == stdThrower && failed[1] == other);
    CHECK_EQ(message, std::string("boom"));

    registry.clearExceptionHandler();
    registry.notify(0); // silently isolated
    CHECK_EQ(calls.size(), std::size_t{4});
}

RIO_TEST(guardRemovesItsHandlerWhenDestroyed)
{
    rio::Registry<int> registry;
    int calls = 0;
    {
        rio::HandlerGuard guard = registry.addScoped([&calls] { ++calls; });
        CHECK(guard.isActive());
        registry.notify(0);
    }
    registry.notify(0);
    CHECK_EQ(calls, 1);
    CHECK(registry.isEmpty());

    rio::HandlerGuard kept = registry.addScoped([&calls] { ++calls; });
    const rio::HandlerId id = kept.release();
    CHECK(!kept.isActive());
    CHECK(registry.contains(id));
}

RIO_TEST(guardOutlivesItsRegistry)
{
    auto registry = std::make_unique<rio::Registry<int>>();
    int calls = 0;
    rio::HandlerGuard guard = registry->addScoped([&calls] { ++calls; });
    rio::HandlerGuard moved = std::move(guard);
    registry->notify(0);
    registry.reset();
    // A moved-from guard is documented to be empty.
    CHECK(!guard.isActive()); // NOLINT(bugprone-use-after-move,clang-analyzer-cplusplus.Move)
    CHECK(moved.isActive());
    CHECK(!moved.reset()); // the registry is gone: nothing to remove, no crash
    CHECK(!moved.isActive());
    CHECK_EQ(calls, 1);
}

RIO_TEST(closuresAreDestroyedAtTheLatestWithTheirRegistry)
{
    auto alive = std::make_shared<int>(0);
    {
        rio::Registry<int> registry;
        for (int i = 0; i < 10; ++i)
            registry.add([alive] { ++*alive; });
        registry.remove(registry.add([alive] { }));
        registry.notify(0);
        CHECK_EQ(*alive, 10);
    }
    CHECK_EQ(alive.use_count(), 1L);
}

// A registry constructed before main (staticUser above) starts empty and works.
RIO_TEST(registryBuiltDuringStaticInitialisationWorks)
{
    CHECK(staticUser.emptyAtStart);
    int calls = 0;
    const rio::HandlerId id = staticUser.registry.add([&calls] { ++calls; });
    staticUser.registry.notify(1);
    CHECK_EQ(calls, 1);
    CHECK(staticUser.registry.remove(id));
    CHECK(staticUser.registry.isEmpty());
}

// A capacity hint above 2^20 is clamped there: the registry neither refuses it nor reserves
// memory for it.
RIO_TEST(hugeCapacityHintIsClamped)
{
    rio::Registry<int> registry(~std::size_t{0});
    CHECK_EQ(registry.capacityHint(), std::size_t{1} << 20);
    int calls = 0;
    const rio::HandlerId id = registry.add([&calls] { ++calls; });
    registry.notify(1);
    CHECK_EQ(calls, 1);
    CHECK(registry.remove(id));
}

// An empty registry is small (its writer state is allocated by the first add), and one that
// never had a handler answers every call as an empty registry does, then works normally.
RIO_TEST(unwrittenRegistryIsSmallAndBehavesEmpty)
{
    CHECK(sizeof(rio::Registry<int>) <= 64);
    rio::Registry<int> registry;
    CHECK(registry.isEmpty());
    CHECK(!registry.contains(rio::HandlerId{1}));
    CHECK(!registry.remove(rio::HandlerId{1}));
    CHECK(!registry.removeAndWait(rio::HandlerId{1}));
    CHECK(!registry.connection(rio::HandlerId{1}).isConnected());
    registry.synchronize();
    registry.clear();
    int calls = 0;
    const rio::HandlerId id = registry.add([&calls] { ++calls; });
    registry.notify(1);
    CHECK_EQ(calls, 1);
    CHECK(registry.remove(id));
    registry.notify(1);
    CHECK_EQ(calls, 1);
}
