// SPDX-License-Identifier: MIT
// The drain of one mailbox, on its thread: take the handlers listed so far, post a follow-up
// drain event (for nested event loops), peek each handler's oldest delivery, then deliver them
// merged by notify sequence, then priority, one at a time under each handler's lock, pulling in
// handlers listed meanwhile before delivering anything later than their work.
#include "qt_mailboxes.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace rio::detail {

namespace {

// What the draining thread found for one active handler.
struct Peek
{
    bool ready = false; // a delivery waits here; `order` is the oldest one's
    std::uint64_t order = 0;
    QtHandlerState::Drop drop; // to report outside the lock
};

// Whether `h` has a delivery waiting on `here`, or it is done here: no more work, cancelled, or
// its context moved (it is then listed where it lives now).
Peek peek(QtMailboxes &boxes, const std::shared_ptr<QtHandlerState> &ref, QThread *here) noexcept
{
    QtHandlerState &h = *ref;
    QtHandlerState::Garbage garbage; // destroyed after the lock is released
    Peek p;
    std::lock_guard lock(h.mutex);
    if (h.cancelled.load(std::memory_order_acquire) || h.context == nullptr) {
        // Its cancellation clears the queue and counts what it clears (it may not have taken
        // this lock yet: clearing here would leave it nothing to count).
        h.listed = false;
        return p;
    }
    QThread *now = h.context->thread();
    if (now == nullptr) {
        h.listed = false; // no thread to run on: the queue waits for the next notify
        return p;
    }
    if (now != here) {
        // Its context moved: listed where it lives now, its deliveries in order there.
        try {
            boxes.enqueue(now, ref);
        } catch (...) {
            h.listed = false;
            p.drop = h.dropQueueLocked(garbage, QtRegistryControl::DropReason::NoMemory);
        }
        return p;
    }
    const std::lock_guard drain(h.drainMutex);
    p.drop = h.unreportedLocked();
    if (h.taken.empty() && !h.mail.empty()) {
        // Every waiting delivery in one go: the drain delivers them under its own lock, and the
        // notifiers go on with the (empty, already allocated) queue it had.
        h.taken.swap(h.mail);
        h.takenBound = h.taken.size();
        h.takenLast = h.taken.back().order();
    }
    if (h.taken.empty()) {
        h.listed = false;
        h.onceDoneLocked(garbage); // a fired once-handler: its delivery ran
        return p;
    }
    p.ready = true;
    p.order = h.taken.front().order();
    return p;
}

// Gone: the delivery of `order` left the box without this drain (dropped, cancelled, moved, or
// delivered by a nested drain).
enum class Taken { Delivered, Gone, Incoming, Reordered };

// What deliverFront did, and the order of the next delivery waiting when it took one (so the
// drain needs no second look under the lock while the handler has more).
struct Front
{
    Taken taken = Taken::Gone;
    bool more = false;
    std::uint64_t next = 0;
};

// Delivers the oldest waiting delivery of `h` if it is still the one of `order` and no handler
// was listed on the box meanwhile (its work may come first). Takes only the drain lock: the
// delivery is in the segment the drain took (peek). Counted as running from before that lock,
// so removeAndWait and synchronize see it. Drops not yet reported are reported before it.
Front deliverFront(QtHandlerState &h, std::uint64_t order, const QtMailboxes::Box &box,
                   const QtMailboxes &boxes, std::uint64_t reorders)
{
    const DeliveryFrame frame(h);
    QtMail mail{};
    std::shared_ptr<QtTarget> target;
    QtHandlerState::Drop drop;
    Front f;
    // Drops not yet reported are reported before the delivery is taken: a slot of the report may
    // run a nested event loop that delivers it, in order, itself. Then it is taken if it is still
    // the oldest (drops since are reported with the next one, so a flood of drops never holds it).
    for (bool reportFirst = true;; reportFirst = false) {
        std::unique_lock lock(h.drainMutex);
        // An older delivery ahead of it (a late notifier's) is no departure: the reorder check
        // below sends the drain back to peek.
        if (h.cancelled.load(std::memory_order_acquire) || h.threadLocked() != box.thread ||
            h.taken.empty() || h.taken.front().order() > order)
            return f;
        // A handler listed after this delivery was queued holds work of the same or an earlier
        // notify (its notifier listed it first): merge it before going on.
        if (box.hasIncoming.load(std::memory_order_acquire)) {
            f.taken = Taken::Incoming;
            return f;
        }
        // Another handler's queue got an older delivery ahead of what the drain saw of it.
        if (boxes.reorders() != reorders) {
            f.taken = Taken::Reordered;
            return f;
        }
        if (reportFirst) {
            drop = h.unreportedLocked();
            if (drop.total != 0) [[unlikely]] {
                lock.unlock();
                h.report(drop);
                continue;
            }
        }
        h.taken.pop(mail);
        target = h.target.lock();
        if (!h.taken.empty()) {
            f.more = true;
            f.next = h.taken.front().order();
        }
        break;
    }
    f.taken = Taken::Delivered;
    // A notifier waiting for room (Overflow::Block) counted itself before it tested the queue
    // under the drain lock: taking its lock orders this wake-up after its wait began.
    if (h.blockedProducers.load(std::memory_order_seq_cst) != 0) {
        {
            const std::lock_guard wake(h.mutex);
        }
        h.room.notify_all();
    }
    if (target)
        h.run(target, mail.data(), mail.token(), mail.postedAt);
    return f; // the event, token and target go here, after the lock
}

class Drain
{
public:
    Drain(QtMailboxes &boxes, QtMailboxes::Box &box) noexcept : m_boxes(boxes), m_box(box) { }

