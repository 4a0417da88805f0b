// C++ worker threads notify a QmlRegistry that a C++ object exposes as a property: QML handlers
// run on the engine's thread, in priority order, coalesced on request; senders outlive registries.

#include "qml_test_support.h"

#include <registryio/qml_registry.h>
#include <registryio/registry_handler.h>

#include <QPointer>
#include <QSignalSpy>
#include <QTest>
#include <QThread>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

using rio::QmlRegistry;
using rio::test::eval;

namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kEvents = 200;
constexpr int kRounds = 40;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
constexpr int kEvents = 200;
constexpr int kRounds = 40;
#else
constexpr int kEvents = 1000;
constexpr int kRounds = 200;
#endif
#else
constexpr int kEvents = 1000;
constexpr int kRounds = 200;
#endif

} // namespace

/// A C++ object that exposes a QmlRegistry to QML and records what QML handlers receive.
class Source : public QObject
{
    Q_OBJECT
    Q_PROPERTY(rio::QmlRegistry *registry READ registry CONSTANT)

public:
    struct Entry
    {
        QString tag;
        int value;
    };

    rio::QmlRegistry *registry() { return &m_registry; }

    Q_INVOKABLE void record(const QString &tag, const QVariant &event)
    {
        if (QThread::currentThread() != thread())
            wrongThread.fetch_add(1);
        std::lock_guard lock(mutex);
        entries.push_back({tag, event.toInt()});
    }

    std::vector<Entry> take(const QString &tag)
    {
        std::lock_guard lock(mutex);
        std::vector<Entry> out;
        for (const Entry &e : entries)
            if (e.tag == tag)
                out.push_back(e);
        return out;
    }

    std::size_t size()
    {
        std::lock_guard lock(mutex);
        return entries.size();
    }

    std::mutex mutex;
    std::vector<Entry> entries;
    std::atomic<int> wrongThread{0};

private:
    rio::QmlRegistry m_registry;
};

class TestQmlThreads : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QQmlEngine> m_engine;
    std::unique_ptr<Source> m_source;
    std::unique_ptr<QObject> m_root;

    void load(bool withCoalesced)
    {
        m_engine = rio::test::makeEngine();
        m_source = std::make_unique<Source>();
        m_root = rio::test::load(*m_engine, QStringLiteral("threads.qml"),
                                 {{QStringLiteral("source"), QVariant::fromValue<QObject *>(m_source.get())},
                                  {QStringLiteral("withCoalesced"), withCoalesced}});
    }

