// SPDX-License-Identifier: MIT
#pragma once

// This thread's frames: each use that a wait on another thread may wait for is listed for its
// length in its thread's one list (innermost first), so that a wait can count the calling
// thread's own frames (ThreadFrame::count) and wait for the others only. Each kind derives from
// ThreadFrame and adds its fields. Frames live on their thread's stack and nest, so no address
// in the list is reused while listed. Not part of the public API.

#include <registryio/detail/config.h>

#include <cstdint>

namespace rio::detail {

// Which type derived from ThreadFrame a frame is.
enum class FrameKind : std::uint8_t { Anchor, GuardPass, DestroyChain, Delivery, CountedRun, ScriptRun };

class RIO_CORE_EXPORT ThreadFrame
{
public:
    ThreadFrame(const ThreadFrame &) = delete;
    ThreadFrame &operator=(const ThreadFrame &) = delete;

    // How many of the calling thread's frames of type Frame (of kind Frame::frameKind) `match`
    // accepts; `match` gets each as a Frame &.
    template <typename Frame, typename Match>
    static std::uint32_t count(Match &&match) noexcept
    {
        std::uint32_t n = 0;
        for (ThreadFrame *f = innermost(); f != nullptr; f = f->m_next)
            n += f->m_kind == Frame::frameKind && match(static_cast<Frame &>(*f)) ? 1u : 0u;
        return n;
    }
    // Calls `visit` with each of the calling thread's frames, innermost first, until it returns
    // false.
    template <typename Visit>
    static void visit(Visit &&visit) noexcept
    {
        for (ThreadFrame *f = innermost(); f != nullptr && visit(*f); f = f->m_next) {
        }
    }
    [[nodiscard]] FrameKind kind() const noexcept { return m_kind; }

protected:
    // Listed as the calling thread's innermost frame until destroyed (on the same thread).
    explicit ThreadFrame(FrameKind kind) noexcept;
    ~ThreadFrame();

private:
    static ThreadFrame *innermost() noexcept;

    ThreadFrame *m_next;
    FrameKind m_kind;
};

} // namespace rio::detail
