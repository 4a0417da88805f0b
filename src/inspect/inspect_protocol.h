// SPDX-License-Identifier: MIT
#pragma once

// What the serving module (inspect_server.cpp) and registryio-inspect agree on: two Remote shares
// of QByteArray events, sent while someone subscribes: the snapshot the in-app inspector reads
// (Diagnostics::snapshot(), as QDataStream bytes: a JSON document of 1,000 handlers costs 35-60 ms
// to make, these 1-2 ms) and the timeline (Diagnostics::toTrace(), qCompress'ed JSON).

#include <registryio/qt/diagnostics.h>

#include <QDataStream>
#include <QIODevice>
#include <QList>
#include <QString>

#include <algorithm>
#include <utility>

namespace rio::inspect {

/// The share of Diagnostics::snapshot() (what the in-app inspector reads; encodeSnapshot, in
/// pages), every snapshotIntervalMs while subscribed, and at once when a subscriber arrives (the
/// first arrival of a tick; the tick serves the others).
inline const QString snapshotShare = QStringLiteral("rio.diagnostics");
/// The share of Diagnostics::toTrace() (the frame timeline), every timelineIntervalMs while subscribed.
inline const QString timelineShare = QStringLiteral("rio.timeline");
/// How often each is sent while subscribed (ms).
inline constexpr int snapshotIntervalMs = 500;
inline constexpr int timelineIntervalMs = 1000;
/// The prefix of the names RIO_INSPECT=1 serves on (`rio-inspect-<application>-<pid>`), which
/// `registryio-inspect list` looks for.
inline const QString namePrefix = QStringLiteral("rio-inspect-");

/// The snapshot encoding's version (the first word of the bytes).
inline constexpr quint32 snapshotVersion = 1;

/// A snapshot is sent as pages of at most this many bytes each (and pageHeaderBytes), one event
/// each, so that any snapshot passes the server's RemoteListener limits (maxQueuedBytes,
/// highWaterBytes), which protect the application from inspectors that do not read.
inline constexpr qsizetype pageBytes = 256 * 1024;
/// A page's first word: the paged protocol's version. Unpaged snapshots began with their version,
/// 1, and so does encodeSnapshot's: either side of the other reads a version it does not know.
inline constexpr quint32 pageVersion = 2;
/// A page's header: pageVersion (quint32), the snapshot's number (quint64), the page's index and
/// the page count (quint32). Every page but the last holds pageBytes, the last at most that.
inline constexpr qsizetype pageHeaderBytes = 20;
/// The most pages a snapshot is read from (1 GiB).
inline constexpr quint32 maxPages = 4096;

/// `bytes` (one snapshot, number `serial`) as its pages, in order.
inline QList<QByteArray> pages(quint64 serial, const QByteArray &bytes)
{
    const auto count =
        static_cast<quint32>(std::max<qsizetype>(1, (bytes.size() + pageBytes - 1) / pageBytes));
    QList<QByteArray> out;
    out.reserve(count);
    for (quint32 i = 0; i < count; ++i) {
        QByteArray page;
        QDataStream s(&page, QIODevice::WriteOnly);
        s << pageVersion << serial << i << count;
        page.append(bytes.mid(static_cast<qsizetype>(i) * pageBytes, pageBytes));
        out.append(std::move(page));
    }
    return out;
}

/// Puts a snapshot's pages back together, in the order sent; a page that does not follow the one
/// before (one dropped on the way, or another snapshot's) begins again from its snapshot's first.
class PageReader
{
public:
    /// True when `page` completes a snapshot, then in `whole`; false for a page of one not yet
    /// complete, or one that is not a page (another version, a size its place does not have, a
    /// count unlike its snapshot's: then `corrupt()`). What it holds is at most maxPages pages.
    bool add(const QByteArray &page, QByteArray &whole)
    {
        m_corrupt = false;
        QDataStream s(page);
        quint32 version = 0;
        quint64 serial = 0;
        quint32 index = 0, count = 0;
        s >> version >> serial >> index >> count;
        const qsizetype size = page.size() - pageHeaderBytes;
        if (s.status() != QDataStream::Ok || version != pageVersion || count == 0 || count > maxPages ||
            index >= count || size > pageBytes || (index + 1 < count && size != pageBytes) ||
            (index != 0 && serial == m_serial && index == m_next && count != m_count)) {
            m_corrupt = true;
            m_bytes.clear();
            m_next = 0;
            return false;
        }
        if (index == 0 || serial != m_serial || index != m_next) {
            m_bytes.clear();
            m_next = 0;
            m_serial = serial;
            m_count = count;
            if (index != 0)
                return false; // the rest of a snapshot whose first page went
        }
        m_bytes.append(page.mid(pageHeaderBytes));
        if (++m_next < count)
            return false;
        whole = std::exchange(m_bytes, {});
        m_next = 0;
        return true;
    }
    /// The last page given was not a page.
    [[nodiscard]] bool corrupt() const { return m_corrupt; }

private:
    QByteArray m_bytes;
    quint64 m_serial = 0;
    quint32 m_next = 0;
    quint32 m_count = 0;
    bool m_corrupt = false;
};

/// The largest timeline document read (a full ring's is about 2 MB).
inline constexpr quint32 maxTimelineBytes = 64U << 20;

/// A timeline event's JSON, uncompressed; empty for bytes whose declared size (qCompress's first
/// word) is over maxTimelineBytes, which qUncompress would allocate before reading a byte.
inline QByteArray uncompressTimeline(const QByteArray &bytes)
{
    if (bytes.size() < 4)
        return {};
    const quint32 size = (quint32(quint8(bytes[0])) << 24) | (quint32(quint8(bytes[1])) << 16) |
                         (quint32(quint8(bytes[2])) << 8) | quint32(quint8(bytes[3]));
    return size <= maxTimelineBytes ? qUncompress(bytes) : QByteArray();
}

inline void write(QDataStream &s, const TimeHistogram &h)
{
    int used = TimeHistogram::bucketCount;
    while (used > 0 && h.buckets[static_cast<std::size_t>(used - 1)] == 0)
        --used;
    s << h.count << h.totalNs << h.maxNs << h.nsPerTick << qint32(used);
    for (int i = 0; i < used; ++i)
        s << h.buckets[static_cast<std::size_t>(i)];
}

inline void read(QDataStream &s, TimeHistogram &h)
{
    qint32 used = 0;
    s >> h.count >> h.totalNs >> h.maxNs >> h.nsPerTick >> used;
    if (used < 0 || used > TimeHistogram::bucketCount) {
        s.setStatus(QDataStream::ReadCorruptData);
        return;
    }
    for (int i = 0; i < used; ++i)
        s >> h.buckets[static_cast<std::size_t>(i)];
}

/// The registries (Diagnostics::snapshot()) as bytes.
inline QByteArray encodeSnapshot(const QList<RegistryInfo> &registries)
{
    QByteArray bytes;
    QDataStream s(&bytes, QIODevice::WriteOnly);
    s << snapshotVersion << qint32(registries.size());
    for (const RegistryInfo &r : registries) {
        s << r.id << r.name << r.eventType << r.qt << r.diagnosticsEnabled << r.destroyed;
        for (const quint64 d : r.removedHandlerDrops)
            s << d;
        s << qint32(r.handlers.size());
        for (const HandlerInfo &h : r.handlers) {
            s << quint64(h.id.value()) << h.file << qint32(h.line) << h.function << h.originFile
              << qint32(h.originLine) << h.addedThread << h.addedThreadName << h.hasContext << h.contextClass
              << h.contextName << h.contextThreadName << qint32(h.priority) << qint32(h.connection)
              << qint32(h.delivery) << h.capacity << qint32(h.overflow) << h.once << h.suspended << h.calls
              << h.failures;
            for (const quint64 d : h.drops)
                s << d;
            s << h.waiting << h.maxWaiting << h.coalesced << h.slowRuns << h.timed;
            write(s, h.runTime);
            write(s, h.queueDelay);
        }
    }
    return bytes;
}

/// encodeSnapshot's bytes back; false for bytes it did not make (another version, cut short, a
/// connection type that is none).
inline bool decodeSnapshot(const QByteArray &bytes, QList<RegistryInfo> &registries)
{
    QDataStream s(bytes);
    quint32 version = 0;
    qint32 count = 0;
    s >> version >> count;
    if (version != snapshotVersion || count < 0)
        return false;
    for (qint32 i = 0; i < count && s.status() == QDataStream::Ok; ++i) {
        RegistryInfo r;
        qint32 handlers = 0;
        s >> r.id >> r.name >> r.eventType >> r.qt >> r.diagnosticsEnabled >> r.destroyed;
        for (quint64 &d : r.removedHandlerDrops)
            s >> d;
        s >> handlers;
        for (qint32 k = 0; k < handlers && s.status() == QDataStream::Ok; ++k) {
            HandlerInfo h;
            quint64 id = 0;
            qint32 line = 0, originLine = 0, priority = 0, connection = 0, delivery = 0, overflow = 0;
            s >> id >> h.file >> line >> h.function >> h.originFile >> originLine >> h.addedThread >>
                h.addedThreadName >> h.hasContext >> h.contextClass >> h.contextName >> h.contextThreadName >>
                priority >> connection >> delivery >> h.capacity >> overflow >> h.once >> h.suspended >>
                h.calls >> h.failures;
            for (quint64 &d : h.drops)
                s >> d;
            s >> h.waiting >> h.maxWaiting >> h.coalesced >> h.slowRuns >> h.timed;
            read(s, h.runTime);
            read(s, h.queueDelay);
            // No Qt::ConnectionType (its values fit in 9 bits): reading it as one is undefined.
            if ((quint32(connection) & ~quint32(0x1ff)) != 0) {
                s.setStatus(QDataStream::ReadCorruptData);
                break;
            }
            h.registryId = r.id;
            h.registryName = r.name;
            h.eventType = r.eventType;
            h.id = HandlerId(id);
            h.line = line;
            h.originLine = originLine;
            h.priority = priority;
            h.connection = static_cast<Qt::ConnectionType>(connection);
            h.delivery = static_cast<Delivery>(delivery);
            h.overflow = static_cast<Overflow>(overflow);
            r.handlers.append(std::move(h));
        }
        registries.append(std::move(r));
    }
    return s.status() == QDataStream::Ok && s.atEnd();
}

} // namespace rio::inspect
