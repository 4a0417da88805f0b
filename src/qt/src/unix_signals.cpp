// SPDX-License-Identifier: MIT
#include <registryio/detail/registry_link.h>
#include <registryio/qt/logging.h>
#include <registryio/qt/unix_signals.h>

#include "unix_signals_testing_p.h"

#include <QAbstractEventDispatcher>
#include <QCoreApplication>
#include <QSocketNotifier>
#include <QThread>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h> // NOLINT(modernize-deprecated-headers): sigaction and siginfo_t are POSIX
#include <unistd.h>

#if defined(__linux__) && __has_include(<sys/eventfd.h>)
#include <sys/eventfd.h>
#define RIO_HAVE_EVENTFD 1
#else
#define RIO_HAVE_EVENTFD 0
#endif

namespace rio {

namespace {

constexpr int kMaxInstances = 64;               // one bit each in SignalState::instances
constexpr std::uint64_t kSerialMask = 0xffffff; // 24 bits of instance serial in every handler id
constexpr std::uint64_t kMaxInner = 0xffffffff; // 32 bits of per-signal registry id

using SigactionFn = void (*)(int, siginfo_t *, void *);
using HandlerFn = void (*)(int);
using SigAction = struct sigaction; // spelled without `struct` (and without its brace quirks)

// Process-wide state of one signal number. The atomics are read by the OS handler; the rest is
// guarded by Globals::mutex.
struct SignalState
{
    std::atomic<std::uint64_t> instances{0}; // bit i: instance slot i listens
    std::atomic<SigactionFn> chainAction{nullptr};
    std::atomic<HandlerFn> chainHandler{nullptr};
    std::atomic<bool> chainOnce{false};  // the previous handler had SA_RESETHAND: call it once
    std::atomic<bool> chainSpent{false}; // ... and it was called: SIG_DFL is the previous now
    int listeners = 0;                   // instances listening
    bool installed = false;              // our handler went in and was not restored
    SigAction previous{};
};

// One live UnixSignals, as the OS handler sees it.
struct InstanceSlot
{
    std::atomic<EventFlags *> flags{nullptr};
    std::atomic<int> writeFd{-1};
    std::atomic<int> wakeBytes{0}; // 8 for an eventfd, 1 for a pipe
    std::atomic<int> busy{0};      // OS handlers currently using this slot
    bool used = false;
    detail::UnixSignalsPrivate *owner = nullptr;
};

struct Globals
{
    std::mutex mutex;
    std::array<SignalState, NSIG> states{};
    std::array<InstanceSlot, kMaxInstances> instanceSlots{};
    std::uint64_t lastSerial = 0;  // instance serials, for handler ids
    bool postRoutineAdded = false; // for the current QCoreApplication
    sigset_t maskBeforeFork{};     // the forking thread's mask, restored after fork
};

constinit Globals g;

static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<int>::is_always_lock_free &&
                  std::atomic<SigactionFn>::is_always_lock_free && std::atomic<bool>::is_always_lock_free,
              "the OS handler may only use lock-free atomics");

std::atomic<detail::UnixSignalsTestHook> testHook{nullptr};

void callTestHook(detail::UnixSignalsHookPoint point, int signal)
{
    if (detail::UnixSignalsTestHook hook = testHook.load(std::memory_order_acquire))
        hook(point, signal);
}

// The OS handler: async-signal-safe (lock-free atomics, write(2)), saves and restores errno.
void onSignal(int signal, siginfo_t *info, void *context)
{
    const int savedErrno = errno;
    if (signal > 0 && signal < NSIG) {
        SignalState &state = g.states[static_cast<std::size_t>(signal)];
        std::uint64_t mask = state.instances.load(std::memory_order_seq_cst);
        while (mask != 0) {
            InstanceSlot &slot = g.instanceSlots[static_cast<std::size_t>(std::countr_zero(mask))];
            mask &= mask - 1;
            // busy before flags (both seq_cst): an instance being destroyed clears flags and then
            // waits for busy to drop, so it never frees what we are about to touch.
            slot.busy.fetch_add(1, std::memory_order_seq_cst);
            if (EventFlags *flags = slot.flags.load(std::memory_order_seq_cst)) {
                flags->record(signal);
                const std::uint64_t one = 1;
                // Non-blocking: a full pipe or a saturated eventfd fails with EAGAIN, and the
                // pending flag already carries the event.
                const ssize_t written =
                    ::write(slot.writeFd.load(std::memory_order_relaxed), &one,
                            static_cast<std::size_t>(slot.wakeBytes.load(std::memory_order_relaxed)));
                (void)written;
            }
            slot.busy.fetch_sub(1, std::memory_order_release);
        }
        SigactionFn action = nullptr;
        HandlerFn handler = nullptr;
        if (state.chainOnce.load(std::memory_order_acquire)) {
            // SA_RESETHAND, emulated: the first signal takes the handler, later ones find none.
            action = state.chainAction.exchange(nullptr, std::memory_order_acq_rel);
            handler = state.chainHandler.exchange(nullptr, std::memory_order_acq_rel);
            if (action != nullptr || handler != nullptr)
                state.chainSpent.store(true, std::memory_order_release);
        } else {
            action = state.chainAction.load(std::memory_order_acquire);
            handler = state.chainHandler.load(std::memory_order_acquire);
        }
        if (action != nullptr)
            action(signal, info, context);
        else if (handler != nullptr)
            handler(signal);
    }
    errno = savedErrno;
}

bool isOurs(const SigAction &action)
{
    return (action.sa_flags & SA_SIGINFO) != 0 && action.sa_sigaction == &onSignal;
}

bool isFunction(const SigAction &action)
{
    return (action.sa_flags & SA_SIGINFO) != 0 ||
           (action.sa_handler != SIG_DFL && action.sa_handler != SIG_IGN);
}

// Makes the OS handler call `previous` after recording (nothing for SIG_DFL and SIG_IGN).
void publishChain(SignalState &state, const SigAction &previous)
{
    state.chainSpent.store(false, std::memory_order_relaxed);
    state.chainOnce.store((previous.sa_flags & SA_RESETHAND) != 0 && isFunction(previous),
                          std::memory_order_release);
    if ((previous.sa_flags & SA_SIGINFO) != 0) {
        state.chainHandler.store(nullptr, std::memory_order_release);
        state.chainAction.store(previous.sa_sigaction, std::memory_order_release);
    } else {
        state.chainAction.store(nullptr, std::memory_order_release);
        state.chainHandler.store(isFunction(previous) ? previous.sa_handler : nullptr,
                                 std::memory_order_release);
    }
}

// Our disposition for a signal whose current one is `current`: its mask, and the flags that shape
// how the kernel runs a handler (SA_ONSTACK, SA_NODEFER, and for SIGCHLD SA_NOCLDSTOP and
// SA_NOCLDWAIT); SA_RESTART as the previous handler had it, or on when there was none (SIG_DFL,
// SIG_IGN). Never SA_RESETHAND (emulated in onSignal).
SigAction ourDisposition(const SigAction &current)
{
    SigAction ours{};
    ours.sa_sigaction = &onSignal;
    ours.sa_mask = current.sa_mask;
    ours.sa_flags = SA_SIGINFO | (current.sa_flags & (SA_ONSTACK | SA_NODEFER | SA_NOCLDSTOP | SA_NOCLDWAIT));
    ours.sa_flags |= isFunction(current) ? (current.sa_flags & SA_RESTART) : SA_RESTART;
    return ours;
}

// The disposition to put back: the previous one, or SIG_DFL once an emulated SA_RESETHAND fired.
SigAction dispositionToRestore(const SignalState &state)
{
    if (!state.chainSpent.load(std::memory_order_acquire))
        return state.previous;
    SigAction reset{};
    reset.sa_handler = SIG_DFL;
    sigemptyset(&reset.sa_mask);
    return reset;
}

// True when the signal's disposition is SIG_DFL right now: a signal that reached no listener
// is then raised again, so that the default action happens.
bool isDefaultNow(int signal)
{
    SigAction current{};
    return ::sigaction(signal, nullptr, &current) == 0 && !isFunction(current) &&
           current.sa_handler == SIG_DFL;
}

[[noreturn]] void throwErrno(const char *what)
{
    throw std::system_error(errno, std::generic_category(), what);
}

const char *refusalReason(int signal) noexcept
{
    if (signal <= 0 || signal >= NSIG)
        return "is not a signal number on this platform";
#ifdef SIGRTMAX
    if (signal > SIGRTMAX)
        return "is not a signal number on this platform";
#endif
    switch (signal) {
    case SIGKILL:
    case SIGSTOP:
        return "cannot be caught";
    case SIGSEGV:
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
        return "reports a fault in the running code and cannot be handled on an event loop";
    default:
        break;
    }
#if defined(__linux__) && defined(SIGRTMIN)
    if (signal >= 32 && signal < SIGRTMIN)
        return "is reserved by the C library's threads implementation";
#endif
    return nullptr;
}

// Opens a non-blocking, close-on-exec wake-up channel: an eventfd (readFd == writeFd) where there
// is one and RIO_UNIX_SIGNALS_PIPE is not set, else a pipe. Returns false with errno set.
bool openChannel(int &readFd, int &writeFd, int &wakeBytes, bool pipeWanted) noexcept
{
#if RIO_HAVE_EVENTFD
    if (!pipeWanted) {
        readFd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (readFd >= 0) {
            writeFd = readFd;
            wakeBytes = 8;
            return true;
        }
    }
#else
    (void)pipeWanted;
#endif
    int fds[2];
#if defined(__linux__)
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
        return false;
#else
    if (::pipe(fds) != 0)
        return false;
    for (int fd : fds) {
        ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC);
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
#endif
    readFd = fds[0];
    writeFd = fds[1];
    wakeBytes = 1;
    return true;
}

// Makes `target` refer to the file description of `source` (close-on-exec), then closes `source`.
void replaceFd(int source, int target) noexcept
{
#if defined(__linux__)
    while (::dup3(source, target, O_CLOEXEC) < 0 && errno == EINTR) {
    }
#else
    while (::dup2(source, target) < 0 && errno == EINTR) {
    }
    ::fcntl(target, F_SETFD, ::fcntl(target, F_GETFD) | FD_CLOEXEC);
#endif
    ::close(source);
}

// Raises the signals set in `toRaise` (process-directed, so any thread not blocking them takes
// them): signals that reached no listener, after SIG_DFL came back.
void raiseAll(const std::array<bool, NSIG> &toRaise)
{
    for (int signal = 1; signal < NSIG; ++signal) {
        if (toRaise[static_cast<std::size_t>(signal)])
            ::kill(::getpid(), signal);
    }
}

void forkPrepare() noexcept;
void forkParent() noexcept;
void forkChild() noexcept;
void onApplicationGone();

} // namespace

