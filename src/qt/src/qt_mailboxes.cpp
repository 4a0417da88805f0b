// SPDX-License-Identifier: MIT
#include "qt_mailboxes.h"

#include "thread_carriers.h"

#include <registryio/qt/detail/qt_tsan.h>

#include <QMetaObject>

#include <utility>

namespace rio::detail {

namespace {

// The mailboxes whose drain event this thread is posting: a drain destroyed unrun meanwhile is
// that one, refused by a failed allocation inside Qt's post (its poster undoes the listing).
thread_local const QtMailboxes *t_posting = nullptr;

struct PostingDrain
{
    explicit PostingDrain(const QtMailboxes *boxes) noexcept : previous(std::exchange(t_posting, boxes)) { }
    ~PostingDrain() { t_posting = previous; }
    PostingDrain(const PostingDrain &) = delete;
    PostingDrain &operator=(const PostingDrain &) = delete;
    const QtMailboxes *previous;
};

// What this thread owes the mailboxes (QtMailboxes::OwedDrains), and its scopes under way.
struct Owed
{
    std::shared_ptr<QtMailboxes> boxes;
    std::shared_ptr<QtMailboxes::Box> box;
    bool lost; // its drain event was discarded (else: its drain is to be posted)
};
thread_local std::vector<Owed> t_owed;
thread_local int t_scopes = 0;

// The one Qt event a mailbox waits behind, posted to its thread's carrier. Discarded unrun (the
// thread finished, or its QThread was deleted), its box is handled as lost once Qt let go of it.
struct MailboxDrain : TsanHandover
{
    std::shared_ptr<QtMailboxes> boxes;
    std::shared_ptr<QtMailboxes::Box> box;
    bool ran = false;

    MailboxDrain(std::shared_ptr<QtMailboxes> b, std::shared_ptr<QtMailboxes::Box> x) noexcept
        : boxes(std::move(b)), box(std::move(x))
    {
        RIO_TSAN_RELEASE(this);
    }
    MailboxDrain(MailboxDrain &&other) noexcept
        : TsanHandover(std::move(other)), boxes(std::move(other.boxes)), box(std::move(other.box)),
          ran(other.ran)
    {
        RIO_TSAN_RELEASE(this);
    }
    MailboxDrain(const MailboxDrain &) = delete;
    MailboxDrain &operator=(const MailboxDrain &) = delete;
    MailboxDrain &operator=(MailboxDrain &&) = delete;
    ~MailboxDrain()
    {
        RIO_TSAN_ACQUIRE(this);
        tsanSyncWithPosters();
        if (!ran && boxes && t_posting != boxes.get())
            boxes->discarded(box);
    }

