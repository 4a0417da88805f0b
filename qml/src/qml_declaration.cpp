// SPDX-License-Identifier: MIT
// Where the QML engine declared an object: the one use of Qt's private QML API (QQmlData), kept
// in this file and out of every installed header.
#include "qml_values.h"

#include <QQmlContext>
#include <QQmlEngine>

#include <private/qqmldata_p.h>

#include <utility>

namespace rio {

bool detail::declarationPosition(const QObject *object, QString *file, int *line)
{
    // QQmlData::lineNumber is the line of the object's declaration, set by the engine as it
    // creates the object (Qt 6.4 to 6.8: quint16, 0 when not created from QML).
    const QQmlData *data = QQmlData::get(object);
    const QQmlContext *context = qmlContext(object);
    if (data == nullptr || context == nullptr || data->lineNumber == 0)
        return false;
    QString f = context->baseUrl().toString();
    if (f.isEmpty())
        return false;
    *file = std::move(f);
    *line = data->lineNumber;
    return true;
}

} // namespace rio
