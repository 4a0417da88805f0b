// SPDX-License-Identifier: MIT
// The producer daemon: shares an "orders" registry of QVariant maps ({id, item, quantity}) on a
// local socket (same user only) and notifies --count orders (at least 1; 600 by default, two
// minutes of them), one every 200 ms, then goes on sharing until it is stopped.
// Orders that the window sends back reach its own handler, which prints them.
//   rio_example_remote_qml_producer [--url local:rio-orders-qml] [--count 600]
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
    const QStringList args = app.arguments();
    const auto option = [&](const char *name, const char *fallback) {
        const int at = args.indexOf(QLatin1String(name));
        return at >= 0 && at + 1 < args.size() ? args.at(at + 1) : QString::fromLatin1(fallback);
    };
    const QUrl url(option("--url", "local:rio-orders-qml"));
    const int count = option("--count", "600").toInt();
    if (count < 1) {
        std::fprintf(stderr, "producer: --count must be at least 1\n");
        return 2;
    }

    QRemoteObjectHost host;
    rio::RemoteListener listener(&host); // first: it gives the host its connections
    if (!listener.listen(url)) {
        std::fprintf(stderr, "producer: cannot listen on %s: %s\n", qPrintable(url.toString()),
                     qPrintable(listener.errorString()));
        return 1;
    }
    // QML's RemoteRegistry carries QVariant events: share a registry of QVariant.
    rio::QtRegistry<QVariant> orders;
    rio::RemoteShare<QVariant> share(&host, QStringLiteral("orders"), orders);

    orders.add(&app, [](const QVariant &event) {
        const QVariantMap order = event.toMap();
        if (order.value(QStringLiteral("id")).toLongLong() < 0) { // the window's, in this example
            std::printf("producer: order %lld (%s) from the window\n",
                        order.value(QStringLiteral("id")).toLongLong(),
                        qPrintable(order.value(QStringLiteral("item")).toString()));
            std::fflush(stdout);
        }
    });

    qint64 next = 1;
    QTimer tick;
    QObject::connect(&tick, &QTimer::timeout, &app, [&] {
        orders.notify(QVariantMap{{QStringLiteral("id"), next},
                                  {QStringLiteral("item"), QStringLiteral("widget")},
                                  {QStringLiteral("quantity"), int(next % 5) + 1}});
        if (next >= count)
            tick.stop();
        ++next;
    });
    tick.start(200);
    std::printf("producer: sharing \"orders\" on %s\n", qPrintable(listener.address().toString()));
    std::fflush(stdout);
    return app.exec();
}
