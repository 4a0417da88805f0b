// SPDX-License-Identifier: MIT
#pragma once

// Every library the suite compares, behind one small interface: add() registers the shared
// handler body and returns something remove() takes; notify(e) fires once to every handler.

#include "handler_body.h"
#include "qt_peer.h"

#include <registryio/registry.h>

#include <boost/signals2/signal.hpp>
#include <sigc++/sigc++.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>
#include <type_traits>
#include <vector>

namespace rio::bench {

/// RegistryIO: rio::Registry<Event> with a lambda handler.
struct RioPeer
{
    static constexpr std::string_view key = "rio";
    rio::Registry<Event> registry;
    rio::HandlerId add()
    {
        return registry.add([](const Event &) noexcept { handlerBody(); });
    }
    void remove(rio::HandlerId id) { registry.remove(id); }
    void notify(const Event &e) { registry.notify(e); }
};

/// Qt 6 direct signal to a lambda (with the receiver as context object).
struct QtLambdaPeer
{
    static constexpr std::string_view key = "qt_lambda";
    QtSender sender;
    QtReceiver receiver;
    QMetaObject::Connection add()
    {
        return QObject::connect(
            &sender, &QtSender::fired, &receiver, [](int) { handlerBody(); }, Qt::DirectConnection);
    }
    void remove(const QMetaObject::Connection &c) { QObject::disconnect(c); }
    void notify(const Event &e) { Q_EMIT sender.fired(e); }
};

/// Qt 6 direct signal to a member slot.
struct QtMemberPeer
{
    static constexpr std::string_view key = "qt_member";
    QtSender sender;
    QtReceiver receiver;
    QMetaObject::Connection add()
    {
        return QObject::connect(&sender, &QtSender::fired, &receiver, &QtReceiver::onFired,
                                Qt::DirectConnection);
    }
    void remove(const QMetaObject::Connection &c) { QObject::disconnect(c); }
    void notify(const Event &e) { Q_EMIT sender.fired(e); }
};

/// Boost.Signals2 with its default (thread-safe) mutex.
struct BoostPeer
{
    static constexpr std::string_view key = "boost_signals2";
    boost::signals2::signal<void(const Event &)> signal;
    boost::signals2::connection add()
    {
        return signal.connect([](const Event &) { handlerBody(); });
    }
    void remove(const boost::signals2::connection &c) { c.disconnect(); }
    void notify(const Event &e) { signal(e); }
};

/// libsigc++ 3 (single-threaded by design).
struct SigcPeer
{
    static constexpr std::string_view key = "sigcpp";
    sigc::signal<void(const Event &)> signal;
    sigc::connection add()
    {
        return signal.connect([](const Event &) { handlerBody(); });
    }
    void remove(sigc::connection c) { c.disconnect(); }
    void notify(const Event &e) { signal.emit(e); }
};

/// A std::vector of std::function (no ids: remove() drops the last one; not thread-safe).
struct StdFunctionPeer
{
    static constexpr std::string_view key = "std_function";
    std::vector<std::function<void(const Event &)>> handlers;
    std::size_t add()
    {
        handlers.emplace_back([](const Event &) { handlerBody(); });
        return handlers.size() - 1;
    }
    void remove(std::size_t) { handlers.pop_back(); }
    void notify(const Event &e)
    {
        for (const auto &h : handlers)
            h(e);
    }
};

/// The floor: a plain array of function pointers, one indirect call per handler, no safety.
struct FloorPeer
{
    static constexpr std::string_view key = "fnptr";
    using Fn = void (*)(const Event &);
    std::vector<Fn> fns;
    std::size_t add()
    {
        fns.push_back(&floorHandler);
        return fns.size() - 1;
    }
    void remove(std::size_t) { fns.pop_back(); }
    void notify(const Event &e)
    {
        for (const Fn *it = fns.data(), *end = it + fns.size(); it != end; ++it)
            (*it)(e);
    }
};

/// One window of the bulk benchmark: a fresh `Peer`, `n` adds, then `n` removes in registration
/// order. `mixed` gives RegistryIO's handlers seven interleaved priorities (the peers have none),
/// so that inserts land in the middle of the order. `ids` is scratch space reused between calls.
template <typename Peer, typename Id>
void bulkWindow(int n, bool mixed, std::vector<Id> &ids)
{
    Peer peer;
    ids.clear();
    for (int i = 0; i < n; ++i) {
        if constexpr (std::is_same_v<Peer, RioPeer>) {
            if (mixed) {
                ids.push_back(peer.registry.add([](const Event &) noexcept { handlerBody(); }, (i * 5) % 7));
                continue;
            }
        }
        ids.push_back(peer.add());
    }
    for (const Id &id : ids)
        peer.remove(id);
}

/// Calls `f.template operator()<Peer>()` for every peer type, in table order.
template <typename F>
void forEachPeer(F &&f)
{
    f.template operator()<RioPeer>();
    f.template operator()<QtLambdaPeer>();
    f.template operator()<QtMemberPeer>();
    f.template operator()<BoostPeer>();
    f.template operator()<SigcPeer>();
    f.template operator()<StdFunctionPeer>();
    f.template operator()<FloorPeer>();
}

} // namespace rio::bench
