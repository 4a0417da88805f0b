// SPDX-License-Identifier: MIT
#pragma once

// The storage of waiting deliveries (DeliveryQueue's: the Qt facade's handlers, Remote's
// backlogs and outboxes): a list of chunks of 8 to 256 elements, each sized for the queue's length (a short
// queue keeps small ones). Against std::deque (512-byte nodes) a long queue allocates and frees a
// chunk every 256 deliveries instead of every 12 under a flood, which matters because the
// notifier allocates and the draining thread frees: each free of another thread's memory takes
// the allocator's lock of that thread's arena. Allocates nothing until its first element, keeps
// no empty chunk but one small one, and costs about 40 bytes per waiting int event (the element and 1/256 of
// a chunk's header). Insertion and removal in the middle (rare: a notifier that queues behind a newer one, or
// undoes its queueing) move the elements after the place one by one.

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace rio::detail {

template <typename T>
class MailQueue
{
public:
    MailQueue() noexcept = default;
    MailQueue(const MailQueue &) = delete;
    MailQueue &operator=(const MailQueue &) = delete;
    MailQueue(MailQueue &&other) noexcept { swap(other); }
    MailQueue &operator=(MailQueue &&other) noexcept
    {
        clear();
        swap(other);
        return *this;
    }
    ~MailQueue() { clear(); }

    [[nodiscard]] bool empty() const noexcept { return m_size == 0; }
    [[nodiscard]] std::size_t size() const noexcept { return m_size; }
    // front(), back(), pop_front() and pop_back() need an element.
    [[nodiscard]] T &front() noexcept { return m_head->at(m_head->begin); }
    [[nodiscard]] const T &front() const noexcept { return m_head->at(m_head->begin); }
    [[nodiscard]] T &back() noexcept { return m_tail->at(m_tail->end - 1); }
    [[nodiscard]] const T &back() const noexcept { return m_tail->at(m_tail->end - 1); }
    // Element `i` (< size()): found from the nearer end, a chunk at a time.
    [[nodiscard]] const T &operator[](std::size_t i) const noexcept { return *find(i).item(); }
    [[nodiscard]] T &operator[](std::size_t i) noexcept { return *find(i).item(); }

    // Moves or copies `value` in (which cannot throw). Throws std::bad_alloc, changing nothing.
    template <typename U = T>
    void push_back(U &&value)
    {
        static_assert(std::is_nothrow_constructible_v<T, U &&>);
        if (m_tail == nullptr || m_tail->end == m_tail->capacity)
            append(newChunk());
        new (m_tail->slot(m_tail->end)) T(std::forward<U>(value));
        ++m_tail->end;
        ++m_size;
    }
    void pop_front() noexcept
    {
        m_head->at(m_head->begin).~T();
        ++m_head->begin;
        --m_size;
        if (m_head->begin == m_head->end)
            release(m_head);
    }
    void pop_back() noexcept
    {
        --m_tail->end;
        m_tail->at(m_tail->end).~T();
        --m_size;
        if (m_tail->begin == m_tail->end)
            release(m_tail);
    }
    // Inserts before element `at` (<= size()). Throws std::bad_alloc, changing nothing.
    void insert(std::size_t at, T &&value)
    {
        push_back(std::move(value));
        Position p = find(m_size - 1);
        for (std::size_t i = m_size - 1; i > at; --i) {
            Position before = p;
            before.previous();
            std::swap(*p.item(), *before.item());
            p = before;
        }
    }
    // Removes element `at` (< size()).
    void erase(std::size_t at) noexcept
    {
        Position p = find(at);
        for (std::size_t i = at; i + 1 < m_size; ++i) {
            Position after = p;
            after.next();
            std::swap(*p.item(), *after.item());
            p = after;
        }
        pop_back();
    }
    void clear() noexcept
    {
        while (m_head != nullptr) {
            Chunk *c = m_head;
            for (std::uint32_t i = c->begin; i < c->end; ++i)
                c->at(i).~T();
            m_head = c->next;
            freeChunk(c);
        }
        m_tail = nullptr;
        m_size = 0;
    }
    void swap(MailQueue &other) noexcept
    {
        std::swap(m_head, other.m_head);
        std::swap(m_tail, other.m_tail);
        std::swap(m_size, other.m_size);
    }

private:
    static constexpr std::uint32_t firstCapacity = 8;
    static constexpr std::uint32_t maxCapacity = 256;
    static constexpr std::uint32_t keptCapacity = 32;

    struct Chunk
    {
        Chunk *previous = nullptr;
        Chunk *next = nullptr;
        std::uint32_t capacity;
        std::uint32_t begin = 0; // live elements: [begin, end)
        std::uint32_t end = 0;

        explicit Chunk(std::uint32_t n) noexcept : capacity(n) { }
        void *slot(std::uint32_t i) noexcept
        {
            return reinterpret_cast<unsigned char *>(this + 1) + i * sizeof(T);
        }
        T &at(std::uint32_t i) noexcept { return *std::launder(reinterpret_cast<T *>(slot(i))); }
    };
    static_assert(sizeof(Chunk) % alignof(T) == 0 && alignof(T) <= alignof(std::max_align_t));

    struct Position
    {
        Chunk *chunk;
        std::uint32_t index;
        [[nodiscard]] T *item() const noexcept { return &chunk->at(index); }
        void next() noexcept
        {
            if (++index == chunk->end) {
                chunk = chunk->next;
                index = chunk->begin;
            }
        }
        void previous() noexcept
        {
            if (index == chunk->begin) {
                chunk = chunk->previous;
                index = chunk->end;
            }
            --index;
        }
    };

    [[nodiscard]] Position find(std::size_t i) const noexcept
    {
        if (i < m_size / 2) {
            Chunk *c = m_head;
            while (i >= c->end - c->begin) {
                i -= c->end - c->begin;
                c = c->next;
            }
            return {c, static_cast<std::uint32_t>(c->begin + i)};
        }
        std::size_t fromBack = m_size - 1 - i;
        Chunk *c = m_tail;
        while (fromBack >= c->end - c->begin) {
            fromBack -= c->end - c->begin;
            c = c->previous;
        }
        return {c, static_cast<std::uint32_t>(c->end - 1 - fromBack)};
    }

    // A chunk sized for the queue's length (not the last chunk's: a short queue under a flood
    // must not grow its chunks): small queues stay small.
    [[nodiscard]] Chunk *newChunk() const
    {
        const std::uint32_t n = static_cast<std::uint32_t>(
            std::clamp<std::size_t>(std::bit_ceil(m_size + 1), firstCapacity, maxCapacity));
        void *raw = ::operator new(sizeof(Chunk) + std::size_t(n) * sizeof(T));
        return new (raw) Chunk(n);
    }
    static void freeChunk(Chunk *c) noexcept
    {
        c->~Chunk();
        ::operator delete(static_cast<void *>(c));
    }
    void append(Chunk *c) noexcept
    {
        c->previous = m_tail;
        if (m_tail != nullptr)
            m_tail->next = c;
        else
            m_head = c;
        m_tail = c;
    }
    // An emptied chunk goes, but a small last one stays for the next elements (a queue that is
    // mostly empty allocates nothing per delivery).
    void release(Chunk *c) noexcept
    {
        if (m_head == m_tail && c->capacity <= keptCapacity) {
            c->begin = 0;
            c->end = 0;
            return;
        }
        unlink(c);
    }
    void unlink(Chunk *c) noexcept
    {
        (c->previous != nullptr ? c->previous->next : m_head) = c->next;
        (c->next != nullptr ? c->next->previous : m_tail) = c->previous;
        freeChunk(c);
    }

    Chunk *m_head = nullptr;
    Chunk *m_tail = nullptr;
    std::size_t m_size = 0;
};

} // namespace rio::detail
