// SPDX-License-Identifier: MIT
#pragma once

// The registration forms QtRegistry<E> had before its one shape, kept as overloads whose use fails
// to compile with a message that names the form to write instead. Each is viable only for a call
// that no current form accepts: the arguments after the handler are deduced (so a braced
// `{.priority = 1}` never matches them) and must have a removed form's shape, which excludes a
// lone HandlerOptions. They therefore change no overload resolution and make no call ambiguous.

#include <registryio/handler_guard.h>
#include <registryio/handler_id.h>
#include <registryio/qt/delivery.h>

#include <QObject>

#include <concepts>
#include <type_traits>

namespace rio::detail {

/// QtHandlerFor<F, E> (qt_registry.h defines it after including this header).
template <typename F, typename E>
concept RemovedFormHandler =
    std::is_invocable_v<std::decay_t<F> &, const E &> || std::is_invocable_v<std::decay_t<F> &>;

/// QtMemberSlotFor<Method, Receiver, E> (qt_registry.h defines it after including this header).
template <typename Method, typename Receiver, typename E>
concept RemovedFormSlot =
    std::derived_from<Receiver, QObject> && std::is_member_function_pointer_v<Method> &&
    (std::is_invocable_v<Method, Receiver *, const E &> || std::is_invocable_v<Method, Receiver *>);

/// A connection type where a removed form took a priority or a connection type.
template <typename T>
concept RemovedConnectionArg = std::same_as<std::remove_cvref_t<T>, Qt::ConnectionType>;

/// A Delivery where a removed form took one.
template <typename T>
concept RemovedDeliveryArg = std::same_as<std::remove_cvref_t<T>, Delivery>;

/// The removed DeliveryOptions, or a HandlerOptions where a removed form took a DeliveryOptions.
template <typename T>
concept RemovedOptionsArg = std::same_as<std::remove_cvref_t<T>, RemovedDeliveryOptions<>> ||
                            std::same_as<std::remove_cvref_t<T>, HandlerOptions>;

/// A priority where a removed form took one (an int or what converts to it).
template <typename T>
concept RemovedPriorityArg = !RemovedConnectionArg<T> && !RemovedOptionsArg<T> &&
                             std::is_convertible_v<T, int> && !std::is_convertible_v<T, HandlerOptions>;

/// The arguments a call passes after its handler, by shape.
enum class RemovedTail {
    Invalid,                    ///< no removed form's shape
    None,                       ///< nothing: addOnce(context, f)
    Priority,                   ///< (priority)
    Connection,                 ///< (type), which a removed form read as a priority
    Delivery,                   ///< (delivery)
    Options,                    ///< (HandlerOptions): only addOnce has no such form
    PriorityConnection,         ///< (priority, type)
    PriorityDelivery,           ///< (priority, delivery)
    PriorityOptions,            ///< (priority, options)
    PriorityConnectionDelivery, ///< (priority, type, delivery)
    PriorityConnectionOptions,  ///< (priority, type, options)
};

/// The shape of one argument after the handler.
template <typename A0>
consteval RemovedTail removedTail1()
{
    if constexpr (RemovedConnectionArg<A0>)
        return RemovedTail::Connection;
    else if constexpr (RemovedDeliveryArg<A0>)
        return RemovedTail::Delivery;
    else if constexpr (std::same_as<std::remove_cvref_t<A0>, HandlerOptions>)
        return RemovedTail::Options;
    else if constexpr (RemovedPriorityArg<A0>)
        return RemovedTail::Priority;
    else
        return RemovedTail::Invalid;
}

/// The shape of two arguments after the handler.
template <typename A0, typename A1>
consteval RemovedTail removedTail2()
{
    constexpr bool priority = RemovedPriorityArg<A0>;
    if constexpr (priority && RemovedConnectionArg<A1>)
        return RemovedTail::PriorityConnection;
    else if constexpr (priority && RemovedDeliveryArg<A1>)
        return RemovedTail::PriorityDelivery;
    else if constexpr (priority && RemovedOptionsArg<A1>)
        return RemovedTail::PriorityOptions;
    else
        return RemovedTail::Invalid;
}

/// The shape of three arguments after the handler.
template <typename A0, typename A1, typename A2>
consteval RemovedTail removedTail3()
{
    constexpr bool priorityAndType = RemovedPriorityArg<A0> && RemovedConnectionArg<A1>;
    if constexpr (priorityAndType && RemovedDeliveryArg<A2>)
        return RemovedTail::PriorityConnectionDelivery;
    else if constexpr (priorityAndType && RemovedOptionsArg<A2>)
        return RemovedTail::PriorityConnectionOptions;
    else
        return RemovedTail::Invalid;
}

/// The shape of the arguments `A...` a call passes after its handler.
template <typename... A>
consteval RemovedTail removedTail()
{
    if constexpr (sizeof...(A) == 0)
        return RemovedTail::None;
    else if constexpr (sizeof...(A) == 1)
        return removedTail1<A...>();
    else if constexpr (sizeof...(A) == 2)
        return removedTail2<A...>();
    else if constexpr (sizeof...(A) == 3)
        return removedTail3<A...>();
    else
        return RemovedTail::Invalid;
}

/// Arguments after the handler that add and addScoped took once and take no more.
template <typename... A>
concept RemovedAddTail =
    removedTail<A...>() != RemovedTail::Invalid && removedTail<A...>() != RemovedTail::None &&
    removedTail<A...>() != RemovedTail::Options;

/// Arguments after the handler of an addOnce with a context or a receiver (all removed).
template <typename... A>
concept RemovedOnceTail = removedTail<A...>() != RemovedTail::Invalid;

/// What a removed form returns: it converts to what the form returned, so that its call reports
/// the form's message only.
struct RemovedRegistration
{
    /// An invalid id.
    operator HandlerId() const noexcept { return {}; }
    /// An empty guard.
    operator HandlerGuard() const noexcept { return {}; }
};

/// The removed registration forms of QtRegistry<E>, which brings them in with using-declarations.
/// Every member fails to compile where it is called, naming the form to write instead.
template <typename E>
class QtRemovedForms
{
public:
    /// Removed: add(context, f, priority, ...); the compiler names the form to write.
    template <typename F, typename... A>
    requires RemovedFormHandler<F, E> && RemovedAddTail<A...>
    RemovedRegistration add(QObject * /*context*/, F && /*handler*/, A &&.../*removed*/)
    {
        constexpr RemovedTail tail = removedTail<A...>();
        if constexpr (tail == RemovedTail::Priority)
            static_assert(removedForm<A...>, "rio::QtRegistry: add(context, f, priority) was removed; "
                                             "write add(context, f, {.priority = priority})");
        else if constexpr (tail == RemovedTail::Connection)
            static_assert(removedForm<A...>, "rio::QtRegistry: add(context, f, priority) was removed, and "
                                             "it read a connection type as a priority; write "
                                             "add(context, f, {.connection = type})");
        else if constexpr (tail == RemovedTail::Delivery)
            static_assert(removedForm<A...>,
                          "rio::QtRegistry: the options of add come in one "
                          "rio::HandlerOptions; write add(context, f, {.delivery = delivery})");
        else if constexpr (tail == RemovedTail::PriorityConnection)
            static_assert(removedForm<A...>,
                          "rio::QtRegistry: add(context, f, priority, type) was removed; "
                          "write add(context, f, {.priority = priority, .connection = type})");
        else if constexpr (tail == RemovedTail::PriorityDelivery)
            static_assert(removedForm<A...>, "rio::QtRegistry: add(context, f, priority, delivery) was "
                                             "removed; write add(context, f, {.priority = priority, "
                                             ".delivery = delivery})");
        else if constexpr (tail == RemovedTail::PriorityConnectionDelivery)
            static_assert(removedForm<A...>, "rio::QtRegistry: add(context, f, priority, type, delivery) was "
                                             "removed; write add(context, f, {.priority = priority, "
                                             ".connection = type, .delivery = delivery})");
        else if constexpr (tail == RemovedTail::PriorityOptions)
            static_assert(removedForm<A...>, "rio::QtRegistry: add(context, f, priority, options) was "
                                             "removed; write add(context, f, options) with a "
                                             "rio::HandlerOptions that also sets .priority");
        else
            static_assert(removedForm<A...>, "rio::QtRegistry: add(context, f, priority, type, options) was "
                                             "removed; write add(context, f, options) with a "
                                             "rio::HandlerOptions that also sets .priority and .connection");
        return {};
    }

