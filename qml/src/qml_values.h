// SPDX-License-Identifier: MIT
#pragma once

// What the QML module's types share besides the registration bookkeeping: the options of add(),
// warnings at the caller's line, the engine thread's running handler and an event's JavaScript
// value. Private to the QML module.

#include <registryio/qt/delivery.h>

#include <QJSValue>
#include <QList>
#include <QString>
#include <QVariant>

class QJSEngine;
class QObject;
class QQmlError;
class QThread;

namespace rio::detail {

// What a JavaScript value is, for warnings: "undefined", "null", "a boolean", "a number",
// "a string", "an array" or "an object".
inline QString jsTypeName(const QJSValue &value)
{
    if (value.isUndefined())
        return QStringLiteral("undefined");
    if (value.isNull())
        return QStringLiteral("null");
    if (value.isBool())
        return QStringLiteral("a boolean");
    if (value.isNumber())
        return QStringLiteral("a number");
    if (value.isString())
        return QStringLiteral("a string");
    if (value.isArray())
        return QStringLiteral("an array");
    return QStringLiteral("an object");
}

// The JavaScript value of `event`: numbers, booleans and strings directly, the rest through the
// engine's conversion.
QJSValue scriptValue(QJSEngine *engine, const QVariant &event);

// A QML warning on `object` at the JavaScript line that called us (its declaration if none).
void warnAtCaller(const QObject *object, const QString &message);
// The file and line of the JavaScript that called us (an error made and taken back at once):
// false, nothing written, when no JavaScript runs or it has no position.
bool callerPosition(QJSEngine *engine, QString *file, int *line);
// The file and line where `object` is declared in QML, as the engine recorded them when it
// created the object (a pointer read, no JavaScript): false, nothing written, for an object not
// created from QML.
bool declarationPosition(const QObject *object, QString *file, int *line);

// The handler (a RegistryHandler or a typed handler) whose onNotified is running on this thread:
// engine warnings raised meanwhile (a thrown exception, a TypeError) are its failures, not an
// outer handler's.
struct QmlRunningHandler
{
    const QObject *handler = nullptr;
    QList<QQmlError> *errors = nullptr;
};
// This thread's running handler (one thread-local object: one TLS lookup per delivery).
QmlRunningHandler &runningHandler() noexcept;

// The options object of QmlRegistry.add() and a typed registry's add(): { delivery (or coalesce), once,
// owner, capacity, overflow, blockTimeout, minInterval }.
struct QmlAddOptions
{
    HandlerOptions handler; // delivery, capacity, overflow, blockTimeout, minInterval, once
    QObject *owner = nullptr;
};

// Reads `options` (undefined or null: the defaults) for a registry living on `thread`; returns
// the refusal, with no prefix, when something is wrong (then `out` is unspecified). A `once`
// handler keeps the default queue options, as a RegistryHandler's does.
QString readQmlAddOptions(const QJSValue &options, const QThread *thread, QmlAddOptions &out);

} // namespace rio::detail
