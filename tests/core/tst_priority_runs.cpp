// SPDX-License-Identifier: MIT
// Runs mode: a registry of 64 or more handlers that takes an add inside its priority order
// keeps one run per priority and appends in place, so adds with mixed priorities stay cheap.
// Every contract of the flat array must hold unchanged: the order, a snapshot per notify (adds
// during a notify are not called by it, removals are skipped), removeAndWait, clear, failures,
// and nothing leaked (the ASan stage runs this test).
#include "rio_check.h"
#include "rio_test_support.h"

#include <registryio/registry.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <random>
#include <thread>
#include <utility>
#include <vector>

namespace {

// Enough handlers for runs mode (the registry turns to runs from 64).
constexpr int kMany = 200;

// Seven priorities interleaved: every add after the first few lands inside the order.
int priorityOf(int i)
{
    return (i * 5) % 7 - 3;
}

// The order notify must follow: priority descending, then registration order.
std::vector<int> expectedOrder(const std::map<int, int> &priorityByKey)
{
    std::vector<std::pair<int, int>> v;
    v.reserve(priorityByKey.size());
    for (const auto &[key, priority] : priorityByKey)
        v.emplace_back(-priority, key);
    std::sort(v.begin(), v.end());
    std::vector<int> keys;
    keys.reserve(v.size());
    for (const auto &entry : v)
        keys.push_back(entry.second);
    return keys;
}

// Counts the closures alive (moved-from copies do not count).
struct Alive
{
    int *count;
    bool owner = true;
    explicit Alive(int *c) : count(c) { ++*count; }
    Alive(Alive &&o) noexcept : count(o.count), owner(std::exchange(o.owner, false)) { }
    Alive(const Alive &) = delete;
    Alive &operator=(const Alive &) = delete;
    Alive &operator=(Alive &&) = delete;
    ~Alive()
    {
        if (owner)
            --*count;
    }
};

} // namespace

RIO_TEST(orderHoldsThroughAddsRemovesAndClear)
{
    rio::Registry<int> registry;
    std::vector<int> calls;
    std::map<int, int> live; // key -> priority
    std::map<int, rio::HandlerId> ids;
    int next = 0;
    auto addOne = [&] {
        const int key = next++;
        ids[key] = registry.add([key, &calls] { calls.push_back(key); }, priorityOf(key));
        live[key] = priorityOf(key);
    };
    auto check = [&] {
        calls.clear();
        registry.notify(0);
        CHECK_EQ(calls, expectedOrder(live));
        CHECK_EQ(registry.size(), live.size());
    };
    for (int i = 0; i < kMany; ++i)
        addOne();
    check();
    // Remove every third, half with removeAndWait (no notify is running: it must not wait).
    for (int key = 0; key < kMany; key += 3) {
        CHECK(key % 2 == 0 ? registry.remove(ids[key]) : registry.removeAndWait(ids[key]));
        live.erase(key);
    }
    check();
    for (int i = 0; i < kMany; ++i)
        addOne();
    check();
    // Empty a whole priority, then give it handlers again.
    for (auto it = live.begin(); it != live.end();) {
        if (it->second == 0) {
            CHECK(registry.remove(ids[it->first]));
            it = live.erase(it);
        } else {
            ++it;
        }
    }
    check();
    for (int i = 0; i < 20; ++i)
        addOne();
    check();
    registry.clear();
    live.clear();
    check();
    for (int i = 0; i < kMany; ++i)
        addOne();
    check();
}