namespace detail {

void setUnixSignalsTestHook(UnixSignalsTestHook hook) noexcept
{
    testHook.store(hook, std::memory_order_release);
}

// What subscriptions hold on to: `d` is cleared (under Globals::mutex) when the UnixSignals dies
// or lets go of its listeners (its application went).
struct UnixSignalsAnchor
{
    UnixSignalsPrivate *d = nullptr;
};

// Whether one listener's subscription counts (under Globals::mutex): armed once its listener is
// in the registry; dead once its closure is destroyed (possibly before it was armed).
struct UnixSignalArming
{
    bool armed = false;
    bool dead = false;
};

class UnixSignalsPrivate
{
public:
    explicit UnixSignalsPrivate(UnixSignals *q) : q(q), anchor(std::make_shared<UnixSignalsAnchor>())
    {
        anchor->d = this;
    }

    // Releases what subscriptions still hold (their closures may be freed later, by another
    // thread's reclamation) and cuts them off; the signals to raise afterwards go to `toRaise`.
    void releaseAllLocked(std::array<bool, NSIG> &toRaise) noexcept
    {
        for (int signal = 1; signal < NSIG; ++signal) {
            if (counts[static_cast<std::size_t>(signal)] > 0) {
                counts[static_cast<std::size_t>(signal)] = 1;
                if (releaseLocked(signal))
                    toRaise[static_cast<std::size_t>(signal)] = true;
            }
        }
        anchor->d = nullptr;
    }

