// SPDX-License-Identifier: MIT
// A share's fan-out whose allocation fails for one subscriber (a replaced operator new refuses the
// second backlog's first chunk): that subscriber's backlog counts the drop (reason NoMemory, as
// its own, signalled), the other one keeps the event, and its send is still scheduled. Not
// labelled `sanitize`: it replaces operator new, as the sanitizers do.
#include "../replaced_operator_new.h"

#include "remote_outbox_p.h"

#include <QCoreApplication>
#include <QObject>

#include <cstdio>

namespace {
int g_refuseIn = 0; // refuses the allocation after this many more (0: none)
} // namespace

void rioBeforeAllocation()
{
    if (g_refuseIn > 0 && --g_refuseIn == 0)
        throw std::bad_alloc();
}

#define RIO_CHECK(what)                                                                                      \
    do {                                                                                                     \
        if (!(what)) {                                                                                       \
            std::fprintf(stderr, "FAIL: %s (line %d)\n", #what, __LINE__);                                   \
            return 1;                                                                                        \
        }                                                                                                    \
    } while (false)

int main(int argc, char **argv)
{
    using namespace rio::detail;
    QCoreApplication app(argc, argv);
    QObject pump;
    int sends = 0;
    int reports = 0;
    auto box = std::make_shared<RemoteOutbox>(rio::RemoteShareOptions{.capacity = 64});
    box->attach(&pump, [&] { ++sends; });
    box->attachReport([&] { ++reports; });
    std::shared_ptr<RemoteBacklog> backlogs[2] = {std::make_shared<RemoteBacklog>(),
                                                  std::make_shared<RemoteBacklog>()};
    for (quint64 i = 0; i < 2; ++i) {
        backlogs[i]->id = backlogs[i]->key = i + 1;
        box->addBacklog(backlogs[i]);
        box->setReady(backlogs[i]);
    }
    g_refuseIn = 2; // the first backlog's chunk, then the second's refused
    box->push(0, QByteArray("event"));
    g_refuseIn = 0;
    RIO_CHECK(backlogs[0]->size() == 1 && backlogs[1]->size() == 0);
    RIO_CHECK(box->droppedCount() == 1);
    RIO_CHECK(backlogs[1]->queue.dropped(RemoteAccounting::Reason::NoMemory) == 1);
    const std::vector<RemoteDrops> drops = box->takeUnreported();
    RIO_CHECK(drops.size() == 1 && drops.front().backlog == backlogs[1] && drops.front().count == 1);
    QCoreApplication::processEvents();
    RIO_CHECK(sends == 1);   // the first subscriber's event goes
    RIO_CHECK(reports == 1); // and the second's drop is signalled
    box->detach();
    std::puts("PASS");
    return 0;
}
