// SPDX-License-Identifier: MIT
#pragma once

// The type-independent part of Registry<E>, compiled once in the core library: handler arrays,
// ids, removal, the registry's own retired list and its reclaim passes. Registry<E> adds only
// what depends on the event and closure types (boxing a closure and calling it), so that no code
// pointer into a user's module (a plugin) is left behind once its handlers are destroyed.

#include <registryio/detail/config.h>
#include <registryio/detail/hazard.h>
#include <registryio/exception_info.h>
#include <registryio/handler_id.h>
#include <registryio/source_location.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rio::detail {

class RegistryCore;
class WriterLock;
struct RegistryLink;
struct RegistryState; // src/core/src/registry_state.h
struct DestroyFrame;
struct RunRef;   // src/core/src/snapshot.h
namespace diag { // diagnostics_hooks.h and diagnostics.h
struct HandlerStats;
struct HandlerTimes;
struct Registries;
RIO_CORE_EXPORT void freeStats(HandlerStats *stats) noexcept; // NOLINT(readability-redundant-declaration)
} // namespace diag

/// The event type's name as the compiler spells it (a view of a static string).
template <typename E>
constexpr std::string_view eventTypeName() noexcept
{
#if defined(__clang__) || defined(__GNUC__)
    constexpr std::string_view f = __PRETTY_FUNCTION__; // "... [with E = T; ...]", "... [E = T]"
    constexpr std::size_t at = f.find("E = ");
    return at == std::string_view::npos ? f : f.substr(at + 4, f.substr(at + 4).find_first_of(";]"));
#else
    return __FUNCSIG__;
#endif
}

/// eventTypeName<E>() as a static object (the registry passes its address).
template <typename E>
inline constexpr std::string_view eventTypeNameOf = eventTypeName<E>();

/// Something a registry unpublished and frees once no reader can reach it.
struct Retired
{
    enum class Kind : std::uint8_t { Snapshot, Handler, Callback };

    Retired *next = nullptr;
    void (*destroy)(Retired *) noexcept = nullptr;
    std::uint64_t seq = 0;   // the registry's retire sequence number (writer-only)
    std::uint32_t bytes = 0; // for the pass trigger: batches are bounded in bytes too
    Kind kind = Kind::Handler;
    bool markOther = false; // reclaim-pass scratch: protected by another thread
    bool markSelf = false;  // reclaim-pass scratch: protected by the passing thread
};

/// A registered handler; the closure lives in a derived type of Registry<E>.
struct HandlerBox;
/// The type-erased call of a handler: the box and a pointer to the event.
using Invoke = void (*)(HandlerBox *, const void *);

struct HandlerBox : Retired
{
    explicit HandlerBox(const SourceLocation &at) noexcept : where(at) { }
    HandlerBox(const HandlerBox &) = delete;
    HandlerBox &operator=(const HandlerBox &) = delete;
    ~HandlerBox()
    {
        if (stats != nullptr)
            diag::freeStats(stats);
    }

    // The fields without an initialiser are set by RegistryCore::add (under the lock, before the
    // box is published): a plain closure's box is built under that lock too, so each store counts.
    Invoke invoke; // its call (entries hold skipRemoved or skipSuspended instead)
    HandlerId id;
    int priority;
    std::uint32_t byIdIndex;        // its entry's index in RegistryState::byId (writer-only)
    std::uint64_t birth = 0;        // version of the first snapshot that holds it
    std::uint64_t death = ~0ull;    // version of the first snapshot that does not
    RegistryCore *core;             // its registry (once-handlers, failure reports)
    std::atomic<bool> fired{false}; // once-handlers only
    bool removed = false;           // unpublished (writer-only)
    bool suspended = false;         // setSuspended (writer-only)
    bool layerTimed = false;        // its call dispatches: the layer times the run (set before add)
    SourceLocation where;           // where add was called (diagnostics)
    std::uint64_t thread;           // the thread add ran on (diag::threadNumber)
    // Diagnostics' statistics: created (under the lock) while the registry's diagnostics are on,
    // or at add when layerTimed, kept until the box is destroyed; notifies of a timed array
    // record its runs there.
    diag::HandlerStats *stats = nullptr;
    // Its statistics' timing block when the core times its runs (not layerTimed), published
    // after `stats`: a timed notify's one read of them, without the line of the counters.
    diag::HandlerTimes *times = nullptr;
};

