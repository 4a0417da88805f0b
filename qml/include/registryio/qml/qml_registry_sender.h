// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/qml/qml_export.h>

#include <QVariant>

#include <memory>

namespace rio {

namespace detail {
struct QmlRegistryShared;
} // namespace detail

/// A copyable, thread-safe reference to a QmlRegistry that may outlive it: C++ worker threads
/// keep one instead of a raw pointer to a registry that QML owns.
class RIO_QML_EXPORT QmlRegistrySender
{
public:
    /// An empty sender: notify() returns false.
    QmlRegistrySender() noexcept = default;

    /// Notifies the registry (see QmlRegistry::notify) and returns true; when the registry was
    /// destroyed, drops the event, warns once in the `registryio.qml` category and returns false.
    /// Do not destroy the registry from a C++ handler that this call runs directly.
    // NOLINTNEXTLINE(modernize-use-nodiscard): fire-and-forget is the common use
    bool notify(const QVariant &event) const;

    /// True while the registry lives.
    [[nodiscard]] bool isAlive() const;

private:
    friend class QmlRegistry;
    explicit QmlRegistrySender(std::shared_ptr<detail::QmlRegistryShared> shared) noexcept;

    std::shared_ptr<detail::QmlRegistryShared> m_shared;
};

} // namespace rio
