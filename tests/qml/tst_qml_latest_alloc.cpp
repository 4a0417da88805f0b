// SPDX-License-Identifier: MIT
// A LatestModel following a registry of a small trivially copyable event by an int key, or fed
// by its writer: once a key has its row and a frame is scheduled, an update allocates nothing (the
// event's bytes go into the key's cell: no QVariant, no node, no lock). Replaces the global
// operator new, so not run under the sanitizers (which replace it too).
#include "../replaced_operator_new.h"

#include <registryio/qml/latest_model.h>
#include <registryio/qt/qt_registry.h>
#include <registryio/registry.h>

#include <QCoreApplication>
#include <QTest>

#include <memory>
#include <thread>
#include <utility>
#include <vector>

namespace {

thread_local bool t_counting = false;
thread_local long t_allocations = 0;
thread_local bool t_refuseNext = false; // the next allocation on this thread throws

struct Tick // 16 bytes, trivially copyable
{
    int id = 0;
    double v = 0;
};

} // namespace

void rioBeforeAllocation()
{
    if (t_counting)
        ++t_allocations;
    if (std::exchange(t_refuseNext, false))
        throw std::bad_alloc();
}

class TestQmlLatestAlloc : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // Through a registry's notify, and through the model's writer (no registry).
    void aKnownKeysWriterAllocatesNothing_data()
    {
        QTest::addColumn<bool>("direct");
        QTest::newRow("notify") << false;
        QTest::newRow("writer") << true;
    }
    void aKnownKeysWriterAllocatesNothing()
    {
        QFETCH(bool, direct);
        rio::QtRegistry<Tick> registry;
        rio::LatestModel model;
        model.follow(registry, [](const Tick &t) { return t.id; });
        const rio::LatestModelWriter<Tick> writer = model.writer<Tick>();
        const auto write = [&](const Tick &t) {
            if (direct)
                writer.write(t.id, t);
            else
                registry.notify(t);
        };
        constexpr int kKeys = 1000;
        constexpr int kWrites = 100000;
        for (int k = 0; k < kKeys; ++k)
            write(Tick{k, 0});
        QTRY_COMPARE(model.rowCount(), kKeys);
        long allocations = -1;
        // This thread turns no event loop meanwhile: the worker's first write schedules the frame
        // (Qt's posted event), the others find it scheduled.
        std::thread([&] {
            rio::prepareThread();
            write(Tick{0, -1});
            t_counting = true;
            for (int i = 1; i <= kWrites; ++i)
                write(Tick{i % kKeys, double(i)});
            t_counting = false;
            allocations = t_allocations;
        }).join();
        QCOMPARE(allocations, 0L);
        QTRY_COMPARE(model.valueOf(kWrites % kKeys).value<Tick>().v, double(kWrites));
        QCOMPARE(model.rowCount(), kKeys);
    }

    // A writer of rows the model restarted (it follows a registry) or of a model destroyed drops
    // its writes: new keys, int or string, through the lock, as E's bytes or as QVariants, allocate
    // nothing (no slot, node, cell nor pending change kept for rows nobody shows).
    void aWriterOfDeadRowsKeepsNoNewKey_data()
    {
        QTest::addColumn<bool>("destroyed");
        QTest::newRow("restarted") << false;
        QTest::newRow("destroyed") << true;
    }
    void aWriterOfDeadRowsKeepsNoNewKey()
    {
        QFETCH(bool, destroyed);
        rio::QtRegistry<Tick> registry;
        auto model = std::make_unique<rio::LatestModel>();
        const rio::LatestModelWriter<Tick> raw = model->writer<Tick>();
        const rio::LatestModelWriter<double> variant = model->writer<double>(); // the rows keep Ticks
        constexpr int kKeys = 2000;
        std::vector<QString> names;
        for (int k = 0; k < kKeys; ++k)
            names.push_back(QString::number(k));
        raw.write(-1, Tick{-1, 0});
        raw.write(-1, Tick{-1, 1}); // a key whose cell is published
        if (destroyed)
            model.reset();
        else
            model->follow(registry, [](const Tick &t) { return t.id; });
        t_counting = true;
        t_allocations = 0;
        for (int k = 0; k < kKeys; ++k) {
            raw.write(k, Tick{k, 1});
            raw.write(names[k], Tick{k, 2});
            variant.write(kKeys + k, 3.0);
            raw.write(-1, Tick{-1, double(k)});
        }
        t_counting = false;
        QCOMPARE(t_allocations, 0L);
        if (!destroyed) {
            QCoreApplication::processEvents();
            QCOMPARE(model->rowCount(), 0);
        }
    }

    // Qt cannot post the wake-up a write asks for (its allocation fails): the write throws (the
    // registry reports its handler failed) and nothing hangs; the change waits for the next
    // write's wake-up, a write of the same key (its cell already linked) or of another.
    void aWakeUpQtCannotPostIsOwed_data()
    {
        QTest::addColumn<bool>("sameKey");
        QTest::newRow("same key") << true;
        QTest::newRow("another key") << false;
    }
    void aWakeUpQtCannotPostIsOwed()
    {
        QFETCH(bool, sameKey);
        rio::QtRegistry<Tick> registry;
        rio::LatestModel model;
        int failures = 0;
        QObject::connect(&registry, &rio::QtRegistryBase::handlerFailed, &registry, [&] { ++failures; });
        model.follow(registry, [](const Tick &t) { return t.id; });
        registry.notify(Tick{0, 0});
        registry.notify(Tick{1, 0}); // both keys' cells published
        QTRY_COMPARE(model.rowCount(), 2);
        QCoreApplication::processEvents(); // no frame scheduled: the next write asks for one
        t_refuseNext = true;
        registry.notify(Tick{0, 1}); // its cell linked, the wake-up refused
        t_refuseNext = false;
        QCOMPARE(failures, 1);
        QCoreApplication::processEvents();
        QCOMPARE(model.valueOf(0).value<Tick>().v, 0.0); // no frame came
        registry.notify(Tick{sameKey ? 0 : 1, 2});
        QTRY_COMPARE(model.valueOf(sameKey ? 0 : 1).value<Tick>().v, 2.0);
        QCOMPARE(model.valueOf(0).value<Tick>().v, sameKey ? 2.0 : 1.0);
        QCOMPARE(failures, 1);
    }
};

QTEST_MAIN(TestQmlLatestAlloc)
#include "tst_qml_latest_alloc.moc"
