// SPDX-License-Identifier: MIT
// rio::LatestValue: a value any thread sets, read on its owner's thread as a property and as a
// QBindable. A QProperty binding follows it; a flood changes it once per event-loop turn, with
// one valueChanged per change and none on a turn where nothing (or an equal value) came; writers
// racing the reads never show a torn value nor a writer's values out of order, and the last value
// set is the one shown; a registry it follows feeds it until the handle removes that (or the
// registry goes), a value it notified and not yet shown then dropped; destroying it with a value
// waiting discards that value, uncounted, also on its own thread with sets from others just before; a large
// value (a shared copy per set) keeps the same promises.

#include "qt_test_support.h"

#include <registryio/qt/latest_value.h>
#include <registryio/qt/qt_registry.h>

#include <QCoreApplication>
#include <QProperty>
#include <QSignalSpy>
#include <QString>
#include <QTest>
#include <QThread>

#include <atomic>
#include <cstdint>
#include <latch>
#include <memory>
#include <thread>
#include <vector>

namespace {

// 16 bytes, trivially copyable (the cell's lock-free case): `check` is ~(writer, serial), so a
// torn value shows.
struct Stamp
{
    std::uint32_t writer = 0;
    std::uint32_t serial = 0;
    std::uint64_t check = 0;

    [[nodiscard]] bool whole() const { return check == ~((std::uint64_t(writer) << 32) | serial); }
    static Stamp of(std::uint32_t writer, std::uint32_t serial)
    {
        return {writer, serial, ~((std::uint64_t(writer) << 32) | serial)};
    }
    friend bool operator==(const Stamp &, const Stamp &) = default;
};

constexpr std::uint32_t kWriters = 4;
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr std::uint32_t kPerWriter = 5000;
#else
constexpr std::uint32_t kPerWriter = 50000;
#endif

} // namespace

