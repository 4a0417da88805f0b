// SPDX-License-Identifier: MIT
// libFuzzer target: reads the input as a sequence of registry operations and checks every result
// against a reference model (which handlers ran, in which order, how many times, what each call
// returned, which closures are alive). Any mismatch aborts, which libFuzzer reports as a crash.
// Semantics checked: a notify skips handlers removed before it reaches them (also by an earlier
// handler of the same notify) and never sees handlers added during it; a removed handler's
// closure waits for a reclaiming call of its registry and is never destroyed inside a notify.

#include <registryio/registry.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

#define RIO_FUZZ_CHECK(cond)                                                                                 \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            std::fprintf(stderr, "fuzz_registry: model mismatch: %s (line %d)\n", #cond, __LINE__);          \
            std::abort();                                                                                    \
        }                                                                                                    \
    } while (false)

// What a handler does when it runs.
enum class Kind : std::uint8_t {
    Plain,
    ThrowStd,
    ThrowOther,
    NestedNotify,
    RemoveSelf,
    RemoveAndWaitSelf,
    RemoveOther,
    AddPlain,
    Clear,
    Count
};

// One handler as the harness knows it; closures point at their spec.
struct Spec
{
    std::uint64_t id = 0;
    Kind kind = Kind::Plain;
    int arg = 0;
    unsigned generation = 0;
    int live = 0;    // closures alive that own this handler
    int running = 0; // calls in progress (nested notifies may re-enter)
};

struct ModelEntry
{
    std::uint64_t id;
    int priority;
    bool once;
    Spec *spec;
};

struct GuardSlot
{
    rio::HandlerGuard guard;
    unsigned generation = 0;
};

struct State;
State *state = nullptr; // the harness is single-threaded; handlers find it here

// The innermost registry call in progress: a closure must never be destroyed while it is a
// notify (a notify never reclaims; only a writer call does, even inside a handler).
enum class Call : std::uint8_t { None, Notify, Writer };
Call innermost = Call::None;

struct CallScope
{
    explicit CallScope(Call c) : previous(std::exchange(innermost, c)) { }
    ~CallScope() { innermost = previous; }
    CallScope(const CallScope &) = delete;
    CallScope &operator=(const CallScope &) = delete;
    Call previous;
};

constexpr int maxDepth = 2; // nested notifies: event value is the depth
// Bounds on one input's work: nested notifies multiply it (n handlers that each notify make n^3
// calls), so without them an input of a few hundred bytes ran for minutes. Past the call budget
// no notify nests and top-level notifies are skipped; past maxHandlers adds are skipped.
constexpr std::size_t callBudget = 4096;
constexpr std::size_t maxHandlers = 64;

struct State
{
    std::deque<Spec> specs;
    std::unique_ptr<rio::Registry<int>> registry;
    unsigned generation = 0;

    // Reference model of the current registry.
    std::vector<ModelEntry> handlers; // priority order, stable ties
    std::uint64_t lastId = 0;
    std::set<std::uint64_t> fired; // once-handlers that ran
    int exceptionMode = 0;         // 0 none, 1 record, 2 record then throw std, 3 record then throw int

    // What happened, and what the model expects.
    std::vector<std::uint64_t> calls, expectedCalls;
    std::vector<std::pair<std::uint64_t, std::string>> exceptions, expectedExceptions;
    std::vector<std::uint64_t> results, expectedResults;
    // Decisions the model made for handlers, replayed by the real handlers in call order.
    std::deque<Spec *> pendingAdds;
    std::deque<std::uint64_t> pendingTargets;
    std::deque<bool> pendingNests; // whether each NestedNotify call notifies (the call budget)
    std::size_t modelCalls = 0;    // handler calls the model expected so far

    std::vector<GuardSlot> guards;

    Spec &newSpec(Kind kind, int arg)
    {
        Spec &s = specs.emplace_back();
        s.kind = kind;
        s.arg = arg;
        s.generation = generation;
        return s;
    }

