// SPDX-License-Identifier: MIT
// A model-based test of QtRegistry<int>'s queued deliveries (RapidCheck). Random sequences of
// add (lambda, member function, scoped; Every or Latest with a minimum interval; random
// capacities, all three overflow policies, priorities, once, Auto or Queued), remove (on the
// controller, on the handler's thread, removeAndWait, a scoped guard's reset), notify batches from
// worker threads (and the main thread), context deletion, moveToThread between receiver threads
// and the main thread, receiver thread exit (its contexts moved away first, or dying with it),
// registry destruction, delegate churn (short-lived contexts created and deleted on a receiving
// thread between a notify and the drain) and slowed-down handlers, checked against this property:
//
//   A queued delivery is lost only when its own handler is removed, its own context is destroyed,
//   or its overflow policy drops it; each of these is counted (droppedCount, deliveriesDropped,
//   the `registryio` logging category). Every delivery, including retries, coalesced re-arms and
//   interval waits, runs on the context's thread at the time it runs.
//
// Per handler: received + counted drops == events sent while it was registered (Every); the newest
// event sent is the last one received (Latest, unless removed); deliveries follow notify order
// per sending thread; no call starts after its removal returned; every call runs on its context's
// thread. Per receiving thread, one notify's deliveries run in priority order.
//
// Knobs: RIO_MODEL_CASES (cases to run; fewer by default under the sanitizers), RIO_MODEL_SEED
// (RapidCheck's seed; timing still varies between runs), RC_PARAMS (RapidCheck's own, overrides
// both), RIO_MODEL_MAX_OPS (longest sequence), RIO_MODEL_DEADLINE_MS (the longest wait for the
// expected deliveries), RIO_MODEL_QUIET_MS (how long nothing may move, every loop having run what
// it had, before what is missing counts as lost). RIO_MODEL_UNCOUNTED_DISCARDS=1 accepts
// deliveries discarded uncounted with their removed handler or dead context (to isolate other
// losses; it is not the property).
#include "qt_test_support.h"

#include <registryio/qt/qt_registry.h>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QRegularExpression>
#include <QStringList>
#include <QTest>
#include <QThread>

#include <rapidcheck.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

// ---------------------------------------------------------------------------------------------
// Operations

enum class Kind {
    AddContext,
    AddHandler,
    Notify,
    Remove,
    DeleteContext,
    Move,
    Sync,
    Churn,
    ExitThread,
    DestroyRegistry
};

struct Op
{
    Kind kind = Kind::Sync;
    int thread = 0;        // 0 = main, 1 and 2 = receiver QThreads (AddContext, Sync, Churn, ExitThread)
    int pick = 0;          // the context or handler it acts on (modulo the live ones)
    int form = 0;          // AddHandler: 0 lambda, 1 member function, 2 addScoped; Remove: 0 remove
                           // (or the guard's reset) on the controller, 1 remove on the handler's thread,
                           // 2 removeAndWait
    bool latest = false;   // AddHandler
    int minIntervalMs = 0; // AddHandler, Latest
    int capacity = -1;     // AddHandler: -1 default, 0 unbounded, 1..8
    int overflow = 0;      // AddHandler: DropOldest, DropNewest, Block
    int blockTimeoutMs = 1;
    int priority = 0; // AddHandler, Churn (the delegates')
    bool once = false;
    bool queued = false;    // AddHandler: Qt::QueuedConnection, else Auto
    int spinUs = 0;         // AddHandler: the handler spins this long (a slow receiver)
    int senders = 1;        // Notify, Churn: worker threads
    int events = 1;         // Notify, Churn: events per sender
    bool fromMain = false;  // Notify, Churn: the main thread notifies too
    bool sync = false;      // Notify: then every receiving loop runs what it has
    int race = 0;           // Notify: while it runs, 1 removes handler `pick` (as `form`), 2 moves
                            // context `pick` to `target`, 3 deletes context `pick`
    int count = 0;          // Churn: delegates
    bool reverse = false;   // Churn: delegates deleted newest first
    bool moveFirst = false; // ExitThread: its contexts move to `target` first (else die with it)
    int target = 0;         // Move, ExitThread: destination thread
    // ExitThread: a slot on its finished() moves its contexts to `target` (its QThread stays).
    bool moveInFinished = false;
};

const char *threadName(int t)
{
    static const char *const names[] = {"main", "R1", "R2"};
    return names[t];
}

std::string describe(const Op &op)
{
    std::ostringstream s;
    switch (op.kind) {
    case Kind::AddContext:
        s << "AddContext(" << threadName(op.thread) << ")";
        break;
    case Kind::AddHandler:
        s << "AddHandler(ctx#" << op.pick << ", "
          << (op.form == 0   ? "lambda"
              : op.form == 1 ? "member"
                             : "scoped")
          << (op.latest ? ", Latest" : ", Every");
        if (op.latest)
            s << " minInterval=" << op.minIntervalMs << "ms";
        else
            s << " capacity=" << (op.capacity < 0 ? std::string("default") : std::to_string(op.capacity))
              << (op.overflow == 0   ? " DropOldest"
                  : op.overflow == 1 ? " DropNewest"
                                     : " Block " + std::to_string(op.blockTimeoutMs) + "ms");
        s << ", prio " << op.priority << (op.once ? ", once" : "") << (op.queued ? ", Queued" : ", Auto");
        if (op.spinUs != 0)
            s << ", spin " << op.spinUs << "us";
        s << ")";
        break;
    case Kind::Notify:
        s << "Notify(" << op.senders << " workers x " << op.events << (op.fromMain ? " + main" : "");
        if (op.race == 1)
            s << ", racing Remove(handler#" << op.pick << ", "
              << (op.form == 0   ? "remove on main"
                  : op.form == 1 ? "remove on its thread"
                                 : "removeAndWait")
              << ")";
        else if (op.race == 2)
            s << ", racing Move(ctx#" << op.pick << " -> " << threadName(op.target) << ")";
        else if (op.race == 3)
            s << ", racing DeleteContext(ctx#" << op.pick << ")";
        s << (op.sync ? ", then sync" : "") << ")";
        break;
    case Kind::Remove:
        s << "Remove(handler#" << op.pick << ", "
          << (op.form == 0   ? "remove on main"
              : op.form == 1 ? "remove on its thread"
                             : "removeAndWait")
          << ")";
        break;
    case Kind::DeleteContext:
        s << "DeleteContext(ctx#" << op.pick << ")";
        break;
    case Kind::Move:
        s << "Move(ctx#" << op.pick << " -> " << threadName(op.target) << ")";
        break;
    case Kind::Sync:
        s << "Sync(" << threadName(op.thread) << ")";
        break;
    case Kind::Churn:
        s << "Churn(" << threadName(op.thread) << ", " << op.count << " delegates prio " << op.priority
          << (op.reverse ? " deleted newest first" : " deleted in dispatch order") << ", notify "
          << op.senders << " workers x " << op.events << (op.fromMain ? " + main" : "") << ")";
        break;
    case Kind::ExitThread:
        s << "ExitThread(" << threadName(op.thread) << ", "
          << (op.moveInFinished ? std::string("contexts moved in finished() to ") + threadName(op.target)
              : op.moveFirst    ? std::string("contexts moved to ") + threadName(op.target)
                                : "contexts die with it")
          << ")";
        break;
    case Kind::DestroyRegistry:
        s << "DestroyRegistry";
        break;
    }
    return s.str();
}

