// SPDX-License-Identifier: MIT
#pragma once

// The non-template halves of RIO_QML_TYPED_REGISTRY's types: QmlTypedRegistry carries what every
// typed registry has (count, remove, handlerFailed), QmlTypedHandler every property of a typed
// handler. The macro adds only the typed `notify` and the typed `notified` signal.

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/connection.h>
#include <registryio/handler_id.h>
#include <registryio/qml/detail/latest_rows.h>
#include <registryio/qml/detail/qml_facade.h>
#include <registryio/qml/handler_subscription.h>
#include <registryio/qml/qml_export.h>
#include <registryio/qml/qml_handler_base.h>
#include <registryio/qt/delivery.h>

#include <QJSValue>
#include <QMetaType>
#include <QObject>
#include <QPointer>
#include <QProperty>
#include <QString>
#include <QVariant>
#include <QtQml/qqmlregistration.h>

#include <memory>

namespace rio {

class QtRegistryBase;

namespace detail {

/// What a typed registry's typed half does for the non-template halves (QmlTypedRegistryCore<E>
/// in qml_typed_registry.h), besides registering targets and making events' JavaScript values.
class QmlTypedRegistryOps : public QmlEventOps
{
public:
    /// Notifies `event` (an E), from any thread.
    virtual void notifyEvent(const void *event) const = 0;
    /// Registers the facade's coalesced, queued handler that sets the registry's `latest`.
    virtual HandlerId addLatest() = 0;
    /// Registers a handler on the notifying thread that writes each event, as a QVariant, to
    /// `rows` by its field `key` (a LatestModel's).
    virtual Connection addKeyedRows(std::shared_ptr<LatestRows> rows, int keyProperty) = 0;

protected:
    ~QmlTypedRegistryOps() = default;
};

template <typename E>
class QmlTypedRegistryCore;

struct QmlRegistryShared;
class FramePacer;

} // namespace detail

/// The non-template half of QmlTypedSender<E>.
class RIO_QML_EXPORT QmlTypedSenderBase
{
public:
    /// True while the registry lives.
    [[nodiscard]] bool isAlive() const;

protected:
    /// An empty sender.
    QmlTypedSenderBase() noexcept = default;
    /// Notifies the registry with `event` (its E); false (and one warning) when it is gone.
    bool notifyErased(const void *event) const;

private:
    friend class QmlTypedRegistry;
    explicit QmlTypedSenderBase(std::shared_ptr<detail::QmlRegistryShared> state) noexcept;

    std::shared_ptr<detail::QmlRegistryShared> m_state;
};

/// A copyable, thread-safe reference to a typed registry of E events that may outlive it: C++
/// worker threads keep one instead of a raw pointer to a registry that QML owns.
template <typename E>
class QmlTypedSender : public QmlTypedSenderBase
{
public:
    /// An empty sender: notify() returns false.
    QmlTypedSender() noexcept = default;
    /// The sender a typed registry made (Name::sender() does this).
    explicit QmlTypedSender(const QmlTypedSenderBase &base) noexcept : QmlTypedSenderBase(base) { }

    /// Notifies the registry (see its notify) and returns true; when the registry was destroyed,
    /// drops the event, warns once in the `registryio.qml` category and returns false. Do not destroy
    /// the registry from a C++ handler that this call runs directly.
    // NOLINTNEXTLINE(modernize-use-nodiscard): fire-and-forget is the common use
    bool notify(const E &event) const { return notifyErased(&event); }
};

/// The base of every typed registry (RIO_QML_TYPED_REGISTRY's `Name`): its handler count, remove
/// by id and failure reports. Not creatable from QML itself.
class RIO_QML_EXPORT QmlTypedRegistry : public QObject
{
    Q_OBJECT
    QML_ANONYMOUS
    /// Number of registered handlers (typed handlers and C++ ones).
    Q_PROPERTY(int count READ count NOTIFY countChanged FINAL)
    /// The registry's name in diagnostics (rio::Diagnostics snapshots, RegistryInspector): the
    /// objectName of its C++ facade.
    Q_PROPERTY(QString name READ name WRITE setName NOTIFY nameChanged FINAL)
    /// The newest event notified, from any thread, as a binding reads it: `text: quotes.latest.price`.
    Q_PROPERTY(QVariant latest READ latest NOTIFY latestChanged BINDABLE bindableLatest FINAL)

public:
    /// Tells its handlers it is gone (done by the typed half first, while the facade exists).
    ~QmlTypedRegistry() override;

