// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/connection.h>
#include <registryio/handler_guard.h>
#include <registryio/handler_id.h>
#include <registryio/qt/delivery.h>
#include <registryio/qt/detail/qt_async.h>
#include <registryio/qt/detail/qt_delivery.h>
#include <registryio/qt/detail/qt_handler.h>
#include <registryio/qt/detail/qt_priority.h>
#include <registryio/qt/detail/qt_registrations.h>
#include <registryio/qt/detail/qt_sequence.h>
#include <registryio/qt/detail/qt_trace.h>
#include <registryio/qt/qt_registry_base.h>
#include <registryio/registry.h>
#include <registryio/source_location.h>

#include <QFuture>
#include <QObject>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace rio {

/// A handler QtRegistry<E> accepts: callable with `const E&` or with nothing; it may return
/// QFuture<void> for work of its own (awaited by notifyAsync/notifySequential).
template <typename F, typename E>
concept QtHandlerFor =
    std::is_invocable_v<std::decay_t<F> &, const E &> || std::is_invocable_v<std::decay_t<F> &>;

/// A member function QtRegistry<E> accepts for `Receiver`: callable with `const E&` or with nothing.
template <typename Method, typename Receiver, typename E>
concept QtMemberSlotFor =
    std::derived_from<Receiver, QObject> && std::is_member_function_pointer_v<Method> &&
    (std::is_invocable_v<Method, Receiver *, const E &> || std::is_invocable_v<Method, Receiver *>);

/// The Qt facade of Registry<E>: handlers run on a context object's thread with Qt's connection
/// semantics, optionally coalesced; async and sequential notifies return QFuture<void>; failures
/// reach the exception callback, handlerFailed() and the `registryio` logging category.
template <typename E>
class QtRegistry : public QtRegistryBase
{
    static_assert(std::is_copy_constructible_v<E>, "rio::QtRegistry<E>: E must be copyable (queued "
                                                   "deliveries share one copy per notify)");

public:
    /// The event type handlers receive as `const E&`.
    using Event = E;

    /// An empty registry.
    explicit QtRegistry(QObject *parent = nullptr) : QtRegistryBase(parent)
    {
        m_core.setExceptionHandler([this](const ExceptionInfo &info) { reportFailure(info); });
        attachDiagnostics(detail::LayerAccess::core(m_core), m_registrations, &detail::eventTypeNameOf<E>);
    }

    /// Cancels every pending delivery and destroys the handlers; no notify of this registry may be
    /// running, and guards that outlive it become inert. A delivery its receiver's event loop had
    /// already taken may still run after it returns, holding only its own handler (its exception is
    /// no longer reported).
    ~QtRegistry() override
    {
        detachShared();
        for (auto &entry : m_registrations.takeAll())
            entry.second.core->cancel();
    }

    QtRegistry(const QtRegistry &) = delete;
    QtRegistry &operator=(const QtRegistry &) = delete;

    /// Registers `handler` to run on the notifying thread (higher priority first; equal priorities
    /// in registration order); a priority is an integer, never an enumeration such as
    /// Qt::ConnectionType. Throws std::invalid_argument for an empty callable or a priority outside
    /// int's range.
    template <QtHandlerFor<E> F, std::integral Priority = int>
    HandlerId add(F &&handler, Priority priority = 0, SourceLocation where = SourceLocation::current())
    {
        return addImpl(nullptr, std::forward<F>(handler), directOptions(priority, false), nullptr, where);
    }

    /// Registers `handler` to run on `context`'s thread as `options` say (HandlerOptions:
    /// connection, priority, delivery, bounds), removed when `context` dies. Throws
    /// std::invalid_argument for a null context, an empty callable, an unknown connection type, or
    /// Latest with Direct or BlockingQueued.
    template <QtHandlerFor<E> F>
    HandlerId add(QObject *context, F &&handler, HandlerOptions options = {},
                  SourceLocation where = SourceLocation::current())
    {
        return addImpl(detail::QtRegistrations::requireContext(context), std::forward<F>(handler), options,
                       nullptr, where);
    }