void showValue(const Op &op, std::ostream &os)
{
    os << describe(op);
}

rc::Gen<Op> genOp()
{
    using namespace rc;
    auto make = [](Kind k) {
        Op op;
        op.kind = k;
        return op;
    };
    auto addContext = gen::map(gen::inRange(0, 3), [=](int t) {
        Op op = make(Kind::AddContext);
        op.thread = t;
        return op;
    });
    auto addHandler = gen::apply(
        [=](int pick, int form, bool latest, int interval, int capacity, int overflow, int blockMs,
            int priority, bool once, bool queued, int spin) {
            Op op = make(Kind::AddHandler);
            op.pick = pick;
            op.form = form;
            op.latest = latest;
            op.minIntervalMs = latest ? interval : 0;
            op.capacity = latest ? -1 : capacity;
            op.overflow = latest ? 0 : overflow;
            op.blockTimeoutMs = blockMs;
            op.priority = priority;
            op.once = once;
            op.queued = queued;
            op.spinUs = spin;
            return op;
        },
        gen::inRange(0, 64), gen::inRange(0, 3), gen::weightedElement<bool>({{2, false}, {1, true}}),
        gen::weightedOneOf<int>(
            {{1, gen::just(0)}, {3, gen::map(gen::inRange(0, 30), [](int x) { return 30 - x; })}}),
        gen::inRange(-1, 9), gen::inRange(0, 3), gen::inRange(1, 6), gen::inRange(-3, 4),
        gen::weightedElement<bool>({{4, false}, {1, true}}), gen::arbitrary<bool>(),
        gen::weightedElement<int>({{6, 0}, {1, 50}, {1, 300}}));
    auto batch = [=](Kind k) {
        return gen::apply(
            [=](int senders, int events, bool fromMain, bool sync, int race, int pick, int form, int target) {
                Op op = make(k);
                op.senders = senders;
                op.events = events;
                op.fromMain = fromMain;
                op.sync = sync;
                if (k == Kind::Notify) {
                    op.race = race;
                    op.pick = race != 0 ? pick : 0;
                    op.form = race == 1 ? form : 0;
                    op.target = race == 2 ? target : 0;
                }
                return op;
            },
            gen::inRange(1, 4), gen::inRange(1, 13), gen::weightedElement<bool>({{3, false}, {1, true}}),
            gen::arbitrary<bool>(), gen::weightedElement<int>({{4, 0}, {1, 1}, {1, 2}, {1, 3}}),
            gen::inRange(0, 64), gen::inRange(0, 3), gen::inRange(0, 3));
    };
    auto remove = gen::apply(
        [=](int pick, int form) {
            Op op = make(Kind::Remove);
            op.pick = pick;
            op.form = form;
            return op;
        },
        gen::inRange(0, 64), gen::inRange(0, 3));
    auto deleteContext = gen::map(gen::inRange(0, 64), [=](int pick) {
        Op op = make(Kind::DeleteContext);
        op.pick = pick;
        return op;
    });
    auto move = gen::apply(
        [=](int pick, int target) {
            Op op = make(Kind::Move);
            op.pick = pick;
            op.target = target;
            return op;
        },
        gen::inRange(0, 64), gen::inRange(0, 3));
    auto sync = gen::map(gen::inRange(0, 3), [=](int t) {
        Op op = make(Kind::Sync);
        op.thread = t;
        return op;
    });
    auto churn = gen::apply(
        [=](int t, int count, int priority, bool reverse, Op notify) {
            Op op = notify;
            op.kind = Kind::Churn;
            op.sync = false;
            op.thread = t;
            op.count = count;
            op.priority = priority;
            op.reverse = reverse;
            return op;
        },
        gen::inRange(0, 3), gen::inRange(0, 13), gen::inRange(-3, 4), gen::arbitrary<bool>(),
        batch(Kind::Churn));
    auto exitThread = gen::apply(
        [=](int t, bool moveFirst, int target) {
            Op op = make(Kind::ExitThread);
            op.thread = t;
            op.moveFirst = moveFirst;
            op.target = target;
            return op;
        },
        gen::inRange(1, 3), gen::arbitrary<bool>(), gen::inRange(0, 3));
    // A receiver thread ends and a slot on its finished() (after the registry's own watch of it)
    // moves its contexts to `target`: their waiting deliveries follow them there.
    auto exitMovingInFinished = gen::apply(
        [=](int t, int target) {
            Op op = make(Kind::ExitThread);
            op.thread = t;
            op.moveInFinished = true;
            op.target = target == t ? 0 : target;
            return op;
        },
        gen::inRange(1, 3), gen::inRange(0, 3));
    return gen::weightedOneOf<Op>({{3, addContext},
                                   {7, addHandler},
                                   {7, batch(Kind::Notify)},
                                   {2, remove},
                                   {1, deleteContext},
                                   {2, move},
                                   {2, sync},
                                   {2, churn},
                                   {1, exitThread},
                                   {1, gen::just(make(Kind::DestroyRegistry))},
                                   {1, exitMovingInFinished}});
}

// ---------------------------------------------------------------------------------------------
// What handlers observe

thread_local int t_threadTag = 0; // 0 on the main thread, unique per receiver QThread
thread_local const char *t_threadName = "main";

