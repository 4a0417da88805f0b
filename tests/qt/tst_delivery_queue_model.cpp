// SPDX-License-Identifier: MIT
// The delivery-policy queue (rio::detail::DeliveryQueue, shared by the Qt facade and Remote)
// against a trivial reference model (RapidCheck): random sequences of pushes with random room,
// retained entries, pops, drops of the oldest and counted drops, releases and reports, entries
// queued in the order of a key (the Qt facade's notify order) and undone, swaps, and pushes,
// retains and insertions whose allocation is refused (tst_delivery_queue_alloc_failure only), under
// each Delivery and Overflow. After every step the queue holds what the model holds, in its order,
// with its weight, and has counted the same drops by reason, reported and not: a refused push,
// retain or insertion changed nothing. A queue that weighs nothing and hands its drops to its
// owner's counter (the Qt facade's) takes the same steps, holds the same entries and hands back
// each drop's report to the push or drop that made it. Every's two segments (the Qt facade's: an older one,
// which a drain takes whole and delivers from): pushes with random room into either segment, placements that
// fail and are undone, drains moving the newer segment into an empty older one, the oldest dropped from the
// older first, the same drops handed over. Built twice: tst_delivery_queue_model (labelled `sanitize`), and
// with RIO_REFUSE_ALLOCATIONS tst_delivery_queue_alloc_failure, which replaces operator new (as the
// sanitizers do) to refuse allocations and to see what a short queue under a flood allocates. Knobs:
// RIO_MODEL_CASES (cases to run), RIO_MODEL_SEED (RapidCheck's seed), RC_PARAMS (RapidCheck's own, overrides
// both). The queue's assertions are on here.
#undef NDEBUG
#include <registryio/qt/detail/delivery_queue.h>

#include <rapidcheck.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace {
bool g_refuse = false; // the next allocation throws std::bad_alloc
} // namespace

#ifdef RIO_REFUSE_ALLOCATIONS
#include "../replaced_operator_new.h"

#include <malloc.h>

void rioBeforeAllocation()
{
    if (g_refuse) {
        g_refuse = false;
        throw std::bad_alloc();
    }
}
#endif

namespace {

struct Entry
{
    int value = 0;
    std::int64_t weight = 0;
};

// Two reasons, so that counting by reason is tried; entries weigh what they say.
struct Weighed
{
    enum class Reason : std::uint8_t { Overflow, Budget };
    static constexpr std::size_t reasons = 2;
    static std::int64_t cost(const Entry &entry) noexcept { return entry.weight; }
};

using Queue = rio::detail::DeliveryQueue<Entry, Weighed>;

// Weighs nothing and hands each drop to its owner's counter, by reason, its report the owner's
// total then (as the Qt facade's does), which the queue hands back to whoever dropped.
struct Routed
{
    enum class Reason : std::uint8_t { Overflow, Budget };
    static constexpr std::size_t reasons = 0;
    std::uint64_t drop(Reason reason, std::uint64_t n) const noexcept
    {
        counts[static_cast<int>(reason)] += n;
        return counts[0] + counts[1];
    }
    std::uint64_t *counts = nullptr;
};
using RoutedQueue = rio::detail::DeliveryQueue<Entry, Routed>;

// The reference: a vector, its rules spelled out one by one.
struct Model
{
    rio::Delivery delivery = rio::Delivery::Every;
    rio::Overflow overflow = rio::Overflow::DropOldest;
    std::vector<Entry> items;
    bool retained = false;
    std::uint64_t dropped[2] = {};
    std::uint64_t unreported[2] = {};
    // Every's two segments: the older and the newer, their drops (overflow only).
    std::vector<Entry> older;
    std::vector<Entry> newer;
    std::uint64_t twoDropped = 0;

