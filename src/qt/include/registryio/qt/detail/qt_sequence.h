// SPDX-License-Identifier: MIT
#pragma once

// notifySequential's state: the gathered handlers run one after the other, each when the
// previous one (and its future, or its queued delivery) finished. Not part of the public API.

#include <registryio/detail/config.h>
#include <registryio/qt/detail/qt_async.h>
#include <registryio/qt/detail/qt_delivery.h>
#include <registryio/qt/detail/qt_handler.h>

#include <QPromise>

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#if defined(__GLIBCXX__)
#include <cxxabi.h>
#endif

namespace rio::detail {

template <typename E>
struct QtSequence : std::enable_shared_from_this<QtSequence<E>>
{
    enum Phase : int { Starting, Waiting, Done };

    struct Step final : AsyncOp
    {
        explicit Step(std::shared_ptr<QtSequence> s) : sequence(std::move(s)) { }
        ~Step() override
        {
            int expected = Starting;
            if (sequence->phase.compare_exchange_strong(expected, Done))
                return; // finished while being started: the starter goes on
            sequence->advance();
        }
        std::shared_ptr<QtSequence> sequence;
    };

    QtSequence(std::vector<std::shared_ptr<QtHandler<E>>> s, std::shared_ptr<const E> event)
        : steps(std::move(s))
    {
        env.shared = std::move(event);
        env.event = env.shared.get();
        promise.start();
    }

    // Starts the next steps until one is still running. Thread cancellation inside a step
    // passes through (as through a Qt slot); any other exception is that handler's failure.
    void advance()
    {
        for (;;) {
            if (next == steps.size()) {
                promise.finish();
                return;
            }
            std::shared_ptr<QtHandler<E>> h = steps[next++];
            phase.store(Starting);
            {
                AsyncToken token = std::make_shared<Step>(this->shared_from_this());
                std::optional<QtOnceSettle> settle; // notifySequential spent it
                if (h->core->once)
                    settle.emplace(*h->core);
                try {
                    deliver<true>(h, env, token);
#if defined(__GLIBCXX__)
                } catch (const abi::__forced_unwind &) {
                    throw;
#endif
                } catch (...) {
                    h->core->reportCurrentException();
                }
            }
            int expected = Starting;
            if (phase.compare_exchange_strong(expected, Waiting))
                return; // the step's last reference advances
        }
    }

    std::vector<std::shared_ptr<QtHandler<E>>> steps;
    QtEnvelope<E> env;
    QPromise<void> promise;
    std::size_t next = 0;
    std::atomic<int> phase{Starting};
};

} // namespace rio::detail
