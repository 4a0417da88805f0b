// SPDX-License-Identifier: MIT
// registryio-inspect-gui: the Qt Quick inspector. Lists the running applications that serve their
// diagnostics (RIO_INSPECT), attaches to one, shows its live handler table as its in-app inspector
// does (RegistryInspector) and its frame timeline, and detaches; the application goes on.
//
//   registryio-inspect-gui [name|local:name]     (attaches to `name` at once when given)
//   registryio-inspect-gui --help

#include "inspector_session.h"

#include <QDir>
#include <QFileInfo>
#include <QGuiApplication>
#include <QQmlApplicationEngine>

#include <cstdio>
#include <cstring>

#ifndef RIO_INSPECT_QMLDIR // without install rules: the build tree's only
#define RIO_INSPECT_QMLDIR "../qml"
#endif

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) { // no display needed
            std::printf("usage: registryio-inspect-gui [name|local:name]\n"
                        "  lists the applications of this user that serve their diagnostics (RIO_INSPECT=1)\n"
                        "  and shows the handler table and frame timeline of the one attached to: `name`,\n"
                        "  at once when given (registryio-inspect list names them)\n");
            return 0;
        }
    }
    QGuiApplication app(argc, argv);
    rio::inspect::registerInspectorTypes();
    QQmlApplicationEngine engine;
    // The RegistryIO module: in a build tree in qml/ beside bin/; installed, where the install put
    // it, from this program's folder (Qt's own folder under /usr, but not under another prefix).
    const QDir here(QCoreApplication::applicationDirPath());
    for (const QString &dir : {QStringLiteral("../qml"), QStringLiteral(RIO_INSPECT_QMLDIR)})
        if (QFileInfo::exists(here.filePath(dir + QStringLiteral("/RegistryIO/qmldir"))))
            engine.addImportPath(QDir::cleanPath(here.filePath(dir)));
    engine.load(QUrl(QStringLiteral("qrc:/registryio/inspector/InspectorWindow.qml")));
    if (engine.rootObjects().isEmpty())
        return 1;
    const QStringList args = QCoreApplication::arguments().mid(1);
    if (!args.isEmpty()) {
        auto *session = qobject_cast<rio::inspect::InspectorSession *>(
            engine.rootObjects().constFirst()->property("session").value<QObject *>());
        if (session != nullptr && !session->attach(args.constFirst()))
            qWarning("registryio-inspect-gui: %s", qPrintable(session->message()));
    }
    return QGuiApplication::exec();
}