struct Observations
{
    struct Entry
    {
        int threadTag;
        int event;
        int priority;
        int handler;
    };
    std::mutex mutex;
    std::vector<Entry> log;                               // every call, in the order each thread made them
    std::map<std::pair<int, quint64>, quint64> signalled; // (registry generation, id) -> highest total
};

struct CtxState
{
    std::atomic<bool> alive{true};
};

struct Rec;

class Ctx : public QObject
{
public:
    ~Ctx() override { state->alive.store(false, std::memory_order_release); }
    void onEvent(const int &event);

    std::shared_ptr<CtxState> state = std::make_shared<CtxState>();
    std::shared_ptr<Rec> memberRec; // set before the member-function form is added
};

// One handler: what the model expects (controller only) and what it observed (under `mutex`).
struct Rec
{
    int index = 0;
    int generation = 0;
    int ctx = 0;
    Ctx *object = nullptr;
    std::shared_ptr<CtxState> ctxState;
    std::shared_ptr<Observations> obs;
    bool latest = false;
    bool once = false;
    bool delegate = false;
    bool queued = false;
    int priority = 0;
    int spinUs = 0;
    std::string what;
    rio::HandlerId id;
    rio::HandlerGuard guard;

    // The model (main thread only).
    std::uint64_t sent = 0;
    std::uint64_t slack = 0; // events that may have been sent to it while it was being removed
    bool fired = false;      // once: a notify took it
    bool removed = false;
    std::string how; // why it is no longer registered
    quint64 droppedBefore = 0;
    int lastBatch = -1;
    std::set<int> newest; // Latest: the events any of which may be the newest sent
    // Every, Auto: the main thread notified it while its context lived elsewhere (queued), and
    // then while it lived on the main thread (run directly, ahead of what was queued before, as
    // a Qt direct call): the main thread's events to it are not in notify order among themselves.
    bool mainSentAway = false;
    bool mainOrderLoose = false;

    // Set (release) when its removal or its context's death has returned and every call that had
    // begun has ended: no call may start after it.
    std::atomic<bool> closed{false};

    // Observed.
    std::mutex mutex;
    std::vector<int> received;
    std::string violation;

    void call(int event)
    {
        const bool closedNow = closed.load(std::memory_order_acquire);
        QThread *const current = QThread::currentThread();
        const bool ctxAlive = ctxState->alive.load(std::memory_order_acquire);
        QThread *const ctxThread = ctxAlive ? object->thread() : nullptr;
        if (spinUs != 0) { // a slow receiver, bounded
            const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(spinUs);
            while (std::chrono::steady_clock::now() < until) {
            }
        }
        {
            std::lock_guard lock(obs->mutex);
            obs->log.push_back({t_threadTag, event, priority, index});
        }
        std::lock_guard lock(mutex);
        received.push_back(event);
        if (!violation.empty())
            return;
        if (closedNow)
            violation = "event " + std::to_string(event) + " delivered after " + how + " returned";
        else if (!ctxAlive)
            violation = "event " + std::to_string(event) + " delivered after its context died";
        else if (current != ctxThread)
            violation = "event " + std::to_string(event) + " ran on " + t_threadName +
                        " while its context lives on " + ctxThread->objectName().toStdString();
    }
};

void Ctx::onEvent(const int &event)
{
    if (memberRec)
        memberRec->call(event);
}

// ---------------------------------------------------------------------------------------------
// Receiving threads

std::atomic<int> g_nextTag{1};

class ReceiverThread final : public QThread
{
public:
    explicit ReceiverThread(int slot)
        : m_tag(g_nextTag.fetch_add(1)), m_name(std::string(threadName(slot)) + "." + std::to_string(m_tag))
    {
        setObjectName(QString::fromStdString(m_name));
        start();
        m_ready.wait();
    }
    ~ReceiverThread() override { stop(); }
    ReceiverThread(const ReceiverThread &) = delete;
    ReceiverThread &operator=(const ReceiverThread &) = delete;

    // Runs `f` on this thread and waits for it.
    void runHere(const std::function<void()> &f)
    {
        std::latch done(1);
        post([&] {
            f();
            done.count_down();
        });
        done.wait();
    }

    template <typename F>
    void post(F f)
    {
        [[maybe_unused]] const rio::detail::TsanPostScope posting; // see detail/qt_tsan.h
        QMetaObject::invokeMethod(m_runner, rio::detail::Handover(std::move(f)));
    }

    // Ends the event loop; `doomed` contexts are deleted on this thread after it stopped.
    void stop()
    {
        if (m_stopped)
            return;
        m_stopped = true;
        quit();
        m_quitCalled.count_down();
        wait();
        m_finished.wait(); // QThread::wait synchronises invisibly to TSan; the latch does not
    }

    std::vector<Ctx *> doomed; // written on this thread

protected:
    void run() override
    {
        t_threadTag = m_tag;
        t_threadName = m_name.c_str();
        m_runner = new QObject;
        m_ready.count_down();
        exec();
        m_quitCalled.wait();
        for (Ctx *c : doomed)
            delete c;
        delete m_runner;
        m_finished.count_down();
    }

private:
    int m_tag;
    std::string m_name;
    QObject *m_runner = nullptr;
    std::latch m_ready{1};
    std::latch m_quitCalled{1};
    std::latch m_finished{1};
    bool m_stopped = false;
};

// ---------------------------------------------------------------------------------------------
// Settings from the environment

int envInt(const char *name, int fallback)
{
    const char *value = std::getenv(name);
    return value != nullptr && *value != '\0' ? std::atoi(value) : fallback;
}

bool uncountedDiscardsAccepted()
{
    static const bool accepted = envInt("RIO_MODEL_UNCOUNTED_DISCARDS", 0) != 0;
    return accepted;
}

// ---------------------------------------------------------------------------------------------
// One case: the system under test and the model, side by side

struct EventInfo
{
    int batch;
    int sender; // 0 = main, 1.. = workers
    int k;      // its rank among the sender's events of the batch
};

struct CtxModel
{
    Ctx *object = nullptr;
    int thread = 0;
    bool alive = true;
    bool everMoved = false;
    bool delegate = false;
};

class Case
{
public:
    explicit Case(int logBaseline) : m_logBaseline(logBaseline)
    {
        m_threads[1] = std::make_unique<ReceiverThread>(1);
        m_threads[2] = std::make_unique<ReceiverThread>(2);
        newRegistry();
        m_trace << "  0. one context per thread (main, R1, R2)";
        for (int t = 0; t < 3; ++t)
            addContext(t, false);
        m_trace << "\n";
    }
    ~Case() { teardown(); }
    Case(const Case &) = delete;
    Case &operator=(const Case &) = delete;

