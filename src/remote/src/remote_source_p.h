// SPDX-License-Identifier: MIT
#pragma once

#include <QByteArray>
#include <QObject>

#include <functional>

namespace rio::detail {

/// The object Qt Remote Objects remotes for one share. Its meta-object is the whole API a peer
/// sees: one signal (events to subscribers) and one slot (events from them). Nothing else of this
/// process is reachable through it (and, when the share retains it, the newest event it sent).
class RemoteSource : public QObject
{
    Q_OBJECT
    // The newest event's frame when the share retains it (empty otherwise): Qt Remote Objects
    // sends a property's value to each replica when it is (re)acquired. No notify signal, so a
    // change never goes to the replicas already connected.
    Q_PROPERTY(QByteArray retained READ retained)

public:
    explicit RemoteSource(std::function<void(const QByteArray &)> onPost, QObject *parent = nullptr)
        : QObject(parent), m_onPost(std::move(onPost))
    { }

    /// The retained frame (see the property).
    QByteArray retained() const { return m_retained; }
    void setRetained(const QByteArray &frame) { m_retained = frame; }

Q_SIGNALS:
    /// One event frame (see remote_codec.h) for every subscriber.
    void delivered(const QByteArray &frame);

public Q_SLOTS:
    /// One event a subscriber notified.
    void post(const QByteArray &frame) { m_onPost(frame); }

private:
    std::function<void(const QByteArray &)> m_onPost;
    QByteArray m_retained;
};

} // namespace rio::detail
