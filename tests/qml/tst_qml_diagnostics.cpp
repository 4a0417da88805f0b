// SPDX-License-Identifier: MIT
// Diagnostics from QML: a QmlRegistry's name names it in snapshots, QmlRegistry.add records the
// calling QML line (diagnostics on), a RegistryHandler the file and line of its declaration
// (whether diagnostics were on or not), QML handlers are counted and timed while diagnostics are
// on, and RegistryInspector's model lists them live.
#include "qml_test_support.h"

#include <registryio/qml/qml_registry.h>
#include <registryio/qt/diagnostics.h>
#include <registryio/qt/diagnostics_model.h>

#include <registryio/qt/qt_registry.h>

#include <QGuiApplication>
#include <QQmlComponent>
#include <QQmlEngine>
#include <QQuickItem>
#include <QQuickView>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QTest>

#include <algorithm>
#include <memory>
#include <vector>

#include <time.h>

namespace {

qint64 threadCpuNs()
{
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return qint64(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

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

    // At 1,000 handlers the inspector keeps delegates for the rows in sight only, and a refresh
    // that reorders rows is a layout change (never a reset): the GUI thread's cost of a refresh is the
    // snapshot, the sort and the few rows shown. Its time is printed (not asserted: the machine
    // may be loaded).
    void inspectorCostsTheRowsInSightAtAThousandHandlers()
    {
        rio::QtRegistry<int> registry;
        registry.setObjectName(QStringLiteral("thousand"));
        std::vector<int> spin(1000, 0);
        for (int i = 0; i < 1000; ++i)
            registry.add([&spin, i](int round) {
                // A few handlers run longer each round: the order by longest run changes.
                volatile int sink = 0;
                for (int k = 0; k < (i % 97 == round % 97 ? 20'000 : 10); ++k)
                    sink = sink + k;
                ++spin[static_cast<std::size_t>(i)];
            });
        QQmlEngine engine;
        engine.addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH));
        QQmlComponent component(&engine);
        component.setData("import RegistryIO\nRegistryInspector { width: 720; height: 260; "
                          "refreshInterval: 0; registryFilter: \"thousand\" }",
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
        std::vector<qint64> costs;
        for (int round = 0; round < 30; ++round) {
            registry.notify(round);
            const qint64 start = threadCpuNs(); // CPU time: the machine may be loaded
            model->refresh();
            costs.push_back(threadCpuNs() - start);

            QCoreApplication::processEvents();
        }
        QCOMPARE(model->rowCount(), 1000);
        QTRY_VERIFY(delegates() > 0);
        QVERIFY2(delegates() < 40, qPrintable(QString::number(delegates()))); // 13 rows in sight
        QCOMPARE(resets.size(), 0);
        QVERIFY(layouts.size() > 0); // the order changed, the rows were kept
        std::sort(costs.begin(), costs.end());
        qInfo("refresh at 1,000 handlers, GUI thread's CPU time: median %.2f ms, max %.2f ms",
              static_cast<double>(costs[costs.size() / 2]) / 1e6, static_cast<double>(costs.back()) / 1e6);
    }
};

QTEST_MAIN(TestQmlDiagnostics)
#include "tst_qml_diagnostics.moc"