    void drop(int reason, std::uint64_t n)
    {
        dropped[reason] += n;
        unreported[reason] += n;
    }
    // The oldest goes; a retained first entry stays while anything follows it.
    void eraseOldest()
    {
        const bool keep = retained && items.size() > 1;
        items.erase(items.begin() + (keep ? 1 : 0));
        retained = keep;
    }
    bool push(Entry entry, std::size_t room)
    {
        if (delivery == rio::Delivery::Latest) {
            items.assign(1, entry);
            retained = false;
            return true;
        }
        if (room != 0 && items.size() >= room) {
            drop(0, 1);
            if (overflow != rio::Overflow::DropOldest)
                return false;
            eraseOldest();
        }
        items.push_back(entry);
        return true;
    }
    // Into the newer segment, or the older one's end, at most `room` in both; the oldest is
    // dropped from the older first. Sets `oldest` to the entry dropped (DropOldest).
    rio::detail::Pushed pushTwo(Entry entry, std::size_t room, bool intoOlder, Entry &oldest)
    {
        const bool full = room != 0 && older.size() + newer.size() >= room;
        if (full && overflow != rio::Overflow::DropOldest) {
            ++twoDropped;
            return rio::detail::Pushed::DroppedNew;
        }
        (intoOlder ? older : newer).push_back(entry);
        if (!full)
            return rio::detail::Pushed::Queued;
        ++twoDropped;
        std::vector<Entry> &from = older.empty() ? newer : older;
        oldest = from.front();
        from.erase(from.begin());
        return rio::detail::Pushed::DroppedOldest;
    }
    // Before the newest entries of a greater value, never before a retained one.
    void insertSorted(Entry entry)
    {
        std::size_t at = items.size();
        while (at > (retained ? 1U : 0U) && entry.value < items[at - 1].value)
            --at;
        items.insert(items.begin() + static_cast<std::ptrdiff_t>(at), entry);
    }
};

enum class Kind {
    Push,
    PushRefused,
    Retain,
    RetainRefused,
    Pop,
    DropOldest,
    Drop,
    Release,
    TakeUnreported,
    InsertSorted,
    InsertRefused,
    InsertUndone,
    Swap,
    PushTwo,
    PushTwoFailed,
    DrainTwo
};
#ifdef RIO_REFUSE_ALLOCATIONS
constexpr unsigned Refusals = 1;
#else
constexpr unsigned Refusals = 0; // the sanitizers' operator new refuses nothing
#endif

struct Op
{
    Kind kind = Kind::Push;
    int value = 0;
    std::int64_t weight = 0;
    std::size_t room = 0;
    int reason = 0;
    std::uint64_t n = 0;
};

rc::Gen<Op> genOp()
{
    using namespace rc;
    return gen::apply([](Kind kind, int value, std::int64_t weight, std::size_t room, int reason,
                         std::uint64_t n) { return Op{kind, value, weight, room, reason, n}; },
                      gen::weightedElement<Kind>({{8, Kind::Push},
                                                  {Refusals * 2, Kind::PushRefused},
                                                  {1, Kind::Retain},
                                                  {Refusals, Kind::RetainRefused},
                                                  {4, Kind::Pop},
                                                  {2, Kind::DropOldest},
                                                  {1, Kind::Drop},
                                                  {1, Kind::Release},
                                                  {1, Kind::TakeUnreported},
                                                  {4, Kind::InsertSorted},
                                                  {Refusals, Kind::InsertRefused},
                                                  {1, Kind::InsertUndone},
                                                  {1, Kind::Swap},
                                                  {8, Kind::PushTwo},
                                                  {1, Kind::PushTwoFailed},
                                                  {3, Kind::DrainTwo}}),
                      gen::inRange(0, 1000), gen::inRange<std::int64_t>(0, 5000),
                      gen::weightedOneOf<std::size_t>(
                          {{1, gen::just<std::size_t>(0)}, {4, gen::inRange<std::size_t>(1, 6)}}),
                      gen::inRange(0, 2), gen::inRange<std::uint64_t>(0, 4));
}

// A counterexample, readable.
void showValue(const Op &op, std::ostream &os)
{
    static const char *const names[] = {
        "Push", "PushRefused", "Retain",         "RetainRefused", "Pop",           "DropOldest",
        "Drop", "Release",     "TakeUnreported", "InsertSorted",  "InsertRefused", "InsertUndone",
        "Swap", "PushTwo",     "PushTwoFailed",  "DrainTwo"};
    os << names[static_cast<int>(op.kind)] << "(value " << op.value << ", weight " << op.weight << ", room "
       << op.room << ", reason " << op.reason << ", n " << op.n << ")";
}

std::string check(const Queue &q, const Model &m)
{
    if (q.size() != m.items.size())
        return "size " + std::to_string(q.size()) + ", the model holds " + std::to_string(m.items.size());
    std::int64_t weight = 0;
    for (const Entry &entry : m.items)
        weight += entry.weight;
    if (q.bytes() != weight)
        return "bytes " + std::to_string(q.bytes()) + ", the model weighs " + std::to_string(weight);
    if (!m.items.empty() && q.front().value != m.items.front().value)
        return "front " + std::to_string(q.front().value) + ", the model's " +
               std::to_string(m.items.front().value);
    if (q.retainedFirst() != m.retained)
        return "retained mark differs";
    for (int r = 0; r < 2; ++r) {
        if (q.dropped(Weighed::Reason(r)) != m.dropped[r])
            return "drops by reason " + std::to_string(r) + ": " +
                   std::to_string(q.dropped(Weighed::Reason(r))) + ", the model counts " +
                   std::to_string(m.dropped[r]);
    }
    if (q.unreported() != m.unreported[0] + m.unreported[1])
        return "unreported drops differ";
    return {};
}

int byValue(const Entry &entry)
{
    return entry.value;
}

// The two segments hold what the model's hold: as many, the same oldest and newest (every entry
// is compared as a drain pops it), and the same drops handed over.
void checkTwo(const RoutedQueue &older, const RoutedQueue &newer, const std::uint64_t (&routed)[2],
              const Model &m)
{
    for (const auto &[queue, model] : {std::pair{&older, &m.older}, std::pair{&newer, &m.newer}}) {
        RC_ASSERT(queue->size() == model->size());
        if (!model->empty()) { // RC_ASSERT evaluates both sides of &&
            RC_ASSERT(queue->front().value == model->front().value);
            RC_ASSERT(queue->back().value == model->back().value);
        }
    }
    RC_ASSERT(routed[0] == m.twoDropped && routed[1] == 0U);
}

void runCase(rio::Delivery delivery, rio::Overflow overflow, const std::vector<Op> &ops)
{
    Queue q(delivery, overflow);
    // The same steps, where they succeeded, on a queue that weighs nothing and hands its drops to
    // its owner (the Qt facade's): it holds what the model holds and hands over its drops.
    std::uint64_t routed[2] = {};
    RoutedQueue u(delivery, overflow, Routed{routed});
    // Every's two segments (the Qt facade's), the newer one pushed to, handing over its drops.
    std::uint64_t twoRouted[2] = {};
    RoutedQueue older;
    RoutedQueue newer(rio::Delivery::Every, overflow, Routed{twoRouted});
    Model m;
    m.delivery = delivery;
    m.overflow = overflow;
    for (const Op &op : ops) {
        switch (op.kind) {
        case Kind::PushRefused:
        case Kind::Push: {
            Model next = m;
            const std::uint64_t before = next.dropped[0];
            const bool queued = next.push(Entry{op.value, op.weight}, op.room);
            const auto expected = !queued                     ? rio::detail::Pushed::DroppedNew
                                  : next.dropped[0] != before ? rio::detail::Pushed::DroppedOldest
                                                              : rio::detail::Pushed::Queued;
            g_refuse = op.kind == Kind::PushRefused; // refused where it allocates (a new chunk)
            try {
                const auto pushed = q.push(Entry{op.value, op.weight}, op.room).pushed;
                g_refuse = false;
                RC_ASSERT(pushed == expected);
                const auto out = u.push(Entry{op.value, op.weight}, op.room);
                RC_ASSERT(out.pushed == expected);
                // Its drop's report, handed back (none when it queued without dropping).
                RC_ASSERT(out.report ==
                          (expected == rio::detail::Pushed::Queued ? 0 : routed[0] + routed[1]));
                m = std::move(next);
            } catch (const std::bad_alloc &) {
                g_refuse = false;
                RC_ASSERT(op.kind == Kind::PushRefused); // and the queue is as the model left it
            }
            break;
        }
        case Kind::Retain:
        case Kind::RetainRefused:
            if (!m.items.empty())
                continue;                              // only into an empty queue
            g_refuse = op.kind == Kind::RetainRefused; // a new chunk (none is kept yet, or a small one)
            try {
                q.retain(Entry{op.value, op.weight});
                g_refuse = false;
                u.retain(Entry{op.value, op.weight});
                m.items.push_back(Entry{op.value, op.weight});
                m.retained = delivery == rio::Delivery::Every;
            } catch (const std::bad_alloc &) {
                g_refuse = false; // and the queue is as the model left it, weight included
            }
            break;
        case Kind::Pop:
            if (m.items.empty())
                continue;
            if (op.value % 2 == 0) {
                RC_ASSERT(q.pop().value == m.items.front().value);
            } else { // into an entry of its owner's
                Entry out;
                q.pop(out);
                RC_ASSERT(out.value == m.items.front().value);
            }
            RC_ASSERT(u.pop().value == m.items.front().value);
            m.items.erase(m.items.begin());
            m.retained = false;
            break;
        case Kind::DropOldest: {
            const bool may = !m.items.empty() && !(m.retained && m.items.size() == 1);
            RC_ASSERT(q.dropOldest(Weighed::Reason(op.reason)).has_value() == may);
            const auto report = u.dropOldest(Routed::Reason(op.reason));
            RC_ASSERT(report.has_value() == may);
            RC_ASSERT(!may || *report == routed[0] + routed[1]);
            if (may) {
                m.drop(op.reason, 1);
                m.eraseOldest();
            }
            break;
        }
        case Kind::Drop: {
            q.drop(Weighed::Reason(op.reason), op.n);
            const std::uint64_t report = u.drop(Routed::Reason(op.reason), op.n); // handed over
            RC_ASSERT(report == routed[0] + routed[1]);
            m.drop(op.reason, op.n);
            break;
        }
        case Kind::Release: {
            RC_ASSERT(u.release().size() == m.items.size());
            const auto out = q.release();
            RC_ASSERT(out.size() == m.items.size());
            for (std::size_t i = 0; i < out.size(); ++i)
                RC_ASSERT(out[i].value == m.items[i].value);
            m.items.clear();
            m.retained = false;
            break;
        }
        case Kind::InsertSorted:
        case Kind::InsertRefused:
            if (delivery == rio::Delivery::Latest)
                continue; // Every's
            g_refuse = op.kind == Kind::InsertRefused;
            try {
                static_cast<void>(q.insertSorted(Entry{op.value, op.weight}, byValue));
                g_refuse = false;
                static_cast<void>(u.insertSorted(Entry{op.value, op.weight}, byValue));
                m.insertSorted(Entry{op.value, op.weight});
            } catch (const std::bad_alloc &) {
                g_refuse = false;
                RC_ASSERT(op.kind == Kind::InsertRefused); // and the queue is as the model left it
            }
            break;
        case Kind::InsertUndone: // queued, then taken back: as it was
            if (delivery == rio::Delivery::Latest)
                continue;
            q.erase(q.insertSorted(Entry{op.value, op.weight}, byValue));
            u.erase(u.insertSorted(Entry{op.value, op.weight}, byValue));
            break;
        case Kind::Swap: { // the entries go to another queue and back
            Queue other;
            q.swap(other);
            RC_ASSERT(q.empty() && other.size() == m.items.size() && !q.retainedFirst());
            other.swap(q);
            break;
        }
        case Kind::PushTwo:
        case Kind::PushTwoFailed: {
            if (delivery == rio::Delivery::Latest)
                continue; // Every's
            const bool intoOlder = op.reason == 1;
            RoutedQueue &into = intoOlder ? older : newer;
            Model next = m;
            Entry expectedOldest;
            const auto expected = next.pushTwo(Entry{op.value, 0}, op.room, intoOlder, expectedOldest);
            Entry oldest{-1, 0};
            try {
                const auto pushed = newer.push(older, op.room, oldest, [&] {
                    const std::size_t at =
                        into.insertSorted(Entry{op.value, 0}, [](const Entry &) { return 0; });
                    if (op.kind == Kind::PushTwoFailed) { // a later step failed: undone, as the facade does
                        into.erase(at);
                        throw std::bad_alloc();
                    }
                });
                RC_ASSERT(pushed.pushed == expected); // placed (a failing place throws), or dropped new
                RC_ASSERT(pushed.report ==
                          (expected == rio::detail::Pushed::Queued ? 0 : twoRouted[0] + twoRouted[1]));
                RC_ASSERT(oldest.value ==
                          (expected == rio::detail::Pushed::DroppedOldest ? expectedOldest.value : -1));
                m = std::move(next);
            } catch (const std::bad_alloc &) {
                // Placed nowhere: nothing dropped, nothing changed (a full DropNewest never places).
                RC_ASSERT(op.kind == Kind::PushTwoFailed && expected != rio::detail::Pushed::DroppedNew);
            }
            break;
        }
        case Kind::DrainTwo: // the drain takes the newer segment whole when it has nothing, else delivers one
            if (older.empty()) {
                older.swap(newer);
                std::swap(m.older, m.newer);
            } else {
                RC_ASSERT(older.pop().value == m.older.front().value);
                m.older.erase(m.older.begin());
            }
            break;
        case Kind::TakeUnreported: {
            const auto counts = q.takeUnreported();
            RC_ASSERT(counts[0] == m.unreported[0] && counts[1] == m.unreported[1]);
            m.unreported[0] = m.unreported[1] = 0;
            break;
        }
        }
        const std::string failure = check(q, m);
        if (!failure.empty())
            RC_FAIL(failure);
        RC_ASSERT(u.size() == m.items.size() && u.retainedFirst() == m.retained && u.bytes() == 0);
        if (!m.items.empty()) // RC_ASSERT evaluates both sides of ||
            RC_ASSERT(u.front().value == m.items.front().value);
        RC_ASSERT(routed[0] == m.dropped[0] && routed[1] == m.dropped[1]);
        checkTwo(older, newer, twoRouted, m);
    }
}

int envInt(const char *name, int fallback)
{
    const char *value = std::getenv(name);
    return value != nullptr && *value != '\0' ? std::atoi(value) : fallback;
}

} // namespace

