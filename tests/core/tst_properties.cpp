// SPDX-License-Identifier: MIT
// RapidCheck properties: random sequences of add/addOnce/remove/removeAndWait/clear/notify on a
// Registry agree with a simple reference model (which handlers ran, in which order, how often;
// ids; sizes; contains; remove's result), also when handlers change the registry while it
// notifies (removals apply at once to the notify in progress, additions do not).
// Reproduce a failure with RC_PARAMS="seed=<n>".
#include "rio_check.h"
#include <registryio/registry.h>

#include <rapidcheck.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <tuple>
#include <vector>

namespace {

// The reference model: live handlers in registration order.
struct Model
{
    struct Handler
    {
        std::uint64_t id;
        int priority;
        bool once;
        std::uint64_t removes = 0; // reentrant model: the id this handler removes when called
    };
    std::vector<Handler> live;
    std::uint64_t lastId = 0;

    bool contains(std::uint64_t id) const
    {
        return std::any_of(live.begin(), live.end(), [id](const Handler &h) { return h.id == id; });
    }
    bool remove(std::uint64_t id)
    {
        const auto it = std::find_if(live.begin(), live.end(), [id](const Handler &h) { return h.id == id; });
        if (it == live.end())
            return false;
        live.erase(it);
        return true;
    }
    // The call order of a notify: by descending priority, ties in registration order.
    std::vector<Handler> snapshot() const
    {
        std::vector<Handler> order = live;
        std::stable_sort(order.begin(), order.end(),
                         [](const Handler &a, const Handler &b) { return a.priority > b.priority; });
        return order;
    }
};

// Picks an id to remove: invalid, any id handed out so far (live or stale), or one not yet used.
std::uint64_t pickId(const Model &model, int pick)
{
    const auto choices = model.lastId + 2;
    const std::uint64_t n = std::uint64_t(pick) % choices;
    return n; // 0 = invalid, 1..lastId = handed out, lastId + 1 = unknown
}

// Checks the registry's counts and membership against the model for every id up to one past
// the last handed out.
void checkState(const rio::Registry<int> &registry, const Model &model)
{
    RC_ASSERT(registry.size() == model.live.size());
    RC_ASSERT(registry.isEmpty() == model.live.empty());
    for (std::uint64_t id = 0; id <= model.lastId + 1; ++id)
        RC_ASSERT(registry.contains(rio::HandlerId{id}) == model.contains(id));
}

using Op = std::tuple<int, int, int>; // kind, priority, pick

rc::Gen<std::vector<Op>> operations()
{
    return rc::gen::container<std::vector<Op>>(
        rc::gen::tuple(rc::gen::inRange(0, 8), rc::gen::inRange(-3, 4), rc::gen::inRange(0, 1000)));
}

// Applies plain operations; handlers log their id when called.
void runPlain(const std::vector<Op> &ops)
{
    rio::Registry<int> registry;
    Model model;
    std::vector<std::uint64_t> log;
    for (const auto &[kind, priority, pick] : ops) {
        switch (kind) {
        case 0:
        case 1:
        case 2: { // add / addOnce
            const bool once = kind == 2;
            const std::uint64_t expectedId = model.lastId + 1;
            auto handler = [&log, expectedId] { log.push_back(expectedId); };
            const rio::HandlerId id =
                once ? registry.addOnce(handler, priority) : registry.add(handler, priority);
            RC_ASSERT(id.value() == expectedId);
            model.lastId = expectedId;
            model.live.push_back({expectedId, priority, once});
            break;
        }
        case 3:
        case 4: { // remove / removeAndWait
            const std::uint64_t id = pickId(model, pick);
            const bool removed =
                kind == 3 ? registry.remove(rio::HandlerId{id}) : registry.removeAndWait(rio::HandlerId{id});
            RC_ASSERT(removed == model.remove(id));
            break;
        }
        case 5:
            if (pick % 4 == 0) { // clear, less often than the rest
                registry.clear();
                model.live.clear();
                break;
            }
            [[fallthrough]];
        default: { // notify
            log.clear();
            registry.notify(pick);
            std::vector<std::uint64_t> expected;
            for (const Model::Handler &h : model.snapshot())
                expected.push_back(h.id);
            RC_ASSERT(log == expected);
            std::erase_if(model.live, [](const Model::Handler &h) { return h.once; });
            break;
        }
        }
        checkState(registry, model);
    }
}

// What a handler of the reentrant model does when it is called.
enum class Action { None, Remove, RemoveAndWait, Add, Clear, NestedNotify };

struct ReentrantHandler
{
    std::uint64_t id;
    int priority;
    bool once;
    Action action;
    std::uint64_t target; // Remove, RemoveAndWait: the id it removes (live, stale, invalid or unknown)
    int addPriority;      // Add: the priority of the plain handler it adds
};

// The model of a notify: it walks the handlers live when it starts, in call order, and
// skips each one no longer live when it gets there (removed by an earlier handler, by a
// nested notify's once-handler firing or by a clear); handlers added meanwhile are not in its
// list. A once-handler leaves the live set as it starts.
struct ReentrantModel
{
    std::vector<ReentrantHandler> live; // registration order
    std::uint64_t lastId = 0;
    std::vector<std::uint64_t> log, results;