    bool modelContains(std::uint64_t id) const
    {
        for (const ModelEntry &e : handlers)
            if (e.id == id)
                return true;
        return false;
    }

    bool modelErase(std::uint64_t id)
    {
        for (auto it = handlers.begin(); it != handlers.end(); ++it) {
            if (it->id == id) {
                handlers.erase(it);
                return true;
            }
        }
        return false;
    }

    void modelInsert(std::uint64_t id, int priority, bool once, Spec *spec)
    {
        auto it = handlers.begin();
        while (it != handlers.end() && it->priority >= priority)
            ++it;
        handlers.insert(it, ModelEntry{id, priority, once, spec});
    }

    void modelNotify(int depth)
    {
        const std::vector<ModelEntry> snapshot = handlers;
        for (const ModelEntry &e : snapshot) {
            if (!modelContains(e.id))
                continue; // removed before this notify reached it
            if (e.once) {
                RIO_FUZZ_CHECK(fired.insert(e.id).second);
                modelErase(e.id); // unpublished before it runs
            }
            expectedCalls.push_back(e.id);
            ++modelCalls;
            switch (e.spec->kind) {
            case Kind::Plain:
            case Kind::Count:
                break;
            case Kind::ThrowStd:
                if (exceptionMode != 0)
                    expectedExceptions.emplace_back(e.id, "boom " + std::to_string(e.id));
                break;
            case Kind::ThrowOther:
                if (exceptionMode != 0)
                    expectedExceptions.emplace_back(e.id, std::string());
                break;
            case Kind::NestedNotify: {
                const bool nest = depth < maxDepth && modelCalls < callBudget;
                pendingNests.push_back(nest);
                if (nest)
                    modelNotify(depth + 1);
                break;
            }
            case Kind::RemoveSelf:
            case Kind::RemoveAndWaitSelf:
                expectedResults.push_back(modelErase(e.id));
                break;
            case Kind::RemoveOther: {
                const std::uint64_t target = static_cast<std::uint64_t>(e.spec->arg) % (lastId + 2);
                pendingTargets.push_back(target);
                expectedResults.push_back(target != 0 && modelErase(target));
                break;
            }
            case Kind::AddPlain: {
                if (handlers.size() >= maxHandlers) {
                    pendingAdds.push_back(nullptr); // skipped
                    expectedResults.push_back(0);
                    break;
                }
                Spec &added = newSpec(Kind::Plain, 0);
                added.id = ++lastId;
                modelInsert(added.id, e.spec->arg, false, &added);
                pendingAdds.push_back(&added);
                expectedResults.push_back(added.id);
                break;
            }
            case Kind::Clear:
                handlers.clear();
                break;
            }
        }
    }
};

// The registered callable: counts its live owning copies, so a double destruction or a leak of
// a closure shows up, and a destruction while its handler runs aborts.
struct Closure
{
    explicit Closure(Spec *s) : spec(s) { ++spec->live; }
    Closure(const Closure &other) : spec(other.spec) { ++spec->live; }
    Closure(Closure &&other) noexcept : spec(other.spec), owner(std::exchange(other.owner, false)) { }
    Closure &operator=(const Closure &) = delete;
    Closure &operator=(Closure &&) = delete;
    ~Closure()
    {
        if (!owner)
            return;
        RIO_FUZZ_CHECK(spec->running == 0);
        RIO_FUZZ_CHECK(spec->live > 0);
        RIO_FUZZ_CHECK(innermost != Call::Notify);
        --spec->live;
    }

    void operator()(const int &depth) const;

    Spec *spec;
    bool owner = true;
};

struct RunningScope
{
    explicit RunningScope(Spec *s) : spec(s) { ++spec->running; }
    ~RunningScope() { --spec->running; }
    RunningScope(const RunningScope &) = delete;
    RunningScope &operator=(const RunningScope &) = delete;
    Spec *spec;
};

