// SPDX-License-Identifier: MIT
// README.md's C++ quick start is the region [quickstart] below, verbatim: the test
// tst_doc_snippets fails when the two differ, and example_quickstart runs it.
//! [quickstart]
#include <registryio/registry.h>

#include <cstdio>

struct OrderPlaced
{
    int id;
    double amount;
};

int main()
{
    rio::Registry<OrderPlaced> orders;

    // Any part of the program registers handlers; higher priority runs first.
    orders.add([](const OrderPlaced &o) { std::printf("audit: order %d\n", o.id); }, 100);
    rio::HandlerId mail = orders.add([](const OrderPlaced &o) { std::printf("mail: %.2f\n", o.amount); });

    {
        // A guard removes its handler when it goes out of scope.
        rio::HandlerGuard guard = orders.addScoped([] { std::printf("scoped: still listening\n"); });

        // Any thread may notify: every handler runs in priority order, with no lock and no
        // allocation. A handler that throws is isolated; the others still run.
        orders.notify({42, 9.99});
    }

    orders.remove(mail); // true the first time
    orders.notify({43, 5.00});
    std::printf("handlers left: %zu\n", orders.size());
}
//! [quickstart]
