// SPDX-License-Identifier: MIT
// The serving module Diagnostics::serve loads (RIO_INSPECT): a thread of its own with a Qt Remote
// Objects host, RegistryIO's listener on the URL (local: is the same user only) and two shares
// (inspect_protocol.h). Read-only: the shared registries have no handler of the application's,
// so what a peer notifies reaches nothing of it. Snapshots and their JSON are made on this
// thread only while someone subscribes: the application's threads pay nothing for it.

#include "../qt/src/diagnostics_trace_p.h"
#include "inspect_protocol.h"

#include <registryio/qt/diagnostics.h>
#include <registryio/qt/logging.h>
#include <registryio/qt/qt_registry.h>
#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_share.h>

#include <QCoreApplication>
#include <QHash>
#include <QRemoteObjectHost>
#include <QSet>
#include <QThread>
#include <QTimer>
#include <QUrl>

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>

#include <unistd.h>

namespace {

using namespace rio;

// The most pages a reader's backlog holds: two snapshots of up to 64 MiB (inspect::maxPages, the
// most an inspector reads).
constexpr std::size_t maxPages = 2 * std::size_t(inspect::maxPages);

// Everything lives on the serving thread.
class Server : public QObject
{
public:
    explicit Server(const QUrl &url)
    {
        if (!m_listener->listen(url)) {
            m_error = m_listener->errorString();
            return;
        }
        const RemoteShareOptions latest{.delivery = Delivery::Latest, .retainLatest = true};
        // Every page in order (a snapshot is read whole), at most maxPages waiting for a reader
        // (sendSnapshot waits while one that reads has more); the listener's budgets hold over all.
        const RemoteShareOptions pages{.delivery = Delivery::Every, .capacity = maxPages};
        m_snapshotShare =
            std::make_unique<RemoteShare<QByteArray>>(&m_host, inspect::snapshotShare, m_snapshots, pages);
        m_timelineShare =
            std::make_unique<RemoteShare<QByteArray>>(&m_host, inspect::timelineShare, m_timeline, latest);
        connect(&m_snapshotTimer, &QTimer::timeout, this, &Server::sendSnapshot);
        connect(&m_timelineTimer, &QTimer::timeout, this, &Server::sendTimeline);
        m_pacer.setSingleShot(true);
        m_pacer.setInterval(2);
        connect(&m_pacer, &QTimer::timeout, this, &Server::sendPages);
        // A subscriber gets the newest at once, not at the next tick.
        connect(m_snapshotShare->base(), &RemoteShareBase::subscriberCountChanged, this,
                &Server::sendSnapshot);
        connect(m_timelineShare->base(), &RemoteShareBase::subscriberCountChanged, this,
                &Server::sendTimeline);
        m_snapshotTimer.start(inspect::snapshotIntervalMs);
        m_timelineTimer.start(inspect::timelineIntervalMs);
    }
    [[nodiscard]] QString error() const { return m_error; }

private:
    // Every snapshotIntervalMs while a reader has no whole snapshot unsent, and at a subscriber's
    // arrival (one arrival a tick: the next tick serves the others, whose backlogs are empty). Not
    // while a reader that read since the last tick still has more than one unsent: each send goes
    // to every reader, so a fast one must not pile snapshots onto the slower ones; a reader that
    // read nothing for a tick holds back no other (its backlog is bounded by the share's capacity,
    // the listener drops it past the process's budget).
    void sendSnapshot()
    {
        const QList<RemoteSubscriberInfo> readers = m_snapshotShare->base()->subscribers();
        const bool tick = sender() == &m_snapshotTimer;
        QHash<quint64, quint64> sentAt; // each reader's sent events at this tick
        bool wanted = false;
        bool behind = false;
        for (const RemoteSubscriberInfo &r : readers) {
            wanted = wanted || r.pending < m_lastPages;
            behind = behind || (r.pending > m_lastPages && r.sent != m_sentAtTick.value(r.id, r.sent + 1));
            sentAt.insert(r.id, r.sent);
        }
        if (tick) {
            m_notReading.clear();
            for (const RemoteSubscriberInfo &r : readers)
                if (r.pending > 0 && r.sent == m_sentAtTick.value(r.id, r.sent + 1))
                    m_notReading.insert(r.id);
            m_sentAtTick = std::move(sentAt);
            m_arrivalServed = false;
        }
        if (!wanted || behind || m_next < m_pages.size() || (!tick && std::exchange(m_arrivalServed, true)))
            return;
        QList<RegistryInfo> registries = Diagnostics::snapshot();
        registries.removeIf([this](const RegistryInfo &r) { // the application's alone
            return r.id == m_snapshots.registryId() || r.id == m_timeline.registryId();
        });
        const QList<QByteArray> pages = inspect::pages(++m_serial, inspect::encodeSnapshot(registries));
        // A reader's backlog holds two (the next is sent once it read a page of the last): one
        // larger, the next would drop the first pages of the one it is reading.
        if (static_cast<std::size_t>(pages.size()) > maxPages / 2) {
            if (!std::exchange(m_warnedTooLarge, true))
                qCWarning(lcDiagnostics, "not serving a snapshot of %lld MiB: at most %lld MiB are served",
                          static_cast<long long>((pages.size() * inspect::pageBytes + (1 << 20) - 1) >> 20),
                          static_cast<long long>(maxPages / 2 * inspect::pageBytes >> 20));
            return;
        }
        m_lastPages = static_cast<std::size_t>(pages.size());
        m_pages = pages;
        m_next = 0;
        sendPages();
    }
    // The pages of the snapshot being sent, as the readers take them: at most `window` wait for
    // any reader that read in the last tick's period, so that the backlogs of every reader stay within
    // half the process's backlog budget (past it the listener drops pages, and readers of a
    // large snapshot, many at once, got no whole one). One that read nothing holds back no other.
    void sendPages()
    {
        const QList<RemoteSubscriberInfo> readers = m_snapshotShare->base()->subscribers();
        const qsizetype window =
            std::max<qsizetype>(4, RemoteListener::Options{}.backlogBytesBudget / 2 /
                                       (std::max<qsizetype>(1, readers.size()) * (inspect::pageBytes + 48)));
        std::size_t most = 0;
        for (const RemoteSubscriberInfo &r : readers)
            if (!m_notReading.contains(r.id))
                most = std::max(most, r.pending);
        for (; m_next < m_pages.size() && qsizetype(most) < window; ++most)
            m_snapshots.notify(m_pages[m_next++]);
        if (m_next < m_pages.size())
            m_pacer.start();
        else
            m_pages = {};
    }
    void sendTimeline()
    {
        if (m_timelineShare->base()->subscriberCount() == 0)
            return;
        const QByteArray json = detail::traceJson(std::chrono::seconds(10));
        if (json.size() <= inspect::maxTimelineBytes)
            m_timeline.notify(json);
        else if (!std::exchange(m_warnedTooLarge, true))
            qCWarning(lcDiagnostics, "not serving a timeline of %lld bytes: at most %lld are served",
                      static_cast<long long>(json.size()), static_cast<long long>(inspect::maxTimelineBytes));
    }

