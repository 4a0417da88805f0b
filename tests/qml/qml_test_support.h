// SPDX-License-Identifier: MIT
#pragma once

// Loading QML test files with the build tree's RegistryIO module.

#include <QEventLoop>
#include <QFile>
#include <QJSEngine>
#include <QJSValue>
#include <QObject>
#include <QPointer>
#include <QQmlComponent>
#include <QQmlEngine>
#include <QQmlExpression>
#include <QRegularExpression>
#include <QString>
#include <QTest>
#include <QTimer>
#include <QUrl>
#include <QVariantMap>

#include <functional>
#include <memory>

namespace rio::test {

/// An engine that finds `import RegistryIO` in the build tree.
inline std::unique_ptr<QQmlEngine> makeEngine()
{
    auto engine = std::make_unique<QQmlEngine>();
    engine->addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH));
    return engine;
}

/// The URL of tests/qml/data/<name>.
inline QUrl dataUrl(const QString &name)
{
    return QUrl::fromLocalFile(QStringLiteral(RIO_QML_TEST_DATA "/") + name);
}

/// Creates the root object of tests/qml/data/<name>; null (and a test failure message) on errors.
inline std::unique_ptr<QObject> load(QQmlEngine &engine, const QString &name,
                                     const QVariantMap &initialProperties = {})
{
    QQmlComponent component(&engine, dataUrl(name));
    std::unique_ptr<QObject> root(component.createWithInitialProperties(initialProperties));
    if (!root)
        qWarning().noquote() << component.errorString();
    return root;
}

/// Evaluates a JavaScript expression in `scope`'s context (its ids and properties are visible).
inline QVariant eval(QObject *scope, const QString &expression)
{
    QQmlExpression e(qmlContext(scope), scope, expression);
    bool undefined = false;
    QVariant result = e.evaluate(&undefined);
    if (e.hasError())
        qWarning().noquote() << "eval failed:" << expression << e.error().toString();
    return result;
}

/// Calls `object.method(args...)` as JavaScript would (destroy() included).
inline QJSValue call(QJSEngine &engine, QObject *object, const QString &method, const QJSValueList &args = {})
{
    QJSValue self = engine.newQObject(object);
    QJSValue result = self.property(method).callWithInstance(self, args);
    if (result.isError())
        qWarning().noquote() << "call failed:" << method << result.toString();
    return result;
}

/// The 1-based line of tests/qml/data/<name> that contains `marker`, 0 if none.
inline int lineOf(const QString &name, const QString &marker)
{
    QFile file(QStringLiteral(RIO_QML_TEST_DATA "/") + name);
    if (!file.open(QIODevice::ReadOnly))
        return 0;
    int line = 0;
    while (!file.atEnd()) {
        ++line;
        if (QString::fromUtf8(file.readLine()).contains(marker))
            return line;
    }
    return 0;
}

/// Deletes an object at once (QML's destroy() waits for the event loop).
class Killer : public QObject
{
    Q_OBJECT

public:
    Q_INVOKABLE void destroyNow(QObject *object) { delete object; }
};

/// The rows of a registry's own dispatch under change (see checkChangesWithinTheNotify): what the
/// first handler does once (`action`, JavaScript), what that notify records (`first`) and what
/// the next one records (`second`).
inline void addChangesWithinTheNotifyRows()
{
    QTest::addColumn<QString>("action");
    QTest::addColumn<QString>("first");
    QTest::addColumn<QString>("second");
    QTest::newRow("deletes a later handler at once")
        << "root.killer.destroyNow(root.low)" << "first=1;fn=1;add=1;" << "first=2;fn=2;add=2;";
    QTest::newRow("disables a later handler")
        << "root.low.enabled = false" << "first=1;fn=1;add=1;" << "first=2;fn=2;add=2;";
    QTest::newRow("removes a later handler by id")
        << "root.registry.remove(root.fn.handlerId)" << "first=1;add=1;low=1;" << "first=2;add=2;low=2;";
    QTest::newRow("removes a later function") << "root.subscription.remove()" << "first=1;fn=1;low=1;"
                                              << "first=2;fn=2;low=2;";
    QTest::newRow("adds a handler") << "root.made.push(plain.createObject(root, { registry: root.registry }))"
                                    << "first=1;fn=1;add=1;low=1;" << "first=2;dyn=2;fn=2;add=2;low=2;";
    QTest::newRow("adds a function")
        << "root.made.push(root.registry.add(event => { root.trace += 'more=' + event + ';' }, 4))"
        << "first=1;fn=1;add=1;low=1;" << "first=2;fn=2;more=2;add=2;low=2;";
    QTest::newRow("deletes the registry at once")
        << "root.killer.destroyNow(root.registry)" << "first=1;" << "";
}

