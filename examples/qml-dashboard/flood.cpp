// SPDX-License-Identifier: MIT
#include "flood.h"

#include <algorithm>
#include <cmath>
#include <utility>

std::int64_t nowNs()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

Receiver::Receiver(std::function<void(const Sample &)> work) : m_work(std::move(work))
{
    if (m_work)
        return;
    m_thread.setObjectName(QStringLiteral("receiver"));
    moveToThread(&m_thread);
    m_thread.start();
}

Receiver::~Receiver()
{
    m_thread.quit();
    m_thread.wait();
}

void Receiver::take(const Sample &sample)
{
    if (m_work) {
        m_work(sample);
    } else {
        const auto done = std::chrono::steady_clock::now() + kUpdateCost;
        while (std::chrono::steady_clock::now() < done) {
            // the update's work
        }
    }
    std::atomic<std::int64_t> &shown = shownSeq.at(static_cast<std::size_t>(sample.worker));
    if (sample.seq <= shown.load(std::memory_order_relaxed))
        inOrder.store(false, std::memory_order_relaxed);
    shown.store(sample.seq, std::memory_order_relaxed);
    latencyNs.store(nowNs() - sample.publishedNs, std::memory_order_relaxed);
    handled.fetch_add(1, std::memory_order_release);
}

namespace {
constexpr int kTickersPerWorker = kTickers / Receiver::kWorkers;
} // namespace

int tickerOf(const Sample &sample)
{
    return int((sample.seq - 1) % kTickersPerWorker) * Receiver::kWorkers + sample.worker;
}

qint64 newestSeqOf(int ticker, qint64 published)
{
    const qint64 first = ticker / Receiver::kWorkers + 1; // its worker's first event for it
    return published < first ? 0 : first + (published - first) / kTickersPerWorker * kTickersPerWorker;
}

Flood::Flood(Receiver *qtSide, Receiver *registrySide, Receiver *uiSide) : m_qtSide(qtSide), m_uiSide(uiSide)
{
    if (uiSide != nullptr)
        connect(this, &Flood::sampledOnUi, uiSide, &Receiver::take, Qt::QueuedConnection);
    if (qtSide == nullptr || registrySide == nullptr)
        return;
    // The Qt way: one queued signal per event, each one waits in the receiver's event queue.
    connect(this, &Flood::sampled, qtSide, &Receiver::take, Qt::QueuedConnection);
    // The registry way: the same slot, coalesced: at most one pending delivery, the newest wins.
    registry.add(registrySide, &Receiver::take,
                 {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
}

Flood::~Flood()
{
    stop();
}

void Flood::setRate(int perWorker)
{
    m_rate.store(std::clamp(perWorker, 0, kMaxRate), std::memory_order_relaxed);
}

void Flood::setUiFlood(bool on)
{
    m_uiFlood.store(on && m_uiSide != nullptr, std::memory_order_relaxed);
}

void Flood::start()
{
    for (int w = 0; w < Receiver::kWorkers; ++w)
        m_workers.emplace_back([this, w](const std::stop_token &stop) { run(w, stop); });
}

void Flood::stop()
{
    for (std::jthread &w : m_workers)
        w.request_stop();
    m_workers.clear(); // joins
}

std::int64_t Flood::qtQueued() const
{
    const std::int64_t handled = m_qtSide != nullptr ? m_qtSide->handled.load(std::memory_order_acquire) : 0;
    return qtEmitted.load(std::memory_order_acquire) - handled;
}

std::int64_t Flood::uiQueued() const
{
    const std::int64_t handled = m_uiSide != nullptr ? m_uiSide->handled.load(std::memory_order_acquire) : 0;
    return uiEmitted.load(std::memory_order_acquire) - handled;
}

void Flood::publish(const Sample &sample)
{
    if (m_uiFlood.load(std::memory_order_relaxed)) {
        if (uiQueued() < kUiCap) {
            uiEmitted.fetch_add(1, std::memory_order_release);
            Q_EMIT sampledOnUi(sample);
        } else {
            uiSkipped.fetch_add(1, std::memory_order_relaxed);
        }
    }
    if (qtQueued() < kQtCap) {
        qtEmitted.fetch_add(1, std::memory_order_release);
        Q_EMIT sampled(sample);
    } else {
        qtSkipped.fetch_add(1, std::memory_order_relaxed);
    }
    registry.notify(sample);
}

// Publishes in one batch per millisecond until stopped: worker 0 steadily at the set rate, worker 1
// in bursts (0.1 to 1.9 times the set rate, on a 10 s cycle).
void Flood::run(int worker, const std::stop_token &stop)
{
    using namespace std::chrono;
    constexpr double twoPi = 6.283185307179586;
    std::atomic<std::int64_t> &seq = published.at(static_cast<std::size_t>(worker));
    double budget = 0;
    const auto begin = steady_clock::now();
    for (auto tick = begin; !stop.stop_requested();) {
        const double phase = duration<double>(tick - begin).count() / 10.0;
        const double rate = m_rate.load(std::memory_order_relaxed) *
                            (worker == 0 ? 1.0 : 1.0 + 0.9 * std::sin(twoPi * phase));
        budget = std::min(budget + rate / 1000.0, rate / 100.0); // a late tick catches up 10 ms at most
        const auto batch = static_cast<std::int64_t>(budget);
        budget -= double(batch);
        for (std::int64_t i = 0; i < batch; ++i) {
            publish({worker, seq.load(std::memory_order_relaxed) + 1, nowNs()});
            seq.fetch_add(1, std::memory_order_release);
        }
        tick += milliseconds(1);
        std::this_thread::sleep_until(tick);
        tick = std::max(tick, steady_clock::now() - milliseconds(10));
    }
}