    /// Registers a member function of `receiver` (which is also the context), like QObject::connect.
    /// With Qt::UniqueConnection OR'd into `options.connection`, a receiver and member function
    /// already registered here are refused: an invalid id is returned and nothing changes.
    template <typename Receiver, QtMemberSlotFor<Receiver, E> Method>
    HandlerId add(Receiver *receiver, Method method, HandlerOptions options = {},
                  SourceLocation where = SourceLocation::current())
    {
        detail::QtRegistrations::requireMethod(method == nullptr);
        const QObject *object = detail::QtRegistrations::requireContext(receiver);
        const std::string key = detail::QtRegistrations::memberKey(object, &method, sizeof method);
        return addImpl(static_cast<QObject *>(receiver), bindMember(receiver, method), options, &key, where);
    }

    /// Registers a handler that runs at most once, on the notifying thread (with a context:
    /// add(context, handler, {.once = true})).
    template <QtHandlerFor<E> F, std::integral Priority = int>
    HandlerId addOnce(F &&handler, Priority priority = 0, SourceLocation where = SourceLocation::current())
    {
        return addImpl(nullptr, std::forward<F>(handler), directOptions(priority, true), nullptr, where);
    }

    /// As add(handler, priority); destroying the returned guard removes the handler.
    template <QtHandlerFor<E> F, std::integral Priority = int>
    [[nodiscard]] HandlerGuard addScoped(F &&handler, Priority priority = 0,
                                         SourceLocation where = SourceLocation::current())
    {
        return HandlerGuard(m_link, add(std::forward<F>(handler), priority, where));
    }

    /// As add(context, handler, options); destroying the returned guard removes the handler.
    template <QtHandlerFor<E> F>
    [[nodiscard]] HandlerGuard addScoped(QObject *context, F &&handler, HandlerOptions options = {},
                                         SourceLocation where = SourceLocation::current())
    {
        return HandlerGuard(m_link, add(context, std::forward<F>(handler), options, where));
    }

    /// As add(receiver, method, options); the guard removes the handler (it is empty when
    /// Qt::UniqueConnection refused the registration).
    template <typename Receiver, QtMemberSlotFor<Receiver, E> Method>
    [[nodiscard]] HandlerGuard addScoped(Receiver *receiver, Method method, HandlerOptions options = {},
                                         SourceLocation where = SourceLocation::current())
    {
        return HandlerGuard(m_link, add(receiver, method, options, where));
    }

    /// A copyable handle to `id` (isConnected() is false when `id` is not registered here).
    [[nodiscard]] Connection connection(HandlerId id) const noexcept { return Connection(m_link, id); }

    /// Suspends (true) or resumes (false) delivery to `id` without removing it: notifies skip it
    /// and its queued deliveries that have not started are dropped. False for an unknown id.
    bool setSuspended(HandlerId id, bool suspended)
    {
        return m_registrations.update(id, [&](detail::QtHandlerCore &core) {
            core.suspended.store(suspended, std::memory_order_release); // queued deliveries
            m_core.setSuspended(id, suspended);                         // notifies
        });
    }

    /// True while `id` is registered here and suspended.
    [[nodiscard]] bool isSuspended(HandlerId id) const
    {
        const auto core = m_registrations.find(id);
        return core && core->suspended.load(std::memory_order_acquire);
    }

    /// Removes a handler: true the first time. Deliveries queued for it never run (also the one
    /// of a once-handler that fired, whose removal returns false); one another thread has
    /// already begun may still run, which removeAndWait() waits for.
    bool remove(HandlerId id) { return removeHandler(id, true); }

    /// As remove(); when this call removes it, on return the handler runs on no other thread (queued
    /// deliveries included) and none of its code runs again, but from inside that handler it does
    /// not wait for itself, and an id removed before (false) is not waited for.
    /// Called from a thread that a BlockingQueued notify in progress waits for, it deadlocks.
    bool removeAndWait(HandlerId id)
    {
        const std::shared_ptr<detail::QtHandlerCore> core = m_registrations.find(id, /*spent=*/true);
        const bool removed = removeHandler(id, true);
        m_core.removeAndWait(id); // direct calls through the core, for any id handed out
        if (core)
            core->waitForRuns();
        return removed;
    }

