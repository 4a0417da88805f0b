// SPDX-License-Identifier: MIT
// The core's diagnostics with std:: only (see rio_check.h): every add records where it was called
// and on which thread; a registry's diagnostics count and time every run while on and nothing
// while off (its notifies run the plain loop again); suspension, runs mode, removal and nested
// notifies keep the counts right; slow runs are reported once; the watchdog thread exists only
// while something is on and names a run that is still going; switching diagnostics while other
// threads notify, add and remove loses nothing and frees everything.
#include "rio_check.h"

#include <registryio/detail/diagnostics.h>
#include <registryio/event_flags.h>
#include <registryio/registry.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

namespace diag = rio::detail::diag;

struct Tick
{
    int n = 0;
};

// The record of the registry named `name` (the test names each registry it looks at).
diag::RegistryRecord recordOf(const std::string &name)
{
    for (auto &r : diag::collect())
        if (r.name == name)
            return r;
    return {};
}

// A copy of handler `id`'s record in `r` (a copy, so that it outlives a temporary `r`).
std::optional<diag::HandlerRecord> handlerOf(const diag::RegistryRecord &r, rio::HandlerId id)
{
    for (const auto &h : r.handlers)
        if (h.id == id)
            return h;
    return std::nullopt;
}

// A run the diagnostics clock measures at 2 ns or more, over the 1 ns threshold that tests set to
// make every run slow. The clock may step coarsely: this VM's TSC (AMD EPYC) moves in steps of
// 10 ns, with a read 1 tick (0.4 ns) past the last one in between; Windows' under wine in
// steps of 100 ns. An empty handler's run may read as one tick there, under the threshold.
void runPastOneNs()
{
    const std::uint64_t start = diag::ticks();
    while (static_cast<double>(diag::ticks() - start) * diag::nanosPerTick() < 2.0) {
    }
}

bool endsWith(std::string_view s, std::string_view tail)
{
    return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

// Collects slow-run reports (the sink is process-wide: one test at a time uses it).
struct Reports
{
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<diag::SlowRun> runs;
};
Reports *reports = nullptr;

void collectSink(const diag::SlowRun &run) noexcept
{
    if (reports == nullptr)
        return;
    std::lock_guard lock(reports->mutex);
    reports->runs.push_back(run);
    reports->changed.notify_all();
}

// Collects the reports of one test, and gives the thresholds it found back when it ends.
struct CollectedReports : Reports
{
    std::uint64_t mainNs = 0, otherNs = 0, stallNs = 0;
    CollectedReports()
    {
        reports = this;
        diag::setSlowSink(&collectSink);
        diag::thresholds(mainNs, otherNs, stallNs);
    }
    ~CollectedReports()
    {
        diag::setThresholds(mainNs, otherNs, stallNs);
        diag::setSlowSink(nullptr);
        reports = nullptr;
    }
    CollectedReports(const CollectedReports &) = delete;
    CollectedReports &operator=(const CollectedReports &) = delete;
};

} // namespace

RIO_TEST(addRecordsWhereAndOnWhichThread)
{
    rio::Registry<Tick> registry;
    registry.setDiagnosticsName("where");
    const int line = __LINE__ + 1;
    const rio::HandlerId a = registry.add([](const Tick &) { });
    const rio::HandlerId b = registry.addOnce([] { }, 3); // same line counts below
    const int lineB = __LINE__ - 1;
    rio::HandlerId c;
    int lineC = 0;
    std::thread([&] {
        lineC = __LINE__ + 1;
        c = registry.add([] { });
    }).join();
    rio::HandlerGuard guard = registry.addScoped([] { });
    const int lineGuard = __LINE__ - 1;

    const diag::RegistryRecord r = recordOf("where");
    CHECK(r.serial != 0);
    CHECK(endsWith(r.eventType, "::Tick")); // GCC and Clang spell the anonymous namespace differently
    CHECK_EQ(r.handlers.size(), std::size_t{4});
    const std::optional<diag::HandlerRecord> ha = handlerOf(r, a);
    const std::optional<diag::HandlerRecord> hb = handlerOf(r, b);
    const std::optional<diag::HandlerRecord> hc = handlerOf(r, c);
    const std::optional<diag::HandlerRecord> hg = handlerOf(r, guard.id());
    CHECK(ha && hb && hc && hg);
    CHECK(endsWith(ha->where.fileName(), "tst_diagnostics_core.cpp"));
    CHECK_EQ(static_cast<int>(ha->where.line()), line);
    CHECK(std::string_view(ha->where.functionName()).find("addRecordsWhereAndOnWhichThread") !=
          std::string_view::npos);
    CHECK_EQ(static_cast<int>(hb->where.line()), lineB);
    CHECK_EQ(hb->priority, 3);
    CHECK_EQ(static_cast<int>(hc->where.line()), lineC);
    CHECK_EQ(static_cast<int>(hg->where.line()), lineGuard);
    CHECK_EQ(ha->thread, diag::threadNumber());
    CHECK(hc->thread != ha->thread); // added on another thread
    CHECK(hc->thread != 0);
}

