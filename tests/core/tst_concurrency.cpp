// SPDX-License-Identifier: MIT
// Threads notifying while others add, remove, clear and removeAndWait: every notify sees what
// the contract allows (the state it started from, less what was removed before it got
// there, never anything added meanwhile), no notify calls a handler whose remove() returned
// before the notify began, and no handler runs after removeAndWait(id) returned.
#include "rio_check.h"
#include "rio_test_support.h"

#include <registryio/registry.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace {

// What one notify saw, in call order. Filled by the handlers on the notifying thread.
struct Visit
{
    static constexpr int capacity = 256;
    std::uint64_t startedAt = 0; // the removal clock when the notify began
    std::array<std::uint64_t, capacity> tags{};
    int count = 0;
    void record(std::uint64_t tag) noexcept
    {
        if (count < capacity)
            tags[count] = tag;
        ++count;
    }
};

// A handler's tag: lane (writer) | generation | index within the generation.
constexpr std::uint64_t makeTag(std::uint64_t lane, std::uint64_t generation, std::uint64_t index)
{
    return (lane << 56) | (generation << 16) | index;
}
constexpr std::uint64_t laneOf(std::uint64_t tag)
{
    return tag >> 56;
}
constexpr std::uint64_t generationOf(std::uint64_t tag)
{
    return (tag >> 16) & 0xFFFFFFFFFFu;
}
constexpr std::uint64_t indexOf(std::uint64_t tag)
{
    return tag & 0xFFFFu;
}

// Every state a writer publishes has, per lane, handlers of a single generation with
// consecutive indices in ascending order, and lanes in ascending order (by priority). Writers
// only add at a lane's end, remove from its end, and clear everything (also between two adds
// of the other lane: then that lane's run starts past index 0), which keeps that shape. A
// notify sees the state it started from, except that handlers removed before it reaches them
// are skipped and handlers added meanwhile are not seen: removals from a lane's end (or a
// clear) shorten the run from its end, so what it sees per lane is still one consecutive run
// of one generation. A torn or stale mix of two states (two generations, a gap, a repeat, a
// reordering) or a removal applied out of order would break it.
bool consistent(const Visit &v)
{
    if (v.count > Visit::capacity)
        return false;
    for (int i = 1; i < v.count; ++i) {
        const std::uint64_t prev = v.tags[i - 1];
        const std::uint64_t cur = v.tags[i];
        if (laneOf(cur) < laneOf(prev))
            return false; // lanes out of priority order
        if (laneOf(cur) == laneOf(prev) &&
            (generationOf(cur) != generationOf(prev) || indexOf(cur) != indexOf(prev) + 1))
            return false; // a mix of generations, a gap, a repeat or a reordering
    }
    return true;
}

struct HandlerState
{
    std::atomic<bool> waitedOut{false};      // set once removeAndWait(id) returned true
    std::atomic<std::uint64_t> removedAt{0}; // the removal clock's tick after remove() returned true
};

} // namespace

// The invariant itself: it accepts what a single published state looks like and rejects
// mixes, so the concurrent test below can fail.
RIO_TEST(invariantRejectsMixedStates)
{
    auto visit = [](std::initializer_list<std::uint64_t> tags) {
        Visit v;
        for (std::uint64_t t : tags)
            v.record(t);
        return v;
    };
    CHECK(consistent(visit({})));
    CHECK(consistent(visit({makeTag(0, 3, 0), makeTag(0, 3, 1), makeTag(1, 9, 4)})));
    CHECK(consistent(visit({makeTag(0, 3, 2), makeTag(0, 3, 3)})));  // after a clear
    CHECK(!consistent(visit({makeTag(0, 3, 0), makeTag(0, 4, 1)}))); // two generations
    CHECK(!consistent(visit({makeTag(0, 3, 0), makeTag(0, 3, 2)}))); // a gap
    CHECK(!consistent(visit({makeTag(0, 3, 1), makeTag(0, 3, 0)}))); // reordered
    CHECK(!consistent(visit({makeTag(0, 3, 0), makeTag(0, 3, 0)}))); // a repeat
    CHECK(!consistent(visit({makeTag(1, 3, 0), makeTag(0, 3, 0)}))); // lanes reordered
}

