#pragma once

namespace rio {

/// How queued deliveries of one handler are batched: every event, or only the newest pending one.
enum class Delivery {
    /// Every notify queues its own delivery (the default).
    Every,
    /// Coalesced: at most one pending delivery per handler; a newer event replaces its payload,
    /// and the last event is always delivered.
    Latest,
};

} // namespace rio
