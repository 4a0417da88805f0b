// SPDX-License-Identifier: MIT
#pragma once

#include <QByteArray>
#include <QFile>
#include <QFileInfo>
#include <QSaveFile>
#include <QString>

namespace rio::detail {

// Writes `bytes` to `path`; false if it cannot. A regular file (or a new one) is replaced as a
// whole, so a reader never sees half of it; a path that names something else (/dev/null,
// /dev/stdout, a pipe, a terminal) is written to as it is, never replaced by a regular file.
inline bool writeWholeFile(const QString &path, const QByteArray &bytes)
{
    const QFileInfo info(path);
    if (info.exists() && !info.isFile()) {
        QFile file(path);
        return file.open(QIODevice::WriteOnly) && file.write(bytes) == bytes.size() && file.flush();
    }
    QSaveFile file(path);
    return file.open(QIODevice::WriteOnly) && file.write(bytes) == bytes.size() && file.commit();
}

} // namespace rio::detail
