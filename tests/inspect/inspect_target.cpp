// SPDX-License-Identifier: MIT
// An application that knows nothing of attaching (RegistryIO::Qt only): a registry notified on
// a 1 ms timer whose handler stalls 30 ms at its 5th run and every 200th after, and a handler
// that dropped 2 deliveries for overflow. It says where its
// handlers were added, when it stalled, and ends when its standard input closes (or after 60 s).
// With `--lifecycle name` it tries serving across application objects and fork() instead; with
// `--handlers N` it also has a registry `many` of N handlers, and says how large its snapshot is.

#include "../../src/inspect/inspect_protocol.h"

#include <registryio/qt/diagnostics.h>
#include <registryio/qt/qt_registry.h>

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QSocketNotifier>
#include <QThread>
#include <QTimer>

#include <cstdio>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

namespace {

// `--lifecycle name`: serving follows the application object: refused without one, served with
// one, stopped with it, served again with the next; a fork() child that destroys its application
// object ends (it does not wait for its parent's serving thread). Says `lifecycle ok`, or the
// step that failed.
int lifecycle(int argc, char **argv)
{
    const QString url = QStringLiteral("local:") + QString::fromLocal8Bit(argv[2]);
    const auto served = [&] {
        return QFileInfo::exists(QDir(QDir::tempPath()).filePath(QString::fromLocal8Bit(argv[2])));
    };
    const auto fail = [](const char *step) {
        std::printf("lifecycle failed: %s\n", step);
        return 1;
    };
    if (rio::Diagnostics::serve(url) || served())
        return fail("served without an application object");
    auto *app = new QCoreApplication(argc, argv);
    if (!rio::Diagnostics::serve(url) || !served())
        return fail("not served with an application object");
    const pid_t child = fork();
    if (child == 0) {
        delete app; // its post routines run: the parent's serving thread is not this process's
        _exit(0);
    }
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return fail("the forked child did not end normally");
    if (!served())
        return fail("the forked child stopped its parent's server");
    delete app;
    if (served() || rio::Diagnostics::serve(url))
        return fail("served after its application object");
    app = new QCoreApplication(argc, argv);
    if (!rio::Diagnostics::serve(url) || !served())
        return fail("the next application object is not served");
    delete app;
    std::printf("lifecycle ok\n");
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc == 3 && qstrcmp(argv[1], "--lifecycle") == 0)
        return lifecycle(argc, argv);
    QCoreApplication app(argc, argv);
    rio::QtRegistry<int> orders;
    orders.setObjectName(QStringLiteral("orders"));
    const int countLine = __LINE__ + 1;
    orders.add([](int) { });
    // clang-format off
    const int stallLine = __LINE__ + 1;
    orders.add([](int i) { if (i % 200 == 5) { std::this_thread::sleep_for(std::chrono::milliseconds(30)); std::printf("stalled %d\n", i); std::fflush(stdout); } });
    // clang-format on
    // A handler that dropped 2 deliveries (its queue holds 1, and its first delivery waits for
    // the event loop).
    rio::QtRegistry<int> backlog;
    backlog.setObjectName(QStringLiteral("backlog"));
    backlog.add(&app, [](int) { }, {.connection = Qt::QueuedConnection, .capacity = 1});
    for (int n = 0; n < 3; ++n)
        backlog.notify(n);
    // A handler whose context lives on a thread nobody named.
    QThread worker;
    QObject onWorker;
    onWorker.moveToThread(&worker);
    rio::QtRegistry<int> workers;
    workers.setObjectName(QStringLiteral("workers"));
    workers.add(&onWorker, [](int) { });
    rio::QtRegistry<int> many;
    many.setObjectName(QStringLiteral("many"));
    if (argc == 3 && qstrcmp(argv[1], "--handlers") == 0) {
        // Each with a context of its own, named at length: a snapshot writes each distinct name
        // once, and those of 25,000 handlers make one of about 12 MB.
        for (int n = QByteArray(argv[2]).toInt(); n > 0; --n) {
            auto *context = new QObject(&app);
            context->setObjectName(QStringLiteral("context %1 ").arg(n).leftJustified(120, QLatin1Char('.')));
            many.add(context, [](int) { });
        }
        std::printf(
            "snapshot %lld bytes\n",
            static_cast<long long>(rio::inspect::encodeSnapshot(rio::Diagnostics::snapshot()).size()));
    }
    std::printf("handlers %s %d %d\n", __FILE__, countLine, stallLine);
    std::fflush(stdout);
    int i = 0;
    QTimer tick;
    QObject::connect(&tick, &QTimer::timeout, &orders, [&] { orders.notify(i++); });
    tick.start(1);
    QSocketNotifier input(STDIN_FILENO, QSocketNotifier::Read);
    QObject::connect(&input, &QSocketNotifier::activated, &app, [] {
        char c = 0;
        if (read(STDIN_FILENO, &c, 1) <= 0)
            QCoreApplication::quit();
    });
    QTimer::singleShot(60'000, &app, &QCoreApplication::quit); // bounded
    worker.start();
    const int code = QCoreApplication::exec();
    worker.quit();
    worker.wait();
    return code;
}