RIO_TEST(registryIdsAreNeverReused)
{
    std::uint64_t first = 0;
    {
        rio::Registry<int> r;
        r.setDiagnosticsName("gone");
        r.add([] { });
        first = recordOf("gone").serial;
        CHECK(first != 0);
    }
    CHECK_EQ(recordOf("gone").serial, std::uint64_t{0}); // destroyed: not listed
    rio::Registry<int> again;
    again.setDiagnosticsName("gone");
    again.add([] { });
    CHECK(recordOf("gone").serial > first);
}

RIO_TEST(offCountsNothingOnCountsEveryRunAndFailure)
{
    rio::Registry<int> registry;
    registry.setDiagnosticsName("counts");
    int ran = 0;
    const rio::HandlerId ok = registry.add([&ran] { ++ran; });
    const rio::HandlerId bad = registry.add([] { throw std::runtime_error("no"); });
    registry.notify(1);
    CHECK(!registry.isDiagnosticsEnabled());
    CHECK(!handlerOf(recordOf("counts"), ok)->timed);
    CHECK_EQ(handlerOf(recordOf("counts"), ok)->calls, std::uint64_t{0});

    registry.setDiagnosticsEnabled(true);
    CHECK(registry.isDiagnosticsEnabled());
    for (int i = 0; i < 5; ++i)
        registry.notify(i);
    // Added while on: recorded from its first run.
    const rio::HandlerId late = registry.add([] { });
    registry.notify(9);
    diag::RegistryRecord r = recordOf("counts");
    CHECK(r.enabled);
    CHECK_EQ(handlerOf(r, ok)->calls, std::uint64_t{6});
    CHECK_EQ(handlerOf(r, bad)->calls, std::uint64_t{6});
    CHECK_EQ(handlerOf(r, bad)->failures, std::uint64_t{6});
    CHECK_EQ(handlerOf(r, ok)->failures, std::uint64_t{0});
    CHECK_EQ(handlerOf(r, late)->calls, std::uint64_t{1});
    const diag::HistogramRecord &okTime = r.histogram(handlerOf(r, ok)->runTime);
    CHECK((okTime.maxNs > 0 || okTime.buckets[0] == 6));
    CHECK_EQ(ran, 7);

    registry.setDiagnosticsEnabled(false);
    registry.notify(10);
    CHECK_EQ(ran, 8); // still called, directly
    r = recordOf("counts");
    CHECK(!r.enabled);
    CHECK_EQ(handlerOf(r, ok)->calls, std::uint64_t{6}); // kept, not counting

    registry.setDiagnosticsEnabled(true);
    registry.notify(11);
    CHECK_EQ(handlerOf(recordOf("counts"), ok)->calls, std::uint64_t{7});
    registry.setDiagnosticsEnabled(false);
}

