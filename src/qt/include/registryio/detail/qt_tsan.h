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

namespace rio::detail {

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

} // namespace rio::detail
