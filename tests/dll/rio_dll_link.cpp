// SPDX-License-Identifier: MIT
// Calls every public inline template of the Core that reaches into the library, through an
// installed DLL: Registry<E> (add, addOnce, addScoped, connection, notify with a throwing handler,
// remove, removeAndWait, clear, suspension, the exception callback, synchronize, counts),
// HandlerGuard, Connection and EventFlags (its Listeners and every add/broadcast form). Prints
// "rio_dll_link: ok" and exits 0 only when each call did what it says.
#include <registryio/connection.h>
#include <registryio/event_flags.h>
#include <registryio/exception_info.h>
#include <registryio/handler_guard.h>
#include <registryio/handler_id.h>
#include <registryio/registry.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

int failures = 0;

void check(bool ok, const char *what)
{
    if (!ok) {
        std::printf("FAIL %s\n", what);
        ++failures;
    }
}

struct Event
{
    int value;
};

void registryTemplates()
{
    rio::Registry<Event> registry(8);
    int sum = 0;
    std::string failure;
    registry.setExceptionHandler([&failure](const rio::ExceptionInfo &info) { failure = info.message; });
    const rio::HandlerId plain = registry.add([&sum](const Event &e) { sum += e.value; }, 5);
    const rio::HandlerId once = registry.addOnce([&sum] { sum += 100; });
    registry.add([](const Event &) { throw std::runtime_error("isolated"); }, -1);
    rio::HandlerGuard guard = registry.addScoped([&sum](const Event &e) { sum += 10 * e.value; });
    rio::Connection connection = registry.connection(plain);
    check(connection.isConnected(), "Registry::connection");
    check(registry.size() == 4 && registry.contains(once) && !registry.isEmpty(), "Registry::size/contains");

    registry.notify({1}); // 1 + 100 + 10, and the throwing handler reported
    check(sum == 111, "Registry::notify");
    check(failure == "isolated", "Registry: exception callback");

    check(registry.setSuspended(plain, true) && registry.isSuspended(plain), "Registry::setSuspended");
    registry.notify({2}); // suspended: only the guard's handler, 20
    check(sum == 131, "Registry::notify (suspended)");
    check(registry.setSuspended(plain, false), "Registry::setSuspended(false)");

    // A notify from another thread (its first section enters out of line).
    std::thread([&registry] { registry.notify({0}); }).join();

    check(guard.reset() && !guard.isActive(), "HandlerGuard::reset");
    rio::HandlerGuard kept = registry.addScoped([] { });
    check(registry.remove(kept.release()), "HandlerGuard::release + Registry::remove");
    check(connection.disconnect() && !connection.isConnected(), "Connection::disconnect");
    const rio::HandlerId waited = registry.add([] { });
    check(registry.removeAndWait(waited), "Registry::removeAndWait");
    registry.synchronize();
    static_cast<void>(registry.capacityHint());
    static_cast<void>(registry.pendingCount());
    registry.clearExceptionHandler();
    registry.clear();
    check(registry.isEmpty(), "Registry::clear");
}

void eventFlagsTemplates()
{
    rio::EventFlags flags(3);
    int heard = 0;
    flags.setExceptionHandler([](const rio::ExceptionInfo &) { });
    flags.add(0, [&heard](const rio::EventFlags::EventId &id) { heard += id + 1; });
    flags.addOnce(1, [&heard] { heard += 10; });
    rio::HandlerGuard guard = flags.addScoped(2, [&heard] { heard += 100; });
    flags.listeners(2).add([&heard] { heard += 1000; });
    flags.listeners(2).addOnce([&heard] { heard += 10000; });
    rio::HandlerGuard listenerGuard = flags.listeners(0).addScoped([] { });
    check(flags.listenerCount(2) == 3, "EventFlags::listenerCount");

    flags.record(0);
    flags.record(1);
    flags.record(2);
    check(flags.isPending(1), "EventFlags::isPending");
    check(flags.broadcast(), "EventFlags::broadcast");
    check(heard == 11111, "EventFlags: every listener once");

    flags.record(1); // its once-listener is spent: unheard
    int unheard = -1;
    check(!flags.broadcast([&unheard](rio::EventFlags::EventId id) { unheard = id; }),
          "EventFlags::broadcast(unheard)");
    check(unheard == 1, "EventFlags: unheard id");
    flags.record(0);
    check(flags.take(0) && !flags.isPending(0), "EventFlags::take");
    const rio::HandlerId id = flags.add(1, [] { });
    check(flags.remove(1, id), "EventFlags::remove");
    check(flags.listeners(0).removeAndWait(listenerGuard.release()), "EventFlags::Listeners::removeAndWait");
}

} // namespace

int main()
{
    registryTemplates();
    eventFlagsTemplates();
    if (failures != 0)
        return 1;
    std::printf("rio_dll_link: ok\n");
    return 0;
}
