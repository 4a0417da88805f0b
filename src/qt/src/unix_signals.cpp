#include <registryio/detail/registry_link.h>
#include <registryio/detail/unix_signals_testing.h>
#include <registryio/logging.h>
#include <registryio/unix_signals.h>

#include <QSocketNotifier>
#include <QThread>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include <fcntl.h>
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

constexpr int kMaxInstances = 64; // one bit each in SignalState::instances

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
    int listeners = 0;      // instances listening
    bool installed = false; // our handler went in and was not restored
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
};

struct Globals
{
    std::mutex mutex;
    std::array<SignalState, NSIG> states{};
    std::array<InstanceSlot, kMaxInstances> instanceSlots{};
};

constinit Globals g;

std::atomic<detail::UnixSignalsTestHook> testHook{nullptr};

void callTestHook(detail::UnixSignalsHookPoint point, int signal)
{
    if (detail::UnixSignalsTestHook hook = testHook.load(std::memory_order_acquire))
        hook(point, signal);
}

static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<int>::is_always_lock_free &&
                  std::atomic<SigactionFn>::is_always_lock_free,
              "the OS handler may only use lock-free atomics");

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
        if (SigactionFn action = state.chainAction.load(std::memory_order_acquire))
            action(signal, info, context);
        else if (HandlerFn handler = state.chainHandler.load(std::memory_order_acquire))
            handler(signal);
    }
    errno = savedErrno;
}

bool isOurs(const SigAction &action)
{
    return (action.sa_flags & SA_SIGINFO) != 0 && action.sa_sigaction == &onSignal;
}

// Makes the OS handler call `previous` after recording (nothing for SIG_DFL and SIG_IGN).
void publishChain(SignalState &state, const SigAction &previous)
{
    if ((previous.sa_flags & SA_SIGINFO) != 0) {
        state.chainHandler.store(nullptr, std::memory_order_release);
        state.chainAction.store(previous.sa_sigaction, std::memory_order_release);
    } else {
        state.chainAction.store(nullptr, std::memory_order_release);
        const bool function = previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN;
        state.chainHandler.store(function ? previous.sa_handler : nullptr, std::memory_order_release);
    }
}

[[noreturn]] void throwErrno(const char *what)
{
    throw std::system_error(errno, std::generic_category(), what);
}

const char *refusalReason(int signal) noexcept
{
    if (signal <= 0 || signal > SIGRTMAX || signal >= NSIG)
        return "is not a signal number on this platform";
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
#ifdef __linux__
    if (signal >= 32 && signal < SIGRTMIN)
        return "is reserved by the C library's threads implementation";
#endif
    return nullptr;
}

} // namespace

namespace detail {

void setUnixSignalsTestHook(UnixSignalsTestHook hook) noexcept
{
    testHook.store(hook, std::memory_order_release);
}

// What subscriptions hold on to: `d` is cleared (under Globals::mutex) when the UnixSignals dies.
struct UnixSignalsAnchor
{
    UnixSignalsPrivate *d = nullptr;
};

class UnixSignalsPrivate
{
public:
    explicit UnixSignalsPrivate(UnixSignals *q) : q(q), anchor(std::make_shared<UnixSignalsAnchor>())
    {
        anchor->d = this;
    }

    // Releases what subscriptions still hold (their closures may be freed later, by another
    // thread's reclamation) and cuts them off.
    void releaseAllLocked() noexcept
    {
        for (int signal = 1; signal < NSIG; ++signal) {
            if (counts[static_cast<std::size_t>(signal)] > 0) {
                counts[static_cast<std::size_t>(signal)] = 1;
                releaseLocked(signal);
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
            const bool function = (current.sa_flags & SA_SIGINFO) != 0 ||
                                  (current.sa_handler != SIG_DFL && current.sa_handler != SIG_IGN);
            if (function) {
                ++state.listeners;
                return;
            }
            state.installed = false;
        }
        publishChain(state, current); // before ours can run
        SigAction ours{};
        ours.sa_sigaction = &onSignal;
        ours.sa_mask = current.sa_mask;
        ours.sa_flags = SA_SIGINFO | SA_RESTART | (current.sa_flags & SA_ONSTACK);
        SigAction old{};
        if (::sigaction(signal, &ours, &old) != 0)
            throwErrno("rio::UnixSignals: sigaction");
        publishChain(state, old); // in case another thread changed it in between
        state.previous = old;
        state.installed = true;
        ++state.listeners;
        callTestHook(detail::UnixSignalsHookPoint::Installed, signal);
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
            callTestHook(detail::UnixSignalsHookPoint::Restoring, signal);
            if (::sigaction(signal, &state.previous, nullptr) == 0)
                state.installed = false;
        }
    }

    void subscribe(int signal)
    {
        std::lock_guard lock(g.mutex);
        int &count = counts[static_cast<std::size_t>(signal)];
        if (count == 0) {
            installLocked(signal);
            g.states[static_cast<std::size_t>(signal)].instances.fetch_or(std::uint64_t{1} << slot,
                                                                          std::memory_order_seq_cst);
        }
        ++count;
    }

