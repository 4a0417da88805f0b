// SPDX-License-Identifier: MIT
#include "inspect_client.h"

#include "inspect_protocol.h"

#include <QDir>
#include <QFile>

#include <cerrno>
#include <csignal>

#include <sys/stat.h>
#include <unistd.h>

namespace rio::inspect {

QUrl urlOf(const QString &target)
{
    return {target.startsWith(QLatin1String("local:")) ? target : QStringLiteral("local:") + target};
}

qint64 pidOf(const QString &target)
{
    bool ok = false;
    const qint64 pid = target.section(QLatin1Char('-'), -1).toLongLong(&ok);
    return ok && pid > 0 ? pid : 0;
}

bool hasEnded(qint64 pid)
{
    return pid != 0 && kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

QList<Served> servedApplications()
{
    const QDir dir(QDir::tempPath());
    QList<Served> served;
    for (const QString &name : dir.entryList({namePrefix + QLatin1Char('*')}, QDir::System | QDir::Files)) {
        struct stat st{};
        if (lstat(QFile::encodeName(dir.filePath(name)).constData(), &st) != 0 || !S_ISSOCK(st.st_mode) ||
            st.st_uid != getuid())
            continue;
        const qint64 pid = pidOf(name);
        if (hasEnded(pid))
            continue; // left by a killed process
        served.append({name, pid, name.mid(namePrefix.size()).section(QLatin1Char('-'), 0, -2)});
    }
    return served;
}

QString socketProblem(const QString &target)
{
    const QString name = urlOf(target).path();
    const QString path = name.startsWith(QLatin1Char('/'))
                             ? name
                             : QDir::cleanPath(QDir::tempPath()) + QLatin1Char('/') + name;
    struct stat st{};
    if (lstat(QFile::encodeName(path).constData(), &st) != 0)
        return QStringLiteral(
                   "nothing serves at %1 (an application serves when started with RIO_INSPECT set)")
            .arg(path);
    if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid())
        return QStringLiteral("%1 is not a socket of this user").arg(path);
    return {};
}

} // namespace rio::inspect
