// SPDX-License-Identifier: MIT
// RegistryIO::Remote with threads and lifetimes, in one process (source and subscribers on local
// sockets), so that ThreadSanitizer and AddressSanitizer run it: QProcess and TSan do not mix.
#include "remote_payload.h"

#include <registryio/qt/qt_registry.h>
#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_registry.h>
#include <registryio/remote/remote_share.h>

#include <QCoreApplication>
#include <QEventLoop>
#include <QRemoteObjectHost>
#include <QRemoteObjectNode>
#include <QScopeGuard>
#include <QTest>
#include <QThread>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>
#include <vector>

namespace {

constexpr int Deadline = 30000; // ms: the longest any single observation may take

QString uniqueLocalUrl()
{
    static int counter = 0;
    return QStringLiteral("local:rio-remote-threads-%1-%2")
        .arg(QCoreApplication::applicationPid())
        .arg(++counter);
}

// An in-process source: host, listener, registry, share.
struct LocalSource
{
    QRemoteObjectHost host;
    rio::RemoteListener *listener = new rio::RemoteListener(&host);
    rio::QtRegistry<Payload> registry;
    std::unique_ptr<rio::RemoteShare<Payload>> share;

    explicit LocalSource(const QString &url)
    {
        if (listener->listen(QUrl(url)))
            share = std::make_unique<rio::RemoteShare<Payload>>(&host, QStringLiteral("orders"), registry);
    }
    QString address() const { return listener->address().toString(); }
};

} // namespace

class tst_RemoteThreads : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // Qt Remote Objects deletes a node's connections with deleteLater(): run those deletions
    // before the next test (and before exit, so LeakSanitizer sees them done).
    void cleanup() { QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete); }
    void subscriberHandlersKeepEveryLocalOption();
    void notifiesFromManyThreadsOnBothSides();
    void listenerDestroyedBeforeTheHost();
    void blockedSendersOnManyThreadsWakeWhenTheShareGoes();
};

