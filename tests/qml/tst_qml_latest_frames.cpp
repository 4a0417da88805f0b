// SPDX-License-Identifier: MIT
// A registry's `latest` in a real Qt Quick window: worker threads flood it, and it changes at most
// once per frame, never on an idle frame, and ends on the last value written; a window hidden or
// destroyed, a registry or engine destroyed, with a change pending. A C++ rio::LatestValue among
// the window's objects is paced by the same frames; moved to another thread with a value waiting
// for a frame, it leaves the window and shows that value as it moves.

#include "qml_test_support.h"

#include <registryio/qml/qml_registry.h>
#include <registryio/qml/qml_typed_registry.h>
#include <registryio/qt/latest_value.h>

#include <QGuiApplication>
#include <QPointer>
#include <QQuickItem>
#include <QQuickWindow>
#include <QScopeGuard>
#include <QTest>
#include <QThread>

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

using rio::QmlRegistry;

// A typed registry of a small trivially copyable event: the facade's one-cell Latest feeds it.
RIO_QML_TYPED_REGISTRY(CountRegistry, int)

namespace {

constexpr int kWriters = 4;
constexpr int kPerWriter = 20000; // each writer stops after this many updates
constexpr int kLast = -1;         // written once every writer is done: what the window ends on

// Counts frames (each scene-graph sync) and the changes of `latest` a frame takes: a change is
// made on the GUI thread, a sync happens on the render thread (the GUI thread waits for it) or on
// the GUI thread, so the changes between two syncs are what one frame shows.
struct FrameCounter
{
    std::atomic<int> frames{0};
    std::atomic<int> changes{0};
    std::atomic<int> changesAtLastFrame{0};
    std::atomic<int> mostPerFrame{0};

    void watch(QQuickWindow *window, QmlRegistry *registry)
    {
        QObject::connect(registry, &QmlRegistry::latestChanged, registry, [this] { ++changes; });
        watchFrames(window);
    }
    void watch(QQuickWindow *window, rio::LatestValueBase *value)
    {
        QObject::connect(value, &rio::LatestValueBase::valueChanged, value, [this] { ++changes; });
        watchFrames(window);
    }
    void watchFrames(QQuickWindow *window)
    {
        QObject::connect(
            window, &QQuickWindow::beforeSynchronizing, window,
            [this] {
                const int now = changes.load();
                const int inFrame = now - changesAtLastFrame.exchange(now);
                if (inFrame > mostPerFrame.load())
                    mostPerFrame.store(inFrame);
                ++frames;
            },
            Qt::DirectConnection);
    }
};

// Counts the posted deliveries an object receives.
struct PostedCounter : QObject
{
    int posted = 0;
    bool eventFilter(QObject *, QEvent *event) override
    {
        posted += event->type() == QEvent::MetaCall ? 1 : 0;
        return false;
    }
};

// Writers that notify `registry` through its sender, each a bounded number of times, while the
// GUI thread goes on rendering.
void flood(QmlRegistry *registry)
{
    std::vector<std::thread> writers;
    std::atomic<int> done{0};
    const rio::QmlRegistrySender sender = registry->sender();
    for (int w = 0; w < kWriters; ++w) {
        writers.emplace_back([sender, w, &done] {
            for (int i = 0; i < kPerWriter; ++i)
                sender.notify(QVariant(w * kPerWriter + i));
            ++done;
        });
    }
    while (done.load() < kWriters)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
    for (std::thread &t : writers)
        t.join();
}

} // namespace

class TestQmlLatestFrames : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QQmlEngine> m_engine;
    std::unique_ptr<QObject> m_root;
    QQuickWindow *m_window = nullptr;

    QmlRegistry *load()
    {
        m_engine = rio::test::makeEngine();
        m_root = rio::test::load(*m_engine, QStringLiteral("latest_frames.qml"));
        m_window = qobject_cast<QQuickWindow *>(m_root.get());
        if (m_window == nullptr)
            return nullptr;
        static_cast<void>(QTest::qWaitForWindowExposed(m_window));
        return m_root->property("registry").value<QmlRegistry *>();
    }