RIO_TEST(notifiesSeeConsistentSnapshots)
{
    constexpr int writers = 2;
    constexpr int notifiers = 2;
    constexpr int maxPerGeneration = 6;
    const int rounds = rio::test::scaled(1500, 5);

    rio::Registry<Visit *> registry;
    std::atomic<int> writersLeft{writers};
    std::atomic<int> inconsistent{0};
    Visit firstInconsistent; // written once, by the notifier that found the first one
    std::atomic<int> callsAfterWait{0};
    std::atomic<int> callsAfterRemoval{0};
    // Ticks after every successful removal; a notify reads it before it starts. A handler
    // whose removal ticked at or before that reading was removed before the notify began.
    std::atomic<std::uint64_t> removalClock{0};
    std::atomic<long> notifies{0};
    std::atomic<long> nonEmptyNotifies{0};
    std::atomic<int> waitedRemovals{0};
    std::array<std::atomic<long>, writers> laneSeen{}; // notifies that saw each lane

    // Stable addresses that outlive every call: a handler removed with remove() (which does
    // not wait) may still be running on a notifier when its writer finishes.
    std::array<std::deque<HandlerState>, writers> laneStates;
    std::vector<std::thread> threads;
    for (int n = 0; n < notifiers; ++n) {
        threads.emplace_back([&] {
            Visit visit;
            // Keep notifying until every writer is done (writers are bounded by `rounds`).
            while (writersLeft.load() > 0) {
                visit.count = 0;
                visit.startedAt = removalClock.load();
                registry.notify(&visit);
                if (!consistent(visit) && inconsistent.fetch_add(1) == 0) {
                    // Keep the first offending visit for the failure message.
                    firstInconsistent = visit;
                }
                for (int i = 0; i < std::min(visit.count, Visit::capacity); ++i) {
                    if (i == 0 || laneOf(visit.tags[i]) != laneOf(visit.tags[i - 1]))
                        laneSeen[laneOf(visit.tags[i])].fetch_add(1, std::memory_order_relaxed);
                }
                notifies.fetch_add(1, std::memory_order_relaxed);
                if (visit.count > 0)
                    nonEmptyNotifies.fetch_add(1, std::memory_order_relaxed);
            }
        });
    }
    for (int w = 0; w < writers; ++w) {
        threads.emplace_back([&, w] {
            std::deque<HandlerState> &states = laneStates[std::size_t(w)];
            std::vector<rio::HandlerId> ids;
            std::array<HandlerState *, maxPerGeneration> roundStates{};
            for (int round = 1; round <= rounds; ++round) {
                const int k = 1 + (round * 7 + w) % maxPerGeneration;
                ids.clear();
                for (int i = 0; i < k; ++i) {
                    const std::uint64_t tag =
                        makeTag(std::uint64_t(w), std::uint64_t(round), std::uint64_t(i));
                    HandlerState *state = &states.emplace_back();
                    roundStates[std::size_t(i)] = state;
                    ids.push_back(registry.add(
                        [tag, state, &callsAfterWait, &callsAfterRemoval](Visit *const &visit) {
                            if (state->waitedOut.load())
                                callsAfterWait.fetch_add(1);
                            const std::uint64_t removedAt = state->removedAt.load();
                            if (removedAt != 0 && removedAt <= visit->startedAt)
                                callsAfterRemoval.fetch_add(1);
                            visit->record(tag);
                            if (indexOf(tag) == 0) // widens the window a wrong removeAndWait would leave
                                std::this_thread::yield();
                            if (state->waitedOut.load())
                                callsAfterWait.fetch_add(1);
                        },
                        (writers - w) * 1000 - i));
                }
                // Let a notify see this generation (unless the other writer cleared it).
                const long seenBefore = laneSeen[std::size_t(w)].load();
                while (laneSeen[std::size_t(w)].load() == seenBefore && registry.contains(ids.back()))
                    std::this_thread::yield();
                // Remove from the end, mixing remove() and removeAndWait().
                for (int i = k - 1; i >= 0; --i) {
                    if ((round + i) % 3 == 0) {
                        if (registry.removeAndWait(ids[std::size_t(i)])) {
                            roundStates[std::size_t(i)]->waitedOut.store(true);
                            roundStates[std::size_t(i)]->removedAt.store(removalClock.fetch_add(1) + 1);
                            waitedRemovals.fetch_add(1, std::memory_order_relaxed);
                        }
                    } else if (registry.remove(ids[std::size_t(i)])) {
                        roundStates[std::size_t(i)]->removedAt.store(removalClock.fetch_add(1) + 1);
                    }
                }
                // Now and then one writer clears everything (the other lane too) mid-way.
                // clear() tombstones last entry first, so a notify it overtakes calls a prefix
                // and skips the rest (front to back, it left a hole: found here).
                if (w == 0 && round % 17 == 0)
                    registry.clear();
            }
            writersLeft.fetch_sub(1);
        });
    }
    for (std::thread &t : threads)
        t.join();
    if (inconsistent.load() != 0) {
        std::string seen;
        for (int i = 0; i < std::min(firstInconsistent.count, Visit::capacity); ++i) {
            const std::uint64_t t = firstInconsistent.tags[std::size_t(i)];
            seen += ' ' + std::to_string(laneOf(t)) + '/' + std::to_string(generationOf(t)) + '/' +
                    std::to_string(indexOf(t));
        }
        rio::check::note("first inconsistent notify saw (lane/generation/index):", seen);
    }
    CHECK_EQ(inconsistent.load(), 0);
    CHECK_EQ(callsAfterWait.load(), 0);
    CHECK_EQ(callsAfterRemoval.load(), 0);
    CHECK(waitedRemovals.load() > 0);
    rio::check::note(notifies.load(), " notifies, ", nonEmptyNotifies.load(), " saw handlers, ",
                     waitedRemovals.load(), " removeAndWait");
    CHECK(registry.isEmpty());
}