/// What RegistryCore::addPlain needs of a plain closure's type: one constant per closure type,
/// event type and form (once or not).
struct PlainType
{
    /// Its box's size.
    std::size_t bytes;
    /// Builds its box in `block` from `fn` and `where`.
    HandlerBox *(*make)(void *block, const void *fn, const SourceLocation &where) noexcept;
    /// Its call.
    Invoke invoke;
    /// The event type's name (diagnostics).
    const std::string_view *eventType;
};

/// Order of notify's running announcement: release, so that on ARM/POWER the previous handler's
/// loads are done before the next announcement can let a pass free that handler's box (a plain
/// store on x86); sequentially consistent under TSan.
inline constexpr std::memory_order announceOrder =
    RIO_SEQ_CST_OPS ? std::memory_order_seq_cst : std::memory_order_release;
/// Order of notify's invoke load (sequentially consistent under TSan).
inline constexpr std::memory_order invokeOrder =
    RIO_SEQ_CST_OPS ? std::memory_order_seq_cst : std::memory_order_relaxed;

/// Called in place of a removed handler's invoke; lives in the core library.
RIO_CORE_EXPORT void skipRemoved(HandlerBox *, const void *) noexcept;
/// Called in place of a suspended handler's invoke (a live entry); lives in the core library.
RIO_CORE_EXPORT void skipSuspended(HandlerBox *, const void *) noexcept;

/// One slot of a published array. `invoke` turns into skipRemoved when the handler is removed.
struct Entry
{
    std::atomic<Invoke> invoke;
    HandlerBox *box;
};

/// Values of Snapshot::timed: the array was never timed, or diag::notifyTimed's kind for it (a
/// flat array, or a runs-mode array whose entries are its runs).
enum : std::uint8_t { untimedArray = 0, timedFlat = 1, timedRuns = 2 };

/// A priority-sorted handler array. Entries before `end` never change except that a removed
/// handler's `invoke` becomes skipRemoved; appends write past `end`, then move it. In runs mode
/// (runCount != 0) each entry calls one priority run, up to the count this array recorded, so an
/// add inside the order appends to its run and publishes a new array of runCount entries
/// instead of copying every handler.
///
/// Timed (every array published while the registry's diagnostics are on, and the head when they
/// are switched on; under the writer lock): `timedEnd` holds the end, `end` the first entry, so
/// that the notify loop's own empty test is the only test diagnostics cost a notify; an empty
/// loop with a `timedEnd` runs diag::notifyTimed over [entries(), timedEnd). Switched off, `end`
/// is the end again; `timedEnd` and `timed` stay, so a notify that read the timed `end` still
/// finds every entry and the array's kind.
struct Snapshot : Retired
{
    std::atomic<std::uint8_t> timed{untimedArray}; // in Retired's tail padding
    std::atomic<const Entry *> end{nullptr};
    std::atomic<const Entry *> timedEnd{nullptr}; // the end while timed (see above)
    std::uint32_t size = 0;                       // entries written, removed ones included (writer-only)
    std::uint32_t capacity = 0;                   // writer-only
    std::uint32_t dead = 0;                       // removed entries (writer-only)
    std::uint32_t runCount = 0;                   // runs mode: entries are this many run calls (writer-only)
    std::uint64_t version = 0;

    [[nodiscard]] Entry *entries() noexcept { return reinterpret_cast<Entry *>(this + 1); }
    [[nodiscard]] const Entry *entries() const noexcept { return reinterpret_cast<const Entry *>(this + 1); }
};

