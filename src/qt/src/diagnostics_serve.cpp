// SPDX-License-Identifier: MIT
// Attaching (docs/DIAGNOSTICS.md): RIO_INSPECT or Diagnostics::serve loads the serving module,
// which RegistryIO::Remote's package installs beside this library, only when asked, so that an
// application that does not link RegistryIO::Remote is never made to load it otherwise.

#include <registryio/qt/diagnostics.h>

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QLibrary>

#include <mutex>

#if defined(Q_OS_UNIX)
#include <dlfcn.h>
#endif

namespace rio {

namespace {

// The serving module's entry: serves on `url`; on failure false, with `error` (NUL-terminated).
using ServeFunction = bool (*)(const char *url, char *error, int errorSize);

// Where the serving module is: RIO_INSPECT_SERVER, else `registryio/` beside this library.
QString serverPath()
{
    QString path = qEnvironmentVariable("RIO_INSPECT_SERVER");
    if (!path.isEmpty())
        return path;
#if defined(Q_OS_UNIX)
    Dl_info info{};
    if (dladdr(reinterpret_cast<const void *>(&serverPath), &info) != 0 && info.dli_fname != nullptr)
        return QFileInfo(QString::fromLocal8Bit(info.dli_fname)).absolutePath() +
               QStringLiteral("/registryio/libRegistryIOInspectServer.so");
#endif
    return {};
}

QString defaultUrl()
{
    QString app = QCoreApplication::applicationName();
    app.replace(QLatin1Char('/'), QLatin1Char('_'));
    return QStringLiteral("local:rio-inspect-%1-%2").arg(app).arg(QCoreApplication::applicationPid());
}

// The lock guards loading and starting only: the warnings and the switch (whose signal runs
// slots) come after it.
std::mutex servingMutex;
// The process that serves (0: none). A fork() child is another: it does not have its parent's
// serving thread, and may serve on its own.
qint64 servingPid = 0;

// The application object that was served is destroyed (its post routine): a later one may serve.
void servedNoMore()
{
    const std::lock_guard lock(servingMutex);
    servingPid = 0;
}

} // namespace

bool Diagnostics::serve(const QString &url)
{
    if (QCoreApplication::instance() == nullptr) { // its destruction stops the server
        qCWarning(lcDiagnostics, "cannot serve diagnostics on %s: there is no application object",
                  qPrintable(url));
        return false;
    }
    const QString where = url.isEmpty() || url == QLatin1String("1") ? defaultUrl() : url;
    if (!where.startsWith(QLatin1String("local:")) || where.size() == 6) {
        qCWarning(lcDiagnostics,
                  "cannot serve diagnostics on %s: only local:<name> (the same user) is served",
                  qPrintable(where));
        return false;
    }
    QString failure;
    {
        const std::lock_guard lock(servingMutex);
        if (servingPid == QCoreApplication::applicationPid())
            return true;
        QLibrary library(serverPath());
        auto serveOn =
            reinterpret_cast<ServeFunction>(library.resolve("rio_inspect_serve")); // never unloaded
        char error[512] = {};
        if (serveOn == nullptr)
            failure = library.errorString();
        else if (!serveOn(where.toUtf8().constData(), error, static_cast<int>(sizeof error)))
            failure = QString::fromUtf8(error);
        else {
            servingPid = QCoreApplication::applicationPid();
            qAddPostRoutine(&servedNoMore);
        }
    }
    if (!failure.isEmpty()) {
        qCWarning(lcDiagnostics, "cannot serve diagnostics on %s: %s", qPrintable(where),
                  qPrintable(failure));
        return false;
    }
    setEnabled(true);
    qCInfo(lcDiagnostics, "serving diagnostics on %s", qPrintable(where));
    return true;
}

namespace {

// RIO_INSPECT: serve from the application object's creation.
void serveFromEnvironment()
{
    if (qEnvironmentVariableIsSet("RIO_INSPECT"))
        Diagnostics::serve(qEnvironmentVariable("RIO_INSPECT"));
}
Q_COREAPP_STARTUP_FUNCTION(serveFromEnvironment)

} // namespace

} // namespace rio
