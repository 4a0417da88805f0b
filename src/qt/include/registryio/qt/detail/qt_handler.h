// SPDX-License-Identifier: MIT
#pragma once

// A handler of QtRegistry<E>: the untyped core the library keeps (options, flags, its queue
// behind the library boundary) and the typed shim that calls the user's callable. The queues
// hold type-erased payloads and reach the typed part only through QtTarget, so a receiving
// thread's mailbox holds nothing of the module that added the handler. Not part of the public
// API.

#include <registryio/detail/config.h>
#include <registryio/handler_id.h>
#include <registryio/qt/delivery.h>
#include <registryio/qt/detail/newest_cell.h>
#include <registryio/qt/detail/qt_async.h>
#include <registryio/qt/qt_export.h>
#include <registryio/source_location.h>

#include <QFuture>
#include <QObject>
#include <QVariant>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace rio::detail {

/// The calling thread's QThread, asked of Qt once per thread (Qt's answer costs a call into its
/// thread data each time) and held as a weak reference: once that QThread is deleted (an adopted
/// thread's in its last TLS destructors, a QThread deleted after wait()) Qt is asked again, so a
/// new QThread at the freed address is never taken for it. Qt itself may answer null then.
RIO_QT_EXPORT QThread *currentQThread();

struct QtRegistryControl;
class RegistryCore;
namespace diag {
struct HandlerStats; // diagnostics_hooks.h
struct HandlerTimes;
} // namespace diag

// One event as a queue keeps it: a small trivially copyable event by value, any other shared
// (one copy per notify serves every handler).
struct QtPayload
{
    static constexpr std::size_t inlineSize = 16;
    std::shared_ptr<const void> shared;
    alignas(8) unsigned char bytes[inlineSize];

    [[nodiscard]] const void *data() const noexcept { return shared ? shared.get() : bytes; }
};

// Whether E waits by value in a QtPayload.
template <typename E>
inline constexpr bool storesByValue =
    std::is_trivially_copyable_v<E> && sizeof(E) <= QtPayload::inlineSize && alignof(E) <= 8;

// What a notify hands a handler's queue: a payload, or a QVariant event (a QML registry's) of a
// notify without an async token, which the queue entry copies in place of the payload (before the
// handler's lock: the copy of a value Qt keeps inline runs its copy constructor; a value Qt keeps
// shared is not copied, and no shared copy per notify is made).
struct QtQueued
{
    QtPayload payload;
    const QVariant *variant = nullptr;
};

// The typed part of a handler as the library sees it: calls the user's callable with an event
// of the registry's type.
struct QtTarget
{
    // Calls the handler (throws what it throws).
    virtual void invoke(const void *event, const AsyncToken &token) = 0;

protected:
    ~QtTarget() = default;
};

// The untyped state of one handler, allocated by the library (QtHandlerCore::create), so that
// whoever drops the last reference runs library code only.
class RIO_QT_EXPORT QtHandlerCore
{
public:
    enum class Route { Skip, Here, Post, Block, Refuse };

    struct Settings
    {
        HandlerOptions options;     // validated; `connection` carries no flags, `once` folds SingleShot
        QObject *context = nullptr; // null: runs on the notifying thread
        bool heldContext = false;   // the context is the registry's holder
        bool layer = false;         // a handler of the layer that holds the registry (addHeld)
    };

    // A new handler of the registry that `control` reaches.
    static std::shared_ptr<QtHandlerCore> create(const std::shared_ptr<QtRegistryControl> &control,
                                                 const Settings &settings);
    QtHandlerCore(const QtHandlerCore &) = delete;
    QtHandlerCore &operator=(const QtHandlerCore &) = delete;