void Closure::operator()(const int &depth) const
{
    State &st = *state;
    RIO_FUZZ_CHECK(spec->live > 0);
    RIO_FUZZ_CHECK(spec->generation == st.generation);
    st.calls.push_back(spec->id);
    RunningScope running(spec);
    rio::Registry<int> &registry = *st.registry;
    // Inside a notify; the registry calls below (remove, add, clear) run as writer calls.
    const bool writes = spec->kind == Kind::RemoveSelf || spec->kind == Kind::RemoveAndWaitSelf ||
                        spec->kind == Kind::RemoveOther || spec->kind == Kind::AddPlain ||
                        spec->kind == Kind::Clear;
    CallScope scope(writes ? Call::Writer : Call::Notify);
    switch (spec->kind) {
    case Kind::Plain:
    case Kind::Count:
        break;
    case Kind::ThrowStd:
        throw std::runtime_error("boom " + std::to_string(spec->id));
    case Kind::ThrowOther:
        throw 42;
    case Kind::NestedNotify: {
        RIO_FUZZ_CHECK(!st.pendingNests.empty());
        const bool nest = st.pendingNests.front();
        st.pendingNests.pop_front();
        if (nest)
            registry.notify(depth + 1);
        break;
    }
    case Kind::RemoveSelf:
        st.results.push_back(registry.remove(rio::HandlerId{spec->id}));
        break;
    case Kind::RemoveAndWaitSelf:
        st.results.push_back(registry.removeAndWait(rio::HandlerId{spec->id}));
        break;
    case Kind::RemoveOther: {
        RIO_FUZZ_CHECK(!st.pendingTargets.empty());
        const std::uint64_t target = st.pendingTargets.front();
        st.pendingTargets.pop_front();
        st.results.push_back(registry.remove(rio::HandlerId{target}));
        break;
    }
    case Kind::AddPlain: {
        RIO_FUZZ_CHECK(!st.pendingAdds.empty());
        Spec *added = st.pendingAdds.front();
        st.pendingAdds.pop_front();
        st.results.push_back(added == nullptr ? 0 : registry.add(Closure(added), spec->arg).value());
        break;
    }
    case Kind::Clear:
        registry.clear();
        break;
    }
}

// Reads the input; past its end every read yields zero.
class Input
{
public:
    Input(const std::uint8_t *data, std::size_t size) : m_data(data), m_size(size) { }
    bool atEnd() const { return m_pos >= m_size; }
    std::uint8_t byte() { return m_pos < m_size ? m_data[m_pos++] : 0; }
    int priority()
    {
        const std::uint8_t b = byte();
        switch (b % 8) {
        case 0:
            return std::numeric_limits<int>::min();
        case 1:
            return std::numeric_limits<int>::max();
        default:
            return static_cast<int>(b / 8) % 5 - 2; // few distinct values: many ties
        }
    }

private:
    const std::uint8_t *m_data;
    std::size_t m_size;
    std::size_t m_pos = 0;
};

void setExceptionMode(State &st, int mode)
{
    st.exceptionMode = mode;
    if (mode == 0) {
        st.registry->clearExceptionHandler();
        return;
    }
    st.registry->setExceptionHandler([mode](const rio::ExceptionInfo &info) {
        RIO_FUZZ_CHECK(info.exception != nullptr);
        state->exceptions.emplace_back(info.handlerId.value(), info.message);
        if (mode == 2)
            throw std::logic_error("the callback throws too");
        if (mode == 3)
            throw 7;
    });
}

