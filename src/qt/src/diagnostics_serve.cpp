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

} // namespace

bool Diagnostics::serve(const QString &url)
{
    static std::mutex mutex;
    static bool serving = false;
    const std::lock_guard lock(mutex);
    if (serving)
        return true;
    const QString path = serverPath();
    QLibrary library(path);
    auto serveOn = reinterpret_cast<ServeFunction>(library.resolve("rio_inspect_serve")); // never unloaded
    if (serveOn == nullptr) {
        qCWarning(lcDiagnostics, "cannot serve diagnostics: %s", qPrintable(library.errorString()));
        return false;
    }
    setEnabled(true);
    const QString where = url.isEmpty() || url == QLatin1String("1") ? defaultUrl() : url;
    char error[512] = {};
    if (!serveOn(where.toUtf8().constData(), error, static_cast<int>(sizeof error))) {
        qCWarning(lcDiagnostics, "cannot serve diagnostics on %s: %s", qPrintable(where), error);
        return false;
    }
    serving = true;
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
