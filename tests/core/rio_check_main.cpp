// SPDX-License-Identifier: MIT
// The main() of every core test executable: see rio_check.h.
#include "rio_check.h"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

// Ends the process when a case runs past its time limit: a hung case can be neither joined nor
// abandoned, and ctest's own timeout would not say which case hung.
class Watchdog
{
public:
    explicit Watchdog(std::chrono::seconds limit) : m_limit(limit), m_thread([this] { watch(); }) { }
    ~Watchdog()
    {
        {
            std::lock_guard lock(m_mutex);
            m_stop = true;
        }
        m_changed.notify_all();
        m_thread.join();
    }
    void arm()
    {
        {
            std::lock_guard lock(m_mutex);
            m_deadline = std::chrono::steady_clock::now() + m_limit;
            m_armed = true;
        }
        m_changed.notify_all();
    }
    void disarm()
    {
        std::lock_guard lock(m_mutex);
        m_armed = false;
    }

private:
    void watch()
    {
        std::unique_lock lock(m_mutex);
        while (!m_stop) {
            if (!m_armed) {
                m_changed.wait(lock);
                continue;
            }
            if (m_changed.wait_until(lock, m_deadline) == std::cv_status::timeout && m_armed &&
                std::chrono::steady_clock::now() >= m_deadline) {
                rio::check::printLine("FAIL", "timed out after " + std::to_string(m_limit.count()) +
                                                  " s (hang guard; RIO_TEST_TIMEOUT sets the limit)");
                std::_Exit(3);
            }
        }
    }

    std::chrono::seconds m_limit;
    std::mutex m_mutex;
    std::condition_variable m_changed;
    std::chrono::steady_clock::time_point m_deadline;
    bool m_armed = false;
    bool m_stop = false;
    std::thread m_thread; // last: starts once the members above exist
};

std::string baseName(const char *path)
{
    std::string s(path);
    const std::size_t slash = s.find_last_of("/\\");
    return slash == std::string::npos ? s : s.substr(slash + 1);
}

} // namespace

int main(int argc, char **argv)
{
    using rio::check::Case;
    const std::string self = baseName(argc > 0 ? argv[0] : "test");
    std::vector<const Case *> selected;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--list") == 0 || std::strcmp(argv[i], "-l") == 0) {
            for (const Case &c : rio::check::cases())
                std::printf("%s\n", c.fullName().c_str());
            return 0;
        }
        bool found = false;
        for (const Case &c : rio::check::cases()) {
            if (c.name == argv[i] || c.fullName() == argv[i]) {
                selected.push_back(&c);
                found = true;
            }
        }
        if (!found) {
            std::fprintf(stderr, "%s: no test named '%s' (--list prints the names)\n", self.c_str(), argv[i]);
            return 2;
        }
    }
    if (argc < 2) {
        for (const Case &c : rio::check::cases())
            selected.push_back(&c);
    }

    int limit = 200;
    if (const char *env = std::getenv("RIO_TEST_TIMEOUT"); env != nullptr && std::atoi(env) > 0)
        limit = std::atoi(env);

    int passed = 0;
    int failed = 0;
    int skipped = 0;
    {
        Watchdog watchdog{std::chrono::seconds(limit)};
        rio::check::Current &current = rio::check::current();
        for (const Case *c : selected) {
            {
                std::lock_guard lock(current.outputMutex);
                current.name = c->fullName();
            }
            current.failures.store(0);
            rio::check::expectedFailure().clear();
            std::string skipReason;
            bool skippedNow = false;
            watchdog.arm();
            try {
                if (rio::check::beforeEach() != nullptr)
                    rio::check::beforeEach()();
                c->run();
            } catch (const rio::check::Failure &) {
                // recorded and printed by the failed check
            } catch (const rio::check::Skip &s) {
                skippedNow = true;
                skipReason = s.reason;
            } catch (const std::exception &e) {
                current.failures.fetch_add(1);
                rio::check::printLine("FAIL", std::string("exception: ") + e.what());
            } catch (...) {
                current.failures.fetch_add(1);
                rio::check::printLine("FAIL", "an exception of unknown type");
            }
            watchdog.disarm();
            if (current.failures.load() > 0) {
                ++failed;
            } else if (skippedNow) {
                ++skipped;
                rio::check::printLine("SKIP", skipReason);
            } else {
                ++passed;
                std::lock_guard lock(current.outputMutex);
                std::printf("PASS %s\n", current.name.c_str());
                std::fflush(stdout);
            }
        }
    }
    std::printf("%s: %d passed, %d failed, %d skipped\n", self.c_str(), passed, failed, skipped);
    std::fflush(stdout);
    return failed == 0 && passed + skipped > 0 ? 0 : 1;
}
