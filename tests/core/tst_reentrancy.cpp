// Handlers that change or notify the registry that is calling them. A notify works on the
// snapshot it started with: changes made during it apply to notifies that start afterwards.
#include <registryio/registry.h>

#include <QTest>

#include <memory>
#include <string>
#include <vector>

using Calls = std::vector<std::string>;

// "A" + std::to_string(n) written as an append: g++ 12 at -O3 reports a false -Wrestrict inside
// char_traits.h for `const char * + std::string&&` (GCC PR 105329).
namespace {
std::string label(const char *prefix, int n)
{
    std::string s(prefix);
    s += std::to_string(n);
    return s;
}
} // namespace

class tst_Reentrancy : public QObject
{
    Q_OBJECT
private slots:
    void handlerRemovesItself()
    {
        rio::Registry<int> registry;
        Calls calls;
        registry.add([&calls] { calls.push_back("A"); }, 2);
        rio::HandlerId self;
        bool removed = false;
        // The capture outlives its own removal until the call ends (ASan checks the reads).
        auto name = std::make_unique<std::string>("B");
        self = registry.add(
            [&, name = std::move(name)] {
                calls.push_back(*name);
                removed = registry.remove(self);
                calls.push_back(*name + "-after-remove");
            },
            1);
        registry.add([&calls] { calls.push_back("C"); }, 0);

        registry.notify(0);
        QVERIFY(removed);
        QVERIFY(!registry.contains(self));
        QCOMPARE(registry.size(), std::size_t{2});
        registry.notify(0);
        QCOMPARE(calls, (Calls{"A", "B", "B-after-remove", "C", "A", "C"}));
    }

    void handlerRemovesALaterHandler()
    {
        rio::Registry<int> registry;
        Calls calls;
        rio::HandlerId later;
        bool removed = false;
        registry.add(
            [&] {
                calls.push_back("A");
                if (later.isValid())
                    removed = registry.remove(later);
            },
            2);
        registry.add([&calls] { calls.push_back("B"); }, 1);
        later = registry.add([&calls] { calls.push_back("C"); }, 0);

        registry.notify(0); // C is in this notify's snapshot: still called once
        QVERIFY(removed);
        registry.notify(0);
        QCOMPARE(calls, (Calls{"A", "B", "C", "A", "B"}));
        QCOMPARE(registry.size(), std::size_t{2});
    }

    void handlerRemovesAnEarlierHandler()
    {
        rio::Registry<int> registry;
        Calls calls;
        const rio::HandlerId earlier = registry.add([&calls] { calls.push_back("A"); }, 2);
        registry.add(
            [&] {
                calls.push_back("B");
                registry.remove(earlier);
            },
            1);
        registry.notify(0);
        registry.notify(0);
        QCOMPARE(calls, (Calls{"A", "B", "B"}));
    }

    void handlerAddsAHandler()
    {
        rio::Registry<int> registry;
        Calls calls;
        int adds = 0;
        registry.add(
            [&] {
                calls.push_back("A");
                if (adds++ == 0) {
                    registry.add([&calls] { calls.push_back("high"); }, 10);
                    registry.add([&calls] { calls.push_back("low"); }, -10);
                }
            },
            0);
        registry.add([&calls] { calls.push_back("B"); }, -1);

        registry.notify(0); // the new handlers are not in this notify's snapshot
        QCOMPARE(calls, (Calls{"A", "B"}));
        QCOMPARE(registry.size(), std::size_t{4});
        calls.clear();
        registry.notify(0);
        QCOMPARE(calls, (Calls{"high", "A", "B", "low"}));
    }

    void handlerClears()
    {
        rio::Registry<int> registry;
        Calls calls;
        registry.add([&calls] { calls.push_back("A"); }, 2);
        auto name = std::make_unique<std::string>("B");
        registry.add(
            [&, name = std::move(name)] {
                calls.push_back(*name);
                registry.clear();
                calls.push_back(*name + "-after-clear"); // own closure still alive
            },
            1);
        registry.add([&calls] { calls.push_back("C"); }, 0);

        registry.notify(0);
        QVERIFY(registry.isEmpty());
        registry.notify(0);
        QCOMPARE(calls, (Calls{"A", "B", "B-after-clear", "C"}));
    }

