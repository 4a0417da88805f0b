// SPDX-License-Identifier: MIT
#pragma once

// A tiny test harness for the portable core tests: plain std:: only, so that they build with
// libc++ (clang -stdlib=libc++) and MinGW-w64 and run under wine, where Qt Test is not available.
//
//   RIO_TEST(name) { CHECK(cond); CHECK_EQ(a, b); }
//
// rio_check_main.cpp runs every registered case (or those named on the command line), prints
// one PASS/FAIL line per case and closes with a line `N passed, M failed`; the exit code is 0
// only when nothing failed. A failed CHECK ends its case (it throws); an exception escaping a
// case fails it.

#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <mutex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace rio::check {

/// A registered test case.
struct Case
{
    const char *name;
    void (*run)();
};

/// Every case of this executable, in registration order.
inline std::vector<Case> &cases()
{
    static std::vector<Case> all;
    return all;
}

/// Registers a case at static initialisation.
struct Registrar
{
    Registrar(const char *name, void (*run)()) { cases().push_back({name, run}); }
};

/// std::latch's interface on a mutex and a condition variable. Not std::latch: MinGW-w64's
/// libstdc++ 12 (Debian 12) implements its wait with an atomic wait that never wakes under wine
/// (a two-thread ping-pong hangs on the first round), which would hang every test using it.
class Latch
{
public:
    explicit Latch(std::ptrdiff_t count) : m_count(count) { }
    Latch(const Latch &) = delete;
    Latch &operator=(const Latch &) = delete;

    void count_down(std::ptrdiff_t n = 1)
    {
        std::lock_guard lock(m_mutex);
        m_count -= n;
        if (m_count <= 0)
            m_zero.notify_all();
    }
    void wait()
    {
        std::unique_lock lock(m_mutex);
        m_zero.wait(lock, [this] { return m_count <= 0; });
    }
    void arrive_and_wait(std::ptrdiff_t n = 1)
    {
        count_down(n);
        wait();
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_zero;
    std::ptrdiff_t m_count;
};

/// Thrown by a failed CHECK: ends the case.
struct Failure
{
    std::string what;
};

[[noreturn]] inline void fail(const char *file, int line, std::string what)
{
    std::ostringstream s;
    s << file << ':' << line << ": " << what;
    throw Failure{s.str()};
}

template <typename A, typename B>
void checkEqual(const A &a, const B &b, const char *aText, const char *bText, const char *file, int line)
{
    if (a == b)
        return;
    std::ostringstream s;
    s << "CHECK_EQ(" << aText << ", " << bText << "): " << a << " != " << b;
    fail(file, line, s.str());
}

} // namespace rio::check

#define RIO_CHECK_CAT2(a, b) a##b
#define RIO_CHECK_CAT(a, b) RIO_CHECK_CAT2(a, b)

/// Defines and registers a test case.
#define RIO_TEST(name)                                                                                       \
    static void name();                                                                                      \
    static const ::rio::check::Registrar RIO_CHECK_CAT(name, _registrar){#name, &name};                      \
    static void name()

/// Fails the case unless `cond` holds.
#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond))                                                                                         \
            ::rio::check::fail(__FILE__, __LINE__, "CHECK(" #cond ")");                                      \
    } while (false)

/// Fails the case unless `a == b`; prints both values.
#define CHECK_EQ(a, b) ::rio::check::checkEqual((a), (b), #a, #b, __FILE__, __LINE__)
