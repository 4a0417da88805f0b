// SPDX-License-Identifier: MIT
// libFuzzer target for what a peer's bytes go through in RegistryIO::Remote: the frame of a
// broadcast frame (one or more events), the frame of posted events, and the QDataStream decoding
// of a typical event type. Properties: nothing crashes or reads out of bounds; a frame decodes only
// whole (1 to RemoteFrameMaxEvents events, increasing sequences, no trailing bytes) and re-encodes
// to the same bytes; a frame with one event that does not decode delivers none of its events.
#include "remote_codec_p.h" // the wire frames (RegistryIO::TestHooks puts src/remote/src on the path)

#include <QByteArray>
#include <QDataStream>
#include <QString>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

struct Order
{
    qint64 id = 0;
    QString customer;
    QByteArray items;
    double total = 0;
    bool operator==(const Order &) const = default;
};

QDataStream &operator<<(QDataStream &s, const Order &o)
{
    return s << o.id << o.customer << o.items << o.total;
}

QDataStream &operator>>(QDataStream &s, Order &o)
{
    return s >> o.id >> o.customer >> o.items >> o.total;
}

[[noreturn]] void mismatch(const char *what)
{
    std::fprintf(stderr, "model mismatch: %s\n", what);
    std::abort();
}

void checkEvent(QByteArrayView payload)
{
    Order order;
    if (!rio::detail::decodeRemoteEvent(payload, order))
        return;
    const QByteArray again = rio::detail::encodeRemoteEvent(order);
    Order back;
    if (!rio::detail::decodeRemoteEvent(again, back))
        mismatch("a decoded event does not decode after re-encoding");
    // `total` is left out: a NaN never equals itself.
    if (back.id != order.id || back.customer != order.customer || back.items != order.items)
        mismatch("an event changed through re-encoding");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArrayView bytes(reinterpret_cast<const char *>(data), qsizetype(size));

    if (const auto frame = rio::detail::decodeRemoteFrame(bytes)) {
        if (frame->events.empty() || frame->events.size() > rio::detail::RemoteFrameMaxEvents)
            mismatch("a frame decoded with no events or more than the limit");
        quint64 previous = 0;
        for (const auto &event : frame->events) {
            if (event.sequence <= previous)
                mismatch("a frame decoded with sequences that do not increase");
            previous = event.sequence;
        }
        const QByteArray again =
            rio::detail::encodeRemoteFrame(frame->sourceInstance, frame->flags, frame->events);
        if (again != bytes.toByteArray())
            mismatch("a frame re-encodes to other bytes");
        const auto back = rio::detail::decodeRemoteFrame(again);
        if (!back || back->sourceInstance != frame->sourceInstance || back->flags != frame->flags ||
            back->events.size() != frame->events.size())
            mismatch("a frame changed through re-encoding");
        for (std::size_t i = 0; i < frame->events.size(); ++i) {
            const auto &a = frame->events[i];
            const auto &b = back->events[i];
            if (a.sequence != b.sequence || a.origin != b.origin || a.payload != b.payload)
                mismatch("an event of a frame changed through re-encoding");
            checkEvent(a.payload);
        }
        // All or none: one event that is not an Order leaves every event undelivered.
        int delivered = 0;
        bool accepted = false;
        bool allDecode = true;
        for (const auto &event : frame->events) {
            Order order;
            allDecode = allDecode && rio::detail::decodeRemoteEvent(event.payload, order);
        }
        const bool ok = rio::detail::deliverRemoteEvents<Order>(
            frame->events, [&] { accepted = true; },
            [&](const Order &, quint64) {
                ++delivered;
                return true;
            });
        if (ok != allDecode || accepted != ok || delivered != (ok ? int(frame->events.size()) : 0))
            mismatch("a frame was delivered in part");
    }
    if (const auto post = rio::detail::decodeRemotePost(bytes)) {
        if (post->empty() || post->size() > rio::detail::RemoteFrameMaxEvents)
            mismatch("a post decoded with no events or more than the limit");
        for (const auto &event : *post) {
            if (event.origin == 0)
                mismatch("a post claimed origin 0");
        }
        const QByteArray again = rio::detail::encodeRemotePost(*post);
        if (again != bytes.toByteArray())
            mismatch("a post re-encodes to other bytes");
        const auto back = rio::detail::decodeRemotePost(again);
        if (!back || back->size() != post->size())
            mismatch("a post changed through re-encoding");
        for (std::size_t i = 0; i < post->size(); ++i) {
            if ((*back)[i].origin != (*post)[i].origin || (*back)[i].payload != (*post)[i].payload)
                mismatch("an event of a post changed through re-encoding");
            checkEvent((*post)[i].payload);
        }
    }
    checkEvent(bytes);
    return 0;
}
