// SPDX-License-Identifier: MIT
// Once-handlers: at most one call, even when several threads notify at the same instant.
#include "rio_test_support.h"

#include <registryio/registry.h>

#include <QTest>

#include <atomic>
#include <barrier>
#include <cstdint>
#include <thread>
#include <utility>
#include <vector>

class tst_Once : public QObject
{
    Q_OBJECT
private slots:
    void runsOnceThenIsGone()
    {
        rio::Registry<int> registry;
        int calls = 0;
        int value = 0;
        const rio::HandlerId id = registry.addOnce([&](const int &v) {
            ++calls;
            value = v;
        });
        QVERIFY(registry.contains(id));
        registry.notify(5);
        registry.notify(6);
        QCOMPARE(calls, 1);
        QCOMPARE(value, 5);
        QVERIFY(!registry.contains(id));
        QVERIFY(registry.isEmpty());
        QVERIFY(!registry.remove(id)); // already gone
    }

    void removedBeforeItFiresNeverRuns()
    {
        rio::Registry<int> registry;
        int calls = 0;
        const rio::HandlerId id = registry.addOnce([&calls] { ++calls; });
        QVERIFY(registry.remove(id));
        registry.notify(0);
        QCOMPARE(calls, 0);
    }

    void onceAmongPlainHandlers()
    {
        rio::Registry<int> registry;
        std::vector<int> calls;
        registry.add([&calls] { calls.push_back(1); });
        registry.addOnce([&calls] { calls.push_back(2); });
        registry.add([&calls] { calls.push_back(3); });
        registry.notify(0);
        registry.notify(0);
        QCOMPARE(calls, (std::vector<int>{1, 2, 3, 1, 3}));
    }

    // Each round adds once-handlers, then 2+ threads released together by a barrier notify at
    // the same instant. Exactly one call per once-handler per round, and none left afterwards.
    void racingNotifiesCallOnce_data()
    {
        QTest::addColumn<int>("threads");
        QTest::newRow("2 threads") << 2;
        QTest::newRow("4 threads") << 4;
    }

    void racingNotifiesCallOnce()
    {
        QFETCH(int, threads);
        constexpr int handlersPerRound = 3;
        const int rounds = rio::test::scaled(2000, 5);
        rio::Registry<int> registry;
        std::atomic<int> plainCalls{0};
        registry.add([&plainCalls] { plainCalls.fetch_add(1, std::memory_order_relaxed); });
        std::vector<std::atomic<int>> onceCalls(handlersPerRound);
        std::vector<rio::HandlerId> ids(handlersPerRound);

        // The main thread takes part in the barrier: phase 1 starts the notifies, phase 2 ends them.
        std::barrier sync(threads + 1);
        std::vector<std::thread> notifiers;
        for (int t = 0; t < threads; ++t) {
            notifiers.emplace_back([&] {
                for (int r = 0; r < rounds; ++r) {
                    sync.arrive_and_wait();
                    registry.notify(r);
                    sync.arrive_and_wait();
                }
            });
        }
        int failures = 0;
        for (int r = 0; r < rounds; ++r) {
            for (int h = 0; h < handlersPerRound; ++h) {
                onceCalls[h].store(0, std::memory_order_relaxed);
                std::atomic<int> *counter = &onceCalls[h];
                ids[h] =
                    registry.addOnce([counter] { counter->fetch_add(1, std::memory_order_relaxed); }, h - 1);
            }
            sync.arrive_and_wait();
            sync.arrive_and_wait();
            for (int h = 0; h < handlersPerRound; ++h) {
                if (onceCalls[h].load() != 1 || registry.contains(ids[h]))
                    ++failures;
            }
            if (registry.size() != 1)
                ++failures;
        }
        for (std::thread &t : notifiers)
            t.join();
        QCOMPARE(failures, 0);
        QCOMPARE(plainCalls.load(), rounds * threads);
        QCOMPARE(registry.size(), std::size_t{1});
    }