/// What addScoped needs besides the id: the writer state its guard holds (one of the state's
/// guard holds, taken under the same lock as the add), and where the id map held the new
/// handler's entry (a hint the removal checks against the id; see RegistryCore::remove).
struct GuardLink
{
    RegistryState *state = nullptr;
    std::uint32_t hint = 0;
};

/// The registry's exception callback, type-erased.
struct CallbackBox : Retired
{
    void (*call)(CallbackBox *, const ExceptionInfo &) = nullptr;
};

/// Objects a registry lets wait before a reclaim pass (one heavy fence each): the pass's fence and
/// scan are shared by this many removals, and a reader parked on a snapshot keeps at most about
/// twice this (tests/core's bounds are written in it).
inline constexpr std::size_t passBatch = 128;

/// The waits' back-off schedule: yields, then short sleeps, then longer ones (`spins`: attempts
/// so far). Shared with the Qt facade's waits.
RIO_CORE_EXPORT void backoff(unsigned spins) noexcept;

/// The shared empty handler array every registry starts with (never written): emptySnapshot()'s
/// address, exported for the inline constructor (flat_array.cpp).
RIO_CORE_EXPORT extern Snapshot *const emptyHead;

/// The writer side and shared state of one registry.
class RIO_CORE_EXPORT RegistryCore
{
public:
    /// An empty registry: no allocation, no call (the writer state waits for the first writer).
    explicit RegistryCore(std::size_t capacityHint) noexcept
        : head(emptyHead), m_capacityHint(std::min<std::size_t>(capacityHint, std::size_t{1} << 20))
    { }
    /// Frees everything (nothing at all for a registry that never had a writer).
    ~RegistryCore()
    {
        if (m_state.load(std::memory_order_acquire) != nullptr)
            destroyState();
    }
    RegistryCore(const RegistryCore &) = delete;
    RegistryCore &operator=(const RegistryCore &) = delete;

    /// Publishes `box` with `invoke`; takes ownership on success (the caller keeps it on a throw).
    /// With `link`, also stores the link guards hold there, and the handler's hint (under the
    /// same lock).
    /// `eventType` (a static name) is kept for diagnostics.
    HandlerId add(HandlerBox *box, Invoke invoke, int priority, GuardLink *link,
                  const std::string_view &eventType);
    /// add() for a plain closure (trivially copyable, see PlainClosure): under the lock, takes a
    /// block of `type.bytes` a destroyed plain box left (or allocates one) and has `type.make`
    /// build the box there from `fn` (a trivial copy, no user code) and `where`. Throws (nothing
    /// changed) as add(). Six arguments: all in registers on the common ABIs.
    HandlerId addPlain(const PlainType &type, const void *fn, int priority, GuardLink *link,
                       const SourceLocation &where);
    /// Unpublishes; never allocates. Runs a reclaim pass when the batch is full. `hint` (a
    /// GuardLink's) is where the id map held the id's entry: used only if it still does.
    bool remove(HandlerId id, std::uint32_t hint = ~std::uint32_t{0}) noexcept;
    /// A guard's drop: remove(id, hint) while the state's registry lives, then the guard's hold on
    /// the state is given up (the last hold on a destroyed registry's state frees it).
    static bool removeByGuard(RegistryState &state, HandlerId id, std::uint32_t hint) noexcept;
    /// HandlerGuard::release(): gives up the guard's hold on the state, keeping the handler.
    static void releaseGuard(RegistryState &state) noexcept;
    /// remove(), then waits until the handler (if it was ever handed out) is not running on
    /// another thread and is destroyed.
    bool removeAndWait(HandlerId id) noexcept;
    /// Unpublishes every handler.
    void clear() noexcept;
    /// Waits until nothing retired before the call can still be reached by another thread's
    /// notify, and destroys it.
    void synchronize() noexcept;
    [[nodiscard]] bool contains(HandlerId id) const noexcept;
    /// Suspends or resumes a registered handler: notifies that start later skip it (its entry
    /// calls skipSuspended). False for an id not registered here.
    bool setSuspended(HandlerId id, bool suspended) noexcept;
    [[nodiscard]] bool isSuspended(HandlerId id) const noexcept;
    [[nodiscard]] std::size_t size() const noexcept;
    [[nodiscard]] std::size_t capacityHint() const noexcept { return m_capacityHint; }
    /// Objects retired and not yet destroyed.
    [[nodiscard]] std::size_t pendingCount() const noexcept;
    /// Replaces the exception callback (null clears it); the old one is retired. Takes ownership
    /// of `box` on success; throws std::bad_alloc (nothing changed) only for a registry's first
    /// writer state.
    void replaceCallback(CallbackBox *box);
    /// The link guards hold (created on first use).
    std::shared_ptr<RegistryLink> link();