private Q_SLOTS:
    void cleanup()
    {
        m_root.reset();
        m_engine.reset();
        m_source.reset();
    }

    void workerNotifiesRunOnTheEngineThreadInPriorityOrder()
    {
        load(false);
        QVERIFY(m_root);
        QCOMPARE(m_source->registry()->count(), 2);
        std::thread worker([registry = m_source->registry()] {
            for (int i = 0; i < kEvents; ++i)
                registry->notify(i);
        });
        worker.join();
        QTRY_COMPARE(m_source->size(), std::size_t(2 * kEvents));
        QCOMPARE(m_source->wrongThread.load(), 0);
        std::lock_guard lock(m_source->mutex);
        for (int i = 0; i < kEvents; ++i) {
            QCOMPARE(m_source->entries[2 * i].tag, QStringLiteral("high"));
            QCOMPARE(m_source->entries[2 * i].value, i);
            QCOMPARE(m_source->entries[2 * i + 1].tag, QStringLiteral("low"));
            QCOMPARE(m_source->entries[2 * i + 1].value, i);
        }
    }

    void coalescedHandlersGetTheNewestEventOnly()
    {
        load(true);
        QVERIFY(m_root);
        QCOMPARE(m_source->registry()->count(), 4);
        // The engine thread is blocked in join() while the worker notifies, so every event is
        // pending at once: coalesced handlers must run once, with the last one.
        std::thread worker([registry = m_source->registry()] {
            for (int i = 1; i <= kEvents; ++i)
                registry->notify(i);
        });
        worker.join();
        QTRY_COMPARE(m_source->take(QStringLiteral("low")).size(), std::size_t(kEvents));
        QCOMPARE(m_source->take(QStringLiteral("high")).size(), std::size_t(kEvents));
        for (const char *tag : {"latest", "js"}) {
            const auto got = m_source->take(QString::fromLatin1(tag));
            QCOMPARE(got.size(), std::size_t(1));
            QCOMPARE(got.front().value, kEvents);
        }
        QCOMPARE(m_source->wrongThread.load(), 0);
    }

    void senderFromAWorkerOutlivesAQmlOwnedRegistry()
    {
        load(false);
        QVERIFY(m_root);
        QPointer<QmlRegistry> dynamic =
            eval(m_root.get(),
                 QStringLiteral("Qt.createQmlObject('import RegistryIO; QmlRegistry {}', root)"))
                .value<QmlRegistry *>();
        QVERIFY(dynamic);
        std::atomic<int> delivered{0};
        dynamic->registry().add(dynamic, [&delivered](const QVariant &) { delivered.fetch_add(1); });
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral(
                                               "QmlRegistrySender::notify: the QmlRegistry was destroyed")));
        std::atomic<int> accepted{0};
        std::thread worker([sender = dynamic->sender(), &accepted] {
            while (sender.notify(1))
                accepted.fetch_add(1);
            sender.notify(2); // quiet: warned once already
        });
        QTRY_VERIFY(delivered.load() >= 10);
        delete dynamic.data();
        worker.join();
        QVERIFY(accepted.load() >= delivered.load());
    }

    void handlersDestroyedWithDeliveriesQueuedNeverRun()
    {
        load(false);
        QVERIFY(m_root);
        auto *dynamic = qobject_cast<rio::RegistryHandler *>(
            eval(m_root.get(),
                 QStringLiteral("dynamicHandler.createObject(root, { registry: source.registry })"))
                .value<QObject *>());
        QObject *handle = eval(m_root.get(), QStringLiteral("addTransient()")).value<QObject *>();
        QVERIFY(dynamic && handle);
        // Deliveries for every handler wait in the engine thread's queue...
        std::thread worker([registry = m_source->registry()] {
            for (int i = 0; i < 10; ++i)
                registry->notify(i);
        });
        worker.join();
        // ...when the handle is removed and then destroyed, and the item re-registers and dies.
        QVERIFY(rio::test::call(*m_engine, handle, QStringLiteral("remove")).toBool());
        delete handle;
        dynamic->setPriority(3);
        delete dynamic;
        QTRY_COMPARE(m_source->take(QStringLiteral("low")).size(), std::size_t(10));
        QCOMPARE(m_source->take(QStringLiteral("high")).size(), std::size_t(10));
        QVERIFY(m_source->take(QStringLiteral("transient")).empty());
        QVERIFY(m_source->take(QStringLiteral("dynamic")).empty());
        QCOMPARE(m_source->registry()->count(), 2);
    }

    void handlersComeAndGoWhileAWorkerNotifies()
    {
        load(false);
        QVERIFY(m_root);
        std::atomic<bool> stop{false};
        std::atomic<int> sent{0};
        std::thread worker([sender = m_source->registry()->sender(), &stop, &sent] {
            while (!stop.load()) {
                sender.notify(sent.load());
                sent.fetch_add(1);
                std::this_thread::yield();
            }
        });
        for (int round = 0; round < kRounds; ++round) {
            QObject *dynamic =
                eval(m_root.get(),
                     QStringLiteral("dynamicHandler.createObject(root, { registry: source.registry })"))
                    .value<QObject *>();
            QVERIFY(dynamic);
            QObject *handle = eval(m_root.get(), QStringLiteral("addTransient()")).value<QObject *>();
            QVERIFY(handle);
            QCoreApplication::processEvents();
            delete dynamic;
            rio::test::call(*m_engine, handle, QStringLiteral("destroy"));
            QCoreApplication::processEvents();
        }
        stop.store(true);
        worker.join();
        QTRY_COMPARE(m_source->registry()->count(), 2);
        QCoreApplication::processEvents();
        QCOMPARE(m_source->wrongThread.load(), 0);
        // Each handler saw the worker's events in the order they were sent.
        for (const char *tag : {"high", "low"}) {
            const auto got = m_source->take(QString::fromLatin1(tag));
            QVERIFY(!got.empty());
            for (std::size_t i = 1; i < got.size(); ++i)
                QVERIFY(got[i - 1].value < got[i].value);
        }
    }
};

QTEST_MAIN(TestQmlThreads)
#include "tst_qml_threads.moc"
