#pragma once

// Shared between a QmlRegistry, its handles and its senders (private to the QML module).

#include <atomic>
#include <shared_mutex>

namespace rio {
class QmlRegistry;
} // namespace rio

namespace rio::detail {

struct QmlRegistryShared
{
    // Senders notify under a shared lock; the registry's destructor takes it exclusively.
    std::shared_mutex mutex;
    QmlRegistry *registry = nullptr; // null once the registry is being destroyed
    std::atomic<bool> warnedDead{false};

    // The registry, or null. Only on the registry's thread (handles), where it cannot change
    // concurrently.
    QmlRegistry *local() const noexcept { return registry; }
};

} // namespace rio::detail
