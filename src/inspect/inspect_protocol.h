// SPDX-License-Identifier: MIT
#pragma once

// What the serving module (inspect_server.cpp) and registryio-inspect agree on: two Remote shares
// of QByteArray events, sent while someone subscribes: the snapshot the in-app inspector reads
// (Diagnostics::snapshot() as encodeSnapshot's bytes, in pages) and the timeline (its trace text).

#include "../qt/src/diagnostics_schema_p.h"

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
#include <tuple>
#include <type_traits>
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
/// The most handlers, registries and distinct strings a snapshot is read with: they bound what a
/// decoded snapshot costs whatever its bytes say (docs/internals/diagnostics.md, "What an
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
/// over maxTimelineBytes, of more objects and arrays or deeper than a trace has (QJsonDocument
/// spends about 100 bytes on each: 6 MiB of `{"a":{}}` would cost 170 MB), or no trace document.
inline bool readTimeline(const QByteArray &bytes, QJsonArray &events)
{
    if (bytes.size() > maxTimelineBytes)
        return false;
    int depth = 0;
    int containers = 0; // a full ring's trace has about 20,000
    bool inString = false;
    for (qsizetype i = 0; i < bytes.size(); ++i) {
        const char c = bytes[i];
        if (inString) {
            if (c == '\\')
                ++i; // the escaped character
            else if (c == '"')
                inString = false;
        } else if (c == '"') {
            inString = true;
        } else if (c == '[' || c == '{') {
            if (++depth > 8 || ++containers > 100000)
                return false;
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    const QJsonValue read = QJsonDocument::fromJson(bytes)[QStringLiteral("traceEvents")];
    events = read.toArray();
    return read.isArray();
}

namespace detail {

namespace schema = rio::detail::schema;

// The wire (encodeSnapshot): numbers little-endian as they are, a record's booleans as the bits
// of one flags byte at the first one's place, each distinct string once in a table at the end
// (UTF-16, little-endian) that records name by index. transfer() says once how a field type is
// sent; SnapshotWriter and SnapshotReader give it the two directions. A reader's check fails a
// value its field does not have.
template <typename IO, typename V>
void transfer(IO &io, V &v, std::size_t slot)
{
    using T = std::remove_const_t<V>;
    if constexpr (std::is_same_v<T, int>) {
        io.template as<qint32>(v, [](qint32) { return true; });
    } else if constexpr (std::is_same_v<T, HandlerId>) { // ids begin at 1
        io.template as<quint64>(v, [](quint64 id) { return id != 0; });
    } else if constexpr (std::is_same_v<T, Qt::ConnectionType>) { // its values fit in 9 bits
        io.template as<quint32>(v, [](quint32 c) { return (c & ~quint32(0x1ff)) == 0; });
    } else if constexpr (std::is_same_v<T, Delivery>) {
        io.template as<quint8>(v, [](quint8 d) { return d <= quint8(Delivery::Latest); });
    } else if constexpr (std::is_same_v<T, Overflow>) {
        io.template as<quint8>(v, [](quint8 o) { return o <= quint8(Overflow::Block); });
    } else if constexpr (std::is_same_v<T, QString>) {
        io.string(v, slot);
    } else if constexpr (std::is_same_v<T, std::array<quint64, dropReasonCount>>) {
        for (auto &d : v)
            io.number(d);
    } else if constexpr (std::is_same_v<T, TimeHistogram>) {
        io.number(v.count);
        io.number(v.totalNs);
        io.number(v.maxNs);
        io.number(v.nsPerTick);
        int used = TimeHistogram::bucketCount; // the buckets up to the last one used
        while (used > 0 && v.buckets[static_cast<std::size_t>(used - 1)] == 0)
            --used;
        auto sent = static_cast<quint8>(used);
        io.number(sent);
        // A tick lasts some finite time: NaN, infinities, zero and below are no clock's.
        io.check(sent <= TimeHistogram::bucketCount && v.nsPerTick > 0 && v.nsPerTick < HUGE_VAL);
        for (int i = 0; i < sent && io.ok(); ++i)
            io.number(v.buckets[static_cast<std::size_t>(i)]);
    } else {
        static_assert(std::is_same_v<T, quint64>, "a field type of the schema");
        io.number(v);
    }
}

// The least bytes a field of type T takes on the wire (a histogram's without its buckets).
template <typename T>
constexpr qsizetype widthOf()
{
    if constexpr (std::is_same_v<T, bool>) // a bit of the flags byte
        return 0;
    else if constexpr (std::is_same_v<T, QString> || std::is_same_v<T, int> ||
                       std::is_same_v<T, Qt::ConnectionType>)
        return 4;
    else if constexpr (std::is_same_v<T, Delivery> || std::is_same_v<T, Overflow>)
        return 1;
    else if constexpr (std::is_same_v<T, TimeHistogram>)
        return 33;
    else
        return qsizetype(sizeof(T)); // quint64, HandlerId, the drops
}

// The least bytes a record of `fields` takes: its fields' and its flags byte.
template <typename Fields>
constexpr qsizetype recordBytes(const Fields &fields)
{
    qsizetype bytes = 0;
    bool flags = false;
    schema::forEach(fields, [&](const auto &f, std::size_t) {
        using T = typename std::decay_t<decltype(f)>::Type;
        bytes += f.sent ? widthOf<T>() : 0;
        flags = flags || (f.sent && std::is_same_v<T, bool>);
    });
    return bytes + (flags ? 1 : 0);
}

// `record`'s sent fields through `io` (`slot`: its strings' first slot in the writer's cache).
template <typename IO, typename Record, typename Fields>
void transferRecord(IO &io, Record &record, const Fields &fields, std::size_t slot)
{
    quint8 flags = 0;
    int bit = -1; // the next boolean's bit, once the flags byte is sent
    schema::forEach(fields, [&](const auto &f, std::size_t i) {
        if (!f.sent)
            return;
        if constexpr (std::is_same_v<typename std::decay_t<decltype(f)>::Type, bool>) {
            if (bit < 0) {
                schema::forEach(fields, [&](const auto &g, std::size_t) { // the writer's flags
                    if constexpr (std::is_same_v<typename std::decay_t<decltype(g)>::Type, bool>)
                        if (g.sent && ++bit >= 0 && record.*g.member)
                            flags |= quint8(1U << bit);
                });
                io.number(flags);
                bit = 0;
            }
            io.flag(record.*f.member, flags, bit++);
        } else {
            transfer(io, record.*f.member, slot + i);
        }
    });
    io.check(bit < 0 || (flags >> bit) == 0); // a flag no field has
}

inline constexpr std::size_t stringSlots = std::tuple_size_v<std::decay_t<decltype(schema::registryFields)>> +
                                           std::tuple_size_v<std::decay_t<decltype(schema::handlerFields)>>;

class SnapshotWriter
{
public:
    // The least bytes of a handler's record, and of a registry's with its handler count (it has
    // no histogram: its least is its most).
    static constexpr qsizetype handlerBytes = recordBytes(schema::handlerFields);
    static constexpr qsizetype registryBytes = recordBytes(schema::registryFields) + 4;

    explicit SnapshotWriter(qsizetype expected) { m_bytes.resize(expected); }
    template <typename T>
    void number(T value)
    {
        room(qsizetype(sizeof(T)));
        qToLittleEndian(value, m_bytes.data() + m_at);
        m_at += sizeof(T);
    }
    template <typename W, typename T, typename Valid>
    void as(const T &value, Valid)
    {
        if constexpr (std::is_same_v<T, HandlerId>)
            number(W(value.value()));
        else
            number(W(value));
    }
    // `s`'s index in the table: the field's last string, else looked up (interned).
    void string(const QString &s, std::size_t slot)
    {
        auto &[last, index] = m_last[slot];
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
    void flag(bool, quint8, int) { }
    void check(bool) { }
    [[nodiscard]] static bool ok() { return true; }
    // The bytes, with the table after the records and its offset in the header (at 4).
    QByteArray finish()
    {
        const auto tableAt = static_cast<quint32>(m_at);
        number(static_cast<quint32>(m_strings.size()));
        for (const QString &s : std::as_const(m_strings)) {
            number(static_cast<quint32>(s.size()));
            room(s.size() * 2);
            qToLittleEndian<char16_t>(s.utf16(), s.size(), m_bytes.data() + m_at);
            m_at += s.size() * 2;
        }
        m_bytes.resize(m_at);
        qToLittleEndian(tableAt, m_bytes.data() + 4);
        return std::exchange(m_bytes, {});
    }

private:
    void room(qsizetype bytes)
    {
        if (m_bytes.size() - m_at < bytes) [[unlikely]]
            m_bytes.resize(std::max(m_bytes.size() * 2, m_at + bytes));
    }

    QByteArray m_bytes;
    qsizetype m_at = 0;
    QHash<QString, quint32> m_indices;
    QList<QString> m_strings;
    std::array<std::pair<QString, quint32>, stringSlots> m_last{}; // each field's last string, its index + 1
};

// Reads what SnapshotWriter wrote: every read is checked against the bytes left; a failed one
// leaves zeros and `ok` false, as does a value its field does not have.
class SnapshotReader
{
public:
    SnapshotReader(const char *at, const char *end, const QList<QString> *table = nullptr)
        : m_at(at), m_end(end), m_table(table)
    { }
    [[nodiscard]] qsizetype left() const { return m_end - m_at; }
    [[nodiscard]] bool ok() const { return m_ok; }
    void check(bool valid) { m_ok = m_ok && valid; }
    template <typename T>
    void number(T &value)
    {
        if (left() < qsizetype(sizeof(T))) {
            m_ok = false;
            m_at = m_end;
            value = T{};
            return;
        }
        value = qFromLittleEndian<T>(m_at);
        m_at += sizeof(T);
    }
    template <typename T>
    T number()
    {
        T value;
        number(value);
        return value;
    }
    template <typename W, typename T, typename Valid>
    void as(T &value, Valid valid)
    {
        const W w = number<W>();
        check(valid(w));
        value = m_ok ? T(w) : T{};
    }
    void string(QString &s, std::size_t)
    {
        const auto index = number<quint32>();
        check(index < quint64(m_table->size()));
        if (m_ok)
            s = (*m_table)[index];
    }
    void flag(bool &b, quint8 flags, int bit) { b = (flags >> bit & 1) != 0; }
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

private:
    const char *m_at;
    const char *m_end;
    const QList<QString> *m_table;
    bool m_ok = true;
};

} // namespace detail

/// The registries (Diagnostics::snapshot()) as bytes: the version, the table's offset, the
/// registries (each with its handlers), then the table of strings they name.
inline QByteArray encodeSnapshot(const QList<RegistryInfo> &registries)
{
    using W = detail::SnapshotWriter;
    qsizetype handlers = 0;
    for (const RegistryInfo &r : registries)
        handlers += r.handlers.size();
    W w(16 + registries.size() * W::registryBytes + handlers * W::handlerBytes);
    w.number(snapshotVersion);
    w.number(quint32(0)); // the table's offset, when known
    w.number(static_cast<quint32>(registries.size()));
    constexpr std::size_t firstHandlerSlot =
        std::tuple_size_v<std::decay_t<decltype(detail::schema::registryFields)>>;
    for (const RegistryInfo &r : registries) {
        detail::transferRecord(w, r, detail::schema::registryFields, 0);
        w.number(static_cast<quint32>(r.handlers.size()));
        for (const HandlerInfo &h : r.handlers) {
            detail::transferRecord(w, h, detail::schema::handlerFields, firstHandlerSlot);
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
    detail::SnapshotReader s(bytes.constData() + 8, bytes.constData() + tableAt, &table);
    const auto count = s.number<quint32>();
    if (count > quint64(s.left()) / detail::SnapshotWriter::registryBytes || count > maxRegistries)
        return false;
    quint32 handlersLeft = maxHandlers;
    registries.reserve(registries.size() + count);
    for (quint32 i = 0; i < count && s.ok(); ++i) {
        RegistryInfo &r = registries.emplace_back();
        detail::transferRecord(s, r, detail::schema::registryFields, 0);
        const auto handlers = s.number<quint32>();
        if (handlers > quint64(s.left()) / detail::SnapshotWriter::handlerBytes || handlers > handlersLeft)
            return false;
        handlersLeft -= handlers;
        r.handlers.reserve(handlers);
        for (quint32 k = 0; k < handlers && s.ok(); ++k) {
            HandlerInfo &h = r.handlers.emplace_back();
            h.registryId = r.id;
            h.registryName = r.name;
            h.eventType = r.eventType;
            detail::transferRecord(s, h, detail::schema::handlerFields, 0);
        }
    }
    return s.ok() && s.left() == 0;
}

} // namespace rio::inspect