    /// Number of registered handlers.
    [[nodiscard]] int count() const noexcept;
    /// The name diagnostics show (empty: unnamed).
    [[nodiscard]] QString name() const;
    /// Names the registry in diagnostics.
    void setName(const QString &name);
    /// The event type this registry carries.
    [[nodiscard]] QMetaType eventType() const noexcept { return m_eventType; }
    /// The newest event (an EventType) notified since `latest` was first read, as
    /// QmlRegistry::latest: set on this thread at most once per frame of its window.
    [[nodiscard]] QVariant latest() const;
    /// `latest` as a bindable property; it follows the notifies from this call on.
    [[nodiscard]] QBindable<QVariant> bindableLatest();
    /// Removes the handler with this id: true the first time, false for unknown ids and for
    /// anything that is not a positive integer. A typed handler removed so turns inactive.
    Q_INVOKABLE bool remove(double id);
    /// Registers the JavaScript function `handler` (higher priority first, `options` as
    /// QmlRegistry::add takes them), called with each typed event, and returns the handle whose
    /// destruction or remove() removes it. On the registry's thread; a non-function gives a QML
    /// warning at the caller's line, null, and registers nothing.
    Q_INVOKABLE rio::HandlerSubscription *add(const QJSValue &handler, int priority = 0,
                                              const QJSValue &options = QJSValue());

Q_SIGNALS:
    /// The number of handlers changed.
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

protected:
    /// A registry of `eventType` events; the typed half attaches its facade.
    QmlTypedRegistry(QMetaType eventType, QObject *parent);
    /// A sender for this registry (the typed half wraps it in a QmlTypedSender).
    [[nodiscard]] QmlTypedSenderBase senderBase() const;

private:
    template <typename E>
    friend class detail::QmlTypedRegistryCore;
    friend class QmlTypedHandler;
    friend class QmlTypedSenderBase;
    friend class LatestModel;

    // Called by the typed half: its facade once it exists, and before it goes.
    void attach(detail::QmlTypedRegistryOps *ops, detail::QmlFacade *facade, QtRegistryBase *facadeBase);
    void detach() noexcept;
    // A QML warning at the JavaScript line that called us (the registry's declaration if none).
    void warnAtCaller(const QString &message) const;

    // Registers the coalesced facade handler that feeds `latest`, once.
    void followLatest();
    // That handler's call: `event` (an EventType) is shown as `latest` at the window's next frame.
    void offerLatest(QVariant event);

    QMetaType m_eventType;
    detail::QmlTypedRegistryOps *m_ops = nullptr; // null once the registry is going
    QtRegistryBase *m_facade = nullptr;
    // The bookkeeping shared with handles, handlers and senders.
    std::shared_ptr<detail::QmlRegistryShared> m_shared;
    std::unique_ptr<detail::FramePacer> m_pacer; // paces `latest` to its window's frames (once followed)
    HandlerId m_latestHandler;                   // the handler feeding `latest`: not counted in `count`
    bool m_addingLatest = false;                 // its registration's count change is not ours
    Q_OBJECT_BINDABLE_PROPERTY(QmlTypedRegistry, QVariant, m_latest, &QmlTypedRegistry::latestChanged)
};

/// The base of every typed handler (RIO_QML_TYPED_REGISTRY's `Name##Handler`): its `registry`,
/// with every other property of RegistryHandler from QmlHandlerBase. The typed half adds the
/// `notified(EventType event)` signal.
class RIO_QML_EXPORT QmlTypedHandler : public rio::QmlHandlerBase
{
    Q_OBJECT
    QML_ANONYMOUS
    /// The typed registry to listen to (of the same event type); changing it re-registers.
    Q_PROPERTY(rio::QmlTypedRegistry *registry READ registry WRITE setRegistry NOTIFY registryChanged FINAL)

public:
    /// Unregisters.
    ~QmlTypedHandler() override;

    /// The registry listened to.
    [[nodiscard]] QmlTypedRegistry *registry() const noexcept { return m_registry; }
    /// Sets the registry (re-registers); one of another event type warns and changes nothing.
    void setRegistry(QmlTypedRegistry *registry);

Q_SIGNALS:
    /// The registry property changed.
    void registryChanged();

protected:
    /// A handler of `eventType` events.
    QmlTypedHandler(QMetaType eventType, QObject *parent);
    /// Emits the typed `notified` signal with `event` (an EventType).
    void emitNotified(const void *event, QJSEngine *engine) override = 0;

private:
    void registerNow() override;
    void handlerReplaced() override { } // the delivery reads it: no re-registration
    void forgetRegistry() override;

    QMetaType m_eventType;
    QPointer<QmlTypedRegistry> m_registry;
};

} // namespace rio
