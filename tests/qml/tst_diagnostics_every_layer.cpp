// SPDX-License-Identifier: MIT
// Adversarial test of the one diagnostics record (docs/DIAGNOSTICS.md): a handler's calls,
// failures, drops and coalesced events are counted once, in its record, whichever layer runs it
// (a C++ direct handler, a queued one, a bounded one that drops, a Latest one that coalesces, a
// QML JavaScript handler that throws), and match what the handlers themselves saw while two
// threads notify at once and snapshots are taken; a handler removed with deliveries waiting
// leaves every drop to its registry's record, and a snapshot taken while handlers are removed or
// cleared shows each drop at most once; a QML handler's caught error counts only in a run counted,
// as that run decided when it started, not in an enclosing run of the same handler.
#include "qml_test_support.h"

#include <registryio/qml/qml_registry.h>
#include <registryio/qt/diagnostics.h>
#include <registryio/qt/qt_registry.h>

#include <QLoggingCategory>
#include <QQmlComponent>
#include <QQmlContext>
#include <QQmlEngine>
#include <QTest>

#include <atomic>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <utility>

namespace {

rio::HandlerInfo handlerOf(const QString &registryName, rio::HandlerId id)
{
    for (const rio::RegistryInfo &r : rio::Diagnostics::snapshot())
        if (r.name == registryName)
            for (const rio::HandlerInfo &h : r.handlers)
                if (h.id == id)
                    return h;
    return {};
}

// A QmlRegistry `reg` with `members`, owned by `root`; null (and why, in the log) if it cannot be
// made.
rio::QmlRegistry *createRegistry(QQmlEngine &engine, const char *members, std::unique_ptr<QObject> &root)
{
    QQmlComponent component(&engine);
    component.setData(QByteArray("import QtQml\nimport RegistryIO\nQmlRegistry {\n    id: reg\n") + members +
                          "}\n",
                      QUrl(QStringLiteral("file:///every_layer.qml")));
    root.reset(component.create());
    if (root == nullptr)
        qWarning().noquote() << component.errorString();
    return qobject_cast<rio::QmlRegistry *>(root.get());
}

// A handler's own count of its runs and throws (the ground truth).
struct Seen
{
    std::atomic<quint64> runs{0};
    std::atomic<quint64> throws{0};
    void run(int event, int throwEvery)
    {
        runs.fetch_add(1);
        if (event % throwEvery == 0) {
            throws.fetch_add(1);
            throw std::runtime_error("ground truth");
        }
    }
};

// Diagnostics' process-wide switch, for a JavaScript handler to flip during its run.
class DiagnosticsSwitch : public QObject
{
    Q_OBJECT
public:
    Q_INVOKABLE void set(bool on) { rio::Diagnostics::setEnabled(on); }
};

// The calls and failures of the one handler of registry `registryId` (all ones if not one).
std::pair<quint64, quint64> callsAndFailures(quint64 registryId)
{
    const rio::RegistryInfo r = rio::Diagnostics::snapshot(registryId);
    return r.handlers.size() == 1 ? std::pair(r.handlers.front().calls, r.handlers.front().failures)
                                  : std::pair(~quint64{0}, ~quint64{0});
}

} // namespace