    void apply(const Op &op)
    {
        m_trace << "  " << ++m_step << ". " << describe(op);
        switch (op.kind) {
        case Kind::AddContext:
            addContext(op.thread, false);
            break;
        case Kind::AddHandler:
            addHandler(op);
            break;
        case Kind::Notify:
            notifyRacing(op);
            if (op.sync)
                syncAll();
            break;
        case Kind::Remove:
            removeHandler(op);
            break;
        case Kind::DeleteContext:
            if (const int c = pickContext(op.pick); c >= 0)
                deleteContext(c, "its context's deletion");
            break;
        case Kind::Move:
            moveContext(op);
            break;
        case Kind::Sync:
            sync(op.thread);
            break;
        case Kind::Churn:
            churn(op);
            break;
        case Kind::ExitThread:
            exitThread(op);
            break;
        case Kind::DestroyRegistry:
            destroyRegistry();
            newRegistry();
            break;
        }
        m_trace << "\n";
    }

    // Waits until the expected deliveries arrived (or nothing changes any more, or the deadline
    // passes), then checks everything. Returns the failures, empty when none.
    std::string finish()
    {
        quiesce();
        std::ostringstream errors;
        for (const auto &rec : m_recs) {
            const std::string e = check(*rec, true);
            if (!e.empty())
                errors << "  handler#" << rec->index << " " << rec->what << ": " << e << "\n";
        }
        checkPriorities(errors);
        checkLog(errors);
        const std::string e = errors.str();
        if (e.empty())
            return {};
        return "Operations (as run):\n" + m_trace.str() + "Failures:\n" + e;
    }

private:
    // --- the system ------------------------------------------------------------------------

    QThread *qthread(int t) { return t == 0 ? QCoreApplication::instance()->thread() : m_threads[t].get(); }

    void runOn(int t, const std::function<void()> &f)
    {
        if (t == 0)
            f();
        else
            m_threads[t]->runHere(f);
    }

    void sync(int t)
    {
        if (t == 0) {
            QCoreApplication::sendPostedEvents();
            QCoreApplication::processEvents();
        } else {
            runOn(t, [] { });
        }
    }

    void syncAll()
    {
        for (int t = 0; t < 3; ++t)
            sync(t);
    }

    void newRegistry()
    {
        ++m_generation;
        m_logStart.push_back(logCount()); // ids start again: each registry's lines apart
        m_registry = std::make_unique<rio::QtRegistry<int>>();
        const int generation = m_generation;
        std::shared_ptr<Observations> obs = m_obs;
        QObject::connect(
            m_registry.get(), &rio::QtRegistryBase::deliveriesDropped, m_registry.get(),
            [obs, generation](rio::HandlerId id, quint64 total) {
                std::lock_guard lock(obs->mutex);
                quint64 &best = obs->signalled[{generation, id.value()}];
                best = std::max(best, total);
            },
            Qt::DirectConnection);
    }

    void destroyRegistry()
    {
        std::vector<Rec *> gone;
        for (const auto &rec : m_recs) {
            if (reachable(*rec)) {
                rec->droppedBefore = m_registry->droppedCount(rec->id);
                gone.push_back(rec.get());
            }
        }
        for (Rec *rec : gone)
            markRemoved(*rec, rec->once && rec->fired ? "its registry's destruction after its one notify"
                                                      : "its registry's destruction");
        for (const auto &rec : m_recs)
            rec->guard = {};
        // The destroyed registry emits nothing; what it dropped is counted in the log, also by a
        // delivery that was reading Latest's cell then (it counts its drop when it ends).
        const int logBefore = logCount();
        m_registry.reset();
        syncAll(); // a call that had begun has ended
        const QStringList logged = logCapture().messages().mid(logBefore);
        for (Rec *rec : gone)
            rec->droppedBefore = std::max(rec->droppedBefore, loggedDrops(logged, rec->id));
        for (Rec *rec : gone)
            rec->closed.store(true, std::memory_order_release);
    }

    int addContext(int t, bool delegate)
    {
        CtxModel c;
        c.thread = t;
        c.delegate = delegate;
        runOn(t, [&] { c.object = new Ctx; });
        m_ctxs.push_back(c);
        m_trace << " -> ctx#" << m_ctxs.size() - 1;
        return int(m_ctxs.size()) - 1;
    }

    int pickContext(int pick) const
    {
        std::vector<int> live;
        for (int i = 0; i < int(m_ctxs.size()); ++i)
            if (m_ctxs[i].alive && !m_ctxs[i].delegate)
                live.push_back(i);
        return live.empty() ? -1 : live[std::size_t(pick) % live.size()];
    }

    bool registered(const Rec &rec) const { return reachable(rec) && !(rec.once && rec.fired); }

    // Registered, or a once handler that fired: its one delivery may still wait, and every
    // removal (remove, removeAndWait, a guard, its context's death, the registry's destruction)
    // cancels it.
    bool reachable(const Rec &rec) const { return !rec.removed && rec.generation == m_generation; }

    std::shared_ptr<Rec> makeRec(int c, const Op &op, bool delegate)
    {
        auto rec = std::make_shared<Rec>();
        rec->index = int(m_recs.size());
        rec->generation = m_generation;
        rec->ctx = c;
        rec->object = m_ctxs[c].object;
        rec->ctxState = m_ctxs[c].object->state;
        rec->obs = m_obs;
        rec->latest = op.latest;
        rec->once = op.once;
        rec->delegate = delegate;
        rec->queued = op.queued;
        rec->priority = op.priority;
        rec->spinUs = op.spinUs;
        return rec;
    }

    static rio::HandlerOptions optionsOf(const Op &op)
    {
        rio::HandlerOptions o;
        o.priority = op.priority;
        o.connection = op.queued ? Qt::QueuedConnection : Qt::AutoConnection;
        o.delivery = op.latest ? rio::Delivery::Latest : rio::Delivery::Every;
        if (op.capacity >= 0)
            o.capacity = std::size_t(op.capacity);
        o.overflow = op.overflow == 0   ? rio::Overflow::DropOldest
                     : op.overflow == 1 ? rio::Overflow::DropNewest
                                        : rio::Overflow::Block;
        o.blockTimeout = std::chrono::milliseconds(op.blockTimeoutMs);
        o.minInterval = std::chrono::milliseconds(op.latest ? op.minIntervalMs : 0);
        o.once = op.once;
        return o;
    }

