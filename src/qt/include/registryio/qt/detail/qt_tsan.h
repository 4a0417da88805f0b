// SPDX-License-Identifier: MIT
#pragma once

// Happens-before annotations for ThreadSanitizer builds. Debian's Qt is not instrumented, and
// Qt 6's QMutex and event queue synchronise through futexes TSan cannot see, so data we hand to
// another thread through Qt's event queue (or a QFuture continuation) is published with an
// explicit release/acquire pair on the handed-over object's address. No code outside TSan builds.

#if defined(__SANITIZE_THREAD__)
#define RIO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RIO_TSAN 1
#endif
#endif

#if defined(RIO_TSAN)
#include <sanitizer/tsan_interface.h>
#define RIO_TSAN_RELEASE(address)                                                                            \
    __tsan_release(const_cast<void *>(static_cast<const volatile void *>(address)))
#define RIO_TSAN_ACQUIRE(address)                                                                            \
    __tsan_acquire(const_cast<void *>(static_cast<const volatile void *>(address)))
#else
#define RIO_TSAN_RELEASE(address) static_cast<void>(address)
#define RIO_TSAN_ACQUIRE(address) static_cast<void>(address)
#endif

#include <registryio/qt/qt_export.h>

#include <functional>
#include <type_traits>
#include <utility>

namespace rio::detail {

#if defined(RIO_TSAN)
// Held (TSan builds only) around every post RegistryIO makes: posters to one thread then touch
// Qt's posted-event list in an order TSan can see. Re-entrant use on one thread is a no-op.
class RIO_QT_EXPORT TsanPostScope
{
public:
    TsanPostScope() noexcept;
    ~TsanPostScope();
    TsanPostScope(const TsanPostScope &) = delete;
    TsanPostScope &operator=(const TsanPostScope &) = delete;

private:
    bool m_outer;
};
// Called by a delivered functor before it runs and before it is destroyed: orders everything
// posters did (Qt's event allocation included) before what this thread does next.
RIO_QT_EXPORT void tsanSyncWithPosters() noexcept;
#else
// No-op outside TSan builds.
struct TsanPostScope
{ };
inline void tsanSyncWithPosters() noexcept { }
#endif

// First base of a functor Qt moves into another thread: the move acquires what the source's
// writer released, and the derived move constructor releases the new object.
struct TsanHandover
{
    TsanHandover() noexcept = default;
    TsanHandover(TsanHandover &&other) noexcept { RIO_TSAN_ACQUIRE(&other); }
    TsanHandover(const TsanHandover &other) noexcept { RIO_TSAN_ACQUIRE(&other); }
    TsanHandover &operator=(TsanHandover &&) = delete;
    TsanHandover &operator=(const TsanHandover &) = delete;
    ~TsanHandover() = default;
};

// Wraps a functor Qt stores and calls on another thread (a connection's slot object): every
// copy releases what its creator wrote; calls and destruction acquire it.
template <typename F>
struct Handover : TsanHandover
{
    explicit Handover(F f) : fn(std::move(f)) { RIO_TSAN_RELEASE(this); }
    Handover(Handover &&other) noexcept(std::is_nothrow_move_constructible_v<F>)
        : TsanHandover(std::move(other)), fn(std::move(other.fn))
    {
        RIO_TSAN_RELEASE(this);
    }
    Handover(const Handover &other) : TsanHandover(other), fn(other.fn) { RIO_TSAN_RELEASE(this); }
    Handover &operator=(const Handover &) = delete;
    Handover &operator=(Handover &&) = delete;
    ~Handover()
    {
        RIO_TSAN_ACQUIRE(this);
        tsanSyncWithPosters();
    }

    template <typename... A>
    requires std::is_invocable_v<F &, A &&...>
    decltype(auto) operator()(A &&...args)
    {
        RIO_TSAN_ACQUIRE(this);
        tsanSyncWithPosters();
        struct Publish // after the call, also when it throws: Qt may destroy us on another thread
        {
            const void *self;
            ~Publish() { RIO_TSAN_RELEASE(self); }
        } publish{this};
        return std::invoke(fn, std::forward<A>(args)...);
    }

    F fn;
};

} // namespace rio::detail
