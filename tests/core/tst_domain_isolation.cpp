// SPDX-License-Identifier: MIT
// Registries do not wait for, reclaim for, or keep garbage because of each other: removeAndWait
// of ids no longer published, destruction of a registry whose closure waits elsewhere, closure
// destructors that stay on their own registry's writers, reader records bounded under thread
// churn, a membarrier that starts failing, and bounded garbage beside a parked reader. Hangs are
// bounded: a wait that does not finish in time ends the process with a message.
#include "rio_check.h"
#include "rio_test_support.h"

#include <registryio/registry.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#ifdef __linux__
#include <unistd.h>

#include "fence_testing_p.h" // the switch that makes membarrier fail (Linux only)
#endif

namespace {

// A closure whose destructor reports where it ran.
struct Reporter
{
    std::atomic<int> *wrongThread;
    std::atomic<int> *destroyed;
    const std::atomic<std::thread::id> *forbidden;
    std::shared_ptr<int> alive = std::make_shared<int>(7);
    void operator()(int) const { }
    Reporter(std::atomic<int> *w, std::atomic<int> *d, const std::atomic<std::thread::id> *f)
        : wrongThread(w), destroyed(d), forbidden(f)
    { }
    Reporter(const Reporter &) = default;
    Reporter(Reporter &&) = default;
    ~Reporter()
    {
        if (destroyed == nullptr || !alive)
            return; // moved-from
        if (std::this_thread::get_id() == forbidden->load())
            wrongThread->fetch_add(1);
        destroyed->fetch_add(1);
    }
};

// What removeAndWait returned, and whether the handler had finished by then.
struct WaitResult
{
    bool removed;
    bool finishedOnReturn;
};

} // namespace

// For the three ways a handler can leave the published array while it runs (a once-handler
// firing, clear(), and remove() on another thread), removeAndWait does not return (its future
// stays not ready) until the handler is released, then returns false with the handler finished.
RIO_TEST_DATA(removeAndWaitForUnpublishedIds, int, how, {"once fired", 0}, {"after clear", 1},
              {"removed elsewhere", 2})
{
    rio::Registry<int> r;
    rio::check::Latch entered(1);
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::atomic<bool> finished{false};
    auto handler = [&entered, released, &finished] {
        entered.count_down();
        released.wait();
        finished.store(true);
    };
    const rio::HandlerId id = how == 0 ? r.addOnce(handler) : r.add(handler);
    std::thread notifier([&r] { r.notify(0); });
    entered.wait();
    if (how == 1) {
        r.clear();
    } else if (how == 2) {
        auto removed = std::async(std::launch::async, [&r, id] { return r.remove(id); });
        CHECK(rio::check::getOrDie(removed, 20, "remove on another thread"));
    }
    CHECK(!r.contains(id));
    auto waited = std::async(std::launch::async, [&r, &finished, id] {
        const bool removed = r.removeAndWait(id);
        return WaitResult{removed, finished.load()};
    });
    // Probe only: did it return early? (The handler is still blocked, so it must not have.)
    const bool early = waited.wait_for(std::chrono::milliseconds(50)) == std::future_status::ready;
    release.set_value();
    const WaitResult result = rio::check::getOrDie(waited, 20, "removeAndWait after release");
    notifier.join();
    CHECK(!early);
    CHECK(result.finishedOnReturn);
    CHECK(!result.removed);
}

