// SPDX-License-Identifier: MIT
#include "monitor.h"

#include "ticker_table.h"

#include <QCoreApplication>
#include <QFile>

#include <malloc.h>
#include <unistd.h>

#include <algorithm>

// Heap bytes in use by this thread's arena (the main thread's, before any other thread runs).
namespace {

qint64 heapInUse()
{
    return static_cast<qint64>(mallinfo2().uordblks);
}

} // namespace

qint64 residentBytes()
{
    QFile statm(QStringLiteral("/proc/self/statm"));
    if (!statm.open(QIODevice::ReadOnly))
        return 0;
    const QList<QByteArray> fields = statm.readAll().split(' ');
    return fields.size() > 1 ? fields[1].toLongLong() * sysconf(_SC_PAGESIZE) : 0;
}

QueueCosts measureQueueCosts()
{
    constexpr int n = 2000;
    QueueCosts costs;
    // This thread runs no event loop yet: what is posted to `target` stays queued.
    {
        Flood flood(nullptr, nullptr);
        QObject target;
        QObject::connect(&flood, &Flood::sampled, &target, [](const Sample &) { }, Qt::QueuedConnection);
        const qint64 before = heapInUse();
        for (int i = 1; i <= n; ++i)
            Q_EMIT flood.sampled({0, i, 0});
        costs.perQueuedSignal = (heapInUse() - before) / n;
        QCoreApplication::removePostedEvents(&target);
    }
    {
        Flood flood(nullptr, nullptr);
        QObject target;
        const rio::HandlerId id =
            flood.registry.add(&target, [](const Sample &) { },
                               {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest});
        const qint64 before = heapInUse();
        for (int i = 1; i <= n; ++i)
            flood.registry.notify({0, i, 0});
        costs.perPendingLatest = heapInUse() - before; // one pending delivery, however many notifies
        // It runs before its handler goes: a removal drops a pending delivery, and reports it.
        QCoreApplication::sendPostedEvents();
        flood.registry.remove(id);
        QCoreApplication::removePostedEvents(&target);
    }
    return costs;
}

Monitor::Monitor(const Flood &flood, const Receiver &qtSide, const Receiver &registrySide,
                 const Receiver &uiSide, QueueCosts costs, const QAbstractItemModel &qtTable,
                 const QAbstractItemModel &latestTable)
    : m_flood(flood), m_qt(qtSide), m_registry(registrySide), m_ui(uiSide), m_costs(costs),
      m_qtTable(qtTable), m_latestTable(latestTable)
{ }

QVariantMap Monitor::snapshot(qint64 frames)
{
    const auto now = std::chrono::steady_clock::now();
    const double dt = std::max(1e-3, std::chrono::duration<double>(now - m_at).count());
    m_at = now;
    auto perSecond = [dt](qint64 value, qint64 &previous) {
        const double r = double(value - previous) / dt;
        previous = value;
        return r;
    };
    QVariantList published;
    qint64 qtBehind = 0, registryBehind = 0;
    for (std::size_t w = 0; w < Receiver::kWorkers; ++w) {
        const qint64 p = m_flood.published[w].load(std::memory_order_acquire);
        qtBehind += std::max<qint64>(0, p - m_qt.shownSeq[w].load(std::memory_order_relaxed));
        registryBehind += std::max<qint64>(0, p - m_registry.shownSeq[w].load(std::memory_order_relaxed));
        published << perSecond(p, m_published[w]);
    }
    const qint64 qtQueued = m_flood.qtQueued();
    const qint64 registryQueued = registryBehind > 0 ? 1 : 0; // Delivery::Latest: never more
    const qint64 skipped = m_flood.qtSkipped.load();
    const bool capped = skipped != m_skipped;
    m_skipped = skipped;
    auto side = [&](const Receiver &r, qint64 queued, qint64 memory, qint64 behind, qint64 &handled) {
        return QVariantMap{{QStringLiteral("queued"), queued},
                           {QStringLiteral("latencyMs"), double(r.latencyNs.load()) / 1e6},
                           {QStringLiteral("memoryBytes"), memory},
                           {QStringLiteral("behind"), behind},
                           {QStringLiteral("perSecond"), perSecond(r.handled.load(), handled)}};
    };
    auto table = [this](const QAbstractItemModel &model) {
        const TableState state = tableState(model, m_flood);
        return QVariantMap{{QStringLiteral("rows"), state.rows},
                           {QStringLiteral("current"), state.current},
                           {QStringLiteral("behind"), state.behind}};
    };
    QVariantMap qt = side(m_qt, qtQueued, qtQueued * m_costs.perQueuedSignal, qtBehind, m_qtHandled);
    qt.insert(QStringLiteral("capped"), capped);
    qt.insert(QStringLiteral("skipped"), skipped);
    return {
        {QStringLiteral("seq"), ++m_seq},
        {QStringLiteral("seconds"), std::chrono::duration<double>(now - m_started).count()},
        {QStringLiteral("published"), published},
        {QStringLiteral("fps"), perSecond(frames, m_frames)},
        {QStringLiteral("rssBytes"), residentBytes()},
        {QStringLiteral("qt"), qt},
        {QStringLiteral("ui"),
         QVariantMap{{QStringLiteral("queued"), qint64(m_flood.uiQueued())},
                     {QStringLiteral("latencyMs"), double(m_ui.latencyNs.load()) / 1e6}}},
        {QStringLiteral("registry"),
         side(m_registry, registryQueued, registryQueued * m_costs.perPendingLatest, registryBehind,
              m_registryHandled)},
        {QStringLiteral("qtTable"), table(m_qtTable)},
        {QStringLiteral("latestTable"), table(m_latestTable)},
    };
}
