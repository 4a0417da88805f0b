// SPDX-License-Identifier: MIT
// This thread's frames, the owner anchor built on them, and the registry link, which reaches a
// registry through one (in one translation unit, which a guard's removal then stays in).

#include <registryio/detail/owner_anchor.h>
#include <registryio/detail/registry_link.h>
#include <registryio/detail/thread_frames.h>

#include <new>

namespace rio::detail {

namespace {
// This thread's frames, innermost first. Initial-exec, as hazard::threadSlot: the library
// already takes static TLS, and entering a frame then reads this without a __tls_get_addr call.
RIO_TLS_INITIAL_EXEC thread_local constinit ThreadFrame *t_frames = nullptr;
} // namespace

ThreadFrame::ThreadFrame(FrameKind kind) noexcept : m_next(t_frames), m_kind(kind)
{
    t_frames = this;
}

ThreadFrame::~ThreadFrame()
{
    t_frames = m_next;
}

ThreadFrame *ThreadFrame::innermost() noexcept
{
    return t_frames;
}

OwnerAnchor::Frame::Frame(OwnerAnchor &anchor) noexcept : ThreadFrame(frameKind), m_anchor(anchor)
{
    // Sequentially consistent: either detach() sees this frame counted, or the frame sees the
    // owner cleared; and either a frame leaving sees it cleared, or detach() sees the frame gone.
    m_anchor.m_frames.fetch_add(1, std::memory_order_seq_cst);
    m_counted = true;
    if (m_anchor.m_owner.load(std::memory_order_seq_cst) == nullptr) {
        m_anchor.m_frames.fetch_sub(1, std::memory_order_seq_cst);
        m_anchor.wakeDetach();
        m_counted = false;
    }
}

OwnerAnchor::Frame::~Frame()
{
    if (m_counted) {
        m_anchor.m_frames.fetch_sub(1, std::memory_order_seq_cst);
        if (m_anchor.m_owner.load(std::memory_order_seq_cst) == nullptr)
            m_anchor.wakeDetach(); // a detach may be waiting
    }
}

void *OwnerAnchor::Frame::owner() const noexcept
{
    return m_counted ? m_anchor.m_owner.load(std::memory_order_seq_cst) : nullptr;
}

std::uint32_t OwnerAnchor::ownFrames() const noexcept
{
    return ThreadFrame::count<Frame>([this](const Frame &f) { return &f.m_anchor == this && f.m_counted; });
}

void OwnerAnchor::wakeDetach() noexcept
{
    // Taking the lock orders this wake-up after a detach that tested the count and is about to
    // sleep: it sleeps before the lock is free, so notify_all reaches it.
    {
        const std::lock_guard<std::mutex> lock(m_detachLock);
    }
    m_detached.notify_all();
}

void OwnerAnchor::detach() noexcept
{
    m_owner.store(nullptr, std::memory_order_seq_cst);
    const std::uint32_t own = ownFrames();
    std::unique_lock<std::mutex> lock(m_detachLock);
    m_detached.wait(lock, [&] { return m_frames.load(std::memory_order_seq_cst) <= own; });
}

void OwnerAnchor::lockForFork() noexcept
{
    m_detachLock.lock();
}

void OwnerAnchor::unlockAfterFork(bool child) noexcept
{
    if (child) {
        // The frames of threads that do not exist here never leave, and a detach they kept
        // waiting is not here either: the condition variable may still count it as a waiter,
        // and a broadcast would wait for it. Re-made in place (destroying it would wait too).
        m_frames.store(ownFrames(), std::memory_order_seq_cst);
        // NOLINTNEXTLINE(cppcoreguidelines-owning-memory): re-made in place, never freed apart
        new (&m_detached) std::condition_variable;
    }
    m_detachLock.unlock();
}

bool RegistryLink::call(bool (*fn)(void *, HandlerId) noexcept,
                        bool (*hinted)(void *, HandlerId, std::uint32_t) noexcept, HandlerId id,
                        std::uint32_t hint) noexcept
{
    if (!id.isValid())
        return false;
    // The link outlives the frame (its guard or connection holds it), also when the registry was
    // destroyed from inside `fn` (a slot or closure destructor it ran).
    const OwnerAnchor::Frame frame(anchor);
    void *target = frame.owner();
    return target != nullptr &&
           (hinted != nullptr ? hinted(target, id, hint) : fn != nullptr && fn(target, id));
}

bool RegistryLink::remove(HandlerId id) noexcept
{
    return call(removeFn, nullptr, id, 0);
}

bool RegistryLink::remove(HandlerId id, std::uint32_t hint) noexcept
{
    return call(removeFn, removeHintedFn, id, hint);
}

bool RegistryLink::contains(HandlerId id) noexcept
{
    return call(containsFn, nullptr, id, 0);
}

} // namespace rio::detail
