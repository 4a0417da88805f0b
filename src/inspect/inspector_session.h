// SPDX-License-Identifier: MIT
#pragma once

// The Qt Quick inspector's link to one application (registryio-inspect-gui): the applications
// that serve, and, attached to one, its snapshots shown by the in-app inspector's own model
// (RegistryInspector's DiagnosticsModel, setSnapshot) and its frame timeline.

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include "inspect_client.h"
#include "inspect_protocol.h"

#include <registryio/qt/diagnostics_model.h>
#include <registryio/remote/remote_registry.h>

#include <QElapsedTimer>
#include <QPointer>
#include <QRemoteObjectNode>
#include <QTimer>
#include <QVariantList>

#include <memory>

namespace rio::inspect {

/// Lists the applications that serve, attaches to one and detaches; registered for QML as
/// `InspectorSession` of `RegistryIO.Inspector` (registerInspectorTypes()).
class InspectorSession : public QObject
{
    Q_OBJECT
    /// The applications that serve: `{name, pid, program}` each, by name; rescanned every 2 s.
    Q_PROPERTY(QVariantList applications READ applications NOTIFY applicationsChanged)
    /// The DiagnosticsModel that shows the attached application's handlers (a RegistryInspector's
    /// `model`): it shows none while detached.
    Q_PROPERTY(QObject *model READ model WRITE setModel NOTIFY modelChanged)
    /// Detached, Attaching, Attached or Lost.
    Q_PROPERTY(State state READ state NOTIFY stateChanged)
    /// The application attached to (its socket's name; empty when detached).
    Q_PROPERTY(QString target READ target NOTIFY stateChanged)
    /// What the inspector is doing, or why it is not: one sentence.
    Q_PROPERTY(QString message READ message NOTIFY stateChanged)
    /// Whether the frame timeline is received (only then does the application make it).
    Q_PROPERTY(bool timelineShown READ isTimelineShown WRITE setTimelineShown NOTIFY timelineShownChanged)
    /// The newest frames of the timeline: `{frame, start, duration, slow, runs: [{start, duration,
    /// name, slow}]}` (at most runsShown runs each), times in µs from the first one's start.
    Q_PROPERTY(QVariantList frames READ frames NOTIFY timelineChanged)
    /// The span of `frames` (µs).
    Q_PROPERTY(double timelineSpan READ timelineSpan NOTIFY timelineChanged)
    /// The slow runs and stalls of every thread in the timeline, newest first, as lines of text.
    Q_PROPERTY(QStringList slowRuns READ slowRuns NOTIFY timelineChanged)

public:
    /// The link to the application.
    enum State {
        Detached,  ///< attached to none
        Attaching, ///< connected or connecting, no snapshot yet
        Attached,  ///< its snapshots arrive
        Lost,      ///< it ended or stopped answering, or sent what this inspector cannot read or has not
                   ///< the memory to show (the table keeps its last snapshot)
    };
    Q_ENUM(State)

    /// The newest frames kept in `frames`.
    static constexpr int framesShown = 120;
    /// The most runs of one frame kept in `frames`: its slow ones, then its longest (a frame's bar
    /// is a few pixels wide; each run is an item of the window).
    static constexpr int runsShown = 16;

    /// A session attached to none that lists the applications now.
    explicit InspectorSession(QObject *parent = nullptr);
    ~InspectorSession() override;

    [[nodiscard]] QVariantList applications() const { return m_applications; }
    [[nodiscard]] QObject *model() const { return m_model; }
    void setModel(QObject *model);
    [[nodiscard]] State state() const noexcept { return m_state; }
    [[nodiscard]] QString target() const { return m_target; }
    [[nodiscard]] QString message() const { return m_message; }
    [[nodiscard]] bool isTimelineShown() const noexcept { return m_timelineShown; }
    void setTimelineShown(bool shown);
    [[nodiscard]] QVariantList frames() const { return m_frames; }
    [[nodiscard]] double timelineSpan() const noexcept { return m_span; }
    [[nodiscard]] QStringList slowRuns() const { return m_slowRuns; }
    /// How long waiting for an answer lasts before the inspector says so (ms; default 10,000).
    void setTimeout(int ms) { m_timeoutMs = ms; }

    /// Lists the applications that serve again.
    Q_INVOKABLE void rescan();
    /// Attaches to `name` (`rio-inspect-app-42`, `local:` or not), detaching first; false, with
    /// the reason in `message`, when nothing of this user serves there.
    Q_INVOKABLE bool attach(const QString &name);
    /// Detaches: the model shows no rows; the application goes on.
    Q_INVOKABLE void detach();

Q_SIGNALS:
    void applicationsChanged();
    void modelChanged();
    void stateChanged();
    void timelineShownChanged();
    void timelineChanged();

private:
    void setState(State state, const QString &message);
    void release();
    void clearTimeline();
    void subscribeTimeline();
    void received(quint64 attachment, const QByteArray &page);
    void read(const QByteArray &bytes);
    // The newest frames of the main thread with their runs, and every thread's slow runs.
    void receivedTimeline(quint64 attachment, const QByteArray &bytes);
    void silent();
    void lost();
    void shown();

    QVariantList m_applications;
    QPointer<DiagnosticsModel> m_model;
    State m_state = Detached;
    QString m_target;
    QString m_message;
    quint64 m_attachment =
        0; // bumped at each attach and release: late deliveries of an older one are ignored
    std::unique_ptr<Pin> m_pin; // the socket attached to
    std::unique_ptr<QRemoteObjectNode> m_node;
    std::unique_ptr<RemoteRegistry<QByteArray>> m_snapshots;
    PageReader m_pages;       // the snapshot being received
    QByteArray m_waiting;     // the newest whole one, while the model makes the rows of the last
    bool m_modelBusy = false; // a snapshot was given to the model and its rows not made yet
    std::unique_ptr<RemoteRegistry<QByteArray>> m_timeline;
    QTimer m_silence;
    QTimer m_rescan;
    QElapsedTimer m_since;      // since the attach
    bool m_shown = false;       // its rows were shown
    QString m_attached;         // what Attached says of the last snapshot read
    bool m_rowsMissing = false; // Lost: the model had not the memory for its rows (shown())
    int m_timeoutMs = 10'000;
    bool m_timelineShown = false;
    QVariantList m_frames;
    double m_span = 0;
    QStringList m_slowRuns;
};

/// Registers InspectorSession for QML (`import RegistryIO.Inspector`).
void registerInspectorTypes();

} // namespace rio::inspect
