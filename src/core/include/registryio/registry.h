#pragma once

#include <registryio/detail/rcu.h>
#include <registryio/detail/registry_link.h>
#include <registryio/exception_info.h>
#include <registryio/handler_guard.h>
#include <registryio/handler_id.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

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

template <typename E>
struct HandlerBoxBase : rcu::Retired
{
    HandlerId id;
    int priority = 0;
};

template <typename E, typename F>
struct HandlerBox final : HandlerBoxBase<E>
{
    // The tag keeps this from competing with the copy and move constructors.
    template <typename G>
    HandlerBox(std::in_place_t, G &&g) : fn(std::forward<G>(g))
    {
        this->destroy = [](rcu::Retired *r) noexcept { delete static_cast<HandlerBox *>(r); };
    }
    F fn;
    std::atomic<bool> fired{false}; // once-handlers only
    void *registry = nullptr;       // once-handlers only: where to remove themselves
};

// One slot of a published array: the type-erased call and the handler's box. 16 bytes, so the
// notify loop reads a dense array.
template <typename E>
struct Entry
{
    void (*invoke)(HandlerBoxBase<E> *, const E &);
    HandlerBoxBase<E> *box;
};

// An immutable, priority-sorted array of entries, published through one atomic pointer.
template <typename E>
struct Snapshot : rcu::Retired
{
    std::uint32_t size = 0;
    std::uint32_t capacity = 0;
    const Entry<E> *end = entries(); // one past the last entry: saves notify the size arithmetic

    [[nodiscard]] Entry<E> *entries() noexcept { return reinterpret_cast<Entry<E> *>(this + 1); }
    [[nodiscard]] const Entry<E> *entries() const noexcept
    {
        return reinterpret_cast<const Entry<E> *>(this + 1);
    }

    static Snapshot *create(std::size_t size, std::size_t capacityHint)
    {
        if (size > std::numeric_limits<std::uint32_t>::max())
            throw std::length_error("rio::Registry: too many handlers");
        const std::size_t capacity = std::max(size, std::min<std::size_t>(capacityHint, 1u << 20));
        void *memory = ::operator new(sizeof(Snapshot) + capacity * sizeof(Entry<E>));
        auto *s = new (memory) Snapshot;
        s->size = static_cast<std::uint32_t>(size);
        s->capacity = static_cast<std::uint32_t>(capacity);
        s->end = s->entries() + size;
        s->destroy = [](rcu::Retired *r) noexcept {
            auto *snapshot = static_cast<Snapshot *>(r);
            snapshot->~Snapshot();
            ::operator delete(snapshot);
        };
        return s;
    }
};

struct ExceptionHandlerBase : rcu::Retired
{
    void (*call)(ExceptionHandlerBase *, const ExceptionInfo &) = nullptr;
};

template <typename F>
struct ExceptionHandlerBox final : ExceptionHandlerBase
{
    template <typename G>
    ExceptionHandlerBox(std::in_place_t, G &&g) : fn(std::forward<G>(g))
    {
        call = [](ExceptionHandlerBase *b, const ExceptionInfo &info) {
            std::invoke(static_cast<ExceptionHandlerBox *>(b)->fn, info);
        };
        destroy = [](rcu::Retired *r) noexcept { delete static_cast<ExceptionHandlerBox *>(r); };
    }
    F fn;
};

} // namespace detail

