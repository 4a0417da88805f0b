// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/handler_id.h>
#include <registryio/qml/detail/qml_facade.h>
#include <registryio/qml/handler_subscription.h>
#include <registryio/qml/qml_export.h>
#include <registryio/qml/qml_registry_sender.h>
#include <registryio/qt/qt_registry.h>

#include <QJSValue>
#include <QObject>
#include <QProperty>
#include <QString>
#include <QVariant>
#include <QtQml/qqmlregistration.h>

#include <memory>

namespace rio {

namespace detail {
struct QmlRegistryShared;
class FramePacer;
} // namespace detail

/// A registry of QVariant events for QML, on rio::QtRegistry<QVariant>: JavaScript handlers run
/// on the engine's thread in priority order, whichever thread notifies.
class RIO_QML_EXPORT QmlRegistry : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    /// Number of registered handlers (JavaScript, RegistryHandler and C++ ones).
    Q_PROPERTY(int count READ count NOTIFY countChanged BINDABLE bindableCount FINAL)
    /// The registry's name in diagnostics (rio::Diagnostics snapshots, RegistryInspector): the
    /// objectName of its C++ facade.
    Q_PROPERTY(QString name READ name WRITE setName NOTIFY nameChanged FINAL)
    /// The newest event notified, from any thread, as a binding reads it: `text: prices.latest.price`.
    Q_PROPERTY(QVariant latest READ latest NOTIFY latestChanged BINDABLE bindableLatest FINAL)

public:
    /// An empty registry.
    explicit QmlRegistry(QObject *parent = nullptr);
    /// Removes every handler; senders and handles that outlive it become inert.
    ~QmlRegistry() override;

    /// Registers the JavaScript function `handler` (higher priority first) with `options`
    /// (`delivery`, `coalesce`, `once`, `owner`, and for queued deliveries `capacity`, `overflow`,
    /// `blockTimeout`, `minInterval`, as on RegistryHandler) and returns the handle whose
    /// destruction removes it. On the engine's thread only; a non-function or a bad option gives a
    /// QML warning at the caller's line, null, and registers nothing.
    Q_INVOKABLE rio::HandlerSubscription *add(const QJSValue &handler, int priority = 0,
                                              const QJSValue &options = QJSValue());

    /// Delivers `event` to every handler in priority order from any thread, JavaScript handlers
    /// running on the engine's thread (directly when notified there, queued otherwise). JavaScript
    /// handlers on the engine's thread get the caller's value; C++ handlers and queued deliveries
    /// get a QVariantMap / QVariantList copy.
    Q_INVOKABLE void notify(const QVariant &event) const;

    /// Removes the handler with this id: true the first time, false for unknown ids and for
    /// anything that is not a positive integer.
    Q_INVOKABLE bool remove(double id);

    /// Number of registered handlers.
    [[nodiscard]] int count() const noexcept;
    /// The name diagnostics show (empty: unnamed).
    [[nodiscard]] QString name() const;
    /// Names the registry in diagnostics.
    void setName(const QString &name);
    /// The count as a bindable property (C++ bindings: QProperty, setBinding).
    [[nodiscard]] QBindable<int> bindableCount() const { return &m_countProperty; }
    /// The newest event notified since `latest` was first read (invalid before): set on this
    /// thread at most once per frame of the Qt Quick window the registry is in (once per
    /// event-loop turn without one), whichever thread notifies (the newest event wins, the last
    /// one is always shown), never when the event is equal.
    [[nodiscard]] QVariant latest() const;
    /// `latest` as a bindable property; it follows the notifies from this call on.
    [[nodiscard]] QBindable<QVariant> bindableLatest();

    /// The C++ facade underneath, for C++ handlers with contexts, coalescing, async notifies,
    /// setSuspended and removeAndWait. It is the one table of every handler, JavaScript ones
    /// included, so its promises hold for JavaScript handlers too.
    [[nodiscard]] QtRegistry<QVariant> &registry();
    /// The facade, read-only (counts, droppedCount, isSuspended, notify); changes no dispatch.
    [[nodiscard]] const QtRegistry<QVariant> &registry() const noexcept { return *m_registry; }

    /// A thread-safe reference for C++ workers that may outlive this registry.
    [[nodiscard]] QmlRegistrySender sender() const;

Q_SIGNALS:
    /// The number of handlers changed (emitted on the registry's thread).
    void countChanged();
    /// The name changed.
    void nameChanged();
    /// `latest` changed (on the registry's thread, at most once per frame of its window).
    void latestChanged();
    /// A handler threw (a JavaScript one is also printed as a QML warning at its line). A queued
    /// signal: emitted from the registry thread's event loop once per failure, in their order, for
    /// at most 10,000 waiting at once (more are only logged), after a notify made there returned
    /// (or in a nested event loop).
    void handlerFailed(double id, const QString &message);

private:
    friend class RegistryHandler;
    class VariantOps;

    // The bookkeeping shared with handles, handlers and senders (first: the facade tells it).
    std::shared_ptr<detail::QmlRegistryShared> m_shared;
    // Held: its handlers' context is this object. Shared with a notify running on this thread,
    // which a handler may end by destroying this object: the facade goes when the notify ends.
    std::shared_ptr<detail::QmlHeldRegistry<QVariant>> m_registry;
    std::unique_ptr<VariantOps> m_ops;
    Q_OBJECT_COMPUTED_PROPERTY(QmlRegistry, int, m_countProperty, &QmlRegistry::count)
    // Registers the coalesced facade handler that feeds `latest`, unless it is registered.
    void followLatest();
    // Shows `event` as `latest` (that handler's call).
    void setLatest(const QVariant &event);
    std::unique_ptr<detail::FramePacer> m_pacer; // paces `latest` to its window's frames (once followed)
    HandlerId m_latestHandler;                   // that handler: not counted in `count`, not removable by id
    bool m_addingLatest = false;                 // its registration's count change is not ours
    QMetaObject::Connection m_latestObjectGone;  // a QObject shown as `latest`: its destruction
    Q_OBJECT_BINDABLE_PROPERTY(QmlRegistry, QVariant, m_latest, &QmlRegistry::latestChanged)
};

} // namespace rio
