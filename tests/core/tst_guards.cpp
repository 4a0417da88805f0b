// SPDX-License-Identifier: MIT
// HandlerGuard: RAII removal, release(), reset(), moves, and guards that outlive their registry.
#include "rio_check.h"
#include <registryio/registry.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace {

// A registry member and a guard member in the two possible declaration orders.
struct GuardAfterRegistry
{
    rio::Registry<int> registry;
    rio::HandlerGuard guard; // destroyed first: removes its handler from a live registry
    int seen = 0;
    GuardAfterRegistry()
    {
        guard = registry.addScoped([this](const int &v) { seen += v; });
    }
};

struct GuardBeforeRegistry
{
    rio::HandlerGuard guard; // destroyed last: its registry is gone, the guard is inert
    rio::Registry<int> registry;
    int seen = 0;
    GuardBeforeRegistry()
    {
        guard = registry.addScoped([this](const int &v) { seen += v; });
    }
};

// An object subscribed to someone else's registry through a member guard.
class Subscriber
{
public:
    Subscriber(rio::Registry<int> &source, std::vector<int> &log)
        : m_log(log), m_guard(source.addScoped([this](const int &v) { m_log.push_back(v + m_offset); }))
    { }
    rio::HandlerId id() const { return m_guard.id(); }

private:
    std::vector<int> &m_log;
    int m_offset = 100;
    rio::HandlerGuard m_guard;
};

} // namespace

RIO_TEST(guardIsMoveOnly)
{
    static_assert(!std::is_copy_constructible_v<rio::HandlerGuard>);
    static_assert(!std::is_copy_assignable_v<rio::HandlerGuard>);
    static_assert(std::is_nothrow_move_constructible_v<rio::HandlerGuard>);
    static_assert(std::is_nothrow_move_assignable_v<rio::HandlerGuard>);
    CHECK(std::is_nothrow_move_constructible_v<rio::HandlerGuard>);
}

RIO_TEST(defaultGuardIsEmpty)
{
    rio::HandlerGuard guard;
    CHECK(!guard.isActive());
    CHECK(!guard.id().isValid());
    CHECK(!guard.reset());
    CHECK(!guard.release().isValid());
}

RIO_TEST(removesOnDestruction)
{
    rio::Registry<int> registry;
    int calls = 0;
    rio::HandlerId id;
    {
        rio::HandlerGuard guard = registry.addScoped([&calls] { ++calls; });
        CHECK(guard.isActive());
        id = guard.id();
        CHECK(id.isValid());
        CHECK(registry.contains(id));
        registry.notify(0);
        CHECK_EQ(calls, 1);
    }
    CHECK(!registry.contains(id));
    CHECK(registry.isEmpty());
    registry.notify(0);
    CHECK_EQ(calls, 1);
    CHECK(!registry.remove(id));
}

RIO_TEST(releaseKeepsTheHandler)
{
    rio::Registry<int> registry;
    int calls = 0;
    rio::HandlerId id;
    {
        rio::HandlerGuard guard = registry.addScoped([&calls] { ++calls; });
        const rio::HandlerId expected = guard.id();
        id = guard.release();
        CHECK_EQ(id, expected);
        CHECK(!guard.isActive());
        CHECK(!guard.id().isValid());
        CHECK(!guard.release().isValid()); // second release: nothing left
        CHECK(!guard.reset());
    }
    CHECK(registry.contains(id));
    registry.notify(0);
    CHECK_EQ(calls, 1);
    CHECK(registry.remove(id));
}

RIO_TEST(resetRemovesNow)
{
    rio::Registry<int> registry;
    int calls = 0;
    rio::HandlerGuard guard = registry.addScoped([&calls] { ++calls; });
    const rio::HandlerId id = guard.id();
    CHECK(guard.reset());
    CHECK(!guard.isActive());
    CHECK(!registry.contains(id));
    CHECK(!guard.reset());
    registry.notify(0);
    CHECK_EQ(calls, 0);
}

RIO_TEST(resetAfterManualRemoveIsFalse)
{
    rio::Registry<int> registry;
    rio::HandlerGuard guard = registry.addScoped([] { });
    CHECK(registry.remove(guard.id()));
    CHECK(!guard.reset());
    CHECK(!guard.isActive());

    rio::HandlerGuard cleared = registry.addScoped([] { });
    registry.clear();
    CHECK(!cleared.reset());
}

