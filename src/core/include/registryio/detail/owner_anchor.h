// SPDX-License-Identifier: MIT
#pragma once

// How whatever outlives an owner (guards, connections, queued deliveries, context watches,
// futures) reaches it while it lives: a frame entered on a thread reaches the owner until the
// owner detaches, and detach() waits for the frames of every other thread, never for the calling
// thread's own (an owner may be destroyed from user code one of its frames runs). The one anchor
// of every layer; not part of the public API. Whoever enters a frame keeps the anchor's storage
// alive until the frame has left (the users share it by shared_ptr).

#include <registryio/detail/thread_frames.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace rio::detail {

class RIO_CORE_EXPORT OwnerAnchor
{
public:
    explicit OwnerAnchor(void *owner) noexcept : m_owner(owner) { }

    // No frame entered afterwards reaches the owner; returns once the frames other threads
    // entered before have left. Frames of the calling thread stay (they see owner() null).
    void detach() noexcept;

    // fork(): the parent holds the detach lock across the fork; the child then counts only the
    // frames of its one thread.
    void lockForFork() noexcept;
    void unlockAfterFork(bool child) noexcept;

    // One use of the owner on this thread: two atomic operations on the anchor's count.
    class RIO_CORE_EXPORT Frame : public ThreadFrame
    {
    public:
        static constexpr FrameKind frameKind = FrameKind::Anchor;
        explicit Frame(OwnerAnchor &anchor) noexcept;
        ~Frame();

        // The owner while it has not detached (checked on every call: user code run from this
        // frame may have destroyed it).
        [[nodiscard]] void *owner() const noexcept;

    private:
        friend class OwnerAnchor;
        OwnerAnchor &m_anchor;
        bool m_counted = false;
    };

private:
    // This thread's frames of this anchor.
    [[nodiscard]] std::uint32_t ownFrames() const noexcept;

    // A frame that leaves after the owner detached wakes the detach: a mutex and a condition
    // variable rather than std::atomic::wait, whose wake-ups libstdc++ 12 on MinGW-w64 can miss.
    RIO_COLD void wakeDetach() noexcept;

    std::atomic<void *> m_owner;
    std::atomic<std::uint32_t> m_frames{0};
    std::mutex m_detachLock;
    std::condition_variable m_detached;
};

} // namespace rio::detail
