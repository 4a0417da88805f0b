// SPDX-License-Identifier: MIT
#pragma once

#include "handler_body.h"

#include <registryio/qt/qt_registry.h>

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

} // namespace rio::bench