// On a subscriber, handlers run as local ones do: on their context's thread, coalesced with Latest,
// bounded with a capacity (drops counted by the registry).
void tst_RemoteThreads::subscriberHandlersKeepEveryLocalOption()
{
    LocalSource source(uniqueLocalUrl());
    QVERIFY(source.share);
    QRemoteObjectNode node;
    QVERIFY(rio::connectToSource(&node, QUrl(source.address())));
    rio::RemoteRegistry<Payload> registry(&node, QStringLiteral("orders"));

    QThread worker;
    QObject workerContext;
    workerContext.moveToThread(&worker);
    worker.start();
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    const auto cleanup = qScopeGuard([&] {
        try {
            release.set_value();
        } catch (...) {
        }
        worker.quit();
        worker.wait();
    });

    constexpr qint64 N = 1000;
    std::atomic<qint64> direct{0};
    std::atomic<bool> wrongThread{false};
    std::atomic<qint64> bounded{0};
    qint64 latestLast = 0;
    int latestCalls = 0;
    registry.add(this, [&](const Payload &) { ++direct; });
    registry.add(this,
                 [&](const Payload &p) {
                     ++latestCalls;
                     latestLast = p.seq;
                 },
                 {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
    // The first delivery holds the worker (a latch, released below): the rest wait, bounded.
    const rio::HandlerId boundedId = registry.add(
        &workerContext,
        [&](const Payload &) {
            if (QThread::currentThread() != &worker)
                wrongThread = true;
            if (bounded.fetch_add(1) == 0)
                released.wait();
        },
        {.connection = Qt::QueuedConnection, .capacity = 10, .overflow = rio::Overflow::DropNewest});

    QTRY_COMPARE_WITH_TIMEOUT(registry.state(), rio::RemoteSubscriber::State::Connected, Deadline);
    for (qint64 seq = 1; seq <= N; ++seq)
        source.registry.notify(Payload{seq, {}});
    QTRY_COMPARE_WITH_TIMEOUT(direct.load(), N, Deadline);
    QTRY_COMPARE_WITH_TIMEOUT(latestLast, N, Deadline);
    QVERIFY(latestCalls <= N);
    const quint64 dropped = registry.droppedCount(boundedId);
    // Bounded: far fewer than N ran or wait (the facade's exact count of a blocked drain's batch
    // is its own contract, tested in tests/qt; here, what crossed the wire is bounded as locally).
    QVERIFY2(dropped >= quint64(N - 21), QByteArray::number(dropped));
    release.set_value();
    QTRY_COMPARE_WITH_TIMEOUT(quint64(bounded.load()) + dropped, quint64(N), Deadline);
    QVERIFY(bounded.load() <= 21);
    QVERIFY(!wrongThread);
}

// Notifies from several threads at once on the source and on a subscriber: every event crosses
// once to every side, nothing races.
void tst_RemoteThreads::notifiesFromManyThreadsOnBothSides()
{
    LocalSource source(uniqueLocalUrl());
    QVERIFY(source.share);
    std::atomic<qint64> atSource{0};
    source.registry.add(this, [&](const Payload &) { ++atSource; }, {.connection = Qt::DirectConnection});
    QRemoteObjectNode otherNode;
    QVERIFY(rio::connectToSource(&otherNode, QUrl(source.address())));
    rio::RemoteRegistry<Payload> other(&otherNode, QStringLiteral("orders"));
    std::atomic<qint64> atOther{0};
    other.add(this, [&](const Payload &) { ++atOther; }, {.connection = Qt::DirectConnection});
    QTRY_COMPARE_WITH_TIMEOUT(other.state(), rio::RemoteSubscriber::State::Connected, Deadline);

    QRemoteObjectNode node;
    QVERIFY(rio::connectToSource(&node, QUrl(source.address())));
    rio::RemoteRegistry<Payload> local(&node, QStringLiteral("orders"));
    std::atomic<qint64> atLocal{0};
    local.add(this, [&](const Payload &) { ++atLocal; }, {.connection = Qt::DirectConnection});
    QTRY_COMPARE_WITH_TIMEOUT(local.state(), rio::RemoteSubscriber::State::Connected, Deadline);

    constexpr int Threads = 4;
    constexpr int PerThread = 500;
    std::vector<std::thread> threads;
    for (int t = 0; t < Threads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < PerThread; ++i) {
                if (t % 2 == 0)
                    source.registry.notify(Payload{t * PerThread + i, {}});
                else
                    local.notify(Payload{t * PerThread + i, {}});
            }
        });
    }
    for (auto &thread : threads)
        thread.join();
    constexpr qint64 Total = Threads * PerThread;
    QTRY_COMPARE_WITH_TIMEOUT(atSource.load(), Total, Deadline);
    QTRY_COMPARE_WITH_TIMEOUT(atLocal.load(), Total, Deadline);
    QTRY_COMPARE_WITH_TIMEOUT(atOther.load(), Total, Deadline);
    QCOMPARE(local.link()->droppedWhileDisconnected(), quint64(0));
}

// The listener goes first while the host and the share live on: the host must not write to the
// listener's (deleted) sockets afterwards, and the subscriber sees the source go.
void tst_RemoteThreads::listenerDestroyedBeforeTheHost()
{
    QRemoteObjectHost host;
    auto *listener = new rio::RemoteListener(&host);
    QVERIFY(listener->listen(QUrl(uniqueLocalUrl())));
    rio::QtRegistry<Payload> registry;
    rio::RemoteShare<Payload> share(&host, QStringLiteral("orders"), registry);
    QVERIFY(share.isShared());
    QRemoteObjectNode node;
    QVERIFY(rio::connectToSource(&node, listener->address()));
    rio::RemoteRegistry<Payload> subscriber(&node, QStringLiteral("orders"));
    QTRY_COMPARE_WITH_TIMEOUT(subscriber.state(), rio::RemoteSubscriber::State::Connected, Deadline);

    delete listener;
    for (qint64 seq = 1; seq <= 100; ++seq)
        registry.notify(Payload{seq, QByteArray(64, 'x')});
    QTRY_COMPARE_WITH_TIMEOUT(subscriber.state(), rio::RemoteSubscriber::State::Reconnecting, Deadline);
    registry.notify(Payload{101, {}});
    QTRY_COMPARE_WITH_TIMEOUT(share.base()->pendingCount(), std::size_t(0), Deadline);
}

