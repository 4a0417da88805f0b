// SPDX-License-Identifier: MIT
#include "qml_registry_shared.h"

#include <registryio/qml/handler_subscription.h>
#include <registryio/qml/qml_typed_handler.h>
#include <registryio/qml/qml_typed_registry.h>
#include <registryio/qt/detail/frame_pacer.h>
#include <registryio/qt/logging.h>
#include <registryio/qt/qt_registry_base.h>

#include <QJSValueIterator>
#include <QMetaProperty>
#include <QQmlInfo>
#include <QThread>

#include <atomic>
#include <utility>

namespace rio {

QmlTypedRegistry::QmlTypedRegistry(QMetaType eventType, QObject *parent)
    : QObject(parent), m_eventType(eventType), m_shared(std::make_shared<detail::QmlRegistryShared>(this))
{ }

QmlTypedRegistry::~QmlTypedRegistry()
{
    detach(); // done already by the typed half; harmless again
}

QString QmlTypedRegistry::name() const
{
    return m_facade != nullptr ? m_facade->objectName() : QString();
}

void QmlTypedRegistry::setName(const QString &name)
{
    if (m_facade == nullptr || name == m_facade->objectName())
        return;
    m_facade->setObjectName(name);
    Q_EMIT nameChanged();
}

void QmlTypedRegistry::attach(detail::QmlTypedRegistryOps *ops, detail::QmlFacade *facade,
                              QtRegistryBase *facadeBase)
{
    m_ops = ops;
    m_facade = facadeBase;
    detail::QmlRegistryShared &shared = *m_shared;
    shared.facade = facade;
    shared.facadeBase = facadeBase;
    shared.ops = ops;
    shared.emitFailed = [](QObject *registry, HandlerId id, const QString &message) {
        Q_EMIT static_cast<QmlTypedRegistry *>(registry)->handlerFailed(static_cast<double>(id.value()),
                                                                        message);
    };
    detail::QmlRegistryShared::connectReports(m_shared, *facadeBase);
    connect(facadeBase, &QtRegistryBase::countChanged, this, [this] {
        if (m_addingLatest)
            return;
        // As QmlRegistry: the handler feeding `latest` removed from C++ follows again.
        if (m_latestHandler.isValid() &&
            (m_shared->facade == nullptr || !m_shared->facade->holds(m_latestHandler))) {
            m_latestHandler = HandlerId{};
            followLatest();
        }
        Q_EMIT countChanged();
    });
}

void QmlTypedRegistry::detach() noexcept
{
    // Handlers go first, which wakes senders waiting for room in their queues; then senders'
    // notifies in progress on other threads finish (see QmlRegistryShared::close).
    m_shared->close();
    m_ops = nullptr;
}

HandlerSubscription *QmlTypedRegistry::add(const QJSValue &handler, int priority, const QJSValue &options)
{
    return m_shared->addFunction(handler, priority, options, QLatin1String(metaObject()->className()));
}

QmlTypedSenderBase QmlTypedRegistry::senderBase() const
{
    return QmlTypedSenderBase(m_shared);
}

QmlTypedSenderBase::QmlTypedSenderBase(std::shared_ptr<detail::QmlRegistryShared> state) noexcept
    : m_state(std::move(state))
{ }

bool QmlTypedSenderBase::notifyErased(const void *event) const
{
    if (!m_state)
        return false;
    {
        const detail::OwnerAnchor::Frame frame(m_state->anchor);
        if (auto *registry = static_cast<QmlTypedRegistry *>(frame.owner())) {
            registry->m_ops->notifyEvent(event);
            return true;
        }
    }
    // One warning per process (see QmlRegistrySender::notify); isAlive() tells a worker to stop.
    static std::atomic<bool> warned{false};
    if (!m_state->warnedDead.exchange(true) && !warned.exchange(true))
        qCWarning(lcRegistryIOQml, "QmlTypedSender::notify: the typed registry was destroyed; its events are "
                                   "dropped (said once per process; QmlTypedSender::isAlive() tells)");
    return false;
}

bool QmlTypedSenderBase::isAlive() const
{
    if (!m_state)
        return false;
    const detail::OwnerAnchor::Frame frame(m_state->anchor);
    return frame.owner() != nullptr;
}

int QmlTypedRegistry::count() const noexcept
{
    if (m_facade == nullptr)
        return 0;
    const bool latest =
        m_latestHandler.isValid() && m_shared->facade != nullptr && m_shared->facade->holds(m_latestHandler);
    return m_facade->count() - (latest ? 1 : 0);
}

QVariant QmlTypedRegistry::latest() const
{
    const_cast<QmlTypedRegistry *>(this)->followLatest(); // a binding's first read starts it
    return m_latest.value();
}

QBindable<QVariant> QmlTypedRegistry::bindableLatest()
{
    followLatest();
    return &m_latest;
}

void QmlTypedRegistry::offerLatest(QVariant event)
{
    m_pacer->offer(std::move(event));
}

void QmlTypedRegistry::followLatest()
{
    if (m_latestHandler.isValid() || m_ops == nullptr || QThread::currentThread() != thread() ||
        !m_shared->watching)
        return;
    // As QmlRegistry::followLatest: the facade's coalesced delivery, always queued, shown at the
    // window's next frame.
    if (!m_pacer) {
        m_pacer = std::make_unique<detail::FramePacer>(this, [](QObject *self, const QVariant &event) {
            static_cast<QmlTypedRegistry *>(self)->m_latest.setValue(event);
        });
    }
    m_addingLatest = true;
    try {
        m_latestHandler = m_ops->addLatest();
    } catch (...) {
        m_addingLatest = false;
        throw;
    }
    m_addingLatest = false;
}

bool QmlTypedRegistry::remove(double id)
{
    if (m_latestHandler.isValid() && id == static_cast<double>(m_latestHandler.value()))
        return false;                // `latest`'s own handler: no id given out
    return m_shared->removeById(id); // the facade's removal tells the registration
}

void QmlTypedRegistry::warnAtCaller(const QString &message) const
{
    detail::warnAtCaller(this, message);
}

bool detail::qmlGadgetFromObject(const QJSValue &object, const QMetaObject &mo, void *out)
{
    bool any = false;
    for (QJSValueIterator it(object); it.hasNext();) {
        it.next();
        const QString key = it.name();
        // The most derived property of that name first, as QMetaObject::indexOfProperty finds it.
        int index = mo.propertyCount() - 1;
        for (; index >= 0; --index)
            if (key == QLatin1StringView(mo.property(index).name()))
                break;
        if (index < 0 || !mo.property(index).writeOnGadget(out, it.value().toVariant()))
            return false;
        any = true;
    }
    return any;
}

QmlTypedHandler::QmlTypedHandler(QMetaType eventType, QObject *parent)
    : QmlHandlerBase(parent), m_eventType(eventType)
{ }

QmlTypedHandler::~QmlTypedHandler()
{
    leaveRegistry();
}

void QmlTypedHandler::setRegistry(QmlTypedRegistry *registry)
{
    if (m_registry == registry)
        return;
    if (registry != nullptr && registry->eventType() != m_eventType) {
        qmlWarning(this) << "the registry carries " << registry->eventType().name()
                         << " events, this handler takes " << m_eventType.name()
                         << "; the registry is unchanged";
        return;
    }
    if (registry != nullptr && !registry->m_shared->watching) {
        qmlWarning(this) << "the registry is being destroyed; the registry is unchanged";
        return;
    }
    watchRegistry(registry, registry != nullptr ? registry->m_shared : nullptr);
    m_registry = registry;
    reRegister();
    Q_EMIT registryChanged();
}

void QmlTypedHandler::registerNow()
{
    if (!m_registry)
        return;
    if (m_registry->thread() != thread())
        qmlWarning(this) << "the registry lives on another thread; nothing is registered";
    else
        registerWith(m_registry->m_shared);
}

void QmlTypedHandler::forgetRegistry()
{
    m_registry.clear();
    Q_EMIT registryChanged();
}

} // namespace rio
