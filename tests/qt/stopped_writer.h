// SPDX-License-Identifier: MIT
#pragma once

// A writer of a newest-value cell stopped after one step of its write (a lower-priority thread
// preempted there, a debugger), for the tests that show its reader never waits for it. The
// writes of an event type stop where a test asks once the test specializes CellPause for it:
//     template <> struct rio::detail::CellPause<Stopped> : riotest::StopHere { };

#include <registryio/qt/detail/newest_cell.h>

#include <QSemaphore>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

namespace riotest {

inline std::atomic<int> g_stopAt{-1}; // a rio::detail::CellStep, or -1: none
inline thread_local bool t_stopping = false;
inline QSemaphore g_stopped;
inline QSemaphore g_resume;

// What a stoppable type's writes do after each step: stop on a StoppedWriter's thread, after the
// step it names, until it resumes.
struct StopHere
{
    static void at(const rio::detail::NewestCell &, rio::detail::CellStep step) noexcept
    {
        if (t_stopping && static_cast<int>(step) == g_stopAt.load()) {
            g_stopped.release();
            g_resume.acquire();
        }
    }
};

// Runs `write()` on a thread of its own, stopped after the step `at` of the cell's write, until
// resume(), the fixture's end (a failure's included) or, bounded, a watchdog: that bound only
// turns a reader that waits for the writer into a failure (`byWatchdog`).
struct StoppedWriter
{
    template <typename Write>
    StoppedWriter(rio::detail::CellStep at, Write write)
    {
        g_stopAt.store(static_cast<int>(at));
        writer = std::thread([write] {
            t_stopping = true;
            write();
            t_stopping = false;
        });
        g_stopped.acquire();
        watchdog = std::thread([this] {
            std::unique_lock lock(mutex);
            if (!changed.wait_for(lock, std::chrono::seconds(20), [this] { return resumed; })) {
                byWatchdog = true;
                resumeLocked();
            }
        });
    }
    StoppedWriter(const StoppedWriter &) = delete;
    StoppedWriter &operator=(const StoppedWriter &) = delete;
    ~StoppedWriter() { resume(); }

    // The writer ends its write.
    void resume()
    {
        {
            const std::lock_guard lock(mutex);
            resumeLocked();
            changed.notify_all();
        }
        if (watchdog.joinable())
            watchdog.join();
        if (writer.joinable())
            writer.join();
    }

    std::mutex mutex;
    std::condition_variable changed;
    bool resumed = false;
    bool byWatchdog = false; // set on the watchdog's thread, read once it joined or under `mutex`
    std::thread writer;
    std::thread watchdog;

private:
    void resumeLocked()
    {
        if (std::exchange(resumed, true))
            return;
        g_stopAt.store(-1);
        g_resume.release();
    }
};

inline constexpr rio::detail::CellStep kCellSteps[] = {
    rio::detail::CellStep::Held, rio::detail::CellStep::FirstWord, rio::detail::CellStep::SecondWord,
    rio::detail::CellStep::Released};

} // namespace riotest
