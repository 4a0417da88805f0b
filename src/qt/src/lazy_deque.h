// SPDX-License-Identifier: MIT
#pragma once

// A std::deque that allocates nothing until its first element: libstdc++'s deque allocates its
// map and a 512-byte node when constructed, and a handler of the Qt facade has four queues that
// most handlers (direct ones, or ones never notified from another thread) never use.

#include <cstddef>
#include <deque>
#include <memory>
#include <utility>

namespace rio::detail {

template <typename T>
class LazyDeque
{
public:
    [[nodiscard]] bool empty() const noexcept { return !m_items || m_items->empty(); }
    [[nodiscard]] std::size_t size() const noexcept { return m_items ? m_items->size() : 0; }
    // front(), back(), pop_front() and pop_back() need an element, as std::deque's do.
    [[nodiscard]] T &front() { return m_items->front(); }
    [[nodiscard]] const T &front() const { return m_items->front(); }
    [[nodiscard]] T &back() { return m_items->back(); }
    void pop_front() { m_items->pop_front(); }
    void pop_back() { m_items->pop_back(); }
    void push_back(T &&value) { items().push_back(std::move(value)); }
    void push_back(const T &value) { items().push_back(value); }
    void push_front(T &&value) { items().push_front(std::move(value)); }
    // Element `i` (< size()).
    [[nodiscard]] const T &operator[](std::size_t i) const { return (*m_items)[i]; }
    // Inserts before element `at` (<= size()).
    void insert(std::size_t at, T &&value)
    {
        std::deque<T> &d = items();
        d.insert(d.begin() + static_cast<std::ptrdiff_t>(at), std::move(value));
    }
    void insert(std::size_t at, const T &value)
    {
        std::deque<T> &d = items();
        d.insert(d.begin() + static_cast<std::ptrdiff_t>(at), value);
    }
    // Removes element `at` (< size()).
    void erase(std::size_t at) { m_items->erase(m_items->begin() + static_cast<std::ptrdiff_t>(at)); }
    void clear() noexcept { m_items.reset(); }
    void swap(LazyDeque &other) noexcept { m_items.swap(other.m_items); }

private:
    std::deque<T> &items()
    {
        if (!m_items)
            m_items = std::make_unique<std::deque<T>>();
        return *m_items;
    }

    std::unique_ptr<std::deque<T>> m_items;
};

} // namespace rio::detail
