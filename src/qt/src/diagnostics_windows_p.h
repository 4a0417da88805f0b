// SPDX-License-Identifier: MIT
// The frame timeline's watcher of one Qt Quick window (diagnostics_trace.cpp), in a header of its
// own so that AUTOMOC gives its slots a meta-object: the window's scene-graph signals are reached
// through its meta-object, and QObject::connect takes a slot for such a signal, not a function.
#pragma once

#include <QMetaObject>
#include <QObject>

#include <array>
#include <atomic>

class QThread;

namespace rio::detail {

// One Qt Quick window's frames, as a child of the window (it dies with it). The GUI thread begins
// and numbers a frame (at its update request or exposure, numbered at afterAnimating); the thread
// that presents it (the GUI thread, or the threaded render loop's render thread) ends it at
// frameSwapped by publishing its number and end time, which the GUI thread, the timeline's one
// writer, puts on the ring: at once when it presented the frame itself, else at the end of its
// turn or its window's next frame. Nothing the presenting thread touches is more than atomics.
class WindowWatch final : public QObject
{
    Q_OBJECT

public:
    explicit WindowWatch(QObject *window);
    ~WindowWatch() override;
    WindowWatch(const WindowWatch &) = delete;
    WindowWatch &operator=(const WindowWatch &) = delete;
    WindowWatch(WindowWatch &&) = delete;
    WindowWatch &operator=(WindowWatch &&) = delete;

    // Its window's scene-graph signals (while on only: nothing per frame while off).
    void watch();
    void unwatch();
    // Its update request or exposure: a frame begins (numbered if it gets as far as its animations).
    void requested() noexcept;
    // The GUI thread's turn ends: a frame presented since is put on the ring; a request that did
    // not lead to a frame in the turn it was handled in begins none.
    void turnEnded() noexcept;

public Q_SLOTS:
    void animated();      // GUI thread: the frame is numbered
    void synchronizing(); // presenting thread: the frame it takes
    void swapped();       // presenting thread: the frame ends
    void renamed();       // GUI thread: its title or objectName changed

private:
    void flush() noexcept;

    struct Start
    {
        quint64 number = 0;
        quint64 ticks = 0;
    };
    const quint64 m_serial; // names the window on the ring: never reused, unlike its address
    QThread *const m_gui;
    // The GUI thread's.
    quint64 m_requested = 0;         // ticks of the request that begins the next frame (0: none)
    quint64 m_number = 0;            // the last frame begun
    quint64 m_recorded = 0;          // the last frame put on the ring
    std::array<Start, 4> m_starts{}; // the starts of the last frames begun, by number
    std::array<QMetaObject::Connection, 5> m_connections;
    // Written by the GUI thread, read by the presenting thread at its sync (the GUI thread waits).
    std::atomic<quint64> m_begun{0};
    // The presenting thread's: the frame its last sync took.
    std::atomic<quint64> m_synced{0};
    // The last frame presented and its end (ticks), published under a sequence number (odd while
    // written) by the presenting thread, read by the GUI thread.
    std::atomic<quint64> m_seq{0};
    std::atomic<quint64> m_ended{0};
    std::atomic<quint64> m_endedAt{0};
};

} // namespace rio::detail
