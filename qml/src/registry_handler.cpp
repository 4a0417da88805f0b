#include <registryio/registry_handler.h>

#include <QList>
#include <QQmlEngine>
#include <QQmlError>
#include <QQmlInfo>

namespace rio {

namespace {

// The RegistryHandler whose onNotified is running on this thread: engine warnings raised
// meanwhile (a thrown exception, a TypeError) are its failures, not an outer handler's.
thread_local RegistryHandler *t_running = nullptr;

} // namespace

RegistryHandler::RegistryHandler(QObject *parent) : QObject(parent) { }

RegistryHandler::~RegistryHandler()
{
    unregister();
}

void RegistryHandler::setRegistry(QmlRegistry *registry)
{
    if (m_registry == registry)
        return;
    if (m_destroyedConnection)
        disconnect(m_destroyedConnection);
    m_registry = registry;
    if (registry != nullptr)
        m_destroyedConnection =
            connect(registry, &QObject::destroyed, this, &RegistryHandler::registryDestroyed);
    reRegister(false);
    Q_EMIT registryChanged();
}

void RegistryHandler::setPriority(int priority)
{
    if (m_priority == priority)
        return;
    m_priority = priority;
    reRegister(false);
    Q_EMIT priorityChanged();
}

void RegistryHandler::setEnabled(bool enabled)
{
    if (m_enabled == enabled)
        return;
    m_enabled = enabled;
    if (enabled)
        m_fired = false;
    reRegister(false);
    Q_EMIT enabledChanged();
}

void RegistryHandler::setOnce(bool once)
{
    if (m_once == once)
        return;
    m_once = once;
    m_fired = false;
    reRegister(false);
    Q_EMIT onceChanged();
}

void RegistryHandler::setCoalesce(bool coalesce)
{
    if (m_coalesce == coalesce)
        return;
    m_coalesce = coalesce;
    reRegister(false);
    Q_EMIT coalesceChanged();
}

bool RegistryHandler::isActive() const
{
    return m_registeredOn && m_registeredOn->registry().contains(m_id);
}

double RegistryHandler::handlerId() const noexcept
{
    return isActive() ? static_cast<double>(m_id.value()) : 0.0;
}

void RegistryHandler::componentComplete()
{
    m_complete = true;
    reRegister(true);
}

void RegistryHandler::unregister()
{
    if (m_registeredOn)
        m_registeredOn->registry().remove(m_id);
    m_registeredOn.clear();
    m_id = HandlerId{};
}

void RegistryHandler::reRegister(bool warnWithoutRegistry)
{
    if (!m_complete)
        return;
    const bool wasActive = isActive();
    unregister();
    if (m_enabled && !(m_once && m_fired)) {
        if (!m_registry) {
            if (warnWithoutRegistry)
                qmlWarning(this) << "RegistryHandler: no registry is set; nothing is registered until one is";
        } else if (m_registry->thread() != thread()) {
            qmlWarning(this) << "RegistryHandler: the registry lives on another thread; nothing is "
                                "registered";
        } else {
            // The registry is the delivery context: it outlives the deliveries it queued, while
            // this object may die with some pending (its destructor removes the handler first).
            auto deliver = [self = QPointer<RegistryHandler>(this)](const QVariant &event) {
                if (self)
                    self->deliver(event);
            };
            QtRegistry<QVariant> &target = m_registry->registry();
            m_id = m_once ? target.addOnce(m_registry.data(), deliver, m_priority)
                          : target.add(m_registry.data(), deliver, m_priority, Qt::AutoConnection,
                                       m_coalesce ? Delivery::Latest : Delivery::Every);
            m_registeredOn = m_registry;
        }
    }
    if (wasActive || isActive())
        Q_EMIT activeChanged();
}

void RegistryHandler::registryDestroyed()
{
    // The registry cancelled our handler already; forget it.
    m_registeredOn.clear();
    m_id = HandlerId{};
    Q_EMIT registryChanged();
    Q_EMIT activeChanged();
}

void RegistryHandler::deliver(const QVariant &event)
{
    const HandlerId id = m_id;
    const QPointer<QmlRegistry> registry = m_registeredOn;
    if (m_once)
        m_fired = true;

    QList<QQmlError> errors;
    QMetaObject::Connection capture;
    if (QQmlEngine *engine = qmlEngine(this))
        capture = connect(
            engine, &QQmlEngine::warnings, this,
            [this, &errors](const QList<QQmlError> &warnings) {
                if (t_running == this)
                    errors += warnings;
            },
            Qt::DirectConnection);
    RegistryHandler *const outer = t_running;
    t_running = this;
    const QPointer<RegistryHandler> self(this);
    Q_EMIT notified(event);
    t_running = outer;
    if (!self)
        return; // destroyed by its own handler (the capture connection went with it)
    disconnect(capture);
    if (m_once)
        Q_EMIT activeChanged();
    // The engine printed the error with its file and line; the registry learns about it too.
    if (!errors.isEmpty() && registry)
        registry->reportScriptFailure(id, errors.constFirst().description(), QString(), 0, false);
}

} // namespace rio
