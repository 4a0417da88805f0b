// SPDX-License-Identifier: MIT
// What a QtRegistry<E> registration checks and records, for every event type: option
// validation, the handler table and the member-function keys of Qt::UniqueConnection.
#include <registryio/qt/detail/qt_registrations.h>

#include "qt_handler_state.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace rio::detail {

QObject *QtRegistrations::requireContext(QObject *context)
{
    if (context == nullptr)
        throw std::invalid_argument("rio::QtRegistry::add: the context object is null");
    return context;
}

void QtRegistrations::requireMethod(bool isNull)
{
    if (isNull)
        throw std::invalid_argument("rio::QtRegistry::add: the member function is null");
}

void QtRegistrations::requireHandler(bool isEmpty)
{
    if (isEmpty)
        throw std::invalid_argument("rio::QtRegistry::add: the handler is empty");
}

namespace {

void validate(Qt::ConnectionType type, const HandlerOptions &options)
{
    const Delivery delivery = options.delivery;
    if (delivery != Delivery::Every && delivery != Delivery::Latest)
        throw std::invalid_argument("rio::QtRegistry::add: unknown Delivery value");
    if (options.overflow != Overflow::DropOldest && options.overflow != Overflow::DropNewest &&
        options.overflow != Overflow::Block)
        throw std::invalid_argument("rio::QtRegistry::add: unknown Overflow value");
    if (options.blockTimeout.count() < 0 || options.minInterval.count() < 0)
        throw std::invalid_argument("rio::QtRegistry::add: blockTimeout and minInterval must not be "
                                    "negative");
    if (options.minInterval.count() > 0 && delivery != Delivery::Latest)
        throw std::invalid_argument("rio::QtRegistry::add: minInterval needs Delivery::Latest");
    switch (type) {
    case Qt::AutoConnection:
    case Qt::QueuedConnection:
        return;
    case Qt::DirectConnection:
    case Qt::BlockingQueuedConnection:
        if (delivery == Delivery::Latest)
            throw std::invalid_argument("rio::QtRegistry::add: Delivery::Latest needs a queued connection "
                                        "(Qt::AutoConnection or Qt::QueuedConnection)");
        return;
    default:
        throw std::invalid_argument("rio::QtRegistry::add: the connection type must be Qt::AutoConnection, "
                                    "Qt::DirectConnection, Qt::QueuedConnection or "
                                    "Qt::BlockingQueuedConnection (optionally with Qt::UniqueConnection or "
                                    "Qt::SingleShotConnection)");
    }
}

} // namespace

QtRegistrations::Prepared QtRegistrations::prepare(QObject *context, const HandlerOptions &options,
                                                   bool isMember)
{
    // Qt's flags are OR'd into the type: take them off before validating it.
    const int flags =
        static_cast<int>(options.connection) & (Qt::UniqueConnection | Qt::SingleShotConnection);
    Prepared prepared;
    prepared.unique = (flags & Qt::UniqueConnection) != 0;
    prepared.settings.options = options;
    prepared.settings.options.once = options.once || (flags & Qt::SingleShotConnection) != 0;
    prepared.settings.options.connection =
        static_cast<Qt::ConnectionType>(static_cast<int>(options.connection) & ~flags);
    prepared.settings.context = context;
    if (prepared.unique && !isMember)
        throw std::invalid_argument("rio::QtRegistry::add: Qt::UniqueConnection needs the member-function "
                                    "form add(receiver, &Receiver::slot, ...)");
    validate(prepared.settings.options.connection, options);
    return prepared;
}

std::string QtRegistrations::memberKey(const QObject *receiver, const void *method, std::size_t size)
{
    constexpr std::size_t objectBytes = sizeof(void *); // the bytes of `receiver`, a pointer
    std::string key(objectBytes + size, '\0');
    std::memcpy(key.data(), static_cast<const void *>(&receiver), objectBytes);
    std::memcpy(key.data() + objectBytes, method, size);
    return key;
}

bool QtRegistrations::reserve(const std::string &key, bool unique)
{
    std::lock_guard lock(m_mutex);
    std::size_t &count = m_memberCounts[key];
    if (unique && count != 0)
        return false; // already registered: refused, nothing changed
    ++count;
    return true;
}

void QtRegistrations::release(const std::string &key) noexcept
{
    std::lock_guard lock(m_mutex);
    releaseLocked(key);
}

void QtRegistrations::releaseLocked(const std::string &key) noexcept
{
    if (auto count = m_memberCounts.find(key); count != m_memberCounts.end() && --count->second == 0)
        m_memberCounts.erase(count);
}

namespace {
// An entry left the map: the count of those not of the holding layer follows.
void forgetForeign(std::atomic<std::size_t> &foreign, const QtRegistrations::Entry &entry) noexcept
{
    if (!entry.core->layer)
        foreign.fetch_sub(1, std::memory_order_release);
}
} // namespace

