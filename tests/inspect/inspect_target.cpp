// SPDX-License-Identifier: MIT
// An application that knows nothing of attaching (RegistryIO::Qt only): a registry notified on
// a 1 ms timer whose handler stalls 30 ms at its 5th run and every 200th after. It says where its
// handlers were added, when it stalled, and ends when its standard input closes (or after 60 s).

#include <registryio/qt/qt_registry.h>

#include <QCoreApplication>
#include <QSocketNotifier>
#include <QTimer>

#include <cstdio>
#include <thread>
#include <unistd.h>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    rio::QtRegistry<int> orders;
    orders.setObjectName(QStringLiteral("orders"));
    const int countLine = __LINE__ + 1;
    orders.add([](int) { });
    // clang-format off
    const int stallLine = __LINE__ + 1;
    orders.add([](int i) { if (i % 200 == 5) { std::this_thread::sleep_for(std::chrono::milliseconds(30)); std::printf("stalled %d\n", i); std::fflush(stdout); } });
    // clang-format on
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
    return QCoreApplication::exec();
}
