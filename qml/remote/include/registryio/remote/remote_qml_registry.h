// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/qml/qml_registry.h>
#include <registryio/remote/remote_qml_export.h>
#include <registryio/remote/remote_subscriber.h>

#include <QPointer>
#include <QQmlParserStatus>
#include <QRemoteObjectNode>
#include <QString>
#include <QUrl>
#include <QtQml/qqmlregistration.h>

#include <memory>

namespace rio {

// The base is spelled rio::QmlRegistry: Qt 6.4's qmltyperegistrar finds a base class in another
// QML module (its prototype, for qmllint and the QML compiler) only by its qualified name.
/// QML `RemoteRegistry` (import RegistryIO.Remote): a QmlRegistry subscribed, through `node` or
/// `url`, to the registry of QVariant events another process shares under `name`. Its handlers get
/// the events notified on either side; notify() here reaches the source and its other subscribers.
class RIO_REMOTE_QML_EXPORT RemoteQmlRegistry : public rio::QmlRegistry, public QQmlParserStatus
{
    Q_OBJECT
    Q_INTERFACES(QQmlParserStatus)
    QML_NAMED_ELEMENT(RemoteRegistry)
    /// The node to subscribe through; when null, the registry connects a node of its own to `url`.
    Q_PROPERTY(QRemoteObjectNode *node READ node WRITE setNode NOTIFY nodeChanged FINAL)
    /// Where the source listens (local:name, tcp://address:port), used when `node` is null.
    Q_PROPERTY(QUrl url READ url WRITE setUrl NOTIFY urlChanged FINAL)
    /// RemoteRegistry.Disconnected, RemoteRegistry.Connected or RemoteRegistry.Reconnecting.
    Q_PROPERTY(State state READ state NOTIFY stateChanged FINAL)
    /// Whether events flow both ways now (state is Connected).
    Q_PROPERTY(bool connected READ isConnected NOTIFY stateChanged FINAL)

public:
    /// The connection to the sharing process (as rio::RemoteSubscriber::State).
    enum State {
        /// Not connected yet (or no node, url or name), or an incompatible source.
        Disconnected = int(RemoteSubscriber::State::Disconnected),
        /// Events flow both ways.
        Connected = int(RemoteSubscriber::State::Connected),
        /// The source went away; the subscription resumes by itself when it is back.
        Reconnecting = int(RemoteSubscriber::State::Reconnecting),
    };
    Q_ENUM(State)

    /// Not subscribed until it has a node or url, and a name (and, in QML, is complete).
    explicit RemoteQmlRegistry(QObject *parent = nullptr);
    /// Unsubscribes before the handlers go.
    ~RemoteQmlRegistry() override;

    /// The node it subscribes through (null: its own, on `url`).
    [[nodiscard]] QRemoteObjectNode *node() const noexcept { return m_node; }
    /// Subscribes through `node` (null: a node of its own on `url`).
    void setNode(QRemoteObjectNode *node);
    /// The source's address, when no node is given.
    [[nodiscard]] QUrl url() const { return m_url; }
    /// Subscribes through a node of its own connected to `url` (when `node` is null).
    void setUrl(const QUrl &url);
    /// The connection state.
    [[nodiscard]] State state() const noexcept;
    /// Whether the state is Connected.
    [[nodiscard]] bool isConnected() const noexcept { return state() == Connected; }
    /// The connection (C++: its counters, such as droppedWhileDisconnected()), or null while not
    /// subscribed.
    [[nodiscard]] RemoteSubscriber *link() const noexcept { return m_link.get(); }

    /// QQmlParserStatus: the QML engine begins setting the properties.
    void classBegin() override;
    /// QQmlParserStatus: every property is set; subscribes with the node or URL given.
    void componentComplete() override;

Q_SIGNALS:
    /// The node changed.
    void nodeChanged();
    /// The URL changed.
    void urlChanged();
    /// The connection state changed.
    void stateChanged();

private:
    void resubscribe();

    QPointer<QRemoteObjectNode> m_node;
    QUrl m_url;
    bool m_complete = true;
    std::unique_ptr<QRemoteObjectNode> m_ownNode;
    std::unique_ptr<RemoteSubscriber> m_link;
};

} // namespace rio
