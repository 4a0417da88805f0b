// SPDX-License-Identifier: MIT
#pragma once

// The private side of rio::UnixSignals, shared by its files: the process-wide state the OS
// handler reads (unix_signals_os.cpp), one instance's subscriptions, wake-up channel and dispatch
// (unix_signals_dispatch.cpp), and the public class (unix_signals.cpp). Not installed.

#include <registryio/detail/owner_anchor.h>
#include <registryio/detail/registry_link.h>
#include <registryio/event_flags.h>
#include <registryio/exception_info.h>
#include <registryio/handler_id.h>
#include <registryio/qt/unix_signals.h>

#include "unix_signals_testing_p.h"

#include <QSocketNotifier>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include <signal.h> // NOLINT(modernize-deprecated-headers): sigaction and siginfo_t are POSIX

namespace rio::detail {

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

// The process-wide state (unix_signals_os.cpp).
extern Globals signalGlobals;

// Calls the test hook, if one is set.
void callTestHook(UnixSignalsHookPoint point, int signal);
// True when `action` is our OS handler.
bool isOurs(const SigAction &action);
// True when `action` is a function (not SIG_DFL or SIG_IGN).
bool isFunction(const SigAction &action);
// Makes the OS handler call `previous` after recording (nothing for SIG_DFL and SIG_IGN).
void publishChain(SignalState &state, const SigAction &previous);
// Our disposition for a signal whose current one is `current`.
SigAction ourDisposition(const SigAction &current);
// The disposition to put back: the previous one, or SIG_DFL once an emulated SA_RESETHAND fired.
SigAction dispositionToRestore(const SignalState &state);
// True when the signal's disposition is SIG_DFL right now.
bool isDefaultNow(int signal);
// Why `signal` cannot be listened to (null when it can).
const char *refusalReason(int signal) noexcept;
// Throws std::system_error with errno.
[[noreturn]] void throwErrno(const char *what);
// Opens a non-blocking, close-on-exec wake-up channel. Returns false with errno set.
bool openChannel(int &readFd, int &writeFd, int &wakeBytes, bool pipeWanted) noexcept;
// Makes `target` refer to the file description of `source` (close-on-exec), then closes `source`.
void replaceFd(int source, int target) noexcept;
// Raises the signals set in `toRaise` (process-directed).
void raiseAll(const std::array<bool, NSIG> &toRaise);
// pthread_atfork handlers: fork with the process-wide lock held and every signal blocked.
void forkPrepare() noexcept;
void forkParent() noexcept;
void forkChild() noexcept;
// A post routine of the current QCoreApplication: orphans the instances on its thread.
void onApplicationGone();

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
    explicit UnixSignalsPrivate(UnixSignals *q);

    // Releases what subscriptions still hold (their closures may be freed later, by another
    // thread's reclamation; the anchor detached first cuts them off); the signals to raise
    // afterwards go to `toRaise`.
    void releaseAllLocked(std::array<bool, NSIG> &toRaise) noexcept;

    // Installs our OS handler for `signal` if this is its first listener in the process.
    void installLocked(int signal);

    // Restores the previous disposition when the last listener in the process goes, if ours is
    // still the installed one (otherwise whoever replaced it keeps chaining to it).
    void uninstallLocked(int signal) noexcept;

    // The first listener of `signal` on this instance: marked as listening first, then our
    // handler goes in, so a signal finding our handler always finds this instance.
    void subscribeLocked(int signal);

    // The last listener of `signal` on this instance went: the previous disposition comes back
    // first (if it was the last in the process), then the instance stops listening. A signal
    // recorded for it meanwhile, or recorded and not delivered before its listeners went, reached
    // no listener: true when it is to be raised again (after the lock) because SIG_DFL is back.
    bool releaseLocked(int signal) noexcept;

    // broadcast() consumed `signal` without reaching a listener of this instance.
    bool unheardLocked(int signal) noexcept;

    void wake() const noexcept;

    void openWakeup();

    // In a forked child: a wake-up channel of its own on the same fd numbers (so the notifier
    // keeps working), and none of the parent's pending signals.
    void reopenWakeupInChild() const noexcept;

    void closeWakeup() noexcept;

    void createNotifier();

    // Reads until the fd would block, then broadcasts: a signal that arrives after the read
    // writes again and is delivered on the next pass. A signal that reached no listener is
    // handled as releaseLocked() describes.
    void dispatch();

    // The application of our thread is being destroyed: its event dispatcher goes with it, so
    // this instance could never deliver again. Let go of every listener (restoring dispositions,
    // so SIGTERM and SIGINT get their default action back) and say so; add() re-arms under a new
    // application.
    void orphan();

    // add() on an instance whose application went: re-arm under a new one, or refuse.
    void rearmIfOrphaned();

    [[nodiscard]] HandlerId publicId(int signal, HandlerId inner) const noexcept;

    void reportFailure(int signal, const ExceptionInfo &info) const;

    UnixSignals *q;
    // What subscriptions reach this instance through: detached (outside signalGlobals.mutex, which a
    // subscription's frame takes) when the instance dies or lets go of its listeners, then replaced
    // (under that mutex) when orphaned.
    std::shared_ptr<OwnerAnchor> anchor;
    std::unique_ptr<EventFlags> flags;
    QSocketNotifier *notifier = nullptr;
    int slot = -1;
    std::uint64_t serial = 0; // in every handler id this object hands out
    int readFd = -1;
    int writeFd = -1;
    int wakeBytes = 0;
    std::atomic<bool> orphaned{false}; // its application went (written on the owner thread)
    std::array<int, NSIG> counts{}; // armed listeners per signal on this instance (under signalGlobals.mutex)
    std::array<bool, NSIG>
        unheard{}; // consumed with no listener while a release was due (signalGlobals.mutex)
    std::mutex linksMutex;
    std::vector<std::weak_ptr<RegistryLink>> links; // of live scoped guards, detached at the end
};

} // namespace rio::detail
