// SPDX-License-Identifier: MIT
#pragma once

// Diagnostics' one way to JSON: what a document holds is written once, against two outputs of
// one interface: JsonText streams the text (the files, the timeline inspectors are sent), JsonTree
// builds Qt's values (toJson, toTrace, the model's roles); nothing is parsed back. Qt's own tree,
// then its text, costs a timeline a hundred times the stream. Not installed.

#include "diagnostics_schema_p.h"

#include <QByteArray>
#include <QJsonArray>
#include <QJsonObject>
#include <QLocale>

#include <algorithm>
#include <array>
#include <charconv>
#include <climits>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__GNUC__)
#pragma GCC visibility push(hidden) // the library's own: never part of its ABI
#endif

namespace rio::detail {

// Where a handler was added, in full: its QML place, then C++'s (diagnostics_model.cpp).
QString whereFull(const HandlerInfo &h);

/// JSON text, appended to a byte array as it is written.
class JsonText
{
public:
    explicit JsonText(QByteArray &out) : m_out(out) { }
    JsonText &open() { return begin('{', false); }
    JsonText &openArray() { return begin('[', true); }
    JsonText &close()
    {
        m_out += m_arrays.back() ? ']' : '}';
        m_arrays.pop_back();
        m_first = false;
        return *this;
    }
    JsonText &key(const char *name)
    {
        m_out += std::exchange(m_first, false) ? "\"" : ",\"";
        m_out += name;
        m_out += "\":";
        m_keyed = true;
        return *this;
    }
    JsonText &text(QByteArrayView utf8)
    {
        separate();
        m_out += '"';
        qsizetype from = 0; // appended in runs between the bytes escaped
        for (qsizetype i = 0; i < utf8.size(); ++i) {
            const auto u = static_cast<unsigned char>(utf8[i]);
            if (u >= 0x20 && u != '"' && u != '\\')
                continue;
            m_out.append(utf8.sliced(from, i - from));
            from = i + 1;
            static constexpr char hex[] = "0123456789abcdef";
            const char escaped[] = {'\\', 'u', '0', '0', hex[u >> 4], hex[u & 15], '\\', char(u)};
            m_out.append(u >= 0x20 ? escaped + 6 : escaped, u >= 0x20 ? 2 : 6); // \" \\ or \u00XX
        }
        m_out.append(utf8.sliced(from));
        m_out += '"';
        return *this;
    }
    JsonText &text(const char *utf8) { return text(QByteArrayView(utf8)); }
    JsonText &text(const QByteArray &utf8) { return text(QByteArrayView(utf8)); }
    JsonText &text(const QString &s) { return text(QByteArrayView(s.toUtf8())); }
    JsonText &number(qint64 n)
    {
        separate();
        char digits[24];
        m_out.append(digits, std::to_chars(digits, digits + sizeof digits, n).ptr - digits);
        return *this;
    }
    JsonText &number(double d)
    {
        separate();
        m_out += QByteArray::number(d, 'g', QLocale::FloatingPointShortest);
        return *this;
    }
    JsonText &boolean(bool b)
    {
        separate();
        m_out += b ? "true" : "false";
        return *this;
    }
    // Nanoseconds as microseconds, exactly (no floating point: `1234.5`).
    JsonText &micros(quint64 ns)
    {
        number(static_cast<qint64>(ns / 1000));
        if (const quint64 rest = ns % 1000; rest != 0) {
            char digits[4] = {'.', char('0' + rest / 100), char('0' + rest / 10 % 10), char('0' + rest % 10)};
            m_out.append(digits, rest % 10 != 0 ? 4 : rest % 100 != 0 ? 3 : 2);
        }
        return *this;
    }

private:
    JsonText &begin(char bracket, bool array)
    {
        separate();
        m_out += bracket;
        m_arrays.push_back(array);
        m_first = true;
        return *this;
    }
    // Before a value: a comma when it follows another in an array.
    void separate()
    {
        if (!std::exchange(m_keyed, false) && !m_arrays.empty() && !std::exchange(m_first, false))
            m_out += ',';
    }

    QByteArray &m_out;
    std::vector<bool> m_arrays; // each open level: an array (else an object)
    bool m_first = true;        // nothing written in the innermost level yet
    bool m_keyed = false;       // a key was written: its value follows without a comma
};

/// The same document as Qt's values (take()).
class JsonTree
{
public:
    JsonTree &open() { return begin(false); }
    JsonTree &openArray() { return begin(true); }
    JsonTree &close()
    {
        Level done = std::move(m_levels.back());
        m_levels.pop_back();
        return put(done.array ? QJsonValue(done.values) : QJsonValue(done.members));
    }
    JsonTree &key(const char *name)
    {
        m_levels.back().key = QLatin1String(name);
        return *this;
    }
    JsonTree &text(QByteArrayView utf8) { return put(QString::fromUtf8(utf8)); }
    JsonTree &text(const char *utf8) { return put(QString::fromUtf8(utf8)); }
    JsonTree &text(const QByteArray &utf8) { return put(QString::fromUtf8(utf8)); }
    JsonTree &text(const QString &s) { return put(s); }
    JsonTree &number(qint64 n) { return put(n); }
    JsonTree &number(double d) { return put(d); }
    JsonTree &boolean(bool b) { return put(b); }
    JsonTree &micros(quint64 ns) { return put(static_cast<double>(ns) / 1000); }
    /// The value written (the outermost).
    [[nodiscard]] QJsonValue take() { return std::move(m_result); }

private:
    struct Level
    {
        QJsonObject members;
        QJsonArray values;
        QString key;
        bool array;
    };
    JsonTree &begin(bool array)
    {
        m_levels.push_back({{}, {}, {}, array});
        return *this;
    }
    JsonTree &put(QJsonValue v)
    {
        if (m_levels.empty())
            m_result = std::move(v);
        else if (m_levels.back().array)
            m_levels.back().values.append(std::move(v));
        else
            m_levels.back().members.insert(m_levels.back().key, std::move(v));
        return *this;
    }

