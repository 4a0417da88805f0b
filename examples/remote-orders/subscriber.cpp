// SPDX-License-Identifier: MIT
// The subscriber: a RemoteRegistry<Order> is a QtRegistry<Order> whose handlers also get the
// producer's orders. It prints its connection state, takes 5 orders, sends one back and exits.
//   rio_example_remote_subscriber [--url local:rio-orders] [--spawn-producer <path>]
#include "order.h"

#include <registryio/remote/remote_registry.h>

#include <QCoreApplication>
#include <QProcess>
#include <QRemoteObjectNode>
#include <QTimer>

#include <cstdio>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    const auto option = [&](const char *name, const QString &fallback) {
        const int at = args.indexOf(QLatin1String(name));
        return at >= 0 && at + 1 < args.size() ? args.at(at + 1) : fallback;
    };
    QString url = option("--url", QStringLiteral("local:rio-orders"));
    const QString producerPath = option("--spawn-producer", {});

    // Demo mode: start the producer ourselves, on a name of our own, and wait for its line.
    QProcess producer;
    bool producerSawIt = false;
    if (!producerPath.isEmpty()) {
        url = QStringLiteral("local:rio-orders-%1").arg(QCoreApplication::applicationPid());
        QObject::connect(&producer, &QProcess::readyReadStandardOutput, &app, [&] {
            while (producer.canReadLine()) {
                const QByteArray line = producer.readLine().trimmed();
                if (line.contains("order -1 "))
                    producerSawIt = true;
            }
        });
        // 600 orders: a minute of them, longer than this program waits (30 s).
        producer.start(producerPath,
                       {QStringLiteral("--url"), url, QStringLiteral("--count"), QStringLiteral("600")});
        if (!producer.waitForStarted() || !producer.waitForReadyRead(10000)) {
            std::fprintf(stderr, "subscriber: the producer did not start\n");
            return 1;
        }
    }

    QRemoteObjectNode node;
    rio::connectToSource(&node, QUrl(url));
    rio::RemoteRegistry<Order> orders(&node, QStringLiteral("orders"));
    QObject::connect(orders.link(), &rio::RemoteSubscriber::stateChanged, &app,
                     [](rio::RemoteSubscriber::State s) {
                         std::printf("subscriber: %s\n",
                                     s == rio::RemoteSubscriber::State::Connected      ? "connected"
                                     : s == rio::RemoteSubscriber::State::Reconnecting ? "reconnecting"
                                                                                       : "disconnected");
                     });

    int received = 0;
    orders.add(&app, [&](const Order &o) {
        if (o.id < 0 || received >= 5)
            return; // our own (delivered here at once), or more than we take
        std::printf("subscriber: order %lld: %s x%d\n", qlonglong(o.id), qPrintable(o.item), o.quantity);
        if (++received == 5)
            orders.notify(Order{-1, QStringLiteral("refund"), 1}); // reaches the producer too
    });

    // Done when the producer reported the order we sent (or, without a spawned producer, at once).
    QTimer poll;
    int waited = 0;
    QObject::connect(&poll, &QTimer::timeout, &app, [&] {
        if (received >= 5 && (producerPath.isEmpty() || producerSawIt || ++waited > 100)) {
            std::printf("subscriber: %d orders received, 1 sent back, the producer saw it: %s\n", received,
                        producerPath.isEmpty() ? "unknown"
                        : producerSawIt        ? "yes"
                                               : "no");
            app.exit(0);
        }
    });
    poll.start(50);
    QTimer::singleShot(30000, &app, [&] {
        std::printf("subscriber: gave up after 30 s with %d orders\n", received);
        app.exit(1);
    });
    const int rc = app.exec();
    if (producer.state() != QProcess::NotRunning) {
        producer.terminate();
        if (!producer.waitForFinished(5000))
            producer.kill();
        producer.waitForFinished(5000);
    }
    return rc;
}
