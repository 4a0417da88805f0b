// SPDX-License-Identifier: MIT
#pragma once

// The Qt facade under a QML registry (a QmlRegistry's QtRegistry<QVariant>, a typed registry's
// QtRegistry<E>) as the QML module's one registration bookkeeping sees it, whatever the event
// type. Not part of the public API.

#include <registryio/handler_id.h>
#include <registryio/qt/delivery.h>
#include <registryio/qt/qt_registry.h>

#include <QJSValue>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QThread>

#include <cstddef>
#include <memory>

class QJSEngine;

namespace rio::detail {

struct QmlRegistryShared;

/// Runs a delivery of `event` (the registry's event type, erased) for the QML handler or handle
/// `target`, on the registry's thread: queued by `target`'s registration `token` with the registry
/// whose bookkeeping is `shared` (kept alive by the delivery, whether the registry is or not).
using QmlDeliver = void (*)(QObject *target, QmlRegistryShared &shared, quint64 token, const void *event);

/// A QML registration's deliveries, as its facade handler calls them: each belongs to the
/// registration that made it (`token`), and never reaches a target that is gone.
struct QmlDelivery
{
    QPointer<QObject> target;
    QmlDeliver deliver = nullptr;
    std::shared_ptr<QmlRegistryShared> shared;
    quint64 token = 0;

    /// The delivery context on `registry`: the registry, which outlives every delivery it can
    /// still cancel (its handlers go first when it is destroyed: no connection per handler), and
    /// for a `once` handler the target, whose fired delivery may outlive the registry (it then
    /// reads nothing of it: see the deliver functions).
    [[nodiscard]] QObject *context(QObject *registry, const HandlerOptions &options) const noexcept
    {
        return options.once ? target.data() : registry;
    }

    void operator()(const void *event) const
    {
        if (QObject *t = target.data())
            deliver(t, *shared, token, event);
    }
};

/// What the bookkeeping needs of a facade, untyped.
class QmlFacade
{
public:
    /// Removes `id`, cancelling its pending deliveries: true the first time.
    virtual bool removeId(HandlerId id) = 0;
    /// Drops of `id` so far (0 once it is removed).
    [[nodiscard]] virtual quint64 droppedOf(HandlerId id) const = 0;
    /// True while `id` is registered, or is a fired `once` handler whose delivery has not settled
    /// (its registration still owns that delivery, which a removal cancels).
    [[nodiscard]] virtual bool holds(HandlerId id) const noexcept = 0;
    /// True for a fired `once` handler whose delivery has not run yet (a removal would cancel it).
    [[nodiscard]] virtual bool firedPending(HandlerId id) const noexcept = 0;
    /// Number of handlers.
    [[nodiscard]] virtual std::size_t handlers() const noexcept = 0;
    /// Removes every handler and cancels its pending deliveries, which wakes the notifiers
    /// waiting for room in their queues.
    virtual void removeAll() = 0;

protected:
    ~QmlFacade() = default;
};

/// The registry's event-typed half, for the bookkeeping: registering a target and the
/// JavaScript value of an event.
class QmlEventOps
{
public:
    /// Registers `delivery` (of a handler or handle on the registry's thread) with the registry
    /// as delivery context.
    virtual HandlerId addTarget(QmlDelivery delivery, const HandlerOptions &options) = 0;
    /// The argument list { the JavaScript value of `event` } for a handler's call: made once per
    /// notify on the registry's thread and shared by its handlers. Valid until the next call or
    /// the notify's end (a call copies its arguments before it runs the function).
    virtual const QList<QJSValue> &scriptArguments(const void *event, QJSEngine *engine) = 0;

protected:
    ~QmlEventOps() = default;
};

/// Learns from the facade which handler left it by id (removed, disconnected, its context gone),
/// except a `once` handler that fired, whose own delivery tells.
class QmlFacadeListener
{
public:
    /// `id` is about to leave, on the registry's thread (`here`) or another: true when its drop
    /// count is wanted.
    virtual bool handlerLeaving(HandlerId id, bool here) noexcept = 0;
    /// `id` left (`removed`: by this removal) with `dropped` drops; `here` and `leaving` as for
    /// handlerLeaving, on the same thread.
    virtual void handlerLeft(HandlerId id, bool here, bool leaving, bool removed,
                             quint64 dropped) noexcept = 0;

protected:
    ~QmlFacadeListener() = default;
};

/// The facade a QML registry holds: a QtRegistry<E> (no QObject parent: a notify under way may
/// keep it past its holder) whose handlers' context is that registry (no per-handler watch, as
/// HeldQtRegistry) and which tells `listener` which handler left it.
template <typename E>
class QmlHeldRegistry final : public QtRegistry<E>, public QmlFacade
{
public:
    /// The facade of the registry `holder`, telling `listener` (which outlives it).
    QmlHeldRegistry(QObject *holder, QmlFacadeListener *listener)
        : QtRegistry<E>(nullptr), m_listener(listener)
    {
        this->m_holder = holder;
    }

    bool removeId(HandlerId id) override { return this->remove(id); }
    [[nodiscard]] quint64 droppedOf(HandlerId id) const override { return this->droppedCount(id); }
    [[nodiscard]] bool holds(HandlerId id) const noexcept override { return this->reaches(id); }
    [[nodiscard]] bool firedPending(HandlerId id) const noexcept override
    {
        return !this->contains(id) && this->reaches(id);
    }
    [[nodiscard]] std::size_t handlers() const noexcept override { return this->size(); }
    void removeAll() override { this->clear(); }
    /// notify(), by a caller on the holder's thread: its JavaScript handlers (addDelivery) run
    /// here without asking again for each one.
    void notifyOnHolderThread(const E &event) const noexcept { this->notifyFrom(event, true); }
    /// Registers a QML registration's delivery (`context`: the holder, or a `once` target).
    HandlerId addDelivery(QObject *context, QmlDelivery delivery, const HandlerOptions &options)
    {
        return this->addHeld(
            context, [delivery = std::move(delivery)](const E &event) { delivery(&event); }, options,
            SourceLocation::current());
    }

protected:
    bool removeHandler(HandlerId id, bool cancel) noexcept override
    {
        if (!cancel) // a `once` handler that fired: its delivery tells
            return QtRegistry<E>::removeHandler(id, cancel);
        const bool here = QThread::currentThread() == this->m_holder->thread();
        const bool leaving = m_listener->handlerLeaving(id, here);
        quint64 dropped = 0;
        if (leaving) {
            try {
                dropped = this->droppedCount(id);
            } catch (...) {
            }
        }
        const bool removed = QtRegistry<E>::removeHandler(id, cancel);
        m_listener->handlerLeft(id, here, leaving, removed, dropped);
        return removed;
    }

private:
    QmlFacadeListener *m_listener;
};

} // namespace rio::detail
