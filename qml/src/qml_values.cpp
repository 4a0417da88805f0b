// SPDX-License-Identifier: MIT
#include "qml_values.h"

#include <registryio/qml/detail/delivery.h>

#include <QJSEngine>
#include <QPointer>
#include <QQmlEngine>
#include <QQmlError>
#include <QQmlInfo>
#include <QThread>
#include <QUrl>

#include <chrono>
#include <climits>
#include <cmath>
#include <utility>

namespace rio {

namespace {

// options[key] as a whole number from 0 to `max` into `out` (left alone when the key is absent);
// the complaint when it is something else.
QString readWholeOption(const QJSValue &options, const QString &key, double max, double &out)
{
    const QJSValue value = options.property(key);
    if (value.isUndefined())
        return {};
    const double number = value.isNumber() ? value.toNumber() : -1.0;
    if (!value.isNumber() || !(number >= 0.0 && number <= max) || std::floor(number) != number)
        return QStringLiteral("options.%1 must be a whole number from 0 to %2, got %3")
            .arg(key, QString::number(max, 'f', 0),
                 value.isNumber() ? value.toString() : detail::jsTypeName(value));
    out = number;
    return {};
}

// options[key] as a bool into `out` (left alone when the key is absent): only true or false, so
// that a string such as "false" is not taken as true; the complaint when it is something else.
QString readBoolOption(const QJSValue &options, const QString &key, bool &out)
{
    const QJSValue value = options.property(key);
    if (value.isUndefined())
        return {};
    if (!value.isBool())
        return QStringLiteral("options.%1 must be true or false, got %2")
            .arg(key, value.isString() ? QStringLiteral("\"%1\"").arg(value.toString())
                                       : detail::jsTypeName(value));
    out = value.toBool();
    return {};
}

// options.<key>: one of `names` (RegistryHandler's enum values, numbered from 0) as its number,
// or its name as a string with a capital or a small first letter ("dropNewest", "DropNewest").
// Returns its number, or -1 when absent or refused (`refused` then says why).
int readNamedOption(const QJSValue &options, const QString &key, std::initializer_list<const char *> names,
                    QString &refused)
{
    const QJSValue value = options.property(key);
    if (value.isUndefined())
        return -1;
    QStringList qualified;
    QStringList strings;
    int index = 0;
    for (const char *name : names) {
        const QString known = QString::fromLatin1(name);
        if (value.isNumber() && value.toNumber() == double(index))
            return index;
        const QString lower = QString(known.front().toLower()) + known.mid(1);
        if (value.isString() && (value.toString() == known || value.toString() == lower))
            return index;
        qualified << QStringLiteral("RegistryHandler.") + known;
        strings << QStringLiteral("\"%1\"").arg(lower);
        ++index;
    }
    const QString last = qualified.takeLast();
    refused = QStringLiteral("options.%1 must be %2 or %3 (or %4), got %5")
                  .arg(key, qualified.join(QStringLiteral(", ")), last, strings.join(QStringLiteral(", ")),
                       value.isString()   ? QStringLiteral("\"%1\"").arg(value.toString())
                       : value.isNumber() ? value.toString()
                                          : detail::jsTypeName(value));
    return -1;
}

} // namespace

QJSValue detail::scriptValue(QJSEngine *engine, const QVariant &event)
{
    switch (event.metaType().id()) {
    case QMetaType::Int:
        return {*static_cast<const int *>(event.constData())};
    case QMetaType::Double:
        return {*static_cast<const double *>(event.constData())};
    case QMetaType::Bool:
        return {*static_cast<const bool *>(event.constData())};
    case QMetaType::QString:
        return {*static_cast<const QString *>(event.constData())};
    default:
        break;
    }
    // A JavaScript notify's own value, queued for a JavaScript handler: that value itself.
    if (event.metaType() == QMetaType::fromType<QJSValue>())
        return *static_cast<const QJSValue *>(event.constData());
    // A QObject notified on the engine's thread (QmlRegistry::notify): null once destroyed.
    if (event.metaType() == QMetaType::fromType<QPointer<QObject>>())
        return engine->toScriptValue(static_cast<const QPointer<QObject> *>(event.constData())->data());
    return engine->toScriptValue(event);
}

namespace detail {

QString readQmlAddOptions(const QJSValue &options, const QThread *thread, QmlAddOptions &out)
{
    out = QmlAddOptions{};
    if (options.isUndefined() || options.isNull())
        return {};
    if (!options.isObject() || options.isCallable() || options.isArray())
        return QStringLiteral(
                   "options must be an object like { coalesce: true, once: false, owner: item }, got %1")
            .arg(jsTypeName(options));
    HandlerOptions &delivery = out.handler;
    QString refused;
    const int overflow =
        readNamedOption(options, QStringLiteral("overflow"), {"DropOldest", "DropNewest", "Block"}, refused);
    // `delivery` names the mode; `coalesce: true` is Latest too.
    const int mode = refused.isEmpty()
                         ? readNamedOption(options, QStringLiteral("delivery"), {"Every", "Latest"}, refused)
                         : -1;
    const bool coalesceGiven = !options.property(QStringLiteral("coalesce")).isUndefined();
    bool coalesce = false;
    if (refused.isEmpty())
        refused = readBoolOption(options, QStringLiteral("coalesce"), coalesce);
    if (refused.isEmpty())
        refused = readBoolOption(options, QStringLiteral("once"), delivery.once);
    if (refused.isEmpty() && mode >= 0 && coalesceGiven && coalesce != (mode == int(Delivery::Latest)))
        refused = QStringLiteral("options.delivery is %1 but options.coalesce is %2")
                      .arg(QLatin1String(mode == int(Delivery::Latest) ? "Latest" : "Every"),
                           QLatin1String(coalesce ? "true" : "false"));
    const bool latest = coalesce || mode == int(Delivery::Latest);
    auto capacity = double(delivery.capacity);
    auto blockTimeout = double(delivery.blockTimeout.count());
    double minInterval = 0;
    if (refused.isEmpty())
        refused = readWholeOption(options, QStringLiteral("capacity"), 9007199254740992.0, capacity);
    if (refused.isEmpty())
        refused = readWholeOption(options, QStringLiteral("blockTimeout"), INT_MAX, blockTimeout);
    if (refused.isEmpty())
        refused = readWholeOption(options, QStringLiteral("minInterval"), INT_MAX, minInterval);
    if (refused.isEmpty() && minInterval > 0 && !latest)
        refused =
            QStringLiteral("options.minInterval needs delivery: RegistryHandler.Latest (or coalesce: true)");
    if (!refused.isEmpty())
        return refused;
    if (overflow >= 0)
        delivery.overflow = Overflow(overflow);
    delivery.delivery = latest ? Delivery::Latest : Delivery::Every;
    delivery.capacity = std::size_t(capacity);
    delivery.blockTimeout = std::chrono::milliseconds(qint64(blockTimeout));
    delivery.minInterval = std::chrono::milliseconds(qint64(minInterval));
    const QJSValue ownerValue = options.property(QStringLiteral("owner"));
    if (!ownerValue.isUndefined() && !ownerValue.isNull()) {
        out.owner = ownerValue.toQObject();
        if (out.owner == nullptr || out.owner->thread() != thread)
            return QStringLiteral("options.owner must be a QML object on the registry's thread");
    }
    if (delivery.once)
        delivery =
            HandlerOptions{.once = true}; // one delivery: the default queue options (as a RegistryHandler's)
    return {};
}

} // namespace detail

bool detail::callerPosition(QJSEngine *engine, QString *file, int *line)
{
    // The calling JavaScript line: an error made now carries it (and is taken back at once).
    if (engine == nullptr || engine->hasError())
        return false;
    engine->throwError(QString());
    const QJSValue error = engine->catchError();
    QString f = error.property(QStringLiteral("fileName")).toString();
    const int l = error.property(QStringLiteral("lineNumber")).toInt();
    if (f.isEmpty() || l <= 0)
        return false;
    *file = std::move(f);
    *line = l;
    return true;
}

void detail::warnAtCaller(const QObject *object, const QString &message)
{
    QString file;
    int line = 0;
    if (!callerPosition(qjsEngine(object), &file, &line)) {
        qmlWarning(object) << message;
        return;
    }
    QQmlError error;
    error.setMessageType(QtWarningMsg);
    error.setUrl(QUrl(file));
    error.setLine(line);
    error.setDescription(message);
    qmlWarning(object, error);
}

} // namespace rio