    void addHandler(const Op &op)
    {
        const int c = pickContext(op.pick);
        if (c < 0)
            return;
        std::shared_ptr<Rec> rec = makeRec(c, op, false);
        Ctx *object = m_ctxs[c].object;
        int form = op.form;
        if (form == 1 && object->memberRec)
            form = 0; // one member-function handler per context
        const rio::HandlerOptions options = optionsOf(op);
        switch (form) {
        case 0:
            rec->id = m_registry->add(object, [rec](const int &e) { rec->call(e); }, options);
            break;
        case 1:
            object->memberRec = rec;
            rec->id = m_registry->add(object, &Ctx::onEvent, options);
            break;
        default:
            rec->guard = m_registry->addScoped(object, [rec](const int &e) { rec->call(e); }, options);
            rec->id = rec->guard.id();
            break;
        }
        std::ostringstream what;
        what << "("
             << (form == 0   ? "lambda"
                 : form == 1 ? "member"
                             : "scoped")
             << " on ctx#" << c << ", " << (op.latest ? "Latest" : "Every") << ", prio " << op.priority
             << (op.once ? ", once" : "") << ")";
        rec->what = what.str();
        m_trace << " -> handler#" << rec->index << " on ctx#" << c << " (" << threadName(m_ctxs[c].thread)
                << ")";
        m_recs.push_back(std::move(rec));
    }

    // A notify batch while something else happens on the main thread: the handlers that a
    // racing removal or context deletion takes may or may not get each event of the batch.
    void notifyRacing(const Op &op)
    {
        std::vector<Rec *> raced;
        std::function<void()> during;
        if (op.race == 1) {
            if (Rec *rec = pickHandler(op.pick)) {
                raced.push_back(rec);
                during = [this, rec, form = op.form] { removeRec(*rec, form); };
            }
        } else if (op.race == 2) {
            during = [this, op] { moveContext(op); };
        } else if (op.race == 3) {
            if (const int c = pickContext(op.pick); c >= 0) {
                for (const auto &rec : m_recs)
                    if (rec->ctx == c && registered(*rec))
                        raced.push_back(rec.get());
                during = [this, c] { deleteContext(c, "its context's deletion"); };
            }
        }
        notifyBatch(op, raced, during);
    }

    // Notifies a batch from worker threads (and the main thread), joined before returning;
    // `during` runs on the main thread while the workers notify.
    void notifyBatch(const Op &op, const std::vector<Rec *> &raced = {},
                     const std::function<void()> &during = {})
    {
        const int batch = ++m_batch;
        const int senders = op.senders + (op.fromMain ? 1 : 0);
        std::vector<std::vector<int>> plan(static_cast<std::size_t>(senders));
        for (int s = 0; s < senders; ++s) {
            for (int k = 0; k < op.events; ++k) {
                m_events.push_back({batch, op.fromMain ? s : s + 1, k});
                plan[std::size_t(s)].push_back(int(m_events.size()) - 1);
            }
        }
        for (const auto &rec : m_recs) {
            if (!registered(*rec))
                continue;
            rec->lastBatch = batch;
            if (std::find(raced.begin(), raced.end(), rec.get()) != raced.end()) {
                rec->slack += rec->once ? 1 : std::uint64_t(senders) * std::uint64_t(op.events);
                rec->fired = rec->once;
                continue;
            }
            if (rec->once) {
                rec->fired = true;
                rec->sent = 1;
                rec->how = "its one run";
                continue;
            }
            rec->sent += std::uint64_t(senders) * std::uint64_t(op.events);
            rec->newest.clear();
            for (const auto &p : plan)
                rec->newest.insert(p.back());
        }
        // Where each Auto handler's context lives when the main thread's notifies start (a racing
        // move may change it before they end).
        std::vector<std::pair<Rec *, bool>> mainSends;
        if (op.fromMain)
            for (const auto &rec : m_recs)
                if (registered(*rec) && !rec->queued && !rec->latest)
                    mainSends.emplace_back(rec.get(), m_ctxs[rec->ctx].thread == 0);
        rio::QtRegistry<int> *registry = m_registry.get();
        std::vector<std::thread> workers;
        for (int s = op.fromMain ? 1 : 0; s < senders; ++s) {
            workers.emplace_back([registry, events = plan[std::size_t(s)]] {
                for (int e : events)
                    registry->notify(e);
            });
        }
        if (during)
            during();
        if (op.fromMain)
            for (int e : plan[0])
                registry->notify(e);
        for (auto &w : workers)
            w.join();
        for (auto [rec, onMainBefore] : mainSends) {
            const bool onMainAfter = m_ctxs[rec->ctx].thread == 0;
            const bool away = !onMainBefore || !onMainAfter;
            if ((onMainBefore || onMainAfter) && (rec->mainSentAway || away))
                rec->mainOrderLoose = true;
            rec->mainSentAway = rec->mainSentAway || away;
        }
    }

    void markRemoved(Rec &rec, const std::string &how)
    {
        rec.removed = true;
        rec.how = how;
    }

    Rec *pickHandler(int pick)
    {
        std::vector<Rec *> live;
        for (const auto &rec : m_recs)
            if (reachable(*rec) && !rec->delegate)
                live.push_back(rec.get());
        return live.empty() ? nullptr : live[std::size_t(pick) % live.size()];
    }

    void removeHandler(const Op &op)
    {
        if (Rec *rec = pickHandler(op.pick))
            removeRec(*rec, op.form);
    }

    void removeRec(Rec &rec, int form)
    {
        m_trace << " -> handler#" << rec.index;
        rec.droppedBefore = m_registry->droppedCount(rec.id);
        const int t = m_ctxs[rec.ctx].thread;
        // A once handler that a notify took is no longer registered: the call returns false,
        // and cancels its one delivery all the same (it never starts after the call returned).
        bool removed = false;
        switch (form) {
        case 0:
            if (rec.guard.isActive()) {
                markRemoved(rec, "its guard's reset");
                removed = rec.guard.reset();
            } else {
                markRemoved(rec, "remove()");
                removed = m_registry->remove(rec.id);
            }
            sync(t); // a call that had begun on its thread has ended
            rec.closed.store(true, std::memory_order_release);
            break;
        case 1:
            markRemoved(rec, "remove() on its thread");
            runOn(t, [&] {
                removed = m_registry->remove(rec.id);
                rec.closed.store(true, std::memory_order_release);
            });
            break;
        default:
            markRemoved(rec, "removeAndWait()");
            removed = m_registry->removeAndWait(rec.id);
            rec.closed.store(true, std::memory_order_release);
            break;
        }
        if (!removed)
            m_trace << " (returned false)";
    }

