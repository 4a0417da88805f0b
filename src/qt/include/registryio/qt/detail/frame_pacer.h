// SPDX-License-Identifier: MIT
#pragma once

// Paces a latest value (LatestValue, a QML registry's `latest`) to the frames of the window that
// shows it. Not part of the API.

#include <registryio/qt/qt_export.h>

#include <QObject>
#include <QPointer>
#include <QVariant>

class QEvent;

namespace rio::detail {

// Shows the newest value offered at the next frame of the Qt Quick window its owner lives in
// (the owner's QObject parents and item parents up to a QQuickWindow), just before that frame's
// polish and sync, so a flood changes it at most once per frame, never on a frame where nothing
// was offered, and the last value offered is the one shown. With no window (none found, hidden
// or destroyed), it shows at once. A child of its owner, on the owner's thread: moved to another
// thread, it leaves the window (whose frames come on the old one) and shows a value waiting before
// the move. Nothing of Qt Quick is linked (the window is reached through its
// meta-object).
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

protected:
    bool event(QEvent *event) override;
    bool eventFilter(QObject *watched, QEvent *event) override;

private Q_SLOTS:
    // The frame starts (or the window was hidden or went): the pending value is shown.
    void frame();

private: // NOLINT(readability-redundant-access-specifiers): ends moc's slot section
    // Follows `window`'s frames from now on (null: none).
    void watch(QObject *window);

    QObject *const m_owner;
    const Show m_show;
    QVariant m_pending;
    bool m_waiting = false; // m_pending waits for the window's next frame
    QPointer<QObject> m_window;
    QMetaObject::Connection m_frames;  // its afterAnimating
    QMetaObject::Connection m_visible; // its visibleChanged
    QMetaObject::Connection m_gone;    // its destroyed
};

} // namespace rio::detail
