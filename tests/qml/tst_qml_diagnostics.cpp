// SPDX-License-Identifier: MIT
// Diagnostics from QML: a QmlRegistry's name names it in snapshots, QmlRegistry.add records the
// calling QML line (diagnostics on), a RegistryHandler the file and line of its declaration
// (whether diagnostics were on or not), QML handlers are counted and timed while diagnostics are
// on, RegistryInspector's model lists them live, and the frame timeline names them by QML line.
#include "qml_test_support.h"

#include <registryio/qml/qml_registry.h>
#include <registryio/qt/diagnostics.h>
#include <registryio/qt/diagnostics_model.h>

#include <registryio/qt/qt_registry.h>

#include <QGuiApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QQmlComponent>
#include <QQmlEngine>
#include <QQuickItem>
#include <QQuickView>
#include <QQuickWindow>
#include <QSet>
#include <QSignalSpy>
#include <QTest>

#include <algorithm>
#include <ctime>
#include <memory>
#include <numeric>
#include <thread>
#include <vector>

namespace {

// The handlers of the registry named `name` in a snapshot.
QList<rio::HandlerInfo> handlersOf(const QString &name)
{
    for (const rio::RegistryInfo &r : rio::Diagnostics::snapshot()) {
        if (r.name == name)
            return r.handlers;
    }
    return {};
}

} // namespace

