// SPDX-License-Identifier: MIT
#pragma once

// Loading QML test files with the build tree's RegistryIO module.

#include <QFile>
#include <QJSEngine>
#include <QJSValue>
#include <QQmlComponent>
#include <QQmlEngine>
#include <QQmlExpression>
#include <QRegularExpression>
#include <QString>
#include <QTest>
#include <QUrl>
#include <QVariantMap>

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

/// A regular expression matching the whole message `text` exactly.
inline QRegularExpression exactly(const QString &text)
{
    return QRegularExpression(QStringLiteral("^") + QRegularExpression::escape(text) + QStringLiteral("$"));
}

} // namespace rio::test