class TestLatestValue : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void bindingFollowsTheValue()
    {
        rio::LatestValue<int> latest;
        QProperty<int> doubled;
        doubled.setBinding([&] { return latest.bindableValue().value().toInt() * 2; });
        QVERIFY(!latest.value().isValid());
        QCOMPARE(doubled.value(), 0);
        latest.set(21);
        QCOMPARE(latest.get(), 0); // shown at the next turn, never from the setter
        QCoreApplication::processEvents();
        QCOMPARE(latest.get(), 21);
        QCOMPARE(doubled.value(), 42);
        // The property system reads the same value.
        QCOMPARE(latest.property("value").toInt(), 21);
    }

    void oneChangePerTurnAndNoneWithoutOne()
    {
        rio::LatestValue<int> latest;
        QSignalSpy changed(&latest, &rio::LatestValueBase::valueChanged);
        int notified = 0;
        const QPropertyNotifier notifier = latest.bindableValue().addNotifier([&] { ++notified; });
        for (int i = 1; i <= 1000; ++i)
            latest.set(i);
        QCoreApplication::processEvents();
        QCOMPARE(latest.get(), 1000);
        QCOMPARE(changed.count(), 1);
        QCOMPARE(notified, 1);
        QCoreApplication::processEvents(); // nothing set: nothing changes
        QCOMPARE(changed.count(), 1);
        latest.set(1000); // an equal value: no change
        QCoreApplication::processEvents();
        QCOMPARE(changed.count(), 1);
        QCOMPARE(notified, 1);
        latest.set(7);
        QCoreApplication::processEvents();
        QCOMPARE(changed.count(), 2);
        QCOMPARE(notified, 2);
        QCOMPARE(latest.get(), 7);
    }

    void writersRaceTheReads()
    {
        rio::LatestValue<Stamp> latest;
        QProperty<std::uint32_t> serial;
        serial.setBinding([&] { return latest.bindableValue().value().value<Stamp>().serial; });
        int changes = 0;
        QObject::connect(&latest, &rio::LatestValueBase::valueChanged, &latest, [&] { ++changes; });
        std::atomic<std::uint32_t> done{0};
        std::vector<std::thread> writers;
        for (std::uint32_t w = 0; w < kWriters; ++w) {
            writers.emplace_back([&latest, &done, w] {
                for (std::uint32_t i = 1; i <= kPerWriter; ++i)
                    latest.set(Stamp::of(w, i));
                done.fetch_add(1);
            });
        }
        std::vector<std::uint32_t> lastSerial(kWriters, 0);
        int torn = 0;
        int backwards = 0;
        int turns = 0;
        const auto check = [&] {
            const QVariant shown = latest.value();
            if (!shown.isValid())
                return;
            const Stamp s = shown.value<Stamp>();
            if (!s.whole() || s.writer >= kWriters || s.serial != serial.value()) {
                ++torn;
                return;
            }
            if (s.serial < lastSerial[s.writer])
                ++backwards;
            lastSerial[s.writer] = s.serial;
        };
        while (done.load() < kWriters) {
            QCoreApplication::processEvents();
            ++turns;
            check();
        }
        for (std::thread &t : writers)
            t.join();
        QCoreApplication::processEvents();
        ++turns;
        check();
        QCOMPARE(torn, 0);
        QCOMPARE(backwards, 0);
        QVERIFY(changes <= turns);
        // The last value set is the one shown.
        latest.set(Stamp::of(0, kPerWriter + 1));
        QCoreApplication::processEvents();
        QCOMPARE(latest.get(), Stamp::of(0, kPerWriter + 1));
        QCOMPARE(serial.value(), kPerWriter + 1);
    }

    void followsARegistryUntilRemoved()
    {
        rio::QtRegistry<int> feed;
        rio::LatestValue<int> latest;
        rio::Connection following = latest.follow(feed);
        std::thread worker([&feed] {
            for (int i = 1; i <= 100; ++i)
                feed.notify(i);
        });
        worker.join();
        QCoreApplication::processEvents();
        QCOMPARE(latest.get(), 100);
        QVERIFY(following.disconnect());
        feed.notify(5);
        QCoreApplication::processEvents();
        QCOMPARE(latest.get(), 100);
        latest.set(3); // its own setter still works
        QCoreApplication::processEvents();
        QCOMPARE(latest.get(), 3);
    }

    // Removing the handler, or destroying the registry, with a notified value not shown yet drops
    // it: `value` stays what it was, and the object's own setter still works.
    void followedValueWaitingIsDroppedWithItsHandler()
    {
        rio::LatestValue<int> latest;
        {
            rio::QtRegistry<int> feed;
            const rio::Connection following = latest.follow(feed);
            std::thread([&feed] { feed.notify(5); }).join();
            QVERIFY(following.disconnect());
            QCoreApplication::processEvents();
            QVERIFY(!latest.value().isValid());
        }
        auto feed = std::make_unique<rio::QtRegistry<int>>();
        const rio::Connection following = latest.follow(*feed);
        std::thread([&feed] { feed->notify(6); }).join();
        feed.reset();
        QVERIFY(!following.isConnected());
        QCoreApplication::processEvents();
        QVERIFY(!latest.value().isValid());
        latest.set(7);
        QCoreApplication::processEvents();
        QCOMPARE(latest.get(), 7);
    }

    // A value too large for the cell (a shared copy per set): writers racing the reads still
    // never show a writer's values out of order, and the last value set is the one shown.
    void largeValuesFromRacingWritersKeepTheirOrder()
    {
        rio::LatestValue<QString> latest;
        constexpr std::uint32_t perWriter = kPerWriter / 10;
        std::atomic<std::uint32_t> done{0};
        std::vector<std::thread> writers;
        for (std::uint32_t w = 0; w < kWriters; ++w) {
            writers.emplace_back([&latest, &done, w] {
                for (std::uint32_t i = 1; i <= perWriter; ++i)
                    latest.set(QStringLiteral("%1:%2").arg(w).arg(i));
                done.fetch_add(1);
            });
        }
        std::vector<std::uint32_t> lastSerial(kWriters, 0);
        int backwards = 0;
        const auto check = [&] {
            const QStringList parts = latest.get().split(QLatin1Char(':'));
            if (parts.size() != 2)
                return;
            const std::uint32_t w = parts[0].toUInt();
            const std::uint32_t i = parts[1].toUInt();
            QVERIFY(w < kWriters);
            backwards += i < lastSerial[w] ? 1 : 0;
            lastSerial[w] = i;
        };
        while (done.load() < kWriters) {
            QCoreApplication::processEvents();
            check();
        }
        for (std::thread &t : writers)
            t.join();
        QCoreApplication::processEvents();
        check();
        QCOMPARE(backwards, 0);
        latest.set(QStringLiteral("last"));
        QCoreApplication::processEvents();
        QCOMPARE(latest.get(), QStringLiteral("last"));
    }

    // Writers set while the object's own thread shows their values; once they returned, the
    // object is destroyed on that thread with a set's delivery posted behind the destruction:
    // the delivery never runs on the freed object (ASan, TSan) and the thread goes on.
    void destroyedOnItsThreadWithADeliveryOnItsWay()
    {
        QThread owner;
        owner.start();
        for (int round = 0; round < 20; ++round) {
            auto *latest = new rio::LatestValue<Stamp>;
            latest->moveToThread(&owner);
            std::vector<std::thread> writers;
            for (std::uint32_t w = 0; w < kWriters; ++w) {
                writers.emplace_back([latest, w] {
                    for (std::uint32_t i = 1; i <= kPerWriter / 100; ++i)
                        latest->set(Stamp::of(w, i));
                });
            }
            for (std::thread &t : writers)
                t.join();
            std::latch setDone(1);
            std::latch destroyed(1);
            {
                // Qt's event queue hands the functor over unseen by ThreadSanitizer (detail/qt_tsan.h).
                [[maybe_unused]] const rio::detail::TsanPostScope posting;
                QMetaObject::invokeMethod(latest, rio::detail::Handover([latest, &setDone, &destroyed] {
                                              setDone.wait();
                                              delete latest;
                                              destroyed.count_down();
                                          }),
                                          Qt::QueuedConnection);
            }
            std::thread([latest] { latest->set(Stamp::of(kWriters, 1)); }).join();
            setDone.count_down();
            destroyed.wait();
        }
        // The thread still runs what it is sent.
        std::latch ran(1);
        QObject onOwner;
        onOwner.moveToThread(&owner);
        {
            [[maybe_unused]] const rio::detail::TsanPostScope posting;
            QMetaObject::invokeMethod(&onOwner, rio::detail::Handover([&ran] { ran.count_down(); }),
                                      Qt::QueuedConnection);
        }
        ran.wait();
        owner.quit();
        owner.wait();
    }

    // Destroyed with a value set and not shown (in the cell, or a large value's copy): the value
    // is discarded, never run on a freed object (ASan), and no drop is reported of a registry or
    // handler the user never made.
    void destroyedWithAValueWaiting()
    {
        const riotest::LogCapture log;
        auto latest = std::make_unique<rio::LatestValue<Stamp>>();
        std::thread writer([&latest] { latest->set(Stamp::of(1, 1)); });
        writer.join();
        latest.reset();
        auto large = std::make_unique<rio::LatestValue<QString>>();
        large->set(QStringLiteral("waiting"));
        large.reset();
        QCoreApplication::processEvents();
        QCOMPARE(log.messages(), QStringList());
    }
};

QTEST_GUILESS_MAIN(TestLatestValue)
#include "tst_latest_value.moc"
