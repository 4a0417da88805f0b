// SPDX-License-Identifier: MIT
#include "inspect_client.h"

#include "inspect_protocol.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>

#include <cerrno>
#include <csignal>
#include <cstdlib>

#include <sys/stat.h>
#include <unistd.h>

namespace rio::inspect {

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

namespace {

bool isOwnSocket(const struct stat &st)
{
    return S_ISSOCK(st.st_mode) && st.st_uid == geteuid();
}

} // namespace

Pin::Pin(const QString &target)
{
    // `rio-inspect-app-42` or `local:rio-inspect-app-42`, as a URL's path.
    const QString name =
        QUrl(target.startsWith(QLatin1String("local:")) ? target : QStringLiteral("local:") + target).path();
    m_path = name.startsWith(QLatin1Char('/')) ? name
                                               : QDir::cleanPath(QDir::tempPath()) + QLatin1Char('/') + name;
    const QByteArray path = QFile::encodeName(m_path);
    struct stat st{};
    if (lstat(path.constData(), &st) != 0) {
        m_problem =
            QStringLiteral("nothing serves at %1 (an application serves when started with RIO_INSPECT set)")
                .arg(m_path);
        return;
    }
    if (!isOwnSocket(st)) {
        m_problem = QStringLiteral("%1 is not a socket of this user").arg(m_path);
        return;
    }
    int error = 0;
    // The link is made in the temporary folder, else (another file system) beside the socket.
    for (const QString &in : {QDir::tempPath(), QFileInfo(m_path).absolutePath()}) {
        QByteArray folder = QFile::encodeName(in) + "/.rio-inspect-pin-XXXXXX";
        if (mkdtemp(folder.data()) == nullptr) { // mode 0700
            error = errno;
            continue;
        }
        const QByteArray link = folder + "/s";
        if (::link(path.constData(), link.constData()) == 0 && lstat(link.constData(), &st) == 0) {
            m_folder = folder;
            m_device = st.st_dev;
            m_inode = st.st_ino;
            if (!isOwnSocket(st)) // another put at the name since it was looked at
                m_problem = QStringLiteral("%1 is not a socket of this user").arg(m_path);
            return;
        }
        error = errno;
        unlink(link.constData());
        rmdir(folder.constData());
    }
    m_problem = QStringLiteral("cannot attach to %1: no link to it can be made (%2)")
                    .arg(m_path, qt_error_string(error));
}

Pin::~Pin()
{
    if (m_folder.isEmpty())
        return;
    unlink((m_folder + "/s").constData());
    rmdir(m_folder.constData());
}

QUrl Pin::url() const
{
    return {QStringLiteral("local:") + QFile::decodeName(m_folder) + QStringLiteral("/s")};
}

QString Pin::changed() const
{
    struct stat st{};
    if (lstat(QFile::encodeName(m_path).constData(), &st) != 0)
        return QStringLiteral("stopped serving (its socket is gone)");
    if (st.st_dev != m_device || st.st_ino != m_inode)
        return QStringLiteral("is another socket now (the application started again, or another "
                              "user's), which is not read");
    return {};
}

} // namespace rio::inspect