/// A handler a Registry<E> accepts: callable with `const E&`, or with no arguments.
template <typename F, typename E>
concept HandlerFor = std::is_invocable_v < std::decay_t<F>
&, const E & > || std::is_invocable_v<std::decay_t<F> &>;

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

    /// An empty registry whose handler arrays are sized for `capacityHint` handlers up front.
    explicit Registry(std::size_t capacityHint) : m_capacityHint(capacityHint) { detail::rcu::initialize(); }

    /// Destroys every handler's closure and everything still waiting for reclamation. No notify
    /// of this registry may be running. Guards that outlive it become inert.
    ~Registry()
    {
        if (m_link)
            m_link->detach();
        // Unpublish before destroying: a closure's destructor may still call this registry
        // (remove, clear, add) and must find it consistent, not a snapshot being freed under it.
        for (;;) {
            Snapshot *s = nullptr;
            {
                std::lock_guard lock(m_writeMutex);
                s = detail::rcu::publish(m_head, &m_empty);
                m_size.store(0, std::memory_order_relaxed);
            }
            if (s == &m_empty)
                break;
            for (std::uint32_t i = 0; i < s->size; ++i)
                s->entries()[i].box->destroy(s->entries()[i].box);
            s->destroy(s);
        }
        if (auto *h = m_onException.exchange(nullptr, std::memory_order_acq_rel))
            h->destroy(h);
        detail::rcu::reclaimOwner(this);
    }

    Registry(const Registry &) = delete;
    Registry &operator=(const Registry &) = delete;

    /// Registers `handler` (higher priority runs first; equal priorities in registration order).
    /// Throws std::invalid_argument for an empty callable.
    template <HandlerFor<E> F>
    HandlerId add(F &&handler, int priority = 0)
    {
        return addImpl<false>(std::forward<F>(handler), priority);
    }

    /// Registers a handler that runs at most once, even when several threads notify at once.
    template <HandlerFor<E> F>
    HandlerId addOnce(F &&handler, int priority = 0)
    {
        return addImpl<true>(std::forward<F>(handler), priority);
    }

    /// Registers `handler` and returns a guard whose destruction removes it.
    template <HandlerFor<E> F>
    [[nodiscard]] HandlerGuard addScoped(F &&handler, int priority = 0)
    {
        std::shared_ptr<detail::RegistryLink> link = ensureLink();
        return HandlerGuard(std::move(link), add(std::forward<F>(handler), priority));
    }

    /// Removes a handler: true the first time. Notifies that start later never call it; one
    /// already running on another thread may still be calling it.
    bool remove(HandlerId id)
    {
        if (!unpublish(id, /*reclaimNow=*/true))
            return false;
        return true;
    }

    /// As remove(); on return the handler is not running on any other thread. From inside that
    /// handler it does not wait for itself. Unknown ids return false at once. It waits for every
    /// notify (of any registry) that other threads began earlier: two threads calling it from
    /// inside handlers at the same time wait for each other and deadlock.
    bool removeAndWait(HandlerId id)
    {
        if (!unpublish(id, /*reclaimNow=*/false))
            return false;
        detail::rcu::synchronize();
        return true;
    }

    /// Removes every handler.
    void clear()
    {
        Snapshot *old = nullptr;
        {
            std::lock_guard lock(m_writeMutex);
            old = detail::rcu::publish(m_head, &m_empty);
            m_size.store(0, std::memory_order_relaxed);
        }
        detail::rcu::Retired *first = nullptr;
        detail::rcu::Retired *last = nullptr;
        for (std::uint32_t i = old->size; i-- > 0;) {
            detail::rcu::Retired *box = old->entries()[i].box;
            box->next = first;
            first = box;
            if (last == nullptr)
                last = box;
        }
        if (old != &m_empty) {
            old->next = first;
            first = old;
            if (last == nullptr)
                last = old;
        }
        detail::rcu::retireAndReclaim(first, last, /*urgent=*/true);
    }

    /// Number of registered handlers.
    [[nodiscard]] std::size_t size() const noexcept { return m_size.load(std::memory_order_relaxed); }

    /// True when no handler is registered.
    [[nodiscard]] bool isEmpty() const noexcept { return size() == 0; }

    /// True while `id` is registered here.
    [[nodiscard]] bool contains(HandlerId id) const noexcept
    {
        if (!id.isValid())
            return false;
        detail::rcu::ReadSection section;
        const Snapshot *s = detail::rcu::dereference(m_head);
        const Entry *end = s->entries() + s->size;
        return std::find_if(s->entries(), end, [id](const Entry &e) { return e.box->id == id; }) != end;
    }

    /// Calls every handler with `event`, in priority order, on the calling thread. Lock-free and
    /// allocation-free; callable from any thread and from inside handlers. A throwing handler is
    /// reported to the exception handler and never stops the others.
    void notify(const E &event) const noexcept
    {
        detail::rcu::ReadSection section;
        const Snapshot *s = detail::rcu::dereference(m_head);
        for (const Entry *it = s->entries(), *end = s->end; it != end; ++it) {
            try {
                it->invoke(it->box, event);
            } catch (const std::exception &e) {
                reportFailure(it->box, e.what());
            } catch (...) {
                reportFailure(it->box, nullptr);
            }
        }
    }

    /// Sets (or replaces) the callback that learns about throwing handlers. An exception thrown
    /// by the callback itself is swallowed. Throws std::invalid_argument for an empty callable.
    template <typename F>
    requires std::is_invocable_v < std::decay_t<F>
    &, const ExceptionInfo & > void setExceptionHandler(F &&callback)
    {
        if (detail::isEmptyCallable(callback))
            throw std::invalid_argument("rio::Registry::setExceptionHandler: the callback is empty");
        auto *box =
            new detail::ExceptionHandlerBox<std::decay_t<F>>(std::in_place, std::forward<F>(callback));
        box->owner = this;
        replaceExceptionHandler(box);
    }

    /// Removes the exception callback; failures are then silently isolated.
    void clearExceptionHandler() { replaceExceptionHandler(nullptr); }

    /// Waits until no notify that began before the call can still reach a removed handler, and
    /// frees what that releases. From inside a handler it does not wait for its own notify (the
    /// same caveat as removeAndWait() applies to two threads doing so at once).
    void synchronize() { detail::rcu::synchronize(); }

    /// The capacity hint given at construction.
    [[nodiscard]] std::size_t capacityHint() const noexcept { return m_capacityHint; }