    /// Removes every handler and cancels their pending deliveries (fired once-handlers' too).
    void clear()
    {
        auto handlers = m_registrations.takeAll();
        // Outside our lock: cancelling finishes async notifies (continuations), and the core's
        // reclaim passes destroy closures, which may use this registry.
        bool removed = false;
        // Each handler's drops before its removal, for its typed part (0 without the memory).
        const std::unique_ptr<std::uint64_t[]> dropped(new (std::nothrow) std::uint64_t[handlers.size()]);
        std::size_t i = 0;
        for (auto &entry : handlers) {
            if (dropped)
                dropped[i++] = entry.second.core->droppedCount();
            entry.second.core->cancel();
            removed = m_core.remove(entry.first) || removed;
        }
        if (removed)
            Q_EMIT countChanged();
        // Last: a typed part told may destroy this registry (`handlers` keeps them alive).
        i = 0;
        for (auto &entry : handlers)
            static_cast<Handler *>(entry.second.typed.get())->left(dropped ? dropped[i++] : 0);
    }

    /// Queued deliveries to `id` dropped so far: overflow, suspension, no memory (0 once it is
    /// removed; a removal's drops are reported by deliveriesDropped).
    [[nodiscard]] quint64 droppedCount(HandlerId id) const
    {
        const auto core = m_registrations.find(id);
        return core ? core->droppedCount() : 0;
    }

    /// Number of registered handlers.
    [[nodiscard]] std::size_t size() const noexcept { return m_core.size(); }
    /// True when no handler is registered.
    [[nodiscard]] bool isEmpty() const noexcept { return m_core.isEmpty(); }
    /// True while `id` is registered here.
    [[nodiscard]] bool contains(HandlerId id) const noexcept { return m_core.contains(id); }

    /// Delivers `event` to every handler in priority order: direct ones run now, queued ones get
    /// one shared immutable copy of the event. Lock-free for direct handlers; never throws.
    RIO_ALWAYS_INLINE void notify(const E &event) const noexcept { notifyFrom(event, false); }

    /// As notify(); the future finishes when every handler has finished, queued deliveries and the
    /// QFuture<void>s handlers return included (a coalesced delivery replaced by a newer event
    /// counts as finished). Failures are reported, never fail it.
    [[nodiscard]] QFuture<void> notifyAsync(const E &event) const
    {
        auto join = std::make_shared<detail::AsyncJoin>();
        QFuture<void> future = join->promise.future();
        const detail::AsyncToken token = std::move(join); // queued deliveries copy it
        detail::QtEnvelope<E> env;
        env.event = &event;
        env.token = &token;
#if RIO_QT_TRACING
        const detail::QtNotifyTrace trace(*this, *m_control, true);
#endif
        m_core.notify(env);
        return future;
    }

    /// Runs the handlers one after the other in priority order, each starting when the previous one
    /// (its queued delivery, its returned future) finished, skipping those removed or suspended
    /// meanwhile; a handler without a context runs on a thread of the previous step. Failures are
    /// reported, never fail it.
    [[nodiscard]] QFuture<void> notifySequential(const E &event) const
    {
        std::vector<std::shared_ptr<Handler>> steps;
        for (auto &entry : m_registrations.runnable())
            steps.push_back(std::static_pointer_cast<Handler>(std::move(entry.typed)));
        std::erase_if(steps, [](const std::shared_ptr<Handler> &h) {
            if (!h->core->once)
                return false;
            if (h->core->fired.exchange(true, std::memory_order_acq_rel))
                return true;  // fired elsewhere meanwhile
            h->core->spend(); // its step settles it
            return false;
        });
        auto sequence =
            std::make_shared<detail::QtSequence<E>>(std::move(steps), std::make_shared<const E>(event));
        QFuture<void> future = sequence->promise.future();
        sequence->advance();
        return future;
    }

