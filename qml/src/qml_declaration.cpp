// SPDX-License-Identifier: MIT
// Where the QML engine declared an object: the one use of Qt's private QML API (QQmlData), kept
// in this file and out of every installed header.
#include "qml_values.h"

#include <QQmlContext>
#include <QQmlEngine>

#ifdef RIO_QML_DECLARATION_LINES
#include <private/qqmldata_p.h>
#endif

#include <utility>

namespace rio {

bool detail::declarationPosition(const QObject *object, QString *file, int *line)
{
#ifdef RIO_QML_DECLARATION_LINES
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
#else
    // Built without Qt's private QML headers: the caller records the file alone.
    Q_UNUSED(object);
    Q_UNUSED(file);
    Q_UNUSED(line);
    return false;
#endif
}

} // namespace rio
