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

thread_local PacedDelivery *t_delivery = nullptr; // the innermost Latest delivery running here

} // namespace

PacedDelivery::PacedDelivery() noexcept : outer(std::exchange(t_delivery, this)) { }

PacedDelivery::~PacedDelivery()
{
    t_delivery = outer;
}

void paceToFrame(FramePacer &pacer, std::shared_ptr<void> handler, FramePacer::Refresh refresh)
{
    pacer.m_paced.push_back({std::move(handler), refresh});
    if (pacer.m_paced.size() == 1)
        pacer.requestFrame();
}

FramePacer::FramePacer(QObject *owner, Show show) : QObject(owner), m_owner(owner), m_show(show) { }

FramePacer::~FramePacer()
{
    if (m_window)
        m_window->removeEventFilter(this);
}

bool FramePacer::pacing() const
{
    return m_window && windowOf(m_owner) == m_window && m_window->property("visible").toBool();
}

void FramePacer::offer(QVariant value)
{
    m_pending = std::move(value);
    if (m_inFrame && windowOf(m_owner) == m_window) {
        m_waiting = true; // shown as this frame's paced deliveries end
        paced();
        return;
    }
    if (m_waiting) {
        paced();
        return; // the next frame shows it
    }
    QObject *const window = windowOf(m_owner);
    if (window == nullptr || !window->property("visible").toBool()) {
        m_show(m_owner, std::exchange(m_pending, QVariant()));
        return;
    }
    if (window != m_window)
        watch(window);
    m_waiting = true;
    requestFrame();
    paced();
}

void FramePacer::requestFrame()
{
    if (m_window)
        m_update.invoke(m_window, Qt::DirectConnection); // schedules a frame
}

void FramePacer::paced() noexcept
{
    if (t_delivery != nullptr && !m_flushing)
        t_delivery->pacer = this;
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
    const QMetaMethod flush = staticMetaObject.method(staticMetaObject.indexOfSlot("flush()"));
    m_update = meta->method(meta->indexOfMethod("update()"));
    m_frames = connect(window, meta->method(meta->indexOfSignal("afterAnimating()")), this, frame,
                       Qt::DirectConnection);
    m_visible = connect(window, meta->method(meta->indexOfSignal("visibleChanged(bool)")), this, flush,
                        Qt::DirectConnection);
    m_gone = connect(window, &QObject::destroyed, this, &FramePacer::flush, Qt::DirectConnection);
}

bool FramePacer::event(QEvent *event)
{
    // Sent on the old thread before the move: the window's frames (and its events) stay there, so
    // the pacer leaves it, and a value waiting for its frame is shown now, as when the window is
    // hidden or goes.
    if (event->type() == QEvent::ThreadChange) {
        const QPointer<FramePacer> alive(this);
        watch(nullptr);
        flush();
        if (!alive)
            return true; // a slot of the value shown deleted its owner
    }
    return QObject::event(event);
}

bool FramePacer::eventFilter(QObject *watched, QEvent *event)
{
    if (watched != m_window)
        return false;
    if (event->type() == QEvent::UpdateRequest) {
        // Set before the deliveries run: a slot they run may delete this pacer.
        m_presented = true;
        present(true);
    } else if (event->type() == QEvent::Expose) {
        // An exposure draws a frame without an update request (one that came while the window
        // was not exposed drew nothing): that frame runs the paced deliveries at its animations.
        m_presented = false;
    }
    return false;
}

void FramePacer::frame()
{
    // A frame runs its paced deliveries once: at its update request, or here without one.
    if (!std::exchange(m_presented, false))
        present(true);
}

void FramePacer::flush()
{
    present(false);
}

void FramePacer::present(bool inFrame)
{
    if (!m_paced.empty()) {
        // A delivery runs user code, which may delete this pacer (its owner): nothing of it is
        // touched after one unless it is alive.
        const QPointer<FramePacer> alive(this);
        // Each paced handler's delivery: its offer waits for the end of this loop, so the frame
        // shows one value, the newest. A delivery paced again waits for the next frame. Thread
        // cancellation inside one leaves the rest paced.
        std::vector<Paced> paced = std::exchange(m_paced, std::move(m_spare));
        std::size_t next = 0;
        struct Restore
        {
            FramePacer &self;
            std::vector<Paced> &paced;
            const std::size_t &next;
            const bool flushing;
            const QPointer<FramePacer> &alive;
            ~Restore()
            {
                if (!alive)
                    return;
                self.m_inFrame = false;
                self.m_flushing = flushing;
                if (next == paced.size()) {
                    paced.clear();
                    self.m_spare = std::move(paced); // its capacity serves the next frame
                    return;
                }
                // The rest waits for the next frame, ahead of those paced again meanwhile (one
                // per delivery run, so they fit where those were: nothing allocates).
                paced.erase(paced.begin(), paced.begin() + std::ptrdiff_t(next));
                for (Paced &p : self.m_paced)
                    paced.push_back(std::move(p));
                self.m_paced = std::move(paced);
            }
        } restore{*this, paced, next, m_flushing, alive};
        (inFrame ? m_inFrame : m_flushing) = true;
        while (next < paced.size()) {
            const Paced p = std::move(paced[next++]);
            p.refresh(p.handler);
            if (!alive)
                return;
        }
    }
    if (!m_waiting)
        return;
    m_waiting = false;
    m_show(m_owner, std::exchange(m_pending, QVariant()));
}

} // namespace rio::detail
