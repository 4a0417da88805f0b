// SPDX-License-Identifier: MIT
// The producer daemon: shares its "orders" registry on a local socket (same user only) and
// notifies --count orders (at least 1), one every 100 ms, then goes on sharing (for the orders
// subscribers send) until it is stopped. Orders notified by subscribers reach its own handlers too.
//   rio_example_remote_producer [--url local:rio-orders] [--count 20]
#include "order.h"

#include <registryio/qt/qt_registry.h>
#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_share.h>

#include <QCoreApplication>
#include <QRemoteObjectHost>
#include <QTimer>

#include <cstdio>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    const auto option = [&](const char *name, const char *fallback) {
        const int at = args.indexOf(QLatin1String(name));
        return at >= 0 && at + 1 < args.size() ? args.at(at + 1) : QString::fromLatin1(fallback);
    };
    const QUrl url(option("--url", "local:rio-orders"));
    const int count = option("--count", "20").toInt();
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
    rio::QtRegistry<Order> orders;
    rio::RemoteShare<Order> share(&host, QStringLiteral("orders"), orders);

    orders.add(&app, [](const Order &o) {
        if (o.id < 0) // subscribers use negative ids in this example
            std::printf("producer: order %lld (%s x%d) from a subscriber\n", qlonglong(o.id),
                        qPrintable(o.item), o.quantity);
        std::fflush(stdout);
    });

    qint64 next = 1;
    QTimer tick;
    QObject::connect(&tick, &QTimer::timeout, &app, [&] {
        orders.notify(Order{next, QStringLiteral("widget"), int(next % 5) + 1});
        if (next >= count)
            tick.stop();
        ++next;
    });
    tick.start(100);
    std::printf("producer: sharing \"orders\" on %s\n", qPrintable(listener.address().toString()));
    std::fflush(stdout);
    return app.exec();
}
