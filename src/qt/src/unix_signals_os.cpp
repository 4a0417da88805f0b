// SPDX-License-Identifier: MIT
// rio::UnixSignals, process-wide: the state the OS handler reads, the OS handler itself
// (async-signal-safe), dispositions installed and restored, wake-up channels, and fork.
#include "unix_signals_p.h"

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

namespace rio::detail {

constinit Globals signalGlobals;

static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<int>::is_always_lock_free &&
                  std::atomic<SigactionFn>::is_always_lock_free && std::atomic<bool>::is_always_lock_free,
              "the OS handler may only use lock-free atomics");

namespace {
std::atomic<UnixSignalsTestHook> testHook{nullptr};
} // namespace

void callTestHook(UnixSignalsHookPoint point, int signal)
{
    if (UnixSignalsTestHook hook = testHook.load(std::memory_order_acquire))
        hook(point, signal);
}

void setUnixSignalsTestHook(UnixSignalsTestHook hook) noexcept
{
    testHook.store(hook, std::memory_order_release);
}

// The OS handler: async-signal-safe (lock-free atomics, write(2)), saves and restores errno.
void onSignal(int signal, siginfo_t *info, void *context)
{
    const int savedErrno = errno;
    if (signal > 0 && signal < NSIG) {
        SignalState &state = signalGlobals.states[static_cast<std::size_t>(signal)];
        std::uint64_t mask = state.instances.load(std::memory_order_seq_cst);
        while (mask != 0) {
            InstanceSlot &slot =
                signalGlobals.instanceSlots[static_cast<std::size_t>(std::countr_zero(mask))];
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

// pthread_atfork: the fork happens with Globals::mutex held (so the child finds it consistent)
// and every signal blocked in the forking thread (so none lands between fork and the child's new
// channels); the child then gives each instance a wake-up channel of its own.
void forkPrepare() noexcept
{
    sigset_t all;
    sigfillset(&all);
    sigset_t old;
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    signalGlobals.mutex.lock();
    signalGlobals.maskBeforeFork = old;
}

void forkParent() noexcept
{
    const sigset_t old = signalGlobals.maskBeforeFork;
    signalGlobals.mutex.unlock();
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void forkChild() noexcept
{
    for (InstanceSlot &slot : signalGlobals.instanceSlots) {
        if (slot.used && slot.owner != nullptr)
            slot.owner->reopenWakeupInChild();
    }
    const sigset_t old = signalGlobals.maskBeforeFork;
    signalGlobals.mutex.unlock();
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

} // namespace rio::detail
