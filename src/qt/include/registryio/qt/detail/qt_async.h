// SPDX-License-Identifier: MIT
#pragma once

// The async joins of QtRegistry<E>: what keeps notifyAsync's future open, and the watch of a
// handler's returned future. Not part of the public API.

#include <registryio/handler_id.h>
#include <registryio/qt/qt_export.h>

#include <QFuture>
#include <QPromise>

#include <memory>

namespace rio::detail {

struct QtRegistryControl;

// Keeps an async notify (or one step of a sequential one) open while referenced: the last
// reference to go completes it.
struct AsyncOp
{
    virtual ~AsyncOp() = default;
};
using AsyncToken = std::shared_ptr<AsyncOp>;

// The token of a notify that nobody joins.
inline const AsyncToken noAsyncToken{};

// notifyAsync's join: finishes the promise when the last piece of work lets go.
struct RIO_QT_EXPORT AsyncJoin final : AsyncOp
{
    AsyncJoin();
    ~AsyncJoin() override;
    QPromise<void> promise;
};

// Watches a handler's QFuture: reports its failure as `id`'s and holds `token` until it finishes.
RIO_QT_EXPORT void trackFuture(const QFuture<void> &future, HandlerId id,
                               std::shared_ptr<QtRegistryControl> control, AsyncToken token);

} // namespace rio::detail
