// SPDX-License-Identifier: MIT
#pragma once

// The fields of a handler's record (HandlerInfo) and of a registry's (RegistryInfo), declared
// once. The JSON form (diagnostics_json_p.h) and the file written at exit, QDebug's line,
// DiagnosticsModel's roles and their change tracking, the inspectors' codec
// (src/inspect/inspect_protocol.h) and registryio-inspect's table are loops over these lists: a
// new field is one line here. Not installed.

#include <registryio/qt/diagnostics.h>
#include <registryio/qt/diagnostics_model.h>

#include <cstddef>
#include <cstdint>
#include <tuple>
#include <type_traits>

#if defined(__GNUC__)
#pragma GCC visibility push(hidden) // the library's own: never part of its ABI
#endif

namespace rio::detail::schema {

/// One field of a record: its member, its JSON key (its model role's name too, but when
/// `roleName` says another), whether inspectors are sent it, its model role (0: FieldRole plus
/// its index) and its label on QDebug's line (null: not there).
template <typename Record, typename T>
struct Field
{
    using Type = T;
    T Record::*member;
    const char *key;
    bool sent;
    int role;
    const char *label;
    const char *roleName;
};

template <typename Record, typename T>
constexpr Field<Record, T> field(T Record::*member, const char *key, bool sent, int role = 0,
                                 const char *label = nullptr, const char *roleName = nullptr)
{
    return {member, key, sent, role, label, roleName};
}

using M = DiagnosticsModel;
inline constexpr bool sent = true;
inline constexpr bool notSent = false; // a handler's registry fields go with the registry's record

/// A handler's fields, in the order inspectors are sent them; its booleans are sent as the bits
/// of one byte at the first one's place.
inline constexpr std::tuple handlerFields{
    field(&HandlerInfo::registryId, "registryId", notSent, M::RegistryIdRole),
    field(&HandlerInfo::registryName, "registryName", notSent, M::RegistryNameRole),
    field(&HandlerInfo::eventType, "eventType", notSent, M::EventTypeRole),
    field(&HandlerInfo::removed, "removed", notSent),
    field(&HandlerInfo::id, "id", sent, M::HandlerIdRole),
    field(&HandlerInfo::file, "file", sent),
    field(&HandlerInfo::line, "line", sent),
    field(&HandlerInfo::function, "function", sent, M::FunctionRole),
    field(&HandlerInfo::originFile, "originFile", sent),
    field(&HandlerInfo::originLine, "originLine", sent),
    field(&HandlerInfo::addedThread, "addedThread", sent, 0, nullptr, "addedThreadNumber"),
    field(&HandlerInfo::addedThreadName, "addedThreadName", sent, M::AddedThreadRole),
    field(&HandlerInfo::contextClass, "contextClass", sent),
    field(&HandlerInfo::contextName, "contextName", sent),
    field(&HandlerInfo::contextThreadName, "contextThreadName", sent),
    field(&HandlerInfo::priority, "priority", sent, M::PriorityRole),
    field(&HandlerInfo::connection, "connection", sent, M::ConnectionRole),
    field(&HandlerInfo::delivery, "delivery", sent),
    field(&HandlerInfo::capacity, "capacity", sent),
    field(&HandlerInfo::overflow, "overflow", sent),
    field(&HandlerInfo::hasContext, "hasContext", sent),
    field(&HandlerInfo::once, "once", sent),
    field(&HandlerInfo::suspended, "suspended", sent, M::SuspendedRole),
    field(&HandlerInfo::timed, "timed", sent, M::TimedRole),
    field(&HandlerInfo::calls, "calls", sent, M::CallsRole, "calls"),
    field(&HandlerInfo::failures, "failures", sent, M::FailuresRole, "failures"),
    field(&HandlerInfo::drops, "drops", sent, 0, "drops", "dropsByReason"),
    field(&HandlerInfo::waiting, "waiting", sent, M::WaitingRole, "waiting"),
    field(&HandlerInfo::maxWaiting, "maxWaiting", sent, M::MaxWaitingRole, "most waiting"),
    field(&HandlerInfo::coalesced, "coalesced", sent, M::CoalescedRole, "coalesced"),
    field(&HandlerInfo::slowRuns, "slowRuns", sent, M::SlowRunsRole, "slow runs"),
    field(&HandlerInfo::runTime, "runTime", sent, 0, "run time"),
    field(&HandlerInfo::queueDelay, "queueDelay", sent, 0, "queue delay"),
};

/// A registry's fields (its handlers follow it), in the order inspectors are sent them.
inline constexpr std::tuple registryFields{
    field(&RegistryInfo::id, "id", sent),
    field(&RegistryInfo::name, "name", sent),
    field(&RegistryInfo::eventType, "eventType", sent),
    field(&RegistryInfo::qt, "qt", sent),
    field(&RegistryInfo::diagnosticsEnabled, "diagnosticsEnabled", sent),
    field(&RegistryInfo::destroyed, "destroyed", sent),
    field(&RegistryInfo::removedHandlerDrops, "removedHandlerDrops", sent),
};

/// Calls `f(field, index)` for each field of `fields`, in order.
template <typename Fields, typename F>
constexpr void forEach(const Fields &fields, F &&f)
{
    std::apply(
        [&](const auto &...each) {
            std::size_t i = 0;
            (f(each, i++), ...);
        },
        fields);
}

/// The bit of the field whose member is `member` in a mask of handlerFields (0: none).
template <typename T>
constexpr std::uint64_t bitOf(T HandlerInfo::*member)
{
    std::uint64_t bit = 0;
    forEach(handlerFields, [&](const auto &f, std::size_t i) {
        if constexpr (std::is_same_v<typename std::decay_t<decltype(f)>::Type, T>)
            if (f.member == member)
                bit = std::uint64_t{1} << i;
    });
    return bit;
}
static_assert(std::tuple_size_v<std::decay_t<decltype(handlerFields)>> <= 64, "a field's bit is one of 64");

} // namespace rio::detail::schema

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