RIO_TEST(concurrentAddsGetUniqueIds)
{
    constexpr int threads = 4;
    const int perThread = rio::test::scaled(2000, 4);
    rio::Registry<int> registry;
    std::vector<std::vector<rio::HandlerId>> ids(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0; i < perThread; ++i) {
                ids[t].push_back(registry.add([] { }, i % 5));
                if (i % 2)
                    registry.remove(ids[t].back()); // churn, and ids of removed stay used
            }
        });
    }
    for (std::thread &t : workers)
        t.join();
    std::unordered_set<std::uint64_t> seen;
    std::uint64_t maxId = 0;
    for (const auto &list : ids) {
        CHECK(std::is_sorted(list.begin(), list.end())); // increasing per thread
        for (rio::HandlerId id : list) {
            CHECK(id.isValid());
            CHECK(seen.insert(id.value()).second);
            maxId = std::max(maxId, id.value());
        }
    }
    CHECK_EQ(maxId, std::uint64_t(threads) * std::uint64_t(perThread)); // no gaps, none skipped
    CHECK_EQ(registry.size(), std::size_t(threads) * std::size_t((perThread + 1) / 2));
    int calls = 0;
    registry.add([&calls] { ++calls; }, -100);
    registry.notify(0);
    CHECK_EQ(calls, 1);
}

// Guards created and destroyed on several threads while others notify.
RIO_TEST(guardsOnManyThreads)
{
    const int rounds = rio::test::scaled(2000, 5);
    rio::Registry<int> registry;
    std::atomic<bool> stop{false};
    std::atomic<long> calls{0};
    std::thread notifier([&] {
        while (!stop.load())
            registry.notify(1);
    });
    std::vector<std::thread> owners;
    for (int t = 0; t < 2; ++t) {
        owners.emplace_back([&] {
            for (int r = 0; r < rounds; ++r) {
                rio::HandlerGuard a = registry.addScoped([&calls] { calls.fetch_add(1); });
                rio::HandlerGuard b = registry.addScoped([&calls] { calls.fetch_add(1); }, 1);
                if (r % 2)
                    a = std::move(b);
            }
        });
    }
    for (std::thread &t : owners)
        t.join();
    stop.store(true);
    notifier.join();
    CHECK(registry.isEmpty());
}

// The exception callback is replaced and cleared while other threads' handlers throw: every
// call reaches a live callback (its capture is checked), and nothing reaches the caller.
RIO_TEST(exceptionCallbackReplacedWhileNotifying)
{
    const int replacements = rio::test::scaled(200, 2);
    struct Capture
    {
        std::atomic<long> *calls;
        unsigned magic = 0xC0FFEE;
        explicit Capture(std::atomic<long> *c) : calls(c) { }
        Capture(const Capture &other) : calls(other.calls), magic(other.magic) { }
        ~Capture() { magic = 0; }
    };
    rio::Registry<int> registry;
    registry.add([] { throw std::runtime_error("always"); });
    std::atomic<long> reports{0};
    std::atomic<long> deadCaptures{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> notifiers;
    for (int n = 0; n < 1; ++n) { // one notifier: with more, the main thread starves on 2 cores
        notifiers.emplace_back([&] {
            while (!stop.load(std::memory_order_relaxed))
                registry.notify(0);
        });
    }
    for (int i = 0; i < replacements; ++i) {
        if (i % 10 == 9) {
            registry.clearExceptionHandler();
            continue;
        }
        const long before = reports.load();
        registry.setExceptionHandler([c = Capture(&reports), &deadCaptures](const rio::ExceptionInfo &info) {
            if (c.magic != 0xC0FFEE || info.message != "always")
                deadCaptures.fetch_add(1);
            c.calls->fetch_add(1, std::memory_order_relaxed);
        });
        // Replace it only once the notifiers are using it.
        while (reports.load() == before)
            std::this_thread::yield();
    }
    stop.store(true);
    for (std::thread &t : notifiers)
        t.join();
    CHECK_EQ(deadCaptures.load(), 0L);
    CHECK(reports.load() >= replacements * 9 / 10); // each callback that was set got called
    rio::check::note(reports.load(), " failures reported across ", replacements, " callback replacements");
}

// A guard is reset on one thread while its registry is destroyed on another, both released
// at once: either the handler is removed or the guard finds the registry gone; no crash
// (ASan) and no race (TSan).
RIO_TEST(guardResetRacesRegistryDestruction)
{
    const int rounds = rio::test::scaled(2000, 5);
    int removedByGuard = 0;
    for (int r = 0; r < rounds; ++r) {
        auto registry = std::make_unique<rio::Registry<int>>();
        rio::HandlerGuard guard = registry->addScoped([] { });
        rio::check::Latch start(2);
        bool removed = false;
        std::thread resetter([&] {
            start.arrive_and_wait();
            removed = guard.reset();
        });
        start.arrive_and_wait();
        registry.reset();
        resetter.join();
        removedByGuard += removed;
        CHECK(!guard.isActive());
    }
    rio::check::note("the guard removed its handler first in ", removedByGuard, " of ", rounds, " rounds");
}