// A handler the layer times itself (the Qt facade's with a context) has its counters from its
// add and its timing block only once its registry's diagnostics time it: the block, one pointer
// while on and null while off, stays the same across switches, and runs that another thread
// times while the switch flips record into it, each counted once.
RIO_TEST(aLayerTimedHandlersTimingBlockComesWhenTimedAndStays)
{
    rio::Registry<int> registry;
    registry.setDiagnosticsName("layer-timed");
    // Not a plain closure, as the facade's dispatcher (addPlain has no layer-timed form).
    const auto handler = [keep = std::make_shared<int>()] { };
    const rio::HandlerId id =
        rio::detail::LayerAccess::addLayerTimed(registry, handler, 0, rio::SourceLocation::current(), true);
    diag::HandlerStats *s = rio::detail::LayerAccess::core(registry).retainStats(id);
    CHECK(s != nullptr);
    CHECK(s->times == nullptr);
    CHECK(s->timing.load(std::memory_order_acquire) == nullptr);
    CHECK(!handlerOf(recordOf("layer-timed"), id)->timed);

    std::atomic<bool> done{false};
    std::atomic<std::uint64_t> timed{0};
    std::thread runner([&] {
        while (!done.load(std::memory_order_acquire))
            if (s->timing.load(std::memory_order_acquire) != nullptr) {
                const diag::RunScope scope(s, true);
                timed.fetch_add(1, std::memory_order_relaxed);
            }
    });
    for (int i = 0; i < 200; ++i) {
        registry.setDiagnosticsEnabled(true);
        registry.setDiagnosticsEnabled(false);
    }
    registry.setDiagnosticsEnabled(true);
    diag::HandlerTimes *const block = s->timing.load(std::memory_order_acquire);
    while (timed.load(std::memory_order_relaxed) == 0) // it times a run while on
        std::this_thread::yield();
    done.store(true, std::memory_order_release);
    runner.join();
    CHECK(block != nullptr);
    CHECK(block == s->times);
    registry.setDiagnosticsEnabled(false);
    CHECK(s->timing.load(std::memory_order_acquire) == nullptr);
    CHECK(s->times == block);
    const std::optional<diag::HandlerRecord> h = handlerOf(recordOf("layer-timed"), id);
    CHECK(h->timed);
    CHECK_EQ(h->calls, timed.load());
    CHECK(registry.remove(id));
    diag::freeStats(s);
}

RIO_TEST(suspensionAndRunsModeKeepTheCountsRight)
{
    rio::Registry<int> registry;
    registry.setDiagnosticsName("runs");
    std::vector<rio::HandlerId> ids;
    // 80 handlers over 4 priorities, one inserted in the middle: the registry turns to runs.
    for (int i = 0; i < 80; ++i)
        ids.push_back(registry.add([] { }, i % 4));
    registry.setDiagnosticsEnabled(true);
    CHECK(registry.setSuspended(ids[5], true));
    registry.notify(1);
    CHECK(registry.setSuspended(ids[5], false)); // resumes counting, not bypassing it
    registry.notify(2);
    const rio::HandlerId added = registry.add([] { }, 2);
    registry.notify(3);
    CHECK(registry.remove(ids[7]));
    registry.notify(4);
    const diag::RegistryRecord r = recordOf("runs");
    CHECK_EQ(handlerOf(r, ids[0])->calls, std::uint64_t{4});
    CHECK_EQ(handlerOf(r, ids[5])->calls, std::uint64_t{3});
    CHECK_EQ(handlerOf(r, added)->calls, std::uint64_t{2});
    CHECK(!handlerOf(r, ids[7]).has_value());
    registry.setDiagnosticsEnabled(false);
    registry.notify(5);
    CHECK_EQ(handlerOf(recordOf("runs"), ids[0])->calls, std::uint64_t{4});
}

RIO_TEST(nestedNotifiesAreEachCounted)
{
    rio::Registry<int> inner;
    rio::Registry<int> outer;
    inner.setDiagnosticsName("inner");
    outer.setDiagnosticsName("outer");
    const rio::HandlerId i = inner.add([] { });
    const rio::HandlerId o = outer.add([&inner](int v) {
        if (v > 0)
            inner.notify(v - 1);
    });
    inner.setDiagnosticsEnabled(true);
    outer.setDiagnosticsEnabled(true);
    outer.notify(1);
    outer.notify(1);
    CHECK_EQ(handlerOf(recordOf("inner"), i)->calls, std::uint64_t{2});
    CHECK_EQ(handlerOf(recordOf("outer"), o)->calls, std::uint64_t{2});
    inner.setDiagnosticsEnabled(false);
    outer.setDiagnosticsEnabled(false);
}

RIO_TEST(slowRunsAreCountedAndReportedOnce)
{
    Reports local;
    reports = &local;
    diag::setSlowSink(&collectSink);
    std::uint64_t mainNs = 0, otherNs = 0, stallNs = 0;
    diag::thresholds(mainNs, otherNs, stallNs);
    diag::setThresholds(mainNs, 1, stallNs); // every run on this (non-main) thread is slow
    rio::Registry<int> registry;
    registry.setDiagnosticsName("slow");
    const rio::HandlerId id = registry.add([] { runPastOneNs(); });
    registry.setDiagnosticsEnabled(true);
    registry.notify(1);
    registry.notify(2);
    registry.notify(3);
    diag::setThresholds(mainNs, otherNs, stallNs);
    registry.setDiagnosticsEnabled(false);
    diag::setSlowSink(nullptr);
    reports = nullptr;
    CHECK_EQ(handlerOf(recordOf("slow"), id)->slowRuns, std::uint64_t{3});
    CHECK_EQ(local.runs.size(), std::size_t{1}); // reported once
    CHECK(local.runs[0].id == id);
    CHECK(!local.runs[0].stillRunning);
    CHECK_EQ(local.runs[0].eventType, std::string("int"));
    CHECK_EQ(local.runs[0].thread, diag::threadNumber());
}

