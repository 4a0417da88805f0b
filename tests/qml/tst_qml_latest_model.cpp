// SPDX-License-Identifier: MIT
// LatestModel, the newest value per key: fed by worker threads through a registry, it stays a
// valid model under churn, merges a key's writes between two frames into one row update, inserts
// new keys in one batch, removes keys, ends on the last value of every key, survives its registry
// or itself being destroyed while updates wait, and in a real window changes a row at most once
// per frame.

#include "../qt/stopped_writer.h"
#include "qml_test_support.h"

#include <registryio/qml/latest_model.h>
#include <registryio/qml/qml_registry.h>
#include <registryio/qml/qml_typed_registry.h>
#include <registryio/qt/diagnostics.h>
#include <registryio/qt/qt_registry.h>

#include <QAbstractItemModelTester>
#include <QDateTime>
#include <QElapsedTimer>
#include <QGuiApplication>
#include <QPointer>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSemaphore>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTest>
#include <QTimeZone>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

/// An event with a key field and a value field.
struct Quote
{
    Q_GADGET
    QML_VALUE_TYPE(quote)
    Q_PROPERTY(QString symbol MEMBER symbol FINAL)
    Q_PROPERTY(double price MEMBER price FINAL)

public:
    QString symbol;
    double price = 0;
};

RIO_QML_TYPED_REGISTRY(QuoteRegistry, Quote)

/// A small trivially copyable event keyed by an int: the model keeps its bytes in a cell per key.
struct Tick
{
    Q_GADGET
    Q_PROPERTY(int id MEMBER id FINAL)
    Q_PROPERTY(double v MEMBER v FINAL)

public:
    int id = 0;
    double v = 0;
};
static_assert(rio::detail::latestRaw<Tick>);

/// An event whose field's getter throws.
struct Thrower
{
    Q_GADGET
    Q_PROPERTY(int bad READ bad FINAL)

public:
    [[nodiscard]] int bad() const { throw std::runtime_error("a getter that throws"); }
};

/// Tick's twin whose cell writers a test pauses (CellPause) on a thread that asks.
struct Paused
{
    int id = 0;
    double v = 0;
};

/// Tick's twin whose writers a test stops after a step of the cell's write (riotest::StoppedWriter).
struct Stopped
{
    int id = 0;
    double v = 0;
};
template <>
struct rio::detail::CellPause<Stopped> : riotest::StopHere
{ };

namespace {
/// A small trivially copyable event, named as the other translation unit's twin.
struct Sample
{
    double a = 0;
    double b = 0;
};
} // namespace

// Of tst_qml_latest_model_twin.cpp: its `Sample` (one byte) and a write of it to `model`.
QMetaType twinSampleType();
void writeTwinSample(rio::LatestModel &model, int key, char c);

namespace {
thread_local bool t_pause = false; // this thread's writes pause
std::function<void(const rio::detail::LatestCell &, rio::detail::CellStep)> g_pause; // how
} // namespace

template <>
struct rio::detail::CellPause<Paused>
{
    static void at(const NewestCell &cell, CellStep step) noexcept
    {
        if (t_pause)
            g_pause(static_cast<const LatestCell &>(cell), step);
    }
};

Q_DECLARE_METATYPE(rio::detail::CellStep)

using rio::LatestModel;

namespace {

constexpr int kWriters = 2;
constexpr int kKeysPerWriter = 50;
constexpr int kWritesPerWriter = 20000; // each writer stops after this many

QString symbolOf(int writer, int key)
{
    return QStringLiteral("w%1k%2").arg(writer).arg(key);
}

// Runs `each(writer)` on kWriters threads while the GUI thread turns its event loop (so frames
// and applies happen during the writes), then joins them.
template <typename F>
void onWorkers(F each, const std::function<void()> &whileWaiting = {})
{
    std::atomic<int> done{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) {
        threads.emplace_back([&each, &done, w] {
            each(w);
            ++done;
        });
    }
    while (done.load() < kWriters) {
        QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
        if (whileWaiting)
            whileWaiting();
    }
    for (std::thread &t : threads)
        t.join();
}

// Waits until `shown(writer, key)` is every key's final value (-1 - key), the last writes
// applied; then each key has one row.
template <typename F>
void endsOnFinalValues(const LatestModel &model, int keysPerWriter, F shown)
{
    const auto allFinal = [&] {
        for (int w = 0; w < kWriters; ++w) {
            for (int k = 0; k < keysPerWriter; ++k) {
                if (shown(w, k) != -1.0 - k)
                    return false;
            }
        }
        return true;
    };
    QTRY_VERIFY(allFinal());
    QCoreApplication::processEvents();
    QVERIFY(allFinal());
    QCOMPARE(model.rowCount(), kWriters * keysPerWriter);
}

// The row of `key`, -1 if none.
int rowOf(const LatestModel &model, const QVariant &key)
{
    for (int r = 0; r < model.rowCount(); ++r) {
        if (model.data(model.index(r), LatestModel::KeyRole) == key)
            return r;
    }
    return -1;
}

} // namespace

