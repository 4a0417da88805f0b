// SPDX-License-Identifier: MIT
// A QObject whose source file's first include is a RegistryIO header, built with AUTOMOC and
// nothing else: moc before Qt 6.5.3 stops on such a file (`Parse error at "std"` in <concepts>)
// unless the header lets it read libstdc++'s configuration first, as every public header does.
#include <registryio/registry.h>

#include <QCoreApplication>
#include <QObject>

#include <cstdio>

class Counter : public QObject
{
    Q_OBJECT
public:
    rio::Registry<int> registry;

signals:
    void counted(int total);
};

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    Counter counter;
    int total = 0;
    QObject::connect(&counter, &Counter::counted, &counter, [&total](int n) { total += n; });
    counter.registry.add([&counter](const int &n) { emit counter.counted(n); });
    counter.registry.notify(5);
    counter.registry.notify(7);
    std::printf("consumer_moc: total=%d\n", total);
    return total == 12 ? 0 : 1;
}

#include "main_moc.moc"