#ifdef RIO_REFUSE_ALLOCATIONS
// MailQueue sizes a new chunk from the queue's length: queues that hold one or two entries under
// a flood keep chunks of 8, whatever they passed through (chunks sized from the last one grew to
// 256 entries each, memory no budget counts).
bool shortQueuesStaySmall()
{
    constexpr int Queues = 256;
    const std::size_t before = mallinfo2().uordblks;
    std::vector<rio::detail::MailQueue<Entry>> queues(Queues);
    for (auto &q : queues) {
        for (int i = 0; i < 2048; ++i) {
            q.push_back(Entry{i, 0});
            if (q.size() > 2)
                q.pop_front();
        }
    }
    const std::size_t held = mallinfo2().uordblks - before;
    std::printf("%d queues of 2 entries hold %zu bytes\n", Queues, held);
    return held < std::size_t(Queues) * 1024;
}
#endif

int main()
{
#ifdef RIO_REFUSE_ALLOCATIONS
    if (!shortQueuesStaySmall())
        return 1;
#endif
    if (std::getenv("RC_PARAMS") == nullptr) {
        std::string params = "max_success=" + std::to_string(envInt("RIO_MODEL_CASES", 2000));
        if (const char *seed = std::getenv("RIO_MODEL_SEED"); seed != nullptr && *seed != '\0')
            params += std::string(" seed=") + seed;
        setenv("RC_PARAMS", params.c_str(), 1);
    }
    const bool ok = rc::check("the delivery queue holds and drops as its policy says", [] {
        // Every or Latest; DropOldest, DropNewest or Block.
        const int delivery = *rc::gen::inRange(0, 2);
        const int overflow = *rc::gen::inRange(0, 3);
        runCase(delivery == 0 ? rio::Delivery::Every : rio::Delivery::Latest,
                overflow == 0   ? rio::Overflow::DropOldest
                : overflow == 1 ? rio::Overflow::DropNewest
                                : rio::Overflow::Block,
                *rc::gen::container<std::vector<Op>>(genOp()));
    });
    return ok ? 0 : 1;
}
