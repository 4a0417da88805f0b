// SPDX-License-Identifier: MIT
// Pattern: priority-ordered transaction hooks. Plugins hook into a commit: validation runs
// before limits, limits before the journal; after-commit hooks update caches before they
// notify users. A before-commit hook vetoes through the event (exceptions are isolated and
// reported, so they are not a way to abort).
#include <registryio/registry.h>

#include <cstdio>
#include <string>

struct Transaction
{
    int id;
    long amount;
};

//! [manager]
// Passed to before-commit hooks. The veto is shared state of this one commit.
struct BeforeCommit
{
    const Transaction &tx;
    std::string &veto; // set by a hook to abort; later hooks see it and skip their work
    std::string &trace;
};

struct AfterCommit
{
    const Transaction &tx;
    std::string &trace;
};

class TransactionManager
{
public:
    rio::Registry<BeforeCommit> beforeCommit;
    rio::Registry<AfterCommit> afterCommit;

    std::string commit(const Transaction &tx)
    {
        std::string veto;
        std::string trace;
        beforeCommit.notify({tx, veto, trace});
        if (!veto.empty())
            return trace + " > ROLLBACK (" + veto + ")";
        trace += " > COMMIT";
        afterCommit.notify({tx, trace});
        return trace;
    }
};
//! [manager]

static void step(std::string &trace, const char *name)
{
    trace += trace.empty() ? name : std::string(" > ") + name;
}

int main()
{
    TransactionManager tm;
    constexpr long limit = 1000;

    //! [hooks]
    // Registered in an arbitrary order: priorities decide when each runs.
    tm.beforeCommit.add([](const BeforeCommit &c) {
        if (c.veto.empty())
            step(c.trace, "journal");
    }); // 0: write-ahead journal, last
    tm.afterCommit.add([](const AfterCommit &c) { step(c.trace, "notify"); }, -10);
    tm.beforeCommit.add(
        [](const BeforeCommit &c) {
            step(c.trace, "validate");
            if (c.tx.amount <= 0)
                c.veto = "amount must be positive";
        },
        100);
    tm.afterCommit.add([](const AfterCommit &c) { step(c.trace, "cache"); }, 10);
    tm.beforeCommit.add(
        [](const BeforeCommit &c) {
            if (!c.veto.empty())
                return;
            step(c.trace, "limits");
            if (c.tx.amount > limit)
                c.veto = "amount " + std::to_string(c.tx.amount) + " exceeds limit " + std::to_string(limit);
        },
        50);
    //! [hooks]

    const std::string t1 = tm.commit({1, 250});
    const std::string t2 = tm.commit({2, 5000});
    const std::string t3 = tm.commit({3, -1});
    std::printf("tx 1: %s\ntx 2: %s\ntx 3: %s\n", t1.c_str(), t2.c_str(), t3.c_str());

    const bool ok = t1 == "validate > limits > journal > COMMIT > cache > notify" &&
                    t2 == "validate > limits > ROLLBACK (amount 5000 exceeds limit 1000)" &&
                    t3 == "validate > ROLLBACK (amount must be positive)";
    std::printf("transaction-hooks: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