// Everything observable must match the model after each top-level operation.
void checkInvariants(State &st)
{
    RIO_FUZZ_CHECK(st.calls == st.expectedCalls);
    RIO_FUZZ_CHECK(st.exceptions == st.expectedExceptions);
    RIO_FUZZ_CHECK(st.results == st.expectedResults);
    RIO_FUZZ_CHECK(st.pendingAdds.empty() && st.pendingTargets.empty() && st.pendingNests.empty());
    RIO_FUZZ_CHECK(st.registry->size() == st.handlers.size());
    RIO_FUZZ_CHECK(st.registry->isEmpty() == st.handlers.empty());
    for (const ModelEntry &e : st.handlers)
        RIO_FUZZ_CHECK(st.registry->contains(rio::HandlerId{e.id}));
    RIO_FUZZ_CHECK(!st.registry->contains(rio::HandlerId{st.lastId + 1}));
    RIO_FUZZ_CHECK(!st.registry->contains(rio::HandlerId{}));
    // A registered handler's closure is alive; a removed one's is alive only while it waits
    // for reclamation (counted by pendingCount()); those of destroyed registries are gone.
    std::size_t waiting = 0;
    for (const Spec &s : st.specs) {
        RIO_FUZZ_CHECK(s.running == 0);
        const bool current = s.generation == st.generation && s.id != 0;
        const bool registered = current && st.modelContains(s.id);
        if (registered)
            RIO_FUZZ_CHECK(s.live == 1);
        else if (current)
            RIO_FUZZ_CHECK(s.live == 0 || s.live == 1);
        else
            RIO_FUZZ_CHECK(s.live == 0);
        waiting += current && !registered && s.live == 1 ? 1 : 0;
    }
    RIO_FUZZ_CHECK(waiting <= st.registry->pendingCount());
}

// After synchronize() outside any notify, no removed handler's closure is left.
void checkReclaimed(State &st)
{
    for (const Spec &s : st.specs) {
        const bool registered = s.generation == st.generation && s.id != 0 && st.modelContains(s.id);
        RIO_FUZZ_CHECK(s.live == (registered ? 1 : 0));
    }
}

// Destroys the registry (its guards survive and become inert) and starts a fresh one.
void newRegistry(State &st)
{
    st.registry.reset();
    ++st.generation;
    st.handlers.clear();
    st.fired.clear();
    st.lastId = 0;
    st.exceptionMode = 0;
    st.registry = std::make_unique<rio::Registry<int>>();
}

rio::HandlerId pickId(State &st, std::uint8_t b)
{
    return rio::HandlerId{b % (st.lastId + 2)}; // 0 (invalid), a live or stale id, or an unknown one
}

void addHandler(State &st, Input &in, bool once, bool scoped)
{
    const std::uint8_t k = in.byte();
    const Kind kind = static_cast<Kind>(k % static_cast<std::uint8_t>(Kind::Count));
    const int arg = kind == Kind::AddPlain ? in.priority() : static_cast<int>(in.byte());
    const int priority = in.priority();
    if (st.handlers.size() >= maxHandlers)
        return; // its bytes are read: the rest of the input means the same
    Spec &spec = st.newSpec(kind, arg);
    spec.id = st.lastId + 1;
    rio::HandlerId id;
    if (scoped) {
        GuardSlot slot;
        slot.guard = st.registry->addScoped(Closure(&spec), priority);
        slot.generation = st.generation;
        id = slot.guard.id();
        st.guards.push_back(std::move(slot));
    } else {
        id = once ? st.registry->addOnce(Closure(&spec), priority)
                  : st.registry->add(Closure(&spec), priority);
    }
    RIO_FUZZ_CHECK(id.value() == spec.id);
    st.lastId = id.value();
    st.modelInsert(spec.id, priority, once, &spec);
}

bool guardOwnsLive(State &st, const GuardSlot &slot)
{
    return slot.guard.isActive() && slot.generation == st.generation &&
           st.modelContains(slot.guard.id().value());
}

