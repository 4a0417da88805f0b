// SPDX-License-Identifier: MIT
#include "qml_registry_shared.h"

#include <registryio/qml/qml_handler_base.h>

#include <QJSEngine>
#include <QList>
#include <QQmlEngine>
#include <QQmlError>
#include <QQmlInfo>

namespace rio {

// The QML enum is rio::Overflow by number: QmlDeliverySettings converts with a cast.
static_assert(int(QmlHandlerBase::DropOldest) == int(Overflow::DropOldest) &&
              int(QmlHandlerBase::DropNewest) == int(Overflow::DropNewest) &&
              int(QmlHandlerBase::Block) == int(Overflow::Block));

detail::QmlRunningHandler &detail::runningHandler() noexcept
{
    thread_local QmlRunningHandler running;
    return running;
}

QmlHandlerBase::QmlHandlerBase(QObject *parent) : QObject(parent) { }

QmlHandlerBase::~QmlHandlerBase() = default;

void QmlHandlerBase::setPriority(int priority)
{
    if (m_priority == priority)
        return;
    m_priority = priority;
    reRegister();
    Q_EMIT priorityChanged();
}

void QmlHandlerBase::setEnabled(bool enabled)
{
    if (m_enabled == enabled)
        return;
    m_enabled = enabled;
    if (enabled)
        m_fired = false;
    reRegister();
    Q_EMIT enabledChanged();
}

void QmlHandlerBase::setOnce(bool once)
{
    if (m_once == once)
        return;
    m_once = once;
    m_fired = false;
    reRegister();
    Q_EMIT onceChanged();
}

void QmlHandlerBase::setCoalesce(bool coalesce)
{
    if (m_coalesce == coalesce)
        return;
    m_coalesce = coalesce;
    reRegister();
    Q_EMIT coalesceChanged();
}

void QmlHandlerBase::setCapacity(int capacity)
{
    if (!m_delivery.setCapacity(this, capacity))
        return;
    reRegister();
    Q_EMIT capacityChanged();
}

void QmlHandlerBase::setOverflow(Overflow overflow)
{
    if (!m_delivery.setOverflow(this, int(overflow)))
        return;
    reRegister();
    Q_EMIT overflowChanged();
}

void QmlHandlerBase::setBlockTimeout(int milliseconds)
{
    if (!m_delivery.setBlockTimeout(this, milliseconds))
        return;
    reRegister();
    Q_EMIT blockTimeoutChanged();
}

void QmlHandlerBase::setMinInterval(int milliseconds)
{
    if (!m_delivery.setMinInterval(this, milliseconds))
        return;
    reRegister();
    Q_EMIT minIntervalChanged();
}

void QmlHandlerBase::setHandler(const QJSValue &handler)
{
    const bool clear = handler.isUndefined() || handler.isNull();
    if (!clear && !handler.isCallable()) {
        qmlWarning(this) << "handler must be a function (or null for the notified signal), got "
                         << detail::jsTypeName(handler) << "; the handler is unchanged";
        return;
    }
    if (clear && m_handler.isUndefined())
        return;
    if (!clear && handler.strictlyEquals(m_handler))
        return;
    m_handler = clear ? QJSValue() : handler;
    QJSEngine *engine = qjsEngine(this);
    m_function = clear || engine == nullptr ? QJSManagedValue() : QJSManagedValue(m_handler, engine);
    handlerReplaced();
    Q_EMIT handlerChanged();
}

void QmlHandlerBase::componentComplete()
{
    m_complete = true;
    reRegister();
}

void QmlHandlerBase::dropsReported(quint64 total)
{
    // Totals come from the current registration, possibly out of order (see QmlRegistryShared).
    const quint64 dropped = m_droppedBefore + total;
    if (dropped <= m_dropped)
        return;
    m_dropped = dropped;
    Q_EMIT droppedChanged();
}

void QmlHandlerBase::reRegister()
{
    if (!m_complete)
        return;
    // Unregistering and registering change the registry's count: a binding on it may set one of
    // our properties meanwhile. That asks for one more pass once this one is done, never a
    // nested one (which would leave a registration behind); a binding that keeps changing with
    // every pass gets one more only.
    if (m_reRegistering) {
        m_reRegisterAgain = true;
        return;
    }
    m_reRegistering = true;
    for (int pass = 0; pass < 2; ++pass) {
        m_reRegisterAgain = false;
        reRegisterOnce();
        if (!m_reRegisterAgain)
            break;
    }
    m_reRegistering = false;
}

void QmlHandlerBase::reRegisterOnce()
{
    if (m_handler.isCallable() && !m_function.isFunction()) {
        if (QJSEngine *engine = qjsEngine(this)) // set before the engine was known
            m_function = QJSManagedValue(m_handler, engine);
    }
    const bool wasActive = m_active;
    const quint64 dropped = m_dropped;
    unregister();
    m_droppedBefore = m_dropped; // the next registration counts from here
    if (m_enabled && !(m_once && m_fired))
        registerNow();
    if (wasActive || m_active)
        emitActiveChanged();
    if (m_dropped != dropped)
        Q_EMIT droppedChanged();
}

QString QmlHandlerBase::emitCollectingFailures(QQmlEngine *engine,
                                               void (*emitSignal)(QmlHandlerBase *, const void *),
                                               const void *argument, bool &alive)
{
    // The engine reports what onNotified throws as a warning (with file and line) from inside
    // the emit: one connection per handler, made once, routes it to the running handler.
    if (!m_warningTap)
        m_warningTap = connect(
            engine, &QQmlEngine::warnings, this,
            [this](const QList<QQmlError> &warnings) {
                const detail::QmlRunningHandler &running = detail::runningHandler();
                if (running.handler == this && running.errors != nullptr)
                    *running.errors += warnings;
            },
            Qt::DirectConnection);
    QList<QQmlError> errors;
    detail::QmlRunningHandler &running = detail::runningHandler();
    const detail::QmlRunningHandler outer = running;
    running = {this, &errors};
    bool *const outerAlive = enterDelivery(alive);
    emitSignal(this, argument);
    leaveDelivery(alive, outerAlive);
    running = outer;
    return errors.isEmpty() ? QString() : errors.constFirst().description();
}

} // namespace rio
