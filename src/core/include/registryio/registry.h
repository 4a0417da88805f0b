// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/connection.h>
#include <registryio/detail/hazard.h>
#include <registryio/detail/registry_core.h>
#include <registryio/exception_info.h>
#include <registryio/handler_guard.h>
#include <registryio/handler_id.h>
#include <registryio/source_location.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <utility>

/// \mainpage RegistryIO
/// A C++20 / Qt 6 library for fast notification: handlers registered for an event, and any thread
/// fires it to all of them, in one process (rio::Registry, rio::QtRegistry, the QML module) and
/// across processes (rio::RemoteShare). The namespace rio lists every public class, enumeration
/// and function; the QML types have their own page. The guides (README.md and docs/) explain them.

/// RegistryIO's public API, in every layer: the Qt-free core, the Qt facade, QML and Remote.
namespace rio {

namespace detail {

// True for callables that can be empty and are: null function pointers, empty std::function.
template <typename F>
bool isEmptyCallable(const F &f) noexcept
{
    if constexpr (std::is_pointer_v<F> || std::is_member_pointer_v<F>)
        return f == nullptr;
    else if constexpr (std::is_constructible_v<bool, const F &> && !std::is_convertible_v<const F &, bool>)
        return !static_cast<bool>(f);
    else
        return false;
}

template <typename E, typename F>
struct TypedBox final : HandlerBox
{
    // The tag keeps this from competing with the copy and move constructors.
    template <typename G>
    TypedBox(std::in_place_t, G &&g, const SourceLocation &at) : HandlerBox(at), fn(std::forward<G>(g))
    {
        bytes = sizeof(TypedBox);
        if constexpr (std::is_trivially_destructible_v<F> && alignof(F) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__)
            destroy = &freePlainBox;
        else
            destroy = [](Retired *r) noexcept { delete static_cast<TypedBox *>(r); };
    }
    F fn;
};

/// A closure whose box the registry may build from a recycled block under its lock: copying and
/// destroying it are trivial (no user code), and its box is freed by freePlainBox.
template <typename F>
concept PlainClosure = std::is_trivially_copyable_v<F> && std::is_trivially_destructible_v<F> &&
                       alignof(F) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__;

/// Builds a plain closure's box in `block` (RegistryCore::addPlain).
template <typename E, typename F>
HandlerBox *makePlainBox(void *block, const void *fn, const SourceLocation &where) noexcept
{
    return new (block) TypedBox<E, F>(std::in_place, *static_cast<const F *>(fn), where);
}

template <typename F>
struct TypedCallback final : CallbackBox
{
    template <typename G>
    TypedCallback(std::in_place_t, G &&g) : fn(std::forward<G>(g))
    {
        bytes = sizeof(TypedCallback);
        call = [](CallbackBox *b, const ExceptionInfo &info) {
            std::invoke(static_cast<TypedCallback *>(b)->fn, info);
        };
        destroy = [](Retired *r) noexcept { delete static_cast<TypedCallback *>(r); };
    }
    F fn;
};

} // namespace detail

/// A handler a Registry<E> accepts: callable with `const E&`, or with no arguments.
template <typename F, typename E>
concept HandlerFor =
    std::is_invocable_v<std::decay_t<F> &, const E &> || std::is_invocable_v<std::decay_t<F> &>;

namespace detail {
struct LayerAccess;
} // namespace detail

/// Registers the calling thread with the reclamation domain now, so that no later notify on it
/// allocates or locks (a notify from a signal handler needs this first; see docs/CORE.md).
inline void prepareThread() noexcept
{
    detail::hazard::prepareThread();
}

/// A lock-free event registry: any thread notifies every handler, in priority order, with no lock
/// and no allocation; handlers are added and removed from any thread, even from inside handlers.
template <typename E>
class Registry
{
    static_assert(!std::is_void_v<E> && !std::is_reference_v<E>,
                  "rio::Registry<E>: E must be an object type");

public:
    /// The event type handlers receive as `const E&`.
    using Event = E;