RIO_TEST(theWatchdogRunsOnlyWhileOnAndNamesARunStillGoing)
{
    CHECK(!diag::watchdogRunning());
    CollectedReports local;
    diag::setThresholds(local.mainNs, local.otherNs, 20'000'000); // 20 ms
    {
        rio::Registry<int> registry;
        registry.setDiagnosticsName("stall");
        bool sawReport = false;
        int line = 0;
        const rio::HandlerId id = [&] {
            line = __LINE__ + 1;
            return registry.add([&] {
                // Blocks until the watchdog named this run (bounded: 10 s).
                std::unique_lock lock(local.mutex);
                sawReport = local.changed.wait_for(lock, std::chrono::seconds(10), [&] {
                    for (const auto &r : local.runs)
                        if (r.stillRunning)
                            return true;
                    return false;
                });
            });
        }();
        registry.setDiagnosticsEnabled(true);
        CHECK(diag::watchdogRunning());
        registry.notify(1);
        CHECK(sawReport);
        std::lock_guard lock(local.mutex);
        CHECK(!local.runs.empty());
        const diag::SlowRun &r = local.runs.front();
        CHECK(r.stillRunning);
        CHECK(r.id == id);
        CHECK_EQ(static_cast<int>(r.where.line()), line);
        CHECK(r.elapsedNs >= 20'000'000);
        CHECK_EQ(r.thread, diag::threadNumber());
        // Destroyed while on: the watchdog goes with the last registry that needed it.
    }
    CHECK(!diag::watchdogRunning());
}

// A timed array keeps its end aside: handlers added while on (appended in place, or by a copy
// before the others) and while off are each called once by every notify, timed while on, after
// any sequence of switches; an emptied registry calls nothing.
RIO_TEST(handlersAddedAcrossSwitchesAreEachCalledOncePerNotify)
{
    rio::Registry<int> registry;
    registry.setDiagnosticsName("across");
    std::vector<long> calls;
    std::vector<long> expected;
    std::vector<rio::HandlerId> ids;
    calls.reserve(64);
    auto addOne = [&](int priority) {
        const std::size_t k = calls.size();
        calls.push_back(0);
        expected.push_back(0);
        ids.push_back(registry.add([&calls, k] { ++calls[k]; }, priority));
    };
    auto notifyAndCheck = [&] {
        registry.notify(0);
        for (long &e : expected)
            ++e;
        CHECK(calls == expected);
    };
    registry.setDiagnosticsEnabled(true); // on while empty: the first array is timed when published
    for (int round = 0; round < 12; ++round) {
        addOne(0); // an append, in place where the array has room
        if (round % 4 == 3)
            addOne(1); // before the others: a copy
        notifyAndCheck();
        registry.setDiagnosticsEnabled(round % 2 == 1);
        notifyAndCheck();
    }
    registry.setDiagnosticsEnabled(true);
    const std::optional<diag::HandlerRecord> first = handlerOf(recordOf("across"), ids.front());
    CHECK(first.has_value());
    CHECK(first->calls > 0);
    for (const rio::HandlerId id : ids)
        CHECK(registry.remove(id));
    registry.notify(0);
    registry.setDiagnosticsEnabled(false);
    registry.notify(0);
    CHECK(calls == expected);
}

RIO_TEST(switchingWhileOthersNotifyAddAndRemoveLosesNothing)
{
    rio::Registry<int> registry;
    registry.setDiagnosticsName("churn");
    std::atomic<long> calls{0};
    const rio::HandlerId fixed = registry.add([&calls] { calls.fetch_add(1, std::memory_order_relaxed); });
    std::atomic<bool> stop{false};
    constexpr int rounds = 300;
    std::vector<std::thread> threads;
    std::atomic<long> notifies{0};
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 20'000 && !stop.load(std::memory_order_relaxed); ++i) {
                registry.notify(i);
                notifies.fetch_add(1, std::memory_order_relaxed);
            }
        });
    }
    threads.emplace_back([&] {
        for (int i = 0; i < rounds; ++i) {
            const rio::HandlerId id = registry.add([] { }, i % 3);
            if (i % 2 == 0)
                registry.setSuspended(id, true);
            registry.remove(id);
        }
    });
    for (int i = 0; i < rounds; ++i)
        registry.setDiagnosticsEnabled(i % 2 == 0);
    registry.setDiagnosticsEnabled(false);
    stop.store(true);
    for (auto &t : threads)
        t.join();
    // Every notify called the fixed handler, whether it was timed or not.
    CHECK_EQ(calls.load(), notifies.load());
    const std::optional<diag::HandlerRecord> h = handlerOf(recordOf("churn"), fixed);
    CHECK(h.has_value());
    CHECK(h->calls <= static_cast<std::uint64_t>(notifies.load()));
    CHECK(!diag::watchdogRunning());
}

