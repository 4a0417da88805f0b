// SPDX-License-Identifier: MIT
// Every C++ snippet of docs/REMOTE.md is a region of this file (tst_doc_snippets checks that the
// two agree). It runs the sharing side and the subscribing side in one process over a local
// socket, and checks what the snippets claim: an order notified at the source reaches the
// subscriber, and one notified at the subscriber reaches the source. The TLS snippets are
// compiled; they run with certificate files: rio_example_api_tour_remote <cert> <key> <ca>.
// [includes]
#include <registryio/qt/qt_registry.h>
#include <registryio/remote/remote_listener.h> // the sharing side
#include <registryio/remote/remote_registry.h> // the subscribing side
#include <registryio/remote/remote_share.h>    // the sharing side
#include <registryio/remote/remote_tls.h>      // tls:// URLs

#include <QRemoteObjectHost>
#include <QRemoteObjectNode>
// [includes]

#include <QCoreApplication>
#include <QFile>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslKey>
#include <QTimer>

#include <cstdio>

// [order]
struct Order
{
    qint64 id = 0;
    QString item;
};
QDataStream &operator<<(QDataStream &s, const Order &o)
{
    return s << o.id << o.item;
}
QDataStream &operator>>(QDataStream &s, Order &o)
{
    return s >> o.id >> o.item;
}
// [order]

namespace {

QByteArray fileBytes(const QString &path)
{
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

// Listens on TLS and connects to it: the snippets' calls, with the certificate, key and CA given.
bool tlsTour(const QStringList &files)
{
    const QSslCertificate sourceCertificate(fileBytes(files.at(0)));
    const QSslKey sourceKey(fileBytes(files.at(1)), QSsl::Ec);
    const QList<QSslCertificate> clientCa = QSslCertificate::fromData(fileBytes(files.at(2)));
    const QList<QSslCertificate> serverCa = clientCa;
    const QSslCertificate subscriberCertificate = sourceCertificate;
    const QSslKey subscriberKey = sourceKey;
    QRemoteObjectHost host;
    rio::RemoteListener listener(&host);
    QRemoteObjectNode node;
    // [tls-source]
    QSslConfiguration server = QSslConfiguration::defaultConfiguration();
    server.setLocalCertificate(sourceCertificate); // QSslCertificate, QSslKey from PEM files
    server.setPrivateKey(sourceKey);
    server.setCaCertificates(clientCa); // subscribers must show a certificate from it
    server.setPeerVerifyMode(QSslSocket::VerifyPeer);
    listener.listen(QUrl(QStringLiteral("tls://127.0.0.1:4711")), server);
    // [tls-source]
    // [tls-subscriber]
    QSslConfiguration client = QSslConfiguration::defaultConfiguration();
    client.setCaCertificates(serverCa);
    client.setLocalCertificate(subscriberCertificate);
    client.setPrivateKey(subscriberKey);
    rio::setRemoteTlsConfiguration(&node, client); // before connectToSource
    rio::connectToSource(&node, QUrl(QStringLiteral("tls://127.0.0.1:4711")));
    // [tls-subscriber]
    return listener.errorString().isEmpty();
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (argc == 4)
        return tlsTour(app.arguments().mid(1)) ? 0 : 1;

    // [share]
    // The sharing process (for example a daemon).
    QRemoteObjectHost host;
    rio::RemoteListener listener(&host); // owns the sockets: create it, and listen, first
    if (!listener.listen(QUrl(QStringLiteral("local:rio-api-tour-remote")))) // same user only
        qFatal("%s", qPrintable(listener.errorString()));
    rio::QtRegistry<Order> orders;
    rio::RemoteShare<Order> share(&host, QStringLiteral("orders"), orders);
    // [share]
    // [lossless]
    // A share that never drops while its subscribers keep up within 5 s: notify (from any thread
    // but the host's) waits for room in every subscriber's backlog.
    rio::QtRegistry<Order> journal;
    rio::RemoteShare<Order> journalShare(
        &host, QStringLiteral("journal"), journal,
        {.capacity = 4096, .overflow = rio::Overflow::Block, .blockTimeout = std::chrono::seconds(5)});
    QObject::connect(journalShare.base(), &rio::RemoteShareBase::eventsDropped, &app,
                     [](quint64 subscriber, quint64 count) {
                         qWarning("journal: %llu events lost for subscriber %llu", count, subscriber);
                     });
    // [lossless]
    QList<qint64> atSource;
    orders.add(&app, [&](const Order &o) { atSource.append(o.id); });

    QObject window;
    QList<qint64> atSubscriber;
    // [subscribe]
    // Another process (for example the UI).
    QRemoteObjectNode node;
    rio::connectToSource(&node, QUrl(QStringLiteral("local:rio-api-tour-remote")));
    rio::RemoteRegistry<Order> remote(&node, QStringLiteral("orders")); // a QtRegistry<Order>
    remote.add(&window, [&](const Order &o) { atSubscriber.append(o.id); },
               {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
    QObject::connect(remote.link(), &rio::RemoteSubscriber::stateChanged, &window,
                     [&](rio::RemoteSubscriber::State state) {
                         if (state == rio::RemoteSubscriber::State::Connected)
                             orders.notify(Order{1, QStringLiteral("widget")}); // to every subscriber
                     });
    // [subscribe]

    QTimer::singleShot(20000, &app, [] {
        std::printf("api-tour-remote: timed out\n");
        QCoreApplication::exit(1);
    });
    QTimer poll;
    QObject::connect(&poll, &QTimer::timeout, &app, [&] {
        if (atSubscriber == QList<qint64>{1} && atSource == QList<qint64>{1}) {
            // [notify-back]
            remote.notify(Order{2, QStringLiteral("gadget")}); // here, at the source, at the others
            // [notify-back]
        }
        if (atSource == QList<qint64>{1, 2} && atSubscriber == QList<qint64>{1, 2}) {
            std::printf("api-tour-remote: ok\n");
            QCoreApplication::exit(0);
        }
    });
    poll.start(10);
    return app.exec();
}
