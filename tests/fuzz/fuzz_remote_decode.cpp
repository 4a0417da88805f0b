// SPDX-License-Identifier: MIT
// libFuzzer target for what a peer's bytes go through in RegistryIO::Remote: the frame of a
// broadcast event, the frame of a posted event, and the QDataStream decoding of a typical event
// type. Properties: nothing crashes or reads out of bounds; whatever decodes re-encodes to a frame
// that decodes to the same values.
#include <registryio/remote/remote_codec.h>

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
        const QByteArray again = rio::detail::encodeRemoteFrame(*frame);
        const auto back = rio::detail::decodeRemoteFrame(again);
        if (!back || back->sourceInstance != frame->sourceInstance || back->sequence != frame->sequence ||
            back->origin != frame->origin || back->flags != frame->flags || back->payload != frame->payload)
            mismatch("a frame changed through re-encoding");
        checkEvent(frame->payload);
    }
    if (const auto post = rio::detail::decodeRemotePost(bytes)) {
        if (post->first == 0)
            mismatch("a post claimed origin 0");
        const QByteArray again = rio::detail::encodeRemotePost(post->first, post->second);
        const auto back = rio::detail::decodeRemotePost(again);
        if (!back || back->first != post->first || back->second != post->second)
            mismatch("a post changed through re-encoding");
        checkEvent(post->second);
    }
    checkEvent(bytes);
    return 0;
}