    /// An empty registry.
    Registry() : Registry(0) { }

    /// An empty registry whose first handler array has room for `capacityHint` handlers: adding
    /// that many in non-increasing priority order allocates no further array.
    explicit Registry(std::size_t capacityHint) : m_core(capacityHint) { }

    /// Destroys every handler's closure and everything still waiting for reclamation; no notify of
    /// this registry may be running. Guards that outlive it become inert.
    ~Registry() = default;

    Registry(const Registry &) = delete;
    Registry &operator=(const Registry &) = delete;

    /// Registers `handler` (higher priority runs first; equal priorities in registration order) and
    /// returns its id; throws std::invalid_argument for an empty callable. `where` (the caller's
    /// position, by default) and the calling thread are kept for diagnostics.
    template <HandlerFor<E> F>
    HandlerId add(F &&handler, int priority = 0, SourceLocation where = SourceLocation::current())
    {
        return addImpl<false>(std::forward<F>(handler), priority, where);
    }

    /// Registers a handler that runs at most once, even when several threads notify at once.
    template <HandlerFor<E> F>
    HandlerId addOnce(F &&handler, int priority = 0, SourceLocation where = SourceLocation::current())
    {
        return addImpl<true>(std::forward<F>(handler), priority, where);
    }

    /// Registers `handler` and returns a guard whose destruction removes it.
    template <HandlerFor<E> F>
    [[nodiscard]] HandlerGuard addScoped(F &&handler, int priority = 0,
                                         SourceLocation where = SourceLocation::current())
    {
        detail::GuardLink link;
        const HandlerId id = addImpl<false>(std::forward<F>(handler), priority, where, &link);
        return {link.state, id, link.hint};
    }

    /// A copyable handle to `id` (isConnected() is false when `id` is not registered here).
    [[nodiscard]] Connection connection(HandlerId id) { return {m_core.link(), id}; }

    /// Removes a handler without allocating: true the first time; notifies that start later never
    /// call it, one already running on another thread may still be calling it. Its closure is
    /// destroyed later by this registry, never by a notify (docs/CORE.md, "When a closure is
    /// destroyed").
    bool remove(HandlerId id) noexcept { return m_core.remove(id); }

    /// As remove(); on return the handler is not running on any other thread and its closure is
    /// destroyed — for any id this registry handed out, also one that a once-handler's firing,
    /// clear() or another thread removed (then it returns false). Waits only for notifies of
    /// this registry; from inside that handler it does not wait for itself.
    bool removeAndWait(HandlerId id) noexcept { return m_core.removeAndWait(id); }

    /// Removes every handler.
    void clear() noexcept { m_core.clear(); }

    /// Number of registered handlers.
    [[nodiscard]] std::size_t size() const noexcept { return m_core.size(); }

    /// True when no handler is registered.
    [[nodiscard]] bool isEmpty() const noexcept { return size() == 0; }

    /// True while `id` is registered here.
    [[nodiscard]] bool contains(HandlerId id) const noexcept { return m_core.contains(id); }

    /// Suspends (true) or resumes (false) `id` without removing it or moving it in the order, at no
    /// cost to notify: notifies that start later skip it (a suspended once-handler is not used up).
    /// False when `id` is not registered here.
    bool setSuspended(HandlerId id, bool suspended) noexcept { return m_core.setSuspended(id, suspended); }

    /// True while `id` is registered here and suspended.
    [[nodiscard]] bool isSuspended(HandlerId id) const noexcept { return m_core.isSuspended(id); }