    /// Diagnostics for this registry on or off (process-wide diagnostics keep them on). Throws
    /// std::bad_alloc (nothing changed).
    void setDiagnosticsEnabled(bool enabled);
    /// True while its entries record diagnostics.
    [[nodiscard]] bool isDiagnosticsEnabled() const noexcept;
    /// The name diagnostics show. Throws std::bad_alloc.
    void setDiagnosticsName(std::string_view name);
    /// Handler `id`'s statistics with a reference taken (diag::freeStats gives it back), or null
    /// (no such handler, or no statistics: diagnostics were never on while it lived, and it is
    /// not layerTimed).
    [[nodiscard]] diag::HandlerStats *retainStats(HandlerId id);

    /// notify() where the section must be entered out of line (see hazard::enterInline): the same
    /// loop, with a fence after each running announcement in the fallback fence mode.
    void notifyOutOfLine(const void *event) const;

    /// A once-handler that fired unpublishes itself (from inside notify: never reclaims).
    void retireFired(HandlerBox *box) noexcept;
    /// Reports a throwing handler to the callback; `what` is null for a non-std exception.
    RIO_COLD static void reportFailure(const HandlerBox *box, const char *what) noexcept;

    // Read by every notify: on its own cache line, away from what writers touch.
    alignas(64) std::atomic<Snapshot *> head;

    // Process-life hooks (fork), for each state on the process-wide list: see process_life.cpp.
    static void lockForFork(RegistryState &state) noexcept;
    static void unlockAfterFork(RegistryState &state, bool child) noexcept;

private:
    friend struct diag::Registries; // its diagnostics' side (diagnostics.h)

    struct PassResult
    {
        bool blockedByOthers = false; // an awaited box may still run on another thread
        bool registryGone = false;    // a closure destructor it ran destroyed the registry
    };