    void releaseLocked(int signal) noexcept
    {
        int &count = counts[static_cast<std::size_t>(signal)];
        if (--count > 0)
            return;
        g.states[static_cast<std::size_t>(signal)].instances.fetch_and(~(std::uint64_t{1} << slot),
                                                                       std::memory_order_seq_cst);
        uninstallLocked(signal);
    }

    void openWakeup()
    {
#if RIO_HAVE_EVENTFD
        if (!qEnvironmentVariableIsSet("RIO_UNIX_SIGNALS_PIPE")) {
            readFd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
            if (readFd >= 0) {
                writeFd = readFd;
                wakeBytes = 8;
                return;
            }
        }
#endif
        int fds[2];
#if defined(__linux__)
        if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
            throwErrno("rio::UnixSignals: pipe2");
#else
        if (::pipe(fds) != 0)
            throwErrno("rio::UnixSignals: pipe");
        for (int fd : fds) {
            ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC);
            ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        }
#endif
        readFd = fds[0];
        writeFd = fds[1];
        wakeBytes = 1;
    }

    void closeWakeup() noexcept
    {
        if (writeFd >= 0 && writeFd != readFd)
            ::close(writeFd);
        if (readFd >= 0)
            ::close(readFd);
        readFd = writeFd = -1;
    }

    // Reads until the fd would block, then broadcasts: a signal that arrives after the read
    // writes again and is delivered on the next pass.
    void dispatch() const
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
        flags->broadcast();
    }

    void reportFailure(int signal, const ExceptionInfo &info) const
    {
        const HandlerId id{(info.handlerId.value() << 8) | static_cast<unsigned>(signal)};
        const QString message = QString::fromStdString(info.message);
        qCWarning(lcRegistryIO).nospace()
            << "rio::UnixSignals: handler " << id.value() << " of signal " << signal << " threw: " << message;
        Q_EMIT q->handlerFailed(id, signal, message);
    }

    UnixSignals *q;
    std::shared_ptr<UnixSignalsAnchor> anchor;
    std::unique_ptr<EventFlags> flags;
    QSocketNotifier *notifier = nullptr;
    int slot = -1;
    int readFd = -1;
    int writeFd = -1;
    int wakeBytes = 0;
    std::array<int, NSIG> counts{}; // listeners per signal on this instance (under g.mutex)
    std::mutex linksMutex;
    std::vector<std::weak_ptr<RegistryLink>> links; // of live scoped guards, detached at the end
};

UnixSignalSubscription::~UnixSignalSubscription()
{
    if (!m_anchor)
        return; // moved from
    std::lock_guard lock(g.mutex);
    if (m_anchor->d != nullptr)
        m_anchor->d->releaseLocked(m_signal);
}

} // namespace detail

UnixSignals::UnixSignals(QObject *parent)
    : QObject(parent), d(std::make_unique<detail::UnixSignalsPrivate>(this))
{
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
        free->used = true;
        free->writeFd.store(d->writeFd, std::memory_order_relaxed);
        free->wakeBytes.store(d->wakeBytes, std::memory_order_relaxed);
        free->flags.store(d->flags.get(), std::memory_order_seq_cst);
        d->slot = static_cast<int>(free - g.instanceSlots.begin());
    }
    d->notifier = new QSocketNotifier(d->readFd, QSocketNotifier::Read, this);
    connect(d->notifier, &QSocketNotifier::activated, this, [this] { d->dispatch(); });
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
    InstanceSlot &slot = g.instanceSlots[static_cast<std::size_t>(d->slot)];
    // From here OS handlers skip this instance; wait out those already inside it.
    slot.flags.store(nullptr, std::memory_order_seq_cst);
    while (slot.busy.load(std::memory_order_seq_cst) != 0)
        QThread::yieldCurrentThread();
    // Destroying the listeners releases their subscriptions, restoring dispositions.
    d->flags.reset();
    {
        std::lock_guard lock(g.mutex);
        d->releaseAllLocked();
        slot.used = false;
        slot.writeFd.store(-1, std::memory_order_relaxed);
    }
    d->closeWakeup();
}

bool UnixSignals::isCatchable(int signal) noexcept
{
    return refusalReason(signal) == nullptr;
}

EventFlags::Listeners &UnixSignals::listenersFor(int signal)
{
    if (const char *reason = refusalReason(signal))
        throw std::invalid_argument("rio::UnixSignals: signal " + std::to_string(signal) + " " + reason);
    return d->flags->listeners(signal);
}

detail::UnixSignalSubscription UnixSignals::subscribe(int signal)
{
    d->subscribe(signal);
    return {d->anchor, signal};
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
    const HandlerId inner{id.value() >> 8};
    if (!isCatchable(signal) || !inner.isValid())
        return false;
    return d->flags->listeners(signal).removeAndWait(inner);
}

std::size_t UnixSignals::listenerCount(int signal) const noexcept
{
    return isCatchable(signal) ? d->flags->listenerCount(signal) : 0;
}

} // namespace rio