    // One thread notifies while another removes the once-handler, released together: the
    // handler runs at most once, and it either ran or was removed (or both, when the notify
    // had already read the handler's entry before the removal), never neither; it is gone
    // afterwards.
    void racingNotifyAndRemoveCallAtMostOnce()
    {
        const int rounds = rio::test::scaled(2000, 5);
        rio::Registry<int> registry;
        std::barrier sync(3); // notifier, remover and the main thread
        std::atomic<int> calls{0};
        std::atomic<std::uint64_t> currentId{0};
        std::atomic<bool> removed{false};
        std::thread notifier([&] {
            for (int r = 0; r < rounds; ++r) {
                sync.arrive_and_wait();
                registry.notify(r);
                sync.arrive_and_wait();
            }
        });
        std::thread remover([&] {
            for (int r = 0; r < rounds; ++r) {
                sync.arrive_and_wait();
                removed.store(registry.remove(rio::HandlerId{currentId.load()}));
                sync.arrive_and_wait();
            }
        });
        int failures = 0;
        int ranAndRemoved = 0;
        for (int r = 0; r < rounds; ++r) {
            calls.store(0);
            removed.store(false);
            currentId.store(registry.addOnce([&calls] { calls.fetch_add(1); }).value());
            sync.arrive_and_wait();
            sync.arrive_and_wait();
            const int c = calls.load();
            if (c > 1 || (c == 0 && !removed.load()) || registry.contains(rio::HandlerId{currentId.load()}))
                ++failures;
            ranAndRemoved += c == 1 && removed.load();
        }
        notifier.join();
        remover.join();
        QCOMPARE(failures, 0);
        QVERIFY(registry.isEmpty());
        qDebug("rounds where the handler ran and remove() was also true: %d of %d", ranAndRemoved, rounds);
    }

    // As above with removeAndWait: whichever bool it returns, the once-handler is not running
    // when it returns. false means the handler fired first, so by then its one call has
    // completed; true means this call removed it (it may still have started just before, and
    // then it has finished too). Its closure is destroyed either way.
    void racingNotifyAndRemoveAndWait()
    {
        const int rounds = rio::test::scaled(2000, 5);
        rio::Registry<int> registry;
        std::barrier sync(3);
        std::atomic<int> calls{0};
        std::atomic<int> running{0};
        std::atomic<int> closures{0};
        std::atomic<std::uint64_t> currentId{0};
        std::atomic<int> runningAtReturn{0};
        std::atomic<int> falseButNotCalled{0};
        std::atomic<int> aliveAtReturn{0};
        std::atomic<int> falseResults{0};
        struct Closure
        {
            std::atomic<int> *calls;
            std::atomic<int> *running;
            std::atomic<int> *closures;
            bool owner = true;
            Closure(std::atomic<int> *c, std::atomic<int> *r, std::atomic<int> *n)
                : calls(c), running(r), closures(n)
            {
                closures->fetch_add(1);
            }
            Closure(Closure &&o) noexcept
                : calls(o.calls), running(o.running), closures(o.closures),
                  owner(std::exchange(o.owner, false))
            { }
            ~Closure()
            {
                if (owner)
                    closures->fetch_sub(1);
            }
            void operator()() const
            {
                running->fetch_add(1);
                calls->fetch_add(1);
                std::this_thread::yield(); // widens the window a wrong removeAndWait would leave
                running->fetch_sub(1);
            }
        };
        std::thread notifier([&] {
            for (int r = 0; r < rounds; ++r) {
                sync.arrive_and_wait();
                for (int i = 0; i < r % 8; ++i) // staggered, so that both sides win some rounds
                    std::this_thread::yield();
                registry.notify(r);
                sync.arrive_and_wait();
            }
        });
        std::thread remover([&] {
            for (int r = 0; r < rounds; ++r) {
                sync.arrive_and_wait();
                const bool removed = registry.removeAndWait(rio::HandlerId{currentId.load()});
                runningAtReturn.fetch_add(running.load());
                aliveAtReturn.fetch_add(closures.load());
                if (!removed) {
                    falseResults.fetch_add(1);
                    if (calls.load() != 1)
                        falseButNotCalled.fetch_add(1);
                }
                sync.arrive_and_wait();
            }
        });
        int failures = 0;
        for (int r = 0; r < rounds; ++r) {
            calls.store(0);
            currentId.store(registry.addOnce(Closure(&calls, &running, &closures)).value());
            sync.arrive_and_wait();
            sync.arrive_and_wait();
            if (calls.load() > 1 || registry.contains(rio::HandlerId{currentId.load()}))
                ++failures;
        }
        notifier.join();
        remover.join();
        QCOMPARE(failures, 0);
        QCOMPARE(runningAtReturn.load(), 0);
        QCOMPARE(aliveAtReturn.load(), 0);
        QCOMPARE(falseButNotCalled.load(), 0);
        QVERIFY(registry.isEmpty());
        qDebug("removeAndWait returned false (the handler fired first) in %d of %d rounds",
               falseResults.load(), rounds);
    }
};

QTEST_APPLESS_MAIN(tst_Once)
#include "tst_once.moc"
