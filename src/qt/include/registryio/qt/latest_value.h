// SPDX-License-Identifier: MIT
#pragma once

// rio::LatestValue<T>: a value any thread sets, read on its owner's thread as a Qt property with a
// notify signal and as a QBindable, changed at most once per frame of its window (once per
// event-loop turn without one). It is a handler of the facade's coalesced, queued delivery
// (Delivery::Latest), as a QML registry's `latest` is; set() writes that handler's newest value
// itself, without a notify.

#include <registryio/connection.h>
#include <registryio/qt/delivery.h>
#include <registryio/qt/detail/qt_delivery.h>
#include <registryio/qt/qt_export.h>
#include <registryio/qt/qt_registry.h>

#include <QObject>
#include <QProperty>
#include <QVariant>

#include <memory>

namespace rio {

namespace detail {
class FramePacer;
} // namespace detail

/// The non-template half of LatestValue<T>: the `value` property (a QVariant holding a T), its
/// signal and its bindable, set on the object's thread only.
class RIO_QT_EXPORT LatestValueBase : public QObject
{
    Q_OBJECT
    /// The newest value set or notified (invalid before the first), as bindings read it.
    Q_PROPERTY(QVariant value READ value NOTIFY valueChanged BINDABLE bindableValue FINAL)

public:
    ~LatestValueBase() override;
    LatestValueBase(const LatestValueBase &) = delete;
    LatestValueBase &operator=(const LatestValueBase &) = delete;

    /// The value shown now (on this object's thread).
    [[nodiscard]] QVariant value() const { return m_value.value(); }
    /// `value` as a bindable property (QProperty bindings, on this object's thread).
    [[nodiscard]] QBindable<QVariant> bindableValue() { return &m_value; }

Q_SIGNALS:
    /// `value` changed: on this object's thread, at most once per frame of its window (without
    /// one, at most once per event-loop turn and feed).
    void valueChanged();

protected:
    /// An empty value, child of `parent`.
    explicit LatestValueBase(QObject *parent);
    /// The delivery's call: `value` is shown at the next frame of this object's window (now
    /// without one).
    void offer(QVariant value);

private:
    std::unique_ptr<detail::FramePacer> m_pacer;
    Q_OBJECT_BINDABLE_PROPERTY(LatestValueBase, QVariant, m_value, &LatestValueBase::valueChanged)
};

/// The newest T that any thread set()s, or that followed registries notify, shown on this object's
/// thread as `value`, changed at most once per frame of its window (once per event-loop turn and
/// feed without one) and never for an equal value. The last value of each feed is shown last, the
/// feeds in the order their deliveries were scheduled; set() never throws, and the object is
/// destroyed on its thread once nothing sets it (a value not shown yet is discarded, uncounted).
template <typename T>
class LatestValue final : public LatestValueBase
{
public:
    /// An empty value (value() invalid until the first set is shown), child of `parent`.
    explicit LatestValue(QObject *parent = nullptr)
        : LatestValueBase(parent), m_writer(m_cell.handlerCore(feed(m_cell, SourceLocation::current())))
    { }
    /// Stops showing: a value set and not shown yet is discarded (not counted as a drop).
    ~LatestValue() override { m_writer->cancel(false); }
    LatestValue(const LatestValue &) = delete;
    LatestValue &operator=(const LatestValue &) = delete;

    /// Sets the value, from any thread: shown at this object's next frame or event-loop turn.
    /// Never during or after this object's destruction.
    void set(const T &value) const noexcept
    {
        try {
            if constexpr (detail::storesByValue<T>)
                detail::writeLatestCell(*m_writer, value, detail::noAsyncToken);
            else
                m_writer->postLatest(std::make_shared<const T>(value), detail::noAsyncToken);
        } catch (...) {
            m_writer->reportCurrentException();
        }
    }
    /// The value shown now as a T (a default T before the first), on this object's thread.
    [[nodiscard]] T get() const { return value().template value<T>(); }
    /// Each notify of `registry` sets the value from now on, until the returned handle removes
    /// that handler, `registry` goes or this object does (a value notified but not shown yet is
    /// then dropped, as the registry drops a pending delivery). Call it on this object's thread;
    /// diagnostics show the handler as added at `where`.
    Connection follow(QtRegistry<T> &registry, SourceLocation where = SourceLocation::current())
    {
        return registry.connection(feed(registry, where));
    }

private:
    HandlerId feed(QtRegistry<T> &registry, SourceLocation where)
    {
        return registry.add(
            this, [this](const T &event) { offer(QVariant::fromValue(event)); },
            {.connection = Qt::QueuedConnection, .delivery = Delivery::Latest}, where);
    }

    // set()'s registry: it holds the one coalesced delivery to this object, which set() writes.
    struct Cell final : QtRegistry<T>
    {
        using QtRegistry<T>::handlerCore;
    };

    Cell m_cell;
    const std::shared_ptr<detail::QtHandlerCore> m_writer; // m_cell's one handler
};

} // namespace rio
