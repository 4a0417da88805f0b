// SPDX-License-Identifier: MIT
#pragma once

// The typed shim of a notify: what one notify hands to every handler, and the dispatch of one
// event to one handler by its route. The queues behind it live in the library. Not part of the
// public API.

#include <registryio/qt/detail/qt_async.h>
#include <registryio/qt/detail/qt_handler.h>
#include <registryio/qt/qt_export.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>

namespace rio::detail {

// How the handlers of a notify that are not the holding layer's get its event: as it is.
template <typename E>
struct QtPlainCopy
{ };

// QtEnvelope::callerShared of an event type whose handlers all take the event as it is.
struct QtNoCallerShare
{ };

// A QML registry's notify on its thread may hand its facade the event as its JavaScript handlers
// take it (from JavaScript the caller's own value, a QVariant of a QJSValue; a QObject guarded by
// a QPointer), which only the QML layer's handlers take, run or queued: every other handler takes
// the plain copy `make(context)` makes on first need (once per notify, kept by the caller).
template <>
struct QtPlainCopy<QVariant>
{
    const QVariant *(*make)(void *context) = nullptr;
    void *context = nullptr;
};

// What one notify hands to every dispatcher: the event, its shared copy (made on first need, so
// one allocation per notify serves every queued handler), its place in the delivery order
// (taken on first need) and the async join, if any. The join is borrowed from notifyAsync's
// frame (a queued delivery copies it), so a plain notify destroys nothing for it.
template <typename E>
struct QtEnvelope : QtPlainCopy<E>
{
    const E *event = nullptr;
    const AsyncToken *token = &noAsyncToken;
    bool onHolderThread = false; // the notify runs on the thread of the registry's holder
    // The event shared by the holding layer's queues, when the others take a plain copy.
    [[no_unique_address]] mutable std::conditional_t<std::is_same_v<E, QVariant>, std::shared_ptr<const E>,
                                                     QtNoCallerShare> callerShared;
    mutable std::shared_ptr<const E> shared; // these three last: zeroed as one block
    mutable std::uint64_t sequence = 0;
    mutable QThread *here = nullptr; // the notifier's, on first need (not notifySequential's steps)

    // The event as a handler that is not the holding layer's, or a queue, takes it.
    [[nodiscard]] const E &plain() const
    {
        if constexpr (std::is_same_v<E, QVariant>)
            return this->make != nullptr ? *this->make(this->context) : *event;
        return *event;
    }
    // The event as `core`'s handler takes it.
    [[nodiscard]] const E &eventFor(const QtHandlerCore &core) const { return core.layer ? *event : plain(); }

    // The shared copy `core`'s queue takes: the holding layer's handlers (a QML registry's, whose
    // context is always on the engine's thread) queue the caller's own value, the others the plain
    // copy, so that a queued handler of the layer never makes the plain copy mid-dispatch.
    const std::shared_ptr<const E> &payload(const QtHandlerCore &core) const
    {
        if constexpr (std::is_same_v<E, QVariant>) {
            if (core.layer && this->make != nullptr) {
                if (!callerShared)
                    callerShared = std::make_shared<const E>(*event);
                return callerShared;
            }
        }
        if (!shared)
            shared = std::make_shared<const E>(plain());
        return shared;
    }

