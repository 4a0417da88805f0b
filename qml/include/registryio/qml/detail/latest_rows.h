// SPDX-License-Identifier: MIT
#pragma once

// The writers' side of a LatestModel, as its handlers reach it. Not part of the public API.

#include <registryio/qml/qml_export.h>

#include <QString>
#include <QVariant>

#include <type_traits>
#include <utility>

namespace rio::detail {

/// A LatestModel's newest value per key waiting for its next frame (latest_model.cpp).
struct LatestRows;

/// Writes `value` as the newest of `key` into `rows` (any thread): a LatestModel handler's call.
/// An invalid key drops it (one warning per model).
RIO_QML_EXPORT void latestRowsWrite(LatestRows &rows, QVariant key, QVariant value);
/// The same for an `int` key, found without making it a QVariant (only a new key becomes one).
RIO_QML_EXPORT void latestRowsWrite(LatestRows &rows, int key, QVariant value);
/// The same for a string key, found without making it a QVariant (only a new key becomes one).
RIO_QML_EXPORT void latestRowsWrite(LatestRows &rows, const QString &key, QVariant value);

/// The key `keyOf` gives as latestRowsWrite takes it: an int or a string as such, else a QVariant.
template <typename K>
decltype(auto) latestKey(K &&key)
{
    if constexpr (std::is_same_v<std::remove_cvref_t<K>, int> ||
                  std::is_same_v<std::remove_cvref_t<K>, QString>)
        return std::forward<K>(key);
    else
        return QVariant::fromValue(std::forward<K>(key));
}

} // namespace rio::detail
