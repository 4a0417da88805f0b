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

    /// Registers the JavaScript function `handler` (higher priority first). `options` may hold
    /// `delivery` (RegistryHandler.Every or .Latest, or "every"/"latest": Latest coalesces events
    /// from other threads, the newest wins; `coalesce: true` is the same), `once`
    /// (bool), `owner` (a QtObject/Item: the handler goes when it is destroyed), and for queued
    /// deliveries `capacity` (whole number, 0 = unbounded, default 1000000), `overflow`
    /// (RegistryHandler.DropOldest/DropNewest/Block or "dropOldest"/"dropNewest"/"block"),
    /// `blockTimeout` (ms, default 1000) and `minInterval` (ms, Latest only). Returns the
    /// handle; destroying it removes the handler. A non-function or a bad option: QML warning at
    /// the caller's line, null, nothing registered. Call it on the registry's (the engine's) thread.
    Q_INVOKABLE rio::HandlerSubscription *add(const QJSValue &handler, int priority = 0,
                                              const QJSValue &options = QJSValue());

    /// Delivers `event` to every handler in priority order. Callable from any thread: JavaScript
    /// handlers run on the engine's thread (directly when notified there, queued otherwise).
    /// JavaScript objects and arrays are copied into QVariantMap / QVariantList for C++ handlers
    /// and queued deliveries; JavaScript handlers on the engine's thread get the caller's value.
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
    /// included, and every notify is its dispatch: its promises hold for JavaScript handlers too.
    /// A notify from JavaScript makes the plain copy C++ handlers get when one runs or is queued.
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
    /// signal: emitted from the registry thread's event loop once per failure, in their order
    /// (after a notify made there returned, unless a handler runs a nested event loop).
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
