// SPDX-License-Identifier: MIT
// The QObject half of QtRegistry<E>: its control block, guard link and failure reporting.
#include "qt_control.h"
#include "qt_mailboxes.h"

#include <registryio/detail/registry_link.h>
#include <registryio/qt/qt_registry_base.h>

#include <QMetaType>

#include <climits>
#include <stdexcept>
#include <utility>

namespace rio {

namespace {

// Runs once per process: HandlerId is known to QMetaType by name for queued connections.
const int handlerIdMetaType = qRegisterMetaType<rio::HandlerId>("rio::HandlerId");

} // namespace

QtRegistryBase::QtRegistryBase(QObject *parent)
    : QObject(parent), m_control(std::make_shared<detail::QtRegistryControl>(this)),
      m_link(std::make_shared<detail::RegistryLink>(this))
{
    static_cast<void>(handlerIdMetaType);
    m_link->removeFn = &QtRegistryBase::removeThroughLink;
    m_link->containsFn = &QtRegistryBase::containsThroughLink;
#if RIO_QT_TRACING
    // Tracepoints name the registry on any thread: they read this copy, never the QObject.
    connect(this, &QObject::objectNameChanged, this,
            [control = m_control.get()](const QString &name) { control->setTraceName(name); });
#endif
}

QtRegistryBase::~QtRegistryBase()
{
    detachShared();
}

int QtRegistryBase::count() const noexcept
{
    const std::size_t n = handlerCount();
    return n > static_cast<std::size_t>(INT_MAX) ? INT_MAX : static_cast<int>(n);
}

void QtRegistryBase::setExceptionHandler(std::function<void(const ExceptionInfo &)> callback)
{
    if (!callback)
        throw std::invalid_argument("rio::QtRegistry::setExceptionHandler: the callback is empty");
    m_control->setCallback(
        std::make_shared<const std::function<void(const ExceptionInfo &)>>(std::move(callback)));
}

void QtRegistryBase::clearExceptionHandler()
{
    m_control->setCallback(nullptr);
}

void QtRegistryBase::shareDeliveryOrderWith(QtRegistryBase &other) noexcept
{
    m_control->mailboxes = other.m_control->mailboxes;
}

void QtRegistryBase::reportFailure(const ExceptionInfo &info) noexcept
{
    // Through the control block, which outlives us: the callback may delete this registry.
    const std::shared_ptr<detail::QtRegistryControl> control = m_control;
    control->reportFailure(info);
}

void QtRegistryBase::synchronizeQueued() const noexcept
{
    m_control->waitForRunningDeliveries();
}

std::size_t QtRegistryBase::mailboxCountForTesting() const
{
    return m_control->mailboxes->boxCount();
}

void QtRegistryBase::detachShared() noexcept
{
    detachDiagnostics();
    if (m_link)
        m_link->detach();
    if (m_control)
        m_control->anchor.detach();
}

bool QtRegistryBase::removeThroughLink(void *registry, HandlerId id) noexcept
{
    return static_cast<QtRegistryBase *>(registry)->removeHandler(id, true);
}

bool QtRegistryBase::containsThroughLink(void *registry, HandlerId id) noexcept
{
    return static_cast<const QtRegistryBase *>(registry)->containsHandler(id);
}

bool QtRegistryBase::removeThroughControl(QtRegistryBase &registry, HandlerId id, bool cancel) noexcept
{
    return registry.removeHandler(id, cancel);
}

} // namespace rio