    // Installs our OS handler for `signal` if this is its first listener in the process.
    void installLocked(int signal)
    {
        SignalState &state = g.states[static_cast<std::size_t>(signal)];
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
    void uninstallLocked(int signal) noexcept
    {
        SignalState &state = g.states[static_cast<std::size_t>(signal)];
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
    void subscribeLocked(int signal)
    {
        int &count = counts[static_cast<std::size_t>(signal)];
        if (count == 0) {
            SignalState &state = g.states[static_cast<std::size_t>(signal)];
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
    bool releaseLocked(int signal) noexcept
    {
        int &count = counts[static_cast<std::size_t>(signal)];
        if (--count > 0)
            return false;
        uninstallLocked(signal);
        g.states[static_cast<std::size_t>(signal)].instances.fetch_and(~(std::uint64_t{1} << slot),
                                                                       std::memory_order_seq_cst);
        const bool missed =
            flags->take(signal) || std::exchange(unheard[static_cast<std::size_t>(signal)], false);
        return missed && isDefaultNow(signal);
    }

    // broadcast() consumed `signal` without reaching a listener of this instance.
    bool unheardLocked(int signal) noexcept
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

    void wake() const noexcept
    {
        const std::uint64_t one = 1;
        const ssize_t written = ::write(writeFd, &one, static_cast<std::size_t>(wakeBytes));
        (void)written;
    }

    void openWakeup()
    {
        if (!openChannel(readFd, writeFd, wakeBytes, qEnvironmentVariableIsSet("RIO_UNIX_SIGNALS_PIPE")))
            throwErrno(wakeBytes == 8 ? "rio::UnixSignals: eventfd" : "rio::UnixSignals: pipe");
    }

    // In a forked child: a wake-up channel of its own on the same fd numbers (so the notifier
    // keeps working), and none of the parent's pending signals.
    void reopenWakeupInChild() const noexcept
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

    void closeWakeup() noexcept
    {
        if (writeFd >= 0 && writeFd != readFd)
            ::close(writeFd);
        if (readFd >= 0)
            ::close(readFd);
        readFd = writeFd = -1;
    }

    void createNotifier()
    {
        notifier = new QSocketNotifier(readFd, QSocketNotifier::Read, q);
        QObject::connect(notifier, &QSocketNotifier::activated, q, [this] { dispatch(); });
        // Follow the lifetime of the application of our thread (see onApplicationGone).
        if (QCoreApplication *app = QCoreApplication::instance();
            app != nullptr && app->thread() == q->thread()) {
            std::lock_guard lock(g.mutex);
            if (!g.postRoutineAdded) {
                g.postRoutineAdded = true;
                qAddPostRoutine(&onApplicationGone);
            }
        }
    }

    // Reads until the fd would block, then broadcasts: a signal that arrives after the read
    // writes again and is delivered on the next pass. A signal that reached no listener is
    // handled as releaseLocked() describes.
    void dispatch()
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
            std::lock_guard lock(g.mutex);
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
    void orphan()
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
        std::array<bool, NSIG> toRaise{};
        {
            std::lock_guard lock(g.mutex);
            releaseAllLocked(toRaise);
            anchor = std::make_shared<UnixSignalsAnchor>();
            anchor->d = this;
            orphaned = true;
        }
        qCWarning(lcRegistryIO).nospace()
            << "rio::UnixSignals: the QCoreApplication of its thread was destroyed; removed its " << dropped
            << " listener(s) and restored the signals' previous dispositions (add() works again under a new "
               "QCoreApplication)";
        raiseAll(toRaise);
    }

    // add() on an instance whose application went: re-arm under a new one, or refuse.
    void rearmIfOrphaned()
    {
        if (!orphaned)
            return;
        if (QThread::currentThread() != q->thread() ||
            QAbstractEventDispatcher::instance(q->thread()) == nullptr)
            throw std::logic_error("rio::UnixSignals::add: the QCoreApplication of this object's thread was "
                                   "destroyed; create a new one, then add() on this object's thread");
        createNotifier();
        orphaned = false;
    }

    [[nodiscard]] HandlerId publicId(int signal, HandlerId inner) const noexcept
    {
        return HandlerId{(inner.value() << 32) | (serial << 8) | static_cast<unsigned>(signal)};
    }

    void reportFailure(int signal, const ExceptionInfo &info) const
    {
        const HandlerId id = publicId(signal, info.handlerId);
        const QString message = QString::fromStdString(info.message);
        qCWarning(lcRegistryIO).nospace()
            << "rio::UnixSignals: handler " << id.value() << " of signal " << signal << " threw: " << message;
        Q_EMIT q->handlerFailed(id, signal, message);
    }

    UnixSignals *q;
    std::shared_ptr<UnixSignalsAnchor> anchor; // replaced (under g.mutex) when orphaned
    std::unique_ptr<EventFlags> flags;
    QSocketNotifier *notifier = nullptr;
    int slot = -1;
    std::uint64_t serial = 0; // in every handler id this object hands out
    int readFd = -1;
    int writeFd = -1;
    int wakeBytes = 0;
    std::atomic<bool> orphaned{false}; // its application went (written on the owner thread)
    std::array<int, NSIG> counts{};    // armed listeners per signal on this instance (under g.mutex)
    std::array<bool, NSIG> unheard{};  // consumed with no listener while a release was due (g.mutex)
    std::mutex linksMutex;
    std::vector<std::weak_ptr<RegistryLink>> links; // of live scoped guards, detached at the end
};

UnixSignalSubscription::~UnixSignalSubscription()
{
    if (!m_anchor)
        return; // moved from
    bool raiseIt = false;
    {
        std::lock_guard lock(g.mutex);
        m_arming->dead = true;
        if (m_arming->armed && m_anchor->d != nullptr)
            raiseIt = m_anchor->d->releaseLocked(m_signal);
    }
    if (raiseIt)
        ::kill(::getpid(), m_signal);
}

} // namespace detail

namespace {

// pthread_atfork: the fork happens with Globals::mutex held (so the child finds it consistent)
// and every signal blocked in the forking thread (so none lands between fork and the child's new
// channels); the child then gives each instance a wake-up channel of its own.
void forkPrepare() noexcept
{
    sigset_t all;
    sigfillset(&all);
    sigset_t old;
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    g.mutex.lock();
    g.maskBeforeFork = old;
}

void forkParent() noexcept
{
    const sigset_t old = g.maskBeforeFork;
    g.mutex.unlock();
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void forkChild() noexcept
{
    for (InstanceSlot &slot : g.instanceSlots) {
        if (slot.used && slot.owner != nullptr)
            slot.owner->reopenWakeupInChild();
    }
    const sigset_t old = g.maskBeforeFork;
    g.mutex.unlock();
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

// A post routine of the current QCoreApplication (run by its destructor on the main thread, while
// its event dispatcher still exists): orphans the instances living on that thread.
void onApplicationGone()
{
    std::vector<detail::UnixSignalsPrivate *> owned;
    {
        std::lock_guard lock(g.mutex);
        g.postRoutineAdded = false; // the next application gets its own
        for (InstanceSlot &slot : g.instanceSlots) {
            if (slot.used && slot.owner != nullptr && !slot.owner->orphaned &&
                slot.owner->q->thread() == QThread::currentThread())
                owned.push_back(slot.owner);
        }
    }
    for (detail::UnixSignalsPrivate *d : owned)
        d->orphan();
}

} // namespace

UnixSignals::UnixSignals(QObject *parent)
    : QObject(parent), d(std::make_unique<detail::UnixSignalsPrivate>(this))
{
    static std::once_flag atforkOnce;
    std::call_once(atforkOnce, [] {
        if (::pthread_atfork(&forkPrepare, &forkParent, &forkChild) != 0)
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
        std::lock_guard lock(g.mutex);
        const auto free = std::find_if(g.instanceSlots.begin(), g.instanceSlots.end(),
                                       [](const InstanceSlot &s) { return !s.used; });
        if (free == g.instanceSlots.end()) {
            d->closeWakeup();
            throw std::runtime_error("rio::UnixSignals: more than 64 instances alive in this process");
        }
        // A serial no live instance has (and never 0), so ids never cross instances; it repeats only
        // after 2^24 instances, and never while the earlier one lives.
        for (;;) {
            g.lastSerial = (g.lastSerial + 1) & kSerialMask;
            const std::uint64_t candidate = g.lastSerial;
            if (candidate != 0 &&
                std::none_of(g.instanceSlots.begin(), g.instanceSlots.end(), [&](const InstanceSlot &s) {
                    return s.used && s.owner != nullptr && s.owner->serial == candidate;
                }))
                break;
        }
        d->serial = g.lastSerial;
        free->used = true;
        free->owner = d.get();
        free->writeFd.store(d->writeFd, std::memory_order_relaxed);
        free->wakeBytes.store(d->wakeBytes, std::memory_order_relaxed);
        free->flags.store(d->flags.get(), std::memory_order_seq_cst);
        d->slot = static_cast<int>(free - g.instanceSlots.begin());
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
    std::array<bool, NSIG> toRaise{};
    {
        std::lock_guard lock(g.mutex);
        d->releaseAllLocked(toRaise);
    }
    InstanceSlot &slot = g.instanceSlots[static_cast<std::size_t>(d->slot)];
    // From here OS handlers skip this instance; wait out those already inside it.
    slot.flags.store(nullptr, std::memory_order_seq_cst);
    while (slot.busy.load(std::memory_order_seq_cst) != 0)
        QThread::yieldCurrentThread();
    d->flags.reset();
    {
        std::lock_guard lock(g.mutex);
        slot.used = false;
        slot.owner = nullptr;
        slot.writeFd.store(-1, std::memory_order_relaxed);
    }
    d->closeWakeup();
    raiseAll(toRaise);
}

bool UnixSignals::isCatchable(int signal) noexcept
{
    return refusalReason(signal) == nullptr;
}

EventFlags::Listeners &UnixSignals::listenersFor(int signal)
{
    if (const char *reason = refusalReason(signal))
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
    std::lock_guard lock(g.mutex); // the anchor is replaced under it
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
        std::lock_guard lock(g.mutex);
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
    auto link = std::make_shared<detail::RegistryLink>();
    link->registry = d.get();
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