    /// Removed: add(receiver, &Class::method, priority, ...); the compiler names the form to write.
    template <typename Receiver, RemovedFormSlot<Receiver, E> Method, typename... A>
    requires RemovedAddTail<A...>
    RemovedRegistration add(Receiver * /*receiver*/, Method /*method*/, A &&.../*removed*/)
    {
        constexpr RemovedTail tail = removedTail<A...>();
        if constexpr (tail == RemovedTail::Priority)
            static_assert(removedForm<A...>, "rio::QtRegistry: add(receiver, &Class::method, priority) was "
                                             "removed; write add(receiver, &Class::method, {.priority = "
                                             "priority})");
        else if constexpr (tail == RemovedTail::Connection)
            static_assert(removedForm<A...>, "rio::QtRegistry: add(receiver, &Class::method, priority) was "
                                             "removed, and it read a connection type as a priority; write "
                                             "add(receiver, &Class::method, {.connection = type})");
        else if constexpr (tail == RemovedTail::Delivery)
            static_assert(removedForm<A...>, "rio::QtRegistry: the options of add come in one "
                                             "rio::HandlerOptions; write add(receiver, &Class::method, "
                                             "{.delivery = delivery})");
        else if constexpr (tail == RemovedTail::PriorityConnection)
            static_assert(removedForm<A...>, "rio::QtRegistry: add(receiver, &Class::method, priority, type) "
                                             "was removed; write add(receiver, &Class::method, {.priority = "
                                             "priority, .connection = type})");
        else if constexpr (tail == RemovedTail::PriorityDelivery)
            static_assert(removedForm<A...>, "rio::QtRegistry: add(receiver, &Class::method, priority, "
                                             "delivery) was removed; write add(receiver, &Class::method, "
                                             "{.priority = priority, .delivery = delivery})");
        else if constexpr (tail == RemovedTail::PriorityConnectionDelivery)
            static_assert(removedForm<A...>, "rio::QtRegistry: add(receiver, &Class::method, priority, type, "
                                             "delivery) was removed; write add(receiver, &Class::method, "
                                             "{.priority = priority, .connection = type, .delivery = "
                                             "delivery})");
        else if constexpr (tail == RemovedTail::PriorityOptions)
            static_assert(removedForm<A...>, "rio::QtRegistry: add(receiver, &Class::method, priority, "
                                             "options) was removed; write add(receiver, &Class::method, "
                                             "options) with a rio::HandlerOptions that also sets .priority");
        else
            static_assert(removedForm<A...>, "rio::QtRegistry: add(receiver, &Class::method, priority, type, "
                                             "options) was removed; write add(receiver, &Class::method, "
                                             "options) with a rio::HandlerOptions that also sets .priority "
                                             "and .connection");
        return {};
    }

