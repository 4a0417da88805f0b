// SPDX-License-Identifier: MIT
#pragma once

// Paces a latest value (LatestValue, a QML registry's `latest`) to the frames of the window that
// shows it. Not part of the API.

#include <registryio/qt/qt_export.h>

#include <QMetaMethod>
#include <QObject>
#include <QPointer>
#include <QVariant>

#include <memory>
#include <vector>

class QEvent;

namespace rio::detail {

// Shows the newest value offered at the next frame of the Qt Quick window its owner lives in
// (the owner's QObject parents and item parents up to a QQuickWindow), just before that frame's
// polish and sync, so a flood changes it at most once per frame, never on a frame where nothing
// was offered, and the last value offered is the one shown. With no window (none found, hidden
// or destroyed), it shows at once. A child of its owner, on the owner's thread: moved to another
// thread, it leaves the window (whose frames come on the old one) and shows a value waiting before
// the move. Nothing of Qt Quick is linked (the window is reached through its meta-object).
// A Delivery::Latest handler under a flood whose value it waits to show is then fed from the
// window's frames (paceToFrame): no posted event per delivery while the window keeps drawing,
// only the frame's own reading of the handler's newest event.
class RIO_QT_EXPORT FramePacer final : public QObject
{
    Q_OBJECT

public:
    // What shows a value: the owner's own setter.
    using Show = void (*)(QObject *owner, const QVariant &value);

    FramePacer(QObject *owner, Show show);
    ~FramePacer() override;
    FramePacer(const FramePacer &) = delete;
    FramePacer &operator=(const FramePacer &) = delete;

    // The newest value: shown at the next frame of the owner's window, or now without one.
    void offer(QVariant value);
    // Whether an offer now would wait for a frame of the window (on the owner's thread).
    [[nodiscard]] Q_DECL_HIDDEN bool pacing() const;

    // What a frame runs for a handler paced to it (the facade's delivery of `handler`).
    using Refresh = void (*)(const std::shared_ptr<void> &handler);

protected:
    bool event(QEvent *event) override;
    bool eventFilter(QObject *watched, QEvent *event) override;

private Q_SLOTS:
    // The window's frame runs its animations: the pending value is shown, unless its update
    // request already showed it.
    void frame();
    // The window was hidden or went: the pending value is shown now.
    Q_DECL_HIDDEN void flush();

private: // NOLINT(readability-redundant-access-specifiers): ends moc's slot section
    friend void paceToFrame(FramePacer &pacer, std::shared_ptr<void> handler, Refresh refresh);
    struct Q_DECL_HIDDEN Paced
    {
        std::shared_ptr<void> handler;
        Refresh refresh;
    };

    // Follows `window`'s frames from now on (null: none).
    void watch(QObject *window);
    // Runs the paced handlers' deliveries, then shows the pending value (`inFrame`: in a frame of
    // the window, which a paced handler may wait for again; else the window leaves).
    Q_DECL_HIDDEN void present(bool inFrame);
    // Asks the window for its next frame.
    Q_DECL_HIDDEN void requestFrame();
    // An offer that the window's next frame will show, made by a Latest delivery: it may be paced.
    Q_DECL_HIDDEN void paced() noexcept;

    QObject *const m_owner;
    const Show m_show;
    QVariant m_pending;
    bool m_waiting = false; // m_pending waits for the window's next frame
    QPointer<QObject> m_window;
    QMetaObject::Connection m_frames;  // its afterAnimating
    QMetaObject::Connection m_visible; // its visibleChanged
    QMetaObject::Connection m_gone;    // its destroyed
    QMetaMethod m_update;              // its update()
    std::vector<Paced> m_paced;        // the handlers whose next delivery this frame runs
    std::vector<Paced> m_spare;        // empty, its capacity kept for the next frame's
    bool m_inFrame = false;            // running the paced deliveries of a frame
    bool m_flushing = false;           // running them as the window leaves
    bool m_presented = false;          // the frame's update request showed the value
};

// Runs `refresh(handler)` at `pacer`'s next frame (or as its window leaves), and asks the window
// for that frame. Throws std::bad_alloc, changing nothing.
Q_DECL_HIDDEN void paceToFrame(FramePacer &pacer, std::shared_ptr<void> handler, FramePacer::Refresh refresh);

// A Latest delivery running on this thread: the pacer its handler offered a value to, when that
// pacer shows it at its window's next frame.
struct Q_DECL_HIDDEN PacedDelivery
{
    PacedDelivery() noexcept;
    ~PacedDelivery();
    PacedDelivery(const PacedDelivery &) = delete;
    PacedDelivery &operator=(const PacedDelivery &) = delete;

    QPointer<FramePacer> pacer; // null also once deleted by the delivery's user code
    PacedDelivery *const outer;
};

} // namespace rio::detail