    // The writer state once it exists (callers hold its lock or checked it exists).
    [[nodiscard]] RegistryState &st() const noexcept { return *m_state.load(std::memory_order_relaxed); }
    // The writer state, created (and put on the process-wide list) on first use; may throw.
    RegistryState &writerState();
    // ~RegistryCore's work once a writer state exists.
    void destroyState() noexcept;
    // add()'s work once the box exists, under `lock` (which it may release for a pass).
    HandlerId addLocked(std::unique_lock<WriterLock> &lock, HandlerBox *box, Invoke invoke, int priority,
                        GuardLink *link);
    void keepEventTypeLocked(const std::string_view &eventType);
    // A spare block of `bytes` (null if none), and keeping one (freed when the spares are full).
    [[nodiscard]] void *takeSpareLocked(std::size_t bytes) noexcept;
    void keepSpareLocked(Retired *block) noexcept;
    Snapshot *createSnapshot(std::size_t capacity);
    // Runs mode (see Snapshot): publishes an array of `count` runs as the head (each run gains a
    // reference); adds to the head's runs; turns a flat head into runs; drops tombstones.
    Snapshot *createTop(const RunRef *refs, std::uint32_t count) const;
    void publishTopLocked(Snapshot *top) noexcept;
    const std::shared_ptr<RegistryLink> &linkLocked();
    void addToRunsLocked(HandlerBox *box, Invoke invoke, int priority);
    void toRunsLocked(HandlerBox *box, Invoke invoke, std::uint32_t insertAt);
    void compactRunsLocked(bool force) noexcept;
    Snapshot *copyLocked(std::size_t capacity, const HandlerBox *insert, std::uint32_t insertAt,
                         Invoke invoke);
    void publishLocked(Snapshot *next) noexcept;
    // Publishes the registry's own empty array (no allocation).
    void publishEmptyLocked() noexcept;
    // Room for a copy of `live` handlers; `room` is a capacity to keep (the head's, for an add).
    [[nodiscard]] std::size_t copyCapacityLocked(std::size_t live, std::size_t room = 0) const noexcept;
    void compactLocked(bool force = false) noexcept;
    // remove()'s unpublication, without its reclaim pass; false for an id not registered here.
    bool removeLocked(HandlerId id, std::uint32_t hint) noexcept;
    [[nodiscard]] HandlerBox *findLocked(HandlerId id, std::uint32_t hint = ~std::uint32_t{0}) const noexcept;
    void tombstoneLocked(HandlerBox *box) noexcept;
    // One reclaim pass; destroys what it frees after dropping the lock (which it takes).
    PassResult pass(std::unique_lock<WriterLock> &lock, bool fence, const HandlerBox *target,
                    std::uint64_t awaitSeq) noexcept;
    // The value m_byId holds for `id` (0 when it has none), looked up at `hint` first.
    [[nodiscard]] std::uintptr_t entryLocked(HandlerId id,
                                             std::uint32_t hint = ~std::uint32_t{0}) const noexcept;
    // A guard's reclaim pass (removeByGuard): the registry stays alive while the pass runs
    // without the lock (~Registry waits for it), and the lock is held again on return.
    void passForGuard(std::unique_lock<WriterLock> &lock) noexcept;
    // Destroys a chain a pass took (frame: its record, linked by startChainLocked). False when
    // one of its closure destructors destroyed the registry: then it touched nothing after.
    void startChainLocked(DestroyFrame &frame) noexcept;
    bool destroyChain(Retired *chain, DestroyFrame &frame) noexcept;
    // Waits (dropping the lock meanwhile) until no other thread destroys the chain `number`, or,
    // with number 0, any chain holding something retired at or before `awaitSeq`.
    void waitForChains(std::unique_lock<WriterLock> &lock, std::uint64_t number,
                       std::uint64_t awaitSeq) noexcept;
    [[nodiscard]] bool chainInFlightLocked(std::uint64_t number) const noexcept;
    void wait(std::uint64_t awaitSeq, HandlerId target) noexcept;

    std::atomic<RegistryState *> m_state{nullptr}; // set once, by writerState()
    std::size_t m_capacityHint = 0;
};

namespace diag {
/// A notify of a timed array (see Snapshot::timed): the section was opened on `slot` and holds
/// `s`, whose `end` the caller read. Runs the same loop as notify (running announcement, a fence
/// after it when `fence`: the fallback mode, failures reported, a forced unwind leaving the
/// section), timing each handler with statistics with one clock read per handler; closes the
/// section.
RIO_CORE_EXPORT void notifyTimed(std::atomic<const void *> *slot, const Snapshot *s, const Entry *end,
                                 const void *event, bool fence);
} // namespace diag

/// Frees a box whose closure needs no destructor: core-library code, so a plugin's trivially
/// destructible closures leave no code pointer into the plugin even while they wait to be freed.
RIO_CORE_EXPORT void freePlainBox(Retired *r) noexcept;

/// Number of objects retired by every registry and not yet destroyed (tests, diagnostics).
RIO_CORE_EXPORT std::size_t pendingCountAll() noexcept;

} // namespace rio::detail