    QRemoteObjectHost m_host;
    RemoteListener *m_listener = new RemoteListener(&m_host); // owned by the host
    QtRegistry<QByteArray> m_snapshots;
    QtRegistry<QByteArray> m_timeline;
    // Destroyed before their registries (declared after them).
    std::unique_ptr<RemoteShare<QByteArray>> m_snapshotShare;
    std::unique_ptr<RemoteShare<QByteArray>> m_timelineShare;
    QTimer m_snapshotTimer;
    QTimer m_timelineTimer;
    QString m_error;
    quint64 m_serial = 0;                 // the last snapshot's number
    std::size_t m_lastPages = 1;          // its pages
    bool m_warnedTooLarge = false;        // once, of a snapshot or a timeline too large to serve
    QList<QByteArray> m_pages;            // the snapshot being sent
    qsizetype m_next = 0;                 // its next page to send
    QTimer m_pacer;                       // sends more of it
    bool m_arrivalServed = false;         // an arrival was sent a snapshot since the last tick
    QHash<quint64, quint64> m_sentAtTick; // each reader's sent events at the last tick
    QSet<quint64> m_notReading;           // the readers that read nothing between the last two ticks
};

QThread *thread = nullptr;
Server *server = nullptr;
pid_t servingPid = 0; // the process whose thread `thread` is

// At the application object's end: the server goes on its thread, then the thread. A fork()
// child has its parent's objects but not their thread: it leaves them (waiting would never end).
void stop()
{
    if (thread != nullptr && servingPid != ::getpid()) {
        thread = nullptr;
        server = nullptr;
    }
    if (thread == nullptr)
        return;
    QMetaObject::invokeMethod(thread, [] { // the thread object lives on the serving thread
        delete server;
        server = nullptr;
        QThread::currentThread()->quit();
    });
    thread->wait();
    delete thread;
    thread = nullptr;
}

} // namespace

extern "C" Q_DECL_EXPORT bool rio_inspect_serve(const char *url, char *error, int errorSize)
{
    auto *t = new QThread;
    t->setObjectName(QStringLiteral("rio-inspect"));
    t->start();
    t->moveToThread(t); // its stop runs there
    QString failed;
    QMetaObject::invokeMethod(
        t,
        [&] {
            auto *s = new Server(QUrl(QString::fromUtf8(url)));
            failed = s->error();
            if (failed.isEmpty())
                server = s;
            else
                delete s;
        },
        Qt::BlockingQueuedConnection);
    if (!failed.isEmpty()) {
        t->quit();
        t->wait();
        delete t;
        std::strncpy(error, failed.toUtf8().constData(), static_cast<std::size_t>(errorSize) - 1);
        return false;
    }
    thread = t;
    servingPid = ::getpid();
    qAddPostRoutine(&stop);
    return true;
}
