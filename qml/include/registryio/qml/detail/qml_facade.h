// SPDX-License-Identifier: MIT
#pragma once

// The Qt facade under a QML registry (a QmlRegistry's QtRegistry<QVariant>, a typed registry's
// QtRegistry<E>) as the QML module's one registration bookkeeping sees it, whatever the event
// type. Not part of the public API.

#include <registryio/detail/config.h>
#include <registryio/handler_id.h>
#include <registryio/qt/delivery.h>
#include <registryio/qt/qt_registry.h>

#include <QJSValue>
#include <QList>
#include <QObject>
#include <QPointer>

#include <cstddef>
#include <memory>
#include <optional>
#include <utility>

class QJSEngine;

namespace rio::detail {

struct QmlRegistryShared;
class QmlRegistration;

/// Runs a delivery of `event` (the registry's event type, erased) for the QML handler or handle
/// `target`, on the registry's thread: queued by `target`'s registration `token` with the registry
/// whose bookkeeping is `shared` (kept alive by the delivery, whether the registry is or not).
using QmlDeliver = void (*)(QObject *target, QmlRegistryShared &shared, quint64 token, const void *event);

/// A QML registration's deliveries, as its facade handler calls them: each belongs to the
/// registration that made it (`token`), and never reaches a target that is gone. The facade's
/// removal of the handler, and its drops, reach the registration through it (left(),
/// dropsReported()): the registry keeps no table of its registrations.
struct QmlDelivery
{
    QPointer<QObject> target;
    QmlDeliver deliver = nullptr;
    std::shared_ptr<QmlRegistryShared> shared;
    quint64 token = 0;
    QmlRegistration *registration = nullptr; // the target's, valid while it lives
    /// Tells the registration that it left the facade (`left`) with `count` drops, or of its
    /// drops: QmlRegistryShared::tell (a pointer: code of the QML library, reached from code a
    /// typed registry instantiates in the user's module without an export).
    void (*tell)(const QmlDelivery &delivery, bool left, quint64 count) noexcept = nullptr;

    /// The delivery context on `registry`: the registry, which outlives every delivery it can
    /// still cancel (its handlers go first when it is destroyed: no connection per handler), and
    /// for a `once` handler the target, whose fired delivery may outlive the registry (it then
    /// reads nothing of it: see the deliver functions).
    [[nodiscard]] QObject *context(QObject *registry, const HandlerOptions &options) const noexcept
    {
        return options.once ? target.data() : registry;
    }

    template <typename E>
    void operator()(const E &event) const
    {
        if (QObject *t = target.data())
            deliver(t, *shared, token, &event);
    }
    /// The facade's removal took the handler (any thread), `dropped` drops before it.
    void left(quint64 dropped) const noexcept { tell(*this, true, dropped); }
    /// The facade's drop report of the handler, on the registry's thread.
    void dropsReported(quint64 total) const noexcept { tell(*this, false, total); }
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
    /// Hands `total` drops of `id` to its QML registration, if it is one (the registry's thread).
    virtual void reportDrops(HandlerId id, quint64 total) = 0;
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

/// The JavaScript value of the event of a notify on the registry's thread, for either kind of
/// registry: made by its first handler that needs it and shared by the others, in a list of one
/// kept for the registry's life (no allocation per notify), for as long as that notify runs.
class QmlNotifyValue
{
public:
    /// Makes the JavaScript value of an event (the registry's type) in `engine`.
    using Make = QJSValue (*)(QJSEngine *engine, const void *event);

    explicit QmlNotifyValue(Make make) noexcept : m_make(make) { }
    ~QmlNotifyValue()
    {
        if (m_alive != nullptr)
            *m_alive = false; // a handler destroyed the registry, and us, in a notify
    }

    /// The argument list { the value of `event` } for a handler's call (a queued delivery's event
    /// gets its own). Valid until the next call or the notify's end.
    const QList<QJSValue> &arguments(const void *event, QJSEngine *engine)
    {
        // The event of the notify running on this thread (alive, so no other event has its
        // address): made by its first handler and shared by the others.
        if (event == m_current && m_made)
            return m_currentArguments;
        return makeArguments(event, engine);
    }