/// Every handler of a registry (of QML type `registryType`, handlers `handlerType`, from
/// `module`) is a JavaScript one: onNotified and `handler:` handlers and an add() function, which
/// the registry runs itself. What the first does to the others, or to the registry, during a
/// notify (the current row of addChangesWithinTheNotifyRows) holds at once: a handler removed is
/// skipped, one added waits for the next notify, and nothing runs on a deleted object (ASan
/// watches). `notify(registry, value)` notifies from C++.
inline void checkChangesWithinTheNotify(QQmlEngine &engine, const QString &module,
                                        const QString &registryType, const QString &handlerType,
                                        const std::function<void(QObject *, int)> &notify)
{
    QFETCH(QString, action);
    QFETCH(QString, first);
    QFETCH(QString, second);
    QQmlComponent component(&engine);
    component.setData(QStringLiteral(R"(
import QtQml
import MODULE
QtObject {
    id: root
    property string trace: ""
    property var killer: null
    property var made: []
    property bool acted: false
    property var subscription: null
    property REGISTRY registry: REGISTRY {}
    property HANDLER first: HANDLER {
        registry: root.registry; priority: 10
        onNotified: event => { root.trace += "first=" + event + ";"; if (!root.acted) { root.acted = true; ACTION } }
    }
    property HANDLER fn: HANDLER {
        registry: root.registry; priority: 5; handler: event => { root.trace += "fn=" + event + ";"; }
    }
    property HANDLER low: HANDLER {
        registry: root.registry; priority: 1; onNotified: event => { root.trace += "low=" + event + ";"; }
    }
    property Component plain: Component {
        HANDLER { priority: 7; onNotified: event => { root.trace += "dyn=" + event + ";"; } }
    }
    Component.onCompleted: subscription = registry.add(event => { root.trace += "add=" + event + ";"; }, 3)
}
)")
                          .replace(QStringLiteral("MODULE"), module)
                          .replace(QStringLiteral("REGISTRY"), registryType)
                          .replace(QStringLiteral("HANDLER"), handlerType)
                          .replace(QStringLiteral("ACTION"), action)
                          .toUtf8(),
                      QUrl(QStringLiteral("qrc:/within.qml")));
    std::unique_ptr<QObject> root(component.create());
    QVERIFY2(root, qPrintable(component.errorString()));
    Killer killer;
    root->setProperty("killer", QVariant::fromValue<QObject *>(&killer));
    const QPointer<QObject> registry = root->property("registry").value<QObject *>();
    notify(registry, 1);
    QCOMPARE(root->property("trace").toString(), first);
    root->setProperty("trace", QString());
    if (registry)
        notify(registry, 2);
    QCOMPARE(root->property("trace").toString(), second);
}

/// Runs a nested event loop for a few turns, as a modal dialog's exec() would in a handler.
inline void runNestedEventLoop()
{
    QEventLoop loop;
    QTimer turns; // a zero timer fires once per turn of the loop
    turns.setInterval(0);
    int left = 4;
    QObject::connect(&turns, &QTimer::timeout, &loop, [&] {
        if (--left == 0)
            loop.quit();
    });
    turns.start();
    loop.exec();
}

/// A regular expression matching the whole message `text` exactly.
inline QRegularExpression exactly(const QString &text)
{
    return QRegularExpression(QStringLiteral("^") + QRegularExpression::escape(text) + QStringLiteral("$"));
}

} // namespace rio::test
