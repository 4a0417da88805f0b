// SPDX-License-Identifier: MIT
#include <registryio/qt/debug.h>

#include <QDebugStateSaver>
#include <QString>

namespace rio {

QDebug operator<<(QDebug debug, HandlerId id)
{
    QDebugStateSaver saver(debug);
    debug.nospace() << "rio::HandlerId(";
    if (id.isValid())
        debug << static_cast<qulonglong>(id.value());
    else
        debug << "invalid";
    debug << ')';
    return debug;
}

QDebug operator<<(QDebug debug, const ExceptionInfo &info)
{
    QDebugStateSaver saver(debug);
    debug.nospace() << "rio::ExceptionInfo(" << info.handlerId << ", " << QString::fromStdString(info.message)
                    << ')';
    return debug;
}

} // namespace rio