    void operator()()
    {
        RIO_TSAN_ACQUIRE(this);
        tsanSyncWithPosters();
        ran = true;
        struct Publish // also when a handler's thread is cancelled: Qt may destroy us elsewhere
        {
            const void *self;
            ~Publish() { RIO_TSAN_RELEASE(self); }
        } publish{this};
        if (!boxes)
            return;
        if (QThread::currentThread() == box->thread && !box->alive.isNull())
            boxes->drain(box);
        else
            boxes->lost(box);
    }
};

} // namespace

QtMailboxes::Post QtMailboxes::postDrainLocked(const std::shared_ptr<Box> &box)
{
    // Under m_mutex, so no handler can be listed behind a post that then fails (postEvent never
    // runs the drain here, and the carrier cannot go while its lock is held).
    std::unique_lock<std::mutex> carrierLock;
    bool finished = false;
    QObject *carrier = ThreadCarriers::find(box->thread, carrierLock, finished);
    if (carrier == nullptr)
        return finished ? Post::Finished : Post::NoCarrier;
    [[maybe_unused]] const TsanPostScope posting;
    const PostingDrain marked(this);
    QMetaObject::invokeMethod(carrier, MailboxDrain(shared_from_this(), box), Qt::QueuedConnection);
    box->posted = true;
    return Post::Posted;
}

void QtMailboxes::owe(const std::shared_ptr<Box> &box, bool lost)
{
    t_owed.push_back({shared_from_this(), box, lost});
}

QtMailboxes::OwedDrains::OwedDrains() noexcept
{
    ++t_scopes;
}

QtMailboxes::OwedDrains::~OwedDrains()
{
    --t_scopes;
    while (!t_owed.empty()) {
        const std::vector<Owed> owed = std::exchange(t_owed, {});
        for (const Owed &o : owed) {
            if (o.lost)
                o.boxes->lost(o.box);
            else
                o.boxes->pay(o.box);
        }
    }
}

void QtMailboxes::pay(const std::shared_ptr<Box> &box) noexcept
{
    bool ready = false;
    bool failed = false;
    try {
        ready = ThreadCarriers::make(box->thread);
    } catch (...) {
        failed = true;
    }
    std::vector<std::shared_ptr<QtHandlerState>> handlers;
    {
        std::lock_guard lock(m_mutex);
        if (!box->owed)
            return; // paid by another thread that listed a handler in it
        if (ready) {
            try {
                if (postDrainLocked(box) == Post::Posted) {
                    box->owed = false;
                    return;
                }
            } catch (...) {
                failed = true;
            }
        }
        // The thread finished meanwhile (or no memory): its handlers are listed again, woken
        // through their contexts (or counted as dropped).
        box->owed = false;
        box->posted = false;
        handlers.swap(box->incoming);
        box->hasIncoming.store(false, std::memory_order_release);
        if (box->depth == 0)
            forgetLocked(*box);
    }
    relist(handlers, failed);
}

namespace {

// Wakes a handler whose context lives on a thread that has finished: an event to the context
// itself, which Qt keeps for it and moves with it, lists the handler where it runs.
void wakeThroughContext(const std::shared_ptr<QtHandlerState> &handler)
{
    [[maybe_unused]] const TsanPostScope posting;
    QMetaObject::invokeMethod(handler->context, Handover([weak = std::weak_ptr<QtHandlerState>(handler)] {
                                  if (const std::shared_ptr<QtHandlerState> h = weak.lock())
                                      h->mailboxes->relist({h});
                              }),
                              Qt::QueuedConnection);
}

} // namespace

void QtMailboxes::enqueue(QThread *thread, std::shared_ptr<QtHandlerState> handler)
{
    std::lock_guard lock(m_mutex);
    auto it = m_boxes.find(thread);
    if (it != m_boxes.end() && it->second->alive.isNull()) {
        // The QThread of that box was deleted and `thread` is a new one at the same address: the
        // old box lives on in its pending drain event, if any, and is no longer found.
        m_boxes.erase(it);
        it = m_boxes.end();
    }
    bool created = false;
    if (it == m_boxes.end()) {
        auto box = std::make_shared<Box>();
        box->thread = thread;
        box->alive = thread;
        it = m_boxes.emplace(thread, std::move(box)).first;
        created = true;
    }
    const std::shared_ptr<Box> &box = it->second;
    try {
        box->incoming.push_back(std::move(handler));
    } catch (...) {
        if (created)
            m_boxes.erase(it);
        throw;
    }
    box->hasIncoming.store(true, std::memory_order_release);
    const auto unlist = [&] {
        box->incoming.pop_back();
        box->hasIncoming.store(!box->incoming.empty(), std::memory_order_release);
        if (created)
            m_boxes.erase(it);
    };
    Post post = Post::Posted;
    try {
        if (box->posted) {
            if (box->owed)
                owe(box); // this notify pays it too, before it returns, if no one did
            return;
        }
        post = postDrainLocked(box);
        if (post == Post::NoCarrier) {
            owe(box);
            box->posted = true;
            box->owed = true;
        }
    } catch (...) {
        unlist();
        throw;
    }
    if (post != Post::Finished)
        return;
    std::shared_ptr<QtHandlerState> woken = box->incoming.back();
    unlist();
    wakeThroughContext(woken);
}

std::size_t QtMailboxes::takeIncoming(Box &box, std::vector<std::shared_ptr<QtHandlerState>> &out) noexcept
{
    std::lock_guard lock(m_mutex);
    box.hasIncoming.store(false, std::memory_order_release);
    try {
        out.reserve(out.size() + box.incoming.size()); // `active` keeps its capacity: rarely allocates
    } catch (...) {
        return 0; // without memory, they wait for the next drain
    }
    const std::size_t n = box.incoming.size();
    for (auto &h : box.incoming)
        out.push_back(std::move(h));
    box.incoming.clear();
    return n;
}

void QtMailboxes::beginDrain(Box &box)
{
    std::lock_guard lock(m_mutex);
    box.posted = false;
    ++box.depth;
}

void QtMailboxes::postFollowUp(const std::shared_ptr<Box> &box) noexcept
{
    if (box->active.empty())
        return; // nothing to deliver: a drain with no work posts nothing
    std::lock_guard lock(m_mutex);
    if (box->posted)
        return;
    // Only for a nested event loop: without memory for it (or on a thread that is finishing),
    // the drain goes on without.
    try {
        static_cast<void>(postDrainLocked(box));
    } catch (...) {
    }
}

void QtMailboxes::endDrain(const std::shared_ptr<Box> &box) noexcept
{
    {
        std::lock_guard lock(m_mutex);
        if (--box->depth != 0)
            return; // the outer drain goes on with what is left
    }
    std::vector<std::shared_ptr<QtHandlerState>> left;
    for (auto &h : box->active) {
        if (h) {
            try {
                left.push_back(std::move(h));
            } catch (...) {
                relist({h}); // without memory: listed again one by one
            }
        }
    }
    box->active.clear();
    {
        std::lock_guard lock(m_mutex);
        if (left.empty()) {
            if (box->incoming.empty() && !box->posted && box->depth == 0)
                forgetLocked(*box);
            return;
        }
        // Past the drain's horizon: what is left goes to the pending drain event (posted when
        // this drain began, or by a notify since)...
        if (box->posted) {
            try {
                box->incoming.insert(box->incoming.end(), left.begin(), left.end());
                box->hasIncoming.store(true, std::memory_order_release);
                return;
            } catch (...) {
            }
        }
    }
    // ... or, if a nested drain took that one, behind a new one.
    relist(left);
}

void QtMailboxes::relist(const std::vector<std::shared_ptr<QtHandlerState>> &handlers, bool drop) noexcept
{
    const OwedDrains owed;
    for (const auto &h : handlers) {
        QtHandlerState::Garbage garbage; // destroyed after the lock is released
        QtHandlerState::Drop dropped;
        {
            std::lock_guard lock(h->mutex);
            h->listed = false;
            if (h->context == nullptr || h->cancelled.load(std::memory_order_acquire))
                continue; // its cancellation clears the queue and counts what it clears
            QThread *thread = h->context->thread();
            if (thread == nullptr || h->waitingLocked(1) == 0)
                continue; // no thread to run on yet: the queue waits for the next notify
            if (!drop) {
                try {
                    enqueue(thread, h);
                    h->listed = true;
                    continue;
                } catch (...) {
                }
            }
            // Without memory to list it (or for its thread's carrier), its deliveries cannot
            // run: counted as dropped.
            dropped = h->dropQueueLocked(garbage, QtRegistryControl::DropReason::NoMemory);
        }
        h->report(dropped);
    }
}

void QtMailboxes::forgetLocked(const Box &box) noexcept
{
    auto it = m_boxes.find(box.thread);
    if (it != m_boxes.end() && it->second.get() == &box)
        m_boxes.erase(it);
}

void QtMailboxes::lost(const std::shared_ptr<Box> &box) noexcept
{
    std::vector<std::shared_ptr<QtHandlerState>> handlers;
    {
        std::lock_guard lock(m_mutex);
        box->posted = false;
        handlers.swap(box->incoming);
        box->hasIncoming.store(false, std::memory_order_release);
        // Outside a drain, the box goes (a drain under way lets it go when it ends): a thread
        // that ends discards its last drain event, and boxes must not pile up as threads come
        // and go.
        if (box->depth == 0)
            forgetLocked(*box);
    }
    relist(handlers);
}

void QtMailboxes::discarded(const std::shared_ptr<Box> &box) noexcept
{
    if (t_scopes != 0) {
        try {
            owe(box, true);
            return;
        } catch (...) {
            // Without memory to record it, the box keeps its handlers (below).
        }
    }
    std::lock_guard lock(m_mutex);
    box->posted = false;
}

std::size_t QtMailboxes::boxCount()
{
    std::lock_guard lock(m_mutex);
    return m_boxes.size();
}

} // namespace rio::detail