    std::vector<Level> m_levels;
    QJsonValue m_result;
};

namespace schema {

/// A field's value as JSON: counts as integers (exact up to 2^63), enumerations as lower-camel
/// text, drops by reason as an object named as DropReason's values, histograms as toJson's.
template <typename Out, typename T>
void put(Out &out, const T &v)
{
    if constexpr (std::is_same_v<T, quint64>) {
        out.number(static_cast<qint64>(std::min<quint64>(v, INT64_MAX)));
    } else if constexpr (std::is_same_v<T, int>) {
        out.number(qint64{v});
    } else if constexpr (std::is_same_v<T, bool>) {
        out.boolean(v);
    } else if constexpr (std::is_same_v<T, QString>) {
        out.text(v);
    } else if constexpr (std::is_same_v<T, HandlerId>) {
        put(out, quint64{v.value()});
    } else if constexpr (std::is_same_v<T, Qt::ConnectionType>) {
        static constexpr const char *names[] = {"auto", "direct", "queued", "blocking"};
        const int type = v & ~Qt::UniqueConnection & ~Qt::SingleShotConnection;
        out.text(names[type >= 0 && type <= 3 ? type : 0]);
    } else if constexpr (std::is_same_v<T, Delivery>) {
        out.text(v == Delivery::Latest ? "latest" : "every");
    } else if constexpr (std::is_same_v<T, Overflow>) {
        out.text(v == Overflow::DropNewest ? "dropNewest" : v == Overflow::Block ? "block" : "dropOldest");
    } else if constexpr (std::is_same_v<T, std::array<quint64, dropReasonCount>>) {
        out.open();
        for (int r = 0; r < dropReasonCount; ++r)
            put(out.key(dropReasonNames[r]), v[static_cast<std::size_t>(r)]);
        out.close();
    } else {
        static_assert(std::is_same_v<T, TimeHistogram>, "a field type of the schema");
        int used = TimeHistogram::bucketCount; // the buckets up to the last one used
        while (used > 0 && v.buckets[static_cast<std::size_t>(used - 1)] == 0)
            --used;
        put(out.open().key("count"), v.count);
        put(out.key("totalNs"), v.totalNs);
        put(out.key("maxNs"), v.maxNs);
        put(out.key("p50Ns"), v.p50Ns());
        put(out.key("p99Ns"), v.p99Ns());
        out.key("nsPerTick").number(v.nsPerTick).key("buckets").openArray();
        for (int i = 0; i < used; ++i)
            put(out, v.buckets[static_cast<std::size_t>(i)]);
        out.close().close();
    }
}

/// `record`'s fields, each under its key, as an object; `more` adds the rest of its members.
template <typename Out, typename Record, typename Fields, typename More>
void putRecord(Out &out, const Record &record, const Fields &fields, More more)
{
    out.open();
    forEach(fields, [&](const auto &f, std::size_t) { put(out.key(f.key), record.*f.member); });
    more();
    out.close();
}

template <typename Out>
void put(Out &out, const HandlerInfo &h)
{
    putRecord(out, h, handlerFields, [&] { put(out.key("totalDrops"), h.totalDrops()); });
}
template <typename Out>
void put(Out &out, const RegistryInfo &r)
{
    putRecord(out, r, registryFields, [&] {
        out.key("handlers").openArray();
        for (const HandlerInfo &h : r.handlers)
            put(out, h);
        out.close();
    });
}
template <typename Out>
void put(Out &out, const SlowHandlerReport &s)
{
    put(out.open().key("handler"), s.handler);
    put(out.key("elapsedNs"), s.elapsedNs);
    put(out.key("thread"), s.thread);
    put(out.key("threadName"), s.threadName);
    put(out.key("stillRunning"), s.stillRunning);
    put(out.key("endedAtNs"), s.endedAtNs);
    put(out.key("frame"), s.frame);
    out.key("stack").openArray();
    for (const QString &frame : s.stack)
        put(out, frame);
    out.close().close();
}

/// `value` as Qt's JSON value.
template <typename T>
QJsonValue jsonOf(const T &value)
{
    JsonTree tree;
    put(tree, value);
    return tree.take();
}

} // namespace schema

} // namespace rio::detail

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
