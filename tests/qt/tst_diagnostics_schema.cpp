// SPDX-License-Identifier: MIT
// A handler's record and a registry's in every form they take: each field of the schema, given a
// value of its own, comes back from the JSON form (Qt's tree and the streamed text the files and
// the timeline use), from its item-model role and from the inspectors' wire; QDebug's line shows
// each field the schema labels. A field added to the schema is covered here as it is.
#include "diagnostics_json_p.h"
#include "inspect_protocol.h"

#include <registryio/qt/diagnostics.h>
#include <registryio/qt/diagnostics_model.h>

#include <QJsonDocument>
#include <QtTest>

#include <cstdint>
#include <type_traits>

namespace {

using namespace rio;
namespace schema = rio::detail::schema;
using Drops = std::array<quint64, dropReasonCount>;

// A value of its own for field number `i`, unlike every other field's and the default.
void distinct(quint64 &v, std::size_t i)
{
    v = (quint64{1} << 40) + i;
}
void distinct(int &v, std::size_t i)
{
    v = 1000 + static_cast<int>(i);
}
void distinct(bool &v, std::size_t)
{
    v = true;
}
void distinct(QString &v, std::size_t i)
{
    v = QStringLiteral("field %1: \"é\"\t\\").arg(i);
}
void distinct(HandlerId &v, std::size_t i)
{
    v = HandlerId{2000 + i};
}
void distinct(Qt::ConnectionType &v, std::size_t)
{
    v = Qt::BlockingQueuedConnection;
}
void distinct(Delivery &v, std::size_t)
{
    v = Delivery::Latest;
}
void distinct(Overflow &v, std::size_t)
{
    v = Overflow::Block;
}
void distinct(Drops &v, std::size_t i)
{
    for (std::size_t r = 0; r < v.size(); ++r)
        v[r] = 10 * i + r + 1;
}
void distinct(TimeHistogram &v, std::size_t i)
{
    v.nsPerTick = 2.5;
    v.buckets[3] = i;
    v.buckets[20] = 7;
    v.count = i + 7;
    v.totalNs = 900'000 + i;
    v.maxNs = 2'500'000 + i;
}

// A field's value back from its JSON form; false when it is not there or not of its type.
bool fromJson(const QJsonValue &j, quint64 &v)
{
    v = static_cast<quint64>(j.toInteger(-1));
    return j.isDouble() && j.toInteger(-1) >= 0;
}
bool fromJson(const QJsonValue &j, int &v)
{
    v = j.toInt();
    return j.isDouble();
}
bool fromJson(const QJsonValue &j, bool &v)
{
    v = j.toBool();
    return j.isBool();
}
bool fromJson(const QJsonValue &j, QString &v)
{
    v = j.toString();
    return j.isString();
}
bool fromJson(const QJsonValue &j, HandlerId &v)
{
    quint64 n = 0;
    const bool ok = fromJson(j, n);
    v = HandlerId{n};
    return ok;
}
template <typename Enum>
bool fromNames(const QJsonValue &j, Enum &v, std::initializer_list<std::pair<const char *, Enum>> names)
{
    for (const auto &[name, value] : names)
        if (j.toString() == QLatin1String(name)) {
            v = value;
            return true;
        }
    return false;
}
bool fromJson(const QJsonValue &j, Qt::ConnectionType &v)
{
    return fromNames(j, v,
                     {{"direct", Qt::DirectConnection},
                      {"queued", Qt::QueuedConnection},
                      {"blocking", Qt::BlockingQueuedConnection},
                      {"auto", Qt::AutoConnection}});
}
bool fromJson(const QJsonValue &j, Delivery &v)
{
    return fromNames(j, v, {{"every", Delivery::Every}, {"latest", Delivery::Latest}});
}
bool fromJson(const QJsonValue &j, Overflow &v)
{
    return fromNames(j, v,
                     {{"dropOldest", Overflow::DropOldest},
                      {"dropNewest", Overflow::DropNewest},
                      {"block", Overflow::Block}});
}
bool fromJson(const QJsonValue &j, Drops &v)
{
    bool ok = j.isObject() && j.toObject().size() == dropReasonCount;
    for (int r = 0; r < dropReasonCount; ++r)
        ok =
            fromJson(j[QLatin1String(rio::detail::dropReasonNames[r])], v[static_cast<std::size_t>(r)]) && ok;
    return ok;
}
bool fromJson(const QJsonValue &j, TimeHistogram &v)
{
    bool ok = fromJson(j[u"count"], v.count) && fromJson(j[u"totalNs"], v.totalNs) &&
              fromJson(j[u"maxNs"], v.maxNs);
    v.nsPerTick = j[u"nsPerTick"].toDouble();
    const QJsonArray buckets = j[u"buckets"].toArray();
    for (qsizetype b = 0; b < buckets.size() && b < TimeHistogram::bucketCount; ++b)
        ok = fromJson(buckets[b], v.buckets[static_cast<std::size_t>(b)]) && ok;
    return ok && j[u"p99Ns"].toInteger() == qint64(v.p99Ns());
}

bool same(const TimeHistogram &a, const TimeHistogram &b)
{
    return a.count == b.count && a.totalNs == b.totalNs && a.maxNs == b.maxNs && a.nsPerTick == b.nsPerTick &&
           a.buckets == b.buckets;
}
template <typename T>
bool same(const T &a, const T &b)
{
    return a == b;
}

// A registry of one handler whose every field has a value of its own.
RegistryInfo everyField()
{
    RegistryInfo r;
    schema::forEach(schema::registryFields, [&](const auto &f, std::size_t i) { distinct(r.*f.member, i); });
    HandlerInfo h;
    schema::forEach(schema::handlerFields,
                    [&](const auto &f, std::size_t i) { distinct(h.*f.member, 100 + i); });
    h.registryId = r.id; // what a snapshot gives, and the wire sends once per registry
    h.registryName = r.name;
    h.eventType = r.eventType;
    r.handlers = {h};
    return r;
}

// Compares every field of `fields` in `got` with `want`; `what` names the form.
template <typename Record, typename Fields>
void compareFields(const Record &got, const Record &want, const Fields &fields, const char *what,
                   bool sentOnly)
{
    schema::forEach(fields, [&](const auto &f, std::size_t) {
        if (!sentOnly || f.sent)
            QVERIFY2(same(got.*f.member, want.*f.member),
                     qPrintable(QStringLiteral("%1: %2").arg(what, f.key)));
    });
}

// Every field of `fields` back from `object`, which holds nothing else but `extra` keys.
template <typename Record, typename Fields>
void compareJson(const QJsonObject &object, const Record &want, const Fields &fields,
                 const QStringList &extra, const char *what)
{
    Record got;
    schema::forEach(fields, [&](const auto &f, std::size_t) {
        QVERIFY2(fromJson(object[QLatin1String(f.key)], got.*f.member),
                 qPrintable(QStringLiteral("%1: %2").arg(what, f.key)));
    });
    compareFields(got, want, fields, what, false);
    QCOMPARE(object.size(), qsizetype(std::tuple_size_v<std::decay_t<Fields>>) + extra.size());
    for (const QString &key : extra)
        QVERIFY2(object.contains(key), qPrintable(key));
}

} // namespace

class DiagnosticsSchemaTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // toJson: every field under its key, as its own value again.
    void everyFieldIsInTheJsonForm()
    {
        const RegistryInfo r = everyField();
        const QJsonObject registry = toJson(r);
        compareJson(registry, r, schema::registryFields, {QStringLiteral("handlers")}, "registry JSON");
        const QJsonObject handler = registry[u"handlers"].toArray().at(0).toObject();
        compareJson(handler, r.handlers[0], schema::handlerFields, {QStringLiteral("totalDrops")},
                    "handler JSON");
        QCOMPARE(handler, toJson(r.handlers[0]));
        QCOMPARE(handler[u"totalDrops"].toInteger(), qint64(r.handlers[0].totalDrops()));
    }

    // The streamed text (the file written at exit, the timeline) is the same document.
    void theStreamedTextIsTheSameDocument()
    {
        const RegistryInfo r = everyField();
        QByteArray text;
        rio::detail::JsonText out(text);
        schema::put(out, r);
        QJsonParseError error{};
        const QJsonDocument parsed = QJsonDocument::fromJson(text, &error);
        QCOMPARE(error.error, QJsonParseError::NoError);
        QCOMPARE(parsed.object(), toJson(r));
    }

    // QDebug's line: the handler's place, registry and thread, then each labelled field.
    void qdebugShowsEveryLabelledField()
    {
        const HandlerInfo h = everyField().handlers[0];
        QString line;
        QDebug(&line) << h;
        QVERIFY2(line.contains(QString::number(h.id.value())) && line.contains(QString::number(h.registryId)),
                 qPrintable(line));
        int labelled = 0;
        schema::forEach(schema::handlerFields, [&](const auto &f, std::size_t) {
            if (f.label == nullptr)
                return;
            ++labelled;
            using T = typename std::decay_t<decltype(f)>::Type;
            QString shown;
            if constexpr (std::is_same_v<T, quint64>)
                shown = QString::number(h.*f.member);
            else if constexpr (std::is_same_v<T, Drops>)
                shown = QString::number(h.totalDrops());
            else if constexpr (std::is_same_v<T, TimeHistogram>)
                shown =
                    QStringLiteral("p50 ") + DiagnosticsModel::formatDuration(double((h.*f.member).p50Ns()));
            QVERIFY2(!shown.isEmpty() && line.contains(QLatin1String(f.label) + u' ' + shown),
                     qPrintable(QStringLiteral("%1 in %2").arg(f.key, line)));
        });
        QVERIFY(labelled >= 7);
        QVERIFY(!line.contains(u'\n'));
    }

    // DiagnosticsModel: every field is a role, named as its key (or its role's own name), whose
    // value is the field's again.
    void everyFieldIsAModelRole()
    {
        const RegistryInfo r = everyField();
        const HandlerInfo &h = r.handlers[0];
        DiagnosticsModel model;
        model.setRefreshInterval(0);
        model.setSnapshot({r});
        QTRY_VERIFY(model.rowCount() > 0);
        int row = -1;
        for (int i = 0; i < model.rowCount(); ++i)
            if (model.index(i, 0).data(DiagnosticsModel::HandlerIdRole).toULongLong() == h.id.value())
                row = i;
        QVERIFY(row >= 0);
        const QHash<int, QByteArray> names = model.roleNames();
        QSet<int> roles;
        schema::forEach(schema::handlerFields, [&](const auto &f, std::size_t i) {
            const int role = f.role != 0 ? f.role : DiagnosticsModel::FieldRole + int(i);
            QVERIFY2(!roles.contains(role), f.key);
            roles.insert(role);
            QCOMPARE(names.value(role), QByteArray(f.roleName != nullptr ? f.roleName : f.key));
            typename std::decay_t<decltype(f)>::Type got{};
            const QVariant value = model.index(row, 0).data(role);
            QVERIFY2(fromJson(QJsonValue::fromVariant(value), got), f.key);
            QVERIFY2(same(got, h.*f.member), f.key);
        });
        QCOMPARE(QSet<QByteArray>(names.cbegin(), names.cend()).size(), names.size()); // each name once
    }

    // The inspectors' wire: every field sent comes back; a handler's registry fields come with
    // its registry; the rest keep their defaults.
    void everySentFieldCrossesTheWire()
    {
        const RegistryInfo r = everyField();
        QList<RegistryInfo> read;
        QVERIFY(inspect::decodeSnapshot(inspect::encodeSnapshot({r, r}), read));
        QCOMPARE(read.size(), 2);
        for (const RegistryInfo &got : std::as_const(read)) {
            compareFields(got, r, schema::registryFields, "registry on the wire", false);
            QCOMPARE(got.handlers.size(), 1);
            const HandlerInfo &h = got.handlers[0];
            compareFields(h, r.handlers[0], schema::handlerFields, "handler on the wire", true);
            QCOMPARE(h.registryId, r.id);
            QCOMPARE(h.registryName, r.name);
            QCOMPARE(h.eventType, r.eventType);
            QCOMPARE(h.removed, false); // only the file written at exit has it
        }
        // A value no field has is refused: a flag past the last boolean.
        QByteArray bytes = inspect::encodeSnapshot({r});
        const qsizetype flags = 12 + 8 + 4 + 4; // the registry's id and two strings
        QCOMPARE(quint8(bytes[flags]), quint8(7));
        bytes[flags] = char(15);
        QVERIFY(!inspect::decodeSnapshot(bytes, read));
    }
};

QTEST_MAIN(DiagnosticsSchemaTest)
#include "tst_diagnostics_schema.moc"