// The snapshot contract in runs mode: a handler added during a notify is not called by it,
// in any run (earlier, its own, later, a new priority); one removed before it is reached is
// skipped. Both are seen by the next notify.
RIO_TEST(aNotifyIsASnapshot)
{
    rio::Registry<int> registry;
    std::vector<int> calls;
    for (int i = 0; i < kMany; ++i)
        registry.add([i, &calls] { calls.push_back(i); }, priorityOf(i));
    std::vector<rio::HandlerId> added;
    rio::HandlerId victim; // a lowest-priority handler, reached last
    victim = registry.add([&calls] { calls.push_back(-1); }, -100);
    bool done = false;
    registry.add(
        [&] {
            if (std::exchange(done, true))
                return;
            for (int p : {50, 3, 0, -3, -50}) // above, inside and below every run, new ones
                added.push_back(registry.add([&calls, p] { calls.push_back(1000 + p); }, p));
            CHECK(registry.remove(victim));
        },
        10);
    calls.clear();
    registry.notify(0);
    CHECK_EQ(calls.size(), std::size_t(kMany));
    CHECK(std::none_of(calls.begin(), calls.end(), [](int c) { return c >= 950 || c == -1; }));
    calls.clear();
    registry.notify(0);
    CHECK_EQ(calls.size(), std::size_t(kMany) + added.size());
    CHECK_EQ(calls.front(), 1050);
    CHECK(std::find(calls.begin(), calls.end(), -1) == calls.end());
    CHECK_EQ(calls.back(), 950);
}

// A failing handler inside a run is reported with its own id and stops nothing.
RIO_TEST(failuresInARunAreReported)
{
    rio::Registry<int> registry;
    int calls = 0;
    std::vector<rio::HandlerId> reported;
    registry.setExceptionHandler([&](const rio::ExceptionInfo &info) { reported.push_back(info.handlerId); });
    rio::HandlerId thrower;
    for (int i = 0; i < kMany; ++i) {
        const rio::HandlerId id = registry.add(
            [i, &calls] {
                ++calls;
                if (i == 77)
                    throw std::runtime_error("handler 77");
            },
            priorityOf(i));
        if (i == 77)
            thrower = id;
    }
    registry.notify(0);
    CHECK_EQ(calls, kMany);
    CHECK_EQ(reported, std::vector<rio::HandlerId>{thrower});
}

// removeAndWait of a handler parked inside a run on another thread waits until it returns.
RIO_TEST(removeAndWaitWaitsForAHandlerInARun)
{
    const int rounds = rio::test::scaled(50, 4);
    rio::Registry<int> registry;
    for (int i = 0; i < kMany; ++i)
        registry.add([] { }, priorityOf(i));
    int earlyReturns = 0;
    int unfinishedOnReturn = 0;
    for (int round = 0; round < rounds; ++round) {
        rio::test::Parked parked;
        const rio::HandlerId id = registry.add([&parked] { parked.park(); }, priorityOf(round));
        std::thread notifier([&registry] { registry.notify(0); });
        parked.entered.wait();
        const rio::test::WaitOutcome wait = rio::test::removeAndWaitWhileParked(registry, id, parked);
        notifier.join();
        CHECK(wait.removed);
        earlyReturns += wait.returnedEarly ? 1 : 0;
        unfinishedOnReturn += wait.finishedOnReturn ? 0 : 1;
    }
    CHECK_EQ(earlyReturns, 0);
    CHECK_EQ(unfinishedOnReturn, 0);
}

