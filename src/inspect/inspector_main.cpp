// SPDX-License-Identifier: MIT
// registryio-inspect-gui: the Qt Quick inspector. Lists the running applications that serve their
// diagnostics (RIO_INSPECT), attaches to one, shows its live handler table as its in-app inspector
// does (RegistryInspector) and its frame timeline, and detaches; the application goes on.
//
//   registryio-inspect-gui [name|local:name]     (attaches to `name` at once when given)

#include "inspector_session.h"

#include <QDir>
#include <QFileInfo>
#include <QGuiApplication>
#include <QQmlApplicationEngine>

int main(int argc, char **argv)
{
    QGuiApplication app(argc, argv);
    rio::inspect::registerInspectorTypes();
    QQmlApplicationEngine engine;
    // In a build tree the RegistryIO module is in qml/ beside bin/; installed, in Qt's own folder.
    if (const QString built = QCoreApplication::applicationDirPath() + QStringLiteral("/../qml");
        QFileInfo::exists(built + QStringLiteral("/RegistryIO/qmldir")))
        engine.addImportPath(QDir::cleanPath(built));
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
