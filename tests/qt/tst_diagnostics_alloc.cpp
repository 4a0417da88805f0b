// SPDX-License-Identifier: MIT
// A thread that called rio::prepareThread() notifies with diagnostics on and allocates nothing
// (docs/API.md, prepareThread): its run record and name are made when it is prepared, timing
// blocks when timing is switched on, never by a timed run. Counts every operator new: not
// labelled sanitize (they replace it too).
#include "../replaced_operator_new.h"

#include <registryio/qt/diagnostics.h>
#include <registryio/qt/qt_registry.h>
#include <registryio/registry.h>

#include <QThread>
#include <QtTest>

#include <atomic>
#include <thread>

namespace {
thread_local bool counting = false;
std::atomic<int> allocations{0};
} // namespace

void rioBeforeAllocation()
{
    if (counting)
        allocations.fetch_add(1, std::memory_order_relaxed);
}

class DiagnosticsAllocTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void aPreparedThreadsTimedNotifiesAllocateNothing_data()
    {
        QTest::addColumn<bool>("precise");
        QTest::newRow("coarse") << false;
        QTest::newRow("every run precise") << true;
    }
    void aPreparedThreadsTimedNotifiesAllocateNothing()
    {
        QFETCH(bool, precise);
        rio::Registry<int> core;
        rio::QtRegistry<int> facade;
        for (int i = 0; i < 16; ++i) {
            core.add([](int) { });
            facade.add([](int) { });
        }
        rio::Diagnostics::setEveryRunPrecise(precise);
        rio::Diagnostics::setEnabled(true);
        allocations.store(0);
        std::thread worker([&] {
            rio::prepareThread();
            static_cast<void>(QThread::currentThread()); // Qt's record of this thread (API.md)
            counting = true;
            for (int i = 0; i < 3; ++i) {
                core.notify(i);
                facade.notify(i);
            }
            counting = false;
        });
        worker.join();
        rio::Diagnostics::setEnabled(false);
        QCOMPARE(allocations.load(), 0);
    }
};

QTEST_MAIN(DiagnosticsAllocTest)
#include "tst_diagnostics_alloc.moc"