    // Deletes context `c` on its thread; its handlers are removed with it.
    void deleteContext(int c, const std::string &how)
    {
        std::vector<Rec *> gone = prepareDeath(c, how);
        CtxModel &ctx = m_ctxs[c];
        Ctx *object = ctx.object;
        ctx.alive = false;
        runOn(ctx.thread, [&] {
            delete object;
            for (Rec *rec : gone)
                rec->closed.store(true, std::memory_order_release);
        });
        m_trace << " -> ctx#" << c;
    }

    std::vector<Rec *> prepareDeath(int c, const std::string &how)
    {
        std::vector<Rec *> gone;
        for (const auto &rec : m_recs) {
            if (rec->ctx != c || rec->removed)
                continue;
            if (registered(*rec))
                rec->droppedBefore = m_registry->droppedCount(rec->id);
            markRemoved(*rec, rec->fired && rec->once ? how + " after its one run" : how);
            gone.push_back(rec.get());
        }
        return gone;
    }

    void moveContext(const Op &op)
    {
        const int c = pickContext(op.pick);
        if (c < 0 || m_ctxs[c].thread == op.target)
            return;
        CtxModel &ctx = m_ctxs[c];
        QThread *destination = qthread(op.target);
        Ctx *object = ctx.object;
        runOn(ctx.thread, [&] { object->moveToThread(destination); });
        m_trace << " -> ctx#" << c << " from " << threadName(ctx.thread);
        ctx.thread = op.target;
        ctx.everMoved = true;
    }

    // Delegates: `count` short-lived contexts with a handler each, created on the thread, then a
    // notify while the thread's loop is busy, then the delegates deleted before the loop drains.
    void churn(const Op &op)
    {
        const int t = op.thread;
        std::vector<int> delegates;
        for (int i = 0; i < op.count; ++i) {
            const int c = addContext(t, true);
            delegates.push_back(c);
            Op add;
            add.priority = op.priority;
            std::shared_ptr<Rec> rec = makeRec(c, add, true);
            Ctx *object = m_ctxs[c].object;
            runOn(t, [&] {
                rec->id = m_registry->add(object, [rec](const int &e) { rec->call(e); }, optionsOf(add));
            });
            rec->what = "(delegate on ctx#" + std::to_string(c) + ", Every, prio " +
                        std::to_string(op.priority) + ")";
            m_recs.push_back(std::move(rec));
        }
        if (op.reverse)
            std::reverse(delegates.begin(), delegates.end());
        auto deleteAll = [&] {
            for (int c : delegates)
                deleteContextHere(c);
        };
        if (t == 0) {
            notifyBatch(op); // the main loop does not run until the next event processing
            for (int c : delegates)
                prepareDeath(c, "its context's deletion");
            deleteAll();
            return;
        }
        auto gate = std::make_shared<std::latch>(1);
        auto entered = std::make_shared<std::latch>(1);
        auto done = std::make_shared<std::latch>(1);
        m_threads[t]->post([&, gate, entered, done] {
            entered->count_down();
            gate->wait();
            deleteAll();
            done->count_down();
        });
        entered->wait();
        notifyBatch(op);
        for (int c : delegates)
            prepareDeath(c, "its context's deletion");
        gate->count_down();
        done->wait();
    }

    // On the context's own thread (the caller is there).
    void deleteContextHere(int c)
    {
        CtxModel &ctx = m_ctxs[c];
        std::vector<Rec *> gone;
        for (const auto &rec : m_recs)
            if (rec->ctx == c)
                gone.push_back(rec.get());
        delete ctx.object;
        ctx.alive = false;
        for (Rec *rec : gone)
            rec->closed.store(true, std::memory_order_release);
    }

    void exitThread(const Op &op)
    {
        const int t = op.thread;
        const int target = op.target == t ? 0 : op.target;
        std::vector<int> here;
        for (int i = 0; i < int(m_ctxs.size()); ++i)
            if (m_ctxs[i].alive && m_ctxs[i].thread == t)
                here.push_back(i);
        std::vector<Rec *> gone;
        if (op.moveInFinished) {
            std::vector<Ctx *> objects;
            for (int c : here) {
                objects.push_back(m_ctxs[c].object);
                m_ctxs[c].thread = target;
                m_ctxs[c].everMoved = true;
            }
            QThread *destination = qthread(target);
            QObject::connect(
                m_threads[t].get(), &QThread::finished, m_threads[t].get(),
                [objects, destination] {
                    for (Ctx *o : objects)
                        o->moveToThread(destination);
                },
                Qt::DirectConnection);
            m_threads[t]->stop();
            m_ended.push_back(std::move(m_threads[t])); // deleting it would let stuck deliveries go
            m_threads[t] = std::make_unique<ReceiverThread>(t);
            return;
        }
        if (op.moveFirst) {
            QThread *destination = qthread(target);
            std::vector<Ctx *> objects;
            for (int c : here)
                objects.push_back(m_ctxs[c].object);
            runOn(t, [&] {
                for (Ctx *o : objects)
                    o->moveToThread(destination);
            });
            for (int c : here) {
                m_ctxs[c].thread = target;
                m_ctxs[c].everMoved = true;
            }
        } else {
            std::vector<Ctx *> objects;
            for (int c : here) {
                for (Rec *r : prepareDeath(c, "its context's death with its thread"))
                    gone.push_back(r);
                objects.push_back(m_ctxs[c].object);
                m_ctxs[c].alive = false;
            }
            ReceiverThread *thread = m_threads[t].get();
            runOn(t, [&] { thread->doomed = objects; });
        }
        m_threads[t]->stop();
        for (Rec *rec : gone)
            rec->closed.store(true, std::memory_order_release);
        m_threads[t] = std::make_unique<ReceiverThread>(t);
    }