RIO_TEST(moveConstruct)
{
    rio::Registry<int> registry;
    int calls = 0;
    std::optional<rio::HandlerGuard> source(registry.addScoped([&calls] { ++calls; }));
    const rio::HandlerId id = source->id();
    rio::HandlerGuard target(std::move(*source));
    CHECK(!source->isActive());
    CHECK(!source->id().isValid());
    CHECK_EQ(target.id(), id);
    CHECK(target.isActive());
    source.reset(); // destroying the moved-from guard removes nothing
    CHECK(registry.contains(id));
    registry.notify(0);
    CHECK_EQ(calls, 1);
    CHECK(target.reset());
    CHECK(!registry.contains(id));
}

RIO_TEST(moveAssignOverActiveGuardRemovesItsHandler)
{
    rio::Registry<int> registry;
    std::vector<char> calls;
    rio::HandlerGuard a = registry.addScoped([&calls] { calls.push_back('a'); });
    rio::HandlerGuard b = registry.addScoped([&calls] { calls.push_back('b'); });
    const rio::HandlerId idA = a.id();
    const rio::HandlerId idB = b.id();
    a = std::move(b);
    CHECK(!registry.contains(idA)); // a's old handler went
    CHECK(registry.contains(idB));
    CHECK_EQ(a.id(), idB);
    CHECK(!b.isActive());
    registry.notify(0);
    CHECK_EQ(calls, std::vector<char>{'b'});

    rio::HandlerGuard empty;
    a = std::move(empty); // assigning an empty guard removes too, and leaves `a` empty
    CHECK(!a.isActive());
    CHECK(registry.isEmpty());
}

RIO_TEST(moveAssignIntoEmptyGuardTakesTheHandlerOver)
{
    rio::Registry<int> registry;
    int calls = 0;
    rio::HandlerGuard guard; // empty: the assignment takes no removal path
    rio::HandlerGuard source = registry.addScoped([&calls] { ++calls; });
    const rio::HandlerId id = source.id();
    guard = std::move(source);
    CHECK(!source.isActive());
    CHECK_EQ(guard.id(), id);
    registry.notify(0);
    CHECK_EQ(calls, 1);
    rio::HandlerGuard &alias = source;
    source = std::move(alias); // an empty guard assigned to itself stays empty
    CHECK(!source.isActive());
    CHECK_EQ(guard.id(), id);
    CHECK(registry.contains(id));
    source = std::move(guard); // moves on; dropping the last holder removes it
    CHECK(!guard.isActive());
    source.reset();
    CHECK(registry.isEmpty());
}

RIO_TEST(moveAssignToSelfKeepsTheHandler)
{
    rio::Registry<int> registry;
    rio::HandlerGuard guard = registry.addScoped([] { });
    const rio::HandlerId id = guard.id();
    rio::HandlerGuard &alias = guard;
    guard = std::move(alias);
    CHECK(guard.isActive());
    CHECK_EQ(guard.id(), id);
    CHECK(registry.contains(id));
}

RIO_TEST(moveAcrossRegistries)
{
    rio::Registry<int> first;
    rio::Registry<int> second;
    rio::HandlerGuard guard = first.addScoped([] { });
    const rio::HandlerId firstId = guard.id();
    guard = second.addScoped([] { });
    CHECK(!first.contains(firstId)); // the old handler was removed from the first registry
    CHECK(second.contains(guard.id()));
    CHECK_EQ(first.size(), std::size_t{0});
    guard.reset();
    CHECK_EQ(second.size(), std::size_t{0});
}

RIO_TEST(registryDestroyedFirst)
{
    auto registry = std::make_unique<rio::Registry<int>>();
    rio::HandlerGuard guard = registry->addScoped([] { });
    rio::HandlerGuard second = registry->addScoped([] { });
    rio::HandlerGuard third = registry->addScoped([] { });
    const rio::HandlerId id = guard.id();
    registry.reset();        // freed: a guard touching it now would be a use-after-free (ASan)
    CHECK(guard.isActive()); // still holds its id, but can no longer reach a registry
    CHECK_EQ(guard.id(), id);
    CHECK(!guard.reset());
    CHECK(!guard.isActive());
    rio::HandlerGuard moved(std::move(second));
    CHECK(moved.isActive());
    CHECK(third.release().isValid());
    // `moved` is destroyed at scope end, after its registry: inert.
}

RIO_TEST(registryOnTheStackDestroyedFirst)
{
    std::optional<rio::HandlerGuard> guard;
    {
        rio::Registry<int> registry;
        guard.emplace(registry.addScoped([] { }));
        CHECK_EQ(registry.size(), std::size_t{1});
    }
    guard.reset(); // destroyed after the registry's scope ended
    CHECK(!guard.has_value());
}