private:
    using Box = detail::HandlerBoxBase<E>;
    using Entry = detail::Entry<E>;
    using Snapshot = detail::Snapshot<E>;

    template <typename F>
    static void invokeHandler(Box *b, const E &event)
    {
        auto &fn = static_cast<detail::HandlerBox<E, F> *>(b)->fn;
        if constexpr (std::is_invocable_v<F &, const E &>)
            std::invoke(fn, event);
        else
            std::invoke(fn);
    }

    template <typename F>
    static void invokeOnce(Box *b, const E &event)
    {
        auto *box = static_cast<detail::HandlerBox<E, F> *>(b);
        if (box->fired.exchange(true, std::memory_order_acq_rel))
            return;
        // Unpublish first, so notifies that start while it runs skip it. The box itself stays
        // alive: we are inside a read section.
        static_cast<Registry *>(box->registry)->unpublish(box->id, /*reclaimNow=*/false);
        invokeHandler<F>(b, event);
    }

    template <bool Once, typename F>
    HandlerId addImpl(F &&handler, int priority)
    {
        using Fn = std::decay_t<F>;
        if (detail::isEmptyCallable(handler))
            throw std::invalid_argument("rio::Registry::add: the handler is empty");
        auto box = std::make_unique<detail::HandlerBox<E, Fn>>(std::in_place, std::forward<F>(handler));
        box->priority = priority;
        box->owner = this;
        if constexpr (Once)
            box->registry = this;
        const Entry entry{Once ? &invokeOnce<Fn> : &invokeHandler<Fn>, box.get()};

        Snapshot *old = nullptr;
        HandlerId id;
        {
            std::lock_guard lock(m_writeMutex);
            old = m_head.load(std::memory_order_relaxed);
            Snapshot *next = Snapshot::create(old->size + std::size_t{1}, m_capacityHint);
            next->owner = this; // so reclaimOwner() frees it with the registry
            const Entry *begin = old->entries();
            const Entry *end = begin + old->size;
            const Entry *pos = std::partition_point(
                begin, end, [priority](const Entry &e) { return e.box->priority >= priority; });
            Entry *out = std::copy(begin, pos, next->entries());
            *out++ = entry;
            std::copy(pos, end, out);
            id = HandlerId{++m_lastId};
            box.release()->id = id;
            detail::rcu::publish(m_head, next);
            m_size.store(next->size, std::memory_order_relaxed);
        }
        if (old != &m_empty)
            detail::rcu::retireAndReclaim(old, old, /*urgent=*/false);
        return id;
    }

    // Takes `id` out of the published array and retires its box; reclaims unless told not to.
    bool unpublish(HandlerId id, bool reclaimNow)
    {
        if (!id.isValid())
            return false;
        Snapshot *old = nullptr;
        Box *victim = nullptr;
        {
            std::lock_guard lock(m_writeMutex);
            old = m_head.load(std::memory_order_relaxed);
            const Entry *begin = old->entries();
            const Entry *end = begin + old->size;
            const Entry *pos = std::find_if(begin, end, [id](const Entry &e) { return e.box->id == id; });
            if (pos == end)
                return false;
            victim = pos->box;
            Snapshot *next = &m_empty;
            if (old->size > 1) {
                next = Snapshot::create(old->size - std::size_t{1}, m_capacityHint);
                next->owner = this;
                std::copy(pos + 1, end, std::copy(begin, pos, next->entries()));
            }
            detail::rcu::publish(m_head, next);
            m_size.store(next->size, std::memory_order_relaxed);
        }
        victim->next = nullptr;
        detail::rcu::Retired *first = victim;
        if (old != &m_empty) {
            old->next = victim;
            first = old;
        }
        if (reclaimNow)
            detail::rcu::retireAndReclaim(first, victim, /*urgent=*/true);
        else
            detail::rcu::retire(first, victim);
        return true;
    }

    void replaceExceptionHandler(detail::ExceptionHandlerBase *next)
    {
        detail::ExceptionHandlerBase *old = nullptr;
        {
            std::lock_guard lock(m_writeMutex);
            old = detail::rcu::publish(m_onException, next);
        }
        if (old != nullptr)
            detail::rcu::retireAndReclaim(old, old, /*urgent=*/true);
    }

    std::shared_ptr<detail::RegistryLink> ensureLink()
    {
        std::lock_guard lock(m_writeMutex);
        if (!m_link) {
            m_link = std::make_shared<detail::RegistryLink>();
            m_link->registry = this;
            m_link->removeFn = [](void *registry, HandlerId id) noexcept {
                return static_cast<Registry *>(registry)->unpublish(id, /*reclaimNow=*/false);
            };
        }
        return m_link;
    }

    // Out of line and cold: the no-throw path of notify pays nothing for it (not even a register
    // for `this`: the box knows its registry). Called inside notify's catch clauses, so the
    // exception is current; `what` is null for a non-std exception.
    [[gnu::cold, gnu::noinline]] static void reportFailure(const Box *box, const char *what) noexcept
    {
        const auto *self = static_cast<const Registry *>(box->owner);
        try {
            detail::ExceptionHandlerBase *callback = detail::rcu::dereference(self->m_onException);
            if (callback == nullptr)
                return;
            // `what` comes from notify's own catch clause: no rethrow just to read it.
            const ExceptionInfo info{box->id, what ? std::string(what) : std::string(),
                                     std::current_exception()};
            callback->call(callback, info);
        } catch (...) {
        }
    }

    // Read by every notify: kept on its own cache line, away from what writers touch.
    alignas(64) std::atomic<Snapshot *> m_head{&m_empty};
    std::atomic<detail::ExceptionHandlerBase *> m_onException{nullptr};

    alignas(64) std::mutex m_writeMutex;
    std::atomic<std::size_t> m_size{0};
    std::uint64_t m_lastId = 0;
    std::size_t m_capacityHint = 0;
    std::shared_ptr<detail::RegistryLink> m_link;
    Snapshot m_empty;
};

} // namespace rio
