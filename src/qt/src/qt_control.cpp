// SPDX-License-Identifier: MIT
#include "qt_control.h"

#include "qt_handler_state.h"
#include "qt_mailboxes.h"
#include "qt_trace.h"
#include <registryio/detail/diagnostics.h>

#include <registryio/qt/detail/qt_registrations.h>
#include <registryio/qt/detail/qt_tsan.h>
#include <registryio/qt/logging.h>
#include <registryio/qt/qt_registry_base.h>

#include <QMetaObject>
#include <QString>
#include <QTimer>

#include <chrono>
#include <exception>
#include <new>
#include <stdexcept>

namespace rio::detail {

QtRegistryControl::QtRegistryControl(QtRegistryBase *registry)
    : anchor(registry), mailboxes(std::make_shared<QtMailboxes>())
{ }

void QtRegistryControl::setCallback(
    std::shared_ptr<const std::function<void(const ExceptionInfo &)>> callback) noexcept
{
    std::lock_guard lock(m_callbackMutex);
    m_callback.swap(callback); // the old one goes after the lock is released
}

void QtRegistryControl::reportFailure(const ExceptionInfo &info) noexcept
{
    const OwnerAnchor::Frame frame(anchor);
    if (frame.owner() == nullptr)
        return;
    try {
        std::shared_ptr<const std::function<void(const ExceptionInfo &)>> callback;
        {
            std::lock_guard lock(m_callbackMutex);
            callback = m_callback;
        }
        if (callback)
            (*callback)(info);
    } catch (...) {
    }
    QString message;
    try {
        message = QString::fromStdString(info.message);
        if (auto *registry = static_cast<QtRegistryBase *>(frame.owner())) // the callback may delete it
            Q_EMIT registry->handlerFailed(info.handlerId, message);
    } catch (...) {
    }
    try {
        qCWarning(lcRegistryIO).nospace().noquote()
            << "handler " << info.handlerId.value() << " failed: " << message;
    } catch (...) {
    }
}

void QtRegistryControl::reportCurrentException(HandlerId id) noexcept
{
    ExceptionInfo info{id, {}, std::current_exception()};
    try {
        std::rethrow_exception(info.exception);
    } catch (const std::exception &e) {
        try {
            info.message = e.what();
        } catch (...) {
        }
    } catch (...) {
    }
    reportFailure(info);
}

namespace {

// Logs, on the registry's thread once the second has passed, the drops the warning's rate limit
// left unlogged: the timer starts there (a notifier's thread may have no event loop), and the
// registry outlives it and owns the warning.
void flushDropsLater(DropWarning &warning, QObject *registry, quint64 registryId, qint64 ms) noexcept
{
    const auto flush = [&warning, registry, registryId] {
        const qint64 again = warning.flush(lcRegistryIO(), [registryId] {
            const auto records = diag::collect(registryId, false);
            return QStringLiteral("registry %1 \"%2\"")
                .arg(registryId)
                .arg(records.empty() ? QString() : QString::fromStdString(records.front().name));
        });
        if (again != 0)
            flushDropsLater(warning, registry, registryId, again);
    };
    try {
        [[maybe_unused]] const TsanPostScope posting;
        QMetaObject::invokeMethod(registry, Handover([registry, ms, flush] {
                                      QTimer::singleShot(std::chrono::milliseconds(ms), registry, flush);
                                  }),
                                  Qt::QueuedConnection);
    } catch (...) {
    }
}

} // namespace

void QtRegistryControl::reportDropped(QtHandlerState &handler, std::uint64_t n, std::uint64_t total,
                                      bool signal, DropReason reason) noexcept
{
    quint64 registryId = 0;
    {
        const OwnerAnchor::Frame frame(anchor);
        auto *registry = static_cast<QtRegistryBase *>(frame.owner());
        if (registry != nullptr)
            registryId = registry->registryId();
        if (registry != nullptr && signal) {
            try {
                Q_EMIT registry->deliveriesDropped(handler.id, total);
            } catch (...) {
            }
        }
    }
    const char *why = dropReasonText(reason);
    // Overflow and suspension are logged at most once a second per registry (a flood must not
    // become a flood of warnings); a removal's drops, once each.
    const qint64 flushIn = m_dropWarning.warn(
        lcRegistryIO(), reason == DropReason::Overflow || reason == DropReason::Suspended, n, total,
        [&] { return describeHandler(registryId, handler); }, [why] { return why; });
    if (flushIn != 0) {
        const OwnerAnchor::Frame frame(anchor);
        if (auto *registry = static_cast<QtRegistryBase *>(frame.owner()))
            flushDropsLater(m_dropWarning, registry, registryId, flushIn);
    }
}

bool QtRegistryControl::remove(HandlerId id, bool cancel) noexcept
{
    const OwnerAnchor::Frame frame(anchor);
    auto *registry = static_cast<QtRegistryBase *>(frame.owner());
    return registry != nullptr && QtRegistryBase::removeThroughControl(*registry, id, cancel);
}

void QtRegistryControl::settle(HandlerId id) noexcept
{
    QtRegistrations::Entry entry; // destroyed after the frame: the closure's destructor is user code
    const OwnerAnchor::Frame frame(anchor);
    if (auto *registry = static_cast<QtRegistryBase *>(frame.owner()))
        entry = registry->m_diagRegistrations->settle(id);
}

void QtRegistryControl::waitForRunningDeliveries() const noexcept
{
    // Each generation in turn is made the old one (new deliveries count in the other) and
    // waited for; a delivery that started before the call is in one of them.
    auto &self = const_cast<QtRegistryControl &>(*this);
    for (int round = 0; round < 2; ++round) {
        const auto old = static_cast<unsigned>(self.generation.fetch_add(1, std::memory_order_seq_cst) & 1);
        const long own = ThreadFrame::count<DeliveryFrame>(
            [&](const DeliveryFrame &f) { return &f.control == this && f.parity == old; });
        waitUntil([&] { return running[old].load(std::memory_order_seq_cst) <= own; });
    }
}

DeliveryFrame::DeliveryFrame(QtHandlerState &h) noexcept
    : ThreadFrame(frameKind), handler(h), control(*h.control),
      parity(static_cast<unsigned>(control.generation.load(std::memory_order_seq_cst) & 1))
{
    control.running[parity].fetch_add(1, std::memory_order_seq_cst);
    handler.running.fetch_add(1, std::memory_order_seq_cst);
}

DeliveryFrame::~DeliveryFrame()
{
    handler.running.fetch_sub(1, std::memory_order_seq_cst);
    control.running[parity].fetch_sub(1, std::memory_order_seq_cst);
}

} // namespace rio::detail
