// SPDX-License-Identifier: MIT
// One rio::UnixSignals instance's private side: its subscriptions (installing and restoring the
// OS handler), its wake-up channel and notifier, the dispatch of recorded signals, and orphaning
// when its application goes.
#include "unix_signals_p.h"

#include <registryio/qt/logging.h>

#include <QAbstractEventDispatcher>
#include <QCoreApplication>
#include <QThread>

#include <cerrno>
#include <stdexcept>
#include <utility>

#include <unistd.h>

namespace rio::detail {

UnixSignalsPrivate::UnixSignalsPrivate(UnixSignals *q) : q(q), anchor(std::make_shared<OwnerAnchor>(this)) { }

// Releases what subscriptions still hold (their closures may be freed later, by another
// thread's reclamation) and cuts them off; the signals to raise afterwards go to `toRaise`.
void UnixSignalsPrivate::releaseAllLocked(std::array<bool, NSIG> &toRaise) noexcept
{
    for (int signal = 1; signal < NSIG; ++signal) {
        if (counts[static_cast<std::size_t>(signal)] > 0) {
            counts[static_cast<std::size_t>(signal)] = 1;
            if (releaseLocked(signal))
                toRaise[static_cast<std::size_t>(signal)] = true;
        }
    }
}

// Installs our OS handler for `signal` if this is its first listener in the process.
void UnixSignalsPrivate::installLocked(int signal)
{
    SignalState &state = signalGlobals.states[static_cast<std::size_t>(signal)];
    if (state.listeners > 0) {
        ++state.listeners;
        return;
    }
    SigAction current{};
    if (::sigaction(signal, nullptr, &current) != 0)
        throwErrno("rio::UnixSignals: sigaction");
    if (state.installed) {
        // Our handler stayed in when the last listener went, because another one had replaced
        // it. Ours, or a foreign function (which, like Qt's forkfd, chains to the handler it
        // replaced): keep it. SIG_DFL or SIG_IGN: ours is gone, install it afresh.
        if (isFunction(current)) {
            ++state.listeners;
            return;
        }
        state.installed = false;
    }
    publishChain(state, current); // before ours can run
    const SigAction ours = ourDisposition(current);
    SigAction old{};
    if (::sigaction(signal, &ours, &old) != 0)
        throwErrno("rio::UnixSignals: sigaction");
    publishChain(state, old); // in case another thread changed it in between
    state.previous = old;
    state.installed = true;
    ++state.listeners;
    callTestHook(UnixSignalsHookPoint::Installed, signal);
}

// Restores the previous disposition when the last listener in the process goes, if ours is
// still the installed one (otherwise whoever replaced it keeps chaining to it).
void UnixSignalsPrivate::uninstallLocked(int signal) noexcept
{
    SignalState &state = signalGlobals.states[static_cast<std::size_t>(signal)];
    if (--state.listeners > 0 || !state.installed)
        return;
    SigAction current{};
    if (::sigaction(signal, nullptr, &current) == 0 && isOurs(current)) {
        callTestHook(UnixSignalsHookPoint::Restoring, signal);
        const SigAction restored = dispositionToRestore(state);
        if (::sigaction(signal, &restored, nullptr) == 0)
            state.installed = false;
    }
}

// The first listener of `signal` on this instance: marked as listening first, then our
// handler goes in, so a signal finding our handler always finds this instance.
void UnixSignalsPrivate::subscribeLocked(int signal)
{
    int &count = counts[static_cast<std::size_t>(signal)];
    if (count == 0) {
        SignalState &state = signalGlobals.states[static_cast<std::size_t>(signal)];
        state.instances.fetch_or(std::uint64_t{1} << slot, std::memory_order_seq_cst);
        try {
            installLocked(signal);
        } catch (...) {
            state.instances.fetch_and(~(std::uint64_t{1} << slot), std::memory_order_seq_cst);
            throw;
        }
    }
    ++count;
}

// The last listener of `signal` on this instance went: the previous disposition comes back
// first (if it was the last in the process), then the instance stops listening. A signal
// recorded for it meanwhile, or recorded and not delivered before its listeners went, reached
// no listener: true when it is to be raised again (after the lock) because SIG_DFL is back.
bool UnixSignalsPrivate::releaseLocked(int signal) noexcept
{
    int &count = counts[static_cast<std::size_t>(signal)];
    if (--count > 0)
        return false;
    uninstallLocked(signal);
    signalGlobals.states[static_cast<std::size_t>(signal)].instances.fetch_and(~(std::uint64_t{1} << slot),
                                                                               std::memory_order_seq_cst);
    const bool missed =
        flags->take(signal) || std::exchange(unheard[static_cast<std::size_t>(signal)], false);
    return missed && isDefaultNow(signal);
}

// broadcast() consumed `signal` without reaching a listener of this instance.
bool UnixSignalsPrivate::unheardLocked(int signal) noexcept
{
    if (counts[static_cast<std::size_t>(signal)] == 0)
        return isDefaultNow(signal); // released already: SIG_DFL's action, if it is back
    if (flags->listenerCount(signal) > 0) {
        // A listener came after the notify took its snapshot: it gets the signal.
        flags->record(signal);
        wake();
    } else {
        // Its listeners were removed and their subscriptions are about to be released.
        unheard[static_cast<std::size_t>(signal)] = true;
    }
    return false;
}

void UnixSignalsPrivate::wake() const noexcept
{
    const std::uint64_t one = 1;
    const ssize_t written = ::write(writeFd, &one, static_cast<std::size_t>(wakeBytes));
    (void)written;
}

void UnixSignalsPrivate::openWakeup()
{
    if (!openChannel(readFd, writeFd, wakeBytes, qEnvironmentVariableIsSet("RIO_UNIX_SIGNALS_PIPE")))
        throwErrno(wakeBytes == 8 ? "rio::UnixSignals: eventfd" : "rio::UnixSignals: pipe");
}

// In a forked child: a wake-up channel of its own on the same fd numbers (so the notifier
// keeps working), and none of the parent's pending signals.
void UnixSignalsPrivate::reopenWakeupInChild() const noexcept
{
    int newRead = -1;
    int newWrite = -1;
    int bytes = 0;
    if (!openChannel(newRead, newWrite, bytes, wakeBytes == 1))
        return; // out of fds: the channel stays shared (documented)
    replaceFd(newRead, readFd);
    if (newWrite != newRead)
        replaceFd(newWrite, writeFd);
    for (int signal = 1; signal < NSIG; ++signal)
        flags->take(signal);
}

void UnixSignalsPrivate::closeWakeup() noexcept
{
    if (writeFd >= 0 && writeFd != readFd)
        ::close(writeFd);
    if (readFd >= 0)
        ::close(readFd);
    readFd = writeFd = -1;
}

void UnixSignalsPrivate::createNotifier()
{
    notifier = new QSocketNotifier(readFd, QSocketNotifier::Read, q);
    QObject::connect(notifier, &QSocketNotifier::activated, q, [this] { dispatch(); });
    // Follow the lifetime of the application of our thread (see onApplicationGone).
    if (QCoreApplication *app = QCoreApplication::instance();
        app != nullptr && app->thread() == q->thread()) {
        std::lock_guard lock(signalGlobals.mutex);
        if (!signalGlobals.postRoutineAdded) {
            signalGlobals.postRoutineAdded = true;
            qAddPostRoutine(&onApplicationGone);
        }
    }
}

// Reads until the fd would block, then broadcasts: a signal that arrives after the read
// writes again and is delivered on the next pass. A signal that reached no listener is
// handled as releaseLocked() describes.
void UnixSignalsPrivate::dispatch()
{
    std::array<char, 256> buffer;
    for (;;) {
        const ssize_t n = ::read(readFd, buffer.data(), wakeBytes == 8 ? 8 : buffer.size());
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        break; // EAGAIN (drained), or EOF/error: nothing more to read
    }
    std::array<bool, NSIG> missed{};
    bool anyMissed = false;
    flags->broadcast([&](int signal) {
        missed[static_cast<std::size_t>(signal)] = true;
        anyMissed = true;
    });
    // A once-listener that fired is destroyed by its registry's next reclaim pass; its
    // subscription restores the disposition, so run that pass now (signals are rare).
    for (int signal = 1; signal < NSIG; ++signal) {
        if (UnixSignals::isCatchable(signal) && flags->listeners(signal).pendingCount() != 0)
            flags->listeners(signal).synchronize();
    }
    if (!anyMissed)
        return;
    std::array<bool, NSIG> toRaise{};
    {
        std::lock_guard lock(signalGlobals.mutex);
        for (int signal = 1; signal < NSIG; ++signal) {
            if (missed[static_cast<std::size_t>(signal)] && unheardLocked(signal))
                toRaise[static_cast<std::size_t>(signal)] = true;
        }
    }
    raiseAll(toRaise);
}

// The application of our thread is being destroyed: its event dispatcher goes with it, so
// this instance could never deliver again. Let go of every listener (restoring dispositions,
// so SIGTERM and SIGINT get their default action back) and say so; add() re-arms under a new
// application.
void UnixSignalsPrivate::orphan()
{
    delete notifier;
    notifier = nullptr;
    std::size_t dropped = 0;
    for (int signal = 1; signal < NSIG; ++signal) {
        if (UnixSignals::isCatchable(signal)) {
            EventFlags::Listeners &listeners = flags->listeners(signal);
            const std::size_t n = listeners.size();
            if (n > 0)
                listeners.clear();
            dropped += n;
        }
    }
    auto renewed = std::make_shared<OwnerAnchor>(this);
    anchor->detach(); // outside the mutex: subscriptions releasing on other threads finish first
    std::array<bool, NSIG> toRaise{};
    {
        std::lock_guard lock(signalGlobals.mutex);
        releaseAllLocked(toRaise);
        anchor = std::move(renewed);
        orphaned = true;
    }
    qCWarning(lcRegistryIO).nospace()
        << "rio::UnixSignals: the QCoreApplication of its thread was destroyed; removed its " << dropped
        << " listener(s) and restored the signals' previous dispositions (add() works again under a new "
           "QCoreApplication)";
    raiseAll(toRaise);
}

// add() on an instance whose application went: re-arm under a new one, or refuse.
void UnixSignalsPrivate::rearmIfOrphaned()
{
    if (!orphaned)
        return;
    if (QThread::currentThread() != q->thread() || QAbstractEventDispatcher::instance(q->thread()) == nullptr)
        throw std::logic_error("rio::UnixSignals::add: the QCoreApplication of this object's thread was "
                               "destroyed; create a new one, then add() on this object's thread");
    createNotifier();
    orphaned = false;
}

HandlerId UnixSignalsPrivate::publicId(int signal, HandlerId inner) const noexcept
{
    return HandlerId{(inner.value() << 32) | (serial << 8) | static_cast<unsigned>(signal)};
}

void UnixSignalsPrivate::reportFailure(int signal, const ExceptionInfo &info) const
{
    const HandlerId id = publicId(signal, info.handlerId);
    const QString message = QString::fromStdString(info.message);
    qCWarning(lcRegistryIO).nospace()
        << "rio::UnixSignals: handler " << id.value() << " of signal " << signal << " threw: " << message;
    Q_EMIT q->handlerFailed(id, signal, message);
}

UnixSignalSubscription::~UnixSignalSubscription()
{
    if (!m_anchor)
        return; // moved from
    bool raiseIt = false;
    {
        const OwnerAnchor::Frame frame(*m_anchor); // the instance waits for it before releasing all
        std::lock_guard lock(signalGlobals.mutex);
        m_arming->dead = true;
        if (auto *d = static_cast<UnixSignalsPrivate *>(frame.owner()); d != nullptr && m_arming->armed)
            raiseIt = d->releaseLocked(m_signal);
    }
    if (raiseIt)
        ::kill(::getpid(), m_signal);
}

// A post routine of the current QCoreApplication (run by its destructor on the main thread, while
// its event dispatcher still exists): orphans the instances living on that thread.
void onApplicationGone()
{
    std::vector<UnixSignalsPrivate *> owned;
    {
        std::lock_guard lock(signalGlobals.mutex);
        signalGlobals.postRoutineAdded = false; // the next application gets its own
        for (InstanceSlot &slot : signalGlobals.instanceSlots) {
            if (slot.used && slot.owner != nullptr && !slot.owner->orphaned &&
                slot.owner->q->thread() == QThread::currentThread())
                owned.push_back(slot.owner);
        }
    }
    for (UnixSignalsPrivate *d : owned)
        d->orphan();
}

} // namespace rio::detail