private Q_SLOTS:
    void cleanup()
    {
        if (m_window != nullptr)
            m_window->hide(); // Qt 6.4's threaded software loop may hang destroying a shown window
        m_root.reset();
        m_engine.reset();
        m_window = nullptr;
    }

    // Four writers flood `latest`: each frame takes at most one change, the frames keep coming,
    // and the window ends on the last value written.
    void onceAFrameUnderAFlood()
    {
        QmlRegistry *const registry = load();
        QVERIFY(registry != nullptr);
        FrameCounter counter;
        counter.watch(m_window, registry);
        QCOMPARE(registry->latest(), QVariant()); // follows from this first read
        flood(registry);
        registry->sender().notify(QVariant(kLast));
        QTRY_COMPARE(registry->latest(), QVariant(kLast));
        QVERIFY(counter.frames.load() > 0);
        QCOMPARE_LE(counter.mostPerFrame.load(), 1);
        QCOMPARE_LE(counter.changes.load(), counter.frames.load());
        // A frame takes it.
        QTRY_COMPARE(counter.changesAtLastFrame.load(), counter.changes.load());
    }

    // A registry inside an item is paced by the item's window too, and so is a typed read of it.
    void anItemsRegistryFollowsItsWindow()
    {
        QVERIFY(load() != nullptr);
        auto *const nested = m_root->property("nested").value<QmlRegistry *>();
        QVERIFY(nested != nullptr);
        FrameCounter counter;
        counter.watch(m_window, nested);
        static_cast<void>(nested->latest());
        flood(nested);
        nested->sender().notify(QVariant(kLast));
        QTRY_COMPARE(nested->latest(), QVariant(kLast));
        QVERIFY(counter.frames.load() > 0);
        QCOMPARE_LE(counter.mostPerFrame.load(), 1);
    }

    // A typed registry of `int` in the window (a child of its content item): paced the same way.
    void aTypedRegistryIsPacedToo()
    {
        QVERIFY(load() != nullptr);
        CountRegistry registry(m_window->contentItem());
        std::atomic<int> changes{0};
        std::atomic<int> frames{0};
        int changesAtFrame = 0;
        std::atomic<int> mostPerFrame{0};
        QObject::connect(&registry, &rio::QmlTypedRegistry::latestChanged, &registry, [&] { ++changes; });
        QObject::connect(
            m_window, &QQuickWindow::beforeSynchronizing, &registry,
            [&] {
                const int now = changes.load();
                mostPerFrame.store(std::max(mostPerFrame.load(), now - std::exchange(changesAtFrame, now)));
                ++frames;
            },
            Qt::DirectConnection);
        QCOMPARE(registry.latest(), QVariant());
        std::atomic<int> done{0};
        std::vector<std::thread> writers;
        for (int w = 0; w < kWriters; ++w) {
            writers.emplace_back([sender = registry.sender(), w, &done] {
                for (int i = 0; i < kPerWriter; ++i)
                    sender.notify(w * kPerWriter + i);
                ++done;
            });
        }
        while (done.load() < kWriters)
            QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
        for (std::thread &t : writers)
            t.join();
        registry.sender().notify(kLast);
        QTRY_COMPARE(registry.latest(), QVariant(kLast));
        QVERIFY(frames.load() > 0);
        QCOMPARE_LE(mostPerFrame.load(), 1);
    }

    // A LatestValue that is a child of the window: four writers set it, each frame takes at most
    // one change, it ends on the last value set, and frames where nothing was set change nothing.
    void aLatestValueInTheWindowIsPacedToo()
    {
        QVERIFY(load() != nullptr);
        rio::LatestValue<int> value(m_window);
        FrameCounter counter;
        counter.watch(m_window, &value);
        std::vector<std::thread> writers;
        std::atomic<int> done{0};
        for (int w = 0; w < kWriters; ++w) {
            writers.emplace_back([&value, w, &done] {
                for (int i = 0; i < kPerWriter; ++i)
                    value.set(w * kPerWriter + i);
                ++done;
            });
        }
        while (done.load() < kWriters)
            QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
        for (std::thread &t : writers)
            t.join();
        value.set(kLast);
        QTRY_COMPARE(value.get(), kLast);
        QVERIFY(counter.frames.load() > 0);
        QCOMPARE_LE(counter.mostPerFrame.load(), 1);
        QCOMPARE_LE(counter.changes.load(), counter.frames.load());
        const int changes = counter.changes.load();
        const int frames = counter.frames.load();
        m_root->setProperty("spinning", true); // frames keep coming
        QTRY_VERIFY(counter.frames.load() >= frames + 10);
        QCOMPARE(counter.changes.load(), changes);
    }

    // A worker writes a LatestValue of the window between every two frames: each frame shows the
    // newest, and once it is paced to the frames the writes post nothing to its thread (the
    // frame reads the newest itself), where each frame's first write used to post a delivery.
    void writesBetweenFramesPostNothing()
    {
        QVERIFY(load() != nullptr);
        rio::LatestValue<int> value(m_window);
        PostedCounter counter;
        value.installEventFilter(&counter);
        FrameCounter frames;
        frames.watch(m_window, &value);
        static constexpr int kFrames = 20;
        static constexpr int kPerFrame = 100;
        int written = 0; // frames with writes (GUI thread)
        int last = 0;
        QObject::connect(
            m_window, &QQuickWindow::afterAnimating, &value,
            [&] {
                if (written == kFrames)
                    return;
                const int base = ++written * kPerFrame;
                std::thread([&value, base] {
                    for (int i = 0; i < kPerFrame; ++i)
                        value.set(base + i);
                }).join();
                last = base + kPerFrame - 1;
            },
            Qt::DirectConnection);
        m_root->setProperty("spinning", true); // frames keep coming
        QTRY_COMPARE(written, kFrames);
        QTRY_COMPARE(value.get(), last);
        QCOMPARE_LE(frames.mostPerFrame.load(), 1);
        QCOMPARE_GE(frames.changes.load(), kFrames / 2);
        // The first write, before the value showed in a frame, posts its delivery; no later one.
        QCOMPARE_LE(counter.posted, 2);
    }

    // Single writes, each made as the frame shows the one before (the window otherwise idle):
    // each goes by its own posted delivery, so the frame that shows a value is not asked to read
    // the next one and asks for no frame more to find nothing new (a value costs one frame).
    void singleWritesAreNotHandedToTheFrames()
    {
        QVERIFY(load() != nullptr);
        rio::LatestValue<int> value(m_window);
        PostedCounter counter;
        value.installEventFilter(&counter);
        static constexpr int kWrites = 8;
        QObject::connect(&value, &rio::LatestValueBase::valueChanged, &value, [&value] {
            if (value.get() < kWrites)
                value.set(value.get() + 1);
        });
        value.set(1);
        QTRY_COMPARE(value.get(), kWrites);
        QCOMPARE(counter.posted, kWrites);
    }

    // A LatestValue of the window deleted by its own valueChanged, as a frame's update request
    // shows the value: nothing of its pacer is touched afterwards (ASan/valgrind see a write to
    // freed memory otherwise), and the window goes on drawing.
    void aLatestValueDeletedByItsChangeInAFrame()
    {
        QVERIFY(load() != nullptr);
        QPointer<rio::LatestValue<int>> value = new rio::LatestValue<int>(m_window);
        QObject::connect(value, &rio::LatestValueBase::valueChanged, value, [&value] {
            if (value->get() == 3)
                delete value.data();
        });
        for (int v = 1; v <= 2; ++v) { // the second one is paced to the frames
            value->set(v);
            QTRY_COMPARE(value->get(), v);
        }
        value->set(3);
        QTRY_VERIFY(value.isNull());
        int frames = 0;
        QObject::connect(m_window, &QQuickWindow::afterAnimating, m_window, [&frames] { ++frames; });
        m_root->setProperty("spinning", true);
        QTRY_VERIFY(frames > 1);
    }

    // A frame drawn without an update request (an exposure) after an update request that drew
    // nothing (the window was not exposed, and the frames it asked for then never came): that
    // frame shows the value waiting. Simulated on the offscreen window by filters around the
    // pacer's that drop update requests, then an exposure.
    void anExposureAfterAnUpdateRequestThatDrewNothingShowsTheValue()
    {
        QVERIFY(load() != nullptr);
        struct Drop : QObject
        {
            bool on = false;
            bool eventFilter(QObject *, QEvent *event) override
            {
                return on && event->type() == QEvent::UpdateRequest;
            }
        } afterPacer, beforePacer; // a filter installed later runs earlier
        m_window->installEventFilter(&afterPacer);
        rio::LatestValue<int> value(m_window);
        value.set(1);
        QTRY_COMPARE(value.get(), 1); // the pacer follows the window's frames
        afterPacer.on = true;         // the next update request reaches the pacer, draws nothing
        value.set(2);
        QTRY_COMPARE(value.get(), 2);
        m_window->installEventFilter(&beforePacer);
        beforePacer.on = true; // the frames asked for now never come
        value.set(3);
        QCoreApplication::sendPostedEvents(&value, QEvent::MetaCall); // the value waits for a frame
        QCOMPARE(value.get(), 2);
        QExposeEvent expose(QRect(QPoint(), m_window->size()));
        QCoreApplication::sendEvent(m_window, &expose); // draws a frame now
        QCOMPARE(value.get(), 3);
    }

    // A LatestValue taken out of the window and moved to another thread while a value waits for
    // the window's next frame: the value waiting is shown as it moves, the window's frames no
    // longer change it, and every change happens on the thread it lives on.
    void aLatestValueMovedToAnotherThreadLeavesTheWindow()
    {
        QVERIFY(load() != nullptr);
        QThread worker;
        worker.start();
        auto *value = new rio::LatestValue<int>(m_window);
        const auto end = qScopeGuard([&] {
            // Deleted on its thread, whichever it is by then.
            QMetaObject::invokeMethod(
                value, [value] { delete value; },
                value->thread() == &worker ? Qt::BlockingQueuedConnection : Qt::DirectConnection);
            worker.quit();
            worker.wait();
        });
        std::atomic<int> changes{0};
        std::atomic<int> offThread{0};
        std::atomic<int> shown{0};
        QObject::connect(
            value, &rio::LatestValueBase::valueChanged, value,
            [&] {
                ++changes;
                if (QThread::currentThread() != value->thread())
                    ++offThread;
                shown.store(value->get());
            },
            Qt::DirectConnection);
        FrameCounter counter;
        counter.watchFrames(m_window);
        value->set(1);
        // Runs the queued delivery alone (not the window's frame): the value waits for a frame.
        QCoreApplication::sendPostedEvents(value, QEvent::MetaCall);
        QCOMPARE(value->get(), 0);
        value->setParent(nullptr);
        value->moveToThread(&worker);
        const int frames = counter.frames.load();
        m_root->setProperty("spinning", true); // frames keep coming
        QCOMPARE(shown.load(), 1);
        QTRY_VERIFY(counter.frames.load() >= frames + 3);
        QCOMPARE(changes.load(), 1);
        QCOMPARE(offThread.load(), 0);
    }

    // Frames where nothing was written change nothing.
    void idleFramesChangeNothing()
    {
        QmlRegistry *const registry = load();
        QVERIFY(registry != nullptr);
        FrameCounter counter;
        counter.watch(m_window, registry);
        static_cast<void>(registry->latest());
        registry->sender().notify(QVariant(7));
        QTRY_COMPARE(registry->latest(), QVariant(7));
        const int changes = counter.changes.load();
        const int frames = counter.frames.load();
        m_root->setProperty("spinning", true); // frames keep coming
        QTRY_VERIFY(counter.frames.load() >= frames + 10);
        QCOMPARE(counter.changes.load(), changes);
        // The same value again: no change either.
        registry->sender().notify(QVariant(7));
        const int later = counter.frames.load();
        QTRY_VERIFY(counter.frames.load() >= later + 5);
        QCOMPARE(counter.changes.load(), changes);
    }

    // The window hidden while values arrive: `latest` goes on changing (once per event-loop
    // turn) and ends on the last value.
    void aHiddenWindowStillShowsTheLast()
    {
        QmlRegistry *const registry = load();
        QVERIFY(registry != nullptr);
        static_cast<void>(registry->latest());
        std::atomic<bool> stop{false};
        std::thread writer([sender = registry->sender(), &stop] {
            for (int i = 0; i < kPerWriter && !stop.load(); ++i)
                sender.notify(QVariant(i));
        });
        QTRY_VERIFY(registry->latest().isValid());
        m_window->hide();
        writer.join();
        registry->sender().notify(QVariant(kLast));
        QTRY_COMPARE(registry->latest(), QVariant(kLast));
        // Shown again: paced by its frames again.
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window));
        registry->sender().notify(QVariant(kLast - 1));
        QTRY_COMPARE(registry->latest(), QVariant(kLast - 1));
    }

    // A window destroyed with a change pending: the change is shown at once, and later ones too
    // (no window any more); nothing touches the dead window.
    void aDestroyedWindowStillShowsTheLast()
    {
        QGuiApplication::processEvents();
        auto window = std::make_unique<QQuickWindow>();
        window->resize(50, 50);
        window->show();
        QVERIFY(QTest::qWaitForWindowExposed(window.get()));
        QQuickItem item; // outlives the window: only its parent item goes
        item.setParentItem(window->contentItem());
        QmlRegistry registry(&item);
        static_cast<void>(registry.latest());
        std::atomic<bool> stop{false};
        std::thread writer([sender = registry.sender(), &stop] {
            for (int i = 0; i < kPerWriter && !stop.load(); ++i)
                sender.notify(QVariant(i));
        });
        QTRY_VERIFY(registry.latest().isValid());
        window.reset();
        QCOMPARE(item.parentItem(), nullptr);
        writer.join();
        registry.sender().notify(QVariant(kLast));
        QTRY_COMPARE(registry.latest(), QVariant(kLast));
    }

    // The registry, then the whole engine, destroyed while a change waits for a frame.
    void destroyedWithAChangePending()
    {
        for (int round = 0; round < 2; ++round) {
            QmlRegistry *const registry = load();
            QVERIFY(registry != nullptr);
            static_cast<void>(registry->latest());
            QPointer<QmlRegistry> alive(registry);
            std::atomic<bool> stop{false};
            std::thread writer([sender = registry->sender(), &stop] {
                for (int i = 0; i < kPerWriter && !stop.load(); ++i)
                    sender.notify(QVariant(i));
            });
            QTRY_VERIFY(registry->latest().isValid());
            if (round == 0)
                delete registry; // its window stays
            else
                cleanup(); // window, registry and engine
            QCoreApplication::processEvents();
            stop.store(true);
            writer.join();
            QCoreApplication::processEvents();
            QVERIFY(alive.isNull());
            if (m_window != nullptr) {
                m_window->update(); // a frame after the registry went
                QTest::qWait(0);
            }
            cleanup();
        }
    }
};

QTEST_MAIN(TestQmlLatestFrames)
#include "tst_qml_latest_frames.moc"
