// SPDX-License-Identifier: MIT
// The accidents of a process's life the domain must survive: fork() while other threads notify
// or write. (Thread exit and thread_local order: reader_records.cpp; plugins: registry_core.h.)

#include "domain.h"
#include "registry_list.h"

#include <mutex>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define RIO_HAVE_FORK 1
#else
#define RIO_HAVE_FORK 0
#endif

namespace rio::detail {

namespace {

// Never destroyed: registries with static storage may die after any static of ours.
std::mutex &listMutex() noexcept
{
    // The first registry of the process creates it; failing that allocation ends the process.
    static auto *m = new std::mutex; // NOLINT(bugprone-unhandled-exception-at-new)
    return *m;
}
constinit RegistryCore *listHead = nullptr;

#if RIO_HAVE_FORK
void prepare() noexcept
{
    RegistryList::prepareFork();
}
void parent() noexcept
{
    RegistryList::afterFork(false);
}
void child() noexcept
{
    RegistryList::afterFork(true);
}
#endif

void installForkHandlers() noexcept
{
#if RIO_HAVE_FORK
    static const bool once = [] {
        (void)listMutex();
        pthread_atfork(&prepare, &parent, &child);
        return true;
    }();
    (void)once;
#endif
}

} // namespace

void RegistryList::add(RegistryCore *core) noexcept
{
    installForkHandlers();
    std::lock_guard lock(listMutex());
    core->m_next = listHead;
    if (listHead)
        listHead->m_prev = core;
    listHead = core;
}

void RegistryList::remove(RegistryCore *core) noexcept
{
    std::lock_guard lock(listMutex());
    (core->m_prev ? core->m_prev->m_next : listHead) = core->m_next;
    if (core->m_next)
        core->m_next->m_prev = core->m_prev;
    core->m_prev = core->m_next = nullptr;
}

// Before fork(): no registry may be mid-write in a thread the child will not have. Writers hold
// a registry's lock only for bounded work without user code, so this waits briefly.
void RegistryList::prepareFork() noexcept
{
    listMutex().lock();
    for (RegistryCore *c = listHead; c; c = c->m_next)
        c->lockForFork();
    hazard::ipiLockForFork();
}

void RegistryList::afterFork(bool child) noexcept
{
    hazard::ipiUnlockAfterFork();
    if (child)
        hazard::resetRecordsInChild(); // readers of other threads do not exist in the child
    for (RegistryCore *c = listHead; c; c = c->m_next)
        c->unlockAfterFork(child);
    listMutex().unlock();
}

} // namespace rio::detail
