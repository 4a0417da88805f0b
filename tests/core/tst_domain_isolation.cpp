// SPDX-License-Identifier: MIT
// Registries do not wait for, reclaim for, or keep garbage because of each other (issue 11:
// defects 1, 3, 6, 8, 9 and the bounded-garbage counts). Hangs are bounded: a wait that does not
// finish in time ends the process with a message.
#include "rio_hang_guard.h"
#include "rio_test_support.h"

#include <registryio/registry.h>

#include <QTest>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#if __has_include(<registryio/detail/hazard.h>)
#define RIO_TEST_CORE_V2 1
#include "fence_testing_p.h"
#else
#define RIO_TEST_CORE_V2 0
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

class tst_DomainIsolation : public QObject
{
    Q_OBJECT
private slots:
    // Defect 1, for the three ways a handler can leave the published array while it runs: a
    // once-handler firing, clear(), and remove() on another thread. removeAndWait must not
    // return (its future stays not ready) until the handler is released, then return false
    // with the handler finished. v1 returned at once.
    void removeAndWaitForUnpublishedIds_data()
    {
        QTest::addColumn<int>("how");
        QTest::newRow("once fired") << 0;
        QTest::newRow("after clear") << 1;
        QTest::newRow("removed elsewhere") << 2;
    }
    void removeAndWaitForUnpublishedIds()
    {
        QFETCH(int, how);
        rio::Registry<int> r;
        std::latch entered(1);
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
            QVERIFY(rio::test::getOrDie(removed, 20, "remove on another thread"));
        }
        QVERIFY(!r.contains(id));
        auto waited = std::async(std::launch::async, [&r, &finished, id] {
            const bool removed = r.removeAndWait(id);
            return WaitResult{removed, finished.load()};
        });
        // Probe only: did it return early? (The handler is still blocked, so it must not have.)
        const bool early = waited.wait_for(std::chrono::milliseconds(50)) == std::future_status::ready;
        release.set_value();
        const WaitResult result = rio::test::getOrDie(waited, 20, "removeAndWait after release");
        notifier.join();
        QVERIFY(!early);
        QVERIFY(result.finishedOnReturn);
        QVERIFY(!result.removed);
    }

    // Defect 3: thread A, inside a handler of r1, destroys r2 while thread B runs a closure
    // destructor of r2 (in B's own removeAndWait pass) that calls removeAndWait on r3. v1:
    // A waited for B's destruction, B's removeAndWait waited for A's read section.
    void destroyRegistryWhileItsClosureWaitsElsewhere()
    {
        rio::Registry<int> r1;
        auto r2 = std::make_unique<rio::Registry<int>>();
        rio::Registry<int> r3;
        const rio::HandlerId id3 = r3.add([] { });
        std::latch aInside(1);
        std::latch dtorEntered(1);
        std::atomic<bool> r3Waited{false};
        struct WaitsOnR3
        {
            rio::Registry<int> *r3;
            rio::HandlerId id3;
            std::latch *dtorEntered;
            std::atomic<bool> *r3Waited;
            bool owner = true;
            WaitsOnR3(rio::Registry<int> *r, rio::HandlerId i, std::latch *l, std::atomic<bool> *w)
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
        const bool removed = rio::test::getOrDie(b, 20, "B: removeAndWait of r2 (closure waits on r3)");
        rio::test::getOrDie(a, 20, "A: destroying r2 inside a handler of r1");
        QVERIFY(removed);
        QVERIFY(r3Waited.load());
        QVERIFY(!r2);
        QVERIFY(!r3.contains(id3));
    }

    // Defect 9: a notify of registry A never runs a closure destructor of registry B, however
    // much B's writer leaves pending. Destructors record whether they ran on A's notify thread.
    void notifyNeverRunsAnotherRegistrysDestructors()
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
        std::latch started(2);
        std::thread notifierA([&] {
            notifyThread.store(std::this_thread::get_id());
            started.count_down();
            while (!stop.load(std::memory_order_relaxed))
                a.notify(1);
        });
        std::thread readerB([&] {
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
        QVERIFY(aCalls.load() > 0);
        QCOMPARE(destroyed.load(), rounds);
        QCOMPARE(wrongThread.load(), 0);
    }

    // Bounded garbage, unrelated registry: a reader parked inside a handler of P for the whole
    // run; remove(add()) on Q. Q's pending count stays below a constant, at N/2 as at N.
    void parkedReaderDoesNotGrowUnrelatedGarbage()
    {
#if RIO_TEST_CORE_V2
        const int n = rio::test::scaled(200000, 10);
        rio::Registry<int> p;
        rio::Registry<int> q;
        std::latch parked(1);
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
        std::printf("unrelated registry: max pending %zu (first half), %zu (second half), N=%d\n",
                    maxFirstHalf, maxSecondHalf, n);
        QVERIFY2(maxFirstHalf < 128, "pending grew on an unrelated registry");
        QVERIFY2(maxSecondHalf < 128, "pending grew on an unrelated registry");
#else
        QSKIP("needs the core v2 API");
#endif
    }

    // Bounded garbage, same registry: the parked reader pins only what it can reach (its
    // snapshot, the handler it runs, and in the fallback mode the boxes of that snapshot), so
    // P's pending count stays small however long the churn on P runs.
    void parkedReaderPinsOnlyWhatItReaches()
    {
#if RIO_TEST_CORE_V2
        const int n = rio::test::scaled(200000, 10);
        rio::Registry<int> p;
        std::latch parked(1);
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
        std::printf("same registry: max pending %zu (first half), %zu (second half), N=%d\n", maxFirstHalf,
                    maxSecondHalf, n);
        QVERIFY2(maxFirstHalf < 128, "pending grew beyond what the parked reader reaches");
        QVERIFY2(maxSecondHalf < 128, "pending grew beyond what the parked reader reaches");
        p.synchronize();
        QCOMPARE(p.pendingCount(), std::size_t{0});
#else
        QSKIP("needs the core v2 API");
#endif
    }

    // Defect 6: threads whose thread_local object, constructed before their first notify,
    // notifies in its destructor (after the record releaser ran). Records stay bounded by the
    // threads alive at once (batches of 8) plus a small constant. v1 leaked one per thread.
    void readerRecordsStayBounded()
    {
#if RIO_TEST_CORE_V2
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
        QCOMPARE(calls.load(), 2L * (threads / batch) * batch);
        QVERIFY2(after <= before + batch + 4,
                 qPrintable(QStringLiteral("records: %1 before, %2 after %3 threads")
                                .arg(before)
                                .arg(after)
                                .arg(threads)));
#else
        QSKIP("needs the core v2 API");
#endif
    }

    // Defect 8: membarrier starts failing while readers notify and a writer churns. The writer
    // keeps working, switches to the IPI fence (x86) and says so once; nothing is freed while a
    // reader may still use it (ASan; and every call checks its closure's data). Last in this
    // file: it changes the process's fence mode for good.
    void membarrierFailingAfterStartUp()
    {
#if RIO_TEST_CORE_V2
        using rio::detail::hazard::FenceMode;
        if (rio::detail::hazard::fenceMode() != FenceMode::Membarrier)
            QSKIP("membarrier is not the fence mode of this run");
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
        QVERIFY(fd >= 0);
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
        QVERIFY(r.removeAndWait(kept));
        QCOMPARE(bad.load(), 0L);
#if defined(__x86_64__) || defined(__i386__)
        QCOMPARE(rio::detail::hazard::fenceMode(), FenceMode::Ipi);
        const std::string message = "membarrier failed after start-up";
        std::size_t count = 0;
        for (std::size_t at = captured.find(message); at != std::string::npos;
             at = captured.find(message, at + 1))
            ++count;
        QCOMPARE(count, std::size_t{1});
#endif
#else
        QSKIP("needs the core v2 API");
#endif
    }
};

QTEST_APPLESS_MAIN(tst_DomainIsolation)
#include "tst_domain_isolation.moc"
