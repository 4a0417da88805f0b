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
#include <QJsonValue>
#include <QLocale>

#include <algorithm>
#include <array>
#include <charconv>
#include <climits>
#include <cstdint>
#include <utility>
#include <vector>

namespace rio::detail {

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
        if (!std::exchange(m_first, false))
            m_out += ',';
        m_out += '"';
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
            if (u >= 0x20) {
                m_out += '\\';
                m_out += utf8[i];
            } else {
                static constexpr char hex[] = "0123456789abcdef";
                m_out += "\\u00";
                m_out += hex[u >> 4];
                m_out += hex[u & 15];
            }
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
        std::array<char, 24> buffer{};
        const auto end = std::to_chars(buffer.data(), buffer.data() + buffer.size(), n).ptr;
        m_out.append(buffer.data(), end - buffer.data());
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
            qsizetype size = 4;
            while (digits[size - 1] == '0')
                --size;
            m_out.append(digits, size);
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

// Each field type as JSON: counts as integers (exact up to 2^63), enumerations as lower-camel
// text, drops by reason as an object named as DropReason's values, histograms as toJson's.
template <typename Out>
void put(Out &out, quint64 n)
{
    out.number(static_cast<qint64>(std::min<quint64>(n, INT64_MAX)));
}
template <typename Out>
void put(Out &out, int n)
{
    out.number(qint64{n});
}
template <typename Out>
void put(Out &out, bool b)
{
    out.boolean(b);
}
template <typename Out>
void put(Out &out, const QString &s)
{
    out.text(s);
}
template <typename Out>
void put(Out &out, HandlerId id)
{
    put(out, quint64{id.value()});
}
template <typename Out>
void put(Out &out, Qt::ConnectionType type)
{
    switch (type & ~Qt::UniqueConnection & ~Qt::SingleShotConnection) {
    case Qt::DirectConnection:
        out.text("direct");
        break;
    case Qt::QueuedConnection:
        out.text("queued");
        break;
    case Qt::BlockingQueuedConnection:
        out.text("blocking");
        break;
    default:
        out.text("auto");
    }
}
template <typename Out>
void put(Out &out, Delivery delivery)
{
    out.text(delivery == Delivery::Latest ? "latest" : "every");
}
template <typename Out>
void put(Out &out, Overflow overflow)
{
    out.text(overflow == Overflow::DropNewest ? "dropNewest"
             : overflow == Overflow::Block    ? "block"
                                              : "dropOldest");
}
template <typename Out>
void put(Out &out, const std::array<quint64, dropReasonCount> &drops)
{
    out.open();
    for (int r = 0; r < dropReasonCount; ++r)
        put(out.key(dropReasonNames[r]), drops[static_cast<std::size_t>(r)]);
    out.close();
}
template <typename Out>
void put(Out &out, const TimeHistogram &h)
{
    int used = TimeHistogram::bucketCount; // the buckets up to the last one used
    while (used > 0 && h.buckets[static_cast<std::size_t>(used - 1)] == 0)
        --used;
    put(out.open().key("count"), h.count);
    put(out.key("totalNs"), h.totalNs);
    put(out.key("maxNs"), h.maxNs);
    put(out.key("p50Ns"), h.p50Ns());
    put(out.key("p99Ns"), h.p99Ns());
    out.key("nsPerTick").number(h.nsPerTick);
    out.key("buckets").openArray();
    for (int i = 0; i < used; ++i)
        put(out, h.buckets[static_cast<std::size_t>(i)]);
    out.close().close();
}

/// `record`'s fields, each under its key (in an object open in `out`).
template <typename Out, typename Record, typename Fields>
void putFields(Out &out, const Record &record, const Fields &fields)
{
    forEach(fields, [&](const auto &f, std::size_t) { put(out.key(f.key), record.*f.member); });
}

template <typename Out>
void put(Out &out, const HandlerInfo &h)
{
    putFields(out.open(), h, handlerFields);
    put(out.key("totalDrops"), h.totalDrops());
    out.close();
}
template <typename Out>
void put(Out &out, const RegistryInfo &r)
{
    putFields(out.open(), r, registryFields);
    out.key("handlers").openArray();
    for (const HandlerInfo &h : r.handlers)
        put(out, h);
    out.close().close();
}
template <typename Out>
void put(Out &out, const SlowHandlerReport &report)
{
    put(out.open().key("handler"), report.handler);
    put(out.key("elapsedNs"), report.elapsedNs);
    put(out.key("thread"), report.thread);
    put(out.key("threadName"), report.threadName);
    put(out.key("stillRunning"), report.stillRunning);
    put(out.key("endedAtNs"), report.endedAtNs);
    put(out.key("frame"), report.frame);
    out.key("stack").openArray();
    for (const QString &frame : report.stack)
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
