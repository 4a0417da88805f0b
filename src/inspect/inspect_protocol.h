// SPDX-License-Identifier: MIT
#pragma once

// What the serving module (inspect_server.cpp) and registryio-inspect agree on: two Remote shares
// of QByteArray events, sent while someone subscribes: the snapshot the in-app inspector reads
// (Diagnostics::snapshot(), encodeSnapshot's bytes, in pages: a JSON document of 1,000 handlers
// costs 20-60 ms to make, these 0.1-0.4 ms) and the timeline (Diagnostics::toTrace()'s text).

#include <registryio/qt/diagnostics.h>

#include <QByteArrayView>
#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QList>
#include <QString>
#include <QtEndian>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
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

/// The snapshot encoding's version (the first word of the bytes, little-endian): 1 was
/// QDataStream's, field by field; 2 is pageVersion's, never a snapshot's.
inline constexpr quint32 snapshotVersion = 3;

/// A snapshot is sent as pages of at most this many bytes each (and pageHeaderBytes), one event
/// each, so that any snapshot passes the server's RemoteListener limits (maxQueuedBytes,
/// highWaterBytes), which protect the application from inspectors that do not read.
inline constexpr qsizetype pageBytes = 256 * 1024;
/// A page's first word (big-endian): the paged protocol's version. Unpaged snapshots began with
/// their version, 1, and encodeSnapshot's begin with its own: either side of the other reads a
/// version it does not know.
inline constexpr quint32 pageVersion = 2;
/// A page's header: pageVersion (quint32), the snapshot's number (quint64), the page's index and
/// the page count (quint32). Every page but the last holds pageBytes, the last at most that.
inline constexpr qsizetype pageHeaderBytes = 20;
/// The most pages a snapshot is read from: 64 MiB, the most a server serves.
inline constexpr quint32 maxPages = 256;
/// The most handlers, registries and distinct strings a snapshot is read with. A handler takes at
/// least 233 bytes (its record without histogram buckets) and about 480 in an application's
/// snapshot (25,000 handlers make 12 MB); decoded, it is a HandlerInfo of about 1.4 KB. These
/// bound what a decoded snapshot costs whatever its bytes say (docs/DIAGNOSTICS.md, "What an
/// inspector holds").
inline constexpr quint32 maxHandlers = 1U << 17;
inline constexpr quint32 maxRegistries = 1U << 16;
inline constexpr quint32 maxStrings = 1U << 18;