// Thread A, inside a handler of r1, destroys r2 while thread B runs a closure destructor of r2
// (in B's own removeAndWait pass) that calls removeAndWait on r3: both finish. (A deadlock would
// be A waiting for B's destruction while B's removeAndWait waits for A's read section.)
RIO_TEST(destroyRegistryWhileItsClosureWaitsElsewhere)
{
    rio::Registry<int> r1;
    auto r2 = std::make_unique<rio::Registry<int>>();
    rio::Registry<int> r3;
    const rio::HandlerId id3 = r3.add([] { });
    rio::check::Latch aInside(1);
    rio::check::Latch dtorEntered(1);
    std::atomic<bool> r3Waited{false};
    struct WaitsOnR3
    {
        rio::Registry<int> *r3;
        rio::HandlerId id3;
        rio::check::Latch *dtorEntered;
        std::atomic<bool> *r3Waited;
        bool owner = true;
        WaitsOnR3(rio::Registry<int> *r, rio::HandlerId i, rio::check::Latch *l, std::atomic<bool> *w)
            : r3(r), id3(i), dtorEntered(l), r3Waited(w)
        { }
        WaitsOnR3(WaitsOnR3 &&o) noexcept
            : r3(o.r3), id3(o.id3), dtorEntered(o.dtorEntered), r3Waited(o.r3Waited)
        {
            o.owner = false;
        }
        WaitsOnR3(const WaitsOnR3 &) = delete;
        ~WaitsOnR3()
        {
            if (!owner)
                return;
            dtorEntered->count_down();
            r3->removeAndWait(id3);
            r3Waited->store(true);
        }
        void operator()() const { }
    };
    const rio::HandlerId id2 = r2->add(WaitsOnR3(&r3, id3, &dtorEntered, &r3Waited));
    r1.add([&] {
        aInside.count_down();
        dtorEntered.wait();
        r2.reset(); // waits for B's destruction of r2's closure
    });
    auto a = std::async(std::launch::async, [&r1] { r1.notify(0); });
    auto b = std::async(std::launch::async, [&] {
        aInside.wait();
        return r2->removeAndWait(id2); // B's pass destroys the closure
    });
    const bool removed = rio::check::getOrDie(b, 20, "B: removeAndWait of r2 (closure waits on r3)");
    rio::check::getOrDie(a, 20, "A: destroying r2 inside a handler of r1");
    CHECK(removed);
    CHECK(r3Waited.load());
    CHECK(!r2);
    CHECK(!r3.contains(id3));
}

// A notify of registry A never runs a closure destructor of registry B, however
// much B's writer leaves pending. Destructors record whether they ran on A's notify thread.
RIO_TEST(notifyNeverRunsAnotherRegistrysDestructors)
{
    const int rounds = rio::test::scaled(20000, 10);
    rio::Registry<int> a;
    rio::Registry<int> b;
    std::atomic<int> wrongThread{0};
    std::atomic<int> destroyed{0};
    std::atomic<std::thread::id> notifyThread{};
    std::atomic<long> aCalls{0};
    a.add([&aCalls] { aCalls.fetch_add(1, std::memory_order_relaxed); });
    // A reader of B stays inside B's notify now and then, so B's garbage stays pending.
    std::atomic<bool> stop{false};
    rio::check::Latch started(2);
    // Each thread has notified once before the writer starts (a thread preempted right after
    // starting would otherwise leave the writer's rounds without a concurrent notify at all).
    std::thread notifierA([&] {
        notifyThread.store(std::this_thread::get_id());
        a.notify(1);
        started.count_down();
        while (!stop.load(std::memory_order_relaxed))
            a.notify(1);
    });
    std::thread readerB([&] {
        b.notify(2);
        started.count_down();
        while (!stop.load(std::memory_order_relaxed))
            b.notify(2);
    });
    started.wait();
    for (int i = 0; i < rounds; ++i)
        b.remove(b.add(Reporter(&wrongThread, &destroyed, &notifyThread)));
    stop.store(true);
    notifierA.join();
    readerB.join();
    b.synchronize();
    CHECK(aCalls.load() > 0);
    CHECK_EQ(destroyed.load(), rounds);
    CHECK_EQ(wrongThread.load(), 0);
}

