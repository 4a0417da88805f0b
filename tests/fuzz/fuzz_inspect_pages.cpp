// SPDX-License-Identifier: MIT
// libFuzzer target for what an inspector reads from the application it attaches to (another
// process, maybe lying): sequences of pages into PageReader and the snapshots it completes into
// decodeSnapshot. The input drives a generator: a snapshot made of its bytes (registries, handlers,
// names, numbers at their limits, one name long enough for a second page), then steps, each one
// of: the snapshot's pages in order; one of them with a header field or its size changed (versions,
// serials, indices, counts at the limits); a page made of the input; the snapshot's bytes changed
// into decodeSnapshot. Properties: nothing crashes or reads out of bounds; what a reader holds is
// at most maxPages pages; a snapshot's pages in order are read whole whatever came before, and
// decode to what was encoded (encoding it again gives the same bytes); whatever decodes encodes
// to bytes that decode to the same.
#include "../../src/inspect/inspect_protocol.h"

#include <QByteArray>
#include <QString>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace {

using namespace rio;

[[noreturn]] void mismatch(const char *what)
{
    std::fprintf(stderr, "model mismatch: %s\n", what);
    std::abort();
}

// The input, read from the front; zeros once it is used up.
class Input
{
public:
    Input(const uint8_t *data, size_t size) : m_at(data), m_end(data + size) { }
    [[nodiscard]] bool empty() const { return m_at == m_end; }
    quint8 byte() { return empty() ? 0 : *m_at++; }
    quint64 number()
    {
        // A value at a limit, small, or eight bytes of the input.
        switch (byte() % 4) {
        case 0:
            return byte();
        case 1:
            return std::numeric_limits<quint64>::max() - byte();
        case 2:
            return quint64(1) << (byte() % 64);
        default: {
            quint64 v = 0;
            for (int i = 0; i < 8; ++i)
                v = (v << 8) | byte();
            return v;
        }
        }
    }
    QByteArray bytes(qsizetype most)
    {
        const qsizetype n = std::min<qsizetype>(std::min<qsizetype>(byte(), most), m_end - m_at);
        QByteArray out(reinterpret_cast<const char *>(m_at), n);
        m_at += n;
        return out;
    }
    QString name()
    {
        static const QString known[] = {QString(), QStringLiteral("main"), QStringLiteral("/src/app.cpp"),
                                        QStringLiteral("Widget"), QString(QChar(0xd800))};
        const quint8 pick = byte();
        if (pick < 5 * 16)
            return known[pick % 5];
        return QString::fromUtf8(bytes(64));
    }

private:
    const uint8_t *m_at;
    const uint8_t *m_end;
};

void histogram(Input &in, TimeHistogram &h)
{
    h.count = in.number();
    h.totalNs = in.number();
    h.maxNs = in.number();
    h.nsPerTick = static_cast<double>(in.byte() + 1) / 7.0; // a clock tick is a positive time
    const int used = in.byte() % (TimeHistogram::bucketCount + 1);
    for (int i = 0; i < used; ++i)
        h.buckets[static_cast<std::size_t>(i)] = in.number();
}

QList<RegistryInfo> snapshotOf(Input &in)
{
    QList<RegistryInfo> registries(in.byte() % 4);
    for (RegistryInfo &r : registries) {
        r.id = in.number();
        r.name = in.name();
        r.eventType = in.name();
        const quint8 flags = in.byte();
        r.qt = (flags & 1) != 0;
        r.diagnosticsEnabled = (flags & 2) != 0;
        r.destroyed = (flags & 4) != 0;
        for (quint64 &d : r.removedHandlerDrops)
            d = in.byte() % 2 == 0 ? 0 : in.number();
        r.handlers.resize(in.byte() % 5);
        for (HandlerInfo &h : r.handlers) {
            h.registryId = r.id;
            h.registryName = r.name;
            h.eventType = r.eventType;
            h.id = HandlerId(std::max<quint64>(1, in.number())); // ids begin at 1
            h.file = in.name();
            h.line = static_cast<int>(in.number());
            h.function = in.name();
            h.originFile = in.name();
            h.originLine = static_cast<int>(in.number());
            h.addedThread = in.number();
            h.addedThreadName = in.name();
            h.contextClass = in.name();
            h.contextName = in.name();
            h.contextThreadName = in.name();
            h.priority = static_cast<int>(in.number());
            h.connection = static_cast<Qt::ConnectionType>(in.number() & 0x1ff);
            h.delivery = static_cast<Delivery>(in.byte() % 2);
            h.capacity = in.number();
            h.overflow = static_cast<Overflow>(in.byte() % 3);
            const quint8 bits = in.byte();
            h.hasContext = (bits & 1) != 0;
            h.once = (bits & 2) != 0;
            h.suspended = (bits & 4) != 0;
            h.timed = (bits & 8) != 0;
            h.calls = in.number();
            h.failures = in.number();
            for (quint64 &d : h.drops)
                d = in.number();
            h.waiting = in.number();
            h.maxWaiting = in.number();
            h.coalesced = in.number();
            h.slowRuns = in.number();
            histogram(in, h.runTime);
            histogram(in, h.queueDelay);
        }
    }
    // A name longer than a page: the snapshot takes two or three.
    if (!registries.isEmpty() && in.byte() % 8 == 0)
        registries[0].name = QString(inspect::pageBytes / 2 + in.byte() * 1024, QChar(u'n'));
    return registries;
}

