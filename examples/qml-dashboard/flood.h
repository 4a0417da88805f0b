// SPDX-License-Identifier: MIT
// The flood the dashboard compares: worker threads publish Samples, and each Sample reaches two
// identical Receivers, one through a Qt queued signal and one through a coalesced registry
// handler (rio::Delivery::Latest). Each Sample also updates one key of a table of kTickers keys.
#pragma once

#include <registryio/qt/qt_registry.h>

#include <QObject>
#include <QThread>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <stop_token>
#include <thread>
#include <vector>

/// One published event: which worker, its sequence number (from 1) and when it was published.
/// A gadget: a LatestModel shows its properties as roles.
struct Sample
{
    Q_GADGET
    Q_PROPERTY(int worker MEMBER worker FINAL)
    Q_PROPERTY(qint64 seq MEMBER seq FINAL)

public:
    int worker = 0;
    qint64 seq = 0;
    qint64 publishedNs = 0;
};

/// Steady-clock time in nanoseconds.
std::int64_t nowNs();

/// Stands for the UI thread of an application: it runs in a thread of its own, and every update
/// it takes costs it kUpdateCost of work (a model update and a re-layout, say). The Qt side and
/// the registry side each get one, identical. One more lives on the real UI thread, where each
/// update is real work: a table's row.
class Receiver : public QObject
{
    Q_OBJECT

public:
    static constexpr int kWorkers = 2;
    static constexpr auto kUpdateCost = std::chrono::microseconds(20);

    /// Without `work`, starts the receiving thread (this object moves to it), each update costing
    /// kUpdateCost; with it, takes the updates on the current thread, each one being `work`.
    explicit Receiver(std::function<void(const Sample &)> work = {});
    /// Stops and joins the receiving thread, if it has one.
    ~Receiver() override;
    Receiver(const Receiver &) = delete;
    Receiver &operator=(const Receiver &) = delete;

    /// The slot both routes deliver to: the update's work, then its latency is recorded.
    void take(const Sample &sample);

    std::atomic<std::int64_t> handled{0};   ///< updates taken
    std::atomic<std::int64_t> latencyNs{0}; ///< publish-to-updated time of the newest update
    std::array<std::atomic<std::int64_t>, kWorkers> shownSeq{}; ///< newest seq shown, per worker
    std::atomic<bool> inOrder{true};                            ///< seqs only ever increased

private:
    std::function<void(const Sample &)> m_work;
    QThread m_thread;
};

/// The keyed table: kTickers keys, each worker's events cycling through its own share of them.
inline constexpr int kTickers = 5000;
/// The key (0 to kTickers - 1) that `sample` updates.
int tickerOf(const Sample &sample);
/// The seq of the newest event of key `ticker` once its worker published `published` events (0:
/// none yet).
qint64 newestSeqOf(int ticker, qint64 published);

/// The workers and both routes, and optionally a Qt route to the UI thread. A Qt route stops
/// emitting while its cap of events is queued.
class Flood : public QObject
{
    Q_OBJECT

public:
    static constexpr int kMaxRate = 200'000;       ///< events per second per worker, at most
    static constexpr std::int64_t kQtCap = 50'000; ///< queued Qt signals, at most
    static constexpr std::int64_t kUiCap = 10'000; ///< queued Qt signals to the UI thread, at most

    /// Connects `qtSide` through a queued signal and `registrySide` through a coalesced handler
    /// (nothing when either is null), and `uiSide` (if not null) through a queued signal that
    /// setUiFlood() turns on.
    Flood(Receiver *qtSide, Receiver *registrySide, Receiver *uiSide = nullptr);
    /// Stops the workers.
    ~Flood() override;
    Flood(const Flood &) = delete;
    Flood &operator=(const Flood &) = delete;

    /// Sets the rate of each worker (events per second, clamped to [0, kMaxRate]); the second
    /// worker publishes in bursts around it.
    void setRate(int perWorker);
    /// Turns the Qt route to the UI-thread receiver on or off.
    void setUiFlood(bool on);
    /// Starts the workers.
    void start();
    /// Stops and joins the workers.
    void stop();
    /// Publishes one event through both routes (any thread).
    void publish(const Sample &sample);

    /// Queued Qt signals not yet taken.
    [[nodiscard]] std::int64_t qtQueued() const;
    /// Queued Qt signals to the UI thread not yet taken.
    [[nodiscard]] std::int64_t uiQueued() const;

    std::array<std::atomic<std::int64_t>, Receiver::kWorkers> published{}; ///< newest seq, per worker
    std::atomic<std::int64_t> qtEmitted{0};                                ///< signals emitted
    std::atomic<std::int64_t> qtSkipped{0}; ///< events the Qt route skipped at the cap
    std::atomic<std::int64_t> uiEmitted{0}; ///< signals emitted to the UI thread
    std::atomic<std::int64_t> uiSkipped{0}; ///< events the UI route skipped at its cap
    rio::QtRegistry<Sample> registry;       ///< the registry route

Q_SIGNALS:
    /// The Qt route: emitted on the worker threads, queued to the Qt-side receiver.
    void sampled(const Sample &sample);
    /// The Qt route to the UI thread, while setUiFlood(true).
    void sampledOnUi(const Sample &sample);

private:
    void run(int worker, const std::stop_token &stop);

    Receiver *m_qtSide;
    Receiver *m_uiSide;
    std::atomic<int> m_rate{0};
    std::atomic<bool> m_uiFlood{false};
    std::vector<std::jthread> m_workers;
};
