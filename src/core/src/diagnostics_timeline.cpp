// SPDX-License-Identifier: MIT
// The frame timeline (docs/DIAGNOSTICS.md): while diagnostics are on, the main thread's event-loop
// turns, its timed handler runs and the waits of deliveries it ran in one bounded ring of fixed
// slots, and the frames of the windows it shows in a second (so that a busy thread's runs do not
// push out the frames they ran in), which any thread reads without stopping the writer (a
// sequence number per slot).

#include "diagnostics_p.h"

#include <algorithm>
#include <mutex>
#include <new>
#include <utility>

namespace rio::detail::diag {

constinit std::atomic<bool> timelineOn{false};

namespace {

// One entry: 64 bytes. `seq` is 2i+1 while entry i is written and 2i+2 once it is.
struct alignas(64) Slot
{
    std::atomic<std::uint64_t> seq{0};
    std::atomic<std::uint64_t> start{0};    // ticks
    std::atomic<std::uint64_t> end{0};      // ticks
    std::atomic<std::uint64_t> registry{0}; // Frame: the window's serial
    std::atomic<std::uint64_t> id{0};
    std::atomic<const char *> file{nullptr};
    std::atomic<std::uint64_t> lineKind{0}; // line << 8 | kind
    std::atomic<std::uint64_t> turn{0};     // Turn, Frame: its number
};

// timelineKept slots, then timelineFramesKept for the windows' frames, each with its count.
constinit std::atomic<Slot *> ring{nullptr};
constinit std::atomic<std::uint64_t> written{0};
constinit std::atomic<std::uint64_t> framesWritten{0};
// The number of the main thread's last turn that ended (the turns' hook passes each, recorded
// or not): set by the main thread, read by it and by the watchdog (a stall's turn).
constinit std::atomic<std::uint64_t> lastTurn{0};
// Not constinit: std::mutex's constructor is not constexpr everywhere (MinGW's winpthreads).
// Never destroyed, like the ring: diagnostics may start from a static's constructor or end.
std::mutex &ringMutex() noexcept
{
    static auto *m = new std::mutex; // NOLINT(bugprone-unhandled-exception-at-new)
    return *m;
}

void put(TimelineKind kind, std::uint64_t start, std::uint64_t end, const HandlerTimes *s, std::uint64_t turn,
         std::uint64_t window = 0) noexcept
{
    Slot *const slots = ring.load(std::memory_order_acquire);
    if (slots == nullptr)
        return;
    const bool frame = kind == TimelineKind::Frame;
    const std::uint64_t i = (frame ? framesWritten : written).fetch_add(1, std::memory_order_relaxed);
    Slot &slot = frame ? slots[timelineKept + (i % timelineFramesKept)] : slots[i % timelineKept];
    slot.seq.store((2 * i) + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    slot.start.store(start, std::memory_order_relaxed);
    slot.end.store(end, std::memory_order_relaxed);
    slot.registry.store(s != nullptr ? s->registry : window, std::memory_order_relaxed);
    slot.id.store(s != nullptr ? s->id.value() : 0, std::memory_order_relaxed);
    slot.file.store(s != nullptr ? s->where.fileName() : nullptr, std::memory_order_relaxed);
    const std::uint64_t line = s != nullptr ? s->where.line() : 0;
    slot.lineKind.store((line << 8U) | static_cast<std::uint64_t>(kind), std::memory_order_relaxed);
    slot.turn.store(turn, std::memory_order_relaxed);
    slot.seq.store((2 * i) + 2, std::memory_order_release);
}

// Slot `slot`'s entry `i` into `e` (times in ticks); false when it is being written or was
// overwritten since.
bool read(const Slot &slot, std::uint64_t i, TimelineEntry &e) noexcept
{
    const std::uint64_t seq = slot.seq.load(std::memory_order_acquire);
    if (seq != (2 * i) + 2)
        return false;
    e.startNs = slot.start.load(std::memory_order_relaxed);
    e.endNs = slot.end.load(std::memory_order_relaxed);
    e.registry = slot.registry.load(std::memory_order_relaxed);
    e.id = HandlerId(slot.id.load(std::memory_order_relaxed));
    e.file = slot.file.load(std::memory_order_relaxed);
    const std::uint64_t lineKind = slot.lineKind.load(std::memory_order_relaxed);
    e.turn = slot.turn.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (slot.seq.load(std::memory_order_relaxed) != seq)
        return false;
    e.kind = static_cast<TimelineKind>(lineKind & 0xffU);
    if (e.kind == TimelineKind::Frame)
        e.window = std::exchange(e.registry, 0);
    e.line = static_cast<int>(lineKind >> 8U);
    return true;
}

} // namespace

void startTimeline() noexcept
{
    if (ring.load(std::memory_order_acquire) == nullptr) {
        const std::lock_guard lock(ringMutex());
        if (ring.load(std::memory_order_relaxed) == nullptr)
            ring.store(new (std::nothrow) Slot[timelineKept + timelineFramesKept],
                       std::memory_order_release); // kept for good
    }
    timelineOn.store(true, std::memory_order_relaxed);
}

void timelineRun(const HandlerTimes *s, std::uint64_t start, std::uint64_t end) noexcept
{
    put(TimelineKind::Run, start, end, s, 0);
}

void recordQueueDelay(HandlerStats *s, std::uint64_t postedAt, std::uint64_t start) noexcept
{
    if (postedAt == 0 || start <= postedAt)
        return;
    s->times->queueDelay.record(start - postedAt);
    if (onTimeline(*record())) [[unlikely]]
        put(TimelineKind::Wait, postedAt, start, s->times, 0);
}

std::uint64_t timelineTicks() noexcept
{
    return readTicks();
}

bool timelineRecording() noexcept
{
    return timelineOn.load(std::memory_order_relaxed);
}

void timelineFrame(std::uint64_t window, std::uint64_t number, std::uint64_t start,
                   std::uint64_t end) noexcept
{
    if (timelineOn.load(std::memory_order_relaxed))
        put(TimelineKind::Frame, start, end, nullptr, number, window);
}

TurnMark timelineTurnBegin() noexcept
{
    if (!timelineOn.load(std::memory_order_relaxed))
        return {};
    return {readTicks(), written.load(std::memory_order_relaxed)};
}

std::uint64_t timelineTurn() noexcept
{
    const std::uint64_t last = lastTurn.load(std::memory_order_relaxed);
    return last != 0 ? last + 1 : 0;
}

void timelineTurnEnd(const TurnMark &mark, std::uint64_t number) noexcept
{
    lastTurn.store(number, std::memory_order_relaxed);
    const Slot *const slots = ring.load(std::memory_order_acquire);
    if (mark.start == 0 || slots == nullptr || !timelineOn.load(std::memory_order_relaxed))
        return;
    // An idle turn (nothing recorded since the loop last waited) is left out: a loop that wakes
    // often would otherwise fill the ring with empty turns. A turn begins where its earliest entry
    // does (the loop's wait before it is no part of it): the main thread, which calls this, wrote
    // them all. A window's frame is no part of it (nor of this ring).
    if (written.load(std::memory_order_relaxed) == mark.written)
        return;
    constexpr std::uint64_t none = ~std::uint64_t{0};
    std::uint64_t start = none;
    const std::uint64_t last = written.load(std::memory_order_relaxed);
    for (std::uint64_t i = std::max(mark.written, last > timelineKept ? last - timelineKept : 0); i != last;
         ++i) {
        const Slot &slot = slots[i % timelineKept];
        const auto kind = static_cast<TimelineKind>(slot.lineKind.load(std::memory_order_relaxed) & 0xffU);
        const std::uint64_t at = kind == TimelineKind::Wait ? slot.end.load(std::memory_order_relaxed)
                                                            : slot.start.load(std::memory_order_relaxed);
        start = std::min(start, at);
    }
    if (start == none)
        return;
    start = std::max(start, mark.start);
    put(TimelineKind::Turn, start, readTicks(), nullptr, number);
}

std::vector<TimelineEntry> timeline(std::uint64_t lastNs)
{
    std::vector<TimelineEntry> out;
    const Slot *const slots = ring.load(std::memory_order_acquire);
    if (slots == nullptr)
        return out;
    // Ticks to steady_clock: one pair of readings now, the clock's rate back from there.
    const std::uint64_t nowTicks = readTicks();
    const auto nowNs = static_cast<std::uint64_t>(steadyNs());
    const auto steady = [&](std::uint64_t t) {
        const std::uint64_t back = t < nowTicks ? toNs(nowTicks - t) : 0;
        return back < nowNs ? nowNs - back : 0;
    };
    // Each ring's slots, oldest first: the runs, turns and waits, then the windows' frames.
    for (const bool frames : {false, true}) {
        const std::uint64_t kept = frames ? timelineFramesKept : timelineKept;
        const Slot *const base = frames ? slots + timelineKept : slots;
        const std::uint64_t w = (frames ? framesWritten : written).load(std::memory_order_acquire);
        const std::uint64_t first = w > kept ? w - kept : 0;
        out.reserve(out.size() + static_cast<std::size_t>(w - first));
        for (std::uint64_t i = first; i != w; ++i)
            if (TimelineEntry e; read(base[i % kept], i, e) && nowNs - steady(e.endNs) <= lastNs) {
                e.startNs = steady(e.startNs);
                e.endNs = steady(e.endNs);
                out.push_back(e);
            }
    }
    return out;
}

} // namespace rio::detail::diag