// Notifier threads run flat out while a writer adds (mixed priorities, inside the order) and
// removes with removeAndWait: no handler is called once removeAndWait returned, none is
// destroyed while running, every closure is destroyed exactly once by the end.
RIO_TEST(writersAndNotifiersRace)
{
    struct State
    {
        std::atomic<bool> out{false};
        std::atomic<int> running{0};
        std::atomic<int> destroyed{0};
    };
    struct Counters
    {
        std::atomic<int> late{0};
        std::atomic<int> destroyedWhileRunning{0};
    } c;
    struct Closure
    {
        State *s;
        Counters *c;
        bool owner = true;
        Closure(State *state, Counters *counters) : s(state), c(counters) { }
        Closure(Closure &&o) noexcept : s(o.s), c(o.c), owner(std::exchange(o.owner, false)) { }
        ~Closure()
        {
            if (!owner)
                return;
            if (s->running.load() != 0)
                c->destroyedWhileRunning.fetch_add(1);
            s->destroyed.fetch_add(1);
        }
        void operator()() const
        {
            if (s->out.load())
                c->late.fetch_add(1);
            s->running.fetch_add(1);
            s->running.fetch_sub(1);
        }
    };
    const int ops = rio::test::scaled(20000, 10);
    std::vector<std::unique_ptr<State>> states;
    {
        rio::Registry<int> registry;
        std::vector<std::pair<rio::HandlerId, State *>> live;
        std::atomic<bool> stop{false};
        std::vector<std::thread> notifiers;
        notifiers.reserve(2);
        for (int t = 0; t < 2; ++t)
            notifiers.emplace_back([&] {
                while (!stop.load())
                    registry.notify(t);
            });
        std::mt19937 rng(7);
        for (int op = 0; op < ops; ++op) {
            const unsigned r = rng() % 100;
            if (r < 55 && live.size() < 150) {
                State *s = states.emplace_back(std::make_unique<State>()).get();
                live.emplace_back(registry.add(Closure(s, &c), static_cast<int>(rng() % 7) - 3), s);
            } else if (!live.empty()) {
                const std::size_t i = rng() % live.size();
                auto [id, s] = live[i];
                live[i] = live.back();
                live.pop_back();
                CHECK(registry.removeAndWait(id));
                CHECK_EQ(s->running.load(), 0);
                CHECK_EQ(s->destroyed.load(), 1);
                s->out.store(true);
            }
        }
        stop.store(true);
        for (auto &t : notifiers)
            t.join();
    }
    CHECK_EQ(c.late.load(), 0);
    CHECK_EQ(c.destroyedWhileRunning.load(), 0);
    for (const auto &s : states)
        CHECK_EQ(s->destroyed.load(), 1);
}

// Random operations, once-handlers and handlers that remove themselves included, against a
// model of the registry: every notify calls exactly the live handlers, in order.
RIO_TEST_DATA(randomOperationsMatchTheModel, unsigned, seed, {"seed 1", 1u}, {"seed 2", 2u}, {"seed 3", 3u},
              {"seed 4", 4u})
{
    int alive = 0; // declared before the registry: its destructor destroys closures that count
    rio::Registry<int> registry;
    std::mt19937 rng(seed);
    std::map<int, std::pair<int, rio::HandlerId>> live; // key -> (priority, id)
    std::vector<int> onceKeys;
    std::vector<int> calls;
    int next = 0;
    const int ops = rio::test::scaled(8000, 4);
    for (int op = 0; op < ops; ++op) {
        const unsigned r = rng() % 100;
        if (r < 45 && live.size() < 150) {
            const int key = next++;
            const int priority = static_cast<int>(rng() % 5) - 2;
            const bool once = rng() % 10 == 0;
            const bool removesItself = rng() % 20 == 0;
            auto handler = [key, removesItself, &calls, &registry, &live, a = Alive(&alive)] {
                calls.push_back(key);
                if (removesItself) {
                    auto it = live.find(key);
                    if (it != live.end()) {
                        registry.remove(it->second.second);
                        live.erase(it);
                    }
                }
            };
            const rio::HandlerId id = once ? registry.addOnce(std::move(handler), priority)
                                           : registry.add(std::move(handler), priority);
            live[key] = {priority, id};
            if (once)
                onceKeys.push_back(key);
        } else if (r < 75 && !live.empty()) {
            auto it = live.begin();
            std::advance(it, static_cast<long>(rng() % live.size()));
            CHECK(rng() % 2 == 0 ? registry.remove(it->second.second)
                                 : registry.removeAndWait(it->second.second));
            live.erase(it);
        } else if (r < 76) {
            registry.clear();
            live.clear();
            registry.synchronize(); // every closure the clear removed is destroyed now
            CHECK_EQ(alive, 0);
        } else {
            std::map<int, int> priorities;
            for (const auto &[key, entry] : live)
                priorities[key] = entry.first;
            calls.clear();
            registry.notify(op);
            CHECK_EQ(calls, expectedOrder(priorities));
            for (int key : onceKeys)
                live.erase(key);
            onceKeys.clear();
        }
        CHECK_EQ(registry.size(), live.size());
    }
}
