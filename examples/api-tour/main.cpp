// SPDX-License-Identifier: MIT
// Every snippet of docs/CORE.md (and SIGNALS.md's EventFlags) is a region of this file
// (tst_doc_snippets checks that they agree); running it checks what the snippets claim.
#include <registryio/event_flags.h>
#include <registryio/registry.h>

#include <cassert>
#include <csignal>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_set>

namespace {

int failures = 0;

void check(bool condition, const char *what)
{
    if (!condition) {
        ++failures;
        std::printf("FAILED: %s\n", what);
    }
}

struct Tick
{
    int n;
};

void registryItems()
{
    //! [construct]
    rio::Registry<Tick> ticks;            // empty
    rio::Registry<std::string> big(1024); // arrays sized for 1024 handlers up front
    //! [construct]
    check(ticks.isEmpty() && big.capacityHint() == 1024, "construct");

    //! [add]
    int sum = 0;
    rio::HandlerId id = ticks.add([&sum](const Tick &t) { sum += t.n; }); // priority 0
    rio::HandlerId first = ticks.add([] { /* takes no argument */ }, 10); // runs before `id`
    //! [add]
    check(id.isValid() && first.value() == id.value() + 1, "add");

    //! [add-invalid]
    try {
        ticks.add(std::function<void(const Tick &)>{}); // empty callable
    } catch (const std::invalid_argument &e) {
        // "rio::Registry::add: the handler is empty"; nothing was registered
    }
    //! [add-invalid]
    check(ticks.size() == 2, "add-invalid");

    //! [notify]
    ticks.notify({5}); // calls `first`, then `id`, on this thread; then returns
    //! [notify]
    check(sum == 5, "notify");

    //! [addOnce]
    int once = 0;
    ticks.addOnce([&once] { ++once; });
    ticks.notify({1});
    ticks.notify({1}); // the once-handler is already gone
    //! [addOnce]
    check(once == 1 && ticks.size() == 2, "addOnce");

    //! [addScoped]
    {
        rio::HandlerGuard guard = ticks.addScoped([](const Tick &) { });
        // ... the handler is registered while `guard` lives
    }
    //! [addScoped]
    check(ticks.size() == 2, "addScoped");

    //! [size]
    std::size_t n = ticks.size();       // 2
    bool none = ticks.isEmpty();        // false
    bool known = ticks.contains(first); // true
    //! [size]
    check(n == 2 && !none && known, "size");

    //! [remove]
    bool removed = ticks.remove(first); // true
    bool twice = ticks.remove(first);   // false: ids are never reused
    //! [remove]
    check(removed && !twice && !ticks.contains(first), "remove");

    //! [removeAndWait]
    std::thread worker([&ticks] { ticks.notify({1}); });
    ticks.removeAndWait(id); // on return, the handler runs on no other thread
    // ... now free what the handler used
    worker.join();
    //! [removeAndWait]
    check(ticks.isEmpty(), "removeAndWait");

    //! [clear]
    ticks.add([] { });
    ticks.add([] { });
    ticks.clear(); // removes every handler
    //! [clear]
    check(ticks.isEmpty(), "clear");

    //! [setExceptionHandler]
    ticks.setExceptionHandler([](const rio::ExceptionInfo &info) {
        std::printf("handler %llu threw: %s\n", static_cast<unsigned long long>(info.handlerId.value()),
                    info.message.c_str());
    });
    ticks.add([] { throw std::runtime_error("disk full"); });
    ticks.notify({1}); // prints "handler 7 threw: disk full"; notify returns normally
    //! [setExceptionHandler]

    //! [clearExceptionHandler]
    ticks.clearExceptionHandler();
    ticks.notify({1}); // the failure is isolated, and reported nowhere
    //! [clearExceptionHandler]

    //! [synchronize]
    ticks.clear();
    ticks.synchronize(); // no notify that began before this can still reach a removed handler
    //! [synchronize]
    check(ticks.isEmpty(), "synchronize");
}

void guardItems()
{
    rio::Registry<int> registry;
    //! [guard]
    rio::HandlerGuard empty;                              // owns nothing
    rio::HandlerGuard guard = registry.addScoped([] { }); // owns a handler
    rio::HandlerId id = guard.id();                       // its id
    bool active = guard.isActive();                       // true
    rio::HandlerGuard moved = std::move(guard);           // move-only; `guard` is now empty
    //! [guard]
    check(!empty.isActive() && active && !guard.isActive() && moved.id() == id, "guard");

    //! [guard-release]
    rio::HandlerId kept = moved.release(); // stop guarding: the handler stays registered
    //! [guard-release]
    check(registry.contains(kept) && !moved.isActive(), "guard-release");
    registry.remove(kept);

    //! [guard-reset]
    rio::HandlerGuard g = registry.addScoped([] { });
    bool now = g.reset();   // removes the handler now: true
    bool again = g.reset(); // false: the guard is empty
    //! [guard-reset]
    check(now && !again && registry.isEmpty(), "guard-reset");

    //! [guard-outlives]
    rio::HandlerGuard survivor;
    {
        rio::Registry<int> shortLived;
        survivor = shortLived.addScoped([] { });
    } // the registry dies first
    survivor.reset(); // fine: returns false and does nothing
    //! [guard-outlives]
    check(!survivor.isActive(), "guard-outlives");
}

void idItems()
{
    rio::Registry<int> registry;
    //! [handler-id]
    rio::HandlerId none;                      // invalid: value() == 0
    rio::HandlerId id = registry.add([] { }); // valid ids count from 1 in each registry
    if (id && id != none && id.value() == 1) {
        std::unordered_set<rio::HandlerId> ids{id}; // hashable, ordered by value
    }
    //! [handler-id]
    check(!none.isValid() && id.isValid() && id.value() == 1 && none < id, "handler-id");
}

void exceptionInfoItems()
{
    rio::Registry<int> registry;
    std::string seen;
    //! [exception-info]
    registry.setExceptionHandler([&seen](const rio::ExceptionInfo &info) {
        seen = info.message; // what() of a std::exception, else empty
        try {
            std::rethrow_exception(info.exception); // the exception itself
        } catch (const std::out_of_range &) {
            seen += " (out_of_range)";
        } catch (...) {
        }
    });
    registry.add([] { throw std::out_of_range("index 7"); });
    registry.notify(0); // seen == "index 7 (out_of_range)"
    //! [exception-info]
    check(seen == "index 7 (out_of_range)", "exception-info");
}

//! [handler-for]
template <typename F>
requires rio::HandlerFor<F, Tick>
void subscribe(rio::Registry<Tick> &registry, F &&handler)
{
    registry.add(std::forward<F>(handler));
}
//! [handler-for]

void eventFlagsItems()
{
    //! [event-flags]
    enum Event { Reload, Quit, EventCount };
    rio::EventFlags flags(EventCount);
    int reloads = 0;
    flags.add(Reload, [&reloads](const int &) { ++reloads; });

    flags.record(Reload);         // async-signal-safe: one atomic store
    flags.record(Reload);         // repeats coalesce
    bool any = flags.broadcast(); // runs Reload's listeners once: reloads == 1
    //! [event-flags]
    check(any && reloads == 1 && !flags.isPending(Reload) && flags.size() == EventCount, "event-flags");
    check(flags.listenerCount(Reload) == 1 && flags.listenerCount(Quit) == 0, "event-flags-count");
}

} // namespace

int main()
{
    registryItems();
    guardItems();
    idItems();
    exceptionInfoItems();
    rio::Registry<Tick> ticks;
    int seen = 0;
    subscribe(ticks, [&seen](const Tick &t) { seen = t.n; });
    ticks.notify({3});
    check(seen == 3, "handler-for");
    eventFlagsItems();
    std::printf("api-tour: %s\n", failures == 0 ? "ok" : "FAILED");
    return failures == 0 ? 0 : 1;
}