// While on, a notify times every live handler exactly once per notify, whatever other threads
// add, suspend and remove meanwhile (flat arrays and runs mode); a handler suspended the whole
// time and the removed handlers' skipped entries are never counted; a throwing handler counts
// each run as a failure and the others still run.
RIO_TEST(timedNotifiesCountExactlyWhileOthersAddSuspendAndRemove)
{
    for (const bool runs : {false, true}) {
        rio::Registry<int> registry;
        const std::string name = runs ? "exact-runs" : "exact-flat";
        registry.setDiagnosticsName(name);
        std::atomic<long> calls{0};
        std::atomic<long> failures{0};
        registry.setExceptionHandler([&failures](const rio::ExceptionInfo &) { failures.fetch_add(1); });
        std::vector<rio::HandlerId> base;
        // Runs mode: many handlers over several priorities, then one inserted inside the order.
        for (int i = 0; i < (runs ? 70 : 3); ++i)
            base.push_back(registry.add([] { }, runs ? i % 4 : 0));
        const rio::HandlerId fixed =
            registry.add([&calls] { calls.fetch_add(1, std::memory_order_relaxed); }, runs ? 1 : 0);
        const rio::HandlerId thrower = registry.add([] { throw std::runtime_error("no"); }, runs ? 2 : 0);
        const rio::HandlerId asleep = registry.add([] { }, runs ? 3 : 0);
        CHECK(registry.setSuspended(asleep, true));
        registry.setDiagnosticsEnabled(true);
        constexpr int perThread = 3000;
        std::vector<std::thread> threads;
        for (int t = 0; t < 2; ++t)
            threads.emplace_back([&] {
                for (int i = 0; i < perThread; ++i)
                    registry.notify(i);
            });
        threads.emplace_back([&] {
            for (int i = 0; i < 200; ++i) {
                const rio::HandlerId id = registry.add([] { }, i % 4);
                if (i % 2 == 0)
                    registry.setSuspended(id, true);
                registry.remove(id);
            }
        });
        for (auto &t : threads)
            t.join();
        const diag::RegistryRecord r = recordOf(name);
        CHECK_EQ(calls.load(), 2L * perThread);
        CHECK_EQ(handlerOf(r, fixed)->calls, std::uint64_t{2 * perThread});
        CHECK_EQ(handlerOf(r, fixed)->failures, std::uint64_t{0});
        CHECK_EQ(handlerOf(r, thrower)->calls, std::uint64_t{2 * perThread});
        CHECK_EQ(handlerOf(r, thrower)->failures, std::uint64_t{2 * perThread});
        CHECK_EQ(failures.load(), 2L * perThread);
        CHECK_EQ(handlerOf(r, asleep)->calls, std::uint64_t{0});
        CHECK_EQ(handlerOf(r, base.front())->calls, std::uint64_t{2 * perThread});
        // A removed handler is counted no more.
        CHECK(registry.remove(base.front()));
        CHECK(registry.remove(fixed));
        registry.notify(0);
        CHECK_EQ(calls.load(), 2L * perThread);
        CHECK_EQ(handlerOf(recordOf(name), thrower)->calls, std::uint64_t{2 * perThread + 1});
        registry.setDiagnosticsEnabled(false);
    }
}

