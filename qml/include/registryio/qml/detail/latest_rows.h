// SPDX-License-Identifier: MIT
#pragma once

// The writers' side of a LatestModel, as its handlers reach it. Not part of the public API.

#include <registryio/qml/qml_export.h>

#include <QVariant>

namespace rio::detail {

/// A LatestModel's newest value per key waiting for its next frame (latest_model.cpp).
struct LatestRows;

/// Writes `value` as the newest of `key` into `rows` (any thread): a LatestModel handler's call.
/// An invalid key drops it (one warning per model).
RIO_QML_EXPORT void latestRowsWrite(LatestRows &rows, QVariant key, QVariant value);

} // namespace rio::detail