    /// Calls every handler with `event`, in priority order, on the calling thread, without a lock
    /// or an allocation; callable from any thread and from inside handlers. A throwing handler is
    /// reported to the exception handler and never stops the others nor reaches the caller (only
    /// thread cancellation unwinds through notify).
    RIO_ALWAYS_INLINE void notify(const E &event) const
    {
        // No RAII guard: only a forced unwind leaves the loop early, and it closes the section
        // itself, so the slot stays in a register instead of an object the unwinder could see.
#if RIO_INLINE_READER_TLS && !RIO_SEQ_CST_OPS
        std::atomic<const void *> *slot = detail::hazard::threadSlot.load(std::memory_order_relaxed);
        if (!detail::hazard::entersInline(slot)) [[unlikely]] {
            // A thread's first notify, nesting deeper than a record, and the fence modes whose
            // readers enter out of line: the same loop in the core library.
            m_core.notifyOutOfLine(&event);
            return;
        }
        const detail::Snapshot *s = detail::hazard::enterInline(slot, m_core.head);
        const detail::Entry *it = s->entries();
        const detail::Entry *end = s->end.load(std::memory_order_acquire);
        if (it == end) [[unlikely]] {
            // No handler, or diagnostics are on (a timed array's `end` is its first entry): the
            // same loop, timing each handler, in the core library.
            if (const detail::Entry *timedEnd = s->timedEnd.load(std::memory_order_acquire)) {
                detail::diag::notifyTimed(slot, s, timedEnd, &event, false); // entered inline: no fence mode
                return;
            }
            detail::hazard::leave(slot);
            return;
        }
        std::atomic<const void *> *running = slot + detail::hazard::slotCount;
        // The same loop is written three more times, for speed: RegistryCore::notifyOutOfLine
        // (with the fallback mode's fence), callRun (one priority run) and diag::notifyTimed;
        // keep the four alike.
        do {
            // Announce the call before reading whether the handler is still there: a remover
            // either sees this or makes us read skipRemoved (the heavy fence orders both sides).
            detail::HandlerBox *box = it->box;
            running->store(box, detail::announceOrder);
            std::atomic_signal_fence(std::memory_order_seq_cst);
            try {
                it->invoke.load(detail::invokeOrder)(box, &event);
            }
#if RIO_HAVE_FORCED_UNWIND
            catch (abi::__forced_unwind &) {
                detail::hazard::leave(slot);
                throw; // thread cancellation must unwind, not be swallowed
            }
#endif
            catch (const std::exception &e) {
                detail::RegistryCore::reportFailure(it->box, e.what());
            } catch (...) {
                detail::RegistryCore::reportFailure(it->box, nullptr);
            }
        } while (++it != end);
        detail::hazard::leave(slot);
#else
        m_core.notifyOutOfLine(&event); // readers enter out of line here (no inline TLS, TSan)
#endif
    }

    /// Sets (or replaces) the callback that learns about throwing handlers, called on the notifying
    /// thread; an exception it throws is swallowed. Throws std::invalid_argument for an empty
    /// callable.
    template <typename F>
    requires std::is_invocable_v<std::decay_t<F> &, const ExceptionInfo &>
    void setExceptionHandler(F &&callback)
    {
        if (detail::isEmptyCallable(callback))
            throw std::invalid_argument("rio::Registry::setExceptionHandler: the callback is empty");
        auto box = std::make_unique<detail::TypedCallback<std::decay_t<F>>>(std::in_place,
                                                                            std::forward<F>(callback));
        m_core.replaceCallback(box.get());
        static_cast<void>(box.release()); // owned by the registry now
    }

    /// Removes the exception callback; failures are then silently isolated.
    void clearExceptionHandler() noexcept { m_core.replaceCallback(nullptr); }

    /// Waits until no notify of this registry that began before the call on another thread can
    /// still reach a removed handler, and destroys what that releases. From inside a handler it
    /// does not wait for its own notify.
    void synchronize() noexcept { m_core.synchronize(); }

    /// The capacity hint given at construction.
    [[nodiscard]] std::size_t capacityHint() const noexcept { return m_core.capacityHint(); }

    /// Removed handlers and arrays of this registry not yet destroyed (diagnostics, tests).
    [[nodiscard]] std::size_t pendingCount() const noexcept { return m_core.pendingCount(); }