/// `bytes` (one snapshot, number `serial`) as its pages, in order.
inline QList<QByteArray> pages(quint64 serial, const QByteArray &bytes)
{
    const auto count =
        static_cast<quint32>(std::max<qsizetype>(1, (bytes.size() + pageBytes - 1) / pageBytes));
    QList<QByteArray> out;
    out.reserve(count);
    for (quint32 i = 0; i < count; ++i) {
        const QByteArrayView part = QByteArrayView(bytes)
                                        .sliced(i * pageBytes)
                                        .first(std::min<qsizetype>(pageBytes, bytes.size() - i * pageBytes));
        QByteArray page(pageHeaderBytes + part.size(), Qt::Uninitialized);
        qToBigEndian(pageVersion, page.data());
        qToBigEndian(serial, page.data() + 4);
        qToBigEndian(i, page.data() + 12);
        qToBigEndian(count, page.data() + 16);
        std::memcpy(page.data() + pageHeaderBytes, part.data(), static_cast<std::size_t>(part.size()));
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
    /// count unlike its snapshot's: then `corrupt()`), or the page that makes more since the last
    /// whole snapshot than a peer that sends whole ones can (then `stalled()`). What it holds is
    /// at most maxPages pages.
    bool add(const QByteArray &page, QByteArray &whole)
    {
        m_corrupt = false;
        m_stalled = false;
        quint32 version = 0;
        quint64 serial = 0;
        quint32 index = 0, count = 0;
        if (page.size() >= pageHeaderBytes) {
            version = qFromBigEndian<quint32>(page.constData());
            serial = qFromBigEndian<quint64>(page.constData() + 4);
            index = qFromBigEndian<quint32>(page.constData() + 12);
            count = qFromBigEndian<quint32>(page.constData() + 16);
        }
        const qsizetype size = page.size() - pageHeaderBytes;
        if (version != pageVersion || count == 0 || count > maxPages || index >= count || size > pageBytes ||
            (index + 1 < count && size != pageBytes) ||
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
        }
        // A reader that lost the first pages of one snapshot reads the next whole: within twice
        // the most pages announced since the last whole one.
        ++m_since;
        m_most = std::max(m_most, count);
        const auto incomplete = [this] {
            if (m_since > 2 * quint64(m_most) + 1) {
                m_stalled = true;
                m_since = 0;
                m_most = 0;
            }
            return false;
        };
        if (m_next != index)
            return incomplete(); // the rest of a snapshot whose first page went
        m_bytes.append(page.constData() + pageHeaderBytes, size);
        if (++m_next < count)
            return incomplete();
        whole = std::exchange(m_bytes, {});
        m_next = 0;
        m_since = 0;
        m_most = 0;
        return true;
    }
    /// The last page given was not a page.
    [[nodiscard]] bool corrupt() const { return m_corrupt; }
    /// The last page given was one too many without a whole snapshot: its peer begins snapshots
    /// and does not finish them (it resends their first page, say).
    [[nodiscard]] bool stalled() const { return m_stalled; }
    /// The bytes it holds of the snapshot being read.
    [[nodiscard]] qsizetype held() const { return m_bytes.size(); }

private:
    QByteArray m_bytes;
    quint64 m_serial = 0;
    quint32 m_next = 0;
    quint32 m_count = 0;
    quint64 m_since = 0; // pages since the last whole snapshot
    quint32 m_most = 0;  // the largest count announced since
    bool m_corrupt = false;
    bool m_stalled = false;
};

/// The largest timeline document served and read (sent as its text, never compressed: nothing
/// is read past what its bytes are). A full ring's is about 3 MB; at most 6 MiB, so that one
/// fits beside the rest in what a connection may have waiting (maxQueuedBytes, 8 MiB).
inline constexpr qsizetype maxTimelineBytes = qsizetype(6) << 20;

/// A timeline event's trace events (Diagnostics::toTrace()'s `traceEvents`); false for bytes
/// over maxTimelineBytes or no trace document.
inline bool readTimeline(const QByteArray &bytes, QJsonArray &events)
{
    if (bytes.size() > maxTimelineBytes)
        return false;
    const QJsonValue read = QJsonDocument::fromJson(bytes)[QStringLiteral("traceEvents")];
    events = read.toArray();
    return read.isArray();
}

namespace detail {

// The encoding's pieces (encodeSnapshot): numbers little-endian as they are, booleans as bits of
// one flags byte, each distinct string once in a table at the end (UTF-16, little-endian), which
// the records name by index.
class SnapshotWriter
{
public:
    // The most bytes one record (a registry's, a handler's) takes: room is made for it first.
    static constexpr qsizetype registryBytes = 8 + 2 * 4 + 1 + dropReasonCount * 8 + 4;
    static constexpr qsizetype histogramBytes = 3 * 8 + 8 + 1 + TimeHistogram::bucketCount * 8;
    static constexpr qsizetype handlerBytes = 8 + 7 * 4 + 2 * 4 + 8 + 2 * 4 + 1 + 8 + 1 + 1 + 2 * 8 +
                                              dropReasonCount * 8 + 4 * 8 + 2 * histogramBytes;

    explicit SnapshotWriter(qsizetype expected) { m_bytes.resize(expected); }
    void room(qsizetype bytes)
    {
        if (m_bytes.size() - m_at < bytes)
            m_bytes.resize(std::max(m_bytes.size() * 2, m_at + bytes));
        m_out = m_bytes.data() + m_at;
    }
    template <typename T>
    void number(T value)
    {
        qToLittleEndian(value, m_out);
        m_out += sizeof(T);
        m_at += sizeof(T);
    }
    void byte(quint8 value) { number(value); }
    // `s`'s index in the table: the field's last string, else looked up (interned).
    void string(const QString &s, int field)
    {
        auto &[last, index] = m_last[static_cast<std::size_t>(field)];
        if (index == 0 || s != last) {
            auto it = m_indices.constFind(s);
            if (it == m_indices.cend()) {
                it = m_indices.insert(s, static_cast<quint32>(m_strings.size()));
                m_strings.append(s);
            }
            last = s;
            index = *it + 1;
        }
        number(quint32(index - 1));
    }
    void histogram(const TimeHistogram &h)
    {
        int used = TimeHistogram::bucketCount;
        while (used > 0 && h.buckets[static_cast<std::size_t>(used - 1)] == 0)
            --used;
        number(h.count);
        number(h.totalNs);
        number(h.maxNs);
        number(h.nsPerTick);
        byte(static_cast<quint8>(used));
        for (int i = 0; i < used; ++i)
            number(h.buckets[static_cast<std::size_t>(i)]);
    }
    // The bytes, with the table after the records and its offset in the header (at 4).
    QByteArray finish()
    {
        const auto tableAt = static_cast<quint32>(m_at);
        qsizetype size = 4;
        for (const QString &s : std::as_const(m_strings))
            size += 4 + s.size() * 2;
        room(size);
        number(static_cast<quint32>(m_strings.size()));
        for (const QString &s : std::as_const(m_strings)) {
            number(static_cast<quint32>(s.size()));
            qToLittleEndian<char16_t>(s.utf16(), s.size(), m_out);
            m_out += s.size() * 2;
            m_at += s.size() * 2;
        }
        m_bytes.resize(m_at);
        qToLittleEndian(tableAt, m_bytes.data() + 4);
        return std::exchange(m_bytes, {});
    }

private:
    QByteArray m_bytes;
    char *m_out = nullptr;
    qsizetype m_at = 0;
    QHash<QString, quint32> m_indices;
    QList<QString> m_strings;
    std::array<std::pair<QString, quint32>, 9> m_last{}; // each field's last string, its index + 1
};

// Reads what SnapshotWriter wrote: every read is checked against the bytes left; a failed one
// leaves zeros and `ok` false.
class SnapshotReader
{
public:
    SnapshotReader(const char *at, const char *end) : m_at(at), m_end(end) { }
    [[nodiscard]] qsizetype left() const { return m_end - m_at; }
    [[nodiscard]] bool ok() const { return m_ok; }
    void fail() { m_ok = false; }
    template <typename T>
    T number()
    {
        if (left() < qsizetype(sizeof(T))) {
            m_ok = false;
            m_at = m_end;
            return T{};
        }
        const T value = qFromLittleEndian<T>(m_at);
        m_at += sizeof(T);
        return value;
    }
    // The table's strings: a count, then each as its length in UTF-16 units and the units.
    bool strings(QList<QString> &table)
    {
        const auto count = number<quint32>();
        if (!m_ok || count > quint64(left()) / 4 || count > maxStrings)
            return false;
        table.reserve(count);
        for (quint32 i = 0; i < count; ++i) {
            const auto units = number<quint32>();
            if (!m_ok || units > quint64(left()) / 2)
                return false;
            QString s(static_cast<qsizetype>(units), Qt::Uninitialized);
            qFromLittleEndian<char16_t>(m_at, units, s.data());
            m_at += qsizetype(units) * 2;
            table.append(std::move(s));
        }
        return m_ok && left() == 0;
    }
    void string(const QList<QString> &table, QString &s)
    {
        const auto index = number<quint32>();
        if (index < quint64(table.size()))
            s = table[index];
        else
            m_ok = false;
    }
    void histogram(TimeHistogram &h)
    {
        h.count = number<quint64>();
        h.totalNs = number<quint64>();
        h.maxNs = number<quint64>();
        h.nsPerTick = number<double>();
        const auto used = number<quint8>();
        // A tick lasts some finite time: NaN, infinities, zero and below are no clock's.
        if (used > TimeHistogram::bucketCount || !(h.nsPerTick > 0 && h.nsPerTick < HUGE_VAL))
            m_ok = false;
        for (int i = 0; i < used && m_ok; ++i)
            h.buckets[static_cast<std::size_t>(i)] = number<quint64>();
    }

private:
    const char *m_at;
    const char *m_end;
    bool m_ok = true;
};

// A handler's and a registry's booleans, bits of their flags byte.
enum HandlerFlag : quint8 { HasContext = 1, Once = 2, Suspended = 4, Timed = 8, HandlerFlags = 15 };
enum RegistryFlag : quint8 { IsQt = 1, DiagnosticsEnabled = 2, Destroyed = 4, RegistryFlags = 7 };

} // namespace detail

/// The registries (Diagnostics::snapshot()) as bytes: the version, the table's offset, the
/// registries (each with its handlers), then the table of strings they name.
inline QByteArray encodeSnapshot(const QList<RegistryInfo> &registries)
{
    using W = detail::SnapshotWriter;
    qsizetype handlers = 0;
    for (const RegistryInfo &r : registries)
        handlers += r.handlers.size();
    W w(16 + registries.size() * W::registryBytes + handlers * (W::handlerBytes / 4));
    w.room(12);
    w.number(snapshotVersion);
    w.number(quint32(0)); // the table's offset, when known
    w.number(static_cast<quint32>(registries.size()));
    for (const RegistryInfo &r : registries) {
        w.room(W::registryBytes);
        w.number(r.id);
        w.string(r.name, 0);
        w.string(r.eventType, 1);
        w.byte((r.qt ? detail::IsQt : 0) | (r.diagnosticsEnabled ? detail::DiagnosticsEnabled : 0) |
               (r.destroyed ? detail::Destroyed : 0));
        for (const quint64 d : r.removedHandlerDrops)
            w.number(d);
        w.number(static_cast<quint32>(r.handlers.size()));
        for (const HandlerInfo &h : r.handlers) {
            w.room(W::handlerBytes);
            w.number(quint64(h.id.value()));
            w.string(h.file, 2);
            w.number(qint32(h.line));
            w.string(h.function, 3);
            w.string(h.originFile, 4);
            w.number(qint32(h.originLine));
            w.number(h.addedThread);
            w.string(h.addedThreadName, 5);
            w.string(h.contextClass, 6);
            w.string(h.contextName, 7);
            w.string(h.contextThreadName, 8);
            w.number(qint32(h.priority));
            w.number(quint32(h.connection));
            w.byte(static_cast<quint8>(h.delivery));
            w.number(h.capacity);
            w.byte(static_cast<quint8>(h.overflow));
            w.byte((h.hasContext ? detail::HasContext : 0) | (h.once ? detail::Once : 0) |
                   (h.suspended ? detail::Suspended : 0) | (h.timed ? detail::Timed : 0));
            w.number(h.calls);
            w.number(h.failures);
            for (const quint64 d : h.drops)
                w.number(d);
            w.number(h.waiting);
            w.number(h.maxWaiting);
            w.number(h.coalesced);
            w.number(h.slowRuns);
            w.histogram(h.runTime);
            w.histogram(h.queueDelay);
        }
    }
    return w.finish();
}

/// encodeSnapshot's bytes back; false for bytes it did not make (another version, cut short or
/// longer, a string that is not in the table, a value its field does not have). Counts are
/// believed only as far as the bytes left can hold them.
inline bool decodeSnapshot(const QByteArray &bytes, QList<RegistryInfo> &registries)
{
    detail::SnapshotReader header(bytes.constData(), bytes.constData() + bytes.size());
    const auto version = header.number<quint32>();
    const auto tableAt = header.number<quint32>();
    if (!header.ok() || version != snapshotVersion || tableAt < 12 || tableAt > quint64(bytes.size()))
        return false;
    QList<QString> table;
    if (!detail::SnapshotReader(bytes.constData() + tableAt, bytes.constData() + bytes.size()).strings(table))
        return false;
    detail::SnapshotReader s(bytes.constData() + 8, bytes.constData() + tableAt);
    using W = detail::SnapshotWriter;
    constexpr qsizetype leastHandler = W::handlerBytes - 2 * TimeHistogram::bucketCount * 8;
    const auto count = s.number<quint32>();
    if (count > quint64(s.left()) / W::registryBytes || count > maxRegistries)
        return false;
    quint32 handlersLeft = maxHandlers;
    registries.reserve(registries.size() + count);
    for (quint32 i = 0; i < count && s.ok(); ++i) {
        RegistryInfo r;
        r.id = s.number<quint64>();
        s.string(table, r.name);
        s.string(table, r.eventType);
        const auto flags = s.number<quint8>();
        r.qt = (flags & detail::IsQt) != 0;
        r.diagnosticsEnabled = (flags & detail::DiagnosticsEnabled) != 0;
        r.destroyed = (flags & detail::Destroyed) != 0;
        for (quint64 &d : r.removedHandlerDrops)
            d = s.number<quint64>();
        const auto handlers = s.number<quint32>();
        if ((flags & ~detail::RegistryFlags) != 0 || handlers > quint64(s.left()) / leastHandler ||
            handlers > handlersLeft)
            return false;
        handlersLeft -= handlers;
        r.handlers.reserve(handlers);
        for (quint32 k = 0; k < handlers && s.ok(); ++k) {
            HandlerInfo h;
            h.registryId = r.id;
            h.registryName = r.name;
            h.eventType = r.eventType;
            h.id = HandlerId(s.number<quint64>());
            if (h.id.value() == 0) // no handler's (ids begin at 1)
                s.fail();
            s.string(table, h.file);
            h.line = s.number<qint32>();
            s.string(table, h.function);
            s.string(table, h.originFile);
            h.originLine = s.number<qint32>();
            h.addedThread = s.number<quint64>();
            s.string(table, h.addedThreadName);
            s.string(table, h.contextClass);
            s.string(table, h.contextName);
            s.string(table, h.contextThreadName);
            h.priority = s.number<qint32>();
            const auto connection = s.number<quint32>();
            const auto delivery = s.number<quint8>();
            h.capacity = s.number<quint64>();
            const auto overflow = s.number<quint8>();
            const auto bits = s.number<quint8>();
            // No Qt::ConnectionType (its values fit in 9 bits), Delivery or Overflow: reading
            // it as one is undefined.
            if ((connection & ~quint32(0x1ff)) != 0 || delivery > quint8(Delivery::Latest) ||
                overflow > quint8(Overflow::Block) || (bits & ~detail::HandlerFlags) != 0)
                return false;
            h.connection = static_cast<Qt::ConnectionType>(connection);
            h.delivery = static_cast<Delivery>(delivery);
            h.overflow = static_cast<Overflow>(overflow);
            h.hasContext = (bits & detail::HasContext) != 0;
            h.once = (bits & detail::Once) != 0;
            h.suspended = (bits & detail::Suspended) != 0;
            h.timed = (bits & detail::Timed) != 0;
            h.calls = s.number<quint64>();
            h.failures = s.number<quint64>();
            for (quint64 &d : h.drops)
                d = s.number<quint64>();
            h.waiting = s.number<quint64>();
            h.maxWaiting = s.number<quint64>();
            h.coalesced = s.number<quint64>();
            h.slowRuns = s.number<quint64>();
            s.histogram(h.runTime);
            s.histogram(h.queueDelay);
            r.handlers.append(std::move(h));
        }
        registries.append(std::move(r));
    }
    return s.ok() && s.left() == 0;
}

} // namespace rio::inspect