    // The typed part queued deliveries call (held weakly: the registry owns it).
    void bind(std::weak_ptr<QtTarget> target) noexcept;
    // Watches the context's destruction (which removes the handler). Throws, changing nothing.
    void watchContext();
    // Where a delivery requested on the calling thread goes now. `here`: that thread's QThread,
    // read into it on first need (one read serves a notify's every handler).
    [[nodiscard]] Route route(QThread *&here) noexcept;
    // Queues one delivery (Delivery::Every) under the overflow policy; `sequence` is the notify's
    // place in the delivery order (0: not taken yet, taken here). Throws, changing nothing.
    void postMail(QtQueued &&payload, std::uint64_t &sequence, const AsyncToken &token);
    // As route() then postMail() under one lock (Delivery::Every, not once, not Direct or
    // BlockingQueued): Here (`here` given and an Auto handler on this thread: nothing queued),
    // Skip (removed) or Post.
    Route routeAndPostMail(QtQueued &&payload, std::uint64_t &sequence, const AsyncToken &token,
                           QThread **here);
    // Replaces the coalesced payload (Delivery::Latest); queues a delivery when none is pending.
    // Null `payload`: writeLatestCell's slow path, after its write to `latest` (or one left to a
    // concurrent writer), which holds `token` (if any) for the delivery; `owedAt`: the cell's
    // count after the write whose owe() set `owed` (else 0), cleared again when no delivery can
    // be scheduled. Throws what that throws.
    void postLatest(std::shared_ptr<const void> payload, const AsyncToken &token, std::uint64_t owedAt = 0);
    // Whether writeLatestCell serves this handler's events when they are small enough.
    [[nodiscard]] bool latestCell() const noexcept
    {
        return delivery == Delivery::Latest && type == Qt::QueuedConnection && !once && !intervalled;
    }
    // Runs the handler on its context's thread and waits for it (Qt::BlockingQueuedConnection).
    void postBlocking(std::shared_ptr<const void> payload, const AsyncToken &token);
    // Stops every delivery that has not started yet and forgets the context and the typed part.
    // Idempotent; runs no user code under a lock. `counted`: what waited counts as dropped (not
    // for a LatestValue's own delivery, which no user added).
    void cancel(bool counted = true) noexcept;
    // A once-handler fired: it leaves its registry's count and notifies, and stays reachable by
    // every removal (which cancels its delivery) until that delivery ran or was dropped.
    void spend() noexcept;
    // After a fired once-handler's deliver(), which may have thrown: unless its delivery waits
    // queued (which settles it when it ran or was dropped), it leaves its registry now.
    void settleUnlessQueued() noexcept;
    // Reports the exception being handled as this handler's failure.
    void reportCurrentException() noexcept;
    // Watches a returned future (its failure is reported, `token` held until it finishes).
    void trackFuture(const QFuture<void> &future, AsyncToken token);
    // Runs the handler on this thread for a step of notifySequential, which no notify covers:
    // counted as a running delivery (removeAndWait and synchronize wait for it) and skipped once
    // cancelled or suspended. Throws what the handler throws.
    void runStep(QtTarget &target, const void *event, const AsyncToken &token);
    // Returns once no queued delivery of this handler runs on another thread (the calling
    // thread's own deliveries are not waited for).
    void waitForRuns() const noexcept;
    // Deliveries its overflow policy dropped so far.
    [[nodiscard]] std::uint64_t droppedCount() const noexcept;
    // Records what diagnostics show of its add (where, the adding thread, the context) and takes
    // its box's statistics from `core` (a handler with a context always has them). Throws
    // std::bad_alloc, changing nothing.
    void noteAdded(SourceLocation at, RegistryCore &core);
    // Takes its box's statistics in `core` if it has none yet (its registry's diagnostics were
    // switched on since its add).
    void takeStats(RegistryCore &core) noexcept;
    // A handler with a context: true while its registry's diagnostics are on (its runs timed).
    [[nodiscard]] bool layerTiming() const noexcept;
    // Inline: false when layerTiming() is (HandlerStats::timing, the statistics' first member).
    [[nodiscard]] bool mayTime() const noexcept
    {
        using Timing = std::atomic<diag::HandlerTimes *>;
        return reinterpret_cast<const Timing *>(stats.load(std::memory_order_relaxed))->load() != nullptr;
    }
    // Runs `target` with `event` on this thread, timed and counted (layerTiming()).
    void runTimed(QtTarget &target, const void *event, const AsyncToken &token);

