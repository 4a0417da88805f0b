// SPDX-License-Identifier: MIT
#pragma once

#include "handler_body.h"

#include <registryio/qt/qt_registry.h>

#include <registryio/registry.h>

#include <cstdint>
#include <string_view>

namespace rio::bench {

/// RegistryIO's Qt facade with direct handlers (no context object): rio::QtRegistry<Event>.
struct QtRegistryPeer
{
    static constexpr std::string_view key = "qt_registry";
    rio::QtRegistry<Event> registry;
    rio::HandlerId add()
    {
        return registry.add([](const Event &) noexcept { handlerBody(); });
    }
    void remove(rio::HandlerId id) { registry.remove(id); }
    void notify(const Event &e) { registry.notify(e); }
};

/// A second handler shape: capturing handlers of a Registry<std::uint64_t> that add the event
/// to a member counter, then run the common body (the core's figure for the ratio below).
struct RioCounterPeer
{
    static constexpr std::string_view key = "rio_counter";
    rio::Registry<std::uint64_t> registry;
    std::uint64_t sum = 0;
    rio::HandlerId add()
    {
        return registry.add([this](const std::uint64_t &v) noexcept {
            sum += v;
            handlerBody();
        });
    }
    void remove(rio::HandlerId id) { registry.remove(id); }
    void notify(const Event &e) { registry.notify(static_cast<std::uint64_t>(e)); }
};

/// The same shape on the Qt facade with direct handlers: rio::QtRegistry<std::uint64_t>.
struct QtRegistryCounterPeer
{
    static constexpr std::string_view key = "qt_registry_counter";
    rio::QtRegistry<std::uint64_t> registry;
    std::uint64_t sum = 0;
    rio::HandlerId add()
    {
        return registry.add([this](const std::uint64_t &v) noexcept {
            sum += v;
            handlerBody();
        });
    }
    void remove(rio::HandlerId id) { registry.remove(id); }
    void notify(const Event &e) { registry.notify(static_cast<std::uint64_t>(e)); }
};

} // namespace rio::bench
