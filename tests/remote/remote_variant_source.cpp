// SPDX-License-Identifier: MIT
// A source process for the QML subscriber's test: shares a QtRegistry<QVariant> as "orders" on
// the URL it is given. Commands on stdin, one a line; observations on stdout, one a line.
//   notify <from> <to>   notify {seq: n, item: "widget"} for n in [from, to]; prints "notified <to>"
//   quit                 exits 0
// It prints "ready <address>" once listening and "event <seq>" for each event it gets.
#include <registryio/qt/qt_registry.h>
#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_share.h>

#include <QCoreApplication>
#include <QRemoteObjectHost>
#include <QSocketNotifier>
#include <QVariantMap>

#include <cstdio>
#include <unistd.h>

namespace {

void say(const QByteArray &line)
{
    std::fwrite(line.constData(), 1, size_t(line.size()), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (app.arguments().size() < 2) {
        std::fprintf(stderr, "usage: rio_remote_variant_source <url> [--retain] [--notify-first <seq>]\n");
        return 2;
    }
    QRemoteObjectHost host;
    rio::RemoteListener listener(&host);
    if (!listener.listen(QUrl(app.arguments().at(1)))) {
        say("error " + listener.errorString().toUtf8());
        return 1;
    }
    rio::QtRegistry<QVariant> registry;
    rio::RemoteShareOptions options;
    options.retainLatest = app.arguments().contains(QStringLiteral("--retain")); // the newest event first
    rio::RemoteShare<QVariant> share(&host, QStringLiteral("orders"), registry, options);
    registry.add(&app, [](const QVariant &event) {
        say("event " + QByteArray::number(event.toMap().value(QStringLiteral("seq")).toLongLong()));
    });

    QByteArray input;
    QSocketNotifier stdinNotifier(STDIN_FILENO, QSocketNotifier::Read);
    QObject::connect(&stdinNotifier, &QSocketNotifier::activated, &app, [&] {
        char buffer[1024];
        const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
        if (n <= 0) {
            app.exit(0);
            return;
        }
        input.append(buffer, n);
        qsizetype eol;
        while ((eol = input.indexOf('\n')) >= 0) {
            const QList<QByteArray> words = input.left(eol).trimmed().split(' ');
            input.remove(0, eol + 1);
            if (words.value(0) == "notify") {
                const qint64 from = words.value(1).toLongLong();
                const qint64 to = words.value(2).toLongLong();
                for (qint64 seq = from; seq <= to; ++seq)
                    registry.notify(QVariantMap{{QStringLiteral("seq"), seq},
                                                {QStringLiteral("item"), QStringLiteral("widget")}});
                say("notified " + QByteArray::number(to));
            } else if (words.value(0) == "quit") {
                app.exit(0);
            }
        }
    });
    // --notify-first <seq>: notified before the event loop first runs, so before any connection is
    // taken: with --retain, a subscriber can get it only as the retained event.
    if (const qsizetype at = app.arguments().indexOf(QStringLiteral("--notify-first"));
        at >= 0 && at + 1 < app.arguments().size()) {
        const qint64 seq = app.arguments().at(at + 1).toLongLong();
        registry.notify(
            QVariantMap{{QStringLiteral("seq"), seq}, {QStringLiteral("item"), QStringLiteral("widget")}});
        say("notified " + QByteArray::number(seq));
    }
    say("ready " + listener.address().toString().toUtf8());
    return app.exec();
}
