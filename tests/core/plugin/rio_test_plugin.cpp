// SPDX-License-Identifier: MIT
// A plugin for tst_plugin_unload: dlopen()ed by the test, it adds and removes handlers on the
// host's registry through the public API, then is dlclose()d. The rule it follows (docs/API.md,
// "Plugins"): before unloading, a plugin removes its handlers and, if any of their closures has a
// destructor (code in the plugin), calls synchronize() or removeAndWait() so those destructors
// run while it is still loaded. Closures without a destructor need nothing: the core library
// frees them. A guard it hands to the host may outlive it: the guarded closure must then be
// trivially destructible, and the host must drop the guard before notifying again.
#include <registryio/registry.h>

#include <memory>
#include <string>

namespace {

// Closures with a destructor: plugin code that must have run before dlclose.
struct WithDestructor
{
    std::shared_ptr<std::string> text = std::make_shared<std::string>(48, 'p');
    int *calls;
    void operator()(int) const { ++*calls; }
};

} // namespace

extern "C" __attribute__((visibility("default"))) int rio_plugin_use(rio::Registry<int> *host,
                                                                     rio::HandlerGuard *leftGuard, int *calls)
{
    // Non-trivially destructible closures, every way of adding and removing them.
    const rio::HandlerId a = host->add(WithDestructor{std::make_shared<std::string>(48, 'a'), calls});
    const rio::HandlerId b = host->add(WithDestructor{std::make_shared<std::string>(48, 'b'), calls}, 5);
    host->addOnce(WithDestructor{std::make_shared<std::string>(48, 'o'), calls}, -1);
    rio::HandlerGuard g = host->addScoped(WithDestructor{std::make_shared<std::string>(48, 'g'), calls});
    // Trivially destructible ones.
    const rio::HandlerId t1 = host->add([calls](int) { ++*calls; });
    const rio::HandlerId t2 = host->addOnce([calls] { ++*calls; }, 3);
    rio::HandlerGuard tg = host->addScoped([calls] { ++*calls; });
    host->notify(1); // fires the once-handlers
    host->remove(a);
    host->removeAndWait(b);
    g.reset();
    host->remove(t1);
    host->remove(t2);
    tg = rio::HandlerGuard();
    // A guard the host destroys after dlclose: trivially destructible closure.
    *leftGuard = host->addScoped([calls] { *calls += 100; });
    // The rule: the non-trivial closures' destructors run now, while the plugin is loaded.
    host->synchronize();
    return 0;
}