// A nested notify is timed for both handlers: the outer run's time holds the inner one's, the
// outer notify goes on timing its next handler after the inner one ends, and a slow run of each
// of the three is reported (once each, named by its registry and id: ids of two registries
// collide).
RIO_TEST(nestedTimedNotifiesTimeBothAndRestoreTheOuterRun)
{
    Reports local;
    reports = &local;
    diag::setSlowSink(&collectSink);
    std::uint64_t mainNs = 0, otherNs = 0, stallNs = 0;
    diag::thresholds(mainNs, otherNs, stallNs);
    rio::Registry<int> inner;
    rio::Registry<int> outer;
    inner.setDiagnosticsName("nested-inner");
    outer.setDiagnosticsName("nested-outer");
    std::atomic<int> spin{0};
    const rio::HandlerId i = inner.add([&spin] {
        for (int k = 0; k < 2000; ++k)
            spin.fetch_add(1, std::memory_order_relaxed);
    });
    const rio::HandlerId o = outer.add([&inner](int v) { inner.notify(v); });
    const rio::HandlerId after = outer.add([] { runPastOneNs(); });
    inner.setDiagnosticsEnabled(true);
    outer.setDiagnosticsEnabled(true);
    for (int k = 0; k < 3; ++k)
        outer.notify(k);
    const diag::RegistryRecord ri = recordOf("nested-inner");
    const diag::RegistryRecord ro = recordOf("nested-outer");
    const std::optional<diag::HandlerRecord> hi = handlerOf(ri, i);
    const std::optional<diag::HandlerRecord> ho = handlerOf(ro, o);
    CHECK_EQ(hi->calls, std::uint64_t{3});
    CHECK_EQ(ho->calls, std::uint64_t{3});
    CHECK_EQ(handlerOf(recordOf("nested-outer"), after)->calls, std::uint64_t{3});
    CHECK(ro.histogram(ho->runTime).maxNs >= ri.histogram(hi->runTime).maxNs);
    CHECK(ro.histogram(ho->runTime).totalNs >= ri.histogram(hi->runTime).totalNs);
    diag::setThresholds(mainNs, 1, stallNs); // every run on this (non-main) thread is slow
    outer.notify(9);
    diag::setThresholds(mainNs, otherNs, stallNs);
    diag::setSlowSink(nullptr);
    reports = nullptr;
    // The slow reports (a stall the watchdog named, a run preempted past 50 ms, is no slow run).
    std::vector<std::pair<std::uint64_t, rio::HandlerId>> named;
    for (const auto &run : local.runs)
        if (!run.stillRunning)
            named.emplace_back(run.registry, run.id);
    std::vector<std::pair<std::uint64_t, rio::HandlerId>> each{
        {ri.serial, i}, {ro.serial, o}, {ro.serial, after}};
    std::sort(named.begin(), named.end());
    std::sort(each.begin(), each.end());
    CHECK(named == each);
    inner.setDiagnosticsEnabled(false);
    outer.setDiagnosticsEnabled(false);
}

RIO_TEST(processWideSwitchReachesEveryRegistryPresentAndFuture)
{
    rio::Registry<int> before;
    before.setDiagnosticsName("before");
    const rio::HandlerId a = before.add([] { });
    diag::setGlobalEnabled(true);
    CHECK(diag::watchdogRunning());
    rio::Registry<int> after;
    after.setDiagnosticsName("after");
    const rio::HandlerId b = after.add([] { });
    before.notify(1);
    after.notify(1);
    CHECK(before.isDiagnosticsEnabled());
    CHECK(after.isDiagnosticsEnabled());
    before.setDiagnosticsEnabled(false); // the process-wide switch keeps it on
    CHECK(before.isDiagnosticsEnabled());
    diag::setGlobalEnabled(false);
    before.notify(2);
    CHECK(!before.isDiagnosticsEnabled());
    CHECK_EQ(handlerOf(recordOf("before"), a)->calls, std::uint64_t{1});
    CHECK_EQ(handlerOf(recordOf("after"), b)->calls, std::uint64_t{1});
    CHECK(!diag::watchdogRunning());
}

RIO_TEST(aRegistryCreatedWhileOnProcessWideLeavesTheWatchdogToItsOwnSwitch)
{
    CHECK(!diag::watchdogRunning());
    diag::setGlobalEnabled(true);
    {
        rio::Registry<int> during; // created (its first writer) while on process-wide
        during.add([] { });
        CHECK(during.isDiagnosticsEnabled());
        diag::setGlobalEnabled(false);
        CHECK(!diag::watchdogRunning());
        rio::Registry<int> own;
        own.add([] { });
        own.setDiagnosticsEnabled(true);
        CHECK(diag::watchdogRunning()); // its own switch starts it
        own.setDiagnosticsEnabled(false);
        CHECK(!diag::watchdogRunning());
        diag::setGlobalEnabled(true); // destroyed while on: counted out once
    }
    diag::setGlobalEnabled(false);
    CHECK(!diag::watchdogRunning());
    rio::Registry<int> later;
    later.add([] { });
    later.setDiagnosticsEnabled(true);
    CHECK(diag::watchdogRunning());
    later.setDiagnosticsEnabled(false);
    CHECK(!diag::watchdogRunning());
}

