// SPDX-License-Identifier: MIT
// rio::UnixSignals, the public class: instances and their slots, ids, registration and removal.
#include "unix_signals_p.h"

#include <QThread>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>

#include <pthread.h>
#include <unistd.h>

namespace rio {

using detail::InstanceSlot;
using detail::kMaxInner;
using detail::kSerialMask;
using detail::signalGlobals;

UnixSignals::UnixSignals(QObject *parent)
    : QObject(parent), d(std::make_unique<detail::UnixSignalsPrivate>(this))
{
    static std::once_flag atforkOnce;
    std::call_once(atforkOnce, [] {
        if (::pthread_atfork(&detail::forkPrepare, &detail::forkParent, &detail::forkChild) != 0)
            throw std::system_error(ENOMEM, std::generic_category(), "rio::UnixSignals: pthread_atfork");
    });
    d->flags = std::make_unique<EventFlags>(NSIG);
    for (int signal = 1; signal < NSIG; ++signal) {
        if (isCatchable(signal)) {
            d->flags->listeners(signal).setExceptionHandler(
                [p = d.get(), signal](const ExceptionInfo &info) { p->reportFailure(signal, info); });
        }
    }
    d->openWakeup();
    {
        std::lock_guard lock(signalGlobals.mutex);
        const auto free = std::find_if(signalGlobals.instanceSlots.begin(), signalGlobals.instanceSlots.end(),
                                       [](const InstanceSlot &s) { return !s.used; });
        if (free == signalGlobals.instanceSlots.end()) {
            d->closeWakeup();
            throw std::runtime_error("rio::UnixSignals: more than 64 instances alive in this process");
        }
        // A serial no live instance has (and never 0), so ids never cross instances; it repeats only
        // after 2^24 instances, and never while the earlier one lives.
        for (;;) {
            signalGlobals.lastSerial = (signalGlobals.lastSerial + 1) & kSerialMask;
            const std::uint64_t candidate = signalGlobals.lastSerial;
            if (candidate != 0 && std::none_of(signalGlobals.instanceSlots.begin(),
                                               signalGlobals.instanceSlots.end(), [&](const InstanceSlot &s) {
                                                   return s.used && s.owner != nullptr &&
                                                          s.owner->serial == candidate;
                                               }))
                break;
        }
        d->serial = signalGlobals.lastSerial;
        free->used = true;
        free->owner = d.get();
        free->writeFd.store(d->writeFd, std::memory_order_relaxed);
        free->wakeBytes.store(d->wakeBytes, std::memory_order_relaxed);
        free->flags.store(d->flags.get(), std::memory_order_seq_cst);
        d->slot = static_cast<int>(free - signalGlobals.instanceSlots.begin());
    }
    d->createNotifier();
}

UnixSignals::~UnixSignals()
{
    delete d->notifier;
    d->notifier = nullptr;
    {
        std::lock_guard lock(d->linksMutex);
        for (const auto &weak : d->links) {
            if (auto link = weak.lock())
                link->detach();
        }
        d->links.clear();
    }
    // Destroying the listeners releases their subscriptions, restoring dispositions; a signal
    // recorded meanwhile is raised again when SIG_DFL is back (see releaseLocked).
    for (int signal = 1; signal < NSIG; ++signal) {
        if (isCatchable(signal) && !d->flags->listeners(signal).isEmpty())
            d->flags->listeners(signal).clear();
    }
    d->anchor->detach(); // outside the mutex: subscriptions releasing on other threads finish first
    std::array<bool, NSIG> toRaise{};
    {
        std::lock_guard lock(signalGlobals.mutex);
        d->releaseAllLocked(toRaise);
    }
    InstanceSlot &slot = signalGlobals.instanceSlots[static_cast<std::size_t>(d->slot)];
    // From here OS handlers skip this instance; wait out those already inside it.
    slot.flags.store(nullptr, std::memory_order_seq_cst);
    while (slot.busy.load(std::memory_order_seq_cst) != 0)
        QThread::yieldCurrentThread();
    d->flags.reset();
    {
        std::lock_guard lock(signalGlobals.mutex);
        slot.used = false;
        slot.owner = nullptr;
        slot.writeFd.store(-1, std::memory_order_relaxed);
    }
    d->closeWakeup();
    detail::raiseAll(toRaise);
}

bool UnixSignals::isCatchable(int signal) noexcept
{
    return detail::refusalReason(signal) == nullptr;
}

EventFlags::Listeners &UnixSignals::listenersFor(int signal)
{
    if (const char *reason = detail::refusalReason(signal))
        throw std::invalid_argument("rio::UnixSignals: signal " + std::to_string(signal) + " " + reason);
    d->rearmIfOrphaned();
    return d->flags->listeners(signal);
}

std::shared_ptr<detail::UnixSignalArming> UnixSignals::newArming()
{
    return std::make_shared<detail::UnixSignalArming>();
}

detail::UnixSignalSubscription UnixSignals::subscription(int signal,
                                                         std::shared_ptr<detail::UnixSignalArming> arming)
{
    std::lock_guard lock(signalGlobals.mutex); // the anchor is replaced under it
    return {d->anchor, std::move(arming), signal};
}

HandlerId UnixSignals::arm(int signal, HandlerId inner,
                           const std::shared_ptr<detail::UnixSignalArming> &arming)
{
    EventFlags::Listeners &listeners = d->flags->listeners(signal);
    if (inner.value() > kMaxInner) {
        listeners.removeAndWait(inner);
        throw std::overflow_error("rio::UnixSignals::add: more than 2^32 handlers added for one signal");
    }
    try {
        std::lock_guard lock(signalGlobals.mutex);
        // Dead already: a once-listener that a pending signal fired (and freed) in between.
        if (!arming->dead) {
            d->subscribeLocked(signal);
            arming->armed = true;
        }
    } catch (...) {
        listeners.removeAndWait(inner); // not armed: its release does nothing
        throw;
    }
    return d->publicId(signal, inner);
}

std::shared_ptr<detail::RegistryLink> UnixSignals::makeLink()
{
    auto link = std::make_shared<detail::RegistryLink>(d.get());
    link->removeFn = [](void *p, HandlerId id) noexcept {
        try {
            return static_cast<detail::UnixSignalsPrivate *>(p)->q->remove(id);
        } catch (...) {
            return false;
        }
    };
    std::lock_guard lock(d->linksMutex);
    std::erase_if(d->links, [](const std::weak_ptr<detail::RegistryLink> &w) { return w.expired(); });
    d->links.push_back(link);
    return link;
}

bool UnixSignals::remove(HandlerId id)
{
    const int signal = signalOf(id);
    const HandlerId inner{id.value() >> 32};
    if (!isCatchable(signal) || !inner.isValid() || ((id.value() >> 8) & kSerialMask) != d->serial)
        return false; // not an id of this object
    return d->flags->listeners(signal).removeAndWait(inner);
}

std::size_t UnixSignals::listenerCount(int signal) const noexcept
{
    return isCatchable(signal) ? d->flags->listenerCount(signal) : 0;
}

} // namespace rio