    /// Waits until no notify or queued delivery that began before the call can still reach a
    /// removed handler (on the calling thread's own deliveries it does not wait). Same deadlock
    /// caveat as removeAndWait().
    void synchronize()
    {
        m_core.synchronize();
        synchronizeQueued();
    }

protected:
    /// \cond RIO_INTERNAL
    // add(context, handler, options) for a handler that must run on the holder's thread when
    // that thread notifies (QtHandlerCore::holderAuto): a QML registry's JavaScript handlers.
    template <typename F>
    HandlerId addHeld(QObject *context, F &&handler, const HandlerOptions &options, SourceLocation where)
    {
        return addImpl(detail::QtRegistrations::requireContext(context), std::forward<F>(handler), options,
                       nullptr, where, true);
    }

    // notify(); `onHolderThread`: the caller knows it runs on the thread of the holder (see
    // QtHandlerCore::holderAuto); `plain`: how handlers other than the holder's get the event.
    RIO_ALWAYS_INLINE void notifyFrom(const E &event, bool onHolderThread,
                                      const detail::QtPlainCopy<E> &plain = {}) const noexcept
    {
        // Always inlined, as the core's notify: GCC's -O3 otherwise keeps this call out of line
        // since the core's loop gained the test that sends a timed array to the core library.
        detail::QtEnvelope<E> env;
        static_cast<detail::QtPlainCopy<E> &>(env) = plain;
        env.event = &event;
        env.onHolderThread = onHolderThread;
#if RIO_QT_TRACING
        const detail::QtNotifyTrace trace(*this, *m_control, false);
#endif
        m_core.notify(env);
    }

    // True while a handler here is not the holding layer's (not added by addHeld).
    [[nodiscard]] bool holdsForeign() const noexcept { return m_registrations.holdsForeign(); }

    // True while `id` is registered, or is a fired once-handler whose delivery has not settled
    // (which every removal still reaches).
    [[nodiscard]] bool reaches(HandlerId id) const
    {
        return m_registrations.find(id, /*spent=*/true) != nullptr;
    }

    // The untyped state of `id` (null when it is not registered here).
    [[nodiscard]] std::shared_ptr<detail::QtHandlerCore> handlerCore(HandlerId id) const
    {
        return m_registrations.find(id);
    }

    // The typed part of `id`, spent or not (null when it is not here).
    [[nodiscard]] std::shared_ptr<detail::QtHandler<E>> typedOf(HandlerId id) const
    {
        return std::static_pointer_cast<detail::QtHandler<E>>(m_registrations.typedOf(id));
    }

    std::size_t handlerCount() const noexcept override { return m_core.size(); }
    bool containsHandler(HandlerId id) const noexcept override { return m_core.contains(id); }

    // `cancel` false: a once-handler fired, and is spent: it leaves the core (and the count)
    // but stays in the table, where every removal reaches its delivery, until that settles.
    // A removal (`cancel`) tells the handler's typed part last (QtHandler::left), which may
    // destroy this registry.
    bool removeHandler(HandlerId id, bool cancel) noexcept override
    {
        if (!cancel) {
            if (!m_registrations.spend(id))
                return false;
            m_core.remove(id);
            emitCountChanged();
            return true;
        }
        const detail::QtRegistrations::Entry handler = m_registrations.take(id);
        if (!handler.core)
            return false;
        const std::uint64_t dropped = handler.core->droppedCount();
        // Outside our lock: cancelling finishes async notifies whose continuations may use this
        // registry, and the core's reclaim pass destroys closures, which may hold its guards.
        handler.core->cancel();
        const bool removed = !handler.spent; // else its firing removed it; this cancelled its delivery
        if (removed) {
            m_core.remove(id);
            emitCountChanged();
        }
        static_cast<Handler *>(handler.typed.get())->left(dropped);
        return removed;
    }
    /// \endcond

private:
    using Handler = detail::QtHandler<E>;

    void emitCountChanged() noexcept
    {
        try {
            Q_EMIT countChanged();
        } catch (...) {
        }
    }

