// SPDX-License-Identifier: MIT
// Adversarial tests of docs/DIAGNOSTICS.md's QML promises: a RegistryHandler's diagnostics() is
// its own record (never another handler's with the same id in another registry) across
// re-registration, a change of registry and a once handler's run; a DiagnosticsModel made by a
// QML engine and destroyed with it while its worker takes a snapshot; its diagnosticsEnabled
// binding follows a change made in C++ on another thread.
#include "qml_test_support.h"

#include <registryio/qml/qml_registry.h>
#include <registryio/qt/diagnostics.h>
#include <registryio/qt/diagnostics_model.h>
#include <registryio/qt/qt_registry.h>

#include <QJsonObject>
#include <QQmlComponent>
#include <QQmlEngine>
#include <QTest>

#include <array>
#include <memory>
#include <thread>

namespace {

quint64 registryIdNamed(const QString &name)
{
    for (const rio::RegistryInfo &r : rio::Diagnostics::snapshot())
        if (r.name == name)
            return r.id;
    return 0;
}

} // namespace

class tst_QmlDiagnosticsRecords : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { rio::Diagnostics::setEnabled(false); }

    // "A RegistryHandler's diagnostics() is its own record, as a snapshot has it".
    void registryHandlerRecordIsItsOwn()
    {
        rio::Diagnostics::setEnabled(true); // direct QML handlers counted
        auto engine = rio::test::makeEngine();
        QQmlComponent component(engine.get());
        component.setData(R"(
import QtQml
import RegistryIO
QtObject {
    id: root
    property QmlRegistry a: QmlRegistry { name: "atk2-qml-a" }
    property QmlRegistry b: QmlRegistry { name: "atk2-qml-b" }
    property int runs: 0
    property RegistryHandler h: RegistryHandler { registry: root.a; onNotified: root.runs++ }
    function record() {
        const d = root.h.diagnostics();
        return [d.calls === undefined ? -1 : d.calls, d.id === undefined ? -1 : d.id,
                d.registryId === undefined ? -1 : d.registryId];
    }
    function fillB() { for (let i = 0; i < 4; ++i) root.b.add(function(e) {}); }
}
)",
                          QUrl(QStringLiteral("qrc:/atk2.qml")));
        std::unique_ptr<QObject> root(component.create());
        QVERIFY2(root != nullptr, qPrintable(component.errorString()));
        auto *a = root->property("a").value<rio::QmlRegistry *>();
        auto *b = root->property("b").value<rio::QmlRegistry *>();
        QObject *h = root->property("h").value<QObject *>();
        QVERIFY(a && b && h);
        const quint64 idA = registryIdNamed(QStringLiteral("atk2-qml-a"));
        const quint64 idB = registryIdNamed(QStringLiteral("atk2-qml-b"));
        QVERIFY(idA != 0 && idB != 0 && idA != idB);
        const auto record = [&] {
            QVariant result;
            QMetaObject::invokeMethod(root.get(), "record", Q_RETURN_ARG(QVariant, result));
            const QVariantList l = result.toList();
            return std::array<qint64, 3>{qint64(l.value(0).toDouble()), qint64(l.value(1).toDouble()),
                                         qint64(l.value(2).toDouble())};
        };
        const auto handlerId = [&] { return qint64(h->property("handlerId").toDouble()); };
        // b's handlers take the ids h may get there, and run often.
        QVERIFY(QMetaObject::invokeMethod(root.get(), "fillB"));
        for (int i = 0; i < 7; ++i)
            b->notify(i);
        a->notify(1);
        a->notify(2);
        auto r = record();
        QCOMPARE(r[0], 2);
        QCOMPARE(r[1], handlerId());
        QCOMPARE(r[2], qint64(idA));

        h->setProperty("registry", QVariant::fromValue(b)); // now in b, with a new id
        r = record();
        QCOMPARE(r[2], qint64(idB));
        QCOMPARE(r[1], handlerId());
        QCOMPARE(r[0], 0); // not the 7 runs of b's handler that had its id
        b->notify(8);
        QCOMPARE(record()[0], 1);

        h->setProperty("priority", 5); // re-registration: a new record
        r = record();
        QCOMPARE(r[1], handlerId());
        QCOMPARE(r[2], qint64(idB));
        QVERIFY2(r[0] == 0 || r[0] == 1, "a re-registered handler's record is its own");

        h->setProperty("once", true);
        const qint64 onceId = handlerId();
        b->notify(9);
        QCOMPARE(root->property("runs").toInt(), 4);
        r = record();
        qInfo("once handler after its run: calls %lld id %lld (handlerId %lld, was %lld)", r[0], r[1],
              handlerId(), onceId);
        QVERIFY2(r[1] == -1 || r[1] == onceId || r[1] == handlerId(),
                 "a once handler's record after its run is its own or none");

        h->setProperty("registry", QVariant());
        r = record();
        QCOMPARE(r[1], -1); // no registry: no record
        rio::Diagnostics::setEnabled(false);
    }

    // A model made by QML, refreshing every millisecond over a thousand handlers, destroyed with
    // its engine right after a refresh (the next one usually in flight); and its diagnosticsEnabled
    // binding following a change made on another thread.
    void qmlModelDiesWithItsEngineAndFollowsTheSwitch()
    {
        rio::QtRegistry<int> busy;
        busy.setObjectName(QStringLiteral("atk2-qml-busy"));
        for (int i = 0; i < 1000; ++i)
            busy.add([](int) { });
        for (int round = 0; round < 15; ++round) {
            auto engine = rio::test::makeEngine();
            QQmlComponent component(engine.get());
            component.setData(R"(
import QtQml
import RegistryIO
QtObject {
    property DiagnosticsModel model: DiagnosticsModel { refreshInterval: 1 }
    property bool on: model.diagnosticsEnabled
    property int refreshes: 0
    property Connections c: Connections { target: model; function onRefreshed() { refreshes++ } }
}
)",
                              QUrl(QStringLiteral("qrc:/atk2-model.qml")));
            std::unique_ptr<QObject> root(component.create());
            QVERIFY2(root != nullptr, qPrintable(component.errorString()));
            QTRY_VERIFY_WITH_TIMEOUT(root->property("refreshes").toInt() >= 1 + round % 3, 60'000);
            if (round % 5 == 0) {
                const bool want = !rio::Diagnostics::isEnabled();
                std::thread([want] { rio::Diagnostics::setEnabled(want); }).join();
                QTRY_COMPARE_WITH_TIMEOUT(root->property("on").toBool(), want, 10'000);
            }
            if (round % 2 == 0) {
                root.reset(); // the object first, then the engine
            } else {
                root->setParent(engine.get()); // the engine takes the object with it
                root.release();
            }
            engine.reset();
            QCoreApplication::processEvents();
        }
    }
};

QTEST_GUILESS_MAIN(tst_QmlDiagnosticsRecords)
#include "tst_qml_diagnostics_records.moc"