    void run()
    {
        // The deliveries of one drain: those of notifies that took their place in the order
        // before it began (its horizon, read from the notify sequence after the follow-up drain
        // event was posted), so the event loop gets a turn between two drains however fast the
        // notifiers are, user code the drain runs (a drop report's slot) included. A late
        // notifier, which took its place before that but queues while the drain runs, is
        // delivered in it too, in order. A delivery gone before its turn needs no count. What is
        // later waits for the follow-up drain event, so comes after it in the thread's events,
        // ahead of any Qt event posted after such a notify returned.
        collect();
        while (!m_heap.empty() && m_heap.front().order <= m_horizon) {
            if (m_box.hasIncoming.load(std::memory_order_acquire)) {
                mergeIncoming();
                continue;
            }
            std::pop_heap(m_heap.begin(), m_heap.end(), std::greater<>());
            const Entry top = m_heap.back();
            m_heap.pop_back();
            const std::shared_ptr<QtHandlerState> h = m_box.active[top.index];
            const Front f = deliverFront(*h, top.order, m_box, m_boxes, m_reorders);
            switch (f.taken) {
            case Taken::Incoming:
                push(top);
                continue;
            case Taken::Reordered:
                collect(); // every active handler's oldest delivery, afresh
                continue;
            case Taken::Delivered:
            case Taken::Gone:
                break;
            }
            if (m_box.epoch != m_epoch) {
                collect(); // a nested event loop drained this box meanwhile
                continue;
            }
            // Its next delivery, as it stood when this one was taken: deliverFront checks it
            // again under the lock (a removal, a move or a newer drop sends it back to peek).
            if (f.taken == Taken::Delivered && f.more)
                push({f.next, h->priority, top.index});
            else if (!peekInto(top.index))
                collect();
        }
    }

private:
    // Merged in notify order; within one notify, higher priority first, then listing order.
    struct Entry
    {
        std::uint64_t order;
        int priority;
        std::size_t index;
        bool operator>(const Entry &o) const noexcept
        {
            if (order != o.order)
                return order > o.order;
            if (priority != o.priority)
                return priority < o.priority;
            return index > o.index;
        }
    };

    void push(const Entry &e)
    {
        m_heap.push_back(e);
        std::push_heap(m_heap.begin(), m_heap.end(), std::greater<>());
    }

    // Peeks active handler `index`: back into the heap, or out of the active list. False when
    // user code it ran (a drop's slot running a nested event loop) drained this box meanwhile,
    // which compacted the list: no index held is good then.
    bool peekInto(std::size_t index)
    {
        const std::shared_ptr<QtHandlerState> h = m_box.active[index];
        if (!h)
            return true;
        const Peek p = peek(m_boxes, h, m_box.thread);
        h->report(p.drop);
        if (m_box.epoch != m_epoch)
            return false;
        if (p.ready)
            push({p.order, h->priority, index});
        else
            m_box.active[index].reset(); // only a drain changes the list, and none ran meanwhile
        return true;
    }

    // Every active handler peeked afresh (the list compacted first); all over again when a
    // nested drain of the box ran from a peek.
    void collect()
    {
        m_epoch = m_box.epoch;
        m_reorders = m_boxes.reorders(); // before the peeks: a reorder after it is seen later
        std::erase_if(m_box.active, [](const auto &h) { return !h; });
        m_heap.clear();
        for (std::size_t i = 0; i < m_box.active.size(); ++i) {
            if (!peekInto(i)) [[unlikely]] {
                collect();
                return;
            }
        }
    }

    // Handlers listed on the box since the drain began join it.
    void mergeIncoming()
    {
        const std::size_t first = m_box.active.size();
        m_boxes.takeIncoming(m_box, m_box.active);
        for (std::size_t i = first; i < m_box.active.size(); ++i) {
            if (!peekInto(i)) {
                collect();
                return;
            }
        }
    }

    QtMailboxes &m_boxes;
    QtMailboxes::Box &m_box;
    std::vector<Entry> m_heap;
    // The newest notify this drain delivers: the last place in the order taken before it began
    // (the boxes' orders, shared with every registry that shares them).
    const std::uint64_t m_horizon = m_boxes.lastSequence();
    std::uint64_t m_reorders = 0; // QtMailboxes::reorders() when the handlers were last peeked
    // The box's epoch when the handlers were last peeked: a drain run since (nested, from user
    // code this drain called) compacted the list, and the heap's indices are stale.
    unsigned m_epoch = 0;
};

} // namespace

void QtMailboxes::drain(const std::shared_ptr<Box> &box)
{
    const OwedDrains owed; // a context that moved is listed on its new thread (peek)
    beginDrain(*box);
    struct End // also when a handler's thread is cancelled and unwinds through here
    {
        QtMailboxes &boxes;
        const std::shared_ptr<Box> &box;
        ~End() { boxes.endDrain(box); }
    } end{*this, box};
    takeIncoming(*box, box->active);
    // A handler may run a nested event loop (a modal dialog) that waits for a later delivery:
    // one more drain event lets that loop go on with this box. Found empty later, it costs one
    // event per drain.
    postFollowUp(box);
    ++box->epoch;
    Drain(*this, *box).run();
}

} // namespace rio::detail
