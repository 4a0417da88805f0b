// SPDX-License-Identifier: MIT
// Adversarial test of docs/DIAGNOSTICS.md for QML handlers: while a QML registry's diagnostics
// are on, its handlers "run through its C++ facade ... so they are counted and timed like C++
// handlers", and what a JavaScript handler throws is "counted in failures": each run counted and
// timed once, each throwing run failed once, whether notified on the GUI thread or another one.
#include "qml_test_support.h"

#include <registryio/qml/qml_registry.h>
#include <registryio/qt/diagnostics.h>

#include <QQmlComponent>
#include <QQmlEngine>
#include <QTest>

#include <thread>

class tst_QmlDiagnosticsRuns : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void qmlHandlersAreCountedTimedAndFailedOncePerRun()
    {
        rio::Diagnostics::setEnabled(true); // before the handlers
        auto engine = rio::test::makeEngine();
        QQmlComponent component(engine.get());
        component.setData(R"(
import QtQml
import RegistryIO
QtObject {
    id: root
    property int declaredRuns: 0
    property int addedRuns: 0
    property QmlRegistry reg: QmlRegistry { name: "qml-attack" }
    property RegistryHandler handler: RegistryHandler {
        registry: root.reg
        onNotified: event => { root.declaredRuns++; if (event % 2 === 1) throw new Error("odd declared"); }
    }
    function addOne() {
        return root.reg.add(function(event) { root.addedRuns++; if (event % 2 === 1) throw new Error("odd added"); });
    }
}
)",
                          QUrl(QStringLiteral("file:///attack.qml")));
        std::unique_ptr<QObject> root(component.create());
        QVERIFY2(root != nullptr, qPrintable(component.errorString()));
        QVERIFY(QMetaObject::invokeMethod(root.get(), "addOne"));
        auto *reg = root->property("reg").value<rio::QmlRegistry *>();
        QVERIFY(reg != nullptr);
        constexpr int n = 10;
        for (int i = 0; i < n; ++i)
            reg->notify(i);
        std::thread other([&] {
            for (int i = 0; i < n; ++i)
                reg->notify(i);
        });
        other.join();
        QTRY_COMPARE(root->property("declaredRuns").toInt(), 2 * n);
        QTRY_COMPARE(root->property("addedRuns").toInt(), 2 * n);
        QList<rio::HandlerInfo> handlers;
        for (const rio::RegistryInfo &r : rio::Diagnostics::snapshot())
            if (r.name == QStringLiteral("qml-attack"))
                handlers = r.handlers;
        QCOMPARE(handlers.size(), 2);
        QStringList wrong;
        for (const rio::HandlerInfo &h : handlers)
            if (!(h.calls == 2 * n && h.runTime.count == 2 * n && h.failures == n))
                wrong << QStringLiteral("handler %1 (line %2): calls %3 runs %4 failures %5")
                             .arg(h.id.value())
                             .arg(h.originLine)
                             .arg(h.calls)
                             .arg(h.runTime.count)
                             .arg(h.failures);
        rio::Diagnostics::setEnabled(false);
        QVERIFY2(wrong.isEmpty(), qPrintable(wrong.join(QStringLiteral("; "))));
    }
};

QTEST_GUILESS_MAIN(tst_QmlDiagnosticsRuns)
#include "tst_qml_diagnostics_runs.moc"