namespace {
// Blocks the calibration's read number `delayedRead` for 30 ms (a preemption between the reads).
std::atomic<int> delayedRead{-1};
void delayOneRead(int read) noexcept
{
    if (read == delayedRead.load(std::memory_order_relaxed))
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
}
} // namespace

RIO_TEST(aPreemptionDuringTheClocksCalibrationLeavesItsRateRight)
{
    if (diag::calibrateClock(nullptr) == 0.0)
        return; // steady_clock: nothing is calibrated
    // The reference: the median of three undisturbed calibrations.
    std::vector<double> ref{diag::calibrateClock(nullptr), diag::calibrateClock(nullptr),
                            diag::calibrateClock(nullptr)};
    std::sort(ref.begin(), ref.end());
    const double rate = ref[1];
    CHECK(rate > 0);
    // A preemption inside each of the reads that pair the two clocks, first and last.
    for (const int read : {0, 1, 7, 8, 9, 15}) {
        delayedRead.store(read, std::memory_order_relaxed);
        const double r = diag::calibrateClock(&delayOneRead);
        CHECK(r > rate * 0.95);
        CHECK(r < rate * 1.05);
    }
    delayedRead.store(-1, std::memory_order_relaxed);
}

RIO_TEST(eventFlagsListenersAreRecordedAtTheCallersLine)
{
    rio::EventFlags flags(2);
    const auto recorded = [](int line) {
        for (const auto &r : diag::collect())
            for (const auto &h : r.handlers)
                if (static_cast<int>(h.where.line()) == line &&
                    endsWith(h.where.fileName(), "tst_diagnostics_core.cpp"))
                    return true;
        return false;
    };
    const int a = __LINE__ + 1;
    const rio::HandlerId ia = flags.add(0, [] { });
    const int b = __LINE__ + 1;
    const rio::HandlerId ib = flags.listeners(1).add([] { });
    const int c = __LINE__ + 1;
    const rio::HandlerId ic = flags.addOnce(1, [] { });
    const int d = __LINE__ + 1;
    rio::HandlerGuard gd = flags.listeners(0).addScoped([] { });
    CHECK(recorded(a));
    CHECK(recorded(b));
    CHECK(recorded(c));
    CHECK(recorded(d));
    flags.remove(0, ia);
    flags.remove(1, ib);
    flags.remove(1, ic);
}

RIO_TEST(aRunAroundANestedRunIsReportedStalledOnce)
{
    CollectedReports local;
    diag::setThresholds(local.mainNs, local.otherNs, 20'000'000); // 20 ms
    {
        rio::Registry<int> outer;
        rio::Registry<int> inner;
        const auto stalls = [&](rio::HandlerId id) {
            return std::count_if(local.runs.begin(), local.runs.end(),
                                 [&](const diag::SlowRun &r) { return r.stillRunning && r.id == id; });
        };
        inner.add([] { }); // ids differ from outer's: reports are told apart by id
        rio::HandlerId innerId;
        // The inner run (a nested event loop's) stalls and is named; the outer run goes on for
        // 150 ms after it, six watchdog periods: it is never named again.
        innerId = inner.add([&] {
            std::unique_lock lock(local.mutex);
            local.changed.wait_for(lock, std::chrono::seconds(10), [&] { return stalls(innerId) == 1; });
        });
        rio::HandlerId outerId;
        bool outerNamedTwice = true;
        outerId = outer.add([&] {
            {
                std::unique_lock lock(local.mutex);
                local.changed.wait_for(lock, std::chrono::seconds(10), [&] { return stalls(outerId) == 1; });
            }
            inner.notify(1);
            std::unique_lock lock(local.mutex);
            outerNamedTwice = local.changed.wait_for(lock, std::chrono::milliseconds(150),
                                                     [&] { return stalls(outerId) > 1; });
        });
        outer.setDiagnosticsEnabled(true);
        inner.setDiagnosticsEnabled(true);
        outer.notify(1);
        CHECK(innerId != outerId);
        CHECK(!outerNamedTwice);
        std::lock_guard lock(local.mutex);
        CHECK_EQ(stalls(outerId), std::ptrdiff_t{1});
        CHECK_EQ(stalls(innerId), std::ptrdiff_t{1});
    }
}