RIO_TEST(manyGuards)
{
    rio::Registry<int> registry;
    int calls = 0;
    std::vector<rio::HandlerGuard> guards;
    for (int i = 0; i < 1000; ++i)
        guards.push_back(registry.addScoped([&calls] { ++calls; }, i % 7));
    CHECK_EQ(registry.size(), std::size_t{1000});
    registry.notify(0);
    CHECK_EQ(calls, 1000);

    std::vector<rio::HandlerGuard> kept;
    std::vector<rio::HandlerId> dropped;
    for (std::size_t i = 0; i < guards.size(); ++i) {
        if (i % 2)
            kept.push_back(std::move(guards[i]));
        else
            dropped.push_back(guards[i].id());
    }
    guards.clear(); // destroys 500 active guards and 500 moved-from ones
    CHECK_EQ(registry.size(), std::size_t{500});
    for (rio::HandlerId id : dropped)
        CHECK(!registry.contains(id));
    for (const rio::HandlerGuard &g : kept)
        CHECK(registry.contains(g.id()));
    calls = 0;
    registry.notify(0);
    CHECK_EQ(calls, 500);
    kept.clear();
    CHECK(registry.isEmpty());
}

RIO_TEST(guardAndRegistryAsMembers)
{
    {
        GuardAfterRegistry object;
        object.registry.notify(3);
        CHECK_EQ(object.seen, 3);
        CHECK_EQ(object.registry.size(), std::size_t{1});
    }
    {
        GuardBeforeRegistry object;
        object.registry.notify(4);
        CHECK_EQ(object.seen, 4);
    }
    {
        auto object = std::make_unique<GuardAfterRegistry>();
        std::unique_ptr<GuardAfterRegistry> movedOut = std::move(object);
        movedOut->registry.notify(5);
        CHECK_EQ(movedOut->seen, 5);
    }
}

RIO_TEST(subscriberDiesBeforeItsSource)
{
    rio::Registry<int> source;
    std::vector<int> log;
    rio::HandlerId id;
    {
        Subscriber subscriber(source, log);
        id = subscriber.id();
        source.notify(1);
    }
    CHECK(!source.contains(id));
    source.notify(2); // would touch the dead subscriber if the guard had not removed it
    CHECK_EQ(log, std::vector<int>{101});
}

RIO_TEST(guardDestroyedInsideItsOwnHandler)
{
    rio::Registry<int> registry;
    std::vector<char> calls;
    std::optional<rio::HandlerGuard> guard;
    guard.emplace(registry.addScoped([&calls, &guard] {
        calls.push_back('s');
        guard.reset(); // destroys the guard, which removes this very handler mid-call
        calls.push_back('e');
    }));
    registry.add([&calls] { calls.push_back('x'); }, -1);
    registry.notify(0);
    registry.notify(0);
    CHECK_EQ(calls, (std::vector<char>{'s', 'e', 'x', 'x'}));
    CHECK_EQ(registry.size(), std::size_t{1});
}

RIO_TEST(guardOfAnotherHandlerResetInsideAHandler)
{
    rio::Registry<int> registry;
    std::vector<char> calls;
    rio::HandlerGuard later = registry.addScoped([&calls] { calls.push_back('l'); }, -1);
    registry.add([&calls, &later] {
        calls.push_back('f');
        later.reset();
    });
    registry.notify(0); // `later` is removed before this notify reaches it: skipped
    registry.notify(0);
    CHECK_EQ(calls, (std::vector<char>{'f', 'f'}));
}

// A closure that owns a guard of the same registry: removing it destroys the closure, whose
// guard then removes the second handler. Reclamation runs closures outside every lock.
RIO_TEST(closureOwningAGuardOfTheSameRegistry)
{
    rio::Registry<int> registry;
    rio::HandlerGuard inner = registry.addScoped([] { });
    const rio::HandlerId innerId = inner.id();
    auto owned = std::make_shared<rio::HandlerGuard>(std::move(inner));
    const rio::HandlerId outer = registry.add([owned] { });
    owned.reset();
    CHECK_EQ(registry.size(), std::size_t{2});
    CHECK(registry.remove(outer));
    registry.synchronize();
    CHECK(!registry.contains(innerId));
    CHECK(registry.isEmpty());

    // The same at registry destruction: the guard finds its registry detached, no deadlock.
    auto dying = std::make_unique<rio::Registry<int>>();
    auto held = std::make_shared<rio::HandlerGuard>(dying->addScoped([] { }));
    dying->add([held] { });
    held.reset();
    dying.reset();
    CHECK(!dying);
}