    HandlerId id;
    const int priority;
    const Qt::ConnectionType type;
    const Delivery delivery;
    const bool once;
    const bool intervalled; // Latest with a minimum interval
    const bool hasContext;
    // A QML registry's JavaScript handler, whose context is the registry (its holder): here,
    // without route(), when a notify starts on the holder's thread (Auto, every event, no
    // minimum interval), for the whole notify (JavaScript runs on the engine's thread).
    const bool holderAuto;
    // A handler of the layer that holds the registry (a QML registry's delivery): it takes the
    // notified event as it is, where every other handler takes its plain copy (QtEnvelope).
    const bool layer;
    std::atomic<bool> armed{false};     // set once `id` is assigned
    std::atomic<bool> cancelled{false}; // removed, context dead or registry gone
    std::atomic<bool> fired{false};     // once-handlers
    std::atomic<bool> suspended{false}; // notifies and queued deliveries skip it
    SourceLocation where;               // where add was called (set before it is published)
    // Diagnostics: its box's statistics (the one record of its runs, drops and waits), from its
    // add with a context (HandlerBox::layerTimed: its queued runs, its runs on the notifying
    // thread and its drops are counted there), else once its registry's diagnostics were on (the
    // runs of notifySequential's steps). Set once; a reference kept until it is destroyed.
    std::atomic<diag::HandlerStats *> stats{nullptr};
    // Delivery::Latest of a small event (latestCell()): its newest event, which notifiers write
    // with no lock (writeLatestCell), and the writes left to a concurrent one (diagnostics).
    alignas(64) NewestCell latest;
    std::atomic<std::uint64_t> latestLeft{0};

protected:
    explicit QtHandlerCore(const Settings &settings) noexcept;
    ~QtHandlerCore() = default;
};

// The typed state of one handler, owned by the registry (its map and its core dispatcher).
template <typename E>
struct QtHandler : QtTarget
{
    explicit QtHandler(std::shared_ptr<QtHandlerCore> c) noexcept : core(std::move(c)) { }
    virtual ~QtHandler() = default;
    QtHandler(const QtHandler &) = delete;
    QtHandler &operator=(const QtHandler &) = delete;

    // Calls the handler on this thread (throws what it throws). A returned QFuture<void> is
    // tracked with `token`.
    virtual void invokeTyped(const E &event, const AsyncToken &token) = 0;
    void invoke(const void *event, const AsyncToken &token) final
    {
        invokeTyped(*static_cast<const E *>(event), token);
    }
    // A layer above the facade learns through its own handlers' callables (the QML layer's
    // deliveries: a callable with left() and dropsReported()) that a removal took the handler
    // (`dropped`: its drops before it), and of its drops; nothing happens for other handlers.
    // Called outside every lock of the registry, which the callable may destroy.
    virtual void left(std::uint64_t dropped) noexcept { static_cast<void>(dropped); }
    virtual void dropsReported(std::uint64_t total) noexcept { static_cast<void>(total); }

    const std::shared_ptr<QtHandlerCore> core;
};

template <typename E, typename F>
struct QtHandlerImpl final : QtHandler<E>
{
    template <typename G>
    QtHandlerImpl(std::shared_ptr<QtHandlerCore> c, G &&g)
        : QtHandler<E>(std::move(c)), fn(std::forward<G>(g))
    { }

    // Whether the handler returns a QFuture<void> (tracked, its failure reported later).
    static constexpr bool returnsFuture =
        std::is_convertible_v<decltype(std::declval<QtHandlerImpl &>().call(std::declval<const E &>())),
                              QFuture<void>>;

    void invokeTyped(const E &event, const AsyncToken &token) override
    {
        if constexpr (returnsFuture)
            this->core->trackFuture(QFuture<void>(call(event)), token);
        else
            call(event);
    }
    void left(std::uint64_t dropped) noexcept override
    {
        if constexpr (requires { fn.left(dropped); })
            fn.left(dropped);
    }
    void dropsReported(std::uint64_t total) noexcept override
    {
        if constexpr (requires { fn.dropsReported(total); })
            fn.dropsReported(total);
    }

    F fn;

private:
    decltype(auto) call(const E &event)
    {
        if constexpr (std::is_invocable_v<F &, const E &>)
            return std::invoke(fn, event);
        else
            return std::invoke(fn);
    }
};

} // namespace rio::detail
