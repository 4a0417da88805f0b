// SPDX-License-Identifier: MIT
#include <registryio/qt/detail/owner_anchor.h>

namespace rio::detail {

namespace {
// This thread's frames, innermost first. They live on this thread's stack, so no entry outlives
// its anchor's use and no address in it can be reused while it is listed.
thread_local constinit OwnerAnchor::Frame *t_frames = nullptr;
} // namespace

OwnerAnchor::Frame::Frame(OwnerAnchor &anchor) noexcept : m_anchor(anchor), m_next(t_frames)
{
    t_frames = this;
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
    t_frames = m_next;
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
    std::uint32_t n = 0;
    for (const Frame *f = t_frames; f != nullptr; f = f->m_next)
        n += (&f->m_anchor == this && f->m_counted) ? 1u : 0u;
    return n;
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

} // namespace rio::detail