    // What `core`'s queue takes for a delivery with `token`: a QVariant event without a token is
    // copied into the queue entry; with one, it waits as the notify's shared copy, as any larger
    // event.
    QtQueued queued(const QtHandlerCore &core, const AsyncToken &token) const
    {
        QtQueued q;
        if constexpr (storesByValue<E>) {
            std::memcpy(q.payload.bytes, static_cast<const void *>(event), sizeof(E));
            return q;
        } else if constexpr (std::is_same_v<E, QVariant>) {
            if (!token) {
                q.variant = &eventFor(core); // copied into the queue
                return q;
            }
        }
        q.payload.shared = payload(core);
        return q;
    }
};

[[noreturn]] RIO_QT_EXPORT void throwBlockingOnOwnThread();

// deliver() past its common cases: every route, and diagnostics' timing of a run here.
template <bool Step, typename E>
void deliverRouted(const std::shared_ptr<QtHandler<E>> &h, QtHandlerCore &core, const QtEnvelope<E> &env,
                   const AsyncToken &token)
{
    const auto runHere = [&] {
        if constexpr (Step) {
            core.runStep(*h, env.event, token);
        } else if (core.layerTiming()) [[unlikely]] {
            core.runTimed(*h, &env.eventFor(core), token); // diagnostics on: counted and timed
        } else {
            h->invokeTyped(env.eventFor(core), token);
        }
    };
    if (!core.hasContext || (!Step && core.holderAuto && env.onHolderThread)) {
        runHere(); // a step, or a run diagnostics time
        return;
    }
    // The common queued case takes the handler's lock once (route and queue together); an Auto
    // handler with a large event keeps the separate route, so running it here copies nothing.
    QThread *stepHere = nullptr;
    QThread *&here = Step ? stepHere : env.here;
    if (core.delivery == Delivery::Every && !core.once &&
        (core.type == Qt::QueuedConnection || (core.type == Qt::AutoConnection && storesByValue<E>))) {
        if (core.routeAndPostMail(env.queued(core, token), env.sequence, token, &here) ==
            QtHandlerCore::Route::Here)
            runHere();
        return;
    }
    switch (core.route(here)) {
    case QtHandlerCore::Route::Skip:
        return;
    case QtHandlerCore::Route::Here:
        runHere();
        return;
    case QtHandlerCore::Route::Refuse:
        throwBlockingOnOwnThread();
    case QtHandlerCore::Route::Post:
        if (core.delivery == Delivery::Latest)
            core.postLatest(env.payload(core), token);
        else
            core.postMail(env.queued(core, token), env.sequence, token);
        return;
    case QtHandlerCore::Route::Block:
        core.postBlocking(env.payload(core), token);
        return;
    }
}

// Writes a small event (storesByValue) to the one cell of `core` (QtHandlerCore::latestCell()):
// no lock, no allocation once a delivery is scheduled; the write that finds none owed schedules
// it, as does one with an async token (held for it) or timed. Throws what scheduling one throws.
template <typename E>
RIO_ALWAYS_INLINE inline void writeLatestCell(QtHandlerCore &core, const E &event, const AsyncToken &token)
{
    const std::uint64_t from = core.latest.seq.load(std::memory_order_relaxed);
    std::uint64_t owedAt = 0;
    if (!core.latest.write(from, event))
        core.latestLeft.fetch_add(1, std::memory_order_relaxed); // another writer's is the newer
    else if (core.latest.owe())
        owedAt = from + 2;
    if (owedAt != 0 || token || core.mayTime()) [[unlikely]] // postLatest tests layerTiming()
        core.postLatest(nullptr, token, owedAt);
}

// Delivers one event to one handler as its connection type says. Throws what a handler run on
// this thread throws, and std::logic_error for a refused BlockingQueued delivery. `Step`: a step
// of notifySequential, outside any notify, so a run on this thread goes through runStep.
template <bool Step = false, typename E>
RIO_ALWAYS_INLINE inline void deliver(const std::shared_ptr<QtHandler<E>> &h, QtHandlerCore &core,
                                      const QtEnvelope<E> &env, const AsyncToken &token)
{
    if (core.cancelled.load(std::memory_order_acquire))
        return;
    // A small event's newest value: one cell, no lock, no allocation, no route (Queued only).
    if constexpr (storesByValue<E>) {
        if (core.latestCell()) {
            writeLatestCell(core, *env.event, token);
            return;
        }
    }
    // Inline, the runs on this thread that need no route and no timing: without a context (the
    // core's notify times those) and, untimed, Auto with the holder on this thread.
    if (!Step && (!core.hasContext || (core.holderAuto && env.onHolderThread && !core.layerTiming()))) {
        h->invokeTyped(env.eventFor(core), token);
        return;
    }
    deliverRouted<Step>(h, core, env, token);
}

// As above, the core reached through the typed part.
template <bool Step = false, typename E>
void deliver(const std::shared_ptr<QtHandler<E>> &h, const QtEnvelope<E> &env, const AsyncToken &token)
{
    deliver<Step>(h, *h->core, env, token);
}

// Settles a fired once-handler when its deliver() returns or throws (QtHandlerCore::spend).
class QtOnceSettle
{
public:
    explicit QtOnceSettle(QtHandlerCore &core) noexcept : m_core(core) { }
    QtOnceSettle(const QtOnceSettle &) = delete;
    QtOnceSettle &operator=(const QtOnceSettle &) = delete;
    ~QtOnceSettle() { m_core.settleUnlessQueued(); }

private:
    QtHandlerCore &m_core;
};

// The callable stored in the core registry for each handler.
template <typename E>
struct QtDispatcher
{
    std::shared_ptr<QtHandler<E>> handler;
    // Its core, reached without reading the typed part, beside whose reference count (which a
    // receiving thread changes at each queued delivery) the typed part's pointer to it lies.
    QtHandlerCore *core = handler->core.get();

    void operator()(const QtEnvelope<E> &env) const
    {
        QtHandlerCore &h = *core;
        // The plain copy, if this notify makes it lazily (a handler added during it), is made
        // before the checks: what making it runs (a JavaScript getter) may remove this handler.
        if constexpr (std::is_same_v<E, QVariant>)
            if (!h.layer)
                static_cast<void>(env.plain());
        if (!h.armed.load(std::memory_order_acquire) || h.suspended.load(std::memory_order_acquire))
            return;
        if (h.once) { // deliver() tests `cancelled` for the others
            if (h.cancelled.load(std::memory_order_acquire) ||
                h.fired.exchange(true, std::memory_order_acq_rel))
                return;
            h.spend();
            const QtOnceSettle settle{h};
            deliver(handler, h, env, *env.token);
            return;
        }
        deliver(handler, h, env, *env.token);
    }
};

// The callable stored for a handler without context object that may run any number of times:
// the notifying thread runs it, so none of the routing above applies, and the handler's type is
// known here, so the call is not virtual.
template <typename E, typename F>
struct QtDirectDispatcher
{
    std::shared_ptr<QtHandlerImpl<E, F>> handler;

    // No flag is tested: the core calls no removed or suspended handler from a notify that
    // starts after the removal or suspension, and reports what the handler throws with the
    // box's id. Handlers returning a future take QtDispatcher.
    void operator()(const QtEnvelope<E> &env) const
    {
        handler->invokeTyped(env.plain(), *env.token); // QtHandlerImpl is final: a direct call
    }
};

} // namespace rio::detail
