// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/qt/detail/qt_tsan.h>
#include <registryio/qt/qt_registry.h>

#include <QMetaObject>
#include <QObject>

#include <concepts>
#include <cstddef>
#include <stdexcept>
#include <tuple>
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
                        requires(const std::remove_cvref_t<Args> &...args) { E{args...}; };

template <typename Map, typename E, typename... Args>
concept EventMapper = std::is_invocable_r_v<E, Map &, const std::remove_cvref_t<Args> &...>;

// True for the private tag (`QPrivateSignal`) that Q_OBJECT declares and private signals take
// last: it is a class whose own injected name is QPrivateSignal, which the private access does
// not hide from this check.
template <typename T, typename = void>
inline constexpr bool isPrivateSignalTag = false;
template <typename T>
inline constexpr bool isPrivateSignalTag<T, std::enable_if_t<std::is_same_v<T, class T::QPrivateSignal>>> =
    true;

template <typename... Ts>
struct TypeList
{ };

// The arguments of a signal a slot can receive: all but a trailing QPrivateSignal tag.
template <typename... Args>
struct PublicArgs
{
    using Tuple = std::tuple<Args...>;
    template <std::size_t... I>
    static TypeList<std::tuple_element_t<I, Tuple>...> first(std::index_sequence<I...>);
    static constexpr bool dropLast = []() {
        if constexpr (sizeof...(Args) == 0)
            return false;
        else
            return isPrivateSignalTag<std::remove_cvref_t<std::tuple_element_t<sizeof...(Args) - 1, Tuple>>>;
    }();
    using type = decltype(first(std::make_index_sequence<sizeof...(Args) - (dropLast ? 1 : 0)>()));
};
template <typename... Args>
using PublicArgsOf = typename PublicArgs<Args...>::type;

template <typename E, typename List>
inline constexpr bool forwardableList = false;
template <typename E, typename... Args>
inline constexpr bool forwardableList<E, TypeList<Args...>> = ForwardableTo<E, Args...>;

template <typename Map, typename E, typename List>
inline constexpr bool mapperList = false;
template <typename Map, typename E, typename... Args>
inline constexpr bool mapperList<Map, E, TypeList<Args...>> = EventMapper<Map, E, Args...>;

// Connects `signal` to a slot taking its public arguments, which `notify(args...)` receives.
template <typename Sender, typename Signal, typename E, typename Notify, typename... Args>
QMetaObject::Connection connectForward(const Sender *sender, Signal signal, QtRegistry<E> *target,
                                       Notify notify, TypeList<Args...>)
{
    return QObject::connect(
        sender, signal, target,
        Handover([notify = std::move(notify)](Args... args) mutable { notify(std::as_const(args)...); }),
        Qt::DirectConnection);
}

} // namespace detail

/// Notifies `registry` on the emitting thread at every emission of `signal`, the event made from
/// its arguments (E{}, E(arg) or E{args...}; a trailing QPrivateSignal tag left out), until the
/// registry dies or the returned connection is disconnected. Throws std::invalid_argument for a
/// null sender or signal.
template <typename E, typename Sender, typename SignalOwner, typename... Args>
requires std::derived_from<Sender, SignalOwner> && detail::forwardableList<E, detail::PublicArgsOf<Args...>>
QMetaObject::Connection forward(const Sender *sender, void (SignalOwner::*signal)(Args...),
                                QtRegistry<E> &registry)
{
    if (sender == nullptr || signal == nullptr)
        throw std::invalid_argument("rio::forward: the sender or the signal is null");
    QtRegistry<E> *target = &registry;
    return detail::connectForward(
        sender, signal, target,
        [target](const auto &...args) { target->notify(detail::makeForwardedEvent<E>(args...)); },
        detail::PublicArgsOf<Args...>{});
}

/// As forward(sender, signal, registry), with `map(args...)` making the event (a trailing
/// QPrivateSignal tag is not passed to it).
template <typename E, typename Sender, typename SignalOwner, typename... Args, typename Map>
requires std::derived_from<Sender, SignalOwner> && detail::mapperList<Map, E, detail::PublicArgsOf<Args...>>
QMetaObject::Connection forward(const Sender *sender, void (SignalOwner::*signal)(Args...),
                                QtRegistry<E> &registry, Map map)
{
    if (sender == nullptr || signal == nullptr)
        throw std::invalid_argument("rio::forward: the sender or the signal is null");
    QtRegistry<E> *target = &registry;
    return detail::connectForward(
        sender, signal, target,
        [target, map = std::move(map)](const auto &...args) mutable {
            target->notify(std::invoke(map, args...));
        },
        detail::PublicArgsOf<Args...>{});
}

} // namespace rio