    /// Removed: addScoped(context, f, priority, ...); the compiler names the form to write.
    template <typename F, typename... A>
    requires RemovedFormHandler<F, E> && RemovedAddTail<A...>
    RemovedRegistration addScoped(QObject * /*context*/, F && /*handler*/, A &&.../*removed*/)
    {
        constexpr RemovedTail tail = removedTail<A...>();
        if constexpr (tail == RemovedTail::Priority)
            static_assert(removedForm<A...>, "rio::QtRegistry: addScoped(context, f, priority) was removed; "
                                             "write addScoped(context, f, {.priority = priority})");
        else if constexpr (tail == RemovedTail::Connection)
            static_assert(removedForm<A...>, "rio::QtRegistry: addScoped(context, f, priority) was removed, "
                                             "and it read a connection type as a priority; write "
                                             "addScoped(context, f, {.connection = type})");
        else if constexpr (tail == RemovedTail::Delivery)
            static_assert(removedForm<A...>, "rio::QtRegistry: the options of addScoped come in one "
                                             "rio::HandlerOptions; write addScoped(context, f, {.delivery = "
                                             "delivery})");
        else if constexpr (tail == RemovedTail::PriorityConnection)
            static_assert(removedForm<A...>, "rio::QtRegistry: addScoped(context, f, priority, type) was "
                                             "removed; write addScoped(context, f, {.priority = priority, "
                                             ".connection = type})");
        else if constexpr (tail == RemovedTail::PriorityDelivery)
            static_assert(removedForm<A...>, "rio::QtRegistry: addScoped(context, f, priority, delivery) was "
                                             "removed; write addScoped(context, f, {.priority = priority, "
                                             ".delivery = delivery})");
        else if constexpr (tail == RemovedTail::PriorityConnectionDelivery)
            static_assert(removedForm<A...>,
                          "rio::QtRegistry: addScoped(context, f, priority, type, "
                          "delivery) was removed; write addScoped(context, f, {.priority = "
                          "priority, .connection = type, .delivery = delivery})");
        else if constexpr (tail == RemovedTail::PriorityOptions)
            static_assert(removedForm<A...>, "rio::QtRegistry: addScoped(context, f, priority, options) was "
                                             "removed; write addScoped(context, f, options) with a "
                                             "rio::HandlerOptions that also sets .priority");
        else
            static_assert(removedForm<A...>,
                          "rio::QtRegistry: addScoped(context, f, priority, type, options) "
                          "was removed; write addScoped(context, f, options) with a "
                          "rio::HandlerOptions that also sets .priority and .connection");
        return {};
    }