    void teardown()
    {
        if (m_tornDown)
            return;
        m_tornDown = true;
        for (const auto &rec : m_recs)
            rec->guard = {};
        m_registry.reset();
        for (auto &ctx : m_ctxs) {
            if (!ctx.alive)
                continue;
            ctx.alive = false;
            Ctx *object = ctx.object;
            runOn(ctx.thread, [object] { delete object; });
        }
        QCoreApplication::sendPostedEvents();
        m_threads[1].reset();
        m_threads[2].reset();
        m_ended.clear();
        QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
    }

    // --- the checks --------------------------------------------------------------------------

    quint64 countedDrops(const Rec &rec)
    {
        const quint64 signalled = signalledDrops(rec);
        if (registered(rec))
            return std::max<quint64>(m_registry->droppedCount(rec.id), signalled);
        return std::max(rec.droppedBefore, signalled);
    }

    // A `registryio` drop line: "handler N <of its registry, added at ...>: TOTAL queued
    // deliveries dropped so far (WHY)", a rate-limited one with "; SINCE since the last line"; no
    // match for any other line.
    static QRegularExpressionMatch dropLine(const QString &line)
    {
        static const QRegularExpression re(QStringLiteral(
            R"(^handler (\d+)\b.*: (\d+) queued deliveries dropped so far \(([^()]*)\)(?:; \d+ since the last line)?$)"));
        return re.match(line);
    }

    // The highest total the `registryio` log gave for `id` in `lines`.
    static quint64 loggedDrops(const QStringList &lines, rio::HandlerId id)
    {
        quint64 total = 0;
        for (const QString &line : lines) {
            const QRegularExpressionMatch m = dropLine(line);
            if (m.hasMatch() && m.captured(1).toULongLong() == id.value())
                total = std::max<quint64>(total, m.captured(2).toULongLong());
        }
        return total;
    }

    quint64 signalledDrops(const Rec &rec)
    {
        std::lock_guard lock(m_obs->mutex);
        const auto it = m_obs->signalled.find({rec.generation, rec.id.value()});
        return it == m_obs->signalled.end() ? 0 : it->second;
    }

    // Empty when `rec` meets the model; `final` adds the checks that waiting cannot change.
    std::string check(Rec &rec, bool final)
    {
        std::vector<int> received;
        std::string violation;
        {
            std::lock_guard lock(rec.mutex);
            received = rec.received;
            violation = rec.violation;
        }
        std::ostringstream e;
        if (final && !violation.empty())
            e << violation << "; ";
        if (final) {
            // Notify order per sending thread. Worker batches are joined, so a later batch's event
            // never precedes an earlier one; within a batch, each worker's events in order. The
            // main thread's events are ordered among themselves only: an Auto handler on the main
            // thread runs them directly, ahead of what is queued there (as a Qt connection does),
            // and not even that when some were queued while its context lived elsewhere.
            int maxBatch = 0;
            std::map<int, int> lastK;
            std::pair<int, int> lastMain{0, -1};
            for (int ev : received) {
                const EventInfo &info = m_events[std::size_t(ev)];
                bool wrong = false;
                if (info.sender == 0) {
                    wrong = !rec.mainOrderLoose && std::make_pair(info.batch, info.k) <= lastMain;
                    lastMain = {info.batch, info.k};
                } else {
                    wrong = info.batch < maxBatch;
                    if (info.batch > maxBatch) {
                        maxBatch = info.batch;
                        lastK.clear();
                    }
                    const auto it = lastK.find(info.sender);
                    wrong = wrong || (it != lastK.end() && info.k <= it->second);
                    lastK[info.sender] = info.k;
                }
                if (wrong) {
                    e << "event " << ev << " (batch " << info.batch << ", sender " << info.sender << ", #"
                      << info.k << ") received out of notify order; ";
                    break;
                }
            }
        }
        const std::uint64_t got = received.size();
        const bool live = !rec.removed && rec.generation == m_generation;
        if (rec.latest && !rec.once) {
            if (got > rec.sent + rec.slack)
                e << "received " << got << " of " << rec.sent + rec.slack << " sent; ";
            // A direct call on the main thread never overtakes a scheduled delivery: it gives it
            // the newer event instead.
            const bool newestSeen = got != 0 && rec.newest.count(received.back()) != 0;
            if (live && rec.sent > 0 && !newestSeen) {
                e << "the newest event sent (one of";
                for (int n : rec.newest)
                    e << " " << n;
                e << ") was never delivered (last received: "
                  << (got == 0 ? std::string("none") : std::to_string(received.back())) << ", " << got
                  << " received of " << rec.sent << " sent)";
                e << "; ";
            }
        } else {
            const quint64 drops = countedDrops(rec);
            const bool relaxed = rec.removed && uncountedDiscardsAccepted();
            // A removal that raced a notify batch: between what was sent before and all of it.
            const bool ok = relaxed ? got + drops <= rec.sent + rec.slack
                                    : got + drops >= rec.sent && got + drops <= rec.sent + rec.slack;
            if (!ok) {
                e << "received " << got << " + counted drops " << drops << " != " << rec.sent;
                if (rec.slack != 0)
                    e << " (up to " << rec.sent + rec.slack << " with a racing removal)";
                e << " sent while registered" << (rec.removed ? " (then removed by " + rec.how + ")" : "")
                  << "; ";
            }
        }
        return e.str();
    }

    void quiesce()
    {
        const int deadlineMs = envInt("RIO_MODEL_DEADLINE_MS", 10000);
        const int quietMs = envInt("RIO_MODEL_QUIET_MS", RIO_TEST_SANITIZED ? 1500 : 500);
        QElapsedTimer total;
        total.start();
        QElapsedTimer quiet;
        quiet.start();
        std::size_t lastProgress = ~std::size_t(0);
        for (;;) {
            syncAll();
            bool met = true;
            std::size_t progress = 0;
            for (const auto &rec : m_recs) {
                {
                    std::lock_guard lock(rec->mutex);
                    progress += rec->received.size();
                }
                if (met && !check(*rec, false).empty())
                    met = false;
            }
            {
                std::lock_guard lock(m_obs->mutex);
                for (const auto &entry : m_obs->signalled)
                    progress += entry.second;
            }
            if (met)
                return;
            if (progress != lastProgress) {
                lastProgress = progress;
                quiet.restart();
            }
            // Nothing moved for a while although every loop ran what it had (a wait for an
            // interval is at most 30 ms): what is missing will not come.
            if (quiet.elapsed() > quietMs || total.elapsed() > deadlineMs)
                return;
            QTest::qWait(2);
        }
    }

