// SPDX-License-Identifier: MIT
#pragma once

// A registry's mailboxes, one per receiving thread. Each handler with queued deliveries keeps
// them in its own bounded queue; a thread's mailbox lists the handlers with work and waits
// behind a single Qt event, whose drain delivers their events merged in notify order (then
// priority order). The drain takes a handler's waiting deliveries in one go under the handler's
// lock and delivers them one at a time under its own drain lock (qt_handler_state.h), so a busy
// notifier pays one handler lock and no allocation per delivery, on cache lines the drain
// leaves alone, instead of one Qt event (and wake-up) each.
//
// A mailbox is found by its thread's QThread only as a hint: it holds a QPointer to that thread,
// so a mailbox whose thread object was deleted is never taken for the mailbox of a new thread
// at the same address; its drain event refers to the mailbox itself.

#include "qt_handler_state.h"

#include <QPointer>
#include <QThread>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace rio::detail {

class QtMailboxes : public std::enable_shared_from_this<QtMailboxes>
{
public:
    struct Box
    {
        QThread *thread = nullptr;
        QPointer<QThread> alive;                               // null once the QThread is deleted
        std::vector<std::shared_ptr<QtHandlerState>> incoming; // under m_mutex
        std::atomic<bool> hasIncoming{false};                  // `incoming` is not empty
        bool posted = false;                                   // a drain event is pending or owed (m_mutex)
        bool owed = false; // posted, but the thread's carrier is still to be made (m_mutex)
        int depth = 0;     // drains running (m_mutex)
        // Only the box's thread touches these, in drains (which nest in nested event loops).
        std::vector<std::shared_ptr<QtHandlerState>> active;
        unsigned epoch = 0;
    };

    // Lists `handler` (just given work, not listed anywhere; its lock held) for `thread`. When
    // that mailbox had no drain pending, posts one through the thread's carrier (library-owned:
    // no user object's life decides whether the drain runs). When the thread has no carrier yet,
    // the drain is owed: the OwedDrains scope of the caller makes the carrier and posts it (so
    // every caller lives inside one). A thread that has finished gets no
    // carrier: the handler is woken through its context instead, as Qt's posted events wait for
    // an object, and is listed where the context lives when that event runs (on the thread if
    // it runs again, on the thread the context moves to). Throws, changing nothing.
    void enqueue(QThread *thread, std::shared_ptr<QtHandlerState> handler);
    // Delivers what the listed handlers have waiting (called on the box's thread by its drain
    // event). Thread cancellation inside a handler passes through, leaving the box consistent.
    void drain(const std::shared_ptr<Box> &box);
    // The drain event of `box` was discarded (its thread finished or its QThread was deleted):
    // every listed handler is listed again where its context lives.
    void lost(const std::shared_ptr<Box> &box) noexcept;
    // The drain event of `box` was destroyed unrun. Called from its destructor, which Qt may run
    // under its own lock of the thread's posted events (the application's end discards the main
    // thread's events so): posts nothing. Inside an OwedDrains scope on this thread (a carrier's
    // retiring), the box is handled as lost when the scope ends; elsewhere it keeps its
    // handlers, with no drain pending, and the next listing on its thread posts its drain.
    void discarded(const std::shared_ptr<Box> &box) noexcept;
    // Lists each handler again where its context lives now. A handler whose context has no
    // thread keeps its queue unlisted (the next notify lists it); a cancelled one is dropped.
    // `drop`: its thread's carrier could not be made; the handler's deliveries are counted as
    // dropped for lack of memory instead.
    void relist(const std::vector<std::shared_ptr<QtHandlerState>> &handlers, bool drop = false) noexcept;
    // The scope of every call that may list a handler (a notify, a relisting, a drain) or
    // discard drain events (a carrier's retiring). What the thread owes the mailboxes meanwhile
    // is done when a scope ends, with none of our locks held and after Qt let go of the
    // discarded events. A mailbox whose thread has no carrier yet is owed its drain event: each
    // thread that lists a handler in it meanwhile makes the carrier (QEvent::ThreadChange
    // reaches the application's event filters), and the first posts the drain, before its
    // notify returns; without memory for the carrier or its event, the deliveries listed there
    // are counted as dropped. A discarded drain event's box is handled as lost.
    class OwedDrains
    {
    public:
        OwedDrains() noexcept;
        ~OwedDrains();
        OwedDrains(const OwedDrains &) = delete;
        OwedDrains &operator=(const OwedDrains &) = delete;
    };
    // The order of a notify among all queued deliveries of the registries sharing these boxes.
    std::uint64_t nextSequence() noexcept { return m_sequence.fetch_add(1, std::memory_order_relaxed); }
    // The last order taken so far: every notify that took its place before this read (a notify
    // whose queuing led to this read, coherence) has one no later.
    [[nodiscard]] std::uint64_t lastSequence() const noexcept
    {
        return m_sequence.load(std::memory_order_relaxed) - 1;
    }
    // A delivery was queued ahead of others in a listed handler's queue (its notifier took its
    // place in the order earlier, then waited or was preempted): a drain's view of that
    // handler's oldest delivery may be too new. Called under the handler's lock, before it is
    // released, so a drain that then takes any lock this notifier takes later sees it.
    void noteReorder() noexcept { m_reorders.fetch_add(1, std::memory_order_release); }
    // How many such reorders happened so far (a drain compares it under a handler's lock).
    [[nodiscard]] std::uint64_t reorders() const noexcept
    {
        return m_reorders.load(std::memory_order_acquire);
    }
    // How many threads have a mailbox now (for tests: it must not grow with thread churn).
    std::size_t boxCount();

    // Used by a drain (qt_drain.cpp).
    enum class Post { Posted, NoCarrier, Finished };
    // Posts `box`'s drain event through its thread's carrier (m_mutex held) and marks it posted;
    // with nothing posted when the thread has no carrier (yet, or for good: finished). Throws,
    // with nothing changed, when Qt cannot allocate the event.
    Post postDrainLocked(const std::shared_ptr<Box> &box);
    // Moves `box.incoming` into `out` and returns how many moved (none without memory: they
    // wait for the next drain).
    std::size_t takeIncoming(Box &box, std::vector<std::shared_ptr<QtHandlerState>> &out) noexcept;
    // Starts a drain of `box`: the handlers listed so far become active.
    void beginDrain(Box &box);
    // Ends a drain: the outermost one hands what is left to the pending drain event (or a new
    // one) and lets an empty box go.
    void endDrain(const std::shared_ptr<Box> &box) noexcept;
    // Posts one more drain event for `box`, so a nested event loop inside a delivery goes on
    // with the box.
    void postFollowUp(const std::shared_ptr<Box> &box) noexcept;

private:
    // Erases `box` from the map if it is still the one listed for its thread (m_mutex held).
    void forgetLocked(const Box &box) noexcept;
    // Records that this thread owes `box` its drain (m_mutex held), or (`lost`) its handling as
    // lost; throws, changing nothing.
    void owe(const std::shared_ptr<Box> &box, bool lost = false);
    // Makes the carrier of an owed box's thread and posts its drain, if no one did meanwhile
    // (none of our locks held).
    void pay(const std::shared_ptr<Box> &box) noexcept;

    std::mutex m_mutex;
    std::unordered_map<QThread *, std::shared_ptr<Box>> m_boxes;
    // Each on its own cache line: every notify takes a sequence, and a drain reads the reorders
    // before every delivery.
    alignas(64) std::atomic<std::uint64_t> m_sequence{1};
    alignas(64) std::atomic<std::uint64_t> m_reorders{0};
};

} // namespace rio::detail
