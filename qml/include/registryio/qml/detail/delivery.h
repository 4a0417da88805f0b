// SPDX-License-Identifier: MIT
#pragma once

// The bounded-delivery settings the declarative QML handlers share (RegistryHandler and the
// typed Name##Handler of RIO_QML_TYPED_REGISTRY): their values, checks and HandlerOptions.

#include <registryio/qt/delivery.h>

#include <QObject>
#include <QQmlInfo>

#include <chrono>
#include <cstddef>

namespace rio::detail {

/// `capacity`, `overflow`, `blockTimeout` and `minInterval` of a declarative handler. A refused
/// value warns at the handler's declaration and changes nothing.
struct QmlDeliverySettings
{
    /// 0 means unbounded; the default bounds a runaway producer, see HandlerOptions.
    int capacity = int(HandlerOptions::DefaultCapacity);
    /// A rio::Overflow value (the QML enums use the same numbers).
    int overflow = int(Overflow::DropOldest);
    /// Overflow::Block: the longest a notifying thread waits for room, in milliseconds.
    int blockTimeout = 1000;
    /// With coalescing only: the shortest time between two deliveries, in milliseconds.
    int minInterval = 0;

    /// The options of a registration at `priority`; `minInterval` applies only when `coalesce` is
    /// on. A `once` handler fires one delivery: it keeps the default queue options.
    [[nodiscard]] HandlerOptions options(bool coalesce, int priority, bool once = false) const
    {
        if (once)
            return HandlerOptions{.priority = priority, .once = true};
        HandlerOptions o;
        o.priority = priority;
        o.delivery = coalesce ? Delivery::Latest : Delivery::Every;
        o.capacity = std::size_t(capacity);
        o.overflow = Overflow(overflow);
        o.blockTimeout = std::chrono::milliseconds(blockTimeout);
        o.minInterval = std::chrono::milliseconds(coalesce ? minInterval : 0);
        return o;
    }

    /// Sets `capacity`: true when it changed; a negative value warns on `owner`.
    bool setCapacity(QObject *owner, int value)
    {
        return setCount(owner, capacity, value, "capacity", " (0: unbounded)");
    }
    /// Sets `overflow`: true when it changed; an unknown value warns on `owner`.
    bool setOverflow(QObject *owner, int value)
    {
        if (value == overflow)
            return false;
        if (value < int(Overflow::DropOldest) || value > int(Overflow::Block)) {
            qmlWarning(owner) << "overflow must be DropOldest, DropNewest or Block, got " << value
                              << "; it stays " << overflowName(overflow);
            return false;
        }
        overflow = value;
        return true;
    }
    /// Sets `blockTimeout`: true when it changed; a negative value warns on `owner`.
    bool setBlockTimeout(QObject *owner, int value)
    {
        return setCount(owner, blockTimeout, value, "blockTimeout", " ms");
    }
    /// Sets `minInterval`: true when it changed; a negative value warns on `owner`.
    bool setMinInterval(QObject *owner, int value)
    {
        return setCount(owner, minInterval, value, "minInterval", " ms");
    }
    /// Warns on `owner` when `minInterval` is set without coalescing (it is ignored then).
    void warnIfIgnored(QObject *owner, bool coalesce) const
    {
        if (minInterval > 0 && !coalesce)
            qmlWarning(owner) << "minInterval applies with delivery: Latest (coalesce: true) only; "
                              << minInterval << " ms is ignored";
    }

    /// The QML name of an overflow value.
    static const char *overflowName(int value)
    {
        switch (Overflow(value)) {
        case Overflow::DropOldest:
            return "DropOldest";
        case Overflow::DropNewest:
            return "DropNewest";
        case Overflow::Block:
            return "Block";
        }
        return "?";
    }

private:
    static bool setCount(QObject *owner, int &field, int value, const char *name, const char *unit)
    {
        if (value == field)
            return false;
        if (value < 0) {
            qmlWarning(owner) << name << " must not be negative, got " << value << "; it stays " << field
                              << unit;
            return false;
        }
        field = value;
        return true;
    }
};

} // namespace rio::detail