class tst_DiagnosticsEveryLayer : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void everyLayerCountsIntoOneRecord()
    {
        rio::Diagnostics::setEnabled(true); // before the handlers: direct runs are counted while on
        constexpr int n = 200;              // per notifying thread
        rio::QtRegistry<int> registry;
        registry.setObjectName(QStringLiteral("every-layer"));
        registry.setExceptionHandler([](const rio::ExceptionInfo &) { });
        QObject receiver; // this thread's: queued deliveries wait for its event loop
        Seen direct, queued, bounded, latest;
        const rio::HandlerId directId = registry.add([&](int e) { direct.run(e, 3); });
        const rio::HandlerId queuedId =
            registry.add(&receiver, [&](int e) { queued.run(e, 5); }, {.connection = Qt::QueuedConnection});
        const rio::HandlerId boundedId = registry.add(&receiver, [&](int e) { bounded.run(e, 7); },
                                                      {.connection = Qt::QueuedConnection, .capacity = 8});
        const rio::HandlerId leavingId = registry.add(&receiver, [](int) { QFAIL("removed before it ran"); },
                                                      {.connection = Qt::QueuedConnection, .capacity = 8});
        const rio::HandlerId latestId =
            registry.add(&receiver, [&](int e) { latest.run(e, 11); },
                         {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});

        auto engine = rio::test::makeEngine();
        std::unique_ptr<QObject> root;
        rio::QmlRegistry *const qml = createRegistry(*engine, R"(
    name: "every-layer-qml"
    property int runs: 0
    property int failed: 0
    property RegistryHandler handler: RegistryHandler {
        registry: reg
        onNotified: event => { reg.runs++; if (event % 2 === 1) { reg.failed++; throw new Error("odd"); } }
    }
)",
                                                     root);
        QVERIFY(qml != nullptr);

        std::atomic<int> finished{0};
        std::thread notifiers[2];
        for (int t = 0; t < 2; ++t) {
            notifiers[t] = std::thread([&, t] {
                for (int i = 0; i < n; ++i) {
                    registry.notify(t * n + i);
                    qml->notify(t * n + i);
                }
                finished.fetch_add(1);
            });
        }
        // Snapshots meanwhile (bounded: the notifiers end), each reading every handler's record.
        int lost = 0;
        for (int i = 0; i < 1000 && finished.load() < 2; ++i)
            lost += rio::Diagnostics::snapshot(registry.registryId()).handlers.size() != 5 ? 1 : 0;
        for (std::thread &t : notifiers)
            t.join();
        QCOMPARE(lost, 0);                   // every snapshot listed every handler
        QVERIFY(registry.remove(leavingId)); // 8 deliveries waiting: dropped as removed
        // Every delivery runs or is dropped, every Latest event runs or is coalesced.
        const auto settled = [&] {
            const rio::HandlerInfo b = handlerOf(registry.objectName(), boundedId);
            const rio::HandlerInfo l = handlerOf(registry.objectName(), latestId);
            return queued.runs.load() == 2 * n && b.calls + b.totalDrops() == 2 * n && b.waiting == 0 &&
                   l.calls + l.coalesced == 2 * n && l.waiting == 0 &&
                   root->property("runs").toInt() == 2 * n;
        };
        QTRY_VERIFY_WITH_TIMEOUT(settled(), 60'000);

        QStringList wrong;
        const auto expect = [&](const char *name, const rio::HandlerInfo &h, quint64 calls, quint64 failures,
                                quint64 drops) {
            if (h.calls != calls || h.failures != failures || h.totalDrops() != drops)
                wrong << QStringLiteral("%1: calls %2/%3 failures %4/%5 drops %6/%7")
                             .arg(QLatin1String(name))
                             .arg(h.calls)
                             .arg(calls)
                             .arg(h.failures)
                             .arg(failures)
                             .arg(h.totalDrops())
                             .arg(drops);
        };
        expect("direct", handlerOf(registry.objectName(), directId), 2 * n, direct.throws, 0);
        expect("queued", handlerOf(registry.objectName(), queuedId), 2 * n, queued.throws, 0);
        const rio::HandlerInfo b = handlerOf(registry.objectName(), boundedId);
        expect("bounded", b, bounded.runs, bounded.throws, 2 * n - bounded.runs);
        if (b.drops[static_cast<int>(rio::DropReason::Overflow)] != b.totalDrops() || b.maxWaiting != 8)
            wrong << QStringLiteral("bounded: drops not all overflow, or most waiting %1").arg(b.maxWaiting);
        const rio::HandlerInfo l = handlerOf(registry.objectName(), latestId);
        expect("latest", l, latest.runs, latest.throws, 0);
        if (l.coalesced != 2 * n - latest.runs)
            wrong << QStringLiteral("latest: coalesced %1 of %2 events, %3 ran")
                         .arg(l.coalesced)
                         .arg(2 * n)
                         .arg(latest.runs.load());
        const rio::RegistryInfo q = rio::Diagnostics::snapshot(std::as_const(*qml).registry().registryId());
        if (q.handlers.size() != 1)
            wrong << QStringLiteral("QML: %1 handlers").arg(q.handlers.size());
        else
            expect("QML", q.handlers.front(), 2 * n, quint64(root->property("failed").toInt()), 0);
        const rio::RegistryInfo all = rio::Diagnostics::snapshot(registry.registryId());
        quint64 left = 0;
        for (const quint64 d : all.removedHandlerDrops)
            left += d;
        if (left != 2 * n || all.removedHandlerDrops[static_cast<int>(rio::DropReason::Removed)] != 8)
            wrong << QStringLiteral("removed handler: %1 drops in its registry's record, %2 as removed")
                         .arg(left)
                         .arg(all.removedHandlerDrops[static_cast<int>(rio::DropReason::Removed)]);
        rio::Diagnostics::setEnabled(false);
        QVERIFY2(wrong.isEmpty(), qPrintable(wrong.join(QStringLiteral("; "))));
    }

    // A removal or clear() moves its handlers' drops to the registry's record while another
    // thread snapshots the registry: a snapshot may miss a drop in flight, never show it twice
    // (its handler's and its registry's), and the next one shows every drop.
    void aSnapshotDuringARemovalShowsEachDropOnce()
    {
        QLoggingCategory::setFilterRules(
            QStringLiteral("registryio=false")); // each removal's drops are logged
        constexpr int fillers = 500; // a snapshot reads them after the first handler, the one removed
        constexpr int events = 20;
        QStringList wrong;
        for (int round = 0; round < 20; ++round) {
            const bool clear = round % 2 == 1;
            QObject receiver; // its deliveries never run: removed, or the registry dies first
            rio::QtRegistry<int> registry;
            const rio::HandlerId first =
                registry.add(&receiver, [](int) { }, {.connection = Qt::QueuedConnection, .capacity = 4});
            for (int i = 0; i < fillers; ++i)
                registry.add(&receiver, [](int) { }, {.connection = Qt::QueuedConnection, .capacity = 1});
            for (int i = 0; i < events; ++i)
                registry.notify(i);
            // Every drop: the first's overflow and, once removed, its waiting deliveries; the
            // fillers' overflow and, once cleared, their waiting one.
            const quint64 truth =
                clear ? quint64(events) * (fillers + 1) : events + quint64(events - 1) * fillers;
            const auto seen = [&] {
                const rio::RegistryInfo r = rio::Diagnostics::snapshot(registry.registryId());
                quint64 n =
                    std::accumulate(r.removedHandlerDrops.begin(), r.removedHandlerDrops.end(), quint64{0});
                for (const rio::HandlerInfo &h : r.handlers)
                    n += h.totalDrops();
                return n;
            };
            std::atomic<int> snapshots{0};
            std::atomic<bool> stop{false};
            quint64 most = 0;
            std::thread snapshotter([&] { // bounded: 2,000 snapshots at most
                for (; !stop.load() && snapshots.load() < 2000; snapshots.fetch_add(1))
                    most = std::max(most, seen());
            });
            while (snapshots.load() == 0)
                std::this_thread::yield();
            if (clear)
                registry.clear();
            else
                QVERIFY(registry.remove(first));
            for (const int after = snapshots.load() + 2; snapshots.load() < std::min(after, 2000);)
                std::this_thread::yield();
            stop.store(true);
            snapshotter.join();
            const quint64 last = seen();
            if (most > truth || last != truth)
                wrong << QStringLiteral("%1 %2: a snapshot showed %3 drops of %4, the last %5")
                             .arg(QLatin1String(clear ? "clear" : "removal"))
                             .arg(round)
                             .arg(most)
                             .arg(truth)
                             .arg(last);
        }
        QLoggingCategory::setFilterRules(QString());
        QVERIFY2(wrong.isEmpty(), qPrintable(wrong.join(QStringLiteral("; "))));
    }

    // A QML JavaScript handler's error never leaves it as an exception: its failure is counted
    // with its run, which for a run on the notifying thread is counted only while diagnostics
    // are on (a queued one always), so failures never exceed calls.
    void aQmlFailureCountsOnlyWithItsRun()
    {
        auto engine = rio::test::makeEngine();
        std::unique_ptr<QObject> root;
        rio::QmlRegistry *const qml = createRegistry(*engine, R"(
    property int runs: 0
    property RegistryHandler handler: RegistryHandler {
        registry: reg
        onNotified: event => { reg.runs++; throw new Error("always") }
    }
)",
                                                     root);
        QVERIFY(qml != nullptr);
        const quint64 registryId = std::as_const(*qml).registry().registryId();
        const auto counts = [&] { return callsAndFailures(registryId); };
        constexpr int n = 10;
        for (int i = 0; i < n; ++i) // diagnostics off, on this thread: neither counted
            qml->notify(i);
        QCOMPARE(root->property("runs").toInt(), n);
        QCOMPARE(counts(), std::pair(quint64{0}, quint64{0}));
        std::thread([&] { // queued: both counted
            for (int i = 0; i < n; ++i)
                qml->notify(i);
        })
            .join();
        QTRY_COMPARE_WITH_TIMEOUT(root->property("runs").toInt(), 2 * n, 60'000);
        QCOMPARE(counts(), std::pair(quint64{n}, quint64{n}));
        rio::Diagnostics::setEnabled(true);
        for (int i = 0; i < n; ++i) // timed on this thread: both counted
            qml->notify(i);
        rio::Diagnostics::setEnabled(false);
        QCOMPARE(counts(), std::pair(quint64{2 * n}, quint64{2 * n}));
    }

    // A queued run (counted) that notifies its own registry runs the handler again on this
    // thread, untimed with diagnostics off: the errors of those inner runs count no more than
    // their calls do, though they run inside a counted run of the same handler.
    void aFailureCountsWithItsOwnRunNotAnEnclosingOne()
    {
        auto engine = rio::test::makeEngine();
        std::unique_ptr<QObject> root;
        rio::QmlRegistry *const qml = createRegistry(*engine, R"(
    property int runs: 0
    Component.onCompleted: reg.add(function(e) {
        reg.runs++
        if (e === 0) { for (let i = 1; i <= 5; ++i) reg.notify(i) } else throw new Error("inner")
    })
)",
                                                     root);
        QVERIFY(qml != nullptr);
        std::thread([&] { qml->notify(0); }).join(); // queued: the outer run, which does not fail
        QTRY_COMPARE_WITH_TIMEOUT(root->property("runs").toInt(), 6, 60'000);
        QCOMPARE(callsAndFailures(std::as_const(*qml).registry().registryId()),
                 std::pair(quint64{1}, quint64{0}));
    }

    // Whether a run on the notifying thread counts (its call and so its failure) is decided once,
    // when it starts: a handler that switches diagnostics on or off before it throws counts its
    // failure as its call was counted.
    void aFailureCountsAsItsRunDecidedWhenItStarted()
    {
        auto engine = rio::test::makeEngine();
        DiagnosticsSwitch diagnostics;
        engine->rootContext()->setContextProperty(QStringLiteral("diagnosticsSwitch"), &diagnostics);
        std::unique_ptr<QObject> root;
        rio::QmlRegistry *const qml = createRegistry(*engine, R"(
    Component.onCompleted: reg.add(function(e) { diagnosticsSwitch.set(e === 1); throw new Error("always") })
)",
                                                     root);
        QVERIFY(qml != nullptr);
        const quint64 registryId = std::as_const(*qml).registry().registryId();
        qml->notify(1); // started untimed, so uncounted, then switched diagnostics on
        QCOMPARE(callsAndFailures(registryId), std::pair(quint64{0}, quint64{0}));
        qml->notify(0); // started timed, so counted, then switched diagnostics off
        QCOMPARE(callsAndFailures(registryId), std::pair(quint64{1}, quint64{1}));
    }
};

QTEST_GUILESS_MAIN(tst_DiagnosticsEveryLayer)
#include "tst_diagnostics_every_layer.moc"
