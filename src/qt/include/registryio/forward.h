#pragma once

#include <registryio/detail/qt_tsan.h>
#include <registryio/qt_registry.h>

#include <QMetaObject>
#include <QObject>

#include <concepts>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace rio {

namespace detail {

// The event a forwarded signal's arguments make: E{}, E(arg) or E{args...}.
template <typename E, typename... Args>
E makeForwardedEvent(Args &&...args)
{
    if constexpr (sizeof...(Args) == 0)
        return E{};
    else if constexpr (std::is_constructible_v<E, Args &&...>)
        return E(std::forward<Args>(args)...);
    else
        return E{std::forward<Args>(args)...};
}

template <typename E, typename... Args>
concept ForwardableTo = (sizeof...(Args) == 0 && std::is_default_constructible_v<E>) ||
                        std::is_constructible_v<E, const std::remove_cvref_t<Args> &...> ||
                        requires(const std::remove_cvref_t<Args> &...args)
{
    E{args...};
};

template <typename Map, typename E, typename... Args>
concept EventMapper = std::is_invocable_r_v < E,
        Map &, const std::remove_cvref_t<Args>
&... > ;

} // namespace detail

/// Forwards every emission of `signal` into `registry`: the signal's arguments make the event
/// (E{}, E(arg) or E{args...}), notified on the emitting thread. Disconnects itself when the
/// registry dies; the returned connection disconnects earlier. Throws std::invalid_argument
/// for a null sender or signal.
template <typename E, typename Sender, typename SignalOwner, typename... Args>
requires std::derived_from<Sender, SignalOwner> && detail::ForwardableTo<E, Args...> QMetaObject::Connection
forward(const Sender *sender, void (SignalOwner::*signal)(Args...), QtRegistry<E> &registry)
{
    if (sender == nullptr || signal == nullptr)
        throw std::invalid_argument("rio::forward: the sender or the signal is null");
    QtRegistry<E> *target = &registry;
    return QObject::connect(sender, signal, target, detail::Handover([target](Args... args) {
                                target->notify(detail::makeForwardedEvent<E>(std::as_const(args)...));
                            }),
                            Qt::DirectConnection);
}

/// As forward(sender, signal, registry), with `map(args...)` making the event.
template <typename E, typename Sender, typename SignalOwner, typename... Args, typename Map>
requires std::derived_from<Sender, SignalOwner> && detail::EventMapper<Map, E, Args...>
    QMetaObject::Connection forward(const Sender *sender, void (SignalOwner::*signal)(Args...),
                                    QtRegistry<E> &registry, Map map)
{
    if (sender == nullptr || signal == nullptr)
        throw std::invalid_argument("rio::forward: the sender or the signal is null");
    QtRegistry<E> *target = &registry;
    return QObject::connect(sender, signal, target,
                            detail::Handover([target, map = std::move(map)](Args... args) mutable {
                                target->notify(std::invoke(map, std::as_const(args)...));
                            }),
                            Qt::DirectConnection);
}

} // namespace rio
