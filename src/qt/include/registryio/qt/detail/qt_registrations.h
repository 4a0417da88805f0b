// SPDX-License-Identifier: MIT
#pragma once

// The handler table of QtRegistry<E> and the checks of a registration, none of which depends on
// E: kept behind the library boundary, so the typed registry is a thin shim. Not part of the
// public API.

#include <registryio/handler_id.h>
#include <registryio/qt/delivery.h>
#include <registryio/qt/detail/qt_handler.h>
#include <registryio/qt/qt_export.h>

#include <QObject>

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace rio::detail {

// The handlers of one QtRegistry<E>, their member-function keys (for Qt::UniqueConnection) and
// the mutex that guards them. No user code runs under that mutex: entries leave it by value.
//
// A handler's one home from its add until it has nothing left to run: a once-handler that fired
// is spent (no longer registered, counted or notified) but stays here until its queued delivery
// ran or was dropped (settle), so every removal (remove, clear, its context's death, the
// registry's destruction) reaches and cancels that delivery.
class RIO_QT_EXPORT QtRegistrations
{
public:
    // One handler: its library core and its typed part (the registry owns both).
    struct Entry
    {
        std::shared_ptr<QtHandlerCore> core;
        std::shared_ptr<void> typed;
        bool spent = false; // a fired once-handler whose delivery has not settled yet
    };

    // A registration's checked settings; `unique` is Qt::UniqueConnection.
    struct Prepared
    {
        QtHandlerCore::Settings settings;
        bool unique = false;
    };

    // `context`, or std::invalid_argument when it is null.
    static QObject *requireContext(QObject *context);
    // Throws std::invalid_argument for a null member function.
    static void requireMethod(bool isNull);
    // Throws std::invalid_argument for an empty handler.
    static void requireHandler(bool isEmpty);
    // Validates `options` for a handler on `context` (null: the notifying thread) and takes Qt's
    // flags off its connection type. `isMember`: the member-function form. Throws
    // std::invalid_argument, changing nothing.
    static Prepared prepare(QObject *context, const HandlerOptions &options, bool isMember);
    // What identifies a member-function registration: the receiver and the member pointer's
    // bytes (as QObject::connect compares them for Qt::UniqueConnection).
    static std::string memberKey(const QObject *receiver, const void *method, std::size_t size);

    // Counts one more registration of `key`; false (nothing changed) when `unique` and `key` is
    // registered already. Throws on allocation failure, changing nothing.
    bool reserve(const std::string &key, bool unique);
    // Gives back a reservation of `key`.
    void release(const std::string &key) noexcept;
    // Registers `entry` as `id` (with its reserved member key, if any). Throws, changing nothing.
    void insert(HandlerId id, Entry entry, const std::string *memberKey);
    // Takes `id` out (spent or not) and returns it (empty when it is not here).
    Entry take(HandlerId id) noexcept;
    // Takes every handler out (spent ones too) and returns them.
    std::unordered_map<HandlerId, Entry> takeAll() noexcept;
    // A once-handler fired: `id` is spent (it keeps its entry until settle). False when it is
    // not registered.
    bool spend(HandlerId id) noexcept;
    // The delivery of spent `id` ran or was dropped: its entry goes, returned to be destroyed
    // by the caller (empty when `id` is not here or not spent).
    Entry settle(HandlerId id) noexcept;
    // The core of `id` (null when it is not registered; with `spent`, also when it is spent).
    [[nodiscard]] std::shared_ptr<QtHandlerCore> find(HandlerId id, bool spent = false) const;
    // The typed part of `id`, spent or not (null when it is not here).
    [[nodiscard]] std::shared_ptr<void> typedOf(HandlerId id) const;
    // Every handler a notify would run now (armed, not cancelled, not suspended, not spent), in
    // notify order: higher priority first, then registration order.
    [[nodiscard]] std::vector<Entry> runnable() const;
    // The core of every handler here (dropping them runs library code only).
    [[nodiscard]] std::vector<std::shared_ptr<QtHandlerCore>> cores() const;
    // True while a handler that is not the holding layer's (QtHandlerCore::layer) is here,
    // spent or not: a QML registry's notify from JavaScript then makes its plain copy first.
    [[nodiscard]] bool holdsForeign() const noexcept
    {
        return m_foreign.load(std::memory_order_acquire) != 0;
    }
    // Runs `apply(core)` under the mutex when `id` is registered; false when it is not.
    template <typename Fn>
    bool update(HandlerId id, Fn &&apply)
    {
        std::lock_guard lock(m_mutex);
        auto it = m_handlers.find(id);
        if (it == m_handlers.end() || it->second.spent)
            return false;
        apply(*it->second.core);
        return true;
    }

private:
    void releaseLocked(const std::string &key) noexcept;
    // Gives back the member key of `id`, if it has one.
    void forgetKeyLocked(HandlerId id) noexcept;

    mutable std::mutex m_mutex; // taken before the core's write lock
    std::unordered_map<HandlerId, Entry> m_handlers;
    // Member-function registrations: each one's key, and how many registrations each key has.
    std::unordered_map<HandlerId, std::string> m_memberKeys;
    std::unordered_map<std::string, std::size_t> m_memberCounts;
    std::atomic<std::size_t> m_foreign{0}; // entries not of the holding layer (changed under m_mutex)
};

} // namespace rio::detail