class TestQmlLatestModel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { qmlRegisterType<QuoteRegistry>("RioLatestTest", 1, 0, "QuoteRegistry"); }

    // Two writers churn their keys through a registry while the GUI thread removes and clears:
    // QAbstractItemModelTester finds the model valid after every change, and once the writers
    // wrote each key's final value, every key has one row with that value.
    void validUnderChurnFromTwoThreads()
    {
        rio::QtRegistry<Quote> registry;
        LatestModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.follow(registry, [](const Quote &q) { return q.symbol; });
        int turns = 0;
        onWorkers(
            [&registry](int w) {
                for (int i = 0; i < kWritesPerWriter; ++i)
                    registry.notify(Quote{symbolOf(w, i % kKeysPerWriter), double(i)});
            },
            [&] {
                ++turns;
                if (turns % 7 == 0 && model.rowCount() > 0)
                    model.remove(model.data(model.index(turns % model.rowCount()), LatestModel::KeyRole));
                if (turns % 31 == 0)
                    model.clear();
            });
        onWorkers([&registry](int w) {
            for (int k = 0; k < kKeysPerWriter; ++k)
                registry.notify(Quote{symbolOf(w, k), -1.0 - k});
        });
        // Every key's final value shown (the rows may all exist before the final writes apply).
        endsOnFinalValues(model, kKeysPerWriter, [&model](int w, int k) {
            return model.valueOf(symbolOf(w, k)).value<Quote>().price;
        });
    }

    // The cells of int keys, written without the lock: two writers write keys that have rows and
    // keys that have none (the key table grows meanwhile) while the GUI thread applies frames,
    // removes keys and clears; the model stays valid, no key ever has two rows, a key removed
    // and written again comes back, and once each writer wrote every key's final value, every key
    // has one row with it.
    void cellsRacedByWritersFramesAndRemovals()
    {
        rio::QtRegistry<Tick> registry;
        LatestModel model;
        model.setRoles({QStringLiteral("id"), QStringLiteral("v")});
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.follow(registry, [](const Tick &t) { return t.id; });
        constexpr int kKeys = 300; // per writer: more than the first table holds
        for (int k = 0; k < kKeys; k += 2)
            registry.notify(Tick{k, 0}); // half of the keys have rows before the writers start
        QTRY_COMPARE(model.rowCount(), kKeys / 2);
        const auto oneRowEach = [&model] {
            std::vector<int> keys;
            for (int r = 0; r < model.rowCount(); ++r)
                keys.push_back(model.data(model.index(r), LatestModel::KeyRole).toInt());
            std::sort(keys.begin(), keys.end());
            return std::adjacent_find(keys.begin(), keys.end()) == keys.end();
        };
        int turns = 0;
        bool unique = true;
        onWorkers(
            [&registry](int w) {
                for (int i = 0; i < kWritesPerWriter; ++i)
                    registry.notify(Tick{w * kKeys + (i * 7) % kKeys, double(i)});
            },
            [&] {
                ++turns;
                unique = unique && oneRowEach();
                if (turns % 5 == 0 && model.rowCount() > 0)
                    model.remove(model.data(model.index(turns % model.rowCount()), LatestModel::KeyRole));
                if (turns % 41 == 0)
                    model.clear();
            });
        QVERIFY(unique);
        onWorkers([&registry](int w) {
            for (int k = 0; k < kKeys; ++k)
                registry.notify(Tick{w * kKeys + k, -1.0 - k});
        });
        endsOnFinalValues(model, kKeys,
                          [&model](int w, int k) { return model.valueOf(w * kKeys + k).value<Tick>().v; });
        QVERIFY(oneRowEach());
        // A removed key written again through its cell's writers: a new row, then its writes.
        QVERIFY(model.remove(3));
        QTRY_COMPARE(model.rowCount(), kWriters * kKeys - 1);
        registry.notify(Tick{3, 1});
        registry.notify(Tick{3, 2});
        QTRY_COMPARE(model.rowCount(), kWriters * kKeys);
        QCOMPARE(model.valueOf(3).value<Tick>().v, 2.0);
        registry.notify(Tick{3, 4});
        QTRY_COMPARE(model.valueOf(3).value<Tick>().v, 4.0);
        // A key as a string is another key ("3" is not 3); a value of another type written last
        // is shown, until the next event.
        model.write(QStringLiteral("3"), QStringLiteral("text"));
        model.write(3, QStringLiteral("other"));
        QTRY_COMPARE(model.valueOf(3), QVariant(QStringLiteral("other")));
        QCOMPARE(model.valueOf(QStringLiteral("3")), QVariant(QStringLiteral("text")));
        registry.notify(Tick{3, 5});
        QTRY_COMPARE(model.valueOf(3).value<Tick>().v, 5.0);
        QCOMPARE(model.data(model.index(rowOf(model, 3)), LatestModel::FieldRole + 1), QVariant(5.0));
        // Removed, then written by the registry's writers before the frame: the removal is cancelled.
        QSignalSpy removedRows(&model, &QAbstractItemModel::rowsRemoved);
        QVERIFY(model.remove(5));
        registry.notify(Tick{5, 9});
        QTRY_COMPARE(model.valueOf(5).value<Tick>().v, 9.0);
        QCoreApplication::processEvents();
        QCOMPARE(removedRows.count(), 0);
        QCOMPARE(model.rowCount(), kWriters * kKeys + 1); // and "3"
    }

    // A writer of key 1 finds its cell and pauses; key 1 is removed, its slot and cell go to key
    // 2, shown; the writer goes on. It never holds the counter of key 2's cell: a write of key 2
    // meanwhile is shown.
    void aWriterOfAKeyGoneLeavesItsCellToTheNext()
    {
        rio::QtRegistry<Paused> registry;
        LatestModel model;
        model.follow(registry, [](const Paused &p) { return p.id; });
        registry.notify(Paused{1, 1});
        registry.notify(Paused{1, 2}); // its cell published
        QTRY_COMPARE(model.valueOf(1).value<Paused>().v, 2.0);
        QSemaphore toMain;
        QSemaphore toWriter;
        bool heldAnother = false;
        g_pause = [&](const rio::detail::LatestCell &cell, rio::detail::CellStep step) {
            if (step > rio::detail::CellStep::Held ||
                (step == rio::detail::CellStep::Held && cell.tag.load() == 1))
                return;
            heldAnother = step == rio::detail::CellStep::Held;
            toMain.release();
            toWriter.acquire();
        };
        std::thread writer([&] {
            t_pause = true;
            registry.notify(Paused{1, 111});
            t_pause = false;
            toMain.release();
        });
        toMain.acquire(); // the writer found key 1's cell
        QVERIFY(model.remove(1));
        QTRY_COMPARE(model.rowCount(), 0);
        registry.notify(Paused{2, 5}); // the slot and the cell key 1 left
        registry.notify(Paused{2, 6}); // published
        QTRY_COMPARE(model.valueOf(2).value<Paused>().v, 6.0);
        toWriter.release();
        toMain.acquire();              // the writer holds a cell, or is done
        registry.notify(Paused{2, 7}); // key 2's last
        toWriter.release();
        writer.join();
        g_pause = nullptr;
        QTRY_COMPARE(model.valueOf(2).value<Paused>().v, 7.0);
        QVERIFY(!heldAnother);
    }

    // A write of a linked cell lands between the frame clearing the cell's flag and reading it:
    // that frame shows it; linked again, the cell is not signalled again with the same value.
    void aRowIsNotSignalledAgainWithTheValueItShows()
    {
        rio::QtRegistry<Paused> registry;
        LatestModel model;
        model.follow(registry, [](const Paused &p) { return p.id; });
        registry.notify(Paused{0, 1});
        registry.notify(Paused{0, 2}); // published
        registry.notify(Paused{1, 0});
        QTRY_COMPARE(model.rowCount(), 2);
        QTRY_COMPARE(model.valueOf(0).value<Paused>().v, 2.0);
        QCoreApplication::processEvents();
        std::vector<double> shown; // key 0's value at each signal naming its row
        QObject::connect(&model, &QAbstractItemModel::dataChanged, &model,
                         [&](const QModelIndex &first, const QModelIndex &last) {
                             if (first.row() <= 0 && 0 <= last.row())
                                 shown.push_back(model.valueOf(0).value<Paused>().v);
                         });
        registry.notify(Paused{0, 3}); // linked, a frame asked for
        QSemaphore held;
        g_pause = [&](const rio::detail::LatestCell &cell, rio::detail::CellStep step) {
            if (step != rio::detail::CellStep::Held)
                return;
            held.release();
            while (
                cell.owed.load()) // until the frame clears the flag (it then leaves the cell to this write)
                std::this_thread::yield();
        };
        std::thread writer([&] {
            t_pause = true;
            registry.notify(Paused{0, 4});
            t_pause = false;
        });
        held.acquire();
        QTRY_COMPARE(model.valueOf(0).value<Paused>().v, 4.0);
        writer.join();
        g_pause = nullptr;
        registry.notify(Paused{1, 1}); // a frame after the cell's second link
        QTRY_COMPARE(model.valueOf(1).value<Paused>().v, 1.0);
        QCOMPARE(shown, std::vector<double>{4.0});
    }

    // A field whose getter throws reads as empty, with one warning: nothing escapes into the view.
    void aFieldWhoseGetterThrowsReadsAsEmpty()
    {
        LatestModel model;
        model.setRoles({QStringLiteral("bad")});
        model.write(1, QVariant::fromValue(Thrower{}));
        QTRY_COMPARE(model.rowCount(), 1);
        QTest::ignoreMessage(QtWarningMsg,
                             QRegularExpression(QStringLiteral("reading the field bad .* threw")));
        QCOMPARE(model.data(model.index(0), LatestModel::FieldRole), QVariant());
        QCOMPARE(model.data(model.index(0), LatestModel::FieldRole), QVariant()); // warned once
    }

    // A view's removeRows() is refused and changes nothing: a row goes by remove(key).
    void removeRowsIsRefused()
    {
        LatestModel model;
        model.write(1, 10);
        QTRY_COMPARE(model.rowCount(), 1);
        QVERIFY(!model.removeRows(0, 1));
        QCoreApplication::processEvents();
        QCOMPARE(model.rowCount(), 1);
        QCOMPARE(model.valueOf(1), QVariant(10));
    }

    void aFrameNeverWaitsForAStoppedWriter_data()
    {
        QTest::addColumn<bool>("shown"); // the key has a row, else its first write waits for a frame
        QTest::addColumn<rio::detail::CellStep>("step");
        for (const bool shown : {true, false}) {
            QTest::addRow("%s, step %d", shown ? "row" : "new key", int(rio::detail::CellStep::Found))
                << shown << rio::detail::CellStep::Found;
            for (const rio::detail::CellStep step : riotest::kCellSteps)
                QTest::addRow("%s, step %d", shown ? "row" : "new key", int(step)) << shown << step;
        }
    }

    // A writer stopped after any step of a key's write (a lower-priority thread preempted there):
    // the model's frame returns while the writer stays stopped, and the write is shown at a later
    // frame once the writer goes on; a new key's row comes then, with that value. The frame's time
    // is printed (a measurement, not a check).
    void aFrameNeverWaitsForAStoppedWriter()
    {
        QFETCH(bool, shown);
        QFETCH(rio::detail::CellStep, step);
        rio::QtRegistry<Stopped> registry;
        LatestModel model;
        model.follow(registry, [](const Stopped &e) { return e.id; });
        registry.notify(Stopped{0, 1}); // another key, shown
        QTRY_COMPARE(model.rowCount(), 1);
        if (shown) {
            registry.notify(Stopped{1, 1});
            QTRY_COMPARE(model.valueOf(1).value<Stopped>().v, 1.0);
        }
        registry.notify(Stopped{1, 2}); // a frame asked for (a new key's cell published)
        riotest::StoppedWriter writer(step, [&registry] { registry.notify(Stopped{1, 3}); });
        registry.notify(Stopped{0, 5}); // shown by that frame
        QElapsedTimer frame;
        frame.start();
        QCoreApplication::processEvents();
        const qint64 elapsed = frame.nsecsElapsed();
        QVERIFY(!writer.byWatchdog); // the frame returned with the writer still stopped
        QCOMPARE(model.valueOf(0).value<Stopped>().v, 5.0);
        qInfo("the model's turn with a writer stopped after step %d: %lld us", int(step), elapsed / 1000);
        writer.resume();
        QTRY_COMPARE(model.valueOf(1).value<Stopped>().v, 3.0);
        QCOMPARE(model.rowCount(), 2);
    }

    // 2^31 writes of a key between two frames (its cell's count moved as the first 2^31 - 1 would
    // move it, then one real write): the count never comes back to the one shown, so the last is shown.
    void aKeysCountNeverComesBackToTheOneShown()
    {
        rio::QtRegistry<Paused> registry;
        LatestModel model;
        model.follow(registry, [](const Paused &p) { return p.id; });
        registry.notify(Paused{0, 1}); // its cell published
        QTRY_COMPARE(model.valueOf(0).value<Paused>().v, 1.0);
        rio::detail::LatestCell *cell = nullptr;
        g_pause = [&](const rio::detail::LatestCell &c, rio::detail::CellStep) {
            cell = const_cast<rio::detail::LatestCell *>(&c);
        };
        t_pause = true;
        registry.notify(Paused{0, 3}); // without the lock: its cell found
        t_pause = false;
        g_pause = nullptr;
        QVERIFY(cell != nullptr);
        QTRY_COMPARE(model.valueOf(0).value<Paused>().v, 3.0);
        cell->seq.fetch_add(static_cast<decltype(cell->seq.load())>((std::uint64_t{1} << 32) - 2));
        registry.notify(Paused{0, 4});
        QTRY_COMPARE(model.valueOf(0).value<Paused>().v, 4.0);
    }

    // A key written 1,000 times between two frames costs one dataChanged for its row; keys new
    // in that frame come in one insertion; separate rows changed give one signal per contiguous
    // range.
    void manyWritesOneRowUpdate()
    {
        LatestModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        for (const char *key : {"a", "b", "c", "d"})
            model.write(QString::fromLatin1(key), 0);
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QTRY_COMPARE(model.rowCount(), 4);
        QCOMPARE(inserted.count(), 1);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        inserted.clear();
        // Written on a worker while this thread does not turn its loop: all between two frames.
        std::thread([&model] {
            for (int i = 1; i <= 1000; ++i)
                model.write(QStringLiteral("b"), i);
            for (int i = 1; i <= 1000; ++i)
                model.write(QStringLiteral("c"), i);
            model.write(QStringLiteral("e"), 1);
            model.write(QStringLiteral("f"), 1);
        }).join();
        QTRY_COMPARE(model.rowCount(), 6);
        QCOMPARE(changed.count(), 1); // rows 1 and 2: one contiguous range
        QCOMPARE(changed.at(0).at(0).toModelIndex().row(), 1);
        QCOMPARE(changed.at(0).at(1).toModelIndex().row(), 2);
        QCOMPARE(inserted.count(), 1);
        QCOMPARE(inserted.at(0).at(1).toInt(), 4);
        QCOMPARE(inserted.at(0).at(2).toInt(), 5);
        QCOMPARE(model.valueOf(QStringLiteral("b")), QVariant(1000));
        QCOMPARE(model.valueOf(QStringLiteral("c")), QVariant(1000));
        // Rows 0 and 3: two ranges.
        changed.clear();
        std::thread([&model] {
            for (int i = 0; i < 1000; ++i) {
                model.write(QStringLiteral("a"), i);
                model.write(QStringLiteral("d"), i);
            }
        }).join();
        QTRY_COMPARE(changed.count(), 2);
        QCoreApplication::processEvents();
        QCOMPARE(changed.count(), 2);
        QCOMPARE(model.valueOf(QStringLiteral("d")), QVariant(999));
        // Few rows changed: a signal per range, as above, even where they fill most of their span
        // (rows 0-2 and 4-5); only the value's roles change, never the key.
        changed.clear();
        std::thread([&model] {
            for (const char *key : {"f", "a", "c", "b", "e"})
                model.write(QString::fromLatin1(key), 7);
        }).join();
        QTRY_COMPARE(changed.count(), 2);
        QCOMPARE(changed.at(0).at(2).value<QList<int>>(), QList<int>{LatestModel::ValueRole});
        QCOMPARE(model.valueOf(QStringLiteral("f")), QVariant(7));
        // More than 64 rows filling an eighth of their span or more: one signal over the span.
        for (int k = 0; k < 200; ++k)
            model.write(k + 100, 0);
        QTRY_COMPARE(model.rowCount(), 206);
        changed.clear();
        std::thread([&model] {
            for (int k = 0; k < 200; k += 3) // rows 6, 9, ..., 204: 67 rows in a span of 199
                model.write(k + 100, 1);
        }).join();
        QTRY_COMPARE(changed.count(), 1);
        QCOMPARE(changed.at(0).at(0).toModelIndex().row(), 6);
        QCOMPARE(changed.at(0).at(1).toModelIndex().row(), 204);
        QCOMPARE(model.valueOf(298), QVariant(1));
        QCOMPARE(model.valueOf(299), QVariant(0));
        // Keys compare as QVariant does: 1 and 1.0 are one key.
        model.write(1, QStringLiteral("int"));
        model.write(1.0, QStringLiteral("double"));
        QTRY_COMPARE(model.rowCount(), 207);
        QCOMPARE(model.valueOf(1), QVariant(QStringLiteral("double")));
        // An invalid key changes nothing, and warns once.
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression("LatestModel: an event without a key"));
        model.write(QVariant(), 1);
        model.write(QVariant(), 2);
        QCoreApplication::processEvents();
        QCOMPARE(model.rowCount(), 207);
    }

    // A key not equal to itself (a NaN) could never be found again: it is dropped with the
    // warning of a missing key, so its writes neither add a row each nor stay in the pending set
    // after a clear().
    void keyNotEqualToItselfDropped()
    {
        LatestModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        const double nan = std::numeric_limits<double>::quiet_NaN();
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression("LatestModel: an event without a key"));
        for (int i = 0; i < 100; ++i)
            model.write(nan, i);
        model.write(QStringLiteral("a"), 1);
        QTRY_COMPARE(model.rowCount(), 1);
        QVERIFY(!model.remove(nan));
        model.clear();
        QTRY_COMPARE(model.rowCount(), 0);
        model.clear(); // nothing left to remove
        model.write(QStringLiteral("a"), 2);
        QTRY_COMPARE(model.valueOf(QStringLiteral("a")), QVariant(2));
        QCOMPARE(model.rowCount(), 1);
    }

    // Keys QVariant finds equal share a row whatever their numeric types (an unsigned and a double
    // beyond every long long); QObject pointers are keys by identity, and the model stays valid
    // with keys that are not text (its display role is the key's text).
    void equalKeysOneRow()
    {
        LatestModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QObject first;
        QObject second;
        model.write(QVariant::fromValue(&first), 5);
        model.write(QVariant::fromValue(&second), 6);
        model.write(QVariant::fromValue(&first), 7);
        const QVariant big = QVariant::fromValue(std::numeric_limits<qulonglong>::max());
        const QVariant bigDouble = QVariant::fromValue(std::pow(2.0, 64));
        QVERIFY(big == bigDouble);
        model.write(big, 1);
        model.write(bigDouble, 2);
        model.write(-0.0, 3);
        model.write(0, 4);
        QTRY_COMPARE(model.rowCount(), 4);
        QCOMPARE(model.valueOf(big), QVariant(2));
        QCOMPARE(model.valueOf(0), QVariant(4));
        QCOMPARE(model.valueOf(QVariant::fromValue(&first)), QVariant(7));
        QCOMPARE(model.valueOf(QVariant::fromValue(&second)), QVariant(6));
    }

    // A proxy sorted by value stays sorted through frames of a few scattered changes (a signal
    // per range): each range's values change just before its signal, so the proxy placing one
    // range reads the rows of the others as they were when it last placed them.
    void sortedProxyAcrossScatteredChanges()
    {
        LatestModel model;
        QSortFilterProxyModel proxy;
        proxy.setSortRole(LatestModel::ValueRole);
        proxy.setSourceModel(&model);
        proxy.sort(0);
        QAbstractItemModelTester tester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
        constexpr int kKeys = 100;
        for (int k = 0; k < kKeys; ++k)
            model.write(k, k);
        QTRY_COMPARE(proxy.rowCount(), kKeys);
        std::mt19937 random(1); // the same frames every run
        const auto sorted = [&proxy] {
            for (int r = 1; r < proxy.rowCount(); ++r) {
                if (proxy.index(r - 1, 0).data(LatestModel::ValueRole).toInt() >
                    proxy.index(r, 0).data(LatestModel::ValueRole).toInt())
                    return false;
            }
            return true;
        };
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        for (int frame = 0; frame < 100; ++frame) {
            for (int i = 0; i < 5; ++i)
                model.write(static_cast<int>(random() % kKeys), static_cast<int>(random() % 1000));
            QTRY_VERIFY(!changed.isEmpty());
            changed.clear();
            QVERIFY2(sorted(), qPrintable(QStringLiteral("frame %1").arg(frame)));
        }
    }

    // Keys QVariant may find equal (Qt 6.4 does) but that are not one value, a string and the
    // number it spells ("2" and 2) or -1 and the unsigned it converts to, are two keys at any
    // size of the key table (not one while they share a bucket, then two once it grows), through
    // write() and an int key of follow(); valueOf() names the key's own row.
    void differentValuesApartAtAnyTableSize()
    {
        rio::QtRegistry<int> numbers;
        for (int others = 0; others < 40; ++others) {
            LatestModel model;
            model.follow(numbers, [](int v) { return v / 10; });
            for (int k = 0; k < others; ++k)
                model.write(QStringLiteral("o%1").arg(k), 0);
            model.write(QStringLiteral("2"), QStringLiteral("text"));
            numbers.notify(20); // key 2
            model.write(QVariant::fromValue(~0U), QStringLiteral("unsigned"));
            model.write(-1, QStringLiteral("minus one"));
            QTRY_COMPARE(model.rowCount(), others + 4);
            for (int k = 0; k < 1000; ++k) // the table grows
                model.write(QStringLiteral("p%1").arg(k), 0);
            numbers.notify(21);
            model.write(-1, QStringLiteral("minus one again"));
            QTRY_COMPARE(model.rowCount(), others + 1004);
            QCoreApplication::processEvents();
            QCOMPARE(model.rowCount(), others + 1004);
            QCOMPARE(model.valueOf(QStringLiteral("2")), QVariant(QStringLiteral("text")));
            QCOMPARE(model.valueOf(2), QVariant(21));
            QCOMPARE(model.valueOf(QVariant::fromValue(~0U)), QVariant(QStringLiteral("unsigned")));
            QCOMPARE(model.valueOf(-1), QVariant(QStringLiteral("minus one again")));
        }
    }

    // follow()'s int and string keys, found without becoming QVariants, are the keys write() and
    // remove() name by QVariant, whatever the type a key first came as (2.0 and 2 are one row).
    void typedKeysAreVariantKeys()
    {
        rio::QtRegistry<int> numbers;
        LatestModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.follow(numbers, [](int v) { return v % 3; });
        model.write(2.0, -1);
        numbers.notify(5); // key 2
        numbers.notify(3); // key 0: a new row
        QTRY_COMPARE(model.rowCount(), 2);
        QCOMPARE(model.valueOf(2), QVariant(5));
        QCOMPARE(model.data(model.index(1), LatestModel::KeyRole).metaType(), QMetaType::fromType<int>());
        QVERIFY(model.remove(0.0));
        QTRY_COMPARE(model.rowCount(), 1);
        numbers.notify(6); // key 0 again
        QTRY_COMPARE(model.rowCount(), 2);
        QCOMPARE(model.valueOf(0), QVariant(6));

        rio::QtRegistry<Quote> quotes;
        model.follow(quotes, [](const Quote &q) { return q.symbol; });
        model.write(QStringLiteral("a"), 1);
        quotes.notify(Quote{QStringLiteral("a"), 2});
        quotes.notify(Quote{QStringLiteral("b"), 3});
        QTRY_COMPARE(model.rowCount(), 2);
        QCOMPARE(model.valueOf(QStringLiteral("a")).value<Quote>().price, 2.0);
        QVERIFY(model.remove(QStringLiteral("b")));
        QTRY_COMPARE(model.rowCount(), 1);
    }

    // Removal: a key's row goes at the next frame with its waiting write; a later write adds it
    // again; clear() removes every row but keeps the writes after it.
    void removalAndClear()
    {
        LatestModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        for (int k = 0; k < 10; ++k)
            model.write(k, k * 10);
        QTRY_COMPARE(model.rowCount(), 10);
        QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
        QVERIFY(!model.remove(42)); // unknown
        model.write(3, 1);          // waits, then goes with its row
        QVERIFY(model.remove(3));
        QVERIFY(!model.remove(3)); // already going
        QVERIFY(model.remove(4));
        QVERIFY(model.remove(8));
        QTRY_COMPARE(model.rowCount(), 7);
        QCOMPARE(removed.count(), 2); // rows 3-4, then 8
        QCOMPARE(rowOf(model, 3), -1);
        QCOMPARE(model.valueOf(9), QVariant(90));
        QCOMPARE(rowOf(model, 9), 6);
        // Removed then written again before the frame: the row stays, with the new value.
        model.write(5, 0);
        QTRY_COMPARE(model.valueOf(5), QVariant(0));
        QVERIFY(model.remove(5));
        model.write(5, 55);
        QCoreApplication::processEvents();
        QTRY_COMPARE(model.valueOf(5), QVariant(55));
        QCOMPARE(model.rowCount(), 7);
        // Written after its removal was shown: a new row, at the end.
        QVERIFY(model.remove(0));
        QTRY_COMPARE(model.rowCount(), 6);
        model.write(0, 1);
        QTRY_COMPARE(model.rowCount(), 7);
        QCOMPARE(rowOf(model, 0), 6);
        // clear(), then a write: only that key remains.
        model.clear();
        model.write(QStringLiteral("after"), 1);
        QTRY_COMPARE(model.rowCount(), 1);
        QCOMPARE(model.valueOf(QStringLiteral("after")), QVariant(1));
        model.clear();
        QTRY_COMPARE(model.rowCount(), 0);
        // A removal from a worker thread.
        model.write(7, 7);
        QTRY_COMPARE(model.rowCount(), 1);
        std::thread([&model] { QVERIFY(model.remove(7)); }).join();
        QTRY_COMPARE(model.rowCount(), 0);
        // Written again while its removal is being applied (from a slot of rowsRemoved, after the
        // frame took the pending set): it comes back as a new row at the next frame.
        model.write(QStringLiteral("again"), 1);
        QTRY_COMPARE(model.valueOf(QStringLiteral("again")), QVariant(1));
        const auto rewrite = connect(&model, &QAbstractItemModel::rowsRemoved, &model,
                                     [&model] { model.write(QStringLiteral("again"), 2); });
        QVERIFY(model.remove(QStringLiteral("again")));
        QTRY_COMPARE(model.valueOf(QStringLiteral("again")), QVariant(2));
        disconnect(rewrite);
        QCOMPARE(model.rowCount(), 1);
        QVERIFY(model.remove(QStringLiteral("again")));
        QTRY_COMPARE(model.rowCount(), 0);
        QVERIFY(!model.remove(QStringLiteral("again"))); // its slot went with the row
    }

    // A slot of the frame's own signals makes the model follow another registry: the rows restart
    // then and there, and the rest of the frame (more removals, new keys of the registry no longer
    // followed) leaves them alone, so the new registry's keys get rows of their own.
    void restartedFromItsOwnSignals()
    {
        rio::QtRegistry<int> first;
        rio::QtRegistry<int> second;
        LatestModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.follow(first, [](int v) { return v % 10; });
        for (int k = 0; k < 5; ++k)
            first.notify(k);
        QTRY_COMPARE(model.rowCount(), 5);
        const auto restartOn = [&](auto signal) {
            return QObject::connect(&model, signal, &model, [&] {
                QObject::disconnect(&model, signal, &model, nullptr);
                model.follow(second, [](int v) { return v; });
            });
        };
        // Two ranges removed (rows 1 and 3): the first removal restarts the rows.
        restartOn(&QAbstractItemModel::rowsRemoved);
        QVERIFY(model.remove(1));
        QVERIFY(model.remove(3));
        QTRY_COMPARE(model.rowCount(), 0);
        QCoreApplication::processEvents();
        QCOMPARE(model.rowCount(), 0);
        // A changed row and a new key in one frame: the change restarts the rows.
        model.follow(first, [](int v) { return v % 10; });
        first.notify(0);
        QTRY_COMPARE(model.rowCount(), 1);
        restartOn(&QAbstractItemModel::dataChanged);
        first.notify(10); // key 0 changes
        first.notify(1);  // key 1 is new
        QTRY_VERIFY(model.registry() == nullptr && model.rowCount() == 0);
        QCoreApplication::processEvents();
        QCOMPARE(model.rowCount(), 0);
        second.notify(7);
        second.notify(8);
        QTRY_COMPARE(model.rowCount(), 2);
        QCOMPARE(model.valueOf(7), QVariant::fromValue(7));
        QCOMPARE(model.valueOf(8), QVariant::fromValue(8));
        QCOMPARE(rowOf(model, 1), -1);
    }

    // A slot of the frame's own signals turns the event loop (a dialog's exec(), a processEvents)
    // while a key new in that frame is written again: the frame ends before the next one starts,
    // so the key gets one row, showing its last write. Through write(), and through the cells of
    // int keys (the key's cell is published when it is first written: the write in the slot takes
    // no lock, and the frame it asks for waits for this one).
    void nestedLoopInItsOwnSignals_data()
    {
        QTest::addColumn<bool>("cells");
        QTest::newRow("write") << false;
        QTest::newRow("cells") << true;
    }
    void nestedLoopInItsOwnSignals()
    {
        QFETCH(bool, cells);
        rio::QtRegistry<Tick> registry;
        LatestModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        const QVariant oldKey = cells ? QVariant(0) : QVariant(QStringLiteral("old"));
        const QVariant newKey = cells ? QVariant(1) : QVariant(QStringLiteral("new"));
        if (cells)
            model.follow(registry, [](const Tick &t) { return t.id; });
        const auto write = [&](const QVariant &key, int v) {
            if (cells)
                registry.notify(Tick{key.toInt(), double(v)});
            else
                model.write(key, v);
        };
        const auto number = [&](const QVariant &value) {
            return cells ? int(value.value<Tick>().v) : value.toInt();
        };
        const auto shown = [&](const QVariant &key) { return number(model.valueOf(key)); };
        write(oldKey, 0);
        QTRY_COMPARE(model.rowCount(), 1);
        bool nested = false;
        const auto loop = connect(&model, &QAbstractItemModel::dataChanged, &model, [&] {
            if (std::exchange(nested, true))
                return;
            std::thread([&] { write(newKey, 2); }).join();
            QCoreApplication::processEvents();
        });
        std::thread([&] {
            write(oldKey, 1); // a change: dataChanged comes first
            write(newKey, 1); // a new key: inserted after
        }).join();
        QTRY_COMPARE(shown(newKey), 2);
        QCoreApplication::processEvents();
        disconnect(loop);
        QVERIFY(nested);
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(rowOf(model, newKey), 1);
        QCOMPARE(number(model.data(model.index(1), LatestModel::ValueRole)), 2);
        QVERIFY(model.remove(newKey));
        QTRY_COMPARE(model.rowCount(), 1);
    }

    // The registry destroyed while updates wait: the writes already made are shown, and nothing
    // touches the registry after. The model destroyed while updates wait and writers still
    // notify: their handler is gone, nothing touches the model.
    void destroyedWhileUpdatesWait()
    {
        LatestModel model;
        {
            auto registry = std::make_unique<rio::QtRegistry<Quote>>();
            model.follow(*registry, [](const Quote &q) { return q.symbol; });
            std::thread([&registry] {
                for (int i = 0; i < 1000; ++i)
                    registry->notify(Quote{QStringLiteral("k%1").arg(i % 10), double(i)});
            }).join();
            registry.reset();
        }
        QTRY_COMPARE(model.rowCount(), 10);
        QCOMPARE(model.valueOf(QStringLiteral("k9")).value<Quote>().price, 999.0);

        rio::QtRegistry<Quote> registry;
        auto doomed = std::make_unique<LatestModel>();
        doomed->follow(registry, [](const Quote &q) { return q.symbol; });
        std::atomic<bool> stop{false};
        std::atomic<int> sent{0};
        std::thread writer([&] {
            for (int i = 0; i < kWritesPerWriter && !stop.load(); ++i) {
                registry.notify(Quote{QStringLiteral("k%1").arg(i % 10), double(i)});
                ++sent;
            }
        });
        QTRY_VERIFY(sent.load() > 100);
        doomed.reset(); // a wake-up is posted or the writer is mid-write
        QCoreApplication::processEvents();
        stop = true;
        writer.join();
        QCOMPARE(registry.size(), std::size_t(0));
    }

    // A model that follows nothing, fed by its writer from two threads while the GUI thread
    // removes and clears: valid after every change, and every key ends on its final value. A key
    // of another type goes through the lock; a writer of no model drops its writes.
    void aWriterFeedsTheRowsWithoutARegistry()
    {
        LatestModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        const rio::LatestModelWriter<Tick> writer = model.writer<Tick>();
        const auto keyOf = [](int w, int k) { return w * kKeysPerWriter + k; };
        int turns = 0;
        onWorkers(
            [&](int w) {
                for (int i = 0; i < kWritesPerWriter; ++i)
                    writer.write(keyOf(w, i % kKeysPerWriter), Tick{w, double(i)});
            },
            [&] {
                if (++turns % 7 == 0 && model.rowCount() > 0)
                    model.remove(model.data(model.index(turns % model.rowCount()), LatestModel::KeyRole));
                if (turns % 31 == 0)
                    model.clear();
            });
        onWorkers([&](int w) {
            for (int k = 0; k < kKeysPerWriter; ++k)
                writer.write(keyOf(w, k), Tick{w, -1.0 - k});
        });
        endsOnFinalValues(model, kKeysPerWriter,
                          [&](int w, int k) { return model.valueOf(keyOf(w, k)).value<Tick>().v; });
        writer.write(QStringLiteral("text"), Tick{0, 7});
        rio::LatestModelWriter<Tick>().write(1, Tick{1, 1});
        QTRY_COMPARE(model.valueOf(QStringLiteral("text")).value<Tick>().v, 7.0);
        QCOMPARE(model.rowCount(), kWriters * kKeysPerWriter + 1);
    }

    // A writer writes the rows follow() feeds: the newest write of a key wins, whoever made it.
    // A writer of another type, or one taken once rows hold keys of a model that keeps no
    // bytes, writes QVariants into the same rows.
    void aWriterSharesTheRowsItFinds()
    {
        rio::QtRegistry<Tick> registry;
        LatestModel model;
        model.follow(registry, [](const Tick &t) { return t.id; });
        const rio::LatestModelWriter<Tick> writer = model.writer<Tick>();
        registry.notify(Tick{1, 1});
        writer.write(1, Tick{1, 2});
        writer.write(2, Tick{2, 3});
        QTRY_COMPARE(model.rowCount(), 2);
        QCOMPARE(model.valueOf(1).value<Tick>().v, 2.0);
        registry.notify(Tick{2, 4});
        model.writer<double>().write(3, 4.5);
        QTRY_COMPARE(model.valueOf(3), QVariant(4.5));
        QCOMPARE(model.valueOf(2).value<Tick>().v, 4.0);

        LatestModel variants;
        variants.write(1, QStringLiteral("first"));
        variants.writer<Tick>().write(1, Tick{1, 5});
        variants.writer<Tick>().write(2, Tick{2, 6});
        QTRY_COMPARE(variants.rowCount(), 2);
        QCOMPARE(variants.valueOf(1).value<Tick>().v, 5.0);
        QCOMPARE(variants.valueOf(2).value<Tick>().v, 6.0);
    }

    // A writer taken while another thread writes a model's first key: whether the rows keep
    // the events' bytes is decided under the model's lock (ThreadSanitizer sees no race with the
    // write's test of it), and both writes show.
    void aWriterTakenWhileAnotherThreadWrites()
    {
        for (int round = 0; round < 100; ++round) {
            LatestModel model;
            std::thread other([&model] { model.write(1, QVariant::fromValue(Tick{1, 1})); });
            const rio::LatestModelWriter<Tick> writer = model.writer<Tick>();
            other.join();
            writer.write(2, Tick{2, 2});
            QTRY_COMPARE(model.rowCount(), 2);
            QCOMPARE(model.valueOf(1).value<Tick>().v, 1.0);
            QCOMPARE(model.valueOf(2).value<Tick>().v, 2.0);
        }
    }

    // A writer holds the rows it was taken for: while a worker writes through it, the model
    // follows a registry (its rows restart), then is destroyed. None of the worker's writes after
    // the restart shows, the new rows' own writes do, and the writer outlives the model.
    void aWriterOfRowsRestartedOrGoneWritesNowhere()
    {
        rio::QtRegistry<Tick> registry;
        auto model = std::make_unique<LatestModel>();
        const rio::LatestModelWriter<Tick> old = model->writer<Tick>();
        constexpr long kMost = 1'000'000'000; // the worker's bound: seconds of writes, stopped long before
        std::atomic<long> sent{0};
        std::atomic<bool> stop{false};
        std::thread worker([&] {
            for (long i = 0; i < kMost && !stop.load(std::memory_order_relaxed); ++i) {
                const int key = int(i % kKeysPerWriter);
                old.write(key, Tick{key, double(i)});
                sent.store(i + 1, std::memory_order_relaxed);
            }
        });
        const struct Join
        {
            std::atomic<bool> &stop;
            std::thread &worker;
            ~Join()
            {
                stop = true;
                worker.join();
            }
        } join{stop, worker};
        QTRY_COMPARE(model->rowCount(), kKeysPerWriter);
        model->follow(registry, [](const Tick &t) { return t.id; });
        QCOMPARE(model->rowCount(), 0);
        model->writer<Tick>().write(1000, Tick{1000, 1});
        registry.notify(Tick{1001, 2});
        long from = sent.load();
        QTRY_VERIFY(sent.load() > from + 1000 || sent.load() == kMost);
        QTRY_COMPARE(model->rowCount(), 2);
        QCoreApplication::processEvents();
        QCOMPARE(model->rowCount(), 2);
        QCOMPARE(model->valueOf(1000).value<Tick>().v, 1.0);
        model.reset();
        from = sent.load();
        QTRY_VERIFY(sent.load() > from + 1000 || sent.load() == kMost);
    }

    // A moved-from writer, by construction or assignment, is a writer of no model: its writes of a
    // key whose cell is published (lock-free) and of a new key (the lock) are dropped, also once
    // the writer it moved to and the model are gone; the writer moved to writes the rows.
    void aMovedFromWriterWritesNowhere()
    {
        auto model = std::make_unique<LatestModel>();
        rio::LatestModelWriter<Tick> from = model->writer<Tick>();
        rio::LatestModelWriter<Tick> to = std::move(from);
        to.write(1, Tick{1, 1});
        to.write(1, Tick{1, 2}); // key 1's cell published
        QTRY_COMPARE(model->valueOf(1).value<Tick>().v, 2.0);
        from.write(1, Tick{1, -1}); // NOLINT(bugprone-use-after-move): what this test tries
        from.write(2, Tick{2, -1});
        rio::LatestModelWriter<Tick> assigned;
        assigned = std::move(to);
        to.write(1, Tick{1, -2}); // NOLINT(bugprone-use-after-move)
        to.write(3, Tick{3, -2});
        assigned.write(4, Tick{4, 4});
        QTRY_COMPARE(model->rowCount(), 2);
        QCoreApplication::processEvents();
        QCOMPARE(model->rowCount(), 2);
        QCOMPARE(model->valueOf(1).value<Tick>().v, 2.0);
        QCOMPARE(model->valueOf(4).value<Tick>().v, 4.0);
        assigned = {};
        model.reset();
        from.write(1, Tick{1, -3}); // its rows freed: nothing to touch
        to.write(1, Tick{1, -3});
    }

    // A C string key, a character array (a literal) or a `const char *`, is its UTF-8 text as a
    // QString, never its address: the same text elsewhere is the same row, other text at the same
    // address another; through a writer that keeps E's bytes and one that writes QVariants. A
    // null `const char *` is dropped as a missing key.
    void aCStringKeyIsItsText()
    {
        LatestModel model;
        const rio::LatestModelWriter<Tick> raw = model.writer<Tick>();
        const rio::LatestModelWriter<double> variant = model.writer<double>(); // the rows keep Ticks
        char text[8] = "ACME";
        raw.write("ACME", Tick{1, 1});
        raw.write(static_cast<const char *>(text), Tick{1, 2});
        std::strcpy(text, "BOLT"); // NOLINT: the same address, another text
        variant.write(static_cast<const char *>(text), 3.0);
        variant.write("\u00e9t\u00e9", 4.0);
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression("LatestModel: an event without a key"));
        raw.write(static_cast<const char *>(nullptr), Tick{0, 5});
        QTRY_COMPARE(model.rowCount(), 3);
        QCOMPARE(model.valueOf(QStringLiteral("ACME")).value<Tick>().v, 2.0);
        QCOMPARE(model.valueOf(QStringLiteral("BOLT")), QVariant(3.0));
        QCOMPARE(model.valueOf(QStringLiteral("\u00e9t\u00e9")), QVariant(4.0));
        QCOMPARE(model.data(model.index(0), LatestModel::KeyRole).metaType(), QMetaType::fromType<QString>());
    }

    // A full character array (no NUL in it, as a fixed-size symbol field) is its text up to its
    // extent, never read past it; one with a NUL ends there.
    void aCharacterArrayKeyEndsAtItsExtent()
    {
        struct Quote8
        {
            char sym[8];
            double price; // no zero byte: a read past `sym` runs on
        };
        LatestModel model;
        const auto writer = model.writer<Quote8>();
        for (int i = 0; i < 3; ++i) {
            Quote8 q{};
            std::memcpy(q.sym, "ACMECORP", 8); // NOLINT: full, no NUL
            q.price = 100.1 + i;
            writer.write(q.sym, q);
        }
        const auto heap = std::make_unique<char[]>(8); // on the heap: a read past it is seen
        std::memcpy(heap.get(), "AB\0CDEFG", 8);       // NOLINT: "AB", then what follows its end
        writer.write(*reinterpret_cast<const char(*)[8]>(heap.get()), Quote8{{}, 5});
        QTRY_COMPARE(model.rowCount(), 2);
        QCOMPARE(model.valueOf(QStringLiteral("ACMECORP")).value<Quote8>().price, 102.1);
        QCOMPARE(model.valueOf(QStringLiteral("AB")).value<Quote8>().price, 5.0);
    }

    // A string view key owns its text: the buffer it viewed freed after the write, the row keeps
    // the key (a std::string_view, std::wstring_view, std::u32string_view, QStringView or
    // QLatin1StringView as a QString, a QByteArrayView as a QByteArray); a std::string,
    // std::wstring or std::u32string is its text as its view is.
    void aStringViewKeyOwnsItsText()
    {
        LatestModel model;
        const auto writer = model.writer<Tick>();
        const auto viewOfFreed = [&](auto owner, auto view, int i) {
            const auto held = std::make_unique<decltype(owner)>(std::move(owner));
            writer.write(decltype(view)(*held), Tick{i, double(i)});
        };
        viewOfFreed(std::string(40, 'a'), std::string_view(), 1);
        viewOfFreed(QString(40, u'b'), QStringView(), 2);
        viewOfFreed(QByteArray(40, 'c'), QLatin1StringView(), 3);
        viewOfFreed(QByteArray(40, 'd'), QByteArrayView(), 4);
        viewOfFreed(std::wstring(40, L'e'), std::wstring_view(), 6);
        viewOfFreed(std::u32string(40, U'f'), std::u32string_view(), 7);
        writer.write(std::string(40, 'a'), Tick{1, 5});
        writer.write(std::wstring(40, L'e'), Tick{6, 8});
        writer.write(std::u32string(40, U'f'), Tick{7, 9});
        QTRY_COMPARE(model.rowCount(), 6);
        QCOMPARE(model.valueOf(QString(40, u'a')).value<Tick>().v, 5.0);
        QCOMPARE(model.valueOf(QString(40, u'b')).value<Tick>().v, 2.0);
        QCOMPARE(model.valueOf(QString(40, u'c')).value<Tick>().v, 3.0);
        QCOMPARE(model.valueOf(QByteArray(40, 'd')).value<Tick>().v, 4.0);
        QCOMPARE(model.valueOf(QString(40, u'e')).value<Tick>().v, 8.0);
        QCOMPARE(model.valueOf(QString(40, u'f')).value<Tick>().v, 9.0);
    }

    // A UTF-16, UTF-8 (char8_t), UTF-32 or wchar_t C string key is its text, never its address:
    // one buffer holding two texts is two rows.
    void aWideCStringKeyIsItsText()
    {
        LatestModel model;
        const auto writer = model.writer<Tick>();
        char16_t utf16[8] = u"ACME";
        char8_t utf8[8] = u8"\u00e9t\u00e9";
        writer.write(static_cast<const char16_t *>(utf16), Tick{1, 1});
        writer.write(static_cast<const char8_t *>(utf8), Tick{2, 2});
        std::memcpy(utf16, u"BOLT", sizeof(u"BOLT"));  // NOLINT: the same address, another text
        std::memcpy(utf8, u8"BOLT", sizeof(u8"BOLT")); // NOLINT
        writer.write(static_cast<const char16_t *>(utf16), Tick{3, 3});
        writer.write(static_cast<const char8_t *>(utf8), Tick{4, 4});
        writer.write(utf16, Tick{5, 5}); // an array: its text too
        writer.write(static_cast<const wchar_t *>(L"ACME"), Tick{6, 6});
        writer.write(U"\U0001F600", Tick{7, 7}); // beyond UTF-16's single units
        QTRY_COMPARE(model.rowCount(), 4);
        QCOMPARE(model.valueOf(QStringLiteral("ACME")).value<Tick>().v, 6.0);
        QCOMPARE(model.valueOf(QStringLiteral("\U0001F600")).value<Tick>().v, 7.0);
        QCOMPARE(model.valueOf(QStringLiteral("\u00e9t\u00e9")).value<Tick>().v, 2.0);
        QCOMPARE(model.valueOf(QStringLiteral("BOLT")).value<Tick>().v, 5.0);
    }

    // One instant is one key in any time zone (QDateTime compares instants): UTC, local time and
    // fixed offsets of it are one row.
    void aDateTimeKeyIsItsInstant()
    {
        LatestModel model;
        const int instants = 32;
        for (int i = 0; i < instants; ++i) {
            const QDateTime utc(QDate(2026, 1, 1), QTime(12, 0).addSecs(i), QTimeZone::utc());
            int value = 0;
            for (const QDateTime &at :
                 {utc, utc.toLocalTime(), utc.toOffsetFromUtc(3600), utc.toOffsetFromUtc(-(5 * 3600 + 1800))})
                model.write(at, ++value);
        }
        QTRY_COMPARE(model.rowCount(), instants);
        QCOMPARE(model.valueOf(QDateTime(QDate(2026, 1, 1), QTime(12, 0), QTimeZone::utc())).toInt(), 4);
    }

    // Two event types Qt names alike (anonymous-namespace structs of two translation units) share
    // one QMetaType id; one of another size never shares the cells the rows keep for the other:
    // its writes, of a new key (the lock) and of a key with a cell, are QVariants of its own type.
    void aSameNamedTypeOfAnotherSizeKeepsItsOwnBytes()
    {
        QCOMPARE(twinSampleType(), QMetaType::fromType<Sample>()); // what this test relies on
        QCOMPARE_NE(twinSampleType().sizeOf(), QMetaType::fromType<Sample>().sizeOf());
        LatestModel model;
        model.writer<Sample>().write(1, Sample{1.5, 2.5});
        model.writer<Sample>().write(1, Sample{1.5, 3.5}); // key 1's cell published
        writeTwinSample(model, 2, 'x');
        QTRY_COMPARE(model.rowCount(), 2);
        writeTwinSample(model, 1, 'y');
        const auto twinByte = [&model](int key) {
            const QVariant v = model.valueOf(key);
            return v.metaType().sizeOf() == 1 ? *static_cast<const char *>(v.constData()) : '\0';
        };
        QTRY_COMPARE(twinByte(1), 'y');
        QCOMPARE(twinByte(2), 'x');
        model.writer<Sample>().write(2, Sample{4.5, 5.5});
        QTRY_COMPARE(model.valueOf(2).metaType().sizeOf(), sizeof(Sample));
        QCOMPARE(model.valueOf(2).value<Sample>().b, 5.5);
    }

    // An invalid value written to rows that keep events' bytes shows as invalid, as on rows that
    // keep QVariants: never the key's cell (its previous event, or a zeroed one for a new key).
    void anInvalidValueOnCellRowsShowsInvalid()
    {
        LatestModel model;
        const auto writer = model.writer<Tick>();
        writer.write(1, Tick{1, 1});
        writer.write(1, Tick{1, 2}); // key 1's cell published
        QTRY_COMPARE(model.rowCount(), 1);
        model.write(1, QVariant());
        model.write(9, QVariant());
        QTRY_COMPARE(model.rowCount(), 2);
        for (int row = 0; row < 2; ++row)
            QVERIFY(!model.data(model.index(row), LatestModel::ValueRole).isValid());
        writer.write(1, Tick{1, 3}); // the cell again, written after the invalid value
        QTRY_COMPARE(model.valueOf(1).value<Tick>().v, 3.0);
    }

    // A QmlRegistry and a typed registry, from QML: rows keyed by a field, roles from the
    // event's fields (given, or the typed event's properties), a bad key or registry warns.
    void fromQml()
    {
        auto engine = rio::test::makeEngine();
        QQmlComponent component(engine.get());
        component.setData(R"(
            import QtQml
            import RegistryIO
            import RioLatestTest
            QtObject {
                property QmlRegistry prices: QmlRegistry {}
                property QuoteRegistry quotes: QuoteRegistry {}
                property LatestModel byMap: LatestModel { registry: prices; key: "symbol"; roles: ["price"] }
                property LatestModel byGadget: LatestModel { registry: quotes; key: "symbol" }
            })",
                          QUrl());
        std::unique_ptr<QObject> root(component.create());
        QVERIFY2(root, qPrintable(component.errorString()));
        auto *const prices = root->property("prices").value<rio::QmlRegistry *>();
        auto *const quotes = root->property("quotes").value<QuoteRegistry *>();
        auto *const byMap = root->property("byMap").value<LatestModel *>();
        auto *const byGadget = root->property("byGadget").value<LatestModel *>();
        QVERIFY(prices && quotes && byMap && byGadget);
        QCOMPARE(byMap->roleNames().value(LatestModel::FieldRole), QByteArray("price"));
        QCOMPARE(byGadget->roleNames().value(LatestModel::FieldRole), QByteArray("symbol"));
        QCOMPARE(byGadget->roleNames().value(LatestModel::FieldRole + 1), QByteArray("price"));
        onWorkers([&](int w) {
            const rio::QmlRegistrySender sender = prices->sender();
            const rio::QmlTypedSender<Quote> typed = quotes->sender();
            for (int i = 0; i < 1000; ++i) {
                sender.notify(QVariantMap{{QStringLiteral("symbol"), symbolOf(w, i % 5)},
                                          {QStringLiteral("price"), i}});
                typed.notify(Quote{symbolOf(w, i % 5), double(i)});
            }
        });
        QTRY_COMPARE(byMap->rowCount(), kWriters * 5);
        QTRY_COMPARE(byGadget->rowCount(), kWriters * 5);
        // The rows may all exist before the last writes are shown: wait for those.
        QTRY_COMPARE(byMap->data(byMap->index(rowOf(*byMap, symbolOf(1, 4))), LatestModel::FieldRole),
                     QVariant(999));
        QTRY_COMPARE(
            byGadget->data(byGadget->index(rowOf(*byGadget, symbolOf(1, 4))), LatestModel::FieldRole + 1),
            QVariant(999.0));
        // From JavaScript on the engine's thread: an object is a map to C++ handlers.
        rio::test::eval(root.get(), QStringLiteral("prices.notify({symbol: 'js', price: 1})"));
        QTRY_COMPARE(byMap->valueOf(QStringLiteral("js")).toMap().value(QStringLiteral("price")),
                     QVariant(1));
        // An event without the key field is dropped, with one warning.
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression("LatestModel: an event without a key"));
        prices->notify(QVariantMap{{QStringLiteral("price"), 2}});
        prices->notify(QVariantMap{{QStringLiteral("price"), 3}});
        QCoreApplication::processEvents();
        QCOMPARE(byMap->rowCount(), kWriters * 5 + 1);
        // A key that names no property of the typed event, a registry of another kind: warnings.
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression("names no property of Quote"));
        byGadget->setKey(QStringLiteral("nope"));
        QCOMPARE(byGadget->rowCount(), 0);
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression("must be a QmlRegistry or a typed registry"));
        byGadget->setRegistry(byMap);
        // Its handler left the registry when it changed.
        const std::size_t handlers = quotes->registry().size();
        QCOMPARE(handlers, std::size_t(0));
    }

    // The handler follow() adds is shown (inspector, logs) as added where follow() was called,
    // not inside the model.
    void followRecordsItsCaller()
    {
        rio::QtRegistry<Quote> registry;
        LatestModel model;
        const int line = __LINE__ + 1;
        const rio::HandlerId id = model.follow(registry, [](const Quote &q) { return q.symbol; });
        const rio::RegistryInfo info = rio::Diagnostics::snapshot(registry.registryId());
        const auto handler = std::find_if(info.handlers.begin(), info.handlers.end(),
                                          [id](const rio::HandlerInfo &h) { return h.id == id; });
        QVERIFY(handler != info.handlers.end());
        QVERIFY2(handler->file.endsWith(QStringLiteral("tst_qml_latest_model.cpp")),
                 qPrintable(handler->file));
        QCOMPARE(handler->line, line);
    }

    // A model declared in QML: while diagnostics are on, its handler is shown as added at the
    // model's declaration (file and line), beside the C++ position of the add.
    void declaredModelRecordsItsLine()
    {
        rio::Diagnostics::setEnabled(true);
        auto engine = rio::test::makeEngine();
        std::unique_ptr<QObject> root = rio::test::load(*engine, QStringLiteral("latest_model.qml"));
        rio::Diagnostics::setEnabled(false);
        auto *const window = qobject_cast<QQuickWindow *>(root.get());
        QVERIFY(window != nullptr);
        auto *const prices = root->property("prices").value<rio::QmlRegistry *>();
        QVERIFY(prices != nullptr);
        const rio::RegistryInfo info = rio::Diagnostics::snapshot(prices->registry().registryId());
        QCOMPARE(info.handlers.size(), 1);
        QVERIFY2(info.handlers[0].originFile.endsWith(QStringLiteral("latest_model.qml")),
                 qPrintable(info.handlers[0].originFile));
        QCOMPARE(info.handlers[0].originLine, 25); // `model: LatestModel {`
        window->hide(); // Qt 6.4's threaded software loop may hang destroying a shown window
    }

    // In a real window (offscreen): four writers flood a hot key and many others; the hot key's
    // row changes at most once per frame, rows are inserted at most once per frame, and the window
    // ends on every key's last value. The delegates of a ListView read the roles.
    void onceAFrameInAWindow()
    {
        auto engine = rio::test::makeEngine();
        std::unique_ptr<QObject> root = rio::test::load(*engine, QStringLiteral("latest_model.qml"));
        auto *const window = qobject_cast<QQuickWindow *>(root.get());
        QVERIFY(window != nullptr);
        QVERIFY(QTest::qWaitForWindowExposed(window));
        auto *const prices = root->property("prices").value<rio::QmlRegistry *>();
        auto *const model = root->property("model").value<LatestModel *>();
        QVERIFY(prices && model);
        std::atomic<int> hotChanges{0};
        std::atomic<int> inserts{0};
        std::atomic<int> hotAtFrame{0};
        std::atomic<int> insertsAtFrame{0};
        std::atomic<int> mostPerFrame{0};
        std::atomic<int> frames{0};
        QObject::connect(model, &QAbstractItemModel::dataChanged, model, [&](const QModelIndex &first) {
            if (first.row() == 0)
                ++hotChanges;
        });
        QObject::connect(model, &QAbstractItemModel::rowsInserted, model, [&] { ++inserts; });
        QObject::connect(
            window, &QQuickWindow::beforeSynchronizing, window,
            [&] {
                const int hot = hotChanges.load();
                const int ins = inserts.load();
                const int most = std::max(hot - hotAtFrame.exchange(hot), ins - insertsAtFrame.exchange(ins));
                if (most > mostPerFrame.load())
                    mostPerFrame.store(most);
                ++frames;
            },
            Qt::DirectConnection);
        const rio::QmlRegistrySender sender = prices->sender();
        sender.notify(
            QVariantMap{{QStringLiteral("symbol"), QStringLiteral("hot")}, {QStringLiteral("price"), -1}});
        QTRY_COMPARE(model->rowCount(), 1);
        std::atomic<int> done{0};
        std::vector<std::thread> writers;
        for (int w = 0; w < 4; ++w) {
            writers.emplace_back([sender, w, &done] {
                for (int i = 0; i < kWritesPerWriter; ++i) {
                    sender.notify(QVariantMap{{QStringLiteral("symbol"), QStringLiteral("hot")},
                                              {QStringLiteral("price"), i}});
                    sender.notify(QVariantMap{{QStringLiteral("symbol"), symbolOf(w, i % 200)},
                                              {QStringLiteral("price"), i}});
                }
                ++done;
            });
        }
        while (done.load() < 4)
            QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
        for (std::thread &t : writers)
            t.join();
        sender.notify(
            QVariantMap{{QStringLiteral("symbol"), QStringLiteral("hot")}, {QStringLiteral("price"), -2}});
        QTRY_COMPARE(model->valueOf(QStringLiteral("hot")).toMap().value(QStringLiteral("price")),
                     QVariant(-2));
        QCOMPARE(model->rowCount(), 1 + 4 * 200);
        QCOMPARE(model->valueOf(symbolOf(3, 199)).toMap().value(QStringLiteral("price")),
                 QVariant(kWritesPerWriter - 1));
        QVERIFY(frames.load() > 0);
        QCOMPARE_LE(mostPerFrame.load(), 1);
        // The view's delegates show the roles.
        QTRY_COMPARE(root->property("firstShown").toString(), QStringLiteral("hot -2"));
        window->hide(); // Qt 6.4's threaded software loop may hang destroying a shown window
    }
};

QTEST_MAIN(TestQmlLatestModel)
#include "tst_qml_latest_model.moc"