// Bounded garbage, unrelated registry: a reader parked inside a handler of P for the whole
// run; remove(add()) on Q. Q's pending count stays below a constant, at N/2 as at N.
RIO_TEST(parkedReaderDoesNotGrowUnrelatedGarbage)
{
    const int n = rio::test::scaled(200000, 10);
    rio::Registry<int> p;
    rio::Registry<int> q;
    rio::check::Latch parked(1);
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    p.add([&parked, released] {
        parked.count_down();
        released.wait();
    });
    std::thread reader([&p] { p.notify(0); });
    parked.wait();
    std::size_t maxFirstHalf = 0;
    std::size_t maxSecondHalf = 0;
    for (int i = 0; i < n; ++i) {
        q.remove(q.add([s = std::string(24, 'q')] { (void)s; }));
        const std::size_t pending = q.pendingCount();
        (i < n / 2 ? maxFirstHalf : maxSecondHalf) =
            std::max(i < n / 2 ? maxFirstHalf : maxSecondHalf, pending);
    }
    release.set_value();
    reader.join();
    rio::check::note("unrelated registry: max pending ", maxFirstHalf, " (first half), ", maxSecondHalf,
                     " (second half), N=", n);
    CHECK_MSG(maxFirstHalf < 2 * rio::detail::passBatch, "pending grew on an unrelated registry");
    CHECK_MSG(maxSecondHalf < 2 * rio::detail::passBatch, "pending grew on an unrelated registry");
}

// Bounded garbage, same registry: the parked reader pins only what it can reach (its
// snapshot, the handler it runs, and in the fallback mode the boxes of that snapshot), so
// P's pending count stays small however long the churn on P runs.
RIO_TEST(parkedReaderPinsOnlyWhatItReaches)
{
    const int n = rio::test::scaled(200000, 10);
    rio::Registry<int> p;
    rio::check::Latch parked(1);
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    p.add([&parked, released] {
        parked.count_down();
        released.wait();
    });
    std::thread reader([&p] { p.notify(0); });
    parked.wait();
    std::size_t maxFirstHalf = 0;
    std::size_t maxSecondHalf = 0;
    for (int i = 0; i < n; ++i) {
        p.remove(p.add([s = std::string(24, 'p')] { (void)s; }));
        const std::size_t pending = p.pendingCount();
        (i < n / 2 ? maxFirstHalf : maxSecondHalf) =
            std::max(i < n / 2 ? maxFirstHalf : maxSecondHalf, pending);
    }
    release.set_value();
    reader.join();
    rio::check::note("same registry: max pending ", maxFirstHalf, " (first half), ", maxSecondHalf,
                     " (second half), N=", n);
    CHECK_MSG(maxFirstHalf < 2 * rio::detail::passBatch,
              "pending grew beyond what the parked reader reaches");
    CHECK_MSG(maxSecondHalf < 2 * rio::detail::passBatch,
              "pending grew beyond what the parked reader reaches");
    p.synchronize();
    CHECK_EQ(p.pendingCount(), std::size_t{0});
}

// Threads whose thread_local object, constructed before their first notify,
// notifies in its destructor (after the record releaser ran). Records stay bounded by the
// threads alive at once (batches of 8) plus a small constant, not one per thread.
RIO_TEST(readerRecordsStayBounded)
{
    const int threads = rio::test::scaled(20000, 10);
    constexpr int batch = 8;
    static rio::Registry<int> *registry = nullptr;
    rio::Registry<int> r;
    std::atomic<long> calls{0};
    r.add([&calls] { calls.fetch_add(1, std::memory_order_relaxed); });
    registry = &r;
    struct NotifiesWhenDestroyed
    {
        ~NotifiesWhenDestroyed() { registry->notify(3); }
        void touch() { }
    };
    const std::size_t before = rio::detail::hazard::recordCount();
    for (int done = 0; done < threads; done += batch) {
        std::vector<std::thread> group;
        for (int i = 0; i < batch; ++i) {
            group.emplace_back([] {
                static thread_local NotifiesWhenDestroyed late;
                late.touch(); // constructed before the thread's first notify
                registry->notify(4);
            });
        }
        for (auto &t : group)
            t.join();
    }
    const std::size_t after = rio::detail::hazard::recordCount();
    registry = nullptr;
    CHECK_EQ(calls.load(), 2L * (threads / batch) * batch);
    CHECK_MSG(after <= before + batch + 4, "records: " + std::to_string(before) + " before, " +
                                               std::to_string(after) + " after " + std::to_string(threads) +
                                               " threads");
}