    void handlerNotifiesRecursively()
    {
        rio::Registry<int> registry;
        Calls calls;
        registry.add(
            [&](const int &depth) {
                calls.push_back(label("A", depth));
                if (depth > 0)
                    registry.notify(depth - 1);
            },
            1);
        registry.add([&calls](const int &depth) { calls.push_back(label("B", depth)); }, 0);
        registry.notify(2);
        QCOMPARE(calls, (Calls{"A2", "A1", "A0", "B0", "B1", "B2"}));
    }

    // Each nested notify takes its own snapshot: a handler added before the inner notify is
    // called by it, and a handler removed before it is not, while the outer notify keeps its own.
    void recursiveNotifySeesChangesMadeBeforeIt()
    {
        rio::Registry<int> registry;
        Calls calls;
        rio::HandlerId victim;
        registry.add(
            [&](const int &depth) {
                calls.push_back(label("A", depth));
                if (depth == 1) {
                    registry.add([&calls](const int &d) { calls.push_back(label("N", d)); }, 5);
                    QVERIFY(registry.remove(victim));
                    registry.notify(0);
                }
            },
            1);
        victim = registry.add([&calls](const int &d) { calls.push_back(label("V", d)); }, 0);
        registry.notify(1);
        QCOMPARE(calls, (Calls{"A1", "N0", "A0", "V1"}));
    }

    void onceHandlerNotifiesRecursively()
    {
        rio::Registry<int> registry;
        Calls calls;
        registry.addOnce(
            [&](const int &depth) {
                calls.push_back(label("once", depth));
                registry.notify(depth + 1); // must not run the once-handler again
            },
            1);
        registry.add([&calls](const int &depth) { calls.push_back(label("B", depth)); }, 0);
        registry.notify(0);
        QCOMPARE(calls, (Calls{"once0", "B1", "B0"}));
        QCOMPARE(registry.size(), std::size_t{1});
    }

    void removeAndWaitOfItselfDoesNotDeadlock()
    {
        rio::Registry<int> registry;
        Calls calls;
        rio::HandlerId self;
        bool removed = false;
        self = registry.add([&] {
            calls.push_back("S");
            removed = registry.removeAndWait(self);
            calls.push_back("S-after");
        });
        registry.add([&calls] { calls.push_back("T"); }, -1);
        registry.notify(0);
        registry.notify(0);
        QVERIFY(removed);
        QCOMPARE(calls, (Calls{"S", "S-after", "T", "T"}));
    }

    void synchronizeInsideAHandlerDoesNotDeadlock()
    {
        rio::Registry<int> registry;
        int calls = 0;
        registry.add([&] {
            ++calls;
            registry.synchronize();
        });
        registry.notify(0);
        registry.notify(0);
        QCOMPARE(calls, 2);
    }

    void handlerRemovesItselfInANestedNotify()
    {
        rio::Registry<int> registry;
        Calls calls;
        rio::HandlerId self;
        self = registry.add([&](const int &depth) {
            calls.push_back(label("S", depth));
            if (depth == 0)
                registry.notify(1);
            else
                QVERIFY(registry.remove(self));
        });
        registry.notify(0);
        registry.notify(0);
        QCOMPARE(calls, (Calls{"S0", "S1"}));
    }

    void handlerTouchesAnotherRegistry()
    {
        rio::Registry<int> first;
        rio::Registry<int> second;
        Calls calls;
        second.add([&calls] { calls.push_back("second"); });
        first.add([&] {
            calls.push_back("first");
            second.notify(0);
            second.clear();
            second.add([&calls] { calls.push_back("second-new"); });
        });
        first.notify(0);
        second.notify(0);
        QCOMPARE(calls, (Calls{"first", "second", "second-new"}));
    }
};

QTEST_APPLESS_MAIN(tst_Reentrancy)
#include "tst_reentrancy.moc"
