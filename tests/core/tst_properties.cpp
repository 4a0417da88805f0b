// RapidCheck properties: random sequences of add/addOnce/remove/removeAndWait/clear/notify on a
// Registry agree with a simple reference model (which handlers ran, in which order, how often;
// ids; sizes; contains; remove's result). Reproduce a failure with RC_PARAMS="seed=<n>".
#include <registryio/registry.h>

#include <QTest>

#include <rapidcheck.h>

#include <algorithm>
#include <cstdint>
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

// As runPlain, but some handlers remove another id (live, stale, invalid or unknown) each time
// they are called. A notify calls exactly its starting snapshot; the removals apply to later
// notifies.
void runReentrant(const std::vector<Op> &ops)
{
    rio::Registry<int> registry;
    Model model;
    std::vector<std::uint64_t> log;
    std::vector<std::uint64_t> removeResults;
    for (const auto &[kind, priority, pick] : ops) {
        switch (kind) {
        case 0:
        case 1:
        case 2: {
            const bool once = kind == 2;
            const bool acts = pick % 2 == 1;
            const std::uint64_t expectedId = model.lastId + 1;
            const std::uint64_t target = acts ? pickId(model, pick / 2) : 0;
            auto handler = [&registry, &log, &removeResults, expectedId, target] {
                log.push_back(expectedId);
                if (target != 0)
                    removeResults.push_back(registry.remove(rio::HandlerId{target}) ? 1 : 0);
            };
            const rio::HandlerId id =
                once ? registry.addOnce(handler, priority) : registry.add(handler, priority);
            RC_ASSERT(id.value() == expectedId);
            model.lastId = expectedId;
            model.live.push_back({expectedId, priority, once, target});
            break;
        }
        case 3: {
            const std::uint64_t id = pickId(model, pick);
            RC_ASSERT(registry.remove(rio::HandlerId{id}) == model.remove(id));
            break;
        }
        case 4:
            if (pick % 4 == 0) {
                registry.clear();
                model.live.clear();
                break;
            }
            [[fallthrough]];
        default: {
            log.clear();
            removeResults.clear();
            registry.notify(pick);
            std::vector<std::uint64_t> expected;
            std::vector<std::uint64_t> expectedResults;
            const std::vector<Model::Handler> snapshot = model.snapshot();
            for (const Model::Handler &h : snapshot) {
                expected.push_back(h.id);
                if (h.once) // a once-handler takes itself out as it starts
                    model.remove(h.id);
                if (h.removes != 0)
                    expectedResults.push_back(model.remove(h.removes) ? 1 : 0);
            }
            RC_ASSERT(log == expected);
            RC_ASSERT(removeResults == expectedResults);
            break;
        }
        }
        checkState(registry, model);
    }
}

} // namespace

class tst_Properties : public QObject
{
    Q_OBJECT
private slots:
    void modelAgreesWithRegistry()
    {
        QVERIFY(rc::check("registry behaves like the reference model", [] { runPlain(*operations()); }));
    }

    void reentrantRemovalsFollowSnapshotSemantics()
    {
        QVERIFY(rc::check("handlers removing handlers during notify behave like the model",
                          [] { runReentrant(*operations()); }));
    }
};

QTEST_APPLESS_MAIN(tst_Properties)
#include "tst_properties.moc"
