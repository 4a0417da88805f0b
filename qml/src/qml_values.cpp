// SPDX-License-Identifier: MIT
#include "qml_values.h"

#include <registryio/qml/detail/delivery.h>

#include <QJSEngine>
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

// options.overflow: RegistryHandler.DropOldest/DropNewest/Block (numbers) or their names as
// strings, with a capital or a small first letter ("dropNewest", "DropNewest").
QString readOverflowOption(const QJSValue &options, Overflow &out)
{
    const QJSValue value = options.property(QStringLiteral("overflow"));
    if (value.isUndefined())
        return {};
    if (value.isNumber()) {
        const double number = value.toNumber();
        for (Overflow o : {Overflow::DropOldest, Overflow::DropNewest, Overflow::Block}) {
            if (number == double(int(o))) {
                out = o;
                return {};
            }
        }
    } else if (value.isString()) {
        const QString name = value.toString();
        for (Overflow o : {Overflow::DropOldest, Overflow::DropNewest, Overflow::Block}) {
            const QString known = QString::fromLatin1(detail::QmlDeliverySettings::overflowName(int(o)));
            if (name == known || (name.size() > 1 && name.front() == known.front().toLower() &&
                                  QStringView(name).mid(1) == QStringView(known).mid(1))) {
                out = o;
                return {};
            }
        }
    }
    return QStringLiteral("options.overflow must be RegistryHandler.DropOldest, RegistryHandler.DropNewest "
                          "or RegistryHandler.Block (or \"dropOldest\", \"dropNewest\", \"block\"), got %1")
        .arg(value.isString()   ? QStringLiteral("\"%1\"").arg(value.toString())
             : value.isNumber() ? value.toString()
                                : detail::jsTypeName(value));
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
        return engine->toScriptValue(event);
    }
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
    const bool coalesce = options.property(QStringLiteral("coalesce")).toBool();
    delivery.once = options.property(QStringLiteral("once")).toBool();
    auto capacity = double(delivery.capacity);
    auto blockTimeout = double(delivery.blockTimeout.count());
    double minInterval = 0;
    QString refused = readWholeOption(options, QStringLiteral("capacity"), 9007199254740992.0, capacity);
    if (refused.isEmpty())
        refused = readOverflowOption(options, delivery.overflow);
    if (refused.isEmpty())
        refused = readWholeOption(options, QStringLiteral("blockTimeout"), INT_MAX, blockTimeout);
    if (refused.isEmpty())
        refused = readWholeOption(options, QStringLiteral("minInterval"), INT_MAX, minInterval);
    if (refused.isEmpty() && minInterval > 0 && !coalesce)
        refused = QStringLiteral("options.minInterval needs coalesce: true");
    if (!refused.isEmpty())
        return refused;
    delivery.delivery = coalesce ? Delivery::Latest : Delivery::Every;
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
