// SPDX-License-Identifier: MIT
// Uses RegistryIO::Qt: its headers, its library and Qt through it.
#include <registryio/qt/logging.h>
#include <registryio/registry.h>

#include <QCoreApplication>

#include <cstdio>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    rio::Registry<QString> registry;
    QString seen;
    registry.add([&seen](const QString &s) { seen = s; });
    registry.notify(QStringLiteral("hello"));
    std::printf("consumer_qt: category=%s event=%s\n", rio::lcRegistryIO().categoryName(), qPrintable(seen));
    return seen == QLatin1String("hello") ? 0 : 1;
}