    static HandlerOptions directOptions(std::integral auto priority, bool once)
    {
        return HandlerOptions{.priority = detail::checkedPriority(priority, "rio::QtRegistry"),
                              .connection = Qt::DirectConnection,
                              .once = once};
    }

    template <typename Receiver, typename Method>
    static auto bindMember(Receiver *receiver, Method method)
    {
        return [receiver, method](const E &event) {
            if constexpr (std::is_invocable_v<Method, Receiver *, const E &>)
                std::invoke(method, receiver, event);
            else
                std::invoke(method, receiver);
        };
    }

    // `memberKey` identifies a member-function registration (null for other callables).
    template <typename F>
    HandlerId addImpl(QObject *context, F &&handler, const HandlerOptions &options,
                      const std::string *memberKey, SourceLocation where, bool held = false)
    {
        detail::QtRegistrations::requireHandler(detail::isEmptyCallable(handler));
        auto prepared = detail::QtRegistrations::prepare(context, options, memberKey != nullptr);
        prepared.settings.heldContext = held && context == m_holder;
        prepared.settings.layer = held;
        using Impl = detail::QtHandlerImpl<E, std::decay_t<F>>;
        auto h = std::make_shared<Impl>(detail::QtHandlerCore::create(m_control, prepared.settings),
                                        std::forward<F>(handler));
        detail::QtHandlerCore &core = *h->core;
        core.bind(std::weak_ptr<detail::QtTarget>(h));
        // Everything that may throw before anything is published: the context's watch (a
        // connection Qt allocates) and the member key's count (reserved, given back on a throw).
        if (context != nullptr && context != m_holder) // the holder outlives us: no watch
            core.watchContext();
        struct Undo
        {
            detail::QtRegistrations &registrations;
            detail::QtHandlerCore &core;
            const std::string *memberKey;
            bool reserved = false;
            bool active = true;
            ~Undo()
            {
                if (!active)
                    return;
                core.cancel(); // drops the watch
                if (reserved)
                    registrations.release(*memberKey);
            }
        } undo{m_registrations, core, memberKey};
        if (memberKey != nullptr) {
            if (!m_registrations.reserve(*memberKey, prepared.unique))
                return HandlerId{}; // already registered: refused, nothing changed
            undo.reserved = true;
        }
        // Published outside our lock: the core's add may run a reclaim pass, whose closure
        // destructors may use this registry. Unarmed, the handler is skipped by notifies.
        HandlerId id;
        if (context == nullptr && !core.once && !Impl::returnsFuture)
            id = m_core.add(detail::QtDirectDispatcher<E, std::decay_t<F>>{h}, core.priority, where);
        else
            id = detail::LayerAccess::addLayerTimed(m_core, detail::QtDispatcher<E>{h}, core.priority, where,
                                                    core.hasContext);
        core.id = id;
        try {
            core.noteAdded(where, detail::LayerAccess::core(m_core));
            std::shared_ptr<Handler> typed = h;
            m_registrations.insert(id, {h->core, std::move(typed)}, memberKey);
        } catch (...) {
            m_core.remove(id);
            throw;
        }
        undo.active = false;
        core.armed.store(true, std::memory_order_release);
        if (core.cancelled.load(std::memory_order_acquire)) {
            // The context died while the handler was being added: it goes with it.
            removeHandler(id, true);
            return id;
        }
        Q_EMIT countChanged();
        return id;
    }

    mutable Registry<detail::QtEnvelope<E>> m_core;
    detail::QtRegistrations m_registrations; // the handlers, under a lock taken before the core's
};

namespace detail {

/// A QtRegistry<E> that `holder` holds as a data member (and parents): the holder destroys it,
/// and with it every handler, before emitting destroyed(), so handlers whose context is the
/// holder skip the per-handler watch on its destruction (a connection made and cut per handler).
/// Only for a data member: a registry that is merely a child outlives that signal.
template <typename E>
class HeldQtRegistry final : public QtRegistry<E>
{
public:
    /// A registry held by `holder`.
    explicit HeldQtRegistry(QObject *holder) : QtRegistry<E>(holder) { this->m_holder = holder; }
};

} // namespace detail

} // namespace rio