// Overflow::Block with a subscriber whose thread is blocked (its node reads nothing): senders on
// three threads fill its backlog and wait (for ten minutes, were nothing to wake them); destroying
// the share wakes every one of them, and they return.
void tst_RemoteThreads::blockedSendersOnManyThreadsWakeWhenTheShareGoes()
{
    QRemoteObjectHost host;
    auto *listener = new rio::RemoteListener(&host);
    QVERIFY(listener->listen(QUrl(uniqueLocalUrl())));
    rio::QtRegistry<Payload> registry;
    constexpr std::size_t Capacity = 8;
    auto share = std::make_unique<rio::RemoteShare<Payload>>(
        &host, QStringLiteral("orders"), registry,
        rio::RemoteShareOptions{.capacity = Capacity,
                                .overflow = rio::Overflow::Block,
                                .blockTimeout = std::chrono::minutes(10)});
    QVERIFY(share->isShared());

    // The subscriber lives on a thread of its own, whose event loop the test blocks: it is made,
    // run and destroyed there, and the threads talk through atomics and promises only.
    const QString address = listener->address().toString();
    std::atomic<bool> stall{false};
    std::promise<void> blocked;
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    // Releases the subscriber's thread, once, from the test's end or a guard.
    const auto releaseSubscriber = [&] {
        if (released.wait_for(std::chrono::seconds(0)) != std::future_status::ready)
            release.set_value();
    };
    std::thread subscriberThread([&] {
        {
            QEventLoop loop;
            QRemoteObjectNode node;
            rio::connectToSource(&node, QUrl(address));
            rio::RemoteRegistry<Payload> subscriber(&node, QStringLiteral("orders"));
            while (!stall.load())
                loop.processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 10);
            blocked.set_value();
            released.wait(); // the stalled subscriber: its thread reads nothing until released
        }
        QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
    });
    const auto cleanup = qScopeGuard([&] {
        stall.store(true);
        releaseSubscriber();
        subscriberThread.join();
    });
    QTRY_VERIFY_WITH_TIMEOUT(
        share->base()->subscriberCount() == 1 && share->base()->subscribers().value(0).receiving, Deadline);
    stall.store(true);
    QCOMPARE(blocked.get_future().wait_for(std::chrono::milliseconds(Deadline)), std::future_status::ready);

    constexpr int Threads = 3;
    constexpr qint64 PerThread = 2000;
    std::vector<std::future<void>> senders;
    for (int t = 0; t < Threads; ++t) {
        senders.push_back(std::async(std::launch::async, [&registry, t] {
            const QByteArray blob(4096, 'x');
            for (qint64 i = 0; i < PerThread; ++i)
                registry.notify(Payload{t * PerThread + i, blob});
        }));
    }
    // Declared after the senders, so it runs before their futures wait for them: a failed check
    // below ends the test at once (the share's destruction wakes the senders, then the
    // subscriber reads again) instead of leaving them waiting out blockTimeout for every event.
    const auto wakeSenders = qScopeGuard([&] {
        share.reset();
        releaseSubscriber();
    });
    // The connection's buffer fills, then the backlog: the senders wait.
    QTRY_COMPARE_WITH_TIMEOUT(share->base()->pendingCount(), Capacity, Deadline);
    QCOMPARE(senders.front().wait_for(std::chrono::seconds(0)), std::future_status::timeout);
    share.reset();
    for (auto &sender : senders)
        QCOMPARE(sender.wait_for(std::chrono::milliseconds(Deadline)), std::future_status::ready);
    releaseSubscriber();
}

QTEST_GUILESS_MAIN(tst_RemoteThreads)
#include "tst_remote_threads.moc"