// A guard's destruction that runs a reclaim pass: a closure destructor of that pass resets the
// very guard being destroyed (a member function called from within its destructor). The guard is
// already empty there, so the reset gives up nothing: its registry's state stays held by the
// other guard until that one lets go (a hold given up twice would free the state under it).
RIO_TEST(guardResetFromAClosureDestructorItsOwnDropRuns)
{
    struct ResetsDyingGuard
    {
        rio::HandlerGuard **dying;
        int *resets;
        bool *wasActive;
        void operator()() const { }
        ResetsDyingGuard(rio::HandlerGuard **d, int *r, bool *a) : dying(d), resets(r), wasActive(a) { }
        ResetsDyingGuard(ResetsDyingGuard &&o) noexcept
            : dying(std::exchange(o.dying, nullptr)), resets(o.resets), wasActive(o.wasActive)
        { }
        ResetsDyingGuard &operator=(ResetsDyingGuard &&) = delete;
        ~ResetsDyingGuard()
        {
            if (dying == nullptr || *dying == nullptr)
                return;
            ++*resets;
            *wasActive = (*dying)->isActive();
            CHECK(!(*dying)->reset());
        }
    };
    // Room for every handler: adds publish no array and each removal below retires one object.
    auto registry = std::make_unique<rio::Registry<int>>(512);
    rio::HandlerGuard other = registry->addScoped([] { }); // a second hold on the state
    std::vector<rio::HandlerId> ids;
    for (int i = 0; i < 300; ++i)
        ids.push_back(registry->add([] { }));
    rio::HandlerGuard *dying = nullptr;
    int resets = 0;
    bool wasActive = true;
    CHECK(registry->remove(registry->add(ResetsDyingGuard(&dying, &resets, &wasActive))));
    auto guard = std::make_unique<rio::HandlerGuard>(registry->addScoped([] { }));
    // 127 objects pending: the guard's removal makes the 128th, and its drop runs the pass.
    for (std::size_t i = 0; registry->pendingCount() + 1 < 128; ++i)
        CHECK(registry->remove(ids.at(i)));
    dying = guard.get();
    guard.reset();
    dying = nullptr;
    CHECK_EQ(resets, 1);
    CHECK(!wasActive);
    registry.reset();
    CHECK(!other.reset()); // inert, its hold still valid
}

RIO_TEST(guardDestroyedOnAnotherThread)
{
    rio::Registry<int> registry;
    auto guard = registry.addScoped([] { });
    const rio::HandlerId id = guard.id();
    std::thread([g = std::move(guard)]() mutable { g.reset(); }).join();
    CHECK(!registry.contains(id));
    CHECK(registry.isEmpty());
}

namespace {

// Adds `count` handlers and removes them again. Their id-map entries stay until a pass destroys them and a
// later add drops them in a batch, which moves every later entry towards the front.
void churnIdMap(rio::Registry<int> &registry, int count)
{
    std::vector<rio::HandlerId> ids;
    for (int i = 0; i < count; ++i)
        ids.push_back(registry.add([] { }));
    for (rio::HandlerId id : ids)
        registry.remove(id);
    registry.synchronize(); // destroys them: their entries may now be dropped
}

} // namespace

// A guard keeps a hint of where its registry's id map held its handler. Entries move when a
// batch drops destroyed handlers' entries; the hint's index may then hold another live handler.
// The guard must remove its own handler, never that one.
RIO_TEST(guardWithMovedEntryRemovesItsOwnHandler)
{
    rio::Registry<int> registry;
    std::vector<int> calls(400, 0);
    // Index 100 of the id map holds the guarded handler (100 entries come first).
    std::vector<rio::HandlerId> before;
    for (int i = 0; i < 100; ++i)
        before.push_back(registry.add([&calls, i] { ++calls[i]; }));
    rio::HandlerGuard guard = registry.addScoped([&calls] { ++calls[399]; }, 3);
    for (rio::HandlerId id : before)
        registry.remove(id);
    registry.synchronize();
    // The next add drops the 100 entries: the guard's entry moves to the front, and 150 more
    // handlers (some inserted inside the order) fill index 100 and beyond again.
    std::vector<rio::HandlerId> after;
    for (int i = 100; i < 250; ++i)
        after.push_back(registry.add([&calls, i] { ++calls[i]; }, i % 5));
    CHECK_EQ(registry.size(), std::size_t{151});

    CHECK(guard.reset());
    CHECK_EQ(registry.size(), std::size_t{150});
    registry.notify(0);
    CHECK_EQ(calls[399], 0);
    for (int i = 100; i < 250; ++i)
        CHECK_EQ(calls[i], 1);
    for (rio::HandlerId id : after)
        CHECK(registry.contains(id));
}