    bool contains(std::uint64_t id) const
    {
        return std::any_of(live.begin(), live.end(), [id](const ReentrantHandler &h) { return h.id == id; });
    }
    bool remove(std::uint64_t id)
    {
        const auto it =
            std::find_if(live.begin(), live.end(), [id](const ReentrantHandler &h) { return h.id == id; });
        if (it == live.end())
            return false;
        live.erase(it);
        return true;
    }
    void notify(int depth)
    {
        std::vector<ReentrantHandler> order = live;
        std::stable_sort(
            order.begin(), order.end(),
            [](const ReentrantHandler &a, const ReentrantHandler &b) { return a.priority > b.priority; });
        for (const ReentrantHandler &h : order) {
            if (!contains(h.id))
                continue; // removed before this notify reached it
            log.push_back(h.id);
            if (h.once)
                remove(h.id);
            switch (h.action) {
            case Action::None:
                break;
            case Action::Remove:
            case Action::RemoveAndWait:
                results.push_back(h.target != 0 && remove(h.target) ? 1 : 0);
                break;
            case Action::Add:
                live.push_back({++lastId, h.addPriority, false, Action::None, 0, 0});
                results.push_back(lastId);
                break;
            case Action::Clear:
                live.clear();
                break;
            case Action::NestedNotify:
                if (depth == 0)
                    notify(1);
                break;
            }
        }
    }
};

struct ReentrantRun
{
    rio::Registry<int> registry;
    std::vector<std::uint64_t> log, results;

    // The real handler for `h`: logs its id, then does what the model says it does.
    auto handlerFor(const ReentrantHandler &h)
    {
        return [this, h](const int &depth) {
            log.push_back(h.id);
            switch (h.action) {
            case Action::None:
                break;
            case Action::Remove:
                results.push_back(registry.remove(rio::HandlerId{h.target}) ? 1 : 0);
                break;
            case Action::RemoveAndWait:
                results.push_back(registry.removeAndWait(rio::HandlerId{h.target}) ? 1 : 0);
                break;
            case Action::Add: {
                // Filled in once add() returns: a notify that called the new handler during
                // this one (which the contract forbids) would log 0.
                auto id = std::make_shared<std::uint64_t>(0);
                const rio::HandlerId added = registry.add([this, id] { log.push_back(*id); }, h.addPriority);
                *id = added.value();
                results.push_back(added.value());
                break;
            }
            case Action::Clear:
                registry.clear();
                break;
            case Action::NestedNotify:
                if (depth == 0)
                    registry.notify(1);
                break;
            }
        };
    }
};

// As runPlain, but handlers also act when called: remove or removeAndWait another id (live,
// stale, invalid or unknown), add a handler, clear, or notify again (one level deep). Checks
// the semantics of removals and additions during a notify, exactly.
void runReentrant(const std::vector<Op> &ops)
{
    ReentrantRun run;
    ReentrantModel model;
    auto checkAll = [&] {
        RC_ASSERT(run.registry.size() == model.live.size());
        RC_ASSERT(run.registry.isEmpty() == model.live.empty());
        for (std::uint64_t id = 0; id <= model.lastId + 1; ++id)
            RC_ASSERT(run.registry.contains(rio::HandlerId{id}) == model.contains(id));
    };
    for (const auto &[kind, priority, pick] : ops) {
        switch (kind) {
        case 0:
        case 1:
        case 2: {
            ReentrantHandler h{model.lastId + 1, priority, kind == 2, Action::None, 0, 0};
            switch (pick % 8) {
            case 2:
            case 3:
                h.action = pick % 16 < 8 ? Action::Remove : Action::RemoveAndWait;
                h.target = std::uint64_t(pick / 16) % (model.lastId + 3); // up to one past this id
                break;
            case 4:
                h.action = Action::Add;
                h.addPriority = (pick / 8) % 7 - 3;
                break;
            case 5:
                h.action = pick % 32 == 5 ? Action::Clear : Action::None;
                break;
            case 6:
                h.action = Action::NestedNotify;
                break;
            default:
                break;
            }
            const rio::HandlerId id = h.once ? run.registry.addOnce(run.handlerFor(h), priority)
                                             : run.registry.add(run.handlerFor(h), priority);
            RC_ASSERT(id.value() == h.id);
            model.lastId = h.id;
            model.live.push_back(h);
            break;
        }
        case 3: {
            const std::uint64_t id = pickId(Model{{}, model.lastId}, pick);
            RC_ASSERT(run.registry.remove(rio::HandlerId{id}) == model.remove(id));
            break;
        }
        case 4:
            if (pick % 4 == 0) {
                run.registry.clear();
                model.live.clear();
                break;
            }
            [[fallthrough]];
        default: {
            run.log.clear();
            run.results.clear();
            model.log.clear();
            model.results.clear();
            run.registry.notify(0);
            model.notify(0);
            RC_ASSERT(run.log == model.log);
            RC_ASSERT(run.results == model.results);
            break;
        }
        }
        checkAll();
    }
}

} // namespace

RIO_TEST(modelAgreesWithRegistry)
{
    CHECK(rc::check("registry behaves like the reference model", [] { runPlain(*operations()); }));
}

RIO_TEST(reentrantChangesFollowTheModel)
{
    CHECK(rc::check("handlers removing, adding, clearing and notifying during notify behave like the model",
                    [] { runReentrant(*operations()); }));
}
