// SPDX-License-Identifier: MIT
// Guards: a handler that lives exactly as long as its owner.
#include <registryio/registry.h>

#include <cstdio>
#include <memory>
#include <utility>

// A subscriber keeps its guard as a member: destroying the subscriber removes its handler.
class Subscriber
{
public:
    explicit Subscriber(rio::Registry<int> &registry)
        : m_guard(registry.addScoped([this](const int &) { ++m_seen; }))
    { }
    int seen() const { return m_seen; }

private:
    int m_seen = 0;
    rio::HandlerGuard m_guard; // declared last: destroyed first, before m_seen
};

int main()
{
    rio::Registry<int> registry;
    bool ok = true;

    int scoped = 0;
    {
        rio::HandlerGuard guard = registry.addScoped([&scoped] { ++scoped; });
        registry.notify(1);
    } // the guard removes the handler here
    registry.notify(2);
    std::printf("scoped saw %d\n", scoped);
    ok = ok && scoped == 1 && registry.isEmpty();

    // release(): stop guarding, keep the handler.
    rio::HandlerId kept;
    {
        rio::HandlerGuard guard = registry.addScoped([] { });
        kept = guard.release();
    }
    std::printf("released handler still registered: %s\n", registry.contains(kept) ? "true" : "false");
    ok = ok && registry.contains(kept);
    registry.remove(kept);

    // reset(): remove now; guards are move-only and movable into containers or members.
    rio::HandlerGuard first = registry.addScoped([] { });
    rio::HandlerGuard moved = std::move(first);
    const bool resetRemoved = moved.reset();
    std::printf("reset removed: %s\n", resetRemoved ? "true" : "false");
    ok = ok && resetRemoved && !first.isActive() && !moved.isActive() && registry.isEmpty();

    auto subscriber = std::make_unique<Subscriber>(registry);
    registry.notify(3);
    registry.notify(4);
    const int seen = subscriber->seen();
    subscriber.reset();
    registry.notify(5); // the subscriber is gone, and so is its handler
    std::printf("subscriber saw %d, handlers left after it died: %zu\n", seen, registry.size());
    ok = ok && seen == 2 && registry.isEmpty();

    // A guard may outlive its registry: it then does nothing.
    rio::HandlerGuard survivor;
    {
        rio::Registry<int> shortLived;
        survivor = shortLived.addScoped([] { });
    }
    ok = ok && !survivor.reset();
    std::printf("guard outlived its registry safely\n");

    std::printf("guards: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