// Whatever decodes encodes to bytes that decode to the same (their encoding is a fixed point).
void checkDecoded(const QByteArray &bytes)
{
    QList<RegistryInfo> read;
    if (!inspect::decodeSnapshot(bytes, read))
        return;
    const QByteArray again = inspect::encodeSnapshot(read);
    QList<RegistryInfo> back;
    if (!inspect::decodeSnapshot(again, back))
        mismatch("a decoded snapshot does not decode after encoding it again");
    if (inspect::encodeSnapshot(back) != again)
        mismatch("a snapshot changed through encoding it again");
}

// Adds `page`; a completed snapshot goes to decodeSnapshot. What the reader holds stays bounded.
bool add(inspect::PageReader &reader, const QByteArray &page, QByteArray &whole)
{
    const bool done = reader.add(page, whole);
    if (reader.held() > qsizetype(inspect::maxPages) * inspect::pageBytes)
        mismatch("a reader holds more than maxPages pages");
    if (done)
        checkDecoded(whole);
    return done;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Input in(data, size);
    const QList<RegistryInfo> model = snapshotOf(in);
    const QByteArray encoded = inspect::encodeSnapshot(model);
    QList<RegistryInfo> decoded;
    if (!inspect::decodeSnapshot(encoded, decoded))
        mismatch("an encoded snapshot does not decode");
    if (decoded.size() != model.size() || inspect::encodeSnapshot(decoded) != encoded)
        mismatch("a snapshot changed through encoding and decoding");
    for (qsizetype r = 0; r < model.size(); ++r)
        for (const HandlerInfo &h : decoded[r].handlers)
            if (h.registryName != model[r].name || h.registryId != model[r].id)
                mismatch("a handler's registry changed through encoding and decoding");

    quint64 serial = in.number();
    QList<QByteArray> pages = inspect::pages(serial, encoded);
    inspect::PageReader reader;
    QByteArray whole;
    for (int step = 0; step < 64 && !in.empty(); ++step) {
        switch (in.byte() % 5) {
        case 0: { // the snapshot's pages in order: read whole, whatever came before
            for (qsizetype i = 0; i < pages.size(); ++i)
                if (add(reader, pages[i], whole) != (i + 1 == pages.size()))
                    mismatch("a snapshot's pages in order were not read whole at their last");
            if (whole != encoded)
                mismatch("a snapshot's pages were read back as other bytes");
            break;
        }
        case 1: { // one of its pages, a header field or its size changed
            QByteArray page = pages[in.byte() % pages.size()];
            const quint8 what = in.byte();
            const quint64 value = in.number();
            const quint32 word = std::array<quint32, 6>{0,
                                                        1,
                                                        inspect::maxPages,
                                                        inspect::maxPages + 1,
                                                        quint32(pages.size()),
                                                        quint32(value)}[what % 6];
            switch ((what / 6) % 6) {
            case 0:
                qToBigEndian(word, page.data()); // the version
                break;
            case 1:
                qToBigEndian(value, page.data() + 4); // the serial
                break;
            case 2:
                qToBigEndian(word, page.data() + 12); // the index
                break;
            case 3:
                qToBigEndian(word, page.data() + 16); // the count
                break;
            case 4:
                page.truncate(static_cast<qsizetype>(value % quint64(page.size() + 1)));
                break;
            default:
                page.append(in.bytes(255));
                break;
            }
            add(reader, page, whole);
            break;
        }
        case 2: // bytes of the input as a page
            add(reader, in.bytes(255), whole);
            break;
        case 3: { // a page with a header of the input's numbers and a body at a size's limits
            const quint32 count = in.byte() % 4 == 0 ? quint32(in.number()) : in.byte() % 4 + 1u;
            const quint32 index = in.byte() % 4 == 0 ? quint32(in.number()) : in.byte() % std::max(count, 1U);
            const qsizetype body = std::array<qsizetype, 4>{0, inspect::pageBytes - 1, inspect::pageBytes,
                                                            inspect::pageBytes + 1}[in.byte() % 4];
            QByteArray page(inspect::pageHeaderBytes + body, char(in.byte()));
            qToBigEndian(in.byte() % 8 == 0 ? quint32(in.byte()) : inspect::pageVersion, page.data());
            qToBigEndian(in.byte() % 2 == 0 ? serial : in.number(), page.data() + 4);
            qToBigEndian(index, page.data() + 12);
            qToBigEndian(count, page.data() + 16);
            add(reader, page, whole);
            break;
        }
        default: { // the snapshot's bytes changed, cut or grown, into decodeSnapshot
            QByteArray changed = encoded;
            // Anywhere, or in the table of strings (its offset is the header's second word).
            const qsizetype from =
                in.byte() % 2 == 0 ? 0 : qFromLittleEndian<quint32>(encoded.constData() + 4);
            for (int k = in.byte() % 4; k >= 0 && from < changed.size(); --k) {
                const qsizetype at =
                    from + static_cast<qsizetype>(in.number() % quint64(changed.size() - from));
                if (in.byte() % 2 == 0)
                    changed[at] = char(in.byte());
                else if (changed.size() >= 4)
                    qToLittleEndian(quint32(in.number()), changed.data() + std::min(at, changed.size() - 4));
            }
            if (in.byte() % 4 == 0)
                changed.truncate(static_cast<qsizetype>(in.number() % quint64(changed.size() + 1)));
            checkDecoded(changed);
            break;
        }
        }
        if (in.byte() % 8 == 0) // the next snapshot
            pages = inspect::pages(++serial, encoded);
    }
    return 0;
}