    /// Removed: addScoped(receiver, &Class::method, priority, ...); the compiler names the form to
    /// write.
    template <typename Receiver, RemovedFormSlot<Receiver, E> Method, typename... A>
    requires RemovedAddTail<A...>
    RemovedRegistration addScoped(Receiver * /*receiver*/, Method /*method*/, A &&.../*removed*/)
    {
        constexpr RemovedTail tail = removedTail<A...>();
        if constexpr (tail == RemovedTail::Priority)
            static_assert(removedForm<A...>, "rio::QtRegistry: addScoped(receiver, &Class::method, priority) "
                                             "was removed; write addScoped(receiver, &Class::method, "
                                             "{.priority = priority})");
        else if constexpr (tail == RemovedTail::Connection)
            static_assert(removedForm<A...>, "rio::QtRegistry: addScoped(receiver, &Class::method, priority) "
                                             "was removed, and it read a connection type as a priority; "
                                             "write addScoped(receiver, &Class::method, {.connection = "
                                             "type})");
        else if constexpr (tail == RemovedTail::Delivery)
            static_assert(removedForm<A...>, "rio::QtRegistry: the options of addScoped come in one "
                                             "rio::HandlerOptions; write addScoped(receiver, "
                                             "&Class::method, {.delivery = delivery})");
        else if constexpr (tail == RemovedTail::PriorityConnection)
            static_assert(removedForm<A...>, "rio::QtRegistry: addScoped(receiver, &Class::method, priority, "
                                             "type) was removed; write addScoped(receiver, &Class::method, "
                                             "{.priority = priority, .connection = type})");
        else if constexpr (tail == RemovedTail::PriorityDelivery)
            static_assert(removedForm<A...>, "rio::QtRegistry: addScoped(receiver, &Class::method, priority, "
                                             "delivery) was removed; write addScoped(receiver, "
                                             "&Class::method, {.priority = priority, .delivery = "
                                             "delivery})");
        else if constexpr (tail == RemovedTail::PriorityConnectionDelivery)
            static_assert(removedForm<A...>, "rio::QtRegistry: addScoped(receiver, &Class::method, priority, "
                                             "type, delivery) was removed; write addScoped(receiver, "
                                             "&Class::method, {.priority = priority, .connection = type, "
                                             ".delivery = delivery})");
        else if constexpr (tail == RemovedTail::PriorityOptions)
            static_assert(removedForm<A...>, "rio::QtRegistry: addScoped(receiver, &Class::method, priority, "
                                             "options) was removed; write addScoped(receiver, "
                                             "&Class::method, options) with a rio::HandlerOptions that "
                                             "also sets .priority");
        else
            static_assert(removedForm<A...>, "rio::QtRegistry: addScoped(receiver, &Class::method, priority, "
                                             "type, options) was removed; write addScoped(receiver, "
                                             "&Class::method, options) with a rio::HandlerOptions that "
                                             "also sets .priority and .connection");
        return {};
    }

