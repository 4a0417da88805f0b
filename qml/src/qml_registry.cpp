// SPDX-License-Identifier: MIT
#include "qml_registry_shared.h"

#include <registryio/qml/handler_subscription.h>
#include <registryio/qml/qml_registry.h>
#include <registryio/qt/detail/frame_pacer.h>
#include <registryio/qt/logging.h>

#include <QJSEngine>
#include <QPointer>
#include <QQmlEngine>
#include <QQmlInfo>
#include <QThread>

#include <atomic>
#include <optional>
#include <utility>
#include <vector>

namespace rio {

// The registry's QVariant half, for the bookkeeping: registers targets on the facade and gives
// an event's JavaScript value, made once per notify on the registry's thread.
class QmlRegistry::VariantOps final : public detail::QmlEventOps
{
public:
    explicit VariantOps(QmlRegistry *registry) : m_registry(registry) { }

    HandlerId addTarget(detail::QmlDelivery delivery, const HandlerOptions &options) override
    {
        QObject *const context = delivery.context(m_registry, options);
        return m_registry->m_registry->addDelivery(context, std::move(delivery), options);
    }

    const QList<QJSValue> &scriptArguments(const void *event, QJSEngine *engine) override
    {
        return value.arguments(event, engine);
    }

    detail::QmlNotifyValue value{[](QJSEngine *engine, const void *event) {
        return detail::scriptValue(engine, *static_cast<const QVariant *>(event));
    }};

private:
    QmlRegistry *m_registry;
};

QString QmlRegistry::name() const
{
    return m_registry->objectName();
}

void QmlRegistry::setName(const QString &name)
{
    if (name == m_registry->objectName())
        return;
    m_registry->setObjectName(name);
    Q_EMIT nameChanged();
}

QmlRegistry::QmlRegistry(QObject *parent)
    : QObject(parent), m_shared(std::make_shared<detail::QmlRegistryShared>(this)),
      m_registry(std::make_shared<detail::QmlHeldRegistry<QVariant>>(this)),
      m_ops(std::make_unique<VariantOps>(this))
{
    detail::QmlRegistryShared &shared = *m_shared;
    shared.facade = m_registry.get();
    shared.facadeBase = m_registry.get();
    shared.ops = m_ops.get();
    shared.emitFailed = [](QObject *registry, HandlerId id, const QString &message) {
        Q_EMIT static_cast<QmlRegistry *>(registry)->handlerFailed(static_cast<double>(id.value()), message);
    };
    detail::QmlRegistryShared::connectReports(m_shared, *m_registry);
    connect(m_registry.get(), &QtRegistryBase::countChanged, this, [this] {
        if (m_addingLatest)
            return;
        // The handler feeding `latest` removed from C++ (registry().clear(), remove(id)): it
        // follows again (not while the registry is going: followLatest checks).
        if (m_latestHandler.isValid() && !m_registry->contains(m_latestHandler)) {
            m_latestHandler = HandlerId{};
            followLatest();
        }
        m_countProperty.notify();
        Q_EMIT countChanged();
    });
}

QmlRegistry::~QmlRegistry()
{
    m_shared->close();
}

HandlerSubscription *QmlRegistry::add(const QJSValue &handler, int priority, const QJSValue &options)
{
    return m_shared->addFunction(handler, priority, options, QStringLiteral("QmlRegistry"));
}

namespace {
// QmlRegistry::notify of a QObject on the registry's thread: the JavaScript handlers take it
// guarded, so that a delivery queued on this thread (Latest, minInterval) sees null once it is
// destroyed (destroy() from the notifying JavaScript); the other handlers take it as it is.
// Out of line: the common notify saves the registers.
RIO_COLD void notifyObject(detail::QmlNotifyValue &value, const detail::QmlHeldRegistry<QVariant> &facade,
                           const QVariant &event)
{
    const QVariant guarded =
        QVariant::fromValue(QPointer<QObject>(*static_cast<QObject *const *>(event.constData())));
    const detail::QtPlainCopy<QVariant> asIs{
        [](void *context) -> const QVariant * { return static_cast<const QVariant *>(context); },
        const_cast<QVariant *>(&event)};
    const detail::QmlNotifyValue::Scope scope(value, &guarded, nullptr);
    facade.notifyOnHolderThread(guarded, asIs);
}
} // namespace

void QmlRegistry::notify(const QVariant &event) const
{
    const bool fromJavaScript = event.metaType() == QMetaType::fromType<QJSValue>();
    if (detail::currentQThread() != thread()) {
        // A JavaScript value belongs to its engine's thread.
        if (fromJavaScript) {
            qCWarning(lcRegistryIOQml,
                      "QmlRegistry.notify: a QJSValue event from another thread was dropped; "
                      "send plain QVariant values from C++ threads");
            return;
        }
        m_registry->notify(event);
        return;
    }
    // The facade's dispatch, in a scope: its JavaScript handlers share one value, made once for
    // this notify (the caller's own, as a signal's handlers get it, when JavaScript notifies);
    // the other handlers, and queues, take a plain copy. A handler may destroy us: the facade
    // (whose notify must not outlive it) lives on until this notify ends, and the bookkeeping as
    // long as the deliveries that hold it.
    const std::shared_ptr<detail::QmlHeldRegistry<QVariant>> facade = m_registry;
    if (!fromJavaScript) {
        if (event.metaType().flags().testFlag(QMetaType::PointerToQObject)) [[unlikely]] {
            notifyObject(m_ops->value, *facade, event);
            return;
        }
        const detail::QmlNotifyValue::Scope scope(m_ops->value, &event, nullptr);
        facade->notifyOnHolderThread(event);
        return;
    }
    // Making the copy runs JavaScript (a getter), which may remove a handler, delete one's
    // receiver or this registry: it is made before the dispatch when a handler that takes it is
    // here, lazily (before that handler's checks) only for one added during the notify. What it
    // throws is the caller's error, not a handler's: thrown at the caller after the dispatch, and
    // before it (nothing delivered) when the copy came first.
    struct Plain
    {
        QJSEngine *engine;
        QJSValue value;
        std::optional<QVariant> copy;
        QJSValue error;
    } plain{qjsEngine(this), event.value<QJSValue>(), std::nullopt, QJSValue()};
    const detail::QtPlainCopy<QVariant> copy{[](void *context) -> const QVariant * {
                                                 auto &p = *static_cast<Plain *>(context);
                                                 if (!p.copy) {
                                                     p.copy = p.value.toVariant();
                                                     if (p.engine != nullptr && p.engine->hasError())
                                                         p.error = p.engine->catchError();
                                                 }
                                                 return &*p.copy;
                                             },
                                             &plain};
    bool deliver = true;
    if (facade->holdsForeign()) {
        const std::shared_ptr<detail::QmlRegistryShared> keep = m_shared;
        static_cast<void>(copy.make(&plain));
        deliver = plain.error.isUndefined() && keep->local() != nullptr; // the getter may delete us
    }
    if (deliver) {
        const detail::QmlNotifyValue::Scope scope(m_ops->value, &event, &plain.value);
        facade->notifyOnHolderThread(event, copy);
    }
    if (!plain.error.isUndefined() && plain.engine != nullptr)
        plain.engine->throwError(plain.error);
}

QtRegistry<QVariant> &QmlRegistry::registry()
{
    return *m_registry;
}

bool QmlRegistry::remove(double id)
{
    if (m_latestHandler.isValid() && id == static_cast<double>(m_latestHandler.value()))
        return false;                // `latest`'s own handler: no id given out
    return m_shared->removeById(id); // the facade's removal tells the registration
}

int QmlRegistry::count() const noexcept
{
    return m_registry->count() - (m_latestHandler.isValid() && m_registry->contains(m_latestHandler) ? 1 : 0);
}

QVariant QmlRegistry::latest() const
{
    const_cast<QmlRegistry *>(this)->followLatest(); // a binding's first read starts it
    return m_latest.value();
}

QBindable<QVariant> QmlRegistry::bindableLatest()
{
    followLatest();
    return &m_latest;
}

void QmlRegistry::followLatest()
{
    if (m_latestHandler.isValid() || QThread::currentThread() != thread() || !m_shared->watching)
        return;
    // The facade's coalesced delivery, always queued: one pending delivery at most, the newest
    // event in it, run on this thread from its event loop (a notify here is queued too, so a burst
    // of them changes `latest` once), then shown at the window's next frame. The property
    // notifies only when the value differs.
    if (!m_pacer) {
        m_pacer = std::make_unique<detail::FramePacer>(this, [](QObject *self, const QVariant &event) {
            static_cast<QmlRegistry *>(self)->setLatest(event);
        });
    }
    m_addingLatest = true;
    try {
        m_latestHandler = registry().add(this, [this](const QVariant &event) { m_pacer->offer(event); },
                                         {.connection = Qt::QueuedConnection, .delivery = Delivery::Latest});
    } catch (...) {
        m_addingLatest = false;
        throw;
    }
    m_addingLatest = false;
}

void QmlRegistry::setLatest(const QVariant &event)
{
    // A QObject on this thread shown as `latest` turns it undefined when destroyed: a binding
    // that reads `latest` later never reaches a deleted object (nor takes a new one at its
    // address for the same event).
    disconnect(m_latestObjectGone);
    if (event.metaType().flags().testFlag(QMetaType::PointerToQObject)) {
        QObject *const object = *static_cast<QObject *const *>(event.constData());
        if (object != nullptr && object->thread() == thread())
            m_latestObjectGone =
                connect(object, &QObject::destroyed, this, [this] { m_latest.setValue(QVariant()); });
    }
    m_latest.setValue(event);
}

QmlRegistrySender QmlRegistry::sender() const
{
    return QmlRegistrySender(m_shared);
}

QmlRegistrySender::QmlRegistrySender(std::shared_ptr<detail::QmlRegistryShared> shared) noexcept
    : m_shared(std::move(shared))
{ }

bool QmlRegistrySender::notify(const QVariant &event) const
{
    if (!m_shared)
        return false;
    {
        const detail::OwnerAnchor::Frame frame(m_shared->anchor);
        if (auto *registry = static_cast<QmlRegistry *>(frame.owner())) {
            registry->notify(event);
            return true;
        }
    }
    // Registries die in supported patterns (delegates, loaders): one warning per process says so,
    // not one per registry; isAlive() tells a worker to stop.
    static std::atomic<bool> warned{false};
    if (!m_shared->warnedDead.exchange(true) && !warned.exchange(true))
        qCWarning(lcRegistryIOQml, "QmlRegistrySender::notify: the QmlRegistry was destroyed; its events are "
                                   "dropped (said once per process; QmlRegistrySender::isAlive() tells)");
    return false;
}

bool QmlRegistrySender::isAlive() const
{
    if (!m_shared)
        return false;
    const detail::OwnerAnchor::Frame frame(m_shared->anchor);
    return frame.owner() != nullptr;
}

} // namespace rio