    /// Records every handler's calls, failures and run times and reports slow runs, for this
    /// registry (docs/DIAGNOSTICS.md); off, notify costs nothing more. Throws std::bad_alloc,
    /// changing nothing.
    void setDiagnosticsEnabled(bool enabled) { m_core.setDiagnosticsEnabled(enabled); }

    /// True while diagnostics are enabled for this registry (by itself or process-wide).
    [[nodiscard]] bool isDiagnosticsEnabled() const noexcept { return m_core.isDiagnosticsEnabled(); }

    /// Names this registry in diagnostics snapshots (UTF-8). Throws std::bad_alloc.
    void setDiagnosticsName(std::string_view name) { m_core.setDiagnosticsName(name); }

private:
    friend struct detail::LayerAccess;

    template <typename F>
    static void invokeHandler(detail::HandlerBox *b, const void *event)
    {
        auto &fn = static_cast<detail::TypedBox<E, F> *>(b)->fn;
        if constexpr (std::is_invocable_v<F &, const E &>)
            std::invoke(fn, *static_cast<const E *>(event));
        else
            std::invoke(fn);
    }

    template <typename F>
    static void invokeOnce(detail::HandlerBox *b, const void *event)
    {
        if (b->fired.exchange(true, std::memory_order_acq_rel))
            return;
        // Unpublish first, so notifies that start while it runs skip it. The box stays alive:
        // this notify's snapshot protects it.
        b->core->retireFired(b);
        invokeHandler<F>(b, event);
    }

    // A plain closure's type for addPlain.
    template <bool Once, typename Fn>
    static constexpr detail::PlainType plainType{
        sizeof(detail::TypedBox<E, Fn>), &detail::makePlainBox<E, Fn>,
        Once ? &invokeOnce<Fn> : &invokeHandler<Fn>, &detail::eventTypeNameOf<E>};

    // `layerTimed`: the handler only dispatches, the layer behind it times its runs (the Qt
    // facade's handlers with a context; HandlerBox::layerTimed).
    template <bool Once, typename F>
    HandlerId addImpl(F &&handler, int priority, SourceLocation where, detail::GuardLink *link = nullptr,
                      bool layerTimed = false)
    {
        using Fn = std::decay_t<F>;
        if (detail::isEmptyCallable(handler))
            throw std::invalid_argument("rio::Registry::add: the handler is empty");
        const detail::Invoke invoke = Once ? &invokeOnce<Fn> : &invokeHandler<Fn>;
        if constexpr (detail::PlainClosure<Fn>) {
            // Built under the registry's lock, in a block a removed handler left where there is one.
            const Fn fn(std::forward<F>(handler));
            return m_core.addPlain(plainType<Once, Fn>, &fn, priority, link, where);
        }
        auto box = std::make_unique<detail::TypedBox<E, Fn>>(std::in_place, std::forward<F>(handler), where);
        box->layerTimed = layerTimed;
        const HandlerId id = m_core.add(box.get(), invoke, priority, link, detail::eventTypeNameOf<E>);
        static_cast<void>(box.release()); // owned by the registry now
        return id;
    }

    mutable detail::RegistryCore m_core;
};

namespace detail {
/// What a layer built on a Registry<E> (the Qt facade) reaches of it: its core (diagnostics) and
/// the add of a handler whose runs the layer times itself (HandlerBox::layerTimed).
struct LayerAccess
{
    template <typename E>
    static RegistryCore &core(Registry<E> &registry) noexcept
    {
        return registry.m_core;
    }
    template <typename E, typename F>
    static HandlerId addLayerTimed(Registry<E> &registry, F &&handler, int priority, SourceLocation where,
                                   bool layerTimed)
    {
        return registry.template addImpl<false>(std::forward<F>(handler), priority, where, nullptr,
                                                layerTimed);
    }
};
} // namespace detail

} // namespace rio