    /// A notify on the registry's thread, from its start to its end: its handlers share the value
    /// of `event` (`value`, or made by the first that needs it). A nested notify keeps the outer
    /// one's value and gives it back, unless a handler destroyed the registry (and the cache).
    class Scope
    {
    public:
        Scope(QmlNotifyValue &cache, const void *event, const QJSValue *value) : m_cache(cache)
        {
            if (cache.m_currentArguments.isEmpty())
                cache.m_currentArguments.append(QJSValue()); // may throw, nothing changed
            if (!cache.m_currentArguments.isDetached())
                cache.m_currentArguments.detach(); // a call holds a copy: may throw, the same
            if (cache.m_made)
                m_outerValue = std::move(cache.currentValue()); // a nested notify: kept for later
            if (value != nullptr)
                cache.currentValue() = *value;
            m_outer = std::exchange(cache.m_current, event);
            m_outerMade = std::exchange(cache.m_made, value != nullptr);
            m_outerAlive = std::exchange(cache.m_alive, &m_alive);
        }
        ~Scope()
        {
            if (!m_alive) {
                if (m_outerAlive != nullptr)
                    *m_outerAlive = false;
                return;
            }
            m_cache.m_alive = m_outerAlive;
            m_cache.m_current = m_outer;
            const bool made = std::exchange(m_cache.m_made, m_outerMade);
            if (!m_cache.m_currentArguments.isDetached())
                m_cache.m_made = false; // a call holds the list: the outer notify makes its value again
            else if (m_outerValue)
                m_cache.currentValue() = std::move(*m_outerValue);
            else if (made)
                m_cache.currentValue() = QJSValue(); // ours is not kept
        }

    private:
        QmlNotifyValue &m_cache;
        const void *m_outer = nullptr;
        bool m_outerMade = false;
        bool m_alive = true; // cleared when a handler destroys the cache
        bool *m_outerAlive = nullptr;
        std::optional<QJSValue> m_outerValue;
    };

private:
    // arguments() for the first handler of a notify, or a queued delivery: out of line, so that
    // the common case above saves no registers.
    RIO_COLD const QList<QJSValue> &makeArguments(const void *event, QJSEngine *engine)
    {
        QJSValue value = m_make(engine, event);
        if (event == m_current) {
            if (!m_currentArguments.isDetached())
                m_currentArguments.detach(); // a Scope made it, a call may hold a copy
            currentValue() = std::move(value);
            m_made = true;
            return m_currentArguments;
        }
        // A queued delivery: its own value. The list is reused while no call holds a copy of it
        // (no allocation per handler).
        if (m_arguments.size() == 1 && m_arguments.isDetached())
            m_arguments[0] = std::move(value);
        else
            m_arguments = {std::move(value)};
        return m_arguments;
    }
    // The one value of m_currentArguments (made, unshared: no detach on each write).
    QJSValue &currentValue() noexcept { return const_cast<QJSValue &>(m_currentArguments.constFirst()); }

    Make m_make;
    const void *m_current = nullptr;    // the event of the notify running here, or null
    bool m_made = false;                // m_currentArguments holds its value
    bool *m_alive = nullptr;            // the innermost Scope's, cleared by our destructor
    QList<QJSValue> m_currentArguments; // { its value }, or { undefined } between notifies
    QList<QJSValue> m_arguments;        // { a queued delivery's value }
};

/// The facade a QML registry holds: a QtRegistry<E> (no QObject parent: a notify under way may
/// keep it past its holder) whose handlers' context is that registry (no per-handler watch, as
/// HeldQtRegistry).
template <typename E>
class QmlHeldRegistry final : public QtRegistry<E>, public QmlFacade
{
public:
    /// The facade of the registry `holder`.
    explicit QmlHeldRegistry(QObject *holder) : QtRegistry<E>(nullptr) { this->m_holder = holder; }

    bool removeId(HandlerId id) override { return this->remove(id); }
    [[nodiscard]] quint64 droppedOf(HandlerId id) const override { return this->droppedCount(id); }
    [[nodiscard]] bool holds(HandlerId id) const noexcept override { return this->reaches(id); }
    [[nodiscard]] bool firedPending(HandlerId id) const noexcept override
    {
        return !this->contains(id) && this->reaches(id);
    }
    void reportDrops(HandlerId id, quint64 total) override
    {
        if (const auto handler = this->typedOf(id))
            handler->dropsReported(total);
    }
    void removeAll() override { this->clear(); }
    /// notify(), by a caller on the holder's thread: its JavaScript handlers (addDelivery) run
    /// here without asking again for each one, and take `event` itself, where the others take
    /// `plain`'s copy.
    void notifyOnHolderThread(const E &event, const QtPlainCopy<E> &plain = {}) const noexcept
    {
        this->notifyFrom(event, true, plain);
    }
    /// True while a handler here is not the QML layer's (a C++ handler, `latest`'s): a notify
    /// from JavaScript then makes its plain copy before the dispatch.
    [[nodiscard]] bool holdsForeign() const noexcept { return QtRegistry<E>::holdsForeign(); }
    /// Registers a QML registration's delivery (`context`: the holder, or a `once` target).
    HandlerId addDelivery(QObject *context, QmlDelivery delivery, const HandlerOptions &options)
    {
        return this->addHeld(context, std::move(delivery), options, SourceLocation::current());
    }
};

} // namespace rio::detail
