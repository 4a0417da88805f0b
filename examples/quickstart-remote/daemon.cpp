// SPDX-License-Identifier: MIT
// The Remote quick start's daemon (README.md shows it): shares its "orders" registry on the local
// socket local:rio-quickstart (same user only; the first argument names another), notifies an
// order every 200 ms, and quits when its last subscriber has gone (or after a minute without one).
#include <registryio/qt/qt_registry.h>
#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_share.h>

#include <QCoreApplication>
#include <QRemoteObjectHost>
#include <QTimer>
#include <QVariantMap>

#include <cstdio>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QString url = argc > 1 ? QString::fromLocal8Bit(argv[1]) : QStringLiteral("local:rio-quickstart");

    //! [daemon]
    QRemoteObjectHost host;
    rio::RemoteListener listener(&host); // owns the socket: create it, and listen, first
    if (!listener.listen(QUrl(url)))
        qFatal("daemon: %s", qPrintable(listener.errorString()));
    rio::QtRegistry<QVariant> orders; // a registry of the daemon's, shared as "orders"
    rio::RemoteShare<QVariant> share(&host, QStringLiteral("orders"), orders);

    // What a subscriber notifies runs the daemon's handlers too.
    orders.add(&app, [](const QVariant &event) {
        if (event.toMap().contains(QStringLiteral("thanks")))
            std::printf("daemon: the UI says thanks\n");
    });
    int next = 1;
    QTimer tick;
    QObject::connect(&tick, &QTimer::timeout, &app, [&] {
        orders.notify(
            QVariantMap{{QStringLiteral("id"), next++}, {QStringLiteral("item"), QStringLiteral("widget")}});
    });
    tick.start(200);
    //! [daemon]
    QObject::connect(share.base(), &rio::RemoteShareBase::subscriberCountChanged, &app, [](int subscribers) {
        if (subscribers == 0)
            QCoreApplication::quit();
    });
    QTimer::singleShot(60000, &app, [&share] {
        if (share.base()->subscriberCount() == 0)
            QCoreApplication::quit();
    });
    std::printf("daemon: sharing \"orders\" on %s\n", qPrintable(listener.address().toString()));
    std::fflush(stdout);
    return app.exec();
}
