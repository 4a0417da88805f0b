// SPDX-License-Identifier: MIT
// The accidents of a process's life the domain must survive: fork() while other threads notify
// or write. (Thread exit and thread_local order: reader_records.cpp; plugins: registry_core.h.)

#include "diagnostics_p.h"
#include "domain.h"
#include "registry_list.h"

#include <memory>
#include <mutex>
#include <new>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define RIO_HAVE_FORK 1
#else
#define RIO_HAVE_FORK 0
#endif

namespace rio::detail {

namespace {

// A mutex never destroyed (registries with static storage may die after any static of ours),
// built in static storage rather than on the heap: loading the library allocates nothing, and
// nothing there can fail. (Not a constinit mutex: MinGW's has no constexpr constructor.)
template <int Which>
std::mutex &immortalMutex() noexcept
{
    alignas(std::mutex) static unsigned char storage[sizeof(std::mutex)];
    static auto *m = new (storage) std::mutex;
    return *m;
}
// The process-wide list's.
std::mutex &listMutex() noexcept
{
    return immortalMutex<0>();
}
constinit RegistryState *listHead = nullptr;
// Held by one-time initialisations (initOnce) and across fork().
std::mutex &initMutex() noexcept
{
    return immortalMutex<1>();
}

#if RIO_HAVE_FORK
void prepare() noexcept
{
    initMutex().lock(); // first: an initialisation under way on another thread ends before
    RegistryList::prepareFork();
}
void parent() noexcept
{
    RegistryList::afterFork(false);
    initMutex().unlock();
}
void child() noexcept
{
    RegistryList::afterFork(true);
    initMutex().unlock();
}
#endif

// When the library is loaded, before any thread of ours can be inside an initialisation.
[[maybe_unused]] const bool forkHandlersInstalled = [] {
    (void)listMutex();
    (void)initMutex();
#if RIO_HAVE_FORK
    pthread_atfork(&prepare, &parent, &child);
#endif
    return true;
}();

} // namespace

void RegistryList::initOnce(std::atomic<bool> &done, void (*init)() noexcept) noexcept
{
    if (done.load(std::memory_order_acquire))
        return;
    const std::lock_guard lock(initMutex());
    if (!done.load(std::memory_order_relaxed)) {
        init();
        done.store(true, std::memory_order_release);
    }
}

RegistryState &RegistryList::create(std::atomic<RegistryState *> &slot, RegistryCore *core)
{
    hazard::initialize();
    diag::initFromEnvironment();
    auto fresh = std::make_unique<RegistryState>(); // outside the lock; may throw
    fresh->core = core;
    std::lock_guard lock(listMutex());
    // Under the list's lock, so that a process-wide switch sees it listed or sets it here.
    fresh->serial = diag::nextSerial();
    fresh->diagnosticsOn = diag::globalEnabled();
    // Under the list's lock: fork() sees the state listed or not yet created, never in between.
    if (RegistryState *s = slot.load(std::memory_order_acquire))
        return *s; // another thread won; `fresh` is freed on return
    RegistryState *s = fresh.release();
    s->next = listHead;
    if (listHead)
        listHead->prev = s;
    listHead = s;
    slot.store(s, std::memory_order_release);
    if (s->diagnosticsOn)
        diag::countRegistry(true); // taken away when it is switched off or destroyed
    return *s;
}

void RegistryList::remove(RegistryState *state) noexcept
{
    {
        std::lock_guard lock(listMutex());
        (state->prev ? state->prev->next : listHead) = state->next;
        if (state->next)
            state->next->prev = state->prev;
    }
    delete state;
}

std::size_t RegistryList::pending() noexcept
{
    std::size_t sum = 0;
    std::lock_guard lock(listMutex());
    for (const RegistryState *s = listHead; s; s = s->next)
        sum += s->retired.pendingPublic.load(std::memory_order_relaxed);
    return sum;
}

void RegistryList::visit(void (*visit)(RegistryState &, void *), void *arg)
{
    std::lock_guard lock(listMutex());
    for (RegistryState *s = listHead; s; s = s->next)
        visit(*s, arg);
}

// Before fork(): no registry may be mid-write in a thread the child will not have. Writers hold
// a registry's lock only for bounded work without user code, so this waits briefly.
void RegistryList::prepareFork() noexcept
{
    listMutex().lock();
    for (RegistryState *s = listHead; s; s = s->next)
        RegistryCore::lockForFork(*s);
    hazard::ipiLockForFork();
    diag::prepareFork();
}

void RegistryList::afterFork(bool child) noexcept
{
    diag::afterFork(child);
    hazard::ipiUnlockAfterFork();
    if (child)
        hazard::resetRecordsInChild(); // readers of other threads do not exist in the child
    for (RegistryState *s = listHead; s; s = s->next)
        RegistryCore::unlockAfterFork(*s, child);
    listMutex().unlock();
}

} // namespace rio::detail
