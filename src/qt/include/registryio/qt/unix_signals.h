// SPDX-License-Identifier: MIT
#pragma once

#if defined(_WIN32)
// rio::UnixSignals needs POSIX signals; docs/SIGNALS.md describes the Windows console-control design.
#error "rio::UnixSignals is not available on Windows: it needs POSIX signals (see docs/SIGNALS.md)"
#endif

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/event_flags.h>
#include <registryio/handler_guard.h>
#include <registryio/handler_id.h>
#include <registryio/qt/detail/qt_priority.h>
#include <registryio/qt/qt_export.h>
#include <registryio/registry.h>
#include <registryio/source_location.h>

#include <QObject>
#include <QString>

#include <concepts>
#include <csignal>
#include <cstddef>
#include <functional>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace rio {

namespace detail {
struct RegistryLink;
class UnixSignalsPrivate;

class OwnerAnchor;
struct UnixSignalArming;

// Keeps one signal of one UnixSignals subscribed (OS handler installed) while it lives and is
// armed; it travels inside each listener's closure, so every way a listener goes (remove, guard,
// once, clear) releases the signal once the closure is destroyed. The listener is added first and
// armed after, so a signal that finds our handler installed finds a listener. It refers to its
// UnixSignals through the library's OwnerAnchor, so a closure freed late (by another thread's
// reclamation) finds it gone safely.
class RIO_QT_EXPORT UnixSignalSubscription
{
public:
    UnixSignalSubscription(std::shared_ptr<OwnerAnchor> anchor, std::shared_ptr<UnixSignalArming> arming,
                           int signal) noexcept
        : m_anchor(std::move(anchor)), m_arming(std::move(arming)), m_signal(signal)
    { }
    UnixSignalSubscription(UnixSignalSubscription &&other) noexcept = default;
    UnixSignalSubscription &operator=(UnixSignalSubscription &&) = delete;
    UnixSignalSubscription(const UnixSignalSubscription &) = delete;
    ~UnixSignalSubscription();

private:
    std::shared_ptr<OwnerAnchor> m_anchor;
    std::shared_ptr<UnixSignalArming> m_arming;
    int m_signal;
};

template <typename F>
struct UnixSignalListener
{
    F fn;
    UnixSignalSubscription subscription;
    void operator()(const int &signal)
    {
        if constexpr (std::is_invocable_v<F &, const int &>)
            std::invoke(fn, signal);
        else
            std::invoke(fn);
    }
};
} // namespace detail

/// Unix signals (SIGTERM, SIGHUP, SIGINT, real-time signals...) delivered as calls on this object's
/// thread's event loop, repeats before the loop runs coalescing into one; handlers receive the
/// signal number (or no arguments). Unix only; uncatchable and fault signals are refused
/// (docs/SIGNALS.md).
class RIO_QT_EXPORT UnixSignals : public QObject
{
    Q_OBJECT
public:
    /// A signal source delivering on this object's thread (needs an event dispatcher there, e.g. a
    /// QCoreApplication; its loop need not be running yet). Throws std::system_error when no
    /// wake-up fd can be created and std::runtime_error beyond 64 live instances.
    explicit UnixSignals(QObject *parent = nullptr);
    /// Removes every handler, restores dispositions nobody else listens to, closes the fds.
    ~UnixSignals() override;

    /// True for the signals add() accepts: 1..SIGRTMAX (NSIG-1 where there is no SIGRTMAX) except SIGKILL,
    /// SIGSTOP, SIGSEGV, SIGBUS, SIGILL, SIGFPE and the C library's reserved real-time signals.
    [[nodiscard]] static bool isCatchable(int signal) noexcept;

    /// Calls `handler` on this object's thread whenever `signal` arrives (higher priority first; an
    /// integer priority, never an enumeration), installing the OS handler on the signal's first
    /// listener in the process. Throws std::invalid_argument for a signal isCatchable() refuses, an
    /// empty handler or a priority outside int's range, and std::logic_error when this object's
    /// QCoreApplication is gone and none exists (nothing changes).
    template <HandlerFor<int> F, std::integral Priority = int>
    HandlerId add(int signal, F &&handler, Priority priority = 0,
                  SourceLocation where = SourceLocation::current())
    {
        return addImpl<false>(signal, std::forward<F>(handler),
                              detail::checkedPriority(priority, "rio::UnixSignals"), where);
    }

    /// As add(), for a handler that runs at most once.
    template <HandlerFor<int> F, std::integral Priority = int>
    HandlerId addOnce(int signal, F &&handler, Priority priority = 0,
                      SourceLocation where = SourceLocation::current())
    {
        return addImpl<true>(signal, std::forward<F>(handler),
                             detail::checkedPriority(priority, "rio::UnixSignals"), where);
    }

    /// As add(); the returned guard removes the handler when destroyed.
    template <HandlerFor<int> F, std::integral Priority = int>
    [[nodiscard]] HandlerGuard addScoped(int signal, F &&handler, Priority priority = 0,
                                         SourceLocation where = SourceLocation::current())
    {
        std::shared_ptr<detail::RegistryLink> link = makeLink();
        const HandlerId id = add(signal, std::forward<F>(handler), priority, where);
        return {std::move(link), id};
    }

    /// Removes a handler of this object: true the first time; false for another object's id. On
    /// return it is not running on another thread; when it was the signal's last listener in the
    /// process, the previous disposition is back.
    bool remove(HandlerId id);

    /// Number of handlers of `signal` on this object.
    [[nodiscard]] std::size_t listenerCount(int signal) const noexcept;

    /// The signal a handler id of this class belongs to (0 for an invalid id).
    [[nodiscard]] static int signalOf(HandlerId id) noexcept { return static_cast<int>(id.value() & 0xff); }

Q_SIGNALS:
    /// A handler threw: its id, the signal and `what()` (also logged to the `registryio` category).
    void handlerFailed(rio::HandlerId id, int signal, const QString &message);

private:
    template <bool Once, typename F>
    HandlerId addImpl(int signal, F &&handler, int priority, SourceLocation where)
    {
        if (detail::isEmptyCallable(handler))
            throw std::invalid_argument("rio::UnixSignals::add: the handler is empty");
        EventFlags::Listeners &target = listenersFor(signal);
        std::shared_ptr<detail::UnixSignalArming> arming = newArming();
        detail::UnixSignalListener<std::decay_t<F>> listener{std::forward<F>(handler),
                                                             subscription(signal, arming)};
        const HandlerId inner = Once ? target.addOnce(std::move(listener), priority, where)
                                     : target.add(std::move(listener), priority, where);
        return arm(signal, inner, arming); // installs after the add; removes it again on failure
    }

    EventFlags::Listeners &listenersFor(int signal);
    static std::shared_ptr<detail::UnixSignalArming> newArming();
    detail::UnixSignalSubscription subscription(int signal, std::shared_ptr<detail::UnixSignalArming> arming);
    HandlerId arm(int signal, HandlerId inner, const std::shared_ptr<detail::UnixSignalArming> &arming);
    std::shared_ptr<detail::RegistryLink> makeLink();

    friend class detail::UnixSignalsPrivate;
    std::unique_ptr<detail::UnixSignalsPrivate> d;
};

} // namespace rio
