// SPDX-License-Identifier: MIT
#pragma once

#include <QByteArray>
#include <QObject>

#include <functional>

namespace rio::detail {

/// The object Qt Remote Objects remotes for one share. Its meta-object is the whole API a peer
/// sees: one signal (events to subscribers) and one slot (events from them). Nothing else of this
/// process is reachable through it.
class RemoteSource : public QObject
{
    Q_OBJECT

public:
    explicit RemoteSource(std::function<void(const QByteArray &)> onPost, QObject *parent = nullptr)
        : QObject(parent), m_onPost(std::move(onPost))
    { }

Q_SIGNALS:
    /// One event frame (see remote_codec.h) for every subscriber.
    void delivered(const QByteArray &frame);

public Q_SLOTS:
    /// One event a subscriber notified.
    void post(const QByteArray &frame) { m_onPost(frame); }

private:
    std::function<void(const QByteArray &)> m_onPost;
};

} // namespace rio::detail