void QtRegistrations::insert(HandlerId id, Entry entry, const std::string *memberKey)
{
    std::lock_guard lock(m_mutex);
    const bool foreign = !entry.core->layer;
    auto [it, inserted] = m_handlers.emplace(id, std::move(entry));
    if (memberKey != nullptr) {
        try {
            m_memberKeys.emplace(id, *memberKey);
        } catch (...) {
            m_handlers.erase(it);
            throw;
        }
    }
    if (foreign)
        m_foreign.fetch_add(1, std::memory_order_release);
    static_cast<void>(inserted);
}

void QtRegistrations::forgetKeyLocked(HandlerId id) noexcept
{
    if (auto key = m_memberKeys.find(id); key != m_memberKeys.end()) {
        releaseLocked(key->second);
        m_memberKeys.erase(key);
    }
}

QtRegistrations::Entry QtRegistrations::take(HandlerId id) noexcept
{
    Entry entry;
    {
        std::lock_guard lock(m_mutex);
        auto it = m_handlers.find(id);
        if (it == m_handlers.end())
            return {};
        entry = std::move(it->second);
        m_handlers.erase(it);
        // Under the lock: a removal that finds it gone (false) finds no delivery left to start.
        static_cast<QtHandlerState &>(*entry.core).markCancelled(QtRegistryControl::DropReason::Removed);
        forgetKeyLocked(id);
        forgetForeign(m_foreign, entry);
    }
    // Snapshots no longer list it: its drops count for the registry from now on (a spent one's
    // already do).
    if (!entry.spent)
        static_cast<QtHandlerState &>(*entry.core).leave();
    return entry;
}

std::unordered_map<HandlerId, QtRegistrations::Entry> QtRegistrations::takeAll() noexcept
{
    std::unordered_map<HandlerId, Entry> handlers;
    {
        std::lock_guard lock(m_mutex);
        handlers.swap(m_handlers);
        for (auto &entry : handlers) // as take() does
            static_cast<QtHandlerState &>(*entry.second.core)
                .markCancelled(QtRegistryControl::DropReason::Removed);
        m_foreign.store(0, std::memory_order_release);
        m_memberKeys.clear();
        m_memberCounts.clear();
    }
    for (auto &entry : handlers)
        if (!entry.second.spent)
            static_cast<QtHandlerState &>(*entry.second.core).leave();
    return handlers;
}

bool QtRegistrations::spend(HandlerId id) noexcept
{
    std::shared_ptr<QtHandlerCore> core;
    {
        std::lock_guard lock(m_mutex);
        auto it = m_handlers.find(id);
        if (it == m_handlers.end() || it->second.spent)
            return false;
        it->second.spent = true;
        core = it->second.core;
        forgetKeyLocked(id); // no longer registered: its receiver and method may come again
    }
    static_cast<QtHandlerState &>(*core).leave();
    return true;
}

QtRegistrations::Entry QtRegistrations::settle(HandlerId id) noexcept
{
    Entry entry;
    std::lock_guard lock(m_mutex);
    auto it = m_handlers.find(id);
    if (it == m_handlers.end() || !it->second.spent)
        return {};
    entry = std::move(it->second);
    m_handlers.erase(it);
    forgetForeign(m_foreign, entry);
    return entry;
}

std::shared_ptr<QtHandlerCore> QtRegistrations::find(HandlerId id, bool spent) const
{
    std::lock_guard lock(m_mutex);
    auto it = m_handlers.find(id);
    return it == m_handlers.end() || (it->second.spent && !spent) ? nullptr : it->second.core;
}

std::shared_ptr<void> QtRegistrations::typedOf(HandlerId id) const
{
    std::lock_guard lock(m_mutex);
    auto it = m_handlers.find(id);
    return it == m_handlers.end() ? nullptr : it->second.typed;
}

std::vector<std::shared_ptr<QtHandlerCore>> QtRegistrations::cores() const
{
    std::vector<std::shared_ptr<QtHandlerCore>> out;
    std::lock_guard lock(m_mutex);
    out.reserve(m_handlers.size());
    for (const auto &entry : m_handlers)
        out.push_back(entry.second.core);
    return out;
}

std::vector<QtRegistrations::Entry> QtRegistrations::runnable() const
{
    std::vector<Entry> steps;
    {
        std::lock_guard lock(m_mutex);
        steps.reserve(m_handlers.size());
        for (const auto &entry : m_handlers) {
            const QtHandlerCore &h = *entry.second.core;
            if (!entry.second.spent && h.armed.load(std::memory_order_acquire) &&
                !h.cancelled.load(std::memory_order_acquire) && !h.suspended.load(std::memory_order_acquire))
                steps.push_back(entry.second);
        }
    }
    // The order notify() uses: higher priority first, then registration (id) order.
    std::sort(steps.begin(), steps.end(), [](const Entry &a, const Entry &b) {
        const QtHandlerCore &x = *a.core;
        const QtHandlerCore &y = *b.core;
        return x.priority != y.priority ? x.priority > y.priority : x.id.value() < y.id.value();
    });
    return steps;
}

} // namespace rio::detail