    // Per receiving thread, one notify's deliveries run in priority order (queued Every handlers
    // whose context never moved, events notified from worker threads).
    void checkPriorities(std::ostringstream &errors)
    {
        std::vector<Observations::Entry> log;
        {
            std::lock_guard lock(m_obs->mutex);
            log = m_obs->log;
        }
        std::map<std::pair<int, int>, std::pair<int, int>> lastSeen; // (thread, event) -> (priority, handler)
        for (const auto &entry : log) {
            const Rec &rec = *m_recs[std::size_t(entry.handler)];
            if (rec.latest || m_ctxs[rec.ctx].everMoved || m_events[std::size_t(entry.event)].sender == 0)
                continue;
            const auto key = std::make_pair(entry.threadTag, entry.event);
            const auto it = lastSeen.find(key);
            if (it != lastSeen.end() && it->second.first < entry.priority) {
                errors << "  event " << entry.event << ": handler#" << entry.handler << " (prio "
                       << entry.priority << ") ran after handler#" << it->second.second << " (prio "
                       << it->second.first << ") on the same thread\n";
                return;
            }
            lastSeen[key] = {entry.priority, entry.handler};
        }
    }

    // Drops were counted: the `registryio` category said so. Per handler, the log never gives a
    // total above its counted drops (overflow and suspension lines are rate-limited, so it may
    // give less), and a removal's or a context's death's line, never rate-limited, gives the
    // final total: the same as the counted drops.
    void checkLog(std::ostringstream &errors)
    {
        quint64 drops = 0;
        for (const auto &rec : m_recs)
            if (!rec->latest || rec->once)
                drops += countedDrops(*rec);
        if (drops != 0 && logCount() == m_logBaseline)
            errors << "  " << drops << " drops counted, none logged to the registryio category\n";
        const QStringList messages = logCapture().messages();
        for (const auto &rec : m_recs) {
            const qsizetype from = m_logStart[std::size_t(rec->generation) - 1];
            const qsizetype to = std::size_t(rec->generation) < m_logStart.size()
                                     ? m_logStart[std::size_t(rec->generation)]
                                     : messages.size();
            const QStringList lines = messages.mid(from, to - from);
            const quint64 logged = loggedDrops(lines, rec->id);
            const quint64 counted = countedDrops(*rec);
            if (logged > counted || (loggedFinal(lines, rec->id) && logged != counted)) {
                errors << "  handler#" << rec->index << " " << rec->what << ": the log gives " << logged
                       << " drops, " << counted << " counted\n";
                return;
            }
        }
    }

    // Whether the `registryio` log in `lines` reports a removal's or a context's death's drops
    // for `id` (each such line gives the total so far, and none is left out).
    static bool loggedFinal(const QStringList &lines, rio::HandlerId id)
    {
        return std::any_of(lines.begin(), lines.end(), [id](const QString &line) {
            const QRegularExpressionMatch m = dropLine(line);
            return m.hasMatch() && m.captured(1).toULongLong() == id.value() &&
                   (m.captured(3) == QLatin1String("it was removed with deliveries waiting") ||
                    m.captured(3) == QLatin1String("its context was destroyed with deliveries waiting"));
        });
    }

public:
    static riotest::LogCapture &logCapture()
    {
        static riotest::LogCapture capture;
        return capture;
    }
    static int logCount() { return logCapture().count(); }

private:
    std::unique_ptr<ReceiverThread> m_threads[3];
    std::vector<std::unique_ptr<ReceiverThread>> m_ended; // ended by ExitThread moving in finished()
    std::unique_ptr<rio::QtRegistry<int>> m_registry;
    std::shared_ptr<Observations> m_obs = std::make_shared<Observations>();
    std::vector<CtxModel> m_ctxs;
    std::vector<std::shared_ptr<Rec>> m_recs;
    std::vector<EventInfo> m_events{EventInfo{0, 0, 0}}; // event 0 is never sent
    int m_generation = 0;
    int m_batch = 0;
    int m_step = 0;
    int m_logBaseline = 0;
    std::vector<qsizetype> m_logStart; // per registry generation, its first line in the log
    bool m_tornDown = false;
    std::ostringstream m_trace;
};

// The failure of the last failing case: RapidCheck's final counterexample (its own report may
// lose the message when a shrunk case is run again).
std::string g_lastFailure;

void runCase(const std::vector<Op> &ops)
{
    std::string failure;
    {
        // A case that hangs (a deadlock in a removal, a stuck drain) fails with its operations.
        std::string what = "the model case [";
        for (const Op &op : ops)
            what += describe(op) + "; ";
        what += "]";
        const riotest::Watchdog watchdog(what.c_str(), std::chrono::seconds(120));
        Case c(Case::logCount());
        for (const Op &op : ops)
            c.apply(op);
        failure = c.finish();
    }
    if (!failure.empty()) {
        g_lastFailure = failure;
        RC_FAIL(failure);
    }
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    app.thread()->setObjectName(QStringLiteral("main"));
    Case::logCapture();
    if (std::getenv("RC_PARAMS") == nullptr) {
        // Fewer cases under the sanitizers, which slow every thread handover down.
        const int cases = envInt("RIO_MODEL_CASES", RIO_TEST_SANITIZED ? 300 : 1000);
        std::string params = "max_success=" + std::to_string(cases);
        if (const char *seed = std::getenv("RIO_MODEL_SEED"); seed != nullptr && *seed != '\0')
            params += std::string(" seed=") + seed;
        qputenv("RC_PARAMS", QByteArray::fromStdString(params));
    }
    QElapsedTimer timer;
    timer.start();
    const bool ok =
        rc::check("queued deliveries: nothing lost uncounted, every call on its context's thread", [] {
            // Every field spans its whole range (RapidCheck's size would
            // keep small cases near the minimum); the length grows with size.
            const double maxOps = envInt("RIO_MODEL_MAX_OPS", 30);
            runCase(*rc::gen::scale(maxOps / 100.0,
                                    rc::gen::container<std::vector<Op>>(rc::gen::resize(100, genOp()))));
        });
    if (!ok)
        std::printf("The counterexample's failure:\n%s", g_lastFailure.c_str());
    std::printf("%s in %lld ms\n", ok ? "PASS" : "FAIL", static_cast<long long>(timer.elapsed()));
    return ok ? 0 : 1;
}