class TestQmlDiagnostics : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        rio::Diagnostics::setEnabled(true); // before the handlers: they record their lines
    }

    void cleanupTestCase() { rio::Diagnostics::setEnabled(false); }

    // A declared handler's line is recorded as it registers, diagnostics on or off: switched on
    // later, they show it.
    // Off, a declared handler's creation records no position (its cost stays out of creating
    // handlers); on, namesAndQmlLines below checks the declaration's file and line.
    void declaredPositionRecordedOnlyWithDiagnosticsOn()
    {
        rio::Diagnostics::setEnabled(false);
        {
            QQuickView view;
            view.engine()->addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH));
            view.setSource(rio::test::dataUrl(QStringLiteral("diagnostics.qml")));
            QCOMPARE(view.status(), QQuickView::Ready);
            const QList<rio::HandlerInfo> handlers = handlersOf(QStringLiteral("qml-diagnostics"));
            QCOMPARE(handlers.size(), 1); // the RegistryHandler
            QCOMPARE(handlers[0].originFile, QString());
            QCOMPARE(handlers[0].originLine, 0);
        }
        rio::Diagnostics::setEnabled(true);
    }

    // DiagnosticsModel.diagnosticsEnabled (and the inspector's alias of it) is the process-wide
    // switch: set from QML it switches diagnostics on and off, and a binding to it follows a
    // change made in C++ on any thread.
    void switchFromQml()
    {
        rio::Diagnostics::setEnabled(false);
        {
            QQmlEngine engine;
            engine.addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH));
            QQmlComponent component(&engine);
            component.setData("import QtQml\nimport RegistryIO\nQtObject {\n"
                              "    property DiagnosticsModel model: DiagnosticsModel { refreshInterval: 0 }\n"
                              "    property bool on: model.diagnosticsEnabled\n"
                              "    function turn(value) { model.diagnosticsEnabled = value }\n}",
                              QUrl());
            std::unique_ptr<QObject> object(component.create());
            QVERIFY2(object != nullptr, qPrintable(component.errorString()));
            QCOMPARE(object->property("on").toBool(), false);

            QVERIFY(QMetaObject::invokeMethod(object.get(), "turn", Q_ARG(QVariant, true)));
            QVERIFY(rio::Diagnostics::isEnabled());
            QCOMPARE(object->property("on").toBool(), true);
            // Switched on from QML, a direct handler is counted and timed.
            rio::QtRegistry<int> registry;
            registry.setObjectName(QStringLiteral("qml-switch"));
            registry.add([](int) { });
            registry.notify(1);
            const QList<rio::HandlerInfo> handlers = handlersOf(QStringLiteral("qml-switch"));
            QCOMPARE(handlers.size(), 1);
            QCOMPARE(handlers[0].calls, quint64(1));
            QVERIFY(handlers[0].timed);

            rio::Diagnostics::setEnabled(false); // from C++ on this thread
            QCOMPARE(object->property("on").toBool(), false);
            std::thread([] { rio::Diagnostics::setEnabled(true); }).join(); // and on another
            QTRY_COMPARE(object->property("on").toBool(), true);
            QVERIFY(QMetaObject::invokeMethod(object.get(), "turn", Q_ARG(QVariant, false)));
            QVERIFY(!rio::Diagnostics::isEnabled());
        }
        rio::Diagnostics::setEnabled(true);
    }

    // A RegistryHandler reads its own counts from the diagnostics record: runs, failures (a
    // JavaScript error) and drops agree with what the handler itself saw and reported.
    void countsOnARegistryHandler()
    {
        QQmlEngine engine;
        engine.addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH));
        QQmlComponent component(&engine);
        component.setData(
            "import QtQml\nimport RegistryIO\nQtObject {\n"
            "    property QmlRegistry stats: QmlRegistry { name: \"qml-counts\" }\n"
            "    property RegistryHandler handler: RegistryHandler {\n"
            "        registry: stats; capacity: 1; overflow: RegistryHandler.DropNewest\n"
            "        onNotified: event => { if (event === \"fail\") throw new Error(\"deliberate\") }\n"
            "    }\n"
            "    property RegistryHandler idle: RegistryHandler { }\n"
            "    function counts(h) { const d = h.diagnostics();\n"
            "        return [d.calls, d.failures, d.totalDrops, d.id] }\n}",
            QUrl());
        std::unique_ptr<QObject> object(component.create());
        QVERIFY2(object != nullptr, qPrintable(component.errorString()));
        auto *stats = object->property("stats").value<rio::QmlRegistry *>();
        auto *handler = object->property("handler").value<QObject *>();
        QVERIFY(stats != nullptr && handler != nullptr);
        const auto counts = [&](const char *which) {
            QVariant result;
            QMetaObject::invokeMethod(object.get(), "counts", Q_RETURN_ARG(QVariant, result),
                                      Q_ARG(QVariant, object->property(which)));
            return result.toList();
        };
        stats->notify(QStringLiteral("one"));
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("deliberate")));
        stats->notify(QStringLiteral("fail"));
        // From another thread, three events while this one is busy: one waits, two are dropped.
        std::thread([stats] {
            for (int i = 0; i < 3; ++i)
                stats->notify(i);
        }).join();
        QTRY_COMPARE(handler->property("dropped").toDouble(), 2.0);
        QCoreApplication::processEvents(); // the waiting one runs
        const QVariantList c = counts("handler");
        QCOMPARE(c.size(), 4);
        QCOMPARE(c[0].toULongLong(), 3ULL); // "one", "fail" and the event that waited
        QCOMPARE(c[1].toULongLong(), 1ULL);
        QCOMPARE(c[2].toULongLong(), 2ULL);
        QCOMPARE(c[3].toDouble(), handler->property("handlerId").toDouble());
        QCOMPARE(counts("idle").value(0), QVariant()); // not registered: an empty object
    }

    void namesAndQmlLines()
    {
        QQuickView view;
        view.engine()->addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH));
        view.setSource(rio::test::dataUrl(QStringLiteral("diagnostics.qml")));
        QCOMPARE(view.status(), QQuickView::Ready);
        view.show(); // the inspector's list makes delegates for the rows in sight
        QQuickItem *root = view.rootObject();
        QVERIFY(root != nullptr);
        auto *stats = root->property("stats").value<rio::QmlRegistry *>();
        QVERIFY(stats != nullptr);
        QCOMPARE(stats->name(), QStringLiteral("qml-diagnostics"));
        QCOMPARE(stats->registry().objectName(), QStringLiteral("qml-diagnostics"));
        QVERIFY(QMetaObject::invokeMethod(root, "addOne"));

        const QList<rio::HandlerInfo> handlers = handlersOf(QStringLiteral("qml-diagnostics"));
        QCOMPARE(handlers.size(), 2);
        const QString file = rio::test::dataUrl(QStringLiteral("diagnostics.qml")).toString();
        // The RegistryHandler, added first: the file and line of its declaration.
        QCOMPARE(handlers[0].originFile, file);
        QCOMPARE(handlers[0].originLine, 24);
        QCOMPARE(handlers[1].originFile, file); // stats.add(...)
        QCOMPARE(handlers[1].originLine, 17);

        // The inspector lists both (its own refresh), the failing one standing out.
        auto *inspector = root->property("inspector").value<QQuickItem *>();
        QVERIFY(inspector != nullptr);
        auto *model = inspector->property("model").value<rio::DiagnosticsModel *>();
        QVERIFY(model != nullptr);
        QTRY_COMPARE(model->rowCount(), 2);
        QStringList where;
        for (int r = 0; r < 2; ++r)
            where << model->index(r, rio::DiagnosticsModel::WhereColumn).data().toString();
        where.sort();
        QCOMPARE(where,
                 (QStringList{QStringLiteral("diagnostics.qml:17"), QStringLiteral("diagnostics.qml:24")}));
        // The overlay shows them: one row per handler, with where it was added.
        const auto shownWhere = [inspector] {
            QStringList shown;
            QList<QQuickItem *> pending{inspector};
            while (!pending.isEmpty()) { // the visual tree: the rows are the list's delegates
                const QQuickItem *item = pending.takeLast();
                pending.append(item->childItems());
                if (const QVariant w = item->property("where");
                    w.isValid() && item->property("registryName").isValid())
                    shown << w.toString();
            }
            shown.sort();
            return shown;
        };
        QTRY_COMPARE(shownWhere(), where);
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("deliberate")));
        stats->notify(QStringLiteral("fail"));
        // While diagnostics are on, QML handlers run through the facade: counted (and timed).
        model->setSortColumn(rio::DiagnosticsModel::CallsColumn);
        QTRY_COMPARE(model->index(0, rio::DiagnosticsModel::CallsColumn).data().toULongLong(), 1u);
        QCOMPARE(model->index(1, rio::DiagnosticsModel::CallsColumn).data().toULongLong(), 1u);
        QVERIFY(model->index(0, 0).data(rio::DiagnosticsModel::TimedRole).toBool());
        // The JavaScript error never left the handler as an exception: the QML layer counts it.
        const auto failuresOf = [](int i) {
            const QList<rio::HandlerInfo> now = handlersOf(QStringLiteral("qml-diagnostics"));
            return now.size() == 2 ? now[i].failures : quint64(99);
        };
        QCOMPARE(failuresOf(0), quint64(1)); // the RegistryHandler that threw
        QCOMPARE(failuresOf(1), quint64(0));
    }

    // The frame timeline names a QML handler's runs, slow ones too, by its QML file and line, as
    // the table does, never by the library's header that calls them.
    void qmlRunsAreNamedByTheirQmlLineInTheTrace()
    {
        QQuickView view;
        view.engine()->addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH));
        view.setSource(rio::test::dataUrl(QStringLiteral("diagnostics.qml")));
        QCOMPARE(view.status(), QQuickView::Ready);
        auto *stats = view.rootObject()->property("stats").value<rio::QmlRegistry *>();
        QVERIFY(stats != nullptr);
        QVERIFY(QMetaObject::invokeMethod(view.rootObject(), "addOne"));
        const auto slow = rio::Diagnostics::slowThreshold();
        rio::Diagnostics::setEveryRunPrecise(true);
        rio::Diagnostics::setSlowThreshold(std::chrono::nanoseconds(1)); // every run is a slow one
        for (int i = 0; i < 3; ++i)
            stats->notify(i);
        rio::Diagnostics::setSlowThreshold(slow);
        rio::Diagnostics::setEveryRunPrecise(false);
        const QString file = rio::test::dataUrl(QStringLiteral("diagnostics.qml")).toString();
        QSet<int> lines;
        QSet<QString> kinds;
        QStringList elsewhere;
        for (const QJsonValue e :
             rio::Diagnostics::toTrace(std::chrono::hours(1))[u"traceEvents"].toArray()) {
            const QJsonObject args = e[u"args"].toObject();
            if (args[u"registryName"].toString() != QLatin1String("qml-diagnostics"))
                continue;
            const int line = args[u"line"].toInt();
            lines.insert(line);
            kinds.insert(e[u"cat"].toString());
            if (args[u"file"].toString() != file ||
                !e[u"name"].toString().endsWith(QStringLiteral("diagnostics.qml:%1").arg(line)))
                elsewhere << QString::fromUtf8(QJsonDocument(e.toObject()).toJson(QJsonDocument::Compact));
        }
        QVERIFY2(elsewhere.isEmpty(), qPrintable(elsewhere.join(u'\n')));
        QCOMPARE(lines, (QSet<int>{17, 24}));
        QVERIFY(kinds.contains(QStringLiteral("slow")));
    }

    void inspectorRefreshCostOnItsThread_data()
    {
        QTest::addColumn<int>("handlers");
        QTest::newRow("200") << 200;
        QTest::newRow("1000") << 1000;
    }

    // The inspector keeps delegates for the rows in sight only; its timer's snapshot and sort run
    // on the model's worker, and the rows reach its thread sorted: a new order moves the rows out
    // of place (never a reset). The thread's share of each refresh (applyNs: applying the rows, the
    // delegates' updates included) and the worker's (snapshotNs) are printed, not asserted (the
    // machine may be loaded).
    void inspectorRefreshCostOnItsThread()
    {
        QFETCH(int, handlers);
        rio::QtRegistry<int> registry;
        registry.setObjectName(QStringLiteral("many"));
        for (int i = 0; i < handlers; ++i)
            registry.add([i](int round) {
                // A few handlers run longer each round: the order by longest run changes.
                volatile int sink = 0;
                for (int k = 0; k < (i % 97 == round % 97 ? 20'000 : 10); ++k)
                    sink = sink + k;
            });
        QQmlEngine engine;
        engine.addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH));
        QQmlComponent component(&engine);
        component.setData("import RegistryIO\nRegistryInspector { width: 720; height: 260; "
                          "refreshInterval: 0; registryFilter: \"many\" }",
                          QUrl());
        std::unique_ptr<QObject> object(component.create());
        QVERIFY2(object != nullptr, qPrintable(component.errorString()));
        auto *inspector = qobject_cast<QQuickItem *>(object.get());
        QQuickWindow window;
        window.resize(720, 260);
        inspector->setParentItem(window.contentItem());
        window.show();
        auto *model = inspector->property("model").value<rio::DiagnosticsModel *>();
        QVERIFY(model != nullptr);
        QCOMPARE(model->sortColumn(), int(rio::DiagnosticsModel::MaxColumn)); // a stutter first
        QSignalSpy resets(model, &QAbstractItemModel::modelReset);
        QSignalSpy layouts(model, &QAbstractItemModel::layoutChanged);
        QSignalSpy moves(model, &QAbstractItemModel::rowsMoved);
        const auto delegates = [inspector] {
            int n = 0;
            QList<QQuickItem *> pending{inspector};
            while (!pending.isEmpty()) {
                const QQuickItem *item = pending.takeLast();
                pending.append(item->childItems());
                if (item->property("where").isValid() && item->property("registryName").isValid() &&
                    item->isVisible())
                    ++n;
            }
            return n;
        };
        std::vector<double> applied, snapshots;
        int round = 0;
        registry.notify(round);
        // What a profiler measures: the GUI thread's CPU time over the refreshes, per refresh
        // (nothing else runs on it here but the test's waiting).
        double cost = 0;
        qint64 cpuFirst = 0;
        qint64 cpuLast = 0;
        connect(model, &rio::DiagnosticsModel::costChanged, this, [&] { cost = model->applyNs(); });
        connect(model, &rio::DiagnosticsModel::refreshed, this, [&] {
            timespec t{};
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
            (cpuFirst == 0 ? cpuFirst : cpuLast) = qint64{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
            if (round > 0)
                applied.push_back(cost); // the last refresh's, its frame included
            snapshots.push_back(model->snapshotNs());
            registry.notify(++round); // the next refresh sees a new order
        });
        inspector->setProperty("refreshInterval", 5);
        QTRY_VERIFY_WITH_TIMEOUT(applied.size() >= 60, 120'000);
        inspector->setProperty("refreshInterval", 0);
        const double profiled = double(cpuLast - cpuFirst) / double(applied.size());
        std::sort(applied.begin(), applied.end());
        std::sort(snapshots.begin(), snapshots.end());
        qInfo("refresh at %d handlers: on the inspector's thread median %.3f ms (max %.3f ms; its "
              "CPU time per refresh %.3f ms); snapshot and sort on its worker median %.3f ms, over %d "
              "refreshes",
              handlers, applied[applied.size() / 2] / 1e6, applied.back() / 1e6, profiled / 1e6,
              snapshots[snapshots.size() / 2] / 1e6, int(applied.size()));
        // The inspector's own figure is what the thread spends on a refresh, its frame included:
        // not a fraction of it (the test's own waiting, between refreshes, is the rest).
        const double mean = std::accumulate(applied.begin(), applied.end(), 0.0) / double(applied.size());
        QVERIFY2(mean >= 0.5 * profiled, qPrintable(QStringLiteral("%1 against %2").arg(mean).arg(profiled)));
        QVERIFY2(mean <= 1.05 * profiled,
                 qPrintable(QStringLiteral("%1 against %2").arg(mean).arg(profiled)));
        QCOMPARE(model->rowCount(), handlers);
        QTRY_VERIFY(delegates() > 0);
        QVERIFY2(delegates() < 40, qPrintable(QString::number(delegates()))); // 13 rows in sight
        QCOMPARE(resets.size(), 0);
        QVERIFY(moves.size() + layouts.size() > 0); // the order changed, the rows were kept
        // Its heading shows its own cost.
        const auto costShown = [&] {
            const QString cost = QStringLiteral(" · refresh: %1 here, snapshot %2 on a worker")
                                     .arg(rio::DiagnosticsModel::formatDuration(model->applyNs()),
                                          rio::DiagnosticsModel::formatDuration(model->snapshotNs()));
            for (const QQuickItem *item : inspector->findChildren<QQuickItem *>())
                if (item->property("text").toString().endsWith(cost))
                    return true;
            return false;
        };
        QTRY_VERIFY(costShown());
    }
};

QTEST_MAIN(TestQmlDiagnostics)
#include "tst_qml_diagnostics.moc"