// Switching off joins the watchdog outside the lock, so a switch back on from another thread can
// start the next watchdog while the old one still scans: a run stalled meanwhile is named once.
RIO_TEST(watchdogsThatOverlapWhileOneEndsNameARunOnce)
{
    CollectedReports local;
    diag::setThresholds(local.mainNs, local.otherNs, 2'000'000); // 2 ms: the watchdogs look every 1 ms
    {
        rio::Registry<int> registry;
        std::atomic<bool> running{false};
        std::mutex releaseMutex;
        std::condition_variable released;
        bool release = false;
        rio::HandlerId id;
        id = registry.add([&] {
            running.store(true);
            std::unique_lock lock(releaseMutex); // bounded: 10 s
            released.wait_for(lock, std::chrono::seconds(10), [&] { return release; });
        });
        registry.setDiagnosticsEnabled(true);
        std::thread runner([&] { registry.notify(1); });
        while (!running.load())
            std::this_thread::yield();
        // Two threads switch the registry off and on, 300 times each: watchdogs end and start.
        const auto toggle = [&] {
            for (int i = 0; i < 300; ++i) {
                registry.setDiagnosticsEnabled(false);
                registry.setDiagnosticsEnabled(true);
            }
        };
        std::thread other(toggle);
        toggle();
        other.join();
        const auto stalls = [&] {
            return std::count_if(local.runs.begin(), local.runs.end(),
                                 [&](const diag::SlowRun &r) { return r.stillRunning && r.id == id; });
        };
        {
            std::unique_lock lock(local.mutex); // on now: named within 10 s if not yet
            local.changed.wait_for(lock, std::chrono::seconds(10), [&] { return stalls() > 0; });
        }
        {
            std::lock_guard lock(releaseMutex);
            release = true;
        }
        released.notify_all();
        runner.join();
        std::lock_guard lock(local.mutex);
        CHECK_EQ(stalls(), std::ptrdiff_t{1});
    }
}

// By default a timed notify reads no clock per run (one notify per thread per millisecond does):
// runs are counted exactly from two threads at once, and every run that reached the slow
// threshold (16 ms on every thread by default) is still counted as slow: a planted 45 ms run in
// 100, among 16 handlers, on both threads.
RIO_TEST(slowRunsAreCountedWithoutAClockReadPerRun)
{
    CHECK(!diag::isEveryRunPrecise());
    std::uint64_t mainNs = 0, otherNs = 0, stallNs = 0;
    diag::thresholds(mainNs, otherNs, stallNs);
    CHECK_EQ(otherNs, std::uint64_t{16'000'000});
    rio::Registry<int> registry;
    registry.setDiagnosticsName("sampled");
    std::vector<rio::HandlerId> trivial;
    std::atomic<long> sink{0};
    for (int k = 0; k < 15; ++k)
        trivial.push_back(registry.add([&sink] { sink.fetch_add(1, std::memory_order_relaxed); }));
    constexpr int perThread = 300;
    std::atomic<int> planted{0};
    const rio::HandlerId slow = registry.add([&planted](int v) {
        // Three runs per thread: a workload, not a synchronisation; 45 ms, below the stall
        // threshold and far enough past the slow one that the watchdog's 1 ms clock finds it
        // even when a loaded machine holds the watchdog off for 25 ms near its end.
        if (v % 100 == 50) {
            planted.fetch_add(1, std::memory_order_relaxed);
            std::this_thread::sleep_for(std::chrono::milliseconds(45));
        }
    });
    registry.setDiagnosticsEnabled(true);
    const auto notifier = [&registry] {
        for (int v = 0; v < perThread; ++v)
            registry.notify(v);
    };
    std::thread a(notifier);
    std::thread b(notifier);
    a.join();
    b.join();
    const diag::RegistryRecord sampled = recordOf("sampled");
    const std::optional<diag::HandlerRecord> s = handlerOf(sampled, slow);
    const std::optional<diag::HandlerRecord> t = handlerOf(sampled, trivial.front());
    registry.setDiagnosticsEnabled(false);
    CHECK_EQ(planted.load(), 6);
    CHECK_EQ(s->calls, std::uint64_t{2 * perThread});
    CHECK_EQ(t->calls, std::uint64_t{2 * perThread});
    CHECK_EQ(s->slowRuns, std::uint64_t{6});
    CHECK(sampled.histogram(s->runTime).maxNs >= 45'000'000);
    CHECK(sampled.histogram(s->runTime).maxNs < 45'000'000 + 1'000'000'000); // one run's time, not a sum
}