// Membarrier starts failing while readers notify and a writer churns. The writer
// keeps working, switches to the IPI fence (x86) and says so once; nothing is freed while a
// reader may still use it (ASan; and every call checks its closure's data). Last in this
// file: it changes the process's fence mode for good.
RIO_TEST(membarrierFailingAfterStartUp)
{
#ifndef __linux__
    SKIP("membarrier is Linux's fence: this platform has none that could start failing");
#else
    using rio::detail::hazard::FenceMode;
    if (rio::detail::hazard::fenceMode() != FenceMode::Membarrier)
        SKIP("membarrier is not the fence mode of this run");
    const int rounds = rio::test::scaled(40000, 10);
    rio::Registry<int> r;
    std::atomic<long> bad{0};
    std::atomic<long> calls{0};
    auto handler = [&bad, &calls, data = std::make_unique<std::string>(32, 'm')] {
        if (*data != std::string(32, 'm'))
            bad.fetch_add(1);
        calls.fetch_add(1, std::memory_order_relaxed);
    };
    // Capture stderr for the switch message.
    std::fflush(stderr);
    char path[] = "/tmp/rio_fence_switch_XXXXXX";
    const int fd = mkstemp(path);
    CHECK(fd >= 0);
    const int savedErr = dup(2);
    dup2(fd, 2);

    std::atomic<bool> stop{false};
    std::vector<std::thread> readers;
    for (int i = 0; i < 2; ++i)
        readers.emplace_back([&, i] {
            while (!stop.load(std::memory_order_relaxed))
                r.notify(i);
        });
    for (int i = 0; i < rounds; ++i) {
        if (i == rounds / 4)
            rio::detail::hazard::testing::setMembarrierFails(true);
        auto copy = [&bad, &calls, data = std::make_unique<std::string>(32, 'm')] {
            if (*data != std::string(32, 'm'))
                bad.fetch_add(1);
            calls.fetch_add(1, std::memory_order_relaxed);
        };
        r.remove(r.add(std::move(copy)));
        if (i % 64 == 0)
            r.removeAndWait(r.add([&bad, &calls, data = std::make_unique<std::string>(32, 'm')] {
                if (*data != std::string(32, 'm'))
                    bad.fetch_add(1);
                calls.fetch_add(1, std::memory_order_relaxed);
            }));
    }
    const rio::HandlerId kept = r.add(std::move(handler));
    stop.store(true);
    for (auto &t : readers)
        t.join();
    r.synchronize();
    std::fflush(stderr);
    dup2(savedErr, 2);
    close(savedErr);
    std::string captured;
    {
        char buf[4096];
        lseek(fd, 0, SEEK_SET);
        for (ssize_t k; (k = read(fd, buf, sizeof buf)) > 0;)
            captured.append(buf, static_cast<std::size_t>(k));
        close(fd);
        unlink(path);
    }
    CHECK(r.removeAndWait(kept));
    CHECK_EQ(bad.load(), 0L);
#if defined(__x86_64__) || defined(__i386__)
    CHECK_EQ(rio::detail::hazard::fenceMode(), FenceMode::Ipi);
    const std::string message = "membarrier failed after start-up";
    std::size_t count = 0;
    for (std::size_t at = captured.find(message); at != std::string::npos;
         at = captured.find(message, at + 1))
        ++count;
    CHECK_EQ(count, std::size_t{1});
#endif
#endif
}
