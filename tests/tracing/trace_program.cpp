// SPDX-License-Identifier: MIT
// The program tst_tracing records: one registry named "trace-test" with a direct handler and
// three queued ones, notified three times; one queued delivery throws, one is dropped because
// its handler's queue is full, and one because its handler is removed before it runs. Its
// diagnostics are on, so queued deliveries carry their queueing delay. It prints its process id,
// the registry's id and the handlers' ids for the test to find their events, and the line that
// added `thrower`. Given a path, it writes rio::Diagnostics::toJson() there before its handlers
// go: the map from the events' ids to where each handler was added (docs/DIAGNOSTICS.md).
#include <registryio/qt/diagnostics.h>
#include <registryio/qt/qt_registry.h>
#include <registryio/registry.h>

#include <QCoreApplication>
#include <QObject>

#include <cstdio>
#include <stdexcept>

#include <unistd.h>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    // A core registry with a writer first: it takes diagnostics' first id, so the traced
    // registry's id is not the 1 a count of traced registries alone would give.
    rio::Registry<int> first;
    first.add([] { });
    rio::QtRegistry<int> registry;
    registry.setObjectName(QStringLiteral("trace-test"));
    registry.setDiagnosticsEnabled(true);
    QObject receiver;
    int direct = 0;
    int queued = 0;
    registry.add([&](int v) { direct += v; });
    const rio::HandlerId every =
        registry.add(&receiver, [&](int v) { queued += v; }, {.connection = Qt::QueuedConnection});
    const rio::HandlerId bounded = registry.add(
        &receiver, [](int) { },
        {.connection = Qt::QueuedConnection, .capacity = 1, .overflow = rio::Overflow::DropNewest});
    const int throwerLine = __LINE__ + 2;
    const rio::HandlerId thrower =
        registry.add(&receiver, [](int) { throw std::runtime_error("traced failure"); },
                     {.connection = Qt::QueuedConnection});
    registry.notify(1);
    registry.notify(2); // `bounded` has one waiting: this one is dropped (overflow)
    QCoreApplication::sendPostedEvents();
    registry.notify(4);
    registry.remove(every); // its delivery of 4 is dropped (removed)
    QCoreApplication::sendPostedEvents();
    if (argc > 1 && !rio::Diagnostics::writeJson(QString::fromLocal8Bit(argv[1])))
        return 1;
    std::printf("pid=%d registry=%llu every=%llu bounded=%llu thrower=%llu direct=%d queued=%d "
                "thrower_line=%d\n",
                static_cast<int>(getpid()), static_cast<unsigned long long>(registry.registryId()),
                static_cast<unsigned long long>(every.value()),
                static_cast<unsigned long long>(bounded.value()),
                static_cast<unsigned long long>(thrower.value()), direct, queued, throwerLine);
    return direct == 7 && queued == 3 ? 0 : 1;
}