void runOne(State &st, Input &in)
{
    const std::uint8_t op = in.byte();
    switch (op % 14) {
    case 0:
    case 1:
        addHandler(st, in, false, false);
        break;
    case 2:
        addHandler(st, in, true, false);
        break;
    case 3: {
        const rio::HandlerId id = pickId(st, in.byte());
        const bool expected = id.isValid() && st.modelErase(id.value());
        RIO_FUZZ_CHECK(st.registry->remove(id) == expected);
        break;
    }
    case 4: {
        const rio::HandlerId id = pickId(st, in.byte());
        const bool expected = id.isValid() && st.modelErase(id.value());
        RIO_FUZZ_CHECK(st.registry->removeAndWait(id) == expected);
        // Whatever it returned, the handler's closure is destroyed by now (nothing runs it).
        for (const Spec &s : st.specs) {
            if (s.generation == st.generation && s.id == id.value())
                RIO_FUZZ_CHECK(s.live == 0);
        }
        break;
    }
    case 5:
        addHandler(st, in, false, true);
        break;
    case 6: { // drop a guard
        if (st.guards.empty())
            break;
        const std::size_t i = in.byte() % st.guards.size();
        const bool expected = guardOwnsLive(st, st.guards[i]);
        if (expected)
            st.modelErase(st.guards[i].guard.id().value());
        if (in.byte() % 2 == 0) {
            RIO_FUZZ_CHECK(st.guards[i].guard.reset() == expected);
        } else {
            st.guards.erase(st.guards.begin() + static_cast<std::ptrdiff_t>(i));
        }
        break;
    }
    case 7: { // release a guard: the handler stays
        if (st.guards.empty())
            break;
        GuardSlot &slot = st.guards[in.byte() % st.guards.size()];
        const rio::HandlerId before = slot.guard.id();
        RIO_FUZZ_CHECK(slot.guard.release() == before);
        RIO_FUZZ_CHECK(!slot.guard.isActive());
        break;
    }
    case 8: { // move-assign one guard onto another: the target's handler goes
        if (st.guards.size() < 2)
            break;
        const std::size_t to = in.byte() % st.guards.size();
        const std::size_t from = in.byte() % st.guards.size();
        if (to == from)
            break;
        if (guardOwnsLive(st, st.guards[to]))
            st.modelErase(st.guards[to].guard.id().value());
        const rio::HandlerId moved = st.guards[from].guard.id();
        st.guards[to].guard = std::move(st.guards[from].guard);
        st.guards[to].generation = st.guards[from].generation;
        RIO_FUZZ_CHECK(st.guards[to].guard.id() == moved);
        RIO_FUZZ_CHECK(!st.guards[from].guard.isActive());
        break;
    }
    case 9:
        st.handlers.clear();
        st.registry->clear();
        break;
    case 10:
    case 11: {
        if (st.modelCalls >= callBudget)
            break;
        st.modelNotify(0);
        CallScope notifying(Call::Notify);
        st.registry->notify(0);
        break;
    }
    case 12:
        setExceptionMode(st, in.byte() % 4);
        break;
    case 13: {
        const std::uint8_t sub = in.byte();
        if (sub % 3 == 0) {
            newRegistry(st); // guards of the old one outlive it
        } else if (sub % 3 == 1) {
            bool threw = false;
            try {
                st.registry->add(std::function<void(const int &)>{});
            } catch (const std::invalid_argument &) {
                threw = true;
            }
            RIO_FUZZ_CHECK(threw);
            try {
                st.registry->add(static_cast<void (*)()>(nullptr));
                threw = false;
            } catch (const std::invalid_argument &) {
            }
            RIO_FUZZ_CHECK(threw);
        } else {
            st.registry->synchronize();
            checkReclaimed(st);
        }
        break;
    }
    }
    checkInvariants(st);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    State st;
    state = &st;
    st.registry = std::make_unique<rio::Registry<int>>();
    Input in(data, size);
    for (int ops = 0; !in.atEnd() && ops < 512; ++ops)
        runOne(st, in);
    // Destroy the registry while guards still exist: they must become inert.
    st.registry.reset();
    for (const Spec &s : st.specs)
        RIO_FUZZ_CHECK(s.live == 0);
    for (GuardSlot &slot : st.guards)
        RIO_FUZZ_CHECK(!slot.guard.reset());
    st.guards.clear();
    RIO_FUZZ_CHECK(rio::detail::pendingCountAll() == 0);
    state = nullptr;
    return 0;
}