// A guard whose handler was removed by id keeps its hint; once the entry moved and another
// handler took the hint's index, the guard's drop must leave that handler alone.
RIO_TEST(guardOfRemovedHandlerLeavesTheHandlerAtItsHint)
{
    rio::Registry<int> registry;
    std::vector<rio::HandlerId> before;
    for (int i = 0; i < 60; ++i)
        before.push_back(registry.add([] { }));
    int guardedCalls = 0;
    rio::HandlerGuard guard = registry.addScoped([&guardedCalls] { ++guardedCalls; });
    CHECK(registry.remove(guard.id()));
    for (rio::HandlerId id : before)
        registry.remove(id);
    registry.synchronize();
    int laterCalls = 0;
    std::vector<rio::HandlerId> later;
    for (int i = 0; i < 100; ++i)
        later.push_back(registry.add([&laterCalls] { ++laterCalls; }));
    CHECK_EQ(registry.size(), std::size_t{100});

    CHECK(!guard.reset());
    CHECK_EQ(registry.size(), std::size_t{100});
    for (rio::HandlerId id : later)
        CHECK(registry.contains(id));
    registry.notify(0);
    CHECK_EQ(laterCalls, 100);
    CHECK_EQ(guardedCalls, 0);
}

// Guards of several priorities dropped in a scrambled order while plain handlers come and go,
// the array is compacted and copied and the id map drops entries in batches: after every drop
// exactly the expected handlers remain and run.
RIO_TEST(guardsDroppedAcrossCompactionsAndBatches)
{
    rio::Registry<int> registry;
    constexpr int guardCount = 120;
    std::vector<int> calls(guardCount, 0);
    std::vector<std::optional<rio::HandlerGuard>> guards(guardCount);
    std::vector<bool> live(guardCount, false);
    for (int i = 0; i < guardCount; ++i) {
        guards[i].emplace(registry.addScoped([&calls, i] { ++calls[i]; }, (i * 7) % 4));
        live[i] = true;
        if (i % 10 == 9)
            churnIdMap(registry, 40);
    }
    for (int step = 0; step < guardCount; ++step) {
        const int victim = (step * 37) % guardCount; // 37 is coprime with 120: each once
        CHECK(guards[victim]->reset());
        live[victim] = false;
        if (step % 15 == 14)
            churnIdMap(registry, 40);
        std::fill(calls.begin(), calls.end(), 0);
        registry.notify(0);
        for (int i = 0; i < guardCount; ++i)
            CHECK_EQ(calls[i], live[i] ? 1 : 0);
    }
    CHECK(registry.isEmpty());
}

// Guards hold their registry's writer state, not the registry: threads dropping guards (each
// drop may run a reclaim pass, which lets go of the lock for its fence) race the registry's
// destruction. Every closure is destroyed exactly once, and nothing is touched after it is freed
// (AddressSanitizer, ThreadSanitizer): the state lives until its last guard lets go.
RIO_TEST(registryDiesWhileOtherThreadsDropGuards)
{
    for (int round = 0; round < 20; ++round) {
        auto registry = std::make_unique<rio::Registry<int>>();
        auto token = std::make_shared<int>(0); // each capturing closure holds a copy
        constexpr int perThread = 150;
        std::vector<std::vector<rio::HandlerGuard>> guards(2);
        for (auto &own : guards) {
            for (int i = 0; i < perThread; ++i) {
                if (i % 2 == 0)
                    own.push_back(registry->addScoped([token](const int &) { }));
                else
                    own.push_back(registry->addScoped([](const int &) { })); // a plain closure
            }
        }
        rio::check::Latch start(3);
        std::vector<std::thread> threads;
        for (auto &own : guards) {
            threads.emplace_back([&start, mine = std::move(own)]() mutable {
                start.arrive_and_wait();
                while (!mine.empty())
                    mine.pop_back(); // removes, or finds the registry gone
            });
        }
        start.arrive_and_wait();
        registry.reset();
        for (std::thread &t : threads)
            t.join();
        CHECK_EQ(token.use_count(), 1L); // every capturing closure destroyed, none twice
    }
}