    /// Removed: addOnce(context, f, ...); the compiler names the form to write.
    template <typename F, typename... A>
    requires RemovedFormHandler<F, E> && RemovedOnceTail<A...>
    RemovedRegistration addOnce(QObject * /*context*/, F && /*handler*/, A &&.../*removed*/)
    {
        constexpr RemovedTail tail = removedTail<A...>();
        if constexpr (tail == RemovedTail::None)
            static_assert(removedForm<A...>, "rio::QtRegistry: addOnce(context, f) was removed; write "
                                             "add(context, f, {.once = true})");
        else if constexpr (tail == RemovedTail::Priority)
            static_assert(removedForm<A...>, "rio::QtRegistry: addOnce(context, f, priority) was removed; "
                                             "write add(context, f, {.priority = priority, .once = true})");
        else if constexpr (tail == RemovedTail::PriorityConnection)
            static_assert(removedForm<A...>, "rio::QtRegistry: addOnce(context, f, priority, type) was "
                                             "removed; write add(context, f, {.priority = priority, "
                                             ".connection = type, .once = true})");
        else if constexpr (tail == RemovedTail::Options)
            static_assert(removedForm<A...>, "rio::QtRegistry: addOnce takes no context; write add(context, "
                                             "f, options) with .once = true in options");
        else
            static_assert(removedForm<A...>, "rio::QtRegistry: addOnce takes no context; write add(context, "
                                             "f, {.once = true, ...}) with the other options in the braces");
        return {};
    }

    /// Removed: addOnce(receiver, &Class::method, ...); the compiler names the form to write.
    template <typename Receiver, RemovedFormSlot<Receiver, E> Method, typename... A>
    requires RemovedOnceTail<A...>
    RemovedRegistration addOnce(Receiver * /*receiver*/, Method /*method*/, A &&.../*removed*/)
    {
        constexpr RemovedTail tail = removedTail<A...>();
        if constexpr (tail == RemovedTail::None)
            static_assert(removedForm<A...>, "rio::QtRegistry: addOnce(receiver, &Class::method) was "
                                             "removed; write add(receiver, &Class::method, {.once = true})");
        else if constexpr (tail == RemovedTail::Priority)
            static_assert(removedForm<A...>, "rio::QtRegistry: addOnce(receiver, &Class::method, priority) "
                                             "was removed; write add(receiver, &Class::method, {.priority = "
                                             "priority, .once = true})");
        else if constexpr (tail == RemovedTail::PriorityConnection)
            static_assert(removedForm<A...>, "rio::QtRegistry: addOnce(receiver, &Class::method, priority, "
                                             "type) was removed; write add(receiver, &Class::method, "
                                             "{.priority = priority, .connection = type, .once = true})");
        else if constexpr (tail == RemovedTail::Options)
            static_assert(removedForm<A...>, "rio::QtRegistry: addOnce takes no receiver; write "
                                             "add(receiver, &Class::method, options) with .once = true in "
                                             "options");
        else
            static_assert(removedForm<A...>, "rio::QtRegistry: addOnce takes no receiver; write "
                                             "add(receiver, &Class::method, {.once = true, ...}) with the "
                                             "other options in the braces");
        return {};
    }
};

} // namespace rio::detail
