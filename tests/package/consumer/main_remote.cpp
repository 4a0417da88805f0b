// SPDX-License-Identifier: MIT
// Uses RegistryIO::Remote from an install: shares a QtRegistry<QString> on a local socket and
// subscribes to it through Qt Remote Objects, in one process.
#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_registry.h>
#include <registryio/remote/remote_share.h>

#include <QCoreApplication>
#include <QRemoteObjectHost>
#include <QRemoteObjectNode>
#include <QTimer>

#include <cstdio>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    const QUrl url(QStringLiteral("local:rio-consumer-remote-%1").arg(QCoreApplication::applicationPid()));
    QRemoteObjectHost host;
    rio::RemoteListener listener(&host);
    if (!listener.listen(url)) {
        std::printf("consumer_remote: %s\n", qPrintable(listener.errorString()));
        return 1;
    }
    rio::QtRegistry<QString> source;
    rio::RemoteShare<QString> share(&host, QStringLiteral("greetings"), source);

    QRemoteObjectNode node;
    node.connectToNode(url);
    rio::RemoteRegistry<QString> greetings(&node, QStringLiteral("greetings"));
    QString seen;
    greetings.add(&app, [&](const QString &s) {
        seen = s;
        app.exit(0);
    });
    QObject::connect(greetings.link(), &rio::RemoteSubscriber::stateChanged, &app,
                     [&](rio::RemoteSubscriber::State state) {
                         if (state == rio::RemoteSubscriber::State::Connected)
                             source.notify(QStringLiteral("hello"));
                     });
    QTimer::singleShot(10000, &app, [&] { app.exit(1); });
    const int rc = app.exec();
    std::printf("consumer_remote: %s event=%s\n", rc == 0 ? "connected" : "timed out", qPrintable(seen));
    return rc;
}
