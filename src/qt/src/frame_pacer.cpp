// SPDX-License-Identifier: MIT
#include <registryio/qt/detail/frame_pacer.h>

#include <QEvent>
#include <QMetaMethod>

#include <utility>

namespace rio::detail {

namespace {

// The Qt Quick window `object` is in: a QQuickWindow among its QObject parents, or the window
// whose content item holds the item among them (items reach it through their parent items).
QObject *windowOf(QObject *object)
{
    while (object != nullptr) {
        if (object->inherits("QQuickWindow"))
            return object;
        if (object->inherits("QQuickItem")) {
            // The topmost item: a window's content item, whose QObject parent is the window.
            while (auto *up = object->property("parent").value<QObject *>())
                object = up;
        }
        object = object->parent();
    }
    return nullptr;
}

} // namespace

FramePacer::FramePacer(QObject *owner, Show show) : QObject(owner), m_owner(owner), m_show(show) { }

FramePacer::~FramePacer()
{
    if (m_window)
        m_window->removeEventFilter(this);
}

void FramePacer::offer(QVariant value)
{
    m_pending = std::move(value);
    if (m_waiting)
        return; // the next frame shows it
    QObject *const window = windowOf(m_owner);
    if (window == nullptr || !window->property("visible").toBool()) {
        m_show(m_owner, std::exchange(m_pending, QVariant()));
        return;
    }
    if (window != m_window)
        watch(window);
    m_waiting = true;
    QMetaObject::invokeMethod(window, "update", Qt::DirectConnection); // schedules a frame
}

void FramePacer::watch(QObject *window)
{
    if (m_window)
        m_window->removeEventFilter(this);
    disconnect(m_frames);
    disconnect(m_visible);
    disconnect(m_gone);
    m_window = window;
    if (window == nullptr)
        return;
    // The frame's update request, before it polishes: what it shows is in this frame. A frame
    // without one (an exposure, a render control) shows it after its animations.
    window->installEventFilter(this);
    const QMetaObject *const meta = window->metaObject();
    const QMetaMethod frame = staticMetaObject.method(staticMetaObject.indexOfSlot("frame()"));
    m_frames = connect(window, meta->method(meta->indexOfSignal("afterAnimating()")), this, frame,
                       Qt::DirectConnection);
    m_visible = connect(window, meta->method(meta->indexOfSignal("visibleChanged(bool)")), this, frame,
                        Qt::DirectConnection);
    m_gone = connect(window, &QObject::destroyed, this, &FramePacer::frame, Qt::DirectConnection);
}

bool FramePacer::event(QEvent *event)
{
    // Sent on the old thread before the move: the window's frames (and its events) stay there, so
    // the pacer leaves it, and a value waiting for its frame is shown now, as when the window is
    // hidden or goes.
    if (event->type() == QEvent::ThreadChange) {
        watch(nullptr);
        frame();
    }
    return QObject::event(event);
}

bool FramePacer::eventFilter(QObject *watched, QEvent *event)
{
    if (event->type() == QEvent::UpdateRequest && watched == m_window)
        frame();
    return false;
}

void FramePacer::frame()
{
    if (!m_waiting)
        return;
    m_waiting = false;
    m_show(m_owner, std::exchange(m_pending, QVariant()));
}

} // namespace rio::detail
