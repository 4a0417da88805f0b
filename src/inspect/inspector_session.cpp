// SPDX-License-Identifier: MIT
#include "inspector_session.h"

#include "inspect_client.h"
#include "inspect_protocol.h"

#include <registryio/qt/logging.h>

#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QScopeGuard>
#include <QtQml/qqml.h>
#include <QtQml/qqmlinfo.h>

#include <algorithm>
#include <map>
#include <new>
#include <utility>
#include <vector>

namespace rio::inspect {

namespace {

// A run in a frame of the timeline, and a frame of the main thread with its runs.
struct Run
{
    double start;
    double duration;
    QString name;
    bool slow;
};
struct Frame
{
    double start = 0;
    double duration = 0;
    QList<Run> runs;
    bool slow = false;
};

// A trace event's handler, as `file:line` (the file's name).
QString whereOf(const QJsonObject &args)
{
    return QStringLiteral("%1:%2")
        .arg(QFileInfo(args[QStringLiteral("file")].toString()).fileName())
        .arg(args[QStringLiteral("line")].toInt());
}

// Every thread's slow runs and stalls in `events`, newest first, as text.
QStringList slowRunsOf(const QJsonArray &events)
{
    std::vector<std::pair<double, QString>> slow; // by start
    for (const QJsonValue v : events) {
        const QJsonObject e = v.toObject();
        const QString cat = e[QStringLiteral("cat")].toString();
        if (cat != QLatin1String("slow") && cat != QLatin1String("stall"))
            continue;
        const QJsonObject args = e[QStringLiteral("args")].toObject();
        slow.emplace_back(
            e[QStringLiteral("ts")].toDouble(),
            QStringLiteral("%1 %2 %3 ms in frame %4 on %5")
                .arg(cat, whereOf(args),
                     QString::number(args[QStringLiteral("elapsedNs")].toDouble() / 1e6, 'f', 1))
                .arg(args[QStringLiteral("frame")].toInteger())
                .arg(args[QStringLiteral("thread")].toString()));
    }
    std::sort(slow.begin(), slow.end(), [](const auto &a, const auto &b) { return a.first > b.first; });
    QStringList text;
    for (auto &[start, line] : slow)
        text.append(std::move(line));
    return text;
}

// The main thread's frames in `events` (its turns), by number, with the runs and slow runs in each.
std::map<qint64, Frame> framesOf(const QJsonArray &events)
{
    std::map<qint64, Frame> frames;
    qint64 mainTid = -1;
    for (const QJsonValue v : events) {
        const QJsonObject e = v.toObject();
        if (e[QStringLiteral("cat")].toString() != QLatin1String("frame"))
            continue;
        Frame &f = frames[e[QStringLiteral("args")][QStringLiteral("frame")].toInteger()];
        f.start = e[QStringLiteral("ts")].toDouble();
        f.duration = e[QStringLiteral("dur")].toDouble();
        mainTid = e[QStringLiteral("tid")].toInteger();
    }
    for (const QJsonValue v : events) {
        const QJsonObject e = v.toObject();
        const QString cat = e[QStringLiteral("cat")].toString();
        const bool isSlow = cat == QLatin1String("slow");
        if ((cat != QLatin1String("handler") && !isSlow) || e[QStringLiteral("tid")].toInteger() != mainTid)
            continue;
        const QJsonObject args = e[QStringLiteral("args")].toObject();
        const auto f = frames.find(args[QStringLiteral("frame")].toInteger());
        if (f == frames.end())
            continue;
        f->second.runs.append(
            {e[QStringLiteral("ts")].toDouble(), e[QStringLiteral("dur")].toDouble(), whereOf(args), isSlow});
        f->second.slow = f->second.slow || isSlow;
    }
    return frames;
}

// A frame's runs as the window shows them: the slow ones, then the longest, runsShown at most, in
// their order; times from the frame's start.
QVariantList shownRuns(const Frame &frame)
{
    QList<Run> kept = frame.runs;
    if (kept.size() > InspectorSession::runsShown) {
        std::partial_sort(
            kept.begin(), kept.begin() + InspectorSession::runsShown, kept.end(),
            [](const Run &a, const Run &b) { return a.slow != b.slow ? a.slow : a.duration > b.duration; });
        kept.resize(InspectorSession::runsShown);
        std::sort(kept.begin(), kept.end(), [](const Run &a, const Run &b) { return a.start < b.start; });
    }
    QVariantList runs;
    for (const Run &r : std::as_const(kept))
        runs.append(QVariantMap{{QStringLiteral("start"), r.start - frame.start},
                                {QStringLiteral("duration"), r.duration},
                                {QStringLiteral("name"), r.name},
                                {QStringLiteral("slow"), r.slow}});
    return runs;
}

// The newest framesShown frames, by start, as the window shows them; `span` their span.
QVariantList shownFrames(const std::map<qint64, Frame> &frames, double &span)
{
    std::vector<std::pair<qint64, const Frame *>> newest;
    newest.reserve(frames.size());
    for (const auto &[number, frame] : frames)
        newest.emplace_back(number, &frame);
    std::sort(newest.begin(), newest.end(),
              [](const auto &a, const auto &b) { return a.second->start < b.second->start; });
    if (newest.size() > InspectorSession::framesShown)
        newest.erase(newest.begin(), newest.end() - InspectorSession::framesShown);
    QVariantList shown;
    span = 0;
    const double origin = newest.empty() ? 0 : newest.front().second->start;
    for (const auto &[number, frame] : newest) {
        shown.append(QVariantMap{{QStringLiteral("frame"), number},
                                 {QStringLiteral("start"), frame->start - origin},
                                 {QStringLiteral("duration"), frame->duration},
                                 {QStringLiteral("slow"), frame->slow},
                                 {QStringLiteral("runs"), shownRuns(*frame)}});
        span = std::max(span, frame->start - origin + frame->duration);
    }
    return shown;
}

} // namespace

InspectorSession::InspectorSession(QObject *parent) : QObject(parent)
{
    m_silence.setSingleShot(true);
    connect(&m_silence, &QTimer::timeout, this, &InspectorSession::silent);
    connect(&m_rescan, &QTimer::timeout, this, &InspectorSession::rescan);
    m_rescan.start(2000);
    rescan();
    setState(Detached, {});
}

InspectorSession::~InspectorSession()
{
    release();
}

void InspectorSession::setModel(QObject *model)
{
    auto *m = qobject_cast<DiagnosticsModel *>(model);
    if (model != nullptr && m == nullptr) {
        qmlWarning(this)
            << "InspectorSession: model must be a DiagnosticsModel (a RegistryInspector's model)";
        return;
    }
    if (m == m_model)
        return;
    if (m_model)
        disconnect(m_model, nullptr, this, nullptr);
    m_model = m;
    if (m_model) {
        m_model->setSnapshot({}); // never this process's own handlers
        connect(m_model, &DiagnosticsModel::refreshed, this, &InspectorSession::shown);
    }
    Q_EMIT modelChanged();
}

void InspectorSession::rescan()
{
    QVariantList applications;
    for (const Served &a : servedApplications())
        applications.append(QVariantMap{{QStringLiteral("name"), a.name},
                                        {QStringLiteral("pid"), a.pid},
                                        {QStringLiteral("program"), a.program}});
    if (applications == m_applications)
        return;
    m_applications = applications;
    Q_EMIT applicationsChanged();
    if (m_state == Detached && m_target.isEmpty())
        setState(Detached, {}); // the message about the list
}

void InspectorSession::setState(State state, const QString &message)
{
    m_state = state;
    m_message = message;
    m_rowsMissing = false;
    if (state == Detached && message.isEmpty())
        m_message =
            m_applications.isEmpty()
                ? QStringLiteral("No application serves its diagnostics: start one with RIO_INSPECT=1 "
                                 "(no rebuild, no change to its code).")
                : QStringLiteral("Choose an application to attach to.");
    Q_EMIT stateChanged();
}

bool InspectorSession::attach(const QString &name)
{
    release();
    if (m_model)
        m_model->setSnapshot({}); // nothing of an application attached to before
    clearTimeline();
    m_target = name.trimmed();
    if (m_target.startsWith(QLatin1String("local:")))
        m_target.remove(0, 6); // the socket's name alone
    m_pin = std::make_unique<Pin>(m_target);
    if (const QString problem = m_pin->problem(); !problem.isEmpty()) {
        release();
        m_target.clear();
        setState(Detached, problem[0].toUpper() + problem.mid(1) + QLatin1Char('.'));
        return false;
    }
    const quint64 attachment = ++m_attachment;
    m_pages = {};
    m_node = std::make_unique<QRemoteObjectNode>();
    if (!connectToSource(m_node.get(), m_pin->url())) { // every connection reaches that socket alone
        release();
        m_target.clear();
        setState(Detached, QStringLiteral("Cannot connect to %1.").arg(name));
        return false;
    }
    // Direct: run as the node's thread (this one) receives them, so that none waits in a queue
    // when the registry goes at a detach.
    m_snapshots = std::make_unique<RemoteRegistry<QByteArray>>(m_node.get(), snapshotShare);
    m_snapshots->add(this, [this, attachment](const QByteArray &bytes) { received(attachment, bytes); },
                     {.connection = Qt::DirectConnection});
    // Queued: the link is released here, never while it emits.
    connect(
        m_snapshots->link(), &RemoteSubscriber::stateChanged, this,
        [this, attachment](RemoteSubscriber::State state) {
            if (attachment == m_attachment && state == RemoteSubscriber::State::Reconnecting)
                lost();
        },
        Qt::QueuedConnection);
    subscribeTimeline();
    m_since.start();
    m_shown = false;
    m_silence.start(m_timeoutMs);
    setState(Attaching, QStringLiteral("Attaching to %1…").arg(m_target));
    return true;
}

void InspectorSession::detach()
{
    const QString was = m_target;
    release();
    m_target.clear();
    if (m_model)
        m_model->setSnapshot({});
    clearTimeline();
    setState(Detached, was.isEmpty() ? QString() : QStringLiteral("Detached from %1; it goes on.").arg(was));
}

void InspectorSession::clearTimeline()
{
    m_frames.clear();
    m_slowRuns.clear();
    m_span = 0;
    Q_EMIT timelineChanged();
}

// Unsubscribes and disconnects; the rows shown stay.
void InspectorSession::release()
{
    ++m_attachment;
    m_waiting = {};
    m_silence.stop();
    m_timeline.reset();
    m_snapshots.reset();
    m_node.reset();
    m_pin.reset();
}

void InspectorSession::setTimelineShown(bool shown)
{
    if (shown == m_timelineShown)
        return;
    m_timelineShown = shown;
    if (shown)
        subscribeTimeline();
    else
        m_timeline.reset(); // the application makes no timeline for nobody
    Q_EMIT timelineShownChanged();
}

void InspectorSession::subscribeTimeline()
{
    if (!m_timelineShown || !m_node || m_timeline)
        return;
    const quint64 attachment = m_attachment;
    m_timeline = std::make_unique<RemoteRegistry<QByteArray>>(m_node.get(), timelineShare);
    m_timeline->add(this,
                    [this, attachment](const QByteArray &bytes) { receivedTimeline(attachment, bytes); },
                    {.connection = Qt::DirectConnection});
}

void InspectorSession::received(quint64 attachment, const QByteArray &page)
{
    if (attachment != m_attachment)
        return; // of an attachment released since
    m_silence.start(m_timeoutMs);
    QByteArray bytes;
    const bool whole = m_pages.add(page, bytes);
    if (m_pages.stalled()) {
        setState(Lost, QStringLiteral("%1 sends pages of snapshots but no whole one: pages were dropped "
                                      "(an application serving several inspectors at once drops pages "
                                      "past its backlog budget), or it begins them again and again.")
                           .arg(m_target));
        return;
    }
    if (!whole && !m_pages.corrupt())
        return; // more pages to come
    if (whole && m_modelBusy) {
        m_waiting = std::move(bytes); // read once the model made the rows of the last one given
        return;
    }
    read(bytes);
}

// Decodes a whole snapshot (none: a page that was not one) and gives it to the model.
void InspectorSession::read(const QByteArray &bytes)
{
    QList<RegistryInfo> registries;
    bool read = false;
    try {
        read = !bytes.isEmpty() && decodeSnapshot(bytes, registries);
    } catch (const std::bad_alloc &) {
        setState(Lost, QStringLiteral("%1 sent a snapshot of %2 MB: this inspector has not the memory to "
                                      "read it (the table shows its last snapshot).")
                           .arg(m_target)
                           .arg(double(bytes.size()) / 1e6, 0, 'f', 1));
        return;
    }
    if (!read) {
        setState(Lost, QStringLiteral("%1 sends snapshots this inspector cannot read (another "
                                      "RegistryIO version?).")
                           .arg(m_target));
        return;
    }
    qsizetype handlers = 0;
    for (const RegistryInfo &r : std::as_const(registries))
        handlers += r.handlers.size();
    const qint64 pid = pidOf(m_target);
    const QString who = pid != 0 ? QStringLiteral("%1 (pid %2)").arg(m_target).arg(pid) : m_target;
    QString message = registries.isEmpty() ? QStringLiteral("Attached to %1: it has no registry.").arg(who)
                                           : QStringLiteral("Attached to %1: %2 handlers in %3 registries.")
                                                 .arg(who)
                                                 .arg(handlers)
                                                 .arg(registries.size());
    if (m_model) {
        m_model->setSnapshot(std::move(registries));
        m_modelBusy = true;
    }
    m_attached = message;
    if (m_rowsMissing)
        return; // said until the model shows a snapshot's rows (shown())
    if (m_state != Attached || message != m_message)
        setState(Attached, message);
}

// The model made the rows of a snapshot, or ran out of memory making them (its worker catches
// it). The first time they show, how long that took.
void InspectorSession::shown()
{
    // The newest snapshot that came meanwhile is read now: at most one snapshot waits for the model,
    // as its bytes, and the model holds one given (not one given, one being made rows of and one
    // more given meanwhile, which re-sent snapshots of 131,072 handlers took to twice the memory).
    m_modelBusy = false;
    const QByteArray waiting = std::exchange(m_waiting, {});
    const auto next = qScopeGuard([&] {
        if (!waiting.isEmpty())
            read(waiting);
    });
    if (m_model->isOutOfMemory()) {
        if (m_state == Attached && waiting.isEmpty()) { // not said of the one read next
            setState(Lost, QStringLiteral("%1 sent a snapshot this inspector has not the memory to show "
                                          "(making its rows ran out); the table shows an older one.")
                               .arg(m_target));
            m_rowsMissing = true;
        }
        return;
    }
    if (m_rowsMissing && m_state == Lost)
        setState(Attached, m_attached);
    if (m_state == Attached && !m_shown && m_model->rowCount() > 0) {
        m_shown = true;
        qCInfo(rio::lcDiagnostics, "attached to %s: its table shown %lld ms after the attach",
               qPrintable(m_target), static_cast<long long>(m_since.elapsed()));
    }
}

// The link went, or nothing came for the wait: the application ended, stopped serving, left its
// name to another socket (which is never connected to), or it stopped answering.
void InspectorSession::lost()
{
    const qint64 pid = pidOf(m_target);
    const QString why = hasEnded(pid) ? QStringLiteral("ended (pid %1)").arg(pid)
                        : m_pin       ? m_pin->changed()
                                      : QString();
    if (!why.isEmpty()) {
        release();
        setState(Lost, QStringLiteral("%1 %2; the table shows its last snapshot.").arg(m_target, why));
        return;
    }
    m_silence.start(m_timeoutMs); // looked at again then
    setState(Lost, QStringLiteral("%1 stopped answering; reconnecting (the table shows its last snapshot).")
                       .arg(m_target));
}

void InspectorSession::silent()
{
    if (m_state == Attaching) {
        release();
        const QString target = std::exchange(m_target, {});
        setState(Detached,
                 QStringLiteral("Nothing from %1 in %2 s: it does not serve RegistryIO diagnostics.")
                     .arg(target)
                     .arg(m_timeoutMs / 1000));
        return;
    }
    lost(); // an application whose end was not known when the link went (not reaped yet) is now
}

void InspectorSession::receivedTimeline(quint64 attachment, const QByteArray &bytes)
{
    if (attachment != m_attachment)
        return;
    QJsonArray events; // none of bytes that are no timeline, or a larger one than is read
    readTimeline(bytes, events);
    m_slowRuns = slowRunsOf(events);
    m_frames = shownFrames(framesOf(events), m_span);
    Q_EMIT timelineChanged();
}

void registerInspectorTypes()
{
    qmlRegisterType<InspectorSession>("RegistryIO.Inspector", 1, 0, "InspectorSession");
}

} // namespace rio::inspect
