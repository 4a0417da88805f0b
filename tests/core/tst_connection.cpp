// SPDX-License-Identifier: MIT
// rio::Connection on rio::Registry, with std:: only (see rio_check.h): copies, disconnect once,
// a registry that died, and handles used from other threads.
#include "rio_check.h"

#include <registryio/connection.h>
#include <registryio/registry.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

RIO_TEST(connectionReportsAndDisconnectsItsHandler)
{
    rio::Registry<int> registry;
    int calls = 0;
    const rio::HandlerId id = registry.add([&calls] { ++calls; });
    const rio::Connection c = registry.connection(id);
    CHECK(c.id() == id);
    CHECK(c.isConnected());
    registry.notify(1);
    CHECK_EQ(calls, 1);
    CHECK(c.disconnect());
    CHECK(!c.isConnected());
    CHECK(!c.disconnect()); // only the call that removed it reports true
    CHECK(!registry.contains(id));
    registry.notify(1);
    CHECK_EQ(calls, 1);
}

RIO_TEST(connectionCopiesShareTheHandler)
{
    rio::Registry<int> registry;
    const rio::HandlerId id = registry.add([] { });
    const rio::Connection a = registry.connection(id);
    rio::Connection b = a; // copy
    CHECK(a == b);
    CHECK(b.id() == id);
    rio::Connection c;
    CHECK(!(c == a));
    c = b; // copy assignment
    CHECK(c == a);
    CHECK(b.disconnect());
    CHECK(!a.isConnected());
    CHECK(!c.isConnected());
    CHECK(!a.disconnect());
    CHECK(!c.disconnect());
    CHECK(a.id() == id); // the id stays after the handler is gone
}

RIO_TEST(connectionDoesNotOwnItsHandler)
{
    rio::Registry<int> registry;
    int calls = 0;
    {
        const rio::Connection c = registry.connection(registry.add([&calls] { ++calls; }));
        CHECK(c.isConnected());
    }
    registry.notify(0);
    CHECK_EQ(calls, 1);
    CHECK_EQ(registry.size(), std::size_t{1});
}

RIO_TEST(emptyAndForeignConnectionsAreNeverConnected)
{
    rio::Registry<int> registry;
    const rio::Connection empty;
    CHECK(!empty.id().isValid());
    CHECK(!empty.isConnected());
    CHECK(!empty.disconnect());
    const rio::Connection invalid = registry.connection(rio::HandlerId{});
    CHECK(invalid == empty);
    CHECK(!invalid.isConnected());
    const rio::HandlerId unknown{12345};
    const rio::Connection notHere = registry.connection(unknown);
    CHECK(!notHere.isConnected());
    CHECK(!notHere.disconnect());
    // An id of another registry does not reach that registry.
    rio::Registry<int> other;
    const rio::HandlerId otherId = other.add([] { });
    registry.add([] { });
    registry.add([] { });
    const rio::Connection wrong = registry.connection(rio::HandlerId{otherId.value() + 5});
    CHECK(!wrong.disconnect());
    CHECK(other.contains(otherId));
}

RIO_TEST(connectionAfterRemoveAndOnceFiring)
{
    rio::Registry<int> registry;
    const rio::HandlerId removed = registry.add([] { });
    const rio::Connection c = registry.connection(removed);
    CHECK(registry.remove(removed));
    CHECK(!c.isConnected());
    CHECK(!c.disconnect());
    const rio::Connection once = registry.connection(registry.addOnce([] { }));
    CHECK(once.isConnected());
    registry.notify(0);
    CHECK(!once.isConnected());
    const rio::Connection cleared = registry.connection(registry.add([] { }));
    registry.clear();
    CHECK(!cleared.isConnected());
}

RIO_TEST(connectionOutlivesItsRegistry)
{
    auto registry = std::make_unique<rio::Registry<int>>();
    const rio::HandlerId id = registry->add([] { });
    const rio::Connection c = registry->connection(id);
    const rio::Connection copy = c;
    CHECK(c.isConnected());
    registry.reset();
    CHECK(!c.isConnected());
    CHECK(!c.disconnect());
    CHECK(!copy.isConnected());
    CHECK(copy.id() == id);
    rio::Connection assigned;
    assigned = copy;
    CHECK(!assigned.disconnect());
}

RIO_TEST(connectionsDisconnectFromOtherThreadsExactlyOnce)
{
    rio::Registry<int> registry;
    std::vector<rio::Connection> connections;
    for (int i = 0; i < 64; ++i)
        connections.push_back(registry.connection(registry.add([] { })));
    std::atomic<int> removed{0};
    rio::check::Latch start(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, copies = connections] {
            start.arrive_and_wait();
            for (const rio::Connection &c : copies) {
                (void)c.isConnected();
                if (c.disconnect())
                    removed.fetch_add(1);
            }
        });
    }
    for (std::thread &t : threads)
        t.join();
    CHECK_EQ(removed.load(), 64);
    CHECK_EQ(registry.size(), std::size_t{0});
    for (const rio::Connection &c : connections)
        CHECK(!c.isConnected());
}

RIO_TEST(registryDiesWhileOtherThreadsUseConnections)
{
    for (int round = 0; round < 20; ++round) {
        auto registry = std::make_unique<rio::Registry<int>>();
        std::vector<rio::Connection> connections;
        for (int i = 0; i < 16; ++i)
            connections.push_back(registry->connection(registry->add([] { })));
        rio::check::Latch start(3);
        std::atomic<bool> stop{false};
        std::atomic<int> lateRemovals{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 2; ++t) {
            threads.emplace_back([&, copies = connections] {
                start.arrive_and_wait();
                while (!stop.load()) {
                    for (const rio::Connection &c : copies)
                        (void)c.isConnected();
                }
                for (const rio::Connection &c : copies) {
                    if (c.disconnect() || c.isConnected()) // the registry died before `stop`
                        lateRemovals.fetch_add(1);
                }
            });
        }
        start.arrive_and_wait();
        registry.reset();
        stop.store(true);
        for (std::thread &t : threads)
            t.join();
        CHECK_EQ(lateRemovals.load(), 0);
    }
}
